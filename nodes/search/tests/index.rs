//! The index on a temporary directory: ranking, typos, exact facets and
//! totals against a recount, sorts against a brute-force answer,
//! freshness, the applied sequence across a reopen, and hostile queries.

#![allow(clippy::unwrap_used)] // a failing test should stop right there

use std::collections::{HashMap, HashSet};

use bazaar_search::{ProductDoc, SearchError, SearchIndex};
use bazaar_subjects::catalog::{
    FacetCount, FlashSale, ProductSummary, SearchProducts, SortOrder, SuggestRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn product(id: usize, title: &str) -> ProductDoc {
    ProductDoc {
        id: format!("p{id}"),
        slug: format!("product-{id}"),
        title: title.to_owned(),
        description: String::new(),
        category: "fashion".into(),
        subcategory: None,
        shop_slug: "acme".into(),
        shop_name: "Acme".into(),
        tags: Vec::new(),
        brand: None,
        colors: Vec::new(),
        sizes: Vec::new(),
        image: None,
        regular_price: 1_000,
        sale_price: None,
        price: 1_000,
        currency: "USD".into(),
        stock: 1,
        rating_avg: 0.0,
        rating_count: 0,
        sales: 0,
        flash_sale: None,
        created_at: at(id as i64),
        live: true,
    }
}

/// An RFC 3339 time `seconds` after a fixed moment.
fn at(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(1_750_000_000 + seconds)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

fn index_of(docs: &[ProductDoc]) -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open_or_create(dir.path()).unwrap();
    for d in docs {
        index.upsert(d).unwrap();
    }
    index.commit_if_dirty().unwrap();
    (dir, index)
}

fn titles(index: &SearchIndex, q: &str) -> Vec<String> {
    let found = index
        .search(&SearchProducts {
            q: Some(q.into()),
            ..Default::default()
        })
        .unwrap();
    found.items.into_iter().map(|i| i.title).collect()
}

#[test]
fn an_exact_title_match_ranks_first_and_a_typo_still_finds_it() {
    let mut docs = vec![
        product(0, "Lather Shaving Soap"),
        product(1, "Leather Hiking Boots"),
        product(2, "Hiking Socks"),
        product(3, "Leathery Trail Boots"),
    ];
    docs[0].description = "A rich lather for leathery skin".into();
    docs[2].description = "Wear them with leather boots".into();
    let (_dir, index) = index_of(&docs);

    let found = titles(&index, "leather boots");
    assert_eq!(found[0], "Leather Hiking Boots", "{found:?}");
    // "Hiking Socks" says it only in its description.
    assert_eq!(found[1], "Hiking Socks", "{found:?}");

    // One letter missing, one swapped, one wrong: still found, first.
    for typo in ["lether", "laether", "leathr boots", "leaxher"] {
        let found = titles(&index, typo);
        assert!(
            found.contains(&"Leather Hiking Boots".to_owned()),
            "{typo}: {found:?}"
        );
    }
    // Exact matches rank above typo matches: "lather" is itself a word.
    let found = titles(&index, "lather");
    assert_eq!(found[0], "Lather Shaving Soap", "{found:?}");
    // Short words must be exact.
    assert!(titles(&index, "sock").contains(&"Hiking Socks".to_owned()));
    assert!(titles(&index, "bots").is_empty());
}

/// A page of exact matches and the next, which reaches the typos, agree:
/// paging through a search shows every match once, exact ones first, best
/// sellers first among equals.
#[test]
fn paging_through_a_search_shows_every_match_once_exact_ones_first() {
    let mut docs = Vec::new();
    for i in 0..30 {
        let mut d = product(i, "Leather Boots");
        d.sales = (i as i64 * 7) % 11;
        docs.push(d);
    }
    for i in 30..35 {
        docs.push(product(i, "Lather Soap"));
    }
    for i in 35..40 {
        docs.push(product(i, "Wool Socks"));
    }
    let (_dir, index) = index_of(&docs);
    let page = |page| {
        index
            .search(&SearchProducts {
                q: Some("leather".into()),
                page: Some(page),
                page_size: Some(12),
                ..Default::default()
            })
            .unwrap()
    };
    let mut seen: Vec<ProductSummary> = Vec::new();
    for n in 1..=4 {
        let found = page(n);
        assert_eq!(found.total, 35);
        seen.extend(found.items);
    }
    assert_eq!(seen.len(), 35);
    let mut slugs: Vec<&str> = seen.iter().map(|i| i.slug.as_str()).collect();
    slugs.sort_unstable();
    slugs.dedup();
    assert_eq!(slugs.len(), 35, "a match shown twice");
    assert!(seen[..30].iter().all(|i| i.title == "Leather Boots"));
    assert!(seen[30..].iter().all(|i| i.title == "Lather Soap"));
    // The same text scores the same: sales decide.
    let sales = |slug: &str| docs.iter().find(|d| d.slug == slug).unwrap().sales;
    assert!(
        seen[..30]
            .windows(2)
            .all(|w| sales(&w[0].slug) >= sales(&w[1].slug))
    );
}

#[test]
fn snippets_mark_matches_and_escape_the_rest() {
    let mut doc = product(0, "Running shoes");
    doc.description = "light shoes for running <b> & \"friends\"".into();
    let (_dir, index) = index_of(&[doc]);
    let found = index
        .search(&SearchProducts {
            q: Some("run".into()),
            ..Default::default()
        })
        .unwrap();
    let snippet = found.items[0].snippet_html.clone().unwrap();
    assert_eq!(
        snippet,
        "<mark>Running</mark> shoes light shoes for <mark>running</mark> &lt;b&gt; &amp; &quot;friends&quot;"
    );
    let browse = index.search(&SearchProducts::default()).unwrap();
    assert_eq!(browse.items[0].snippet_html, None);
}

#[test]
fn a_long_description_gives_a_snippet_around_its_first_match() {
    let mut doc = product(0, "Trail boots");
    // "running" at 90 characters from the start (inside the snippet), and
    // again far past it.
    let filler = "quiet words ".repeat(7);
    doc.description = format!("{filler}running {} running", "more words ".repeat(40));
    let (_dir, index) = index_of(&[doc]);
    let found = index
        .search(&SearchProducts {
            q: Some("running".into()),
            ..Default::default()
        })
        .unwrap();
    let snippet = found.items[0].snippet_html.clone().unwrap();
    assert_eq!(
        snippet.matches("<mark>running</mark>").count(),
        1,
        "{snippet}"
    );
    assert!(
        snippet.starts_with('…') && snippet.ends_with('…'),
        "{snippet}"
    );
    assert!(
        snippet.contains("quiet words <mark>running</mark> more words"),
        "{snippet}"
    );
}

const CATEGORIES: [&str; 3] = ["fashion", "home", "garden"];
const SUBCATEGORIES: [&str; 4] = ["shoes", "lamps", "tools", "bags"];
const COLORS: [&str; 5] = ["red", "blue", "black", "green", "white"];
const SIZES: [&str; 4] = ["S", "M", "L", "XL"];
const BRANDS: [&str; 3] = ["Voltix", "Lumio", "Orbitel"];
const NOUNS: [&str; 6] = ["lamp", "boots", "kettle", "spade", "tote", "jacket"];

fn random_catalog(n: usize, seed: u64) -> Vec<ProductDoc> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut d = product(
                i,
                &format!("Sturdy {}", NOUNS[rng.random_range(0..NOUNS.len())]),
            );
            d.category = CATEGORIES[rng.random_range(0..3)].into();
            d.subcategory = rng
                .random_bool(0.8)
                .then(|| SUBCATEGORIES[rng.random_range(0..4)].into());
            d.shop_slug = ["acme", "zenith"][rng.random_range(0..2)].into();
            d.colors = COLORS
                .iter()
                .filter(|_| rng.random_bool(0.3))
                .map(|c| c.to_string())
                .collect();
            d.sizes = SIZES
                .iter()
                .filter(|_| rng.random_bool(0.3))
                .map(|c| c.to_string())
                .collect();
            d.brand = rng
                .random_bool(0.7)
                .then(|| BRANDS[rng.random_range(0..3)].into());
            d.regular_price = rng.random_range(1..200) * 100;
            d.sale_price = rng
                .random_bool(0.3)
                .then(|| d.regular_price - rng.random_range(0..50));
            d.price = d.sale_price.unwrap_or(d.regular_price);
            d.stock = if rng.random_bool(0.2) {
                0
            } else {
                rng.random_range(1..50)
            };
            d.rating_avg = f64::from(rng.random_range(0..=50)) / 10.0;
            d.rating_count = rng.random_range(0..100);
            d.sales = rng.random_range(0..1000);
            d.created_at = at(i as i64 * 7 + rng.random_range(0..5));
            d
        })
        .collect()
}

