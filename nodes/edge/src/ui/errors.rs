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
