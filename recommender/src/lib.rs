//! Bazaar's recommender: collaborative filtering on implicit feedback.
//!
//! - [`Interactions`]: storefront events (weighted by [`Weights`]) or a
//!   `user,item,weight` CSV, aggregated into a sparse users × items matrix.
//! - [`AlsParams`]: hyperparameters of implicit-feedback ALS, checked with
//!   linfa's `ParamGuard` into [`AlsValidParams`], which fit a linfa
//!   `DatasetBase<Interactions, ()>` into an [`AlsModel`]: `recommend`,
//!   `similar_items`, and a [`Popularity`] fallback for cold start;
//!   [`AlsModel::to_bytes`]/[`AlsModel::from_bytes`] for the object store.
//! - [`evaluate()`]: a hold-out ([`split_by_time`], [`split_random`]) scored
//!   against the popularity baseline into a [`Report`].
//! - [`synthetic::generate`]: seeded data with planted structure.

pub mod als;
pub mod artifact;
pub mod csr;
mod error;
pub mod evaluate;
pub mod interactions;
mod model;
mod popularity;
pub mod synthetic;
#[cfg(test)]
mod tests;

pub use als::{AlsParams, AlsValidParams, IterationStats};
pub use error::{AlsParamsError, ArtifactError, RecommenderError};
pub use evaluate::{
    Metrics, Report, Split, evaluate, fit_and_evaluate, split_by_time, split_random,
};
pub use interactions::{Interaction, Interactions, InteractionsBuilder, Kind, Weights};
pub use model::{AlsModel, ModelMetadata, Ranker, Recommendation};
pub use popularity::Popularity;
