//! Browse, search and suggest over the index, with the catalog's
//! semantics: the same filters, sorts, page caps, facets, highlight markup
//! and suggestion ranking, but exact totals and facet counts.
//!
//! User text never reaches a query parser: it is cut into words by the
//! index's own analyzers and each word becomes term queries, so no
//! character of any query is syntax.

use std::collections::{HashMap, HashSet};
use std::ops::{Bound, RangeInclusive};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bazaar_subjects::Validator;
use bazaar_subjects::catalog::{
    FlashSale, MAX_PAGE_SIZE, MAX_RESULT_WINDOW, ProductSummary, SearchProducts, SearchResults,
    SortOrder, SuggestRequest, Suggestion, Suggestions,
};
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Order, Score, Searcher, TantivyDocument, Term};
use time::OffsetDateTime;

use crate::blocks::{Blocks, FastRange};
use crate::counts::{CountsCache, Totals};
use crate::doc::unix_seconds;
use crate::error::SearchError;
use crate::facets::{Counts, FacetsCollector, Masks};
use crate::ladder::{CategoryListing, Laddered, Ladders, ListingSort};
use crate::schema::{Fields, names};
use crate::scored::{Ranked, TopByScore};
use crate::text::{self, PREFIX_MAX, PREFIX_MIN};
use crate::top::{FieldKind, SortField, TopByFields};
use crate::typo::Typos;

pub const DEFAULT_PAGE_SIZE: u32 = 24;
/// Longer queries are cut (a search box, not a document).
pub const MAX_QUERY_CHARS: usize = 200;
/// Suggestions per request.
const SUGGESTIONS: usize = 8;
/// Words this long or longer also match at one edit (a typo).
const FUZZY_MIN_CHARS: usize = 5;
/// Typo tolerance for at most this many words of one query.
const MAX_FUZZY_WORDS: usize = 8;
/// Added per word matched exactly (not only at one edit), so every exact
/// match of a word ranks above any match of it with a typo; BM25 orders
/// within.
const EXACT_BONUS: Score = 1_000.0;
/// BM25 weights of the text fields.
const TITLE_BOOST: Score = 3.0;
const BRAND_BOOST: Score = 2.0;
const TAGS_BOOST: Score = 1.5;

/// Marks around matches in highlights; control characters, so they cannot
/// collide with product text, and replaced by `<mark>` after escaping.
const MARK_OPEN: char = '\u{1}';
const MARK_CLOSE: char = '\u{2}';

/// Trims a query to something worth searching: no control characters, at
/// most [`MAX_QUERY_CHARS`], and `None` when nothing searchable is left.
pub fn normalise_query(q: Option<&str>) -> Option<String> {
    let cleaned: String = q?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUERY_CHARS)
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().any(char::is_alphanumeric).then_some(words)
}

/// A request checked and normalised.
struct Valid<'a> {
    request: &'a SearchProducts,
    q: Option<String>,
    page: u32,
    page_size: u32,
}

fn validate(request: &SearchProducts) -> Result<Valid<'_>, SearchError> {
    let page = request.page.unwrap_or(1);
    let page_size = request.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut v = Validator::default();
    v.check(page >= 1, "page", "pages start at 1")
        .check(
            (1..=MAX_PAGE_SIZE).contains(&page_size),
            "page_size",
            "a page holds 1 to 60 products",
        )
        .check(
            u64::from(page.max(1)) * u64::from(page_size) <= u64::from(MAX_RESULT_WINDOW),
            "page",
            "that is too deep to page to: narrow the search or use the filters",
        )
        .check(
            request.min_price.is_none_or(|p| p >= 0) && request.max_price.is_none_or(|p| p >= 0),
            "price",
            "prices cannot be negative",
        )
        .check(
            match (request.min_price, request.max_price) {
                (Some(lo), Some(hi)) => lo <= hi,
                _ => true,
            },
            "price",
            "the lowest price must not be above the highest",
        )
        .check(
            request
                .min_rating
                .is_none_or(|r| r.is_finite() && (0.0..=5.0).contains(&r)),
            "min_rating",
            "ratings go from 0 to 5",
        )
        .check(
            request.colors.len() <= 30 && request.sizes.len() <= 30,
            "colors",
            "at most 30 colors and 30 sizes at once",
        );
    v.finish().map_err(SearchError::Invalid)?;
    Ok(Valid {
        q: normalise_query(request.q.as_deref()),
        page,
        page_size,
        request,
    })
}

