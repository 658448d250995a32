//! One mapping from the error envelope to an HTTP response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
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
                retry_after_header(self.0.retry_after_secs.unwrap_or(60)),
            );
        }
        response
    }
}

fn retry_after_header(secs: u64) -> HeaderValue {
    HeaderValue::from_str(&secs.to_string()).unwrap_or(HeaderValue::from_static("60"))
}

impl From<ErrorEnvelope> for ApiError {
    fn from(e: ErrorEnvelope) -> Self {
        Self(e)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, header};
    use axum::routing::get;
    use bazaar_subjects::ErrorCode;
    use tower::ServiceExt;

    use super::*;
    use crate::test_support::body_text;

    async fn answer(e: ErrorEnvelope) -> Response {
        let app = Router::new().route(
            "/",
            get(move || {
                let e = e.clone();
                async move { Err::<(), _>(ApiError(e)) }
            }),
        );
        app.oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_envelope_leaves_as_its_status_with_itself_as_the_json_body() {
        for (envelope, status) in [
            (
                ErrorEnvelope::not_found("no such shop"),
                StatusCode::NOT_FOUND,
            ),
            (
                ErrorEnvelope::forbidden("sellers only"),
                StatusCode::FORBIDDEN,
            ),
            (ErrorEnvelope::bad_request("bad"), StatusCode::BAD_REQUEST),
            (
                ErrorEnvelope::new(ErrorCode::Unavailable, "the catalog is not answering"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            let code = envelope.code;
            let response = answer(envelope).await;
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body: ErrorEnvelope = serde_json::from_str(&body_text(response).await).unwrap();
            assert_eq!(body.code, code);
            assert_eq!(body.status, status.as_u16());
        }
    }

    #[tokio::test]
    async fn too_many_requests_say_when_to_come_back() {
        let response = answer(ErrorEnvelope::rate_limited("slow down", 42)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }
}
