//! Sessions stay alive on pages without JavaScript: when the access cookie is
//! gone (it lives 15 minutes) but the refresh cookie is there, the edge
//! rotates the session before the page is rendered and sends the new cookies.

use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::{self as a, RefreshRequest};

use crate::api::auth::{clear_cookies, session_cookies};
use crate::extract::{REFRESH_COOKIE, cookie_value};
use crate::state::EdgeState;

/// Pages keep a session alive without JavaScript: when the access cookie is
/// gone (it lives 15 minutes) but the refresh cookie is there, the edge
/// rotates the session before the page is rendered and sends the new cookies.
pub async fn middleware(
    State(state): State<EdgeState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let page = !path.starts_with("/api/")
        && !path.starts_with("/static/")
        && !path.starts_with("/images/");
    let h = req.headers();
    let needs = page
        && cookie_value(h, crate::extract::ACCESS_COOKIE).is_none()
        && cookie_value(h, REFRESH_COOKIE).is_some();
    if !needs {
        return next.run(req).await;
    }
    let refresh_token = cookie_value(h, REFRESH_COOKIE).unwrap_or_default();
    let meta = RequestMeta {
        request_id: uuid::Uuid::now_v7().to_string(),
        authorization: None,
    };
    match state
        .call::<a::Refresh>(&meta, &RefreshRequest { refresh_token })
        .await
    {
        Ok(session) => {
            let cookie = format!("{}={}", crate::extract::ACCESS_COOKIE, session.access_token);
            if let Ok(v) = header::HeaderValue::from_str(&cookie) {
                req.headers_mut().append(header::COOKIE, v);
            }
            let mut response = next.run(req).await;
            for (name, value) in session_cookies(&state, &session).0 {
                response.headers_mut().append(name, value);
            }
            response
        }
        Err(_) => {
            let mut response = next.run(req).await;
            for (name, value) in clear_cookies().0 {
                response.headers_mut().append(name, value);
            }
            response
        }
    }
}
