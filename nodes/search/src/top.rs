//! The page of a listing sorted by number fields, read a block of matches
//! at a time.
//!
//! Tantivy's `TopDocs::order_by_fast_field` keeps only the best `k` of the
//! matches (no full sort), but it has no block path: every match costs a
//! point lookup of its value through the column's dynamic dispatch, and a
//! compare through a comparator that checks the order each time. A
//! category listing at 1M products is 125,000–250,000 matches, and the
//! counting in the same pass already gets them in blocks (see
//! [`crate::blocks`]). [`TopByFields`] reads a block's sort values in one
//! batched call, turns them into one `u128` key (bigger first, whatever
//! the order) and keeps only the keys above the current threshold, so most
//! matches cost a read and a compare.
//!
//! The answer is the one `TopDocs` gives, ties included: key first, then
//! the lower document address.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, ColumnIndex, MonotonicallyMappableToU64};
use tantivy::{DocAddress, DocId, Order, Score, SegmentOrdinal, SegmentReader};

/// One number field to sort by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SortField {
    pub name: &'static str,
    pub kind: FieldKind,
    pub order: Order,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldKind {
    I64,
    F64,
}

/// The top of the matches by one field, or by two (the second breaks the
/// first's ties), skipping `offset` and keeping `limit`.
pub(crate) struct TopByFields {
    fields: Vec<SortField>,
    offset: usize,
    limit: usize,
}

impl TopByFields {
    pub(crate) fn new(fields: Vec<SortField>, offset: usize, limit: usize) -> TopByFields {
        debug_assert!((1..=2).contains(&fields.len()));
        TopByFields {
            fields,
            offset,
            limit,
        }
    }
}

/// One field's values in one segment, with buffers for a block of them.
enum Values {
    I64(Column<i64>, Buffers<i64>),
    F64(Column<f64>, Buffers<f64>),
    /// No document of the segment has a value.
    None,
}

struct Buffers<T> {
    dense: Vec<T>,
    sparse: Vec<Option<T>>,
}

impl<T> Default for Buffers<T> {
    fn default() -> Self {
        Buffers {
            dense: Vec::new(),
            sparse: Vec::new(),
        }
    }
}

/// One field of the sort in one segment.
struct SegmentField {
    values: Values,
    order: Order,
}

/// The part of a key one value makes, bigger first. A document without a
/// value gets 0: last, in either order, as with `TopDocs` (sharing it with
/// `i64::MIN` descending or `i64::MAX` ascending, values no product has).
pub(crate) fn part(value: Option<u64>, order: Order) -> u64 {
    match (value, order) {
        (None, _) => 0,
        (Some(v), Order::Desc) => v,
        (Some(v), Order::Asc) => !v,
    }
}

/// Appends the key part of each of `docs` to `out`.
fn read<T>(
    column: &Column<T>,
    buffers: &mut Buffers<T>,
    docs: &[DocId],
    order: Order,
    out: &mut Vec<u64>,
) where
    T: MonotonicallyMappableToU64 + PartialOrd + std::fmt::Debug + Copy,
{
    if let ColumnIndex::Full = column.index {
        // One value a document, at the document's own row: one batched read.
        buffers.dense.clear();
        buffers.dense.resize(docs.len(), T::from_u64(0));
        column.values.get_vals(docs, &mut buffers.dense);
        out.extend(buffers.dense.iter().map(|v| part(Some(v.to_u64()), order)));
    } else {
        buffers.sparse.clear();
        buffers.sparse.resize(docs.len(), None);
        column.first_vals(docs, &mut buffers.sparse);
        out.extend(buffers.sparse.iter().map(|v| part(v.map(T::to_u64), order)));
    }
}

impl SegmentField {
    /// The field's part of the key of each document of `docs`.
    fn keys(&mut self, docs: &[DocId], out: &mut Vec<u64>) {
        out.clear();
        match &mut self.values {
            Values::I64(column, buffers) => read(column, buffers, docs, self.order, out),
            Values::F64(column, buffers) => read(column, buffers, docs, self.order, out),
            Values::None => out.resize(docs.len(), 0),
        }
    }
}

