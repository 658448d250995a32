//! The page of a search by relevance: the best matches by score, ties to
//! the better seller, then to the lower document address.
//!
//! Tantivy's `TopDocs` ordered by (score, sales) reads the sales of every
//! match and scores every match through the query's whole tree. This
//! collector drives the weight's `for_each_pruning` instead, so only a
//! match that can still reach the page costs more than its score: and when
//! the query is a union of scored terms (a one-word search), tantivy's
//! block-max WAND skips whole blocks of postings that cannot beat the
//! current `k`-th best. The threshold it is given is just below the `k`-th
//! best score, so a match tying it still comes through and its sales
//! decide.
//!
//! Segments are searched one after the other, and each starts from the
//! `k`-th best score of those before it rather than from nothing: a match
//! below it cannot make the page, so a later segment's WAND skips from its
//! first block on instead of first filling a page of its own.
//!
//! A listing's number ranges are checked here, on the few matches that
//! could make the page, rather than as query clauses: a clause would make
//! the query more than a union of terms and cost WAND its skipping.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Mutex, PoisonError};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::fastfield::AliveBitSet;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::blocks::{FastRange, SegmentRange, segment_ranges};

/// The top `offset + limit` matches by (score, an i64 fast field), the page
/// from `offset`.
pub(crate) struct TopByScore {
    tie_break: &'static str,
    ranges: Vec<FastRange>,
    offset: usize,
    limit: usize,
    /// The best `k`-th score of the segments searched so far, just below
    /// it: what a match of the next segment must exceed. One search's; a
    /// collector is not reused.
    carried: Mutex<Score>,
}

impl TopByScore {
    pub(crate) fn new(
        tie_break: &'static str,
        ranges: Vec<FastRange>,
        (offset, limit): (usize, usize),
    ) -> TopByScore {
        TopByScore {
            tie_break,
            ranges,
            offset,
            limit,
            carried: Mutex::new(Score::MIN),
        }
    }

    fn carried(&self) -> std::sync::MutexGuard<'_, Score> {
        // A plain number: whatever a panicking search left is still a bound.
        self.carried.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The page, and how many matches were kept to choose it: fewer than
/// `offset + limit` only when fewer matched.
#[derive(Debug)]
pub(crate) struct Ranked {
    pub page: Vec<DocAddress>,
    pub kept: usize,
}

/// One candidate: greater is better.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    score: Score,
    tie: i64,
    doc: DocId,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.tie.cmp(&other.tie))
            .then(other.doc.cmp(&self.doc))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

pub(crate) struct SegmentTopByScore {
    segment: SegmentOrdinal,
    keep: usize,
    tie: Option<Column<i64>>,
    /// `None`: a range's field has no value in this segment, nothing matches.
    ranges: Option<Vec<SegmentRange>>,
    alive: Option<AliveBitSet>,
    /// The best `keep` so far, the worst on top.
    best: BinaryHeap<Reverse<Entry>>,
    /// What the segments before this one already hold: a match must
    /// exceed it.
    floor: Score,
}

impl SegmentTopByScore {
    /// Offers one match; answers the score a later match must exceed to
    /// be offered at all.
    fn offer(&mut self, doc: DocId, score: Score) -> Score {
        let wanted = self.alive.as_ref().is_none_or(|a| a.is_alive(doc))
            && self
                .ranges
                .as_ref()
                .is_some_and(|ranges| ranges.iter().all(|r| r.matches(doc)));
        if wanted && self.keep > 0 {
            let entry = Entry {
                score,
                tie: self
                    .tie
                    .as_ref()
                    .and_then(|c| c.first(doc))
                    .unwrap_or(i64::MIN),
                doc,
            };
            if self.best.len() < self.keep {
                self.best.push(Reverse(entry));
            } else if self
                .best
                .peek()
                .is_some_and(|Reverse(worst)| entry > *worst)
            {
                self.best.pop();
                self.best.push(Reverse(entry));
            }
        }
        self.threshold()
    }

