//! Redirects pages send: to sign in first, and back to a page with a
//! message it shows once.

use axum::response::{IntoResponse, Redirect, Response};

use crate::ui::errors::PageError;
use crate::ui::query::urlencode;

/// The page a signed-out visitor is sent to, coming back to `next` after.
pub(crate) fn sign_in_first(next: &str) -> Response {
    PageError::sign_in(next).into_response()
}

/// Back to `path` with a notice the page shows once (`?notice=`).
pub(crate) fn with_notice(path: &str, message: &str) -> Redirect {
    with_message(path, "notice", message)
}

/// Back to `path` with why a form was refused, which the page shows once
/// (`?error=`).
pub(crate) fn with_error(path: &str, message: &str) -> Redirect {
    with_message(path, "error", message)
}

fn with_message(path: &str, key: &str, message: &str) -> Redirect {
    Redirect::to(&format!("{path}?{key}={}", urlencode(message)))
}
