//! Counts and times every HTTP request by route template and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The route label of a request that matched no route: the raw path would
/// make a label per URL anyone cares to ask for.
const UNMATCHED: &str = "unmatched";

pub async fn middleware(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = next.run(req).await;
    bazaar_runtime::metrics::http_request(
        route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        started,
    );
    response
}
