//! ALS hyperparameters: [`AlsParams`] is the unchecked builder,
//! [`AlsValidParams`] what [`ParamGuard::check`] hands back and what fits.

use linfa::ParamGuard;
use serde::{Deserialize, Serialize};

use crate::error::AlsParamsError;

/// The largest number of latent factors accepted.
pub const MAX_FACTORS: usize = 1024;

/// Checked ALS hyperparameters. Only [`AlsParams::check`](ParamGuard::check)
/// makes one, so holding one means the values are sane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsValidParams {
    pub(crate) factors: usize,
    pub(crate) regularization: f32,
    pub(crate) alpha: f32,
    pub(crate) iterations: usize,
    pub(crate) cg_steps: usize,
    pub(crate) seed: u64,
}

impl AlsValidParams {
    /// Latent factors per user and item.
    pub fn factors(&self) -> usize {
        self.factors
    }
    /// L2 regularisation λ.
    pub fn regularization(&self) -> f32 {
        self.regularization
    }
    /// Confidence per unit of weight: `c = 1 + alpha · weight` (Hu, Koren, Volinsky 2008).
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
    /// Full ALS iterations (a user half and an item half each).
    pub fn iterations(&self) -> usize {
        self.iterations
    }
    /// Conjugate-gradient steps per row and half-iteration.
    pub fn cg_steps(&self) -> usize {
        self.cg_steps
    }
    /// Seed of the factor initialisation.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// Unchecked ALS hyperparameters, built with chained setters from
/// [`AlsParams::new`] (or `default()`), then checked by fitting or by
/// [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsParams(AlsValidParams);

impl Default for AlsParams {
    fn default() -> Self {
        Self(AlsValidParams {
            factors: 64,
            regularization: 1.0,
            alpha: 10.0,
            iterations: 15,
            cg_steps: 3,
            seed: 42,
        })
    }
}

impl AlsParams {
    /// The defaults: 64 factors, λ 1, alpha 10, 15 iterations, 3 CG steps,
    /// seed 42 (λ and alpha chosen by a sweep on synthetic data, see
    /// docs/recommender.md).
    pub fn new() -> Self {
        Self::default()
    }
    pub fn factors(mut self, factors: usize) -> Self {
        self.0.factors = factors;
        self
    }
    pub fn regularization(mut self, regularization: f32) -> Self {
        self.0.regularization = regularization;
        self
    }
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.0.alpha = alpha;
        self
    }
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.0.iterations = iterations;
        self
    }
    pub fn cg_steps(mut self, cg_steps: usize) -> Self {
        self.0.cg_steps = cg_steps;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for AlsParams {
    type Checked = AlsValidParams;
    type Error = AlsParamsError;

    fn check_ref(&self) -> Result<&Self::Checked, Self::Error> {
        let p = &self.0;
        if p.factors == 0 || p.factors > MAX_FACTORS {
            Err(AlsParamsError::Factors {
                got: p.factors,
                max: MAX_FACTORS,
            })
        } else if !(p.regularization.is_finite() && p.regularization > 0.0) {
            Err(AlsParamsError::Regularization(p.regularization))
        } else if !(p.alpha.is_finite() && p.alpha > 0.0) {
            Err(AlsParamsError::Alpha(p.alpha))
        } else if p.iterations == 0 {
            Err(AlsParamsError::Iterations)
        } else if p.cg_steps == 0 {
            Err(AlsParamsError::CgSteps)
        } else {
            Ok(p)
        }
    }

    fn check(self) -> Result<Self::Checked, Self::Error> {
        self.check_ref()?;
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass() {
        let p = AlsParams::default().check().expect("defaults are valid");
        assert_eq!(p.factors(), 64);
        assert_eq!(p.iterations(), 15);
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            (
                AlsParams::new().factors(0),
                AlsParamsError::Factors {
                    got: 0,
                    max: MAX_FACTORS,
                },
            ),
            (
                AlsParams::new().factors(MAX_FACTORS + 1),
                AlsParamsError::Factors {
                    got: MAX_FACTORS + 1,
                    max: MAX_FACTORS,
                },
            ),
            (
                AlsParams::new().regularization(0.0),
                AlsParamsError::Regularization(0.0),
            ),
            (
                AlsParams::new().regularization(-1.0),
                AlsParamsError::Regularization(-1.0),
            ),
            (AlsParams::new().alpha(0.0), AlsParamsError::Alpha(0.0)),
            (
                AlsParams::new().alpha(f32::INFINITY),
                AlsParamsError::Alpha(f32::INFINITY),
            ),
            (AlsParams::new().iterations(0), AlsParamsError::Iterations),
            (AlsParams::new().cg_steps(0), AlsParamsError::CgSteps),
        ];
        for (params, want) in cases {
            assert_eq!(params.check(), Err(want));
        }
        assert!(matches!(
            AlsParams::new().regularization(f32::NAN).check(),
            Err(AlsParamsError::Regularization(_))
        ));
    }
}
