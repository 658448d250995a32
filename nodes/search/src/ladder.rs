//! Category listings by price or newest first, answered without walking
//! their matches.
//!
//! A category page, newest first or with a price range sorted by price, is
//! the storefront's everyday listing. At 1M products its matches are
//! 10,000s to 100,000s of documents, and walking them for the exact total,
//! the facet counts and the page grew with the catalog: about 2 ms of CPU
//! at 1M against 0.15 ms at 10k. A [`SegmentLadder`] keeps, per segment,
//! the documents of each category (and of each category's subcategory)
//! sorted by price, and for every facet value the places in that order of
//! the documents holding it; and the same documents newest first. A price
//! range is then two binary searches; the total is the distance between
//! them, a facet value's count two binary searches in its places, and the
//! page the range's first (or last) documents, or the first of the newest
//! within the range. Counting grows with the facet values, not with the
//! matches; so does the page, but for a newest-first page of a narrow
//! price range, which reads the newest documents until enough are in it.
//!
//! Deleted documents are subtracted: per set of deletions, the warmer lists
//! each scope's deleted places once. A segment without a ladder (a price
//! missing somewhere, or a creation time for newest first), or with more
//! than [`MAX_DELETED`] deleted documents in the range, is walked as before
//! by the collector the ladder stands in for, so the answer is the same
//! either way, ties included.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;
use std::sync::{Arc, PoisonError, RwLock};

use rustc_hash::FxHashMap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnIndex, ColumnValues, MonotonicallyMappableToU64, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::Weight;
use tantivy::{
    DocId, Opstamp, Order, Searcher, SearcherGeneration, SegmentOrdinal, SegmentReader, Warmer,
};

use crate::blocks::Blocks;
use crate::facets::{Counts, FIELDS, FacetsCollector};
use crate::schema::names;
use crate::top::{TopByFields, addressed, better, part};

/// The place of the category and the subcategory in [`FIELDS`].
const CATEGORY: usize = 0;
const SUBCATEGORY: usize = 1;
/// The facets counted in a category's scope, and in a subcategory's (the
/// filters fix the others).
const IN_CATEGORY: &[usize] = &[1, 2, 3, 4];
const IN_SUBCATEGORY: &[usize] = &[2, 3, 4];

/// Deleted documents in a range beyond which the segment is walked: each
/// costs a read of its facet values.
const MAX_DELETED: usize = 4_096;

/// A price range holding less than this share of its scope (1/8) is
/// narrow: a newest-first page takes the best of its documents instead of
/// walking the scope newest first.
const NARROW: usize = 8;

/// A scope: a category's term ordinal, and its subcategory's for a
/// subcategory's scope.
type ScopeKey = (u64, Option<u64>);

/// A segment and one set of its deletions (tantivy's delete opstamp).
type DeletionsKey = (SegmentId, Option<Opstamp>);

/// Per term ordinal of one facet field: the places of the documents
/// holding it.
type ValuePlaces = Vec<(u64, Places)>;

/// Ascending places, with every [`STRIDE`]th of them apart: a count's
/// binary search runs in the small sample, then in one stretch of
/// [`STRIDE`], instead of jumping across the whole list. With a
/// category's brands, colours and sizes searched twice each per segment,
/// those jumps' cache misses were most of a listing's time in the ladder.
struct Places {
    all: Box<[u32]>,
    sample: Box<[u32]>,
}

const STRIDE: usize = 64;

impl Places {
    fn new(all: Vec<u32>) -> Places {
        let sample = all.iter().step_by(STRIDE).copied().collect();
        Places {
            all: all.into_boxed_slice(),
            sample,
        }
    }

    /// How many places are below `place`.
    fn below(&self, place: usize) -> usize {
        // `sample[i]` is `all[i * STRIDE]`: the first place at or above
        // `place` is after the last sampled one below it, and no later
        // than the next sampled one.
        let sampled = self.sample.partition_point(|&p| (p as usize) < place);
        let from = sampled.saturating_sub(1) * STRIDE;
        let to = (sampled * STRIDE).min(self.all.len());
        from + self.all[from..to].partition_point(|&p| (p as usize) < place)
    }
}

