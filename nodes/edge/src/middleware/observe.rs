//! What the edge does around every request, as one service: give it a
//! request id (UUID v7) unless it came with one, and send the id back;
//! run it in its span with a closing record (`trace`); count and time it by
//! route template and status (the metrics); and answer 504 when it takes
//! longer than the edge's request timeout.
//!
//! One service with one future rather than a layer for each: every layer
//! beneath the router is cloned for each request and adds a future of its
//! own, and on a page the edge keeps from memory those five layers cost
//! more than the page (see the hot read path in docs/benchmarks.md).

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::middleware::trace;
use crate::state::REQUEST_ID;

/// The route label of a request that matched no route: the raw path would
/// make a label per URL anyone cares to ask for.
const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, Copy)]
pub(crate) struct ObserveLayer {
    /// How long a request may take before it is answered 504.
    pub(crate) timeout: Duration,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    timeout: Duration,
}

/// A new request id: a UUID v7, which says when the request began; that is
/// how the logs node finds a request's records however old it is.
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let id = crate::ids::uuid_v7().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).expect("a UUID is a valid header value")
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let started = Instant::now();
        let request_id = match req.headers().get(REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        let span = trace::make_span(&req);
        let answered = span.in_scope(|| self.inner.call(req));
        let deadline = tokio::time::Instant::from_std(started) + self.timeout;
        Box::pin(async move {
            let mut response = match tokio::time::timeout_at(deadline, answered)
                .instrument(span.clone())
                .await
            {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_elapsed) => StatusCode::GATEWAY_TIMEOUT.into_response(),
            };
            if !response.headers().contains_key(REQUEST_ID) {
                response.headers_mut().insert(REQUEST_ID, request_id);
            }
            let status = response.status();
            trace::on_response(&response, started.elapsed(), &span);
            bazaar_runtime::metrics::http_request(
                route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                method.as_str(),
                status.as_u16(),
                started,
            );
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/", get(|| async { "home" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(ObserveLayer {
                timeout: Duration::from_millis(50),
            })
    }

    #[tokio::test]
    async fn a_request_gets_an_id_and_keeps_its_own() {
        let fresh = app()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let id = fresh.headers()[REQUEST_ID].to_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
        let own = app()
            .oneshot(
                Request::get("/")
                    .header(REQUEST_ID, "client-chosen-1")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(own.headers()[REQUEST_ID], "client-chosen-1");
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_answered_504_with_its_id() {
        let late = app()
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(late.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(late.headers().contains_key(REQUEST_ID));
    }
}
