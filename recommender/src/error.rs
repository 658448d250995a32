//! The crate's errors: one enum for everything a caller can get back, with
//! the hyperparameter and artifact failures as their own types so a command
//! can tell "bad flag" from "bad file" from "bad model".

use thiserror::Error;

/// A hyperparameter that [`crate::AlsParams::check`](linfa::ParamGuard::check) refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AlsParamsError {
    /// `factors` must be between 1 and [`crate::als::MAX_FACTORS`].
    #[error("factors must be between 1 and {max}, got {got}")]
    Factors { got: usize, max: usize },
    /// `regularization` must be a finite number above zero (it keeps every
    /// per-row system positive definite).
    #[error("regularization must be a finite number above 0, got {0}")]
    Regularization(f32),
    /// `alpha` (confidence per unit of weight) must be finite and above zero.
    #[error("alpha must be a finite number above 0, got {0}")]
    Alpha(f32),
    /// At least one ALS iteration.
    #[error("iterations must be at least 1")]
    Iterations,
    /// At least one conjugate-gradient step per row.
    #[error("cg_steps must be at least 1")]
    CgSteps,
}

/// A model artifact that cannot be loaded: corrupt, truncated or written by
/// an incompatible version. Loading never panics on bad bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ArtifactError {
    /// Fewer bytes than the fixed header.
    #[error("artifact is truncated: {len} bytes, the header alone is {header}")]
    TooShort { len: usize, header: usize },
    /// The bytes do not start with the artifact's magic.
    #[error("not a Bazaar recommender artifact (bad magic)")]
    BadMagic,
    /// Written by a format version this build cannot read.
    #[error(
        "artifact format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u32, supported: u32 },
    /// The body is shorter or longer than the header says.
    #[error("artifact body is {found} bytes, the header says {expected}")]
    LengthMismatch { expected: u64, found: u64 },
    /// The body's checksum does not match the header's.
    #[error("artifact checksum mismatch (header {expected:08x}, body {found:08x})")]
    ChecksumMismatch { expected: u32, found: u32 },
    /// The checksum matched but the body does not describe a model.
    #[error("malformed artifact body: {0}")]
    Malformed(&'static str),
}

/// Everything this crate can fail with.
#[derive(Debug, Error)]
pub enum RecommenderError {
    /// Refused hyperparameters.
    #[error(transparent)]
    Params(#[from] AlsParamsError),
    /// A model artifact that cannot be loaded.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A bad row in an interactions CSV; `line` is 1-based, as an editor shows it.
    #[error("interactions CSV, line {line}: {message}")]
    Csv { line: u64, message: String },
    /// Reading the CSV failed below the level of a row (I/O, encoding).
    #[error("interactions CSV: {0}")]
    CsvRead(#[from] csv::Error),
    /// Writing a CSV or a report failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// There is nothing to train on.
    #[error("no interactions to train on")]
    Empty,
    /// An error reported by linfa's dataset machinery.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
}
