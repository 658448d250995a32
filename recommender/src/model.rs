//! The fitted model: user and item factors, top-k by dot product, similar
//! items by cosine, with the popularity ranking carried along for users the
//! model has never seen.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash};

use ndarray::{Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::als::algorithm::dot;
use crate::interactions::IdMap;
use crate::{AlsValidParams, Interactions, Popularity, RecommenderError};

/// One recommended item with its score (a dot product for the model, a
/// cosine for similar items, a count for popularity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub item: String,
    pub score: f32,
}

/// Ranks items for a user by dense indices; what evaluation runs on.
pub trait Ranker {
    /// The `k` best items for `user` (best first), leaving out `exclude`
    /// (sorted item indices).
    fn rank(&self, user: u32, k: usize, exclude: &[u32]) -> Vec<u32>;
}

/// What a model was trained with and on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub params: AlsValidParams,
    pub users: usize,
    pub items: usize,
    /// Distinct (user, item) pairs trained on.
    pub interactions: usize,
    /// When the model was built (Unix seconds, UTC).
    pub trained_at: i64,
}

/// A fitted implicit-ALS model.
#[derive(Debug, Clone)]
pub struct AlsModel {
    pub(crate) users: IdMap,
    pub(crate) items: IdMap,
    pub(crate) user_factors: Array2<f32>,
    pub(crate) item_factors: Array2<f32>,
    /// Item factors scaled to unit length (zero rows stay zero).
    item_unit: Array2<f32>,
    pub(crate) popularity: Popularity,
    pub(crate) metadata: ModelMetadata,
}

impl PartialEq for AlsModel {
    fn eq(&self, other: &Self) -> bool {
        self.users == other.users
            && self.items == other.items
            && self.user_factors == other.user_factors
            && self.item_factors == other.item_factors
            && self.popularity == other.popularity
            && self.metadata == other.metadata
    }
}

impl AlsModel {
    /// A model from factors computed elsewhere (another implementation, for
    /// a side-by-side evaluation), on `data`'s ids. Rows are users and items
    /// in `data`'s index order.
    pub fn from_factors(
        data: &Interactions,
        user_factors: Array2<f32>,
        item_factors: Array2<f32>,
        params: AlsValidParams,
    ) -> Result<Self, RecommenderError> {
        let metadata = ModelMetadata {
            users: data.n_users(),
            items: data.n_items(),
            interactions: data.nnz(),
            params,
            trained_at: OffsetDateTime::now_utc().unix_timestamp(),
        };
        Self::from_parts(
            data.users.clone(),
            data.items.clone(),
            user_factors,
            item_factors,
            Popularity::fit(data),
            metadata,
        )
        .map_err(|e| RecommenderError::Artifact(crate::ArtifactError::Malformed(e)))
    }