pub(crate) struct SegmentTop {
    segment: SegmentOrdinal,
    fields: Vec<SegmentField>,
    /// How many to keep: the page's end.
    keep: usize,
    /// Candidates, at most `2 × keep` before they are cut back to `keep`.
    best: Vec<(u128, DocId)>,
    /// Once `best` was cut: the key of the worst kept. A later document
    /// with a key no bigger loses to it (equal keys go to the lower
    /// document, and documents come in increasing order).
    threshold: Option<u128>,
    /// Reused by every block: the key parts of its documents.
    high: Vec<u64>,
    low: Vec<u64>,
}

/// Bigger key first, then the lower document.
pub(crate) fn better<D: Ord>(a: &(u128, D), b: &(u128, D)) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

impl SegmentTop {
    fn push(&mut self, key: u128, doc: DocId) {
        if self.best.len() == self.best.capacity() {
            // Keep the best `keep`: the worst of them is the new threshold.
            let keep = self.keep;
            self.best.select_nth_unstable_by(keep - 1, better);
            self.best.truncate(keep);
            self.threshold = Some(self.best[keep - 1].0);
            if key <= self.best[keep - 1].0 {
                return;
            }
        }
        self.best.push((key, doc));
    }
}

impl Collector for TopByFields {
    /// The page, each with its key.
    type Fruit = Vec<(u128, DocAddress)>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        let mut fields = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let fast = reader.fast_fields();
            let values = match field.kind {
                FieldKind::I64 => fast
                    .column_opt::<i64>(field.name)?
                    .map(|c| Values::I64(c, Buffers::default())),
                FieldKind::F64 => fast
                    .column_opt::<f64>(field.name)?
                    .map(|c| Values::F64(c, Buffers::default())),
            };
            fields.push(SegmentField {
                values: values.unwrap_or(Values::None),
                order: field.order,
            });
        }
        let keep = self.offset + self.limit;
        Ok(SegmentTop {
            segment,
            fields,
            keep,
            best: Vec::with_capacity(2 * keep.max(1)),
            threshold: None,
            high: Vec::new(),
            low: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<(u128, DocAddress)>>,
    ) -> tantivy::Result<Vec<(u128, DocAddress)>> {
        let mut all: Vec<(u128, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_unstable_by(better);
        Ok(all.into_iter().skip(self.offset).take(self.limit).collect())
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(u128, DocAddress)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        if self.keep == 0 {
            return;
        }
        let mut high = std::mem::take(&mut self.high);
        let mut low = std::mem::take(&mut self.low);
        let mut fields = self.fields.iter_mut();
        if let Some(first) = fields.next() {
            first.keys(docs, &mut high);
        }
        match fields.next() {
            Some(second) => second.keys(docs, &mut low),
            None => {
                low.clear();
                low.resize(docs.len(), 0);
            }
        }
        for ((&high, &low), &doc) in high.iter().zip(&low).zip(docs) {
            let key = (u128::from(high) << 64) | u128::from(low);
            if self.threshold.is_none_or(|t| key > t) {
                self.push(key, doc);
            }
        }
        self.high = high;
        self.low = low;
    }

    fn harvest(mut self) -> Self::Fruit {
        self.best.sort_unstable_by(better);
        self.best.truncate(self.keep);
        addressed(self.segment, self.best)
    }
}

/// A segment's page with the segment's ordinal on each document.
pub(crate) fn addressed(
    segment: SegmentOrdinal,
    page: Vec<(u128, DocId)>,
) -> Vec<(u128, DocAddress)> {
    page.into_iter()
        .map(|(key, doc_id)| {
            (
                key,
                DocAddress {
                    segment_ord: segment,
                    doc_id,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failing test should stop right there

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use tantivy::collector::sort_key::SortByStaticFastValue;
    use tantivy::collector::{Count, TopDocs};
    use tantivy::indexer::NoMergePolicy;
    use tantivy::query::{AllQuery, Query, TermQuery};
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema};
    use tantivy::{DocAddress, Index, Order, Searcher, TantivyDocument, Term};

    use super::{FieldKind, SortField, TopByFields};
    use crate::blocks::Blocks;

    /// Three segments, some documents deleted and some without a value:
    /// values drawn from a few, so that ties are everywhere.
    fn searcher() -> (Searcher, tantivy::schema::Field) {
        let mut b = Schema::builder();
        let id = b.add_i64_field("id", INDEXED);
        let group = b.add_text_field("group", STRING);
        let price = b.add_i64_field("price", FAST);
        let rating = b.add_f64_field("rating", FAST);
        let count = b.add_i64_field("count", FAST);
        let index = Index::create_in_ram(b.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let mut rng = StdRng::seed_from_u64(3);
        let mut n = 0;
        for segment in 0..3 {
            for _ in 0..300 {
                let mut doc = TantivyDocument::default();
                doc.add_i64(id, n);
                doc.add_text(group, ["a", "b"][rng.random_range(0..2)]);
                // The last segment has a document without a price.
                if segment < 2 || rng.random_bool(0.9) {
                    doc.add_i64(price, rng.random_range(-3..20) * 100);
                }
                doc.add_f64(rating, f64::from(rng.random_range(0..6)) / 2.0);
                doc.add_i64(count, rng.random_range(0..4));
                writer.add_document(doc).unwrap();
                n += 1;
            }
            writer.commit().unwrap();
        }
        for gone in (0..n).step_by(7) {
            writer.delete_term(Term::from_field_i64(id, gone));
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 3);
        (searcher, group)
    }

    fn pages(fruit: Vec<(impl Sized, DocAddress)>) -> Vec<DocAddress> {
        fruit.into_iter().map(|(_, a)| a).collect()
    }

    #[test]
    fn the_same_page_as_tantivys_top_docs_ties_included() {
        let (searcher, group) = searcher();
        let field = |name, kind, order| SortField { name, kind, order };
        let queries: Vec<Box<dyn Query>> = vec![
            Box::new(AllQuery),
            Box::new(TermQuery::new(
                Term::from_field_text(group, "a"),
                IndexRecordOption::Basic,
            )),
        ];
        for query in &queries {
            for (offset, limit) in [(0, 1), (0, 10), (5, 20), (40, 60), (0, 2_000)] {
                let top = || TopDocs::with_limit(limit).and_offset(offset);
                let mut cases: Vec<(Vec<SortField>, Vec<DocAddress>)> = Vec::new();
                for order in [Order::Desc, Order::Asc] {
                    let expected = searcher
                        .search(query, &top().order_by_fast_field::<i64>("price", order))
                        .unwrap();
                    cases.push((vec![field("price", FieldKind::I64, order)], pages(expected)));
                }
                let by_rating = top().order_by((
                    (
                        SortByStaticFastValue::<f64>::for_field("rating"),
                        Order::Desc,
                    ),
                    (
                        SortByStaticFastValue::<i64>::for_field("count"),
                        Order::Desc,
                    ),
                ));
                cases.push((
                    vec![
                        field("rating", FieldKind::F64, Order::Desc),
                        field("count", FieldKind::I64, Order::Desc),
                    ],
                    pages(searcher.search(query, &by_rating).unwrap()),
                ));
                for (fields, expected) in cases {
                    let ours = || TopByFields::new(fields.clone(), offset, limit);
                    // One match at a time (tantivy's path in a segment with
                    // deletions), and in blocks (with a count alongside).
                    let one_by_one = pages(searcher.search(query, &ours()).unwrap());
                    let (blocks, total) = searcher
                        .search(query, &Blocks::new((ours(), Count), Vec::new()))
                        .unwrap();
                    assert_eq!(one_by_one, expected, "{fields:?} {offset}+{limit}");
                    assert_eq!(pages(blocks), expected, "{fields:?} {offset}+{limit}");
                    assert_eq!(total, searcher.search(query, &Count).unwrap());
                }
            }
        }
    }
}
