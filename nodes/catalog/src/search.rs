//! Browse and search: one parameterised SurrealQL query for the page, its
//! total and its facet counts. User text only ever travels as a bound
//! parameter, never spliced into the query.

use bazaar_schema::{Db, take_rows};
use bazaar_subjects::Validator;
use bazaar_subjects::catalog::{
    FacetCount, Facets, MAX_PAGE_SIZE, MAX_RESULT_WINDOW, ProductSummary, SearchProducts,
    SearchResults, SortOrder, Suggestion, Suggestions,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::CatalogError;

pub const DEFAULT_PAGE_SIZE: u32 = 24;
/// Longer queries are cut (a search box, not a document).
const MAX_QUERY_CHARS: usize = 200;
/// Facet values shown per facet.
const FACET_LIMIT: u32 = 30;
/// Matches are counted, and facets counted over, up to this many: counting
/// every match cost ~0.1 ms a product, seconds for a broad search in a large
/// catalog. Past it the total says "1,000+".
pub const FACET_SAMPLE: u32 = 1000;

/// Marks around matches in highlights; control characters, so they cannot
/// collide with product text, and replaced by `<mark>` after escaping.
const MARK_OPEN: &str = "\u{1}";
const MARK_CLOSE: &str = "\u{2}";

/// What a result card shows, projected straight from a product row.
pub const SUMMARY_FIELDS: &str = "record::id(id) AS id, slug, title, images[0] AS image, \
    regular_price, sale_price, price, currency, stock > 0 AS in_stock, rating_avg, rating_count, \
    sales, shop_slug, shop_name, category, \
    IF event_starts THEN { starts_at: <string>event_starts, ends_at: <string>event_ends } END AS flash_sale, \
    false AS event_live, <string>created_at AS created_at";

/// A request checked and normalised: the query words and the page.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSearch {
    pub request: SearchProducts,
    pub q: Option<String>,
    pub page: u32,
    pub page_size: u32,
}

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

pub fn validate(request: SearchProducts) -> Result<ValidSearch, CatalogError> {
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
    v.finish().map_err(CatalogError::Invalid)?;
    Ok(ValidSearch {
        q: normalise_query(request.q.as_deref()),
        page,
        page_size,
        request,
    })
}

/// A search's WHERE clause in the two orders its price conditions can take.
struct Clauses {
    /// For scans that walk prices upwards, or in no price order.
    upward: String,
    /// For scans that walk prices downwards.
    downward: String,
}

