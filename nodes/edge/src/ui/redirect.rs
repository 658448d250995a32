//! Redirects pages send: to sign in first, and back to a page with a message.

use axum::response::{IntoResponse, Redirect, Response};

use crate::ui::query::urlencode;

/// The page a signed-out visitor is sent to, coming back to `next` after.
pub(crate) fn sign_in_first(next: &str) -> Response {
    Redirect::to(&format!("/login?next={}", urlencode(next))).into_response()
}
