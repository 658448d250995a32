//! One mapping from the error envelope to an HTTP response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bazaar_subjects::ErrorEnvelope;

/// An error on its way to an API client: the envelope as JSON, its status as
/// the HTTP status.
#[derive(Debug)]
pub struct ApiError(pub ErrorEnvelope);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(&self.0)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                crate::middleware::ratelimit::retry_after_header(
                    self.0.retry_after_secs.unwrap_or(60),
                ),
            );
        }
        response
    }
}

impl From<ErrorEnvelope> for ApiError {
    fn from(e: ErrorEnvelope) -> Self {
        Self(e)
    }
}
