//! Security headers on every response: no framing, no sniffing, a strict
//! referrer policy, no powerful features, and a content security policy that
//! allows only this site's own scripts and styles (the pages have no inline
//! script or style; the API docs' Swagger UI needs its inline bootstrap).
//!
//! A JSON answer is data, never a document: its policy allows nothing at
//! all (should a browser ever open one as a page, it loads nothing and
//! cannot be framed), and the referrer and permissions policies, which only
//! govern what a document does, are left off it (OWASP's REST security
//! cheat sheet gives APIs the same set). That is also about 200 bytes less
//! on every API answer.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// For every page and API answer.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: https:; connect-src 'self'; object-src 'none'; \
    base-uri 'self'; frame-ancestors 'none'";
/// For JSON answers.
const CSP_DATA: &str = "default-src 'none'; frame-ancestors 'none'";
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
    let data = is_json(response.headers());
    let h = response.headers_mut();
    // Room for all five at once, rather than growing the map on the way.
    h.reserve(5);
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    let csp = match (data, docs) {
        (true, _) => CSP_DATA,
        (false, true) => CSP_DOCS,
        (false, false) => CSP,
    };
    set(h, header::CONTENT_SECURITY_POLICY, csp);
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if data {
        return;
    }
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

/// Whether the answer is JSON (`application/json`, or a `+json` type such
/// as the OpenAPI document's).
fn is_json(h: &axum::http::HeaderMap) -> bool {
    let Some(essence) = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
    else {
        return false;
    };
    let essence = essence.trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .get(essence.len().saturating_sub(5)..)
            .is_some_and(|t| t.eq_ignore_ascii_case("+json"))
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
            .layer(crate::middleware::policy::PolicyLayer {
                state: state.clone(),
            })
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
        assert!(has_document_policies(page.headers()));
    }

    fn has_document_policies(h: &axum::http::HeaderMap) -> bool {
        h.contains_key(header::REFERRER_POLICY) && h.contains_key("permissions-policy")
    }

    #[tokio::test]
    async fn json_answers_allow_nothing_and_skip_the_document_policies() {
        let state = crate::test_support::offline_state(crate::EdgeConfig::default()).await;
        let app = Router::new()
            .route(
                "/api/thing",
                get(|| async { axum::Json(serde_json::json!({"a": 1})) }),
            )
            .layer(crate::middleware::policy::PolicyLayer {
                state: state.clone(),
            })
            .with_state(state);
        let answer = app
            .oneshot(Request::get("/api/thing").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = answer.headers();
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!h.contains_key(header::REFERRER_POLICY));
        assert!(!h.contains_key("permissions-policy"));
    }

    #[test]
    fn json_is_told_by_its_media_type() {
        let of = |ct: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            is_json(&h)
        };
        assert!(of("application/json"));
        assert!(of("application/problem+json; charset=utf-8"));
        assert!(!of("text/html; charset=utf-8"));
        assert!(!of("application/jsonp"));
        assert!(!is_json(&axum::http::HeaderMap::new()));
    }
}
