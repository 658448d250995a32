//! Bazaar's recommender: collaborative filtering on implicit feedback.
//!
//! - [`Interactions`]: storefront events (weighted by [`Weights`]) or a
//!   `user,item,weight` CSV, aggregated into a sparse users × items matrix.
//! - [`AlsParams`]: hyperparameters of implicit-feedback ALS, checked with
//!   linfa's `ParamGuard` into [`AlsValidParams`], which fit a linfa
//!   `DatasetBase<Interactions, ()>`.

pub mod als;
pub mod csr;
mod error;
pub mod interactions;

pub use als::{AlsParams, AlsValidParams};
pub use error::{AlsParamsError, ArtifactError, RecommenderError};
pub use interactions::{Interaction, Interactions, InteractionsBuilder, Kind, Weights};
