//! What can go wrong while seeding.

use bazaar_catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The request cannot be met: too many products for one run, or no
    /// categories to put them in.
    #[error("{0}")]
    Refused(String),
    /// A generated product failed the catalog's checks (a generator bug).
    #[error("a generated product was refused: {0}")]
    Product(#[from] CatalogError),
    /// A step of the load failed (an index build, the generator thread).
    #[error("{0}")]
    Failed(String),
    /// Drawing a picture or storing it in the Object Store failed.
    #[error("storing a product picture failed: {0}")]
    Pictures(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
    /// The database answered in an unexpected shape.
    #[error(transparent)]
    Schema(#[from] bazaar_schema::SchemaError),
}

impl From<serde_json::Error> for SeedError {
    fn from(e: serde_json::Error) -> Self {
        SeedError::Schema(bazaar_schema::SchemaError::from(e))
    }
}
