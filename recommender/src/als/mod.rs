//! Implicit-feedback matrix factorisation by alternating least squares
//! (Hu, Koren, Volinsky 2008), each row solved by a few conjugate-gradient
//! steps as the `implicit` library does. Laid out as a linfa algorithm:
//! hyperparameters in [`hyperparams`], the fit in [`algorithm`].

pub mod hyperparams;

pub use hyperparams::{AlsParams, AlsValidParams, MAX_FACTORS};
pub mod algorithm;

pub use algorithm::IterationStats;
