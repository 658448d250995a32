//! The one error envelope every failure travels in, over NATS and HTTP alike.

use serde::{Deserialize, Serialize};

/// Stable machine-readable error codes. Clients branch on these, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request could not be read at all.
    BadRequest,
    /// 422: the request was read but some fields are invalid.
    Validation,
    /// 401: no valid credentials.
    Unauthorized,
    /// 403: credentials are valid but do not allow this.
    Forbidden,
    /// 404: no such thing (or not yours to see).
    NotFound,
    /// 409: conflicts with the current state (duplicate, stale version).
    Conflict,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// 429: slow down.
    RateLimited,
    /// 500: our fault; the cause is logged, never shown.
    Internal,
    /// 503: no node is serving this right now.
    Unavailable,
    /// 504: the node did not answer in time.
    Timeout,
    /// 507: the storage this needs is full (e.g. the images bucket).
    InsufficientStorage,
}

impl ErrorCode {
    /// The HTTP status this code maps to.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Validation => 422,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 504,
            ErrorCode::InsufficientStorage => 507,
        }
    }

    /// The code a bare HTTP status stands for (used when only a status is known).
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            422 => ErrorCode::Validation,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::Unavailable,
            504 => ErrorCode::Timeout,
            507 => ErrorCode::InsufficientStorage,
            _ => ErrorCode::Internal,
        }
    }
}

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The body of every error reply, over NATS and HTTP.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema,
)]
#[error("{code:?} ({status}): {message}")]
pub struct ErrorEnvelope {
    /// Stable machine code.
    pub code: ErrorCode,
    /// The HTTP status, the same as `code.status()`.
    pub status: u16,
    /// A message a person can read; never internal details.
    pub message: String,
    /// Per-field problems, for forms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The request id, to quote when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// With `rate_limited`: seconds until trying again makes sense.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ErrorEnvelope {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            status: code.status(),
            message: message.into(),
            fields: Vec::new(),
            request_id: None,
            retry_after_secs: None,
        }
    }

    /// A 429 that says when to come back.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(ErrorCode::RateLimited, message);
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// An internal failure: the message is fixed so no cause ever leaks.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "something went wrong on our side")
    }

    /// Invalid fields; the message summarises, `fields` says which.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let mut e = Self::new(ErrorCode::Validation, "some fields are invalid");
        e.fields = fields;
        e
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// Collects field errors while validating a request.
#[derive(Debug, Default)]
pub struct Validator {
    fields: Vec<FieldError>,
}

impl Validator {
    /// Records `message` for `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.fields.push(FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            });
        }
        self
    }

    /// `Ok` when every check passed, else one validation envelope.
    pub fn finish(self) -> Result<(), ErrorEnvelope> {
        if self.fields.is_empty() {
            Ok(())
        } else {
            Err(ErrorEnvelope::validation(self.fields))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_status() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::Validation,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RateLimited,
            ErrorCode::Internal,
            ErrorCode::Unavailable,
            ErrorCode::Timeout,
            ErrorCode::InsufficientStorage,
        ] {
            assert_eq!(ErrorCode::from_status(code.status()), code);
        }
    }

    #[test]
    fn validator_collects_every_field() {
        let mut v = Validator::default();
        v.check(false, "name", "is required")
            .check(true, "slug", "never")
            .check(false, "x", "bad");
        let err = v.finish().unwrap_err();
        assert_eq!(err.status, 422);
        assert_eq!(err.fields.len(), 2);
        assert_eq!(err.fields[0].field, "name");
    }
}
