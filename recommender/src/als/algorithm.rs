//! The fit: alternating least squares on the confidence-weighted implicit
//! matrix, each half-iteration solving every row with a few steps of
//! conjugate gradient (Takács, Pilászy, Tikk 2011; the `implicit` library's
//! `least_squares_cg`).
//!
//! For user `u` with item factors `Y`, confidence `c_ui = 1 + alpha · w_ui`
//! and preference `p_ui = 1` on the items it touched (0 elsewhere), the row
//! `x_u` solves `(YᵀC_uY + λI) x_u = YᵀC_u p_u`. `YᵀY + λI` is computed once
//! per half-iteration; the rest of `YᵀC_uY` is `Σ (c_ui − 1) y_i y_iᵀ` over
//! the user's own items only, so a CG step costs one `f × f` mat-vec plus
//! two dot products per nonzero, and never forms the matrix.

use std::time::{Duration, Instant};

use linfa::DatasetBase;
use linfa::traits::Fit;
use ndarray::{Array2, ArrayView2, Axis, Slice};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::AlsValidParams;
use crate::csr::Csr;
use crate::{AlsModel, Interactions, RecommenderError};

/// Reported after each iteration of a fit.
#[derive(Debug, Clone, Copy)]
pub struct IterationStats {
    /// 1-based.
    pub iteration: usize,
    pub iterations: usize,
    /// Time of this iteration (both halves).
    pub elapsed: Duration,
}

impl Fit<Interactions, (), RecommenderError> for AlsValidParams {
    type Object = AlsModel;

    fn fit(&self, dataset: &DatasetBase<Interactions, ()>) -> Result<AlsModel, RecommenderError> {
        self.fit_with_progress(&dataset.records, |_| {})
    }
}

/// Fits on a borrowed matrix, so a caller that keeps its `Interactions`
/// need not clone them into the dataset.
impl<'a> Fit<&'a Interactions, (), RecommenderError> for AlsValidParams {
    type Object = AlsModel;

    fn fit(
        &self,
        dataset: &DatasetBase<&'a Interactions, ()>,
    ) -> Result<AlsModel, RecommenderError> {
        self.fit_with_progress(dataset.records, |_| {})
    }
}

impl AlsValidParams {
    /// Fits, calling `progress` after every iteration (for a progress bar or
    /// timings). Same result as [`Fit::fit`].
    pub fn fit_with_progress(
        &self,
        data: &Interactions,
        mut progress: impl FnMut(&IterationStats),
    ) -> Result<AlsModel, RecommenderError> {
        if data.nnz() == 0 {
            return Err(RecommenderError::Empty);
        }
        let f = self.factors;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut init =
            |rows: usize| Array2::from_shape_simple_fn((rows, f), || rng.random::<f32>() * 0.01);
        let mut users = init(data.n_users());
        let mut items = init(data.n_items());
        for iteration in 1..=self.iterations {
            let start = Instant::now();
            self.solve_half(&data.by_user, &mut users, &items);
            self.solve_half(&data.by_item, &mut items, &users);
            progress(&IterationStats {
                iteration,
                iterations: self.iterations,
                elapsed: start.elapsed(),
            });
        }
        AlsModel::from_factors(data, users, items, self.clone())
    }

    /// Updates every row of `x` given the fixed `y`, from `x`'s current value.
    fn solve_half(&self, c: &Csr, x: &mut Array2<f32>, y: &Array2<f32>) {
        let f = self.factors;
        let mut yty = gram(y.view());
        for j in 0..f {
            yty[[j, j]] += self.regularization;
        }
        let yty = yty.as_standard_layout();
        let (Some(yty), Some(y), Some(x)) = (yty.as_slice(), y.as_slice(), x.as_slice_mut()) else {
            unreachable!("factor matrices are built in standard layout");
        };
        x.par_chunks_mut(f)
            .enumerate()
            .with_min_len(64)
            .for_each_init(
                || Scratch::new(f),
                |scratch, (row, xu)| {
                    let (cols, weights) = c.row(row);
                    cg_row(
                        xu,
                        cols,
                        weights,
                        y,
                        yty,
                        self.alpha,
                        self.cg_steps,
                        scratch,
                    );
                },
            );
    }
}

/// `YᵀY`, on the shared pool: blocks of rows in parallel, then the block
/// sums added in block order (not rayon's adaptive reduction tree), so the
/// result does not depend on scheduling and a seed gives the same factors.
fn gram(y: ArrayView2<'_, f32>) -> Array2<f32> {
    let f = y.ncols();
    let block = 4096;
    let partial: Vec<Array2<f32>> = (0..y.nrows().div_ceil(block))
        .into_par_iter()
        .map(|b| {
            let end = ((b + 1) * block).min(y.nrows());
            let rows = y.slice_axis(Axis(0), Slice::from(b * block..end));
            rows.t().dot(&rows)
        })
        .collect();
    partial
        .into_iter()
        .fold(Array2::zeros((f, f)), |sum, g| sum + g)
}

