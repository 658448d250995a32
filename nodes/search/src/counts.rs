//! Totals and facet counts kept per query for one reader generation.

use std::collections::HashMap;

use bazaar_subjects::catalog::Facets;

/// Totals and facets depend on the query and filters only, not on the
/// sort or the page: kept per (query, filters) for one reader generation,
/// so paging and re-sorting the same results skip the counting. A commit
/// starts a new generation, and an empty cache.
#[derive(Default)]
pub(crate) struct CountsCache {
    generation: u64,
    entries: HashMap<String, Totals>,
}

/// A total and its facets.
pub(crate) type Totals = (u64, Facets);

/// Past this many different filter sets in one generation the cache
/// starts over (a commit every ~500 ms keeps it far smaller).
const COUNTS_CACHED: usize = 4_096;

impl CountsCache {
    pub(crate) fn get(&mut self, generation: u64, key: &str) -> Option<Totals> {
        if self.generation != generation {
            return None;
        }
        self.entries.get(key).cloned()
    }

    pub(crate) fn put(&mut self, generation: u64, key: String, counts: Totals) {
        if self.generation != generation || self.entries.len() >= COUNTS_CACHED {
            // Only a newer generation replaces the cache: a slow search on
            // an older searcher must not bring stale counts back.
            if generation < self.generation {
                return;
            }
            self.entries.clear();
            self.generation = generation;
        }
        self.entries.insert(key, counts);
    }
}
