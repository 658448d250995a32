//! Sessions stay alive on pages without JavaScript: when the access cookie is
//! gone (it lives 15 minutes) but the refresh cookie is there, the edge
//! rotates the session before the page is rendered and sends the new cookies.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::{self as a, RefreshRequest};

use crate::api::auth::{clear_cookies, session_cookies};
use crate::extract::{REFRESH_COOKIE, cookie_value};
use crate::state::EdgeState;

/// The cookies a page's answer carries after [`renew`]: the rotated
/// session's, or those that clear a session that could not be renewed.
pub(crate) struct Renewed([(HeaderName, HeaderValue); 2]);

/// For a page whose access cookie is gone while the refresh cookie is
/// there: rotates the session and gives the page the new access token.
pub(crate) async fn renew(state: &EdgeState, req: &mut Request) -> Option<Renewed> {
    let path = req.uri().path();
    let page = !path.starts_with("/api/")
        && !path.starts_with("/static/")
        && !path.starts_with("/images/");
    let h = req.headers();
    let needs = page
        && cookie_value(h, crate::extract::ACCESS_COOKIE).is_none()
        && cookie_value(h, REFRESH_COOKIE).is_some();
    if !needs {
        return None;
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
            Some(Renewed(session_cookies(state, &session).0))
        }
        Err(_) => Some(Renewed(clear_cookies().0)),
    }
}

/// Sends the cookies of a renewal with the page.
pub(crate) fn finish(renewed: Option<Renewed>, response: &mut Response) {
    for (name, value) in renewed.into_iter().flat_map(|r| r.0) {
        response.headers_mut().append(name, value);
    }
}