    fn threshold(&self) -> Score {
        self.own_threshold().max(self.floor)
    }

    /// Just below the worst kept once `keep` are kept: a match scoring the
    /// same may still win on sales, so it is let through.
    fn own_threshold(&self) -> Score {
        match self.best.peek() {
            Some(Reverse(worst)) if self.best.len() >= self.keep => worst.score.next_down(),
            _ => Score::MIN,
        }
    }
}

impl SegmentCollector for SegmentTopByScore {
    type Fruit = Vec<(Entry, SegmentOrdinal)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.offer(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        let segment = self.segment;
        self.best
            .into_iter()
            .map(|Reverse(entry)| (entry, segment))
            .collect()
    }
}

impl Collector for TopByScore {
    type Fruit = Ranked;
    type Child = SegmentTopByScore;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTopByScore> {
        let keep = self.offset + self.limit;
        Ok(SegmentTopByScore {
            segment,
            keep,
            tie: reader.fast_fields().column_opt::<i64>(self.tie_break)?,
            ranges: segment_ranges(&self.ranges, reader)?,
            alive: reader.alive_bitset().cloned(),
            best: BinaryHeap::with_capacity(keep.min(4_096) + 1),
            floor: Score::MIN,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Entry, SegmentOrdinal)>> {
        let mut child = self.for_segment(segment, reader)?;
        child.floor = *self.carried();
        if child.ranges.is_some() {
            weight.for_each_pruning(child.floor, reader, &mut |doc, score| {
                child.offer(doc, score)
            })?;
        }
        let mut carried = self.carried();
        *carried = carried.max(child.own_threshold());
        drop(carried);
        Ok(child.harvest())
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Entry, SegmentOrdinal)>>) -> tantivy::Result<Ranked> {
        let mut all: Vec<(Entry, SegmentOrdinal)> = fruits.into_iter().flatten().collect();
        let kept = all.len();
        // Best first; ties to the lower address (segment, then document).
        all.sort_unstable_by(|(a, sa), (b, sb)| {
            b.score
                .total_cmp(&a.score)
                .then(b.tie.cmp(&a.tie))
                .then(sa.cmp(sb))
                .then(a.doc.cmp(&b.doc))
        });
        let page = all
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .map(|(entry, segment_ord)| DocAddress {
                segment_ord,
                doc_id: entry.doc,
            })
            .collect();
        Ok(Ranked { page, kept })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failing test should stop right there

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use tantivy::collector::TopDocs;
    use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
    use tantivy::indexer::NoMergePolicy;
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema, TEXT};
    use tantivy::{DocAddress, Index, Order, Searcher, TantivyDocument, Term};

    use super::{Ranked, TopByScore};
    use crate::blocks::FastRange;

    struct Fields {
        title: tantivy::schema::Field,
        body: tantivy::schema::Field,
        group: tantivy::schema::Field,
    }

    /// Three segments of short texts from a few words (so that scores tie
    /// often), some documents deleted, sales and prices from a few values.
    fn searcher() -> (Searcher, Fields) {
        let mut b = Schema::builder();
        let id = b.add_i64_field("id", INDEXED);
        let title = b.add_text_field("title", TEXT);
        let body = b.add_text_field("body", TEXT);
        let group = b.add_text_field("group", STRING);
        let sales = b.add_i64_field("sales", FAST);
        let price = b.add_i64_field("price", FAST);
        let index = Index::create_in_ram(b.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let words = ["red", "boot", "wool", "coat", "slim"];
        let mut rng = StdRng::seed_from_u64(5);
        let text = |rng: &mut StdRng, n: usize| -> String {
            (0..rng.random_range(1..=n))
                .map(|_| words[rng.random_range(0..words.len())])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut n = 0;
        for _ in 0..3 {
            for _ in 0..700 {
                let mut doc = TantivyDocument::default();
                doc.add_i64(id, n);
                doc.add_text(title, text(&mut rng, 3));
                doc.add_text(body, text(&mut rng, 6));
                doc.add_text(group, ["a", "b"][rng.random_range(0..2)]);
                doc.add_i64(sales, rng.random_range(0..4));
                doc.add_i64(price, rng.random_range(0..10));
                writer.add_document(doc).unwrap();
                n += 1;
            }
            writer.commit().unwrap();
        }
        for gone in (0..n).step_by(9) {
            writer.delete_term(Term::from_field_i64(id, gone));
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 3);
        (searcher, Fields { title, body, group })
    }

    fn term(field: tantivy::schema::Field, word: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, word),
            IndexRecordOption::WithFreqs,
        ))
    }