/// The WHERE clauses and their parameters for a search's filters.
fn conditions(s: &ValidSearch) -> (Clauses, serde_json::Map<String, Value>) {
    let r = &s.request;
    let mut conds = vec!["live = true".to_owned()];
    let mut params = serde_json::Map::new();
    let mut bind = |conds: &mut Vec<String>, cond: &str, name: &str, value: Value| {
        conds.push(cond.to_owned());
        params.insert(name.to_owned(), value);
    };
    if let Some(q) = &s.q {
        bind(&mut conds, "search_text @1@ $q", "q", json!(q));
    }
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(c) = text(&r.category) {
        bind(&mut conds, "category = $category", "category", json!(c));
    }
    if let Some(c) = text(&r.subcategory) {
        bind(
            &mut conds,
            "subcategory = $subcategory",
            "subcategory",
            json!(c),
        );
    }
    if let Some(c) = text(&r.shop) {
        bind(&mut conds, "shop_slug = $shop", "shop", json!(c));
    }
    // SurrealDB 3.3 bounds an index scan by the first price condition only
    // and filters by the second, so the bound the scan starts from goes
    // first: the ceiling when walking prices downwards, the floor otherwise.
    // The other way round, a category by price, high to low, read every
    // product above the ceiling (1.3 s instead of 16 ms at 100,000).
    // Unsorted reads (the facets' sample) walk upwards from the floor: past
    // the ceiling prices thin out, while below the floor they are dense.
    let floor_at = conds.len();
    if let Some(p) = r.min_price {
        bind(&mut conds, "price >= $min_price", "min_price", json!(p));
    }
    if let Some(p) = r.max_price {
        bind(&mut conds, "price <= $max_price", "max_price", json!(p));
    }
    let both_bounds = r.min_price.is_some() && r.max_price.is_some();
    let colors: Vec<String> = r
        .colors
        .iter()
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    if !colors.is_empty() {
        bind(
            &mut conds,
            "colors CONTAINSANY $colors",
            "colors",
            json!(colors),
        );
    }
    let sizes: Vec<String> = r
        .sizes
        .iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if !sizes.is_empty() {
        bind(
            &mut conds,
            "sizes CONTAINSANY $sizes",
            "sizes",
            json!(sizes),
        );
    }
    if let Some(m) = r.min_rating.filter(|m| *m > 0.0) {
        bind(
            &mut conds,
            "rating_avg >= $min_rating",
            "min_rating",
            json!(m),
        );
    }
    if r.in_stock {
        conds.push("stock > 0".to_owned());
    }
    if r.on_sale {
        conds.push("sale_price != NONE".to_owned());
    }
    if r.event {
        conds.push("event_starts <= time::now() AND event_ends > time::now()".to_owned());
    }
    let upward = conds.join(" AND ");
    if both_bounds {
        conds.swap(floor_at, floor_at + 1);
    }
    let downward = conds.join(" AND ");
    (Clauses { upward, downward }, params)
}

fn order_by(s: &ValidSearch) -> &'static str {
    match (s.request.sort, s.q.is_some()) {
        (SortOrder::Relevance, true) => "score DESC, sales DESC",
        (SortOrder::Relevance | SortOrder::Newest, _) => "created_at DESC",
        (SortOrder::PriceAsc, _) => "price ASC",
        (SortOrder::PriceDesc, _) => "price DESC",
        (SortOrder::TopSales, _) => "sales DESC",
        (SortOrder::Rating, _) => "rating_avg DESC, rating_count DESC",
    }
}

/// The whole search. Statement 0 is the page; 1 reads the facet fields of
/// up to [`FACET_SAMPLE`] + 1 matches once (`LET $matches`, the one more
/// says whether there are more); 2 is their number; 3 drops the one more;
/// 4..=8 count the facets over at most [`FACET_SAMPLE`] of them.
pub fn query_text(s: &ValidSearch) -> (String, serde_json::Map<String, Value>) {
    let (clauses, mut params) = conditions(s);
    let cond = match s.request.sort {
        SortOrder::PriceDesc => &clauses.downward,
        _ => &clauses.upward,
    };
    let sample_cond = &clauses.upward;
    let extra = if s.q.is_some() {
        ", search::score(1) AS score, search::highlight($mark_open, $mark_close, 1) AS highlight"
    } else {
        ""
    };
    params.insert("mark_open".into(), json!(MARK_OPEN));
    params.insert("mark_close".into(), json!(MARK_CLOSE));
    params.insert("limit".into(), json!(s.page_size));
    params.insert("start".into(), json!((s.page - 1) * s.page_size));
    params.insert("facet_limit".into(), json!(FACET_LIMIT));
    params.insert("sample".into(), json!(FACET_SAMPLE));
    params.insert("sample_and_one".into(), json!(FACET_SAMPLE + 1));
    let order = order_by(s);
    let facet = |field: &str, split: bool| {
        if split {
            // SPLIT and GROUP cannot share a statement: split first.
            format!(
                "SELECT {field} AS value, count() AS count FROM (SELECT {field} FROM $matches WHERE {field} != [] SPLIT {field}) GROUP BY {field} ORDER BY count DESC LIMIT $facet_limit;"
            )
        } else {
            format!(
                "SELECT {field} AS value, count() AS count FROM $matches WHERE {field} != NONE GROUP BY {field} ORDER BY count DESC LIMIT $facet_limit;"
            )
        }
    };
    let sql = format!(
        "SELECT {SUMMARY_FIELDS}{extra} FROM product WHERE {cond} ORDER BY {order} LIMIT $limit START $start;
         LET $matches = SELECT category, subcategory, colors, sizes, brand FROM product WHERE {sample_cond} LIMIT $sample_and_one;
         [{{ total: array::len($matches) }}];
         LET $matches = array::slice($matches, 0, $sample);
         {}
         {}
         {}
         {}
         {}",
        facet("category", false),
        facet("subcategory", false),
        facet("colors", true),
        facet("sizes", true),
        facet("brand", false),
    );
    (sql, params)
}

