//! Exact match counts and facet counts in one collector: for each match,
//! the term ordinals of its category, subcategory, brand, colours and
//! sizes are counted per segment, then turned into values and summed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use bazaar_subjects::catalog::{FacetCount, Facets};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnIndex, ColumnValues, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, Searcher, SearcherGeneration, SegmentOrdinal, SegmentReader, Warmer};

use crate::schema::names;

/// Facet values shown per facet (as the catalog).
pub const FACET_LIMIT: usize = 30;

/// In the order of [`Facets`]' fields.
pub(crate) const FIELDS: [&str; 5] = [
    names::CATEGORY,
    names::SUBCATEGORY,
    names::COLORS,
    names::SIZES,
    names::BRAND,
];

/// Counts the facets of every match, but for a facet the filters fix: a
/// product has one category and at most one subcategory, so a listing of
/// category `c` counts `c` once for each match without reading a column.
pub struct FacetsCollector {
    /// Per field (in the order of [`FIELDS`]), the value every match has.
    fixed: [Option<String>; 5],
    masks: Arc<Masks>,
}

impl FacetsCollector {
    pub(crate) fn new(
        category: Option<&str>,
        subcategory: Option<&str>,
        masks: Arc<Masks>,
    ) -> FacetsCollector {
        FacetsCollector {
            masks,
            fixed: [
                category.map(str::to_owned),
                subcategory.map(str::to_owned),
                None,
                None,
                None,
            ],
        }
    }
}

/// The number of matches and, per facet field, the count of each value.
#[derive(Debug, Default)]
pub struct Counts {
    pub total: u64,
    pub values: [HashMap<String, u64>; 5],
}

pub struct SegmentCounts {
    total: u64,
    columns: Vec<Option<FacetColumn>>,
    /// Reused by every block: its documents once per value, the values'
    /// rows, the values (term ordinals).
    docs: Vec<DocId>,
    rows: Vec<u32>,
    ords: Vec<u64>,
}

/// One facet field in one segment, with a count per term ordinal.
struct FacetColumn {
    column: StrColumn,
    counts: Vec<u32>,
    /// Each document's values as bits, when [`Masks`] has them.
    masks: Option<Arc<DocMasks>>,
    /// Per distinct mask of `masks`, the matches that have it.
    per_mask: Vec<u32>,
}

impl FacetColumn {
    fn count(&mut self, doc: DocId) {
        if let Some(masks) = &self.masks {
            masks.count(doc, &mut self.per_mask);
            return;
        }
        for ord in self.column.term_ords(doc) {
            if let Some(n) = self.counts.get_mut(ord as usize) {
                *n += 1;
            }
        }
    }
}

/// Adds `n` at the term ordinal of each set bit of `mask`.
fn count_bits(mut mask: u64, n: u32, counts: &mut [u32]) {
    while mask != 0 {
        if let Some(count) = counts.get_mut(mask.trailing_zeros() as usize) {
            *count += n;
        }
        mask &= mask - 1;
    }
}

/// The values of a facet field holding several values a document (colours,
/// sizes) or none for some (a subcategory), as one bitmask a document, per
/// segment, when the segment has at most 64 of them (and at most 65,536
/// combinations: see [`DocMasks`]).
///
/// Such a column is read through its index of rows for each document (a
/// rank in a sparse set, then two offsets) before the values themselves:
/// at 1M products most of a listing's counting. A mask is one read. The
/// masks are built when a reader first sees a segment (tantivy's warmer:
/// at open and after each commit, for new and merged segments only) and
/// dropped with it; 2 bytes a document and field.
#[derive(Default)]
pub(crate) struct Masks {
    by_segment: RwLock<HashMap<(SegmentId, usize), Arc<DocMasks>>>,
}

/// The masks of one field in one segment: each distinct mask once, and
/// each document's as its place in that list. Documents share few
/// combinations of colours or sizes, so a match costs one increment of its
/// combination's count instead of one per value it has; the combinations
/// become values once per query.
pub(crate) struct DocMasks {
    ids: Box<[u16]>,
    masks: Box<[u64]>,
}

impl DocMasks {
    /// Counts `doc` at its mask's place in `per_mask`.
    #[inline]
    fn count(&self, doc: DocId, per_mask: &mut [u32]) {
        if let Some(n) = self
            .ids
            .get(doc as usize)
            .and_then(|&id| per_mask.get_mut(usize::from(id)))
        {
            *n += 1;
        }
    }
}

/// More values than bits in a mask: counted from the column.
const MASK_BITS: usize = 64;

impl Masks {
    fn get(&self, segment: SegmentId, field: usize) -> Option<Arc<DocMasks>> {
        let by_segment = self
            .by_segment
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        by_segment.get(&(segment, field)).cloned()
    }