/// Whether a product passes the request's filters (a text query is one
/// of the nouns, found in titles only).
fn passes(d: &ProductDoc, r: &SearchProducts) -> bool {
    let colors: Vec<String> = r.colors.iter().map(|c| c.trim().to_lowercase()).collect();
    d.live
        && r.q
            .as_ref()
            .is_none_or(|q| d.title.to_lowercase().contains(q.as_str()))
        && r.category.as_ref().is_none_or(|c| &d.category == c)
        && r.subcategory
            .as_ref()
            .is_none_or(|c| d.subcategory.as_ref() == Some(c))
        && r.shop.as_ref().is_none_or(|c| &d.shop_slug == c)
        && r.min_price.is_none_or(|p| d.price >= p)
        && r.max_price.is_none_or(|p| d.price <= p)
        && (colors.is_empty() || d.colors.iter().any(|c| colors.contains(c)))
        && (r.sizes.is_empty() || d.sizes.iter().any(|s| r.sizes.contains(s)))
        && r.min_rating.is_none_or(|m| m <= 0.0 || d.rating_avg >= m)
        && (!r.in_stock || d.stock > 0)
        && (!r.on_sale || d.sale_price.is_some())
}

fn recount<'a>(values: impl Iterator<Item = &'a str>) -> Vec<FacetCount> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut out: Vec<FacetCount> = counts
        .into_iter()
        .map(|(value, count)| FacetCount {
            value: value.to_owned(),
            count,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out.truncate(30);
    out
}

fn filter_sets() -> Vec<SearchProducts> {
    vec![
        SearchProducts::default(),
        SearchProducts {
            category: Some("home".into()),
            ..Default::default()
        },
        SearchProducts {
            category: Some("fashion".into()),
            subcategory: Some("shoes".into()),
            in_stock: true,
            ..Default::default()
        },
        SearchProducts {
            colors: vec!["Red".into(), " blue ".into()],
            sizes: vec!["M".into()],
            ..Default::default()
        },
        SearchProducts {
            min_price: Some(5_000),
            max_price: Some(12_000),
            on_sale: true,
            ..Default::default()
        },
        SearchProducts {
            shop: Some("zenith".into()),
            min_rating: Some(3.5),
            max_price: Some(9_000),
            ..Default::default()
        },
        SearchProducts {
            q: Some("boots".into()),
            ..Default::default()
        },
        SearchProducts {
            q: Some("kettle".into()),
            colors: vec!["green".into()],
            in_stock: true,
            ..Default::default()
        },
        SearchProducts {
            category: Some("nowhere".into()),
            ..Default::default()
        },
        // A category beside words or another term is checked on their
        // matches' column, not intersected: the same answers.
        SearchProducts {
            q: Some("boots".into()),
            category: Some("fashion".into()),
            ..Default::default()
        },
        SearchProducts {
            category: Some("home".into()),
            colors: vec!["red".into()],
            min_price: Some(2_000),
            ..Default::default()
        },
        SearchProducts {
            category: Some("nowhere".into()),
            on_sale: true,
            ..Default::default()
        },
    ]
}

#[test]
fn totals_and_facets_equal_a_recount() {
    let mut docs = random_catalog(400, 7);
    for d in docs.iter_mut().step_by(9) {
        d.live = false;
    }
    let (_dir, index) = index_of(&docs);
    assert_eq!(
        index.doc_count(),
        docs.iter().filter(|d| d.live).count() as u64
    );
    for request in filter_sets() {
        let found = index.search(&request).unwrap();
        let matching: Vec<&ProductDoc> = docs.iter().filter(|d| passes(d, &request)).collect();
        assert_eq!(found.total, matching.len() as i64, "{request:?}");
        // The page holds matches only.
        for item in &found.items {
            assert!(
                matching.iter().any(|d| d.id == item.id),
                "{} is not a match of {request:?}",
                item.id
            );
        }
        assert_eq!(found.items.len(), matching.len().min(24), "{request:?}");
        assert!(!found.total_is_lower_bound);
        assert_eq!(found.facets.sampled, None);
        let f = &found.facets;
        assert_eq!(
            f.categories,
            recount(matching.iter().map(|d| d.category.as_str())),
            "{request:?}"
        );
        assert_eq!(
            f.subcategories,
            recount(matching.iter().filter_map(|d| d.subcategory.as_deref())),
            "{request:?}"
        );
        assert_eq!(
            f.colors,
            recount(
                matching
                    .iter()
                    .flat_map(|d| d.colors.iter().map(String::as_str))
            ),
            "{request:?}"
        );
        assert_eq!(
            f.sizes,
            recount(
                matching
                    .iter()
                    .flat_map(|d| d.sizes.iter().map(String::as_str))
            ),
            "{request:?}"
        );
        assert_eq!(
            f.brands,
            recount(matching.iter().filter_map(|d| d.brand.as_deref())),
            "{request:?}"
        );
        // Another page in another order: the same counts (kept, not recounted).
        let again = index
            .search(&SearchProducts {
                sort: SortOrder::PriceDesc,
                page: Some(2),
                page_size: Some(5),
                ..request.clone()
            })
            .unwrap();
        assert_eq!((again.total, &again.facets), (found.total, &found.facets));
    }
    // After a commit the counts are counted again.
    let mut extra = product(10_000, "Sturdy boots");
    extra.category = "home".into();
    index.upsert(&extra).unwrap();
    index.commit_if_dirty().unwrap();
    let home = SearchProducts {
        category: Some("home".into()),
        ..Default::default()
    };
    let before = docs.iter().filter(|d| passes(d, &home)).count() as i64;
    assert_eq!(index.search(&home).unwrap().total, before + 1);
}

/// What a sort compares, as one comparable key (bigger first).
fn sort_key(d: &ProductDoc, sort: SortOrder) -> (i64, i64) {
    match sort {
        SortOrder::Relevance | SortOrder::Newest => (
            OffsetDateTime::parse(&d.created_at, &Rfc3339)
                .unwrap()
                .unix_timestamp(),
            0,
        ),
        SortOrder::PriceAsc => (-d.price, 0),
        SortOrder::PriceDesc => (d.price, 0),
        SortOrder::TopSales => (d.sales, 0),
        SortOrder::Rating => ((d.rating_avg * 10.0).round() as i64, d.rating_count),
    }
}

#[test]
fn price_ranges_and_sorts_agree_with_a_brute_force_answer() {
    let docs = random_catalog(300, 11);
    let (_dir, index) = index_of(&docs);
    let by_id: HashMap<&str, &ProductDoc> = docs.iter().map(|d| (d.id.as_str(), d)).collect();
    let ranges = [
        (None, None),
        (Some(2_000), None),
        (None, Some(8_000)),
        (Some(3_000), Some(3_000)),
        (Some(4_000), Some(15_000)),
    ];
    for sort in SortOrder::ALL {
        for (min_price, max_price) in ranges {
            for page in [1, 2, 3] {
                let request = SearchProducts {
                    min_price,
                    max_price,
                    sort,
                    page: Some(page),
                    page_size: Some(20),
                    ..Default::default()
                };
                let found = index.search(&request).unwrap();
                let mut expected: Vec<(i64, i64)> = docs
                    .iter()
                    .filter(|d| passes(d, &request))
                    .map(|d| sort_key(d, sort))
                    .collect();
                expected.sort_by(|a, b| b.cmp(a));
                let expected: Vec<(i64, i64)> = expected
                    .into_iter()
                    .skip((page as usize - 1) * 20)
                    .take(20)
                    .collect();
                let got: Vec<(i64, i64)> = found
                    .items
                    .iter()
                    .map(|i| sort_key(by_id[i.id.as_str()], sort))
                    .collect();
                assert_eq!(
                    got, expected,
                    "{sort:?} {min_price:?}..{max_price:?} page {page}"
                );
                let total = docs.iter().filter(|d| passes(d, &request)).count() as i64;
                assert_eq!(found.total, total);
                assert_eq!(found.pages as i64, (total + 19) / 20);
            }
        }
    }
}

/// A category listing sorted by price or newest first is read off each
/// segment's ladder; the same listing with a filter that changes nothing
/// (a minimum rating of 0) walks the matches instead. The two answers are
/// the same, ties, edits and deletions in older segments included, and
/// they match a brute-force count. (The other sorts walk both times.)
#[test]
fn category_listings_off_the_ladder_equal_the_walked_answer() {
    let mut docs = random_catalog(1_200, 5);
    // A hundred prices (0 to 9,900) and forty creation times: ties
    // everywhere.
    for (i, d) in docs.iter_mut().enumerate() {
        d.price = d.price / 200 * 100;
        d.created_at = at((i % 40) as i64);
    }
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open_or_create(dir.path()).unwrap();
    for chunk in docs.chunks(400) {
        for d in chunk {
            index.upsert(d).unwrap();
        }
        index.commit_if_dirty().unwrap();
    }
    for d in docs.iter_mut().step_by(7) {
        d.price += 1_000;
        index.upsert(d).unwrap();
    }
    let gone: HashSet<String> = docs
        .iter()
        .skip(3)
        .step_by(11)
        .map(|d| d.id.clone())
        .collect();
    for id in &gone {
        index.delete(id).unwrap();
    }
    index.commit_if_dirty().unwrap();
    let ids = |r: &bazaar_subjects::catalog::SearchResults| -> Vec<String> {
        r.items.iter().map(|i| i.id.clone()).collect()
    };
    // Wide ranges, narrow ones (one price is a hundredth of a scope), and
    // one beyond every price.
    let ranges = [
        (None, None),
        (Some(3_000), None),
        (None, Some(4_000)),
        (Some(5_000), Some(5_000)),
        (Some(2_000), Some(3_000)),
        (Some(500_000), None),
    ];
    let subcategories = std::iter::once(None).chain(SUBCATEGORIES.map(Some));
    let mut compared = 0;
    for category in CATEGORIES.iter().chain(&["nowhere"]) {
        for subcategory in subcategories.clone() {
            for (min_price, max_price) in ranges {
                for sort in SortOrder::ALL {
                    for (page, page_size) in [(1, 24), (1, 5), (2, 7), (9, 3)] {
                        let request = SearchProducts {
                            category: Some(category.to_string()),
                            subcategory: subcategory.map(str::to_owned),
                            min_price,
                            max_price,
                            sort,
                            page: Some(page),
                            page_size: Some(page_size),
                            ..Default::default()
                        };
                        let laddered = index.search(&request).unwrap();
                        let walked = index
                            .search(&SearchProducts {
                                min_rating: Some(0.0),
                                ..request.clone()
                            })
                            .unwrap();
                        let what = format!("{request:?}");
                        assert_eq!(ids(&laddered), ids(&walked), "{what}");
                        assert_eq!(laddered.total, walked.total, "{what}");
                        assert_eq!(laddered.facets, walked.facets, "{what}");
                        let matching = docs
                            .iter()
                            .filter(|d| !gone.contains(&d.id) && passes(d, &request))
                            .count();
                        assert_eq!(laddered.total, matching as i64, "{what}");
                        compared += laddered.items.len();
                    }
                }
            }
        }
    }
    assert!(compared > 1_000, "only {compared} products compared");
}

#[test]
fn flash_sales_are_live_only_inside_their_window() {
    let mut docs = vec![
        product(0, "Desk lamp"),
        product(1, "Floor lamp"),
        product(2, "Wall lamp"),
    ];
    docs[0].flash_sale = Some(FlashSale {
        starts_at: at(100),
        ends_at: at(200),
    });
    docs[1].flash_sale = Some(FlashSale {
        starts_at: at(300),
        ends_at: at(400),
    });
    let (_dir, index) = index_of(&docs);
    let now = OffsetDateTime::parse(&at(150), &Rfc3339).unwrap();
    let events = index
        .search_at(
            &SearchProducts {
                event: true,
                ..Default::default()
            },
            now,
        )
        .unwrap();
    assert_eq!(events.total, 1);
    assert_eq!(events.items[0].title, "Desk lamp");
    assert!(events.items[0].event_live);
    let all = index.search_at(&SearchProducts::default(), now).unwrap();
    let live: Vec<bool> = all.items.iter().map(|i| i.event_live).collect();
    // Newest first: wall, floor, desk.
    assert_eq!(live, [false, false, true]);
}

#[test]
fn writes_show_after_the_next_commit() {
    let (_dir, index) = index_of(&[product(0, "Copper kettle")]);
    assert_eq!(titles(&index, "kettle"), ["Copper kettle"]);

    let mut edited = product(0, "Enamel kettle");
    edited.stock = 0;
    index.upsert(&edited).unwrap();
    index.upsert(&product(1, "Steel kettle")).unwrap();
    // Not yet committed: searches still see the old state.
    assert_eq!(titles(&index, "kettle"), ["Copper kettle"]);
    assert!(index.commit_if_dirty().unwrap());
    assert!(!index.commit_if_dirty().unwrap(), "nothing left to commit");
    let mut found = titles(&index, "kettle");
    found.sort();
    assert_eq!(found, ["Enamel kettle", "Steel kettle"]);
    let in_stock = index
        .search(&SearchProducts {
            in_stock: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(in_stock.total, 1, "the sold-out edit is filtered");

    index.delete("p1").unwrap();
    let mut hidden = product(0, "Enamel kettle");
    hidden.live = false;
    index.upsert(&hidden).unwrap();
    index.commit_if_dirty().unwrap();
    assert!(titles(&index, "kettle").is_empty());
    assert_eq!(index.doc_count(), 0);
}

#[test]
fn the_last_applied_sequence_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open_or_create(dir.path()).unwrap();
        assert_eq!(index.last_applied_sequence(), None);
        index.upsert(&product(0, "Garden spade")).unwrap();
        index.mark_applied(41);
        index.mark_applied(42);
        // Not committed yet.
        assert_eq!(index.last_applied_sequence(), None);
        index.commit_if_dirty().unwrap();
        assert_eq!(index.last_applied_sequence(), Some(42));
    }
    let index = SearchIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.last_applied_sequence(), Some(42));
    assert_eq!(index.doc_count(), 1);
    // A sequence alone is a change worth committing.
    index.mark_applied(43);
    assert!(index.commit_if_dirty().unwrap());
    drop(index);
    let index = SearchIndex::open_or_create(dir.path()).unwrap();
    assert_eq!(index.last_applied_sequence(), Some(43));
}

