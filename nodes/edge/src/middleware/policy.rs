//! The edge's own rules for every request, in order, as one layer: the
//! security headers on every answer, the cross-site check, the rate limit,
//! keeping page sessions alive, error pages in the site's chrome, and the
//! visitor cookie of product pages.
//!
//! One layer rather than one per rule: a layer clones the whole stack
//! beneath it for every request, so six of them cost more than the rules
//! themselves on a page the edge keeps.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::middleware::{csrf, headers, page_errors, ratelimit, session, visitor};
use crate::state::EdgeState;

pub async fn middleware(State(state): State<EdgeState>, req: Request, next: Next) -> Response {
    let docs = headers::for_docs(&req);
    let mut response = guarded(&state, req, next).await;
    headers::apply(&mut response, docs);
    response
}

/// Everything but the headers, which every answer gets, refusals included.
async fn guarded(state: &EdgeState, mut req: Request, next: Next) -> Response {
    if let Err(refused) = csrf::check(state, &req) {
        return refused;
    }
    if let Err(refused) = ratelimit::check(state, &req).await {
        return refused;
    }
    let renewed = session::renew(state, &mut req).await;
    let (req, page) = page_errors::prepare(state, req).await;
    let visitor = visitor::of(&req);
    let response = match &visitor {
        Some(v) => {
            crate::views::VISITOR
                .scope(v.id.clone(), next.run(req))
                .await
        }
        None => next.run(req).await,
    };
    let mut response = page_errors::finish(state, page, response).await;
    visitor::finish(state, visitor, &mut response);
    session::finish(renewed, &mut response);
    response
}
