//! Typos of a word: the terms of a field exactly one edit away from it.
//!
//! Tantivy's `FuzzyTermQuery` at distance 1 also matches the word itself,
//! and matches through an `AutomatonWeight`, which reads the postings of
//! every term it matches into a bitset of the whole segment before the
//! first match comes out. A search already matches the word itself with
//! term queries (see `crate::query`), so for a common word the fuzzy
//! clause read its postings a second time, the slow way: at 1M products
//! the typo clauses were half of a cold search's CPU, mostly that second
//! reading. [`Typos`] matches the same terms but the
//! word itself, and reads the postings of its typos (usually few, often
//! none) into a sorted list rather than a bitset of the whole segment.

use tantivy::postings::TermInfo;
use tantivy::query::{
    BitSetDocSet, ConstScorer, DfaWrapper, EmptyScorer, EnableScoring, Explanation, FuzzyTermQuery,
    Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{
    BitSet, DocId, DocSet, InvertedIndexReader, Score, SegmentReader, TERMINATED, TantivyError,
    Term,
};
use tantivy_fst::Automaton;

/// The terms of `field` one insertion, deletion, substitution or swap of
/// neighbours away from `word`, not `word` itself; every match scores the
/// same (as a fuzzy term query's).
#[derive(Clone, Debug)]
pub(crate) struct Typos {
    field: Field,
    word: String,
}

impl Typos {
    pub(crate) fn new(field: Field, word: &str) -> Typos {
        Typos {
            field,
            word: word.to_owned(),
        }
    }
}

impl Query for Typos {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let within_one =
            FuzzyTermQuery::new(Term::from_field_text(self.field, &self.word), 1, true)
                .automaton()?;
        Ok(Box::new(TyposWeight {
            field: self.field,
            automaton: NotItself {
                within_one,
                word: self.word.as_bytes().into(),
            },
        }))
    }
}

struct TyposWeight {
    field: Field,
    automaton: NotItself,
}

/// Typos matching fewer documents than a segment's size over this are
/// listed; more, marked in a bitset (a document costs 4 bytes in a list,
/// 1 bit of the whole segment in a bitset).
const LIST_UP_TO: u32 = 32;

/// The terms of one segment's field the automaton matches.
fn matched_terms(
    inverted: &InvertedIndexReader,
    automaton: &NotItself,
) -> tantivy::Result<Vec<TermInfo>> {
    let mut stream = inverted.terms().search(automaton).into_stream()?;
    let mut infos = Vec::new();
    while stream.advance() {
        infos.push(stream.value().clone());
    }
    Ok(infos)
}

/// Calls `f` with each document of each term, term by term.
fn for_each_doc(
    inverted: &InvertedIndexReader,
    terms: &[TermInfo],
    mut f: impl FnMut(DocId),
) -> tantivy::Result<()> {
    for info in terms {
        let mut postings =
            inverted.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
        while !postings.docs().is_empty() {
            postings.docs().iter().for_each(|&doc| f(doc));
            postings.advance();
        }
    }
    Ok(())
}

impl Weight for TyposWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let inverted = reader.inverted_index(self.field)?;
        let terms = matched_terms(&inverted, &self.automaton)?;
        if terms.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        let matches: u64 = terms.iter().map(|t| u64::from(t.doc_freq)).sum();
        if matches * u64::from(LIST_UP_TO) < u64::from(reader.max_doc()) {
            // Fewer than a thirty-second of the segment: fits a usize.
            let mut docs = Vec::with_capacity(usize::try_from(matches).unwrap_or(0));
            for_each_doc(&inverted, &terms, |doc| docs.push(doc))?;
            docs.sort_unstable();
            docs.dedup();
            return Ok(Box::new(ConstScorer::new(SortedDocs::new(docs), boost)));
        }
        let mut bits = BitSet::with_max_value(reader.max_doc());
        for_each_doc(&inverted, &terms, |doc| {
            bits.insert(doc);
        })?;
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(bits), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) == doc {
            Ok(Explanation::new("Typos", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} has no typo of the word"
            )))
        }
    }
}

/// Documents in a sorted list, without repeats. Tantivy's own `VecDocSet`
/// (kept for its tests) seeks one document at a time; inside an
/// intersection this one seeks by binary search.
struct SortedDocs {
    docs: Vec<DocId>,
    at: usize,
}

