//! Offline evaluation: hold out some interactions per user, train on the
//! rest, and measure how well the held-out items are ranked — for the model
//! and for the popularity baseline, on the same hold-out.

use std::collections::{HashMap, HashSet};
use std::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::Serialize;
use time::OffsetDateTime;

use crate::als::IterationStats;
use crate::csr::Csr;
use crate::{
    AlsModel, Interaction, Interactions, InteractionsBuilder, Popularity, Ranker, Weights,
};
use crate::{AlsValidParams, RecommenderError};

/// Training data and, per user, the held-out items (dense indices of
/// `train`'s id space, which covers every user and item of the full data).
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Interactions,
    /// `(user, held-out items sorted)`, for users who had something held out.
    pub test: Vec<(u32, Vec<u32>)>,
}

impl Split {
    /// Number of held-out (user, item) pairs.
    pub fn held_out(&self) -> usize {
        self.test.iter().map(|(_, items)| items.len()).sum()
    }
}

/// Leave-last-n-out by time: for each user with more than `per_user`
/// distinct items, the `per_user` items they touched most recently are held
/// out (every event on those pairs, so nothing of them leaks into training).
pub fn split_by_time(events: &[Interaction], weights: &Weights, per_user: usize) -> Split {
    let mut builder = InteractionsBuilder::new();
    let mut latest: HashMap<(u32, u32), OffsetDateTime> = HashMap::new();
    for e in events {
        let u = builder.register_user(&e.user);
        let i = builder.register_item(&e.item);
        if weights.weight(e.kind) > 0.0 {
            let at = latest.entry((u, i)).or_insert(e.at);
            *at = (*at).max(e.at);
        }
    }
    let mut per: HashMap<u32, Vec<(OffsetDateTime, u32)>> = HashMap::new();
    for (&(u, i), &at) in &latest {
        per.entry(u).or_default().push((at, i));
    }
    let mut held: HashSet<(u32, u32)> = HashSet::new();
    let mut test: Vec<(u32, Vec<u32>)> = Vec::new();
    for (u, mut items) in per {
        if items.len() <= per_user || per_user == 0 {
            continue;
        }
        items.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut out: Vec<u32> = items[..per_user].iter().map(|&(_, i)| i).collect();
        out.sort_unstable();
        held.extend(out.iter().map(|&i| (u, i)));
        test.push((u, out));
    }
    test.sort_unstable_by_key(|(u, _)| *u);
    for e in events {
        let (Some(u), Some(i)) = (builder.user(&e.user), builder.item(&e.item)) else {
            continue;
        };
        if !held.contains(&(u, i)) {
            builder.add_event(e, weights);
        }
    }
    Split {
        train: builder.build(),
        test,
    }
}

/// A seeded random hold-out, for data without time (a CSV): for each user
/// with more than `per_user` items, `per_user` of them chosen at random.
pub fn split_random(data: &Interactions, per_user: usize, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut triplets = Vec::with_capacity(data.nnz());
    let mut test = Vec::new();
    for u in 0..data.n_users() as u32 {
        let (cols, vals) = data.user_row(u);
        let mut out = Vec::new();
        if cols.len() > per_user && per_user > 0 {
            out = sample(&mut rng, cols.len(), per_user).into_vec();
            out.sort_unstable();
        }
        let mut next = out.iter().peekable();
        for (pos, (&i, &w)) in cols.iter().zip(vals).enumerate() {
            if next.peek() == Some(&&pos) {
                next.next();
            } else {
                triplets.push((u, i, w));
            }
        }
        if !out.is_empty() {
            test.push((u, out.iter().map(|&pos| cols[pos]).collect()));
        }
    }
    let train = data.with_matrix(Csr::from_triplets(data.n_users(), data.n_items(), triplets));
    Split { train, test }
}

/// Ranking quality at k, averaged over the evaluated users.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    /// Share of the top k that was held out.
    pub precision: f64,
    /// Share of the held-out items found in the top k.
    pub recall: f64,
    /// Discounted cumulative gain of the top k over the best possible.
    pub ndcg: f64,
    /// Share of the catalogue that appears in anyone's top k.
    pub coverage: f64,
}

