//! Error pages: the friendly page for an error envelope (with the viewer
//! still in the header), and what unknown paths get.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::auth::Account;

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    viewer: Option<Account>,
    site_name: String,
    title: String,
    message: String,
    request_id: Option<String>,
}

/// An error page that keeps the signed-in viewer in the header.
pub(crate) fn error_view(
    viewer: Option<Account>,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    (
        status,
        ErrorPage {
            viewer,
            site_name: "Bazaar".into(),
            title: title.to_owned(),
            message: message.to_owned(),
            request_id: None,
        },
    )
        .into_response()
}

/// The friendly page for an error envelope, with the status it carries and
/// the viewer in the header.
pub(crate) fn envelope_page(viewer: Option<Account>, e: ErrorEnvelope) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match e.status {
        403 => "You can't go there",
        404 => "Page not found",
        503 | 504 => "We'll be right back",
        _ => "Something went wrong",
    };
    (
        status,
        ErrorPage {
            viewer,
            site_name: "Bazaar".into(),
            title: title.into(),
            message: e.message,
            request_id: e.request_id,
        },
    )
        .into_response()
}

/// A page handler's error: answered with the friendly error page and the
/// status the envelope carries, so page handlers use `?` on node calls.
///
/// The page is rendered here without a viewer; the page-error middleware puts
/// the signed-in viewer back in its header.
#[derive(Debug)]
pub(crate) struct PageError(pub ErrorEnvelope);

/// The envelope of a [`PageError`] response, for the page-error middleware.
#[derive(Clone)]
pub(crate) struct RefusedPage(pub ErrorEnvelope);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = envelope_page(None, self.0.clone());
        response.extensions_mut().insert(RefusedPage(self.0));
        response
    }
}

impl From<ErrorEnvelope> for PageError {
    fn from(e: ErrorEnvelope) -> Self {
        Self(e)
    }
}

impl From<crate::ApiError> for PageError {
    fn from(e: crate::ApiError) -> Self {
        Self(e.0)
    }
}

/// The friendly page for an error, for a request whose viewer is not known.
pub(crate) fn error_page(e: ErrorEnvelope) -> Response {
    envelope_page(None, e)
}

/// Unknown API paths get the JSON envelope; unknown pages get a page.
pub async fn not_found(uri: Uri) -> Response {
    let envelope = ErrorEnvelope::not_found(format!("nothing lives at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        crate::ApiError(envelope).into_response()
    } else {
        error_page(envelope)
    }
}