/// One word of a query: its stemmed term and, when typos are tolerated
/// for it, its unstemmed form.
#[derive(Debug)]
struct Word {
    stem: String,
    fuzzy: Option<String>,
}

/// What queries need of an index besides a searcher: its fields, the
/// analyzers its text was indexed with, and the counts of recent queries.
pub(crate) struct Queries {
    fields: Fields,
    english: TextAnalyzer,
    words: TextAnalyzer,
    counts: Mutex<CountsCache>,
    /// Facet values as bits, kept up to date by the reader's warmer.
    pub(crate) masks: Arc<Masks>,
    /// Each category's products by price and newest first, kept up to
    /// date the same way.
    pub(crate) ladders: Arc<Ladders>,
}

impl Queries {
    pub(crate) fn new(fields: Fields) -> Queries {
        Queries {
            fields,
            english: text::english(),
            words: text::words(),
            counts: Mutex::new(CountsCache::default()),
            masks: Arc::new(Masks::default()),
            ladders: Arc::new(Ladders::default()),
        }
    }

    fn counts(&self) -> MutexGuard<'_, CountsCache> {
        // A cache: whatever a panicking search left in it is still counts.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Browse or search with exact totals and facets, flash sales judged
    /// at `now`.
    pub(crate) fn search(
        &self,
        searcher: &Searcher,
        request: &SearchProducts,
        now: OffsetDateTime,
    ) -> Result<SearchResults, SearchError> {
        search(self, searcher, request, now)
    }

    /// Title completions, best sellers first.
    pub(crate) fn suggest(
        &self,
        searcher: &Searcher,
        request: &SuggestRequest,
    ) -> Result<Suggestions, SearchError> {
        suggest(self, searcher, request)
    }
}

/// The words of a query, each once, stop words dropped.
fn words_of(queries: &Queries, q: &str) -> Vec<Word> {
    let mut raw = queries.words.clone();
    let mut english = queries.english.clone();
    let mut seen = HashSet::new();
    let mut out: Vec<Word> = Vec::new();
    for token in text::tokens(&mut raw, q) {
        if !seen.insert(token.term.clone()) {
            continue;
        }
        let Some(stem) = text::stem(&mut english, &token.term) else {
            continue;
        };
        let fuzzy_so_far = out.iter().filter(|w| w.fuzzy.is_some()).count();
        let fuzzy = (token.term.chars().count() >= FUZZY_MIN_CHARS
            && fuzzy_so_far < MAX_FUZZY_WORDS)
            .then_some(token.term);
        if out.iter().all(|w| w.stem != stem) {
            out.push(Word { stem, fuzzy });
        }
    }
    out
}

fn term_query(
    field: tantivy::schema::Field,
    text: &str,
    record: IndexRecordOption,
) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), record))
}

fn boosted(query: Box<dyn Query>, boost: Score) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

/// A word matched exactly in any text field, scored by BM25 with the
/// fields' weights: a union of four scored terms.
fn exact_word(f: &Fields, w: &Word) -> Box<dyn Query> {
    let scored = IndexRecordOption::WithFreqs;
    Box::new(BooleanQuery::new(vec![
        (
            Occur::Should,
            boosted(term_query(f.title, &w.stem, scored), TITLE_BOOST),
        ),
        (Occur::Should, term_query(f.description, &w.stem, scored)),
        (
            Occur::Should,
            boosted(term_query(f.brand_text, &w.stem, scored), BRAND_BOOST),
        ),
        (
            Occur::Should,
            boosted(term_query(f.tags, &w.stem, scored), TAGS_BOOST),
        ),
    ]))
}