    /// The masks of one field of one segment, or `None` when its column
    /// is absent, has one value a document already, too many values, or
    /// too many combinations of them.
    fn build(reader: &SegmentReader, name: &str) -> tantivy::Result<Option<Arc<DocMasks>>> {
        let Some(column) = reader.fast_fields().str(name)? else {
            return Ok(None);
        };
        if column.num_terms() > MASK_BITS || matches!(column.ords().index, ColumnIndex::Full) {
            return Ok(None);
        }
        let mut place: HashMap<u64, u16> = HashMap::new();
        let mut masks: Vec<u64> = Vec::new();
        let mut ids: Vec<u16> = Vec::with_capacity(reader.max_doc() as usize);
        for doc in 0..reader.max_doc() {
            let mask = column.term_ords(doc).fold(0u64, |m, ord| m | (1u64 << ord));
            let id = match place.get(&mask) {
                Some(&id) => id,
                None => {
                    let Ok(id) = u16::try_from(masks.len()) else {
                        return Ok(None);
                    };
                    place.insert(mask, id);
                    masks.push(mask);
                    id
                }
            };
            ids.push(id);
        }
        Ok(Some(Arc::new(DocMasks {
            ids: ids.into(),
            masks: masks.into(),
        })))
    }
}

impl Warmer for Masks {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for reader in searcher.segment_readers() {
            for (field, name) in FIELDS.into_iter().enumerate() {
                let key = (reader.segment_id(), field);
                if self.get(key.0, key.1).is_some() {
                    continue;
                }
                if let Some(masks) = Masks::build(reader, name)? {
                    let mut by_segment = self
                        .by_segment
                        .write()
                        .unwrap_or_else(PoisonError::into_inner);
                    by_segment.insert(key, masks);
                }
            }
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: HashSet<SegmentId> = live_generations
            .iter()
            .flat_map(|g| g.segments().keys().copied())
            .collect();
        let mut by_segment = self
            .by_segment
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        by_segment.retain(|(segment, _), _| live.contains(segment));
    }
}

impl Collector for FacetsCollector {
    type Fruit = Counts;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentCounts> {
        let mut columns = Vec::with_capacity(FIELDS.len());
        for (field, (name, fixed)) in FIELDS.into_iter().zip(&self.fixed).enumerate() {
            if fixed.is_some() {
                columns.push(None);
                continue;
            }
            let column = reader.fast_fields().str(name)?;
            columns.push(column.map(|column| {
                let masks = self.masks.get(reader.segment_id(), field);
                FacetColumn {
                    counts: vec![0; column.num_terms()],
                    column,
                    per_mask: vec![0; masks.as_ref().map_or(0, |m| m.masks.len())],
                    masks,
                }
            }));
        }
        Ok(SegmentCounts {
            total: 0,
            columns,
            docs: Vec::new(),
            rows: Vec::new(),
            ords: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut all = Counts::default();
        for fruit in fruits {
            all.total += fruit.total;
            for (into, from) in all.values.iter_mut().zip(fruit.values) {
                for (value, n) in from {
                    *into.entry(value).or_default() += n;
                }
            }
        }
        for (into, fixed) in all.values.iter_mut().zip(&self.fixed) {
            if let Some(value) = fixed
                && all.total > 0
            {
                into.insert(value.clone(), all.total);
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        for column in self.columns.iter_mut().flatten() {
            column.count(doc);
        }
    }

    /// A block at a time (matches without scores): each column's rows for
    /// the block, then their values, in two batched reads.
    fn collect_block(&mut self, docs: &[DocId]) {
        self.total += docs.len() as u64;
        for column in self.columns.iter_mut().flatten() {
            if let Some(masks) = &column.masks {
                for &doc in docs {
                    masks.count(doc, &mut column.per_mask);
                }
                continue;
            }
            let ords = column.column.ords();
            self.docs.clear();
            self.rows.clear();
            ords.index
                .docids_to_rowids(docs, &mut self.docs, &mut self.rows);
            self.ords.clear();
            self.ords.resize(self.rows.len(), 0);
            ords.values.get_vals(&self.rows, &mut self.ords);
            for &ord in &self.ords {
                if let Some(n) = column.counts.get_mut(ord as usize) {
                    *n += 1;
                }
            }
        }
    }

    fn harvest(self) -> Counts {
        let mut out = Counts {
            total: self.total,
            ..Counts::default()
        };
        for (into, column) in out.values.iter_mut().zip(self.columns) {
            let Some(FacetColumn {
                column,
                mut counts,
                masks,
                per_mask,
            }) = column
            else {
                continue;
            };
            if let Some(masks) = masks {
                for (&mask, &n) in masks.masks.iter().zip(&per_mask) {
                    if n > 0 {
                        count_bits(mask, n, &mut counts);
                    }
                }
            }
            let mut value = String::new();
            for (ord, n) in counts.into_iter().enumerate() {
                if n > 0 && column.ord_to_str(ord as u64, &mut value).unwrap_or(false) {
                    *into.entry(value.clone()).or_default() += u64::from(n);
                }
            }
        }
        out
    }
}

impl Counts {
    /// The most frequent values first (ties alphabetically), at most
    /// [`FACET_LIMIT`] per facet; exact, never sampled.
    pub fn facets(self) -> Facets {
        let [categories, subcategories, colors, sizes, brands] = self.values.map(top);
        Facets {
            categories,
            subcategories,
            colors,
            sizes,
            brands,
            sampled: None,
        }
    }
}

fn top(values: HashMap<String, u64>) -> Vec<FacetCount> {
    let mut counts: Vec<FacetCount> = values
        .into_iter()
        .map(|(value, count)| FacetCount {
            value,
            count: i64::try_from(count).unwrap_or(i64::MAX),
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    counts.truncate(FACET_LIMIT);
    counts
}
