//! The popularity baseline and cold-start fallback: items ranked by how many
//! users interacted with them.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash};

use crate::interactions::IdMap;
use crate::{Interactions, Recommendation};

/// Items by number of distinct users who interacted with them.
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    pub(crate) items: IdMap,
    pub(crate) counts: Vec<u32>,
    /// Item indices, most popular first (ties by index).
    order: Vec<u32>,
}

impl Popularity {
    /// Counts the users of each item.
    pub fn fit(data: &Interactions) -> Self {
        let counts = (0..data.n_items())
            .map(|i| data.by_item.row_nnz(i) as u32)
            .collect();
        Self::from_counts(data.items.clone(), counts)
    }

    pub(crate) fn from_counts(items: IdMap, counts: Vec<u32>) -> Self {
        let mut order: Vec<u32> = (0..counts.len() as u32).collect();
        order.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
        Self {
            items,
            counts,
            order,
        }
    }

    /// How many users interacted with `item` (0 for an unknown item).
    pub fn count(&self, item: &str) -> u32 {
        self.items.get(item).map_or(0, |i| self.counts[i as usize])
    }

    /// The `k` most popular items not in `exclude`; the score is the count.
    pub fn recommend<S, H>(&self, k: usize, exclude: &HashSet<S, H>) -> Vec<Recommendation>
    where
        S: Borrow<str> + Hash + Eq,
        H: BuildHasher,
    {
        self.order
            .iter()
            .filter(|&&i| !exclude.contains(self.items.id(i)))
            .take(k)
            .map(|&i| Recommendation {
                item: self.items.id(i).to_owned(),
                score: self.counts[i as usize] as f32,
            })
            .collect()
    }
}

impl crate::Ranker for Popularity {
    fn rank(&self, _user: u32, k: usize, exclude: &[u32]) -> Vec<u32> {
        self.order
            .iter()
            .copied()
            .filter(|i| exclude.binary_search(i).is_err())
            .take(k)
            .collect()
    }
}