/// A word's typos: one edit from its stem in titles, or from the word as
/// typed in titles, brands, tags and colours. Not the word itself: the
/// word's exact clauses already match every product that has it in these
/// fields (see [`crate::typo`]).
fn typo_clauses(f: &Fields, w: &Word) -> Vec<(Occur, Box<dyn Query>)> {
    let Some(raw) = &w.fuzzy else {
        return Vec::new();
    };
    // Title stems catch typos in endings ("jackts"), whole words of title,
    // brand, tags and colours the rest ("lether"). Not descriptions: their
    // terms are many, and a typo matching one of them finds more noise
    // than products.
    vec![
        (Occur::Should, Box::new(Typos::new(f.title, &w.stem))),
        (Occur::Should, Box::new(Typos::new(f.words, raw))),
    ]
}

/// Every word must match, in any text field: exactly (BM25 plus a bonus
/// per word) or, for long words, at one edit (no score of its own).
fn text_query(f: &Fields, words: &[Word]) -> Box<dyn Query> {
    let per_word = words.iter().map(|w| {
        let mut either: Vec<(Occur, Box<dyn Query>)> = vec![
            (
                Occur::Should,
                Box::new(ConstScoreQuery::new(exact_word(f, w), EXACT_BONUS)),
            ),
            (Occur::Should, exact_word(f, w)),
        ];
        let typos = typo_clauses(f, w);
        if !typos.is_empty() {
            either.push((
                Occur::Should,
                Box::new(ConstScoreQuery::new(
                    Box::new(BooleanQuery::new(typos)),
                    0.0,
                )),
            ));
        }
        (
            Occur::Must,
            Box::new(BooleanQuery::new(either)) as Box<dyn Query>,
        )
    });
    Box::new(BooleanQuery::new(per_word.collect()))
}

/// The same matches as [`text_query`], unscored: what totals and facets
/// count, and what a search sorted by a number field pages through. One
/// flat union a word, each term once.
fn matching_query(f: &Fields, words: &[Word]) -> Box<dyn Query> {
    let basic = IndexRecordOption::Basic;
    let per_word = words.iter().map(|w| {
        let mut any: Vec<(Occur, Box<dyn Query>)> = [f.title, f.description, f.brand_text, f.tags]
            .into_iter()
            .map(|field| (Occur::Should, term_query(field, &w.stem, basic)))
            .collect();
        any.extend(typo_clauses(f, w));
        (
            Occur::Must,
            Box::new(BooleanQuery::new(any)) as Box<dyn Query>,
        )
    });
    Box::new(BooleanQuery::new(per_word.collect()))
}

/// Only the matches of every word exactly, by BM25: [`text_query`]'s
/// order among them (each has the same bonus), and a plain union of
/// scored terms for one word, which tantivy can prune (see
/// [`crate::scored`]).
fn exact_query(f: &Fields, words: &[Word]) -> Box<dyn Query> {
    match words {
        [one] => exact_word(f, one),
        _ => Box::new(BooleanQuery::new(
            words
                .iter()
                .map(|w| (Occur::Must, exact_word(f, w)))
                .collect(),
        )),
    }
}

/// `text` (if any) with every filter, which scores nothing; everything
/// when there is neither.
fn with_filters(text: Option<Box<dyn Query>>, filters: &[Box<dyn Query>]) -> Box<dyn Query> {
    if filters.is_empty()
        && let Some(text) = text
    {
        return text;
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    clauses.extend(text.map(|t| (Occur::Must, t)));
    for filter in filters {
        clauses.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0)),
        ));
    }
    if clauses.is_empty() {
        Box::new(AllQuery)
    } else {
        Box::new(BooleanQuery::new(clauses))
    }
}