#[derive(Deserialize)]
struct Total {
    total: i64,
}

#[derive(Deserialize)]
struct Row {
    #[serde(flatten)]
    summary: ProductSummary,
    #[serde(default)]
    highlight: Option<String>,
}

pub async fn search(db: &Db, s: &ValidSearch) -> Result<SearchResults, CatalogError> {
    let (sql, params) = query_text(s);
    let mut res = db.query(sql).bind(Value::Object(params)).await?.check()?;
    let rows: Vec<Row> = take_rows(&mut res, 0)?;
    // Statement 1 is the LET that reads the matches.
    let matched = take_rows::<Total>(&mut res, 2)?
        .into_iter()
        .next()
        .map_or(0, |t| t.total);
    let more = matched > i64::from(FACET_SAMPLE);
    let total = matched.min(i64::from(FACET_SAMPLE));
    let mut facet = |i: usize| -> Result<Vec<FacetCount>, CatalogError> {
        Ok(take_rows::<FacetCount>(&mut res, i)?)
    };
    let facets = Facets {
        categories: facet(4)?,
        subcategories: facet(5)?,
        colors: facet(6)?,
        sizes: facet(7)?,
        brands: facet(8)?,
        sampled: more.then_some(FACET_SAMPLE),
    };
    let items = rows
        .into_iter()
        .map(|row| {
            let mut summary = row.summary;
            summary.snippet_html = row.highlight.as_deref().map(snippet_html);
            summary
        })
        .collect();
    let pages = u32::try_from((total + i64::from(s.page_size) - 1) / i64::from(s.page_size))
        .unwrap_or(u32::MAX);
    Ok(SearchResults {
        items,
        total,
        total_is_lower_bound: more,
        page: s.page,
        page_size: s.page_size,
        pages,
        facets,
    })
}

