//! Exact match counts and facet counts in one collector: for each match,
//! the term ordinals of its category, subcategory, brand, colours and
//! sizes are counted per segment, then turned into values and summed.

use std::collections::HashMap;

use bazaar_subjects::catalog::{FacetCount, Facets};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnValues, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema::names;

/// Facet values shown per facet (as the catalog).
pub const FACET_LIMIT: usize = 30;

/// In the order of [`Facets`]' fields.
const FIELDS: [&str; 5] = [
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
}

impl FacetsCollector {
    pub fn new(category: Option<&str>, subcategory: Option<&str>) -> FacetsCollector {
        FacetsCollector {
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
}

impl FacetColumn {
    fn count(&mut self, doc: DocId) {
        for ord in self.column.term_ords(doc) {
            if let Some(n) = self.counts.get_mut(ord as usize) {
                *n += 1;
            }
        }
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
        for (name, fixed) in FIELDS.into_iter().zip(&self.fixed) {
            if fixed.is_some() {
                columns.push(None);
                continue;
            }
            let column = reader.fast_fields().str(name)?;
            columns.push(column.map(|column| FacetColumn {
                counts: vec![0; column.num_terms()],
                column,
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
            let Some(FacetColumn { column, counts, .. }) = column else {
                continue;
            };
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