    pub(crate) fn from_parts(
        users: IdMap,
        items: IdMap,
        user_factors: Array2<f32>,
        item_factors: Array2<f32>,
        popularity: Popularity,
        metadata: ModelMetadata,
    ) -> Result<Self, &'static str> {
        let f = metadata.params.factors;
        if user_factors.dim() != (users.len(), f) {
            return Err("user factors do not match the users and factors");
        }
        if item_factors.dim() != (items.len(), f) {
            return Err("item factors do not match the items and factors");
        }
        if popularity.counts.len() != items.len() {
            return Err("popularity counts do not match the items");
        }
        let user_factors = user_factors.as_standard_layout().into_owned();
        let item_factors = item_factors.as_standard_layout().into_owned();
        let mut item_unit = item_factors.clone();
        for mut row in item_unit.axis_iter_mut(Axis(0)) {
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 {
                row /= norm;
            }
        }
        Ok(Self {
            users,
            items,
            user_factors,
            item_factors,
            item_unit,
            popularity,
            metadata,
        })
    }

    /// What the model was trained with and on.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// A name for this model: training time and a checksum of the factors,
    /// e.g. `20261206T081500Z-3f2a9c1b`.
    pub fn version(&self) -> String {
        let mut h = crc32fast::Hasher::new();
        for v in self.user_factors.iter().chain(self.item_factors.iter()) {
            h.update(&v.to_le_bytes());
        }
        let at = OffsetDateTime::from_unix_timestamp(self.metadata.trained_at)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:08x}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            h.finalize()
        )
    }

    /// The user factors (users × factors, in index order).
    pub fn user_factors(&self) -> &Array2<f32> {
        &self.user_factors
    }

    /// The item factors (items × factors, in index order).
    pub fn item_factors(&self) -> &Array2<f32> {
        &self.item_factors
    }

    /// The popularity ranking of the training data (the cold-start fallback).
    pub fn popularity(&self) -> &Popularity {
        &self.popularity
    }

    /// Whether the model has seen this user (`recommend` may still answer
    /// `None` if it learnt nothing about them).
    pub fn knows_user(&self, user: &str) -> bool {
        self.users.get(user).is_some()
    }

    /// The `k` items with the highest score for `user`, leaving out
    /// `exclude` (e.g. already bought). `None` for a user the model has not
    /// seen or learnt nothing about: fall back to [`AlsModel::popularity`].
    pub fn recommend<S, H>(
        &self,
        user: &str,
        k: usize,
        exclude: &HashSet<S, H>,
    ) -> Option<Vec<Recommendation>>
    where
        S: Borrow<str> + Hash + Eq,
        H: BuildHasher,
    {
        let u = self.users.get(user)?;
        if self.user_factors.row(u as usize).iter().all(|&v| v == 0.0) {
            return None;
        }
        let mut excluded: Vec<u32> = exclude
            .iter()
            .filter_map(|i| self.items.get(i.borrow()))
            .collect();
        excluded.sort_unstable();
        Some(self.named(self.top_k_for(u, k, &excluded)))
    }

    /// The `k` items most like `item` by cosine of their factors. `None` for
    /// an item the model has not seen or learnt nothing about.
    pub fn similar_items(&self, item: &str, k: usize) -> Option<Vec<Recommendation>> {
        let i = self.items.get(item)?;
        let query = self.item_unit.row(i as usize);
        if query.iter().all(|&v| v == 0.0) {
            return None;
        }
        Some(self.named(top_k(&self.item_unit, query, k, &[i])))
    }

    fn top_k_for(&self, user: u32, k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        top_k(
            &self.item_factors,
            self.user_factors.row(user as usize),
            k,
            exclude,
        )
    }

    fn named(&self, scored: Vec<(u32, f32)>) -> Vec<Recommendation> {
        scored
            .into_iter()
            .map(|(i, score)| Recommendation {
                item: self.items.id(i).to_owned(),
                score,
            })
            .collect()
    }
}

impl Ranker for AlsModel {
    fn rank(&self, user: u32, k: usize, exclude: &[u32]) -> Vec<u32> {
        self.top_k_for(user, k, exclude)
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }
}

/// The `k` rows of `m` with the largest dot product with `q`, best first
/// (ties by lower index), leaving out the sorted indices in `exclude`.
///
/// One pass keeping a sorted buffer of the best `k` so far: a row whose
/// score does not beat the buffer's last costs one comparison, so the
/// selection is O(n) with no allocation of n scores and no sort beyond k.
pub(crate) fn top_k(
    m: &Array2<f32>,
    q: ArrayView1<'_, f32>,
    k: usize,
    exclude: &[u32],
) -> Vec<(u32, f32)> {
    let (Some(m), Some(q)) = (m.as_slice(), q.as_slice()) else {
        unreachable!("factor matrices are kept in standard layout");
    };
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    if k == 0 || q.is_empty() {
        return best;
    }
    let mut threshold = f32::NEG_INFINITY;
    for (i, row) in m.chunks_exact(q.len()).enumerate() {
        let score = dot(row, q);
        let full = best.len() == k;
        if full && score.total_cmp(&threshold) != std::cmp::Ordering::Greater {
            continue;
        }
        let i = i as u32;
        if exclude.binary_search(&i).is_ok() {
            continue;
        }
        // Rows come in index order, so an equal score goes after the ones kept.
        let at = best.partition_point(|b| b.1.total_cmp(&score) != std::cmp::Ordering::Less);
        best.insert(at, (i, score));
        if best.len() > k {
            best.pop();
        }
        if best.len() == k {
            threshold = best[k - 1].1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use ndarray::Array1;

    use super::*;

    #[test]
    fn top_k_matches_a_full_sort() {
        let n = 500;
        // Few distinct scores, so ties are plentiful.
        let m = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let q = Array1::from(vec![1.0f32, -0.5, 0.25]);
        let exclude: Vec<u32> = (0..n as u32).filter(|i| i % 9 == 0).collect();
        for k in [0, 1, 5, 37, n] {
            let mut all: Vec<(u32, f32)> = (0..n as u32)
                .filter(|i| exclude.binary_search(i).is_err())
                .map(|i| (i, m.row(i as usize).dot(&q)))
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            assert_eq!(top_k(&m, q.view(), k, &exclude), all, "k = {k}");
        }
    }
}