/// Around the first match, at most ~160 characters, HTML-escaped, matches in
/// `<mark>`.
pub fn snippet_html(highlighted: &str) -> String {
    const BEFORE: usize = 60;
    const LENGTH: usize = 160;
    let chars: Vec<char> = highlighted.chars().collect();
    let first = chars
        .iter()
        .position(|c| c.to_string() == MARK_OPEN)
        .unwrap_or(0);
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
            '\u{1}' => {
                out.push_str("<mark>");
                open = true;
            }
            '\u{2}' => {
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

/// Title completions: titles with words starting with every typed word,
/// best sellers first.
pub async fn suggest(db: &Db, q: &str) -> Result<Suggestions, CatalogError> {
    let Some(q) = normalise_query(Some(q)) else {
        return Ok(Suggestions {
            suggestions: Vec::new(),
        });
    };
    let mut res = db
        .query(
            "SELECT title, slug, sales FROM product WHERE live = true AND title @2@ $q
               ORDER BY sales DESC LIMIT 8",
        )
        .bind(("q", q))
        .await?
        .check()?;
    let suggestions: Vec<Suggestion> = take_rows(&mut res, 0)?;
    Ok(Suggestions { suggestions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_cleaned_not_refused() {
        assert_eq!(
            normalise_query(Some("  red\u{0}  shoes ")),
            Some("red shoes".into())
        );
        assert_eq!(
            normalise_query(Some("'; DROP TABLE product; --")),
            Some("'; DROP TABLE product; --".into())
        );
        assert_eq!(normalise_query(Some("  ")), None);
        assert_eq!(normalise_query(Some("!!!")), None);
        assert_eq!(
            normalise_query(Some(&"a".repeat(1000))).map(|q| q.len()),
            Some(200)
        );
    }

    #[test]
    fn snippets_escape_text_and_mark_matches() {
        let s = snippet_html("<b>Red</b> \u{1}shoes\u{2} & more");
        assert_eq!(s, "&lt;b&gt;Red&lt;/b&gt; <mark>shoes</mark> &amp; more");
        let long = format!(
            "{} \u{1}match\u{2} {}",
            "word ".repeat(50),
            "tail ".repeat(50)
        );
        let s = snippet_html(&long);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>match</mark>"));
    }

    #[test]
    fn deep_pages_and_bad_ranges_are_refused() {
        let err = |r: SearchProducts| match validate(r) {
            Err(CatalogError::Invalid(e)) => e.fields[0].field.clone(),
            _ => "accepted".into(),
        };
        assert_eq!(
            err(SearchProducts {
                page: Some(1000),
                page_size: Some(60),
                ..Default::default()
            }),
            "page"
        );
        assert_eq!(
            err(SearchProducts {
                page_size: Some(61),
                ..Default::default()
            }),
            "page_size"
        );
        assert_eq!(
            err(SearchProducts {
                min_price: Some(10),
                max_price: Some(5),
                ..Default::default()
            }),
            "price"
        );
        assert_eq!(
            err(SearchProducts {
                min_rating: Some(f64::NAN),
                ..Default::default()
            }),
            "min_rating"
        );
    }
}

/// The queries themselves, against an embedded database.
#[cfg(test)]
mod db_tests {
    use super::*;
    use serde_json::json;

    async fn db_with(products: &[(&str, &str, i64, &[&str], &str)]) -> Db {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        for (i, (title, category, price, colors, text)) in products.iter().enumerate() {
            db.query(
                "CREATE type::record('product', $id) SET seller = 's', shop_id = 'shop1',
                    shop_slug = 'acme', shop_name = 'Acme', slug = $id, title = $title,
                    category = $category, colors = $colors, regular_price = $price,
                    price = $price, currency = 'USD', stock = 1, status = 'active', live = true,
                    search_text = $text, sales = $sales, brand = 'Acme',
                    created_at = time::now() + <duration>$offset",
            )
            .bind(("id", format!("p{i}")))
            .bind(("title", title.to_string()))
            .bind(("category", category.to_string()))
            .bind(("colors", json!(colors)))
            .bind(("price", *price))
            .bind(("text", format!("{title} {text}")))
            .bind(("sales", i as i64))
            .bind(("offset", format!("{i}s")))
            .await
            .unwrap()
            .check()
            .unwrap();
        }
        db
    }

    fn req(r: SearchProducts) -> ValidSearch {
        validate(r).map_err(|e| e.to_string()).unwrap()
    }

    /// A price range sorted by price walks the category's price index from
    /// the end it sorts from, bounded there; it does not read past the
    /// range first (see `conditions`). The facets' sample walks up from the
    /// floor whatever the sort.
    #[tokio::test]
    async fn a_price_range_scan_starts_at_the_bound_it_sorts_from() {
        let mut products = Vec::new();
        for i in 0..40_i64 {
            products.push(("Desk lamp", "electronics", 500 + i * 500, &[][..], ""));
        }
        let db = db_with(&products).await;
        for (sort, bound) in [
            (SortOrder::PriceDesc, "LessThanEqual 8000"),
            (SortOrder::PriceAsc, "MoreThanEqual 1000"),
        ] {
            let s = req(SearchProducts {
                category: Some("electronics".into()),
                min_price: Some(1_000),
                max_price: Some(8_000),
                sort,
                page_size: Some(5),
                ..Default::default()
            });
            let (sql, params) = query_text(&s);
            let statements: Vec<&str> = sql.split(';').collect();
            let sample = statements[1].trim().trim_start_matches("LET $matches = ");
            // The page from the end it sorts from; the facets' sample,
            // unsorted, upwards from the floor.
            for (statement, bound) in [(statements[0], bound), (sample, "MoreThanEqual 1000")] {
                let mut res = db
                    .query(format!("{statement} EXPLAIN"))
                    .bind(Value::Object(params.clone()))
                    .await
                    .unwrap();
                let plan: Option<Value> = res.take(0).unwrap();
                let plan = plan.unwrap().to_string();
                assert!(
                    plan.contains("product_live_category_price") && plan.contains(bound),
                    "{sort:?}, {statement}: {plan}"
                );
            }
            let found = search(&db, &s).await.unwrap();
            let prices: Vec<i64> = found.items.iter().map(|p| p.price).collect();
            let expected: Vec<i64> = match sort {
                SortOrder::PriceDesc => vec![8000, 7500, 7000, 6500, 6000],
                _ => vec![1000, 1500, 2000, 2500, 3000],
            };
            assert_eq!(prices, expected);
            assert_eq!(found.total, 15);
        }
    }

    #[tokio::test]
    async fn search_stems_ranks_filters_counts_and_highlights() {
        let db = db_with(&[
            (
                "Running shoes",
                "fashion",
                5000,
                &["red", "blue"],
                "light shoes for runners <b>",
            ),
            (
                "Trail runner",
                "fashion",
                9000,
                &["red"],
                "shoe for running on trails",
            ),
            ("Coffee grinder", "home", 3000, &["black"], "burr grinder"),
        ])
        .await;
        let found = search(
            &db,
            &req(SearchProducts {
                q: Some("run".into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        let titles: Vec<_> = found.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(found.total, 2, "{titles:?}");
        assert!(titles.contains(&"Running shoes") && titles.contains(&"Trail runner"));
        let snippet = found.items[0].snippet_html.clone().unwrap();
        assert!(snippet.contains("<mark>"), "{snippet}");
        assert!(!snippet.contains("<b>"), "{snippet}");
        assert_eq!(
            found.facets.categories,
            vec![FacetCount {
                value: "fashion".into(),
                count: 2
            }]
        );
        let red = found
            .facets
            .colors
            .iter()
            .find(|c| c.value == "red")
            .unwrap();
        assert_eq!(red.count, 2);

        let cheap = search(
            &db,
            &req(SearchProducts {
                max_price: Some(6000),
                colors: vec!["Red".into()],
                sort: SortOrder::PriceAsc,
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        assert_eq!(cheap.items.len(), 1);
        assert_eq!(cheap.items[0].title, "Running shoes");

        let all = search(
            &db,
            &req(SearchProducts {
                sort: SortOrder::PriceDesc,
                page_size: Some(2),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        assert_eq!((all.total, all.pages, all.items.len()), (3, 2, 2));
        assert_eq!(all.items[0].title, "Trail runner");
        let newest = search(&db, &req(SearchProducts::default())).await.unwrap();
        assert_eq!(newest.items[0].title, "Coffee grinder");

        for hostile in [
            "'; DELETE product; --",
            "@1@",
            "$q",
            "\"",
            "((",
            "☃",
            "a AND b OR",
        ] {
            search(
                &db,
                &req(SearchProducts {
                    q: Some(hostile.into()),
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
        }
        let still = search(&db, &req(SearchProducts::default())).await.unwrap();
        assert_eq!(still.total, 3);
        let s = suggest(&db, "grind").await.unwrap();
        assert_eq!(s.suggestions[0].title, "Coffee grinder");
    }
}