/// The ladders of the segments a reader has seen, built by its warmer.
#[derive(Default)]
pub(crate) struct Ladders {
    by_segment: RwLock<HashMap<SegmentId, Arc<SegmentLadder>>>,
    deleted: RwLock<HashMap<DeletionsKey, Arc<Deleted>>>,
}

/// One segment's scopes.
struct SegmentLadder {
    scopes: FxHashMap<ScopeKey, Scope>,
    /// Kept open, so a listing does not open six columns per segment.
    columns: Columns,
}

/// The documents of one scope, deleted or not, by price then document.
struct Scope {
    prices: Box<[i64]>,
    docs: Box<[DocId]>,
    /// The same documents newest first, then by document; `None` when a
    /// document of the segment has no creation time.
    newest: Option<Box<[DocId]>>,
    /// Per facet field counted (its place in [`FIELDS`]).
    values: Vec<(usize, ValuePlaces)>,
}

/// One segment's deleted documents, as places in each scope, ascending.
#[derive(Default)]
struct Deleted {
    places: FxHashMap<ScopeKey, Vec<u32>>,
}

/// The columns a ladder reads, in one segment.
struct Columns {
    price: Column<i64>,
    /// When every document has one.
    created: Option<Column<i64>>,
    /// In the order of [`FIELDS`]; the category is always there.
    facets: [Option<StrColumn>; 5],
}

impl Columns {
    /// `None` when a document has no price or several (the page could not
    /// be read off the ladder), or the segment has no category.
    fn open(reader: &SegmentReader) -> tantivy::Result<Option<Columns>> {
        let fast = reader.fast_fields();
        let Some(price) = fast.column_opt::<i64>(names::PRICE)? else {
            return Ok(None);
        };
        if !matches!(price.index, ColumnIndex::Full) {
            return Ok(None);
        }
        let mut facets: [Option<StrColumn>; 5] = Default::default();
        for (column, name) in facets.iter_mut().zip(FIELDS) {
            *column = fast.str(name)?;
        }
        if facets[CATEGORY].is_none() {
            return Ok(None);
        }
        let created = fast
            .column_opt::<i64>(names::CREATED_AT)?
            .filter(|c| matches!(c.index, ColumnIndex::Full));
        Ok(Some(Columns {
            price,
            created,
            facets,
        }))
    }

    /// The scopes a document belongs to, with its price.
    fn scopes_of(&self, doc: DocId) -> Option<(i64, [Option<ScopeKey>; 2])> {
        let category = self.facets[CATEGORY].as_ref()?.term_ords(doc).next()?;
        let subcategory = self.facets[SUBCATEGORY]
            .as_ref()
            .and_then(|c| c.term_ords(doc).next());
        Some((
            self.price.values.get_val(doc),
            [
                Some((category, None)),
                subcategory.map(|s| (category, Some(s))),
            ],
        ))
    }
}

/// The distinct values of `doc` in `column`, into `out`.
fn distinct_ords(column: &StrColumn, doc: DocId, out: &mut Vec<u64>) {
    out.clear();
    out.extend(column.term_ords(doc));
    out.sort_unstable();
    out.dedup();
}

impl SegmentLadder {
    fn build(reader: &SegmentReader) -> tantivy::Result<Option<SegmentLadder>> {
        let Some(columns) = Columns::open(reader)? else {
            return Ok(None);
        };
        let mut members: FxHashMap<ScopeKey, Vec<(i64, DocId)>> = FxHashMap::default();
        for doc in 0..reader.max_doc() {
            if let Some((price, scopes)) = columns.scopes_of(doc) {
                for key in scopes.into_iter().flatten() {
                    members.entry(key).or_default().push((price, doc));
                }
            }
        }
        let mut ords = Vec::new();
        let mut scopes = FxHashMap::default();
        for (key, mut entries) in members {
            entries.sort_unstable();
            let counted = if key.1.is_some() {
                IN_SUBCATEGORY
            } else {
                IN_CATEGORY
            };
            let mut values = Vec::with_capacity(counted.len());
            for &field in counted {
                let Some(column) = &columns.facets[field] else {
                    continue;
                };
                let mut places: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
                for (place, &(_, doc)) in entries.iter().enumerate() {
                    distinct_ords(column, doc, &mut ords);
                    for &ord in &ords {
                        places.entry(ord).or_default().push(place as u32);
                    }
                }
                let places = places
                    .into_iter()
                    .map(|(ord, at)| (ord, Places::new(at)))
                    .collect();
                values.push((field, places));
            }
            let (prices, docs): (Vec<i64>, Vec<DocId>) = entries.into_iter().unzip();
            let newest = columns.created.as_ref().map(|created| {
                let mut newest: Vec<(Reverse<i64>, DocId)> = docs
                    .iter()
                    .map(|&doc| (Reverse(created.values.get_val(doc)), doc))
                    .collect();
                newest.sort_unstable();
                newest.into_iter().map(|(_, doc)| doc).collect()
            });
            scopes.insert(
                key,
                Scope {
                    prices: prices.into(),
                    docs: docs.into(),
                    newest,
                    values,
                },
            );
        }
        Ok(Some(SegmentLadder { scopes, columns }))
    }
}