impl SortedDocs {
    fn new(docs: Vec<DocId>) -> SortedDocs {
        SortedDocs { docs, at: 0 }
    }
}

impl DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = self.docs.get(self.at..).unwrap_or_default();
        self.at += rest.partition_point(|&d| d < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.docs.len()).unwrap_or(u32::MAX)
    }
}

/// A Levenshtein automaton that refuses its own word.
struct NotItself {
    within_one: DfaWrapper,
    word: Box<[u8]>,
}

/// How many bytes of the word a term has matched so far, or this when it
/// has left it.
const LEFT: u32 = u32::MAX;

impl Automaton for NotItself {
    /// The Levenshtein state, and the bytes of the word matched so far.
    type State = (u32, u32);

    fn start(&self) -> Self::State {
        (self.within_one.start(), 0)
    }

    fn is_match(&self, (state, matched): &Self::State) -> bool {
        self.within_one.is_match(state) && *matched as usize != self.word.len()
    }

    fn can_match(&self, (state, _): &Self::State) -> bool {
        self.within_one.can_match(state)
    }

    fn accept(&self, (state, matched): &Self::State, byte: u8) -> Self::State {
        let matched = match self.word.get(*matched as usize) {
            Some(&b) if b == byte && *matched != LEFT => matched + 1,
            _ => LEFT,
        };
        (self.within_one.accept(state, byte), matched)
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::DocSetCollector;
    use tantivy::query::{BooleanQuery, Occur, TermQuery};
    use tantivy::schema::{STORED, Schema, TEXT, Value};
    use tantivy::{Index, IndexWriter, TantivyDocument};

    use super::*;

    const TITLES: [&str; 12] = [
        "leather",
        "lether",
        "leathers",
        "feather boa",
        "laether",
        "weather",
        "lather",
        "leatherr",
        "leathe",
        "lea",
        "eather",
        "leather boots",
    ];

    /// The titles matching the query built for the `title` field, in an
    /// index of [`TITLES`] and `fillers` more documents.
    fn titles_matching(fillers: usize, query: impl Fn(Field) -> Box<dyn Query>) -> Vec<String> {
        let mut schema = Schema::builder();
        let title = schema.add_text_field("title", TEXT | STORED);
        let index = Index::create_in_ram(schema.build());
        let mut writer: IndexWriter = index.writer(15_000_000).unwrap();
        for t in TITLES.iter().chain(&vec!["filler boa"; fillers]) {
            writer.add_document(tantivy::doc!(title => *t)).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let mut found: Vec<String> = searcher
            .search(&*query(title), &DocSetCollector)
            .unwrap()
            .into_iter()
            .map(|addr| {
                let doc: TantivyDocument = searcher.doc(addr).unwrap();
                let t = doc.get_first(title).and_then(|v| v.as_str());
                t.unwrap_or_default().to_owned()
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn one_edit_away_but_not_the_word_itself_listed_or_in_a_bitset() {
        let typos = |field| Box::new(Typos::new(field, "leather")) as Box<dyn Query>;
        // 8 matches: a bitset among 12 documents, a list among 512.
        for fillers in [0, 500] {
            let found = titles_matching(fillers, typos);
            assert_eq!(
                found,
                [
                    "eather",
                    "feather boa",
                    "laether",
                    "lather",
                    "leathe",
                    "leatherr",
                    "leathers",
                    "lether",
                    "weather"
                ]
            );
            // Exactly what tantivy's own fuzzy query matches, less the word.
            let mut fuzzy = titles_matching(fillers, |field| {
                Box::new(FuzzyTermQuery::new(
                    Term::from_field_text(field, "leather"),
                    1,
                    true,
                ))
            });
            fuzzy.retain(|t| !t.split(' ').any(|w| w == "leather"));
            assert_eq!(found, fuzzy);
            // Skipping ahead (an intersection seeks) finds the same.
            let with_boa = titles_matching(fillers, |field| {
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, typos(field)),
                    (
                        Occur::Must,
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, "boa"),
                            IndexRecordOption::Basic,
                        )),
                    ),
                ]))
            });
            assert_eq!(with_boa, ["feather boa"]);
        }
    }
}
