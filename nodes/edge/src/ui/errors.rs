//! Error pages: the friendly page for an error envelope, and what unknown
//! paths get.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

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

/// A friendly page for an error, with the status the error carries.
pub(crate) fn error_page(e: bazaar_subjects::ErrorEnvelope) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match status.as_u16() {
        404 => "Page not found".to_owned(),
        503 | 504 => "We'll be right back".to_owned(),
        _ => "Something went wrong".to_owned(),
    };
    (
        status,
        ErrorPage {
            viewer: None,
            site_name: "Bazaar".into(),
            title,
            message: e.message,
            request_id: e.request_id,
        },
    )
        .into_response()
}

/// Unknown API paths get the JSON envelope; unknown pages get a page.
pub async fn not_found(uri: Uri) -> Response {
    let envelope =
        bazaar_subjects::ErrorEnvelope::not_found(format!("nothing lives at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        crate::ApiError(envelope).into_response()
    } else {
        error_page(envelope)
    }
}
