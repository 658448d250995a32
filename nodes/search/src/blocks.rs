//! Matches handed to collectors a block at a time, deleted documents or
//! not, with the number ranges of a listing checked on the block.
//!
//! Tantivy gives a collector that needs no scores its matches in blocks
//! (`collect_block`), which the facet counts read in batched column
//! lookups; but only in a segment without deletions. In a segment with any,
//! every match goes through `collect` one at a time, to be checked against
//! the segment's deletions first. A live index always has deletions (an
//! edit deletes the old document and adds the new one), so [`Blocks`]
//! drops the deleted documents of each block itself and keeps the batched
//! path.
//!
//! A number range as a query clause (price, stock, a flash sale's window)
//! costs a point lookup through the intersection's layers for every
//! candidate: at 1M products about a quarter of a filtered listing's time.
//! Checked here instead, a block's values are read in one batched call and
//! compared in a loop; the documents kept are exactly those the range query
//! would have matched.

use std::ops::RangeInclusive;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnIndex, ColumnValues};
use tantivy::query::Weight;
use tantivy::schema::Schema;
use tantivy::{DocId, SegmentOrdinal, SegmentReader};

/// Only documents whose fast field `name` has a value in range, or the
/// given text.
#[derive(Debug, Clone)]
pub(crate) enum FastRange {
    /// An i64 field with a value in `values`.
    Numbers {
        name: &'static str,
        values: RangeInclusive<i64>,
    },
    /// A string field holding `value`.
    Text { name: &'static str, value: String },
}

impl FastRange {
    pub(crate) fn numbers(name: &'static str, values: RangeInclusive<i64>) -> FastRange {
        FastRange::Numbers { name, values }
    }

    pub(crate) fn text(name: &'static str, value: &str) -> FastRange {
        FastRange::Text {
            name,
            value: value.to_owned(),
        }
    }
}

/// `C`, fed blocks of the live matches that pass every range.
pub(crate) struct Blocks<C> {
    pub collector: C,
    pub ranges: Vec<FastRange>,
}

impl<C> Blocks<C> {
    pub(crate) fn new(collector: C, ranges: Vec<FastRange>) -> Blocks<C> {
        Blocks { collector, ranges }
    }
}

/// The most matches tantivy hands over at once.
const BLOCK: usize = 64;

type SegmentFruit<C> = <<C as Collector>::Child as SegmentCollector>::Fruit;

/// One range over one segment's column.
pub(crate) enum SegmentRange {
    Numbers {
        column: Column<i64>,
        values: RangeInclusive<i64>,
    },
    /// The text as the column's term ordinal in this segment.
    Text { column: Column<u64>, ord: u64 },
}

/// The ranges' columns in one segment, or `None` when a range's field has
/// no value in it, or not the text (no document of the segment matches).
pub(crate) fn segment_ranges(
    ranges: &[FastRange],
    reader: &SegmentReader,
) -> tantivy::Result<Option<Vec<SegmentRange>>> {
    let mut out = Vec::with_capacity(ranges.len());
    for range in ranges {
        match range {
            FastRange::Numbers { name, values } => {
                let Some(column) = reader.fast_fields().column_opt::<i64>(name)? else {
                    return Ok(None);
                };
                out.push(SegmentRange::Numbers {
                    column,
                    values: values.clone(),
                });
            }
            FastRange::Text { name, value } => {
                let Some(column) = reader.fast_fields().str(name)? else {
                    return Ok(None);
                };
                let Some(ord) = column.dictionary().term_ord(value.as_bytes())? else {
                    return Ok(None);
                };
                out.push(SegmentRange::Text {
                    column: column.ords().clone(),
                    ord,
                });
            }
        }
    }
    Ok(Some(out))
}

/// Reused by every block: the values read for it.
#[derive(Default)]
pub(crate) struct RangeBuffers {
    numbers: Vec<i64>,
    ords: Vec<u64>,
}

impl SegmentRange {
    pub(crate) fn matches(&self, doc: DocId) -> bool {
        match self {
            SegmentRange::Numbers { column, values } => {
                column.values_for_doc(doc).any(|v| values.contains(&v))
            }
            SegmentRange::Text { column, ord } => column.values_for_doc(doc).any(|v| v == *ord),
        }
    }

    /// Keeps the documents of `docs` with a value in range.
    fn retain(&self, docs: &mut Vec<DocId>, buffers: &mut RangeBuffers) {
        match self {
            SegmentRange::Numbers { column, values } => {
                retain_where(column, docs, &mut buffers.numbers, |v| values.contains(&v));
            }
            SegmentRange::Text { column, ord } => {
                retain_where(column, docs, &mut buffers.ords, |v| v == *ord);
            }
        }
    }
}

/// Keeps the documents of `docs` with a value `keep` takes.
fn retain_where<T>(
    column: &Column<T>,
    docs: &mut Vec<DocId>,
    buffer: &mut Vec<T>,
    keep: impl Fn(T) -> bool,
) where
    T: PartialOrd + Copy + Default + std::fmt::Debug + Send + Sync + 'static,
{
    if let ColumnIndex::Full = column.index {
        // One value a document, at the document's own row.
        buffer.clear();
        buffer.resize(docs.len(), T::default());
        column.values.get_vals(docs, buffer);
        // Compacted in place without a branch a document: whether one is
        // kept is as unpredictable as the values.
        let mut kept = 0;
        for i in 0..docs.len() {
            docs[kept] = docs[i];
            kept += usize::from(keep(buffer[i]));
        }
        docs.truncate(kept);
    } else {
        docs.retain(|&doc| column.values_for_doc(doc).any(&keep));
    }
}

impl<C: Collector> Collector for Blocks<C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn check_schema(&self, schema: &Schema) -> tantivy::Result<()> {
        self.collector.check_schema(schema)
    }

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<C::Child> {
        self.collector.for_segment(segment, reader)
    }

    fn requires_scoring(&self) -> bool {
        self.collector.requires_scoring()
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit<C>>) -> tantivy::Result<C::Fruit> {
        self.collector.merge_fruits(fruits)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFruit<C>> {
        let alive = reader.alive_bitset();
        if alive.is_none() && self.ranges.is_empty() {
            // Tantivy's own path already hands over blocks.
            return self.collector.collect_segment(weight, segment, reader);
        }
        let mut child = self.collector.for_segment(segment, reader)?;
        let Some(ranges) = segment_ranges(&self.ranges, reader)? else {
            return Ok(child.harvest());
        };
        if self.requires_scoring() {
            // Scored matches come one at a time anyway.
            weight.for_each(reader, &mut |doc, score| {
                if alive.is_none_or(|a| a.is_alive(doc)) && ranges.iter().all(|r| r.matches(doc)) {
                    child.collect(doc, score);
                }
            })?;
            return Ok(child.harvest());
        }
        let mut kept: Vec<DocId> = Vec::with_capacity(BLOCK);
        let mut values = RangeBuffers::default();
        weight.for_each_no_score(reader, &mut |docs| {
            kept.clear();
            match alive {
                Some(alive) => kept.extend(docs.iter().copied().filter(|&d| alive.is_alive(d))),
                None => kept.extend_from_slice(docs),
            }
            for range in &ranges {
                if kept.is_empty() {
                    break;
                }
                range.retain(&mut kept, &mut values);
            }
            if !kept.is_empty() {
                child.collect_block(&kept);
            }
        })?;
        Ok(child.harvest())
    }
}