impl Scope {
    /// Where `doc` (at `price`) stands in the scope.
    fn place(&self, price: i64, doc: DocId) -> Option<u32> {
        let (from, to) = self.range(&(price..=price));
        let at = self.docs.get(from..to)?.binary_search(&doc).ok()?;
        u32::try_from(from + at).ok()
    }

    /// The places of the documents priced within `prices`.
    fn range(&self, prices: &RangeInclusive<i64>) -> (usize, usize) {
        let from = self.prices.partition_point(|&p| p < *prices.start());
        let to = self.prices.partition_point(|&p| p <= *prices.end());
        (from, to.max(from))
    }
}

impl Deleted {
    fn build(reader: &SegmentReader, ladder: &SegmentLadder) -> tantivy::Result<Deleted> {
        let mut deleted = Deleted::default();
        let Some(alive) = reader.alive_bitset() else {
            return Ok(deleted);
        };
        let columns = &ladder.columns;
        for doc in (0..reader.max_doc()).filter(|&d| alive.is_deleted(d)) {
            let Some((price, scopes)) = columns.scopes_of(doc) else {
                continue;
            };
            for key in scopes.into_iter().flatten() {
                if let Some(place) = ladder.scopes.get(&key).and_then(|s| s.place(price, doc)) {
                    deleted.places.entry(key).or_default().push(place);
                }
            }
        }
        for places in deleted.places.values_mut() {
            places.sort_unstable();
        }
        Ok(deleted)
    }
}

impl Ladders {
    fn ladder(&self, segment: SegmentId) -> Option<Arc<SegmentLadder>> {
        let by_segment = self
            .by_segment
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        by_segment.get(&segment).cloned()
    }

    fn deleted(&self, reader: &SegmentReader) -> Option<Arc<Deleted>> {
        let deleted = self.deleted.read().unwrap_or_else(PoisonError::into_inner);
        deleted
            .get(&(reader.segment_id(), reader.delete_opstamp()))
            .cloned()
    }

