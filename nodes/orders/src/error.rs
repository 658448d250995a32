//! What can go wrong with carts and orders, and how callers see it.

use bazaar_subjects::{ErrorCode, ErrorEnvelope};

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// 404: not there, or not the caller's (we do not say which).
    #[error("{0}")]
    NotFound(String),
    /// 400: the request makes no sense as sent.
    #[error("{0}")]
    BadRequest(String),
    /// 409: the state of things does not allow it (empty cart, stock, …).
    #[error("{0}")]
    Conflict(String),
    /// 403: the caller may not do this to this thing.
    #[error("{0}")]
    Forbidden(String),
    /// 422: invalid input, per field.
    #[error("invalid input")]
    Invalid(ErrorEnvelope),
    /// Another node's answer, passed on as it came.
    #[error("{}", .0.message)]
    Upstream(ErrorEnvelope),
    /// 500: something we did not expect.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
    /// 500: a write did not commit for a reason we do not retry.
    #[error(transparent)]
    Transaction(#[from] bazaar_schema::TransactionError),
    #[error(transparent)]
    Schema(#[from] bazaar_schema::SchemaError),
    /// Stripe refused (409) or could not be reached (503).
    #[error(transparent)]
    Stripe(#[from] bazaar_stripe::Error),
    /// 503: this copy is stopping and took no more writes; another copy
    /// (or this one, restarted) will.
    #[error(transparent)]
    Stopping(#[from] bazaar_schema::group::Stopped),
}

impl From<serde_json::Error> for OrdersError {
    fn from(e: serde_json::Error) -> Self {
        OrdersError::Schema(bazaar_schema::SchemaError::from(e))
    }
}

impl bazaar_schema::Retryable for OrdersError {
    fn is_retryable(&self) -> bool {
        matches!(self, OrdersError::Transaction(e) if e.is_retryable())
    }
}

impl From<ErrorEnvelope> for OrdersError {
    fn from(e: ErrorEnvelope) -> Self {
        OrdersError::Upstream(e)
    }
}

impl From<OrdersError> for ErrorEnvelope {
    fn from(e: OrdersError) -> Self {
        match e {
            OrdersError::NotFound(m) => ErrorEnvelope::not_found(m),
            OrdersError::BadRequest(m) => ErrorEnvelope::bad_request(m),
            OrdersError::Conflict(m) => ErrorEnvelope::conflict(m),
            OrdersError::Forbidden(m) => ErrorEnvelope::new(ErrorCode::Forbidden, m),
            OrdersError::Invalid(envelope) | OrdersError::Upstream(envelope) => envelope,
            OrdersError::Stripe(e) if e.is_transient() => {
                tracing::warn!(error = %e, "stripe unavailable");
                ErrorEnvelope::new(
                    ErrorCode::Unavailable,
                    "the payment provider cannot be reached right now; try again in a minute",
                )
            }
            OrdersError::Stripe(e) => {
                tracing::warn!(error = %e, "stripe refused");
                ErrorEnvelope::conflict(format!("{e}"))
            }
            OrdersError::Stopping(_) => ErrorEnvelope::new(
                ErrorCode::Unavailable,
                "the shop is restarting right now; please try again",
            ),
            other => bazaar_runtime::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use bazaar_schema::group::Stopped;
    use bazaar_subjects::{ErrorCode, ErrorEnvelope};

    use super::OrdersError;

    #[test]
    fn a_copy_that_is_stopping_answers_503_as_the_catalog_does() {
        let envelope = ErrorEnvelope::from(OrdersError::from(Stopped));
        assert_eq!(envelope.code, ErrorCode::Unavailable);
        assert_eq!(envelope.status, 503);
        assert!(envelope.message.contains("try again"));
    }
}
