//! The crate's one error type.

use bazaar_subjects::ErrorEnvelope;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// 422: the request names a page, price or rating that cannot be had;
    /// the envelope says which field and how to fix it.
    #[error("invalid search request")]
    Invalid(ErrorEnvelope),
    /// 500: the index could not be read or written.
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// 500: the index directory could not be opened.
    #[error("search index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// 500: the index directory could not be created.
    #[error("search index directory: {0}")]
    Io(#[from] std::io::Error),
    /// 500: the query's thread failed it.
    #[error(transparent)]
    Pool(#[from] crate::pool::PoolError),
    /// 500: a stored document or commit payload did not read back.
    #[error("search index document: {0}")]
    Stored(#[from] serde_json::Error),
}

impl From<SearchError> for ErrorEnvelope {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Invalid(envelope) => envelope,
            other => bazaar_runtime::internal(other),
        }
    }
}
