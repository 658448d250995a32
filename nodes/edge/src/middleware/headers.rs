//! Security headers on every response: no framing, no sniffing, a strict
//! referrer policy, no powerful features, and a content security policy that
//! allows only this site's own scripts and styles (the pages have no inline
//! script or style; the API docs' Swagger UI needs its inline bootstrap).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// For every page and API answer.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: https:; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; frame-ancestors 'none'";
/// For the Swagger UI under `/api-docs`.
const CSP_DOCS: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// Whether `req` is for the API docs (whose Swagger UI needs its inline
/// bootstrap).
pub(crate) fn for_docs(req: &Request) -> bool {
    req.uri().path().starts_with("/api-docs")
}

/// Puts the security headers on `response` (a handler's own are kept).
pub(crate) fn apply(response: &mut Response, docs: bool) {
    let h = response.headers_mut();
    // Room for all five at once, rather than growing the map on the way.
    h.reserve(5);
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        if docs { CSP_DOCS } else { CSP },
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        h,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn every_answer_carries_the_security_headers() {
        let state = crate::test_support::offline_state(crate::EdgeConfig::default()).await;
        let app = Router::new()
            .route("/", get(|| async { "home" }))
            .route("/api-docs/", get(|| async { "docs" }))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::middleware::policy::middleware,
            ))
            .with_state(state);
        let page = app
            .clone()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = page.headers();
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        let docs = app
            .oneshot(Request::get("/api-docs/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let csp = docs.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("'unsafe-inline'"));
    }
}
