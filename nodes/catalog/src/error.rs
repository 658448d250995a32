//! What can go wrong in the catalog, and how callers see it.

use bazaar_subjects::{ErrorCode, ErrorEnvelope};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// 404: no such product (or not the caller's: we do not say which).
    #[error("no product `{0}`")]
    NoSuchProduct(String),
    /// 409: the seller has to open their shop first.
    #[error("the caller has no shop")]
    NoShop,
    /// 409: restoring a product that is not in the bin, or similar.
    #[error("{0}")]
    Conflict(String),
    /// 409: not enough stock (or no longer for sale), naming each problem.
    #[error("{0}")]
    OutOfStock(String),
    /// 422: invalid input, per field.
    #[error("invalid input")]
    Invalid(ErrorEnvelope),
    /// Another node's answer, passed on as it came.
    #[error("{}", .0.message)]
    Upstream(ErrorEnvelope),
    /// 500: the database failed.
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
    /// 500: a write did not commit for a reason we do not retry (conflicts
    /// are retried first).
    #[error(transparent)]
    Write(#[from] bazaar_schema::TransactionError),
    /// Another write came between what a write read and its transaction:
    /// reading again is right (retried; 503 if it keeps happening).
    #[error("the data moved under the write")]
    Raced,
    /// 500: the database answered in an unexpected shape.
    #[error(transparent)]
    Schema(#[from] bazaar_schema::SchemaError),
}

impl From<CatalogError> for ErrorEnvelope {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NoSuchProduct(_) => ErrorEnvelope::not_found("there is no such product"),
            CatalogError::NoShop => ErrorEnvelope::new(
                ErrorCode::Conflict,
                "open your shop first: products are sold through a shop",
            ),
            CatalogError::Conflict(message) => ErrorEnvelope::conflict(message),
            CatalogError::OutOfStock(message) => ErrorEnvelope::conflict(message),
            CatalogError::Invalid(envelope) | CatalogError::Upstream(envelope) => envelope,
            other => bazaar_runtime::internal(other),
        }
    }
}

impl bazaar_schema::Retryable for CatalogError {
    fn is_retryable(&self) -> bool {
        match self {
            CatalogError::Write(e) => e.is_retryable(),
            CatalogError::Raced => true,
            _ => false,
        }
    }
}

impl From<serde_json::Error> for CatalogError {
    fn from(e: serde_json::Error) -> Self {
        CatalogError::Schema(bazaar_schema::SchemaError::from(e))
    }
}