fn trimmed(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A request's filters: term filters as queries that score nothing, number
/// ranges apart (see [`crate::blocks`]).
struct Filters {
    queries: Vec<Box<dyn Query>>,
    ranges: Vec<FastRange>,
}

/// `text`: whether words of a query match too.
fn filters(f: &Fields, r: &SearchProducts, text: bool, now: OffsetDateTime) -> Filters {
    let basic = IndexRecordOption::Basic;
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    let mut ranges = Vec::new();
    if let Some(c) = trimmed(&r.subcategory) {
        out.push(term_query(f.subcategory, c, basic));
    }
    if let Some(c) = trimmed(&r.shop) {
        out.push(term_query(f.shop, c, basic));
    }
    if r.min_price.is_some() || r.max_price.is_some() {
        ranges.push(FastRange::numbers(names::PRICE, prices(r)));
    }
    // One value is a term query: a term set builds a bitset of the whole
    // segment first, whatever it matches.
    let any_of = |field, values: Vec<String>| -> Option<Box<dyn Query>> {
        match values.as_slice() {
            [] => None,
            [one] => Some(term_query(field, one, basic)),
            many => Some(Box::new(TermSetQuery::new(
                many.iter().map(|v| Term::from_field_text(field, v)),
            ))),
        }
    };
    let colors = r
        .colors
        .iter()
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    out.extend(any_of(f.colors, colors));
    let sizes = r
        .sizes
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    out.extend(any_of(f.sizes, sizes));
    if let Some(m) = r.min_rating.filter(|m| *m > 0.0) {
        let term = Term::from_field_f64(f.rating, m);
        out.push(Box::new(RangeQuery::new(
            Bound::Included(term),
            Bound::Unbounded,
        )));
    }
    if r.in_stock {
        ranges.push(FastRange::numbers(names::STOCK, 1..=i64::MAX));
    }
    if r.on_sale {
        out.push(Box::new(TermQuery::new(
            Term::from_field_bool(f.on_sale, true),
            basic,
        )));
    }
    if r.event {
        let now = now.unix_timestamp();
        ranges.push(FastRange::numbers(names::EVENT_STARTS, i64::MIN..=now));
        ranges.push(FastRange::numbers(
            names::EVENT_ENDS,
            now.saturating_add(1)..=i64::MAX,
        ));
    }
    // A category alone is the whole query: its postings are the matches.
    // Beside words or another term, it is checked on their matches'
    // column instead: intersecting a category's postings (a sixth of the
    // catalog) was a quarter of a filtered listing's CPU at 1M products,
    // and with words it would cost a one-word search its pruning (see
    // `crate::scored`).
    if let Some(c) = trimmed(&r.category) {
        if out.is_empty() && !text {
            out.push(term_query(f.category, c, basic));
        } else {
            ranges.insert(0, FastRange::text(names::CATEGORY, c));
        }
    }
    Filters {
        queries: out,
        ranges,
    }
}

/// Totals and facets of `query`'s matches passing `ranges`, counted in
/// blocks.
fn count(
    searcher: &Searcher,
    query: &dyn Query,
    ranges: &[FastRange],
    facets: FacetsCollector,
) -> Result<Totals, SearchError> {
    let counts = searcher.search(query, &Blocks::new(facets, ranges.to_vec()))?;
    Ok((counts.total, counts.facets()))
}

/// The page of a search by relevance. Every match of all words exactly
/// ranks above any match with a typo, so when at least the page's end (or
/// every match) matches exactly, the page comes from the exact matches
/// alone: a cheaper query, often one tantivy can prune, ordered by BM25
/// (the whole query adds the same bonus to each of them). Otherwise the
/// whole query, bonus and all, ranks every match; in `f32`, a bonus of
/// 1,000 can round two scores a hair apart to equal, where sales decide.
fn relevance_page(
    searcher: &Searcher,
    (f, words): (&Fields, &[Word]),
    filters: &Filters,
    total: u64,
    (offset, limit): (usize, usize),
) -> Result<Vec<DocAddress>, SearchError> {
    if total <= offset as u64 {
        return Ok(Vec::new());
    }
    // A collector a search: it carries a bound from segment to segment.
    let top = || TopByScore::new(names::SALES, filters.ranges.clone(), (offset, limit));
    let exact: Ranked = searcher.search(
        &*with_filters(Some(exact_query(f, words)), &filters.queries),
        &top(),
    )?;
    if exact.kept >= offset + limit || exact.kept as u64 == total {
        return Ok(exact.page);
    }
    let all: Ranked = searcher.search(
        &*with_filters(Some(text_query(f, words)), &filters.queries),
        &top(),
    )?;
    Ok(all.page)
}

/// What totals and facets depend on: the query and filters, not the sort
/// or the page. `None` when they also depend on the moment (live flash
/// sales).
fn counts_key(s: &Valid<'_>) -> Result<Option<String>, SearchError> {
    if s.request.event {
        return Ok(None);
    }
    let key = SearchProducts {
        q: s.q.clone(),
        sort: SortOrder::default(),
        page: None,
        page_size: None,
        ..s.request.clone()
    };
    Ok(Some(serde_json::to_string(&key)?))
}

fn search(
    queries: &Queries,
    searcher: &Searcher,
    request: &SearchProducts,
    now: OffsetDateTime,
) -> Result<SearchResults, SearchError> {
    let s = validate(request)?;
    let f = &queries.fields;
    let words = s.q.as_deref().map(|q| words_of(queries, q));
    let words = match words {
        // Only stop words: nothing in the index can match.
        Some(words) if words.is_empty() => return Ok(empty_page(&s)),
        words => words,
    };
    let filters = filters(f, s.request, words.is_some(), now);
    let matching = with_filters(
        words.as_deref().map(|w| matching_query(f, w)),
        &filters.queries,
    );
    let facets = || {
        FacetsCollector::new(
            trimmed(&s.request.category),
            trimmed(&s.request.subcategory),
            queries.masks.clone(),
        )
    };
    let (limit, offset) = (s.page_size as usize, ((s.page - 1) * s.page_size) as usize);
    let generation = searcher.generation().generation_id();
    let key = counts_key(&s)?;
    let known = key
        .as_deref()
        .and_then(|k| queries.counts().get(generation, k));
    let counted = known.is_none();
    let (page, (total, facets)) = match (s.request.sort, &words) {
        (SortOrder::Relevance, Some(words)) => {
            let totals = match known {
                Some(totals) => totals,
                None => count(searcher, &*matching, &filters.ranges, facets())?,
            };
            let page = relevance_page(searcher, (f, words), &filters, totals.0, (offset, limit))?;
            (page, totals)
        }
        // The page and, unless already known, the counts: in one pass
        // over the matches.
        (sort, _) => {
            let top = TopByFields::new(sort_fields(sort), offset, limit);
            let addresses = |page: Vec<(u128, DocAddress)>| -> Vec<DocAddress> {
                page.into_iter().map(|(_, a)| a).collect()
            };
            let listing = match words {
                None => category_listing(s.request, offset + limit),
                Some(_) => None,
            };
            if let Some(listing) = listing {
                // Counted again even when known: on the ladder that is
                // cheaper than walking the matches for the page alone.
                let laddered = Laddered {
                    walk: Blocks::new((top, facets()), filters.ranges),
                    ladders: queries.ladders.clone(),
                    listing,
                };
                let (page, counts) = searcher.search(&*matching, &laddered)?;
                let totals = known.unwrap_or_else(|| (counts.total, counts.facets()));
                (addresses(page), totals)
            } else if let Some(totals) = known {
                let page = searcher.search(&*matching, &Blocks::new(top, filters.ranges))?;
                (addresses(page), totals)
            } else {
                let (page, counts) =
                    searcher.search(&*matching, &Blocks::new((top, facets()), filters.ranges))?;
                (addresses(page), (counts.total, counts.facets()))
            }
        }
    };
    let mut english = queries.english.clone();
    let mut raw = queries.words.clone();
    let mut judged = HashMap::new();
    let mut items = Vec::with_capacity(page.len());
    for addr in page {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let stored = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("");
        let mut summary: ProductSummary = serde_json::from_str(stored(f.summary))?;
        summary.event_live = is_live(summary.flash_sale.as_ref(), now);
        if let Some(words) = &words {
            let marked = highlight(
                stored(f.search_text),
                words,
                &mut english,
                &mut raw,
                &mut judged,
            );
            summary.snippet_html = Some(snippet_html(&marked));
        }
        items.push(summary);
    }
    if counted && let Some(key) = key {
        queries
            .counts()
            .put(generation, key, (total, facets.clone()));
    }
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    Ok(SearchResults {
        items,
        total,
        total_is_lower_bound: false,
        page: s.page,
        page_size: s.page_size,
        pages: pages(total, s.page_size),
        facets,
    })
}

/// The prices a request asks for, unbounded where it sets no bound.
fn prices(r: &SearchProducts) -> RangeInclusive<i64> {
    r.min_price.unwrap_or(i64::MIN)..=r.max_price.unwrap_or(i64::MAX)
}

/// The listing as a ladder can answer it (see [`crate::ladder`]): a
/// category, maybe a subcategory and a price range, by price or newest
/// first (as a listing without words is by relevance), and no other
/// filter. `keep` is the page's end.
fn category_listing(r: &SearchProducts, keep: usize) -> Option<CategoryListing> {
    let sort = match r.sort {
        SortOrder::PriceAsc => ListingSort::Price(Order::Asc),
        SortOrder::PriceDesc => ListingSort::Price(Order::Desc),
        SortOrder::Relevance | SortOrder::Newest => ListingSort::Newest,
        SortOrder::TopSales | SortOrder::Rating => return None,
    };
    let plain = r.shop.is_none()
        && r.colors.is_empty()
        && r.sizes.is_empty()
        && r.min_rating.is_none()
        && !r.in_stock
        && !r.on_sale
        && !r.event;
    if !plain {
        return None;
    }
    Some(CategoryListing {
        category: trimmed(&r.category)?.to_owned(),
        subcategory: trimmed(&r.subcategory).map(str::to_owned),
        prices: prices(r),
        sort,
        keep,
    })
}

/// The number fields a sort orders by, for [`TopByFields`] (relevance
/// without a query is newest first).
fn sort_fields(sort: SortOrder) -> Vec<SortField> {
    let field = |name, kind, order| SortField { name, kind, order };
    match sort {
        SortOrder::Relevance | SortOrder::Newest => {
            vec![field(names::CREATED_AT, FieldKind::I64, Order::Desc)]
        }
        SortOrder::PriceAsc => vec![field(names::PRICE, FieldKind::I64, Order::Asc)],
        SortOrder::PriceDesc => vec![field(names::PRICE, FieldKind::I64, Order::Desc)],
        SortOrder::TopSales => vec![field(names::SALES, FieldKind::I64, Order::Desc)],
        SortOrder::Rating => vec![
            field(names::RATING, FieldKind::F64, Order::Desc),
            field(names::RATING_COUNT, FieldKind::I64, Order::Desc),
        ],
    }
}

fn pages(total: i64, page_size: u32) -> u32 {
    u32::try_from((total + i64::from(page_size) - 1) / i64::from(page_size)).unwrap_or(u32::MAX)
}

fn empty_page(s: &Valid<'_>) -> SearchResults {
    SearchResults {
        items: Vec::new(),
        total: 0,
        total_is_lower_bound: false,
        page: s.page,
        page_size: s.page_size,
        pages: 0,
        facets: Counts::default().facets(),
    }
}

/// Whether a flash sale is running at `now` (as the catalog judges it).
fn is_live(sale: Option<&FlashSale>, now: OffsetDateTime) -> bool {
    let Some(sale) = sale else { return false };
    let now = now.unix_timestamp();
    matches!(
        (unix_seconds(&sale.starts_at), unix_seconds(&sale.ends_at)),
        (Some(s), Some(e)) if s <= now && now < e
    )
}

/// `text` with every word that matched the query between the marks, as far
/// as a snippet can show: past [`SNIPPET_LENGTH`] characters from the first
/// match, words are neither stemmed nor marked (a snippet never reaches
/// them). Whether a word matches is judged once per page (`judged`): the
/// results of one search share most of their words, and stemming every
/// word of every description was most of a search's time.
fn highlight(
    text: &str,
    words: &[Word],
    english: &mut TextAnalyzer,
    raw: &mut TextAnalyzer,
    judged: &mut HashMap<String, bool>,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    // Since the first match: where counting stopped and the characters counted.
    let mut since_first: Option<(usize, usize)> = None;
    let mut stream = raw.token_stream(text);
    while stream.advance() {
        let token = stream.token();
        let (from, to) = (token.offset_from, token.offset_to);
        if let Some((counted_to, chars)) = &mut since_first {
            *chars += text.get(*counted_to..from).map_or(0, |s| s.chars().count());
            *counted_to = from.max(*counted_to);
            if *chars > SNIPPET_LENGTH {
                break;
            }
        }
        let hit = match judged.get(token.text.as_str()) {
            Some(hit) => *hit,
            None => {
                let hit = matches(&token.text, words, english);
                judged.insert(token.text.clone(), hit);
                hit
            }
        };
        if hit && from >= at && text.is_char_boundary(from) && text.is_char_boundary(to) {
            out.push_str(&text[at..from]);
            out.push(MARK_OPEN);
            out.push_str(&text[from..to]);
            out.push(MARK_CLOSE);
            at = to;
            since_first.get_or_insert((from, 0));
        }
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `word` (as the raw analyzer gives it) matches one of the query's
/// words: the same stem, or for long words within one edit.
fn matches(word: &str, words: &[Word], english: &mut TextAnalyzer) -> bool {
    let Some(stem) = text::stem(english, word) else {
        return false;
    };
    words.iter().any(|w| {
        stem == w.stem
            || w.fuzzy.as_deref().is_some_and(|fuzzy| {
                text::within_one_edit(&stem, &w.stem) || text::within_one_edit(word, fuzzy)
            })
    })
}

/// The characters a snippet shows.
const SNIPPET_LENGTH: usize = 160;

/// Around the first match, at most ~160 characters, HTML-escaped, matches in
/// `<mark>` (the catalog's snippet, character for character).
pub fn snippet_html(highlighted: &str) -> String {
    const BEFORE: usize = 60;
    const LENGTH: usize = SNIPPET_LENGTH;
    let chars: Vec<char> = highlighted.chars().collect();
    let first = chars.iter().position(|&c| c == MARK_OPEN).unwrap_or(0);
    let mut start = first.saturating_sub(BEFORE);
    // Start at a word boundary.
    while start > 0 && start < first && !chars[start - 1].is_whitespace() {
        start += 1;
    }
    let end = (start + LENGTH).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut open = false;
    for &c in &chars[start..end] {
        match c {
            MARK_OPEN => {
                out.push_str("<mark>");
                open = true;
            }
            MARK_CLOSE => {
                out.push_str("</mark>");
                open = false;
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Title completions: live titles with a word starting with every typed
/// word (of two letters or more), best sellers first.
fn suggest(
    queries: &Queries,
    searcher: &Searcher,
    request: &SuggestRequest,
) -> Result<Suggestions, SearchError> {
    let none = || Suggestions {
        suggestions: Vec::new(),
    };
    let Some(q) = normalise_query(Some(&request.q)) else {
        return Ok(none());
    };
    let mut prefixes: Vec<String> = text::tokens(&mut queries.words.clone(), &q)
        .into_iter()
        .filter(|t| t.term.chars().count() >= PREFIX_MIN)
        .map(|t| t.term.chars().take(PREFIX_MAX).collect())
        .collect();
    prefixes.sort();
    prefixes.dedup();
    if prefixes.is_empty() {
        return Ok(none());
    }
    let f = &queries.fields;
    let query = BooleanQuery::new(
        prefixes
            .iter()
            .map(|p| {
                (
                    Occur::Must,
                    term_query(f.title_prefix, p, IndexRecordOption::Basic),
                )
            })
            .collect(),
    );
    let top =
        TopDocs::with_limit(SUGGESTIONS).order_by_fast_field::<i64>(names::SALES, Order::Desc);
    let mut suggestions = Vec::new();
    for (_, addr) in searcher.search(&query, &top)? {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let summary = doc
            .get_first(f.summary)
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let summary: ProductSummary = serde_json::from_str(summary)?;
        suggestions.push(Suggestion {
            title: summary.title,
            slug: summary.slug,
        });
    }
    Ok(Suggestions { suggestions })
}