struct Scratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl Scratch {
    fn new(f: usize) -> Self {
        Self {
            r: vec![0.0; f],
            p: vec![0.0; f],
            ap: vec![0.0; f],
        }
    }
}

/// A few CG steps on one row, warm-started from its current value.
#[allow(clippy::too_many_arguments)]
fn cg_row(
    x: &mut [f32],
    cols: &[u32],
    weights: &[f32],
    y: &[f32],
    yty: &[f32],
    alpha: f32,
    cg_steps: usize,
    s: &mut Scratch,
) {
    let f = x.len();
    if cols.is_empty() {
        x.fill(0.0);
        return;
    }
    let Scratch { r, p, ap } = s;
    // r = YᵀC_u p_u − (YᵀC_uY + λI) x
    mat_vec(yty, x, r);
    r.iter_mut().for_each(|v| *v = -*v);
    for (&i, &w) in cols.iter().zip(weights) {
        let yi = &y[i as usize * f..][..f];
        let cm1 = alpha * w;
        axpy(1.0 + cm1 - cm1 * dot(yi, x), yi, r);
    }
    p.copy_from_slice(r);
    let mut rs_old = dot(r, r);
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..cg_steps {
        // Ap = (YᵀC_uY + λI) p, without forming the matrix.
        mat_vec(yty, p, ap);
        for (&i, &w) in cols.iter().zip(weights) {
            let yi = &y[i as usize * f..][..f];
            axpy(alpha * w * dot(yi, p), yi, ap);
        }
        let step = rs_old / dot(p, ap);
        axpy(step, p, x);
        axpy(-step, ap, r);
        let rs_new = dot(r, r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (pj, rj) in p.iter_mut().zip(r.iter()) {
            *pj = rj + beta * *pj;
        }
        rs_old = rs_new;
    }
}

/// `out = A v` for a row-major square `A`.
fn mat_vec(a: &[f32], v: &[f32], out: &mut [f32]) {
    let f = v.len();
    for (o, row) in out.iter_mut().zip(a.chunks_exact(f)) {
        *o = dot(row, v);
    }
}

/// `y += a · x`
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yj, xj) in y.iter_mut().zip(x) {
        *yj += a * xj;
    }
}

/// Dot product with eight independent accumulators, so it vectorises.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlsParams;
    use linfa::ParamGuard;

    /// The CG update converges to the exact solution of the row's normal
    /// equations (checked against a dense solve on a tiny problem).
    #[test]
    fn cg_row_solves_the_normal_equations() {
        let f = 3;
        let y = [
            0.3f32, -0.2, 0.5, 0.1, 0.4, -0.3, -0.5, 0.2, 0.1, 0.2, 0.2, 0.2,
        ];
        let (cols, weights) = ([0u32, 2, 3], [1.0f32, 3.0, 0.5]);
        let (alpha, lambda) = (2.0f32, 0.1f32);
        let mut yty = gram(ArrayView2::from_shape((4, f), &y).expect("shape"))
            .into_raw_vec_and_offset()
            .0;
        for j in 0..f {
            yty[j * f + j] += lambda;
        }
        let mut x = vec![0.01f32; f];
        cg_row(
            &mut x,
            &cols,
            &weights,
            &y,
            &yty,
            alpha,
            10,
            &mut Scratch::new(f),
        );

        // Dense A = YᵀY + λI + Σ (c−1) y yᵀ, b = Σ c y; check A x ≈ b.
        let mut a = yty.clone();
        let mut b = vec![0.0f32; f];
        for (&i, &w) in cols.iter().zip(&weights) {
            let yi = &y[i as usize * f..][..f];
            for j in 0..f {
                b[j] += (1.0 + alpha * w) * yi[j];
                for k in 0..f {
                    a[j * f + k] += alpha * w * yi[j] * yi[k];
                }
            }
        }
        let mut ax = vec![0.0f32; f];
        mat_vec(&a, &x, &mut ax);
        for j in 0..f {
            assert!((ax[j] - b[j]).abs() < 1e-3, "A x = {ax:?}, b = {b:?}");
        }
    }

    #[test]
    fn dot_matches_the_naive_sum() {
        let a: Vec<f32> = (0..67).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..67).map(|i| 1.0 - i as f32 * 0.01).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-2);
    }

    #[test]
    fn fitting_nothing_is_an_error() {
        let data = DatasetBase::new(Interactions::from_events([], &Default::default()), ());
        let params = AlsParams::new().check().expect("valid");
        assert!(matches!(params.fit(&data), Err(RecommenderError::Empty)));
    }
}