    /// `listing`'s page and counts in one segment, or `None` when the
    /// segment has to be walked.
    fn answer(
        &self,
        listing: &CategoryListing,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Option<SegmentAnswer>> {
        let Some(ladder) = self.ladder(reader.segment_id()) else {
            return Ok(None);
        };
        let deleted = if reader.has_deletes() {
            // Not listed yet (the warmer has not seen these deletions).
            let Some(deleted) = self.deleted(reader) else {
                return Ok(None);
            };
            Some(deleted)
        } else {
            None
        };
        let columns = &ladder.columns;
        let nothing = || Ok(Some((Vec::new(), Counts::default())));
        let ord = |field: usize, value: &str| -> tantivy::Result<Option<u64>> {
            match &columns.facets[field] {
                Some(column) => Ok(column.dictionary().term_ord(value.as_bytes())?),
                None => Ok(None),
            }
        };
        let Some(category) = ord(CATEGORY, &listing.category)? else {
            return nothing();
        };
        let subcategory = match &listing.subcategory {
            None => None,
            Some(value) => match ord(SUBCATEGORY, value)? {
                Some(s) => Some(s),
                None => return nothing(),
            },
        };
        let key = (category, subcategory);
        let Some(scope) = ladder.scopes.get(&key) else {
            return nothing();
        };
        if listing.sort == ListingSort::Newest && scope.newest.is_none() {
            return Ok(None);
        }
        let (from, to) = scope.range(&listing.prices);
        let gone: &[u32] = match deleted.as_ref().and_then(|d| d.places.get(&key)) {
            Some(places) => {
                let lo = places.partition_point(|&p| (p as usize) < from);
                let hi = places.partition_point(|&p| (p as usize) < to);
                &places[lo..hi]
            }
            None => &[],
        };
        if gone.len() > MAX_DELETED {
            return Ok(None);
        }
        let counts = scope.counts((from, to), gone, columns)?;
        let page = addressed(segment, scope.page((from, to), listing, reader, columns));
        Ok(Some((page, counts)))
    }
}

/// The collector a ladder stands in for.
type Walk = Blocks<(TopByFields, FacetsCollector)>;

/// One segment's part of the answer, as the walking collector gives it:
/// the page with its keys, and the counts.
type SegmentAnswer = <<Walk as Collector>::Child as SegmentCollector>::Fruit;

impl Scope {
    /// The total and the facet counts of the places `from..to`, less the
    /// deleted ones `gone`.
    fn counts(
        &self,
        (from, to): (usize, usize),
        gone: &[u32],
        columns: &Columns,
    ) -> tantivy::Result<Counts> {
        let mut counts = Counts {
            total: (to - from - gone.len()) as u64,
            ..Counts::default()
        };
        let mut ords = Vec::new();
        let mut value = String::new();
        for (field, values) in &self.values {
            let Some(column) = &columns.facets[*field] else {
                continue;
            };
            let mut by_ord: FxHashMap<u64, u64> = FxHashMap::default();
            for (ord, places) in values {
                let (lo, hi) = (places.below(from), places.below(to));
                if hi > lo {
                    by_ord.insert(*ord, (hi - lo) as u64);
                }
            }
            for &place in gone {
                distinct_ords(column, self.docs[place as usize], &mut ords);
                for ord in &ords {
                    if let Some(n) = by_ord.get_mut(ord) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            for (ord, n) in by_ord {
                if n > 0 && column.ord_to_str(ord, &mut value)? {
                    counts.values[*field].insert(value.clone(), n);
                }
            }
        }
        Ok(counts)
    }

    /// The best `listing.keep` live documents of the places `from..to`
    /// with their keys, best first, as [`TopByFields`] orders them: by
    /// price (or creation time), then the lower document.
    fn page(
        &self,
        (from, to): (usize, usize),
        listing: &CategoryListing,
        reader: &SegmentReader,
        columns: &Columns,
    ) -> Vec<(u128, DocId)> {
        let alive = reader.alive_bitset();
        let live = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc));
        let key = |value: i64, order| u128::from(part(Some(value.to_u64()), order)) << 64;
        let keep = listing.keep;
        let mut page = Vec::with_capacity(keep);
        match listing.sort {
            // Price, then document, ascending: the order of the ladder.
            ListingSort::Price(Order::Asc) => {
                for at in from..to {
                    if page.len() == keep {
                        break;
                    }
                    let doc = self.docs[at];
                    if live(doc) {
                        page.push((key(self.prices[at], Order::Asc), doc));
                    }
                }
            }
            // Highest price first, but the lower document first among
            // equal prices: from the top, through the whole run of the
            // last price taken, then sorted.
            ListingSort::Price(Order::Desc) => {
                let mut last = None;
                for at in (from..to).rev() {
                    let price = self.prices[at];
                    if page.len() >= keep && last != Some(price) {
                        break;
                    }
                    let doc = self.docs[at];
                    if live(doc) {
                        page.push((key(price, Order::Desc), doc));
                        last = Some(price);
                    }
                }
                page.sort_unstable_by(better);
                page.truncate(keep);
            }
            // Newest first, then document (`answer` made sure both orders
            // are there). A wide price range: the order of `newest`, with
            // the range checked on the way. A narrow one, where that walk
            // would pass many documents outside it for each inside: the
            // best of the range's own documents.
            ListingSort::Newest => {
                let (Some(newest), Some(created)) = (&self.newest, &columns.created) else {
                    return page;
                };
                let newest_key = |doc: DocId| key(created.values.get_val(doc), Order::Desc);
                if (to - from) * NARROW < newest.len() {
                    page.extend(
                        self.docs[from..to]
                            .iter()
                            .filter(|&&doc| live(doc))
                            .map(|&doc| (newest_key(doc), doc)),
                    );
                    page.sort_unstable_by(better);
                    page.truncate(keep);
                } else {
                    for &doc in newest.iter() {
                        if page.len() == keep {
                            break;
                        }
                        if live(doc) && listing.prices.contains(&columns.price.values.get_val(doc))
                        {
                            page.push((newest_key(doc), doc));
                        }
                    }
                }
            }
        }
        page
    }
}

impl Warmer for Ladders {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for reader in searcher.segment_readers() {
            let segment = reader.segment_id();
            let ladder = match self.ladder(segment) {
                Some(ladder) => ladder,
                None => {
                    let started = std::time::Instant::now();
                    let Some(ladder) = SegmentLadder::build(reader)? else {
                        continue;
                    };
                    tracing::debug!(
                        segment = %segment.short_uuid_string(),
                        docs = reader.max_doc(),
                        scopes = ladder.scopes.len(),
                        ms = started.elapsed().as_secs_f64() * 1e3,
                        "price ladder built"
                    );
                    let ladder = Arc::new(ladder);
                    self.by_segment
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(segment, ladder.clone());
                    ladder
                }
            };
            if reader.has_deletes() && self.deleted(reader).is_none() {
                let deleted = Arc::new(Deleted::build(reader, &ladder)?);
                self.deleted
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((segment, reader.delete_opstamp()), deleted);
            }
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: HashSet<DeletionsKey> = live_generations
            .iter()
            .flat_map(|g| g.segments().iter().map(|(s, d)| (*s, *d)))
            .collect();
        let segments: HashSet<SegmentId> = live.iter().map(|(s, _)| *s).collect();
        self.by_segment
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|segment, _| segments.contains(segment));
        self.deleted
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| live.contains(key));
    }
}