    /// A word in either text field, the title weighing more: a union of
    /// scored terms, which tantivy prunes with block-max WAND.
    fn word(f: &Fields, w: &str) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(vec![
            (
                Occur::Should,
                Box::new(BoostQuery::new(term(f.title, w), 3.0)),
            ),
            (Occur::Should, term(f.body, w)),
        ]))
    }

    #[test]
    fn the_same_page_as_tantivys_top_docs_by_score_then_sales() {
        let (searcher, f) = searcher();
        let in_group_a = || -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(f.group, "a"),
                IndexRecordOption::Basic,
            ))
        };
        let queries: Vec<Box<dyn Query>> = vec![
            word(&f, "boot"),
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, word(&f, "boot")),
                (Occur::Must, word(&f, "wool")),
            ])),
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, word(&f, "red")),
                (Occur::Must, in_group_a()),
            ])),
        ];
        for query in &queries {
            for (offset, limit) in [(0, 1), (0, 24), (24, 24), (100, 60), (0, 3_000)] {
                let expected: Vec<DocAddress> = searcher
                    .search(
                        query,
                        &TopDocs::with_limit(limit).and_offset(offset).order_by((
                            (SortBySimilarityScore, Order::Desc),
                            (
                                SortByStaticFastValue::<i64>::for_field("sales"),
                                Order::Desc,
                            ),
                        )),
                    )
                    .unwrap()
                    .into_iter()
                    .map(|(_, a)| a)
                    .collect();
                let ours = ranked(&searcher, &**query, None, (offset, limit));
                assert_eq!(ours.page, expected, "{query:?} {offset}+{limit}");
                let matches = searcher.search(query, &tantivy::collector::Count).unwrap();
                assert_eq!(ours.kept >= offset + limit, matches >= offset + limit);
            }
        }
    }

    /// The top by (score, sales) of `query`'s matches priced within
    /// `prices`, if given, from `offset`.
    fn ranked(
        searcher: &Searcher,
        query: &dyn Query,
        prices: Option<std::ops::RangeInclusive<i64>>,
        (offset, limit): (usize, usize),
    ) -> Ranked {
        let ranges = prices
            .map(|values| FastRange::numbers("price", values))
            .into_iter()
            .collect();
        let top = TopByScore::new("sales", ranges, (offset, limit));
        searcher.search(query, &top).unwrap()
    }

    #[test]
    fn a_range_keeps_only_matches_inside_it_without_losing_the_best() {
        let (searcher, f) = searcher();
        let query = word(&f, "coat");
        let in_range = ranked(&searcher, &*query, Some(3..=5), (0, 3_000));
        // The same as ranking everything and dropping what is out of range.
        let all = ranked(&searcher, &*query, None, (0, 3_000));
        let price = |a: DocAddress| {
            let reader = searcher.segment_reader(a.segment_ord);
            let column = reader.fast_fields().i64("price").unwrap();
            column.first(a.doc_id).unwrap()
        };
        let expected: Vec<DocAddress> = all
            .page
            .into_iter()
            .filter(|&a| (3..=5).contains(&price(a)))
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(in_range.page, expected);
        let page = ranked(&searcher, &*query, Some(3..=5), (2, 5));
        assert_eq!(page.page, expected[2..7]);
    }
}
