//! Cross-site request forgery guard: a state-changing request that carries our
//! session cookies must come from our own pages. Browsers always say where a
//! request comes from (`Origin`, `Sec-Fetch-Site`, or `Referer`); API clients
//! using `Authorization: Bearer` send no cookies and are not affected.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use bazaar_subjects::ErrorEnvelope;

use crate::error::ApiError;
use crate::extract::{ACCESS_COOKIE, REFRESH_COOKIE, cookie_value};
use crate::state::EdgeState;

fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    ))
}

/// The origins our own pages are served from: the public URL, the
/// configured CORS origins, and the host this request was sent to.
pub(crate) fn own_origins(state: &EdgeState, h: &axum::http::HeaderMap) -> Vec<String> {
    let config = &state.inner.config;
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut allowed: Vec<String> = config
        .cors_origins
        .iter()
        .filter_map(|o| origin_of(o))
        .collect();
    allowed.extend(origin_of(&config.public_url));
    allowed.push(format!("http://{host}"));
    allowed.push(format!("https://{host}"));
    allowed
}

/// Refuses a state-changing request from another site that carries our
/// session cookies (or posts one of our forms).
pub(crate) fn check(state: &EdgeState, req: &Request) -> Result<(), Response> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let h = req.headers();
    let has_session =
        cookie_value(h, ACCESS_COOKIE).is_some() || cookie_value(h, REFRESH_COOKIE).is_some();
    // Page forms are judged signed in or not: a hostile page must not sign
    // a visitor into the attacker's account (login CSRF). API calls without
    // our cookies carry a bearer token, which a hostile page cannot forge.
    let form = !req.uri().path().starts_with("/api/");
    if safe || !(has_session || form) {
        return Ok(());
    }
    let allowed = own_origins(state, h);
    let from = h
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .map(str::to_owned)
        .or_else(|| {
            h.get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(origin_of)
        });
    let cross_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
    let foreign = match from {
        Some(origin) => !allowed.contains(&origin.to_ascii_lowercase()),
        // A browser that says nothing about the origin but admits cross-site.
        None => cross_site,
    };
    if foreign {
        tracing::warn!("cross-site request with session cookies refused");
        return Err(ApiError(ErrorEnvelope::forbidden(
            "cross-site requests are not allowed",
        ))
        .into_response());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use tower::ServiceExt;

    use crate::config::EdgeConfig;
    use crate::test_support::offline_state;

    async fn app() -> Router {
        let state = offline_state(EdgeConfig {
            public_url: "https://shop.example".into(),
            ..EdgeConfig::default()
        })
        .await;
        Router::new()
            .route("/cart/add", post(|| async { "added" }))
            .route("/api/cart/items", post(|| async { "added" }))
            .layer(crate::middleware::policy::PolicyLayer {
                state: state.clone(),
            })
            .with_state(state)
    }

    fn post_from(headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::post("/cart/add").header("host", "shop.example");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    async fn status(headers: &[(&str, &str)]) -> StatusCode {
        app()
            .await
            .oneshot(post_from(headers))
            .await
            .unwrap()
            .status()
    }

    const SESSION: (&str, &str) = ("cookie", "bazaar_access=token");

    #[tokio::test]
    async fn a_cross_site_post_with_our_session_cookie_is_refused() {
        assert_eq!(
            status(&[SESSION, ("origin", "https://evil.example")]).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&[SESSION, ("referer", "https://evil.example/page")]).await,
            StatusCode::FORBIDDEN
        );
        // No origin at all, but the browser admits it is cross-site.
        assert_eq!(
            status(&[SESSION, ("sec-fetch-site", "cross-site")]).await,
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn a_same_site_post_goes_through() {
        assert_eq!(
            status(&[SESSION, ("origin", "https://shop.example")]).await,
            StatusCode::OK
        );
        assert_eq!(
            status(&[SESSION, ("referer", "http://shop.example/cart")]).await,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn an_api_call_without_our_cookies_is_not_judged() {
        // API clients with a bearer token send no cookies: nothing to forge.
        let request = Request::post("/api/cart/items")
            .header("host", "shop.example")
            .header("origin", "https://evil.example")
            .body(Body::empty())
            .unwrap();
        let response = app().await.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_cross_site_form_post_is_refused_even_signed_out() {
        // Login CSRF: a hostile page posting our sign-in form.
        assert_eq!(
            status(&[("origin", "https://evil.example")]).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&[("sec-fetch-site", "cross-site")]).await,
            StatusCode::FORBIDDEN
        );
        // A client that says nothing of where it comes from is not a browser
        // on another site.
        assert_eq!(status(&[]).await, StatusCode::OK);
    }
}