/// Ranks the held-out items of every test user with `ranker` (leaving out
/// the user's training items) and scores the top `k`.
pub fn evaluate_ranker<R: Ranker + Sync>(ranker: &R, split: &Split, k: usize) -> Metrics {
    let per_user: Vec<(f64, f64, f64, Vec<u32>)> = split
        .test
        .par_iter()
        .map(|(u, relevant)| {
            let (seen, _) = split.train.user_row(*u);
            let top = ranker.rank(*u, k, seen);
            let mut hits = 0usize;
            let mut dcg = 0.0;
            for (pos, i) in top.iter().enumerate() {
                if relevant.binary_search(i).is_ok() {
                    hits += 1;
                    dcg += 1.0 / (pos as f64 + 2.0).log2();
                }
            }
            let ideal: f64 = (0..k.min(relevant.len()))
                .map(|pos| 1.0 / (pos as f64 + 2.0).log2())
                .sum();
            let precision = hits as f64 / k.max(1) as f64;
            let recall = hits as f64 / relevant.len().max(1) as f64;
            let ndcg = if ideal > 0.0 { dcg / ideal } else { 0.0 };
            (precision, recall, ndcg, top)
        })
        .collect();
    let n = per_user.len().max(1) as f64;
    let mut shown = vec![false; split.train.n_items()];
    let mut sum = (0.0, 0.0, 0.0);
    for (p, r, g, top) in &per_user {
        sum = (sum.0 + p, sum.1 + r, sum.2 + g);
        for &i in top {
            shown[i as usize] = true;
        }
    }
    let covered = shown.iter().filter(|&&s| s).count();
    Metrics {
        precision: sum.0 / n,
        recall: sum.1 / n,
        ndcg: sum.2 / n,
        coverage: covered as f64 / split.train.n_items().max(1) as f64,
    }
}

/// The model against the popularity baseline on one hold-out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub k: usize,
    /// Users with held-out items (the ones evaluated).
    pub users: usize,
    pub held_out: usize,
    /// (user, item) pairs trained on.
    pub train_interactions: usize,
    pub items: usize,
    pub model: Metrics,
    pub baseline: Metrics,
}

impl Report {
    /// Whether the model ranks better than popularity (precision and nDCG).
    pub fn beats_baseline(&self) -> bool {
        self.model.precision > self.baseline.precision && self.model.ndcg > self.baseline.ndcg
    }
}

/// The evaluation step of a retrain: fits `params` on the split's training
/// part (calling `progress` after each iteration) and scores the model
/// against the popularity baseline of the same training data at `k`.
pub fn fit_and_evaluate(
    params: &AlsValidParams,
    split: &Split,
    k: usize,
    progress: impl FnMut(&IterationStats),
) -> Result<(AlsModel, Report), RecommenderError> {
    let model = params.fit_with_progress(&split.train, progress)?;
    let report = evaluate(&model, &Popularity::fit(&split.train), split, k);
    Ok((model, report))
}

/// Evaluates `model` and `baseline` (both trained on `split.train`) at `k`.
pub fn evaluate(model: &AlsModel, baseline: &Popularity, split: &Split, k: usize) -> Report {
    Report {
        k,
        users: split.test.len(),
        held_out: split.held_out(),
        train_interactions: split.train.nnz(),
        items: split.train.n_items(),
        model: evaluate_ranker(model, split, k),
        baseline: evaluate_ranker(baseline, split, k),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "evaluated at k={} on {} users ({} held-out items; trained on {} pairs, {} items)",
            self.k, self.users, self.held_out, self.train_interactions, self.items
        )?;
        writeln!(
            f,
            "{:<14} {:>9} {:>11} {:>8}",
            "metric", "model", "popularity", "lift"
        )?;
        let rows = [
            ("precision", self.model.precision, self.baseline.precision),
            ("recall", self.model.recall, self.baseline.recall),
            ("ndcg", self.model.ndcg, self.baseline.ndcg),
            ("coverage", self.model.coverage, self.baseline.coverage),
        ];
        for (name, m, b) in rows {
            let label = if name == "coverage" {
                name.to_owned()
            } else {
                format!("{name}@{}", self.k)
            };
            let lift = if b > 0.0 {
                format!("{:.2}×", m / b)
            } else {
                "-".into()
            };
            writeln!(f, "{label:<14} {m:>9.4} {b:>11.4} {lift:>8}")?;
        }
        Ok(())
    }
}
