//! The span of every HTTP request and its closing record.
//!
//! A signed-out read that succeeds (a visitor browsing product pages) is the
//! bulk of an edge's traffic and records no one's action, so its span and
//! its closing record are at `debug`; everything else (writes, signed-in
//! requests, failures) is at `info`. Publishing a record per request to the
//! central logs otherwise halves what an edge answers (see the hot read
//! path in docs/benchmarks.md); the request counters and latencies of every
//! request stay in the metrics.

use std::time::Duration;

use axum::http::{Method, Request, Response, header};
use tracing::{Level, Span};

use crate::meta::{ACCESS_COOKIE, REFRESH_COOKIE, cookie_value};
use crate::state;

/// A read from someone signed out: no token, no session cookie.
fn anonymous_read<B>(req: &Request<B>) -> bool {
    let h = req.headers();
    matches!(*req.method(), Method::GET | Method::HEAD)
        && !h.contains_key(header::AUTHORIZATION)
        && cookie_value(h, ACCESS_COOKIE).is_none()
        && cookie_value(h, REFRESH_COOKIE).is_none()
}

/// The request's span: `http`, with its method, path (never the query) and
/// request id.
pub fn make_span<B>(req: &Request<B>) -> Span {
    let request_id = req
        .headers()
        .get(state::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (method, path) = (req.method(), req.uri().path());
    if anonymous_read(req) {
        tracing::debug_span!("http", domain = "edge", %method, %path, request_id)
    } else {
        tracing::info_span!("http", domain = "edge", %method, %path, request_id)
    }
}

/// The closing record, at the span's level; a failed signed-out read is
/// told at `info` all the same, and a server error at `error`.
pub fn on_response<B>(res: &Response<B>, latency: Duration, span: &Span) {
    let status = res.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let quiet = span.metadata().is_none_or(|m| *m.level() == Level::DEBUG);
    if res.status().is_server_error() {
        tracing::error!(parent: span, status, latency_ms, "finished processing request");
    } else if quiet && status < 400 {
        tracing::debug!(parent: span, status, latency_ms, "finished processing request");
    } else {
        tracing::info!(parent: span, status, latency_ms, "finished processing request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut r = Request::builder()
            .method(method)
            .uri("/api/products/lamp?q=1");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(()).unwrap()
    }

    #[test]
    fn only_signed_out_reads_are_quiet() {
        assert!(anonymous_read(&req(Method::GET, &[])));
        assert!(anonymous_read(&req(
            Method::HEAD,
            &[("cookie", "theme=dark")]
        )));
        assert!(!anonymous_read(&req(Method::POST, &[])));
        assert!(!anonymous_read(&req(
            Method::GET,
            &[("authorization", "Bearer t")]
        )));
        assert!(!anonymous_read(&req(
            Method::GET,
            &[("cookie", "bazaar_access=t")]
        )));
        assert!(!anonymous_read(&req(
            Method::GET,
            &[("cookie", "a=b; bazaar_refresh=r")]
        )));
    }
}
