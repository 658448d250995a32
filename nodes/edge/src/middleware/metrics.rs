//! Counts and times every HTTP request by route template and status.

use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use futures::future::BoxFuture;
use tower::{Layer, Service};

/// The route label of a request that matched no route: the raw path would
/// make a label per URL anyone cares to ask for.
const UNMATCHED: &str = "unmatched";

/// Counts and times each request as it passes. A service of its own
/// rather than a `from_fn` middleware, which clones the whole stack beneath
/// it for every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Metrics<S> {
    inner: S,
}

impl<S> Service<Request> for Metrics<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        let answered = self.inner.call(req);
        Box::pin(async move {
            let response = answered.await?;
            bazaar_runtime::metrics::http_request(
                route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                method.as_str(),
                response.status().as_u16(),
                started,
            );
            Ok(response)
        })
    }
}