/// A listing a ladder can answer: one category (and maybe one of its
/// subcategories), maybe a price range, sorted by price or newest first,
/// nothing else.
#[derive(Debug, Clone)]
pub(crate) struct CategoryListing {
    pub category: String,
    pub subcategory: Option<String>,
    pub prices: RangeInclusive<i64>,
    pub sort: ListingSort,
    /// The page's end: offset and limit.
    pub keep: usize,
}

/// The orders a ladder keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListingSort {
    Price(Order),
    Newest,
}

/// The walking collector of a listing's page and counts, answering from
/// the ladder in every segment that has one.
pub(crate) struct Laddered {
    pub walk: Walk,
    pub ladders: Arc<Ladders>,
    pub listing: CategoryListing,
}

impl Collector for Laddered {
    type Fruit = <Walk as Collector>::Fruit;
    type Child = <Walk as Collector>::Child;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        self.walk.for_segment(segment, reader)
    }

    fn requires_scoring(&self) -> bool {
        self.walk.requires_scoring()
    }

    fn merge_fruits(&self, fruits: Vec<SegmentAnswer>) -> tantivy::Result<Self::Fruit> {
        self.walk.merge_fruits(fruits)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentAnswer> {
        match self.ladders.answer(&self.listing, segment, reader)? {
            Some(answer) => Ok(answer),
            None => self.walk.collect_segment(weight, segment, reader),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Places, STRIDE};

    #[test]
    fn places_below_agree_with_a_plain_binary_search() {
        for len in [0, 1, 2, STRIDE - 1, STRIDE, STRIDE + 1, 5 * STRIDE + 7] {
            // Every third place, so that some places are absent.
            let all: Vec<u32> = (0..len as u32).map(|i| i * 3 + 1).collect();
            let places = Places::new(all.clone());
            for place in 0..=(len * 3 + 3) {
                let expected = all.partition_point(|&p| (p as usize) < place);
                assert_eq!(places.below(place), expected, "{len} places, below {place}");
            }
        }
    }
}
