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

/// Whether `next` (as decoded from the form or query) is a path on this
/// site and nothing else: one `/`, then anything but `/` or `\`, and no
/// control character or whitespace anywhere. Browsers drop tabs and
/// newlines from URLs and read `\` as `/`, so `/\t/evil.example` or
/// `/\\evil.example` would leave the site.
pub(crate) fn is_local_path(next: &str) -> bool {
    let mut chars = next.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_paths_on_this_site_are_followed() {
        for ok in ["/", "/account", "/orders/1?tab=x#y", "/shops/caf%C3%A9"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "account",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "https://evil.example",
            "/path\\..\\x",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }
}
