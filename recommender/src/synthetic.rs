//! A seeded synthetic data set with planted structure, for tests and the
//! benchmark: users and items belong to latent groups, users mostly
//! interact with their group's items, item popularity is Zipf-skewed (within
//! each group and overall), and a share of the interactions is noise drawn
//! from the overall popularity. Same config and seed, same data.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use time::{Duration, OffsetDateTime};

use crate::{Interaction, Kind, RecommenderError, Weights};

/// The shape of a synthetic data set.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    pub users: usize,
    pub items: usize,
    /// Events to draw (users and items that draw none do not appear).
    pub interactions: usize,
    /// Latent groups; each user and item belongs to one.
    pub groups: usize,
    /// Zipf exponent of item popularity (within a group and overall).
    pub zipf_exponent: f64,
    /// Share of events drawn from the overall popularity, ignoring groups.
    pub noise: f64,
    pub seed: u64,
    /// Events are spread uniformly over `[start, start + span)`.
    pub start: OffsetDateTime,
    pub span: Duration,
}

impl SyntheticConfig {
    /// A config with the given size and sensible defaults for the rest:
    /// one group per 50 items (at least 2), Zipf exponent 1, 20% noise,
    /// events over 90 days from 2026-01-01.
    pub fn new(users: usize, items: usize, interactions: usize, seed: u64) -> Self {
        Self {
            users,
            items,
            interactions,
            groups: (items / 50).max(2),
            zipf_exponent: 1.0,
            noise: 0.2,
            seed,
            start: OffsetDateTime::from_unix_timestamp(1_767_225_600)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            span: Duration::days(90),
        }
    }
}

/// The events and the planted truth they were drawn from.
#[derive(Debug, Clone)]
pub struct SyntheticData {
    pub events: Vec<Interaction>,
    /// `user_group[u]` is the group of user `u{u}`.
    pub user_group: Vec<usize>,
    /// `item_group[i]` is the group of item `p{i}`.
    pub item_group: Vec<usize>,
}

/// The id of synthetic user `u`.
pub fn user_id(u: usize) -> String {
    format!("u{u}")
}

/// The id of synthetic item `i`.
pub fn item_id(i: usize) -> String {
    format!("p{i}")
}

/// Draws the data set. Panics only on an empty config (no users, items or
/// groups), which is a caller's bug.
pub fn generate(config: &SyntheticConfig) -> SyntheticData {
    assert!(
        config.users > 0 && config.items > 0 && config.groups > 0,
        "a synthetic data set needs users, items and groups"
    );
    let groups = config.groups.min(config.items);
    let mut rng = StdRng::seed_from_u64(config.seed);

    // Items: a random permutation dealt round-robin into groups, so each
    // group's member order (its popularity order) is random too.
    let mut perm: Vec<usize> = (0..config.items).collect();
    perm.shuffle(&mut rng);
    let mut item_group = vec![0usize; config.items];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups];
    for (j, &item) in perm.iter().enumerate() {
        item_group[item] = j % groups;
        members[j % groups].push(item);
    }
    let mut overall: Vec<usize> = (0..config.items).collect();
    overall.shuffle(&mut rng);
    let zipf = |n: usize| Zipf::new(n as f64, config.zipf_exponent.max(0.0));
    let Ok(overall_zipf) = zipf(config.items) else {
        unreachable!("n ≥ 1 and a non-negative exponent are valid")
    };
    let group_zipf: Vec<Zipf<f64>> = members
        .iter()
        .map(|m| zipf(m.len()).unwrap_or(overall_zipf))
        .collect();
    let user_group: Vec<usize> = (0..config.users)
        .map(|_| rng.random_range(0..groups))
        .collect();

    let span = config.span.whole_seconds().max(1);
    let pick = |z: &Zipf<f64>, rng: &mut StdRng, n: usize| (z.sample(rng) as usize).clamp(1, n) - 1;
    let events = (0..config.interactions)
        .map(|_| {
            let u = rng.random_range(0..config.users);
            let item = if rng.random_bool(config.noise.clamp(0.0, 1.0)) {
                overall[pick(&overall_zipf, &mut rng, config.items)]
            } else {
                let g = user_group[u];
                members[g][pick(&group_zipf[g], &mut rng, members[g].len())]
            };
            let kind = match rng.random_range(0..100) {
                0..70 => Kind::View,
                70..80 => Kind::WishlistAdd,
                80..90 => Kind::CartAdd,
                90..97 => Kind::Purchase,
                _ => Kind::Review(rng.random_range(1..=5)),
            };
            Interaction {
                user: user_id(u),
                item: item_id(item),
                kind,
                at: config.start + Duration::seconds(rng.random_range(0..span)),
            }
        })
        .collect();
    SyntheticData {
        events,
        user_group,
        item_group,
    }
}

impl SyntheticData {
    /// Writes the events as a `user,item,weight` CSV, one row per event.
    pub fn write_csv(
        &self,
        weights: &Weights,
        writer: impl std::io::Write,
    ) -> Result<(), RecommenderError> {
        crate::interactions::write_events_csv(&self.events, weights, writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data() {
        let config = SyntheticConfig::new(100, 60, 1_000, 7);
        let (a, b) = (generate(&config), generate(&config));
        assert_eq!(a.events, b.events);
        assert_eq!(a.user_group, b.user_group);
        let other = generate(&SyntheticConfig { seed: 8, ..config });
        assert_ne!(a.events, other.events);
    }

    #[test]
    fn most_events_stay_in_the_users_group() {
        let config = SyntheticConfig::new(300, 200, 6_000, 1);
        let data = generate(&config);
        let parse = |s: &str| s[1..].parse::<usize>().expect("synthetic id");
        let in_group = data
            .events
            .iter()
            .filter(|e| data.user_group[parse(&e.user)] == data.item_group[parse(&e.item)])
            .count();
        let share = in_group as f64 / data.events.len() as f64;
        assert!(share > 0.8, "in-group share {share}");
    }
}