#[test]
fn suggestions_complete_title_words_best_sellers_first() {
    let mut docs = vec![
        product(0, "Coffee grinder"),
        product(1, "Burr grinder deluxe"),
        product(2, "Grindstone"),
        product(3, "Pepper mill"),
    ];
    docs[0].sales = 5;
    docs[1].sales = 50;
    docs[2].sales = 1;
    let (_dir, index) = index_of(&docs);
    let suggest = |q: &str| -> Vec<String> {
        index
            .suggest(&SuggestRequest { q: q.into() })
            .unwrap()
            .suggestions
            .into_iter()
            .map(|s| s.title)
            .collect()
    };
    assert_eq!(
        suggest("grind"),
        ["Burr grinder deluxe", "Coffee grinder", "Grindstone"]
    );
    assert_eq!(suggest("co GRIN"), ["Coffee grinder"]);
    assert_eq!(
        suggest("gr"),
        ["Burr grinder deluxe", "Coffee grinder", "Grindstone"]
    );
    assert!(suggest("g").is_empty());
    assert!(suggest("").is_empty());
    assert!(suggest("grinderz").is_empty());
}

#[test]
fn a_query_of_any_length_or_characters_never_errors() {
    let mut docs = random_catalog(50, 3);
    docs[0].title = "title:( \"quoted\" * AND OR".into();
    let (_dir, index) = index_of(&docs);
    let mut rng = StdRng::seed_from_u64(99);
    let mut hostile: Vec<String> = [
        "title:(",
        "\"",
        "*",
        "**",
        "title:*",
        "a AND b OR",
        "-",
        "+",
        "~2",
        "^3",
        "[a TO z]",
        "{",
        "}",
        "\\",
        "'; DROP TABLE product; --",
        "@1@",
        "$q",
        "☃",
        "((",
        "))",
        "NOT",
        "?",
        "\u{0}",
        "\u{1}mark\u{2}",
        "💥💥",
        "ﬃ",
        "İstanbul",
        "日本語のテキスト",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    hostile.push("x".repeat(10_000));
    hostile.push("word ".repeat(2_000));
    hostile.push("abcdefghij ".repeat(1_000));
    for _ in 0..200 {
        let len = rng.random_range(0..300);
        hostile.push((0..len).map(|_| rng.random::<char>()).collect());
    }
    for q in &hostile {
        for sort in SortOrder::ALL {
            index
                .search(&SearchProducts {
                    q: Some(q.clone()),
                    sort,
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{q:?}: {e}"));
        }
        index
            .suggest(&SuggestRequest { q: q.clone() })
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }
    // Syntax is text: the title with it is found by its words.
    assert_eq!(
        titles(&index, "title:( \"quoted\""),
        ["title:( \"quoted\" * AND OR"]
    );
}

#[test]
fn pages_beyond_the_cap_and_bad_ranges_are_refused() {
    let (_dir, index) = index_of(&[product(0, "Lamp")]);
    let field = |r: SearchProducts| match index.search(&r) {
        Err(SearchError::Invalid(e)) => e.fields[0].field.clone(),
        Err(e) => panic!("{e}"),
        Ok(_) => "accepted".into(),
    };
    assert_eq!(
        field(SearchProducts {
            page: Some(1000),
            page_size: Some(60),
            ..Default::default()
        }),
        "page"
    );
    assert_eq!(
        field(SearchProducts {
            page_size: Some(61),
            ..Default::default()
        }),
        "page_size"
    );
    assert_eq!(
        field(SearchProducts {
            min_price: Some(10),
            max_price: Some(5),
            ..Default::default()
        }),
        "price"
    );
    assert_eq!(
        field(SearchProducts {
            min_rating: Some(f64::NAN),
            ..Default::default()
        }),
        "min_rating"
    );
    // The deepest page allowed answers (empty).
    let deep = index
        .search(&SearchProducts {
            page: Some(166),
            page_size: Some(60),
            ..Default::default()
        })
        .unwrap();
    assert!(deep.items.is_empty());
    assert_eq!(deep.total, 1);
}
