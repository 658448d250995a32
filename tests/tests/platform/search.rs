//! Search stories: every copy of the search node keeps its own index, fed
//! from the catalog's events; what sellers change is searchable within
//! moments, a copy started later or with its index wiped answers the same
//! as the others, counts agree with the database, and no query text breaks
//! it.

use std::time::{Duration, Instant};

use bazaar_subjects::Domain;
use bazaar_tests::story::ok_json;
use bazaar_tests::{NodeCopy, Options, Platform, eventually};
use serde_json::{Value, json};

use crate::catalog::{categories, create, product};

/// A search's raw answer: these stories compare whole answers between
/// copies and check fields the way the wire has them.
async fn search(p: &Platform, query: &str) -> Value {
    ok_json(p.get(&format!("/api/products?{query}"), None).await).await
}

fn titles(results: &Value) -> Vec<String> {
    results["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Searches until `query` finds exactly `expected` (by title, in order).
async fn search_finds(p: &Platform, query: &str, expected: &[&str]) -> Value {
    let what = format!("{query} finds {expected:?}");
    eventually(&what, || search(p, query), |r| titles(r) == expected).await
}

/// The queries whose answers the copies must agree on.
const QUERIES: &[&str] = &[
    "sort=price_asc",
    "category=fashion&sort=price_desc",
    "colors=red&sort=newest",
    "q=running+shoes",
    "q=speakr",
    "in_stock=true&sort=price_desc&page_size=2&page=2",
];

/// A small catalog: five live products over two categories, one draft;
/// returns once search lists them.
async fn stock_shelves(p: &Platform) -> String {
    categories(p).await;
    let (seller, _) = p.seller_with_shop("Everything Store", "electronics").await;
    // The draft goes first: once the last live product is searchable, so
    // is every change before it.
    let mut draft = product("Secret Draft Shoes", "fashion", 1_000);
    draft["status"] = json!("draft");
    create(p, &seller, &draft).await;
    for (title, category, price, colors, stock) in [
        ("Red Running Shoes", "fashion", 5_000, vec!["red"], 3),
        ("Blue Running Shoes", "fashion", 6_000, vec!["blue"], 0),
        ("Leather Bag", "fashion", 15_000, vec!["brown", "red"], 2),
        ("Bluetooth Speaker", "electronics", 8_000, vec!["red"], 5),
        ("Smart Phone", "electronics", 50_000, vec!["black"], 1),
    ] {
        let mut body = product(title, category, price);
        body["colors"] = json!(colors);
        body["stock"] = json!(stock);
        create(p, &seller, &body).await;
    }
    search_finds(p, "q=smart+phone", &["Smart Phone"]).await;
    seller
}

async fn answers(p: &Platform) -> Vec<Value> {
    let mut out = Vec::new();
    for q in QUERIES {
        out.push(search(p, q).await);
    }
    out
}

/// Relevance ties have no order of their own (it follows each index's
/// segments): by relevance, the same items in any order.
fn assert_same(found: &[Value], expected: &[Value], copy: &str) {
    fn by_id(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(items) = v["items"].as_array_mut() {
            items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        }
        v
    }
    for ((q, f), e) in QUERIES.iter().zip(found).zip(expected) {
        if q.contains("sort=") {
            assert_eq!(f, e, "{copy} answers {q} differently");
        } else {
            assert_eq!(by_id(f), by_id(e), "{copy} answers {q} differently");
        }
    }
}

/// Waits until some search copy answers (the edge says 503 while none has
/// caught up and joined the service).
async fn wait_for_search(p: &Platform) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let r = p.http.get(p.url("/api/products")).send().await.unwrap();
        if r.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no search copy answered within 30 s");
}

/// A platform whose search copies the test starts itself.
async fn without_search() -> Platform {
    Platform::spawn_with(Options {
        without: vec![Domain::Search],
        ..Options::default()
    })
    .await
}

fn start(p: &Platform, dir: &std::path::Path) -> NodeCopy {
    p.start_search_copy(dir)
}

#[tokio::test]
async fn an_edit_is_searchable_within_moments_and_a_deleted_product_disappears() {
    let p = Platform::spawn().await;
    let seller = stock_shelves(&p).await;
    let made = create(&p, &seller, &product("Copper Kettle", "electronics", 4_000)).await;
    let id = made.id.as_str();
    search_finds(&p, "q=kettle", &["Copper Kettle"]).await;

    let r = p
        .http
        .put(p.url(&format!("/api/seller/products/{id}")))
        .bearer_auth(&seller)
        .json(&product("Copper Samovar", "electronics", 4_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    search_finds(&p, "q=samovar", &["Copper Samovar"]).await;
    assert_eq!(
        search(&p, "q=kettle").await["total"],
        0,
        "the old title is gone"
    );

    // Sold out: the in-stock listing drops it.
    let mut sold_out = product("Copper Samovar", "electronics", 4_000);
    sold_out["stock"] = json!(0);
    let r = p
        .http
        .put(p.url(&format!("/api/seller/products/{id}")))
        .bearer_auth(&seller)
        .json(&sold_out)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    search_finds(&p, "q=samovar&in_stock=true", &[]).await;
    search_finds(&p, "q=samovar", &["Copper Samovar"]).await;

    let r = p
        .http
        .delete(p.url(&format!("/api/seller/products/{id}")))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    search_finds(&p, "q=samovar", &[]).await;
}

#[tokio::test]
async fn a_copy_started_later_or_wiped_catches_up_and_answers_the_same() {
    let p = without_search().await;
    let first_dir = p.data_dir().join("search-first");
    let first = start(&p, &first_dir);
    wait_for_search(&p).await;
    stock_shelves(&p).await;
    let expected = answers(&p).await;
    assert_eq!(expected[0]["total"], 5);

    // A second copy, started after every change, on an empty dir: it
    // rebuilds from the database; with the first stopped it answers alone.
    let second_dir = p.data_dir().join("search-second");
    let second = start(&p, &second_dir);
    first.stop().await;
    wait_for_search(&p).await;
    assert_same(&answers(&p).await, &expected, "the later copy");

    // Its index wiped, a copy rebuilds from SurrealDB.
    second.stop().await;
    std::fs::remove_dir_all(&second_dir).unwrap();
    let rebuilt = start(&p, &second_dir);
    wait_for_search(&p).await;
    assert_same(&answers(&p).await, &expected, "the rebuilt copy");

    // A copy restarted on its old index resumes from the sequence stored in
    // it, and sees what changed while it was away.
    rebuilt.stop().await;
    let seller = p.token(bazaar_subjects::Role::Seller);
    p.open_shop(&seller, "Late Shop", "electronics").await;
    create(&p, &seller, &product("Walnut Radio", "electronics", 9_000)).await;
    let resumed = start(&p, &first_dir);
    wait_for_search(&p).await;
    assert_eq!(titles(&search(&p, "q=radio").await), ["Walnut Radio"]);
    assert_eq!(search(&p, "sort=price_asc").await["total"], 6);
    resumed.stop().await;
}

/// Counts of live products in SurrealDB under a condition.
async fn recount(p: &Platform, cond: &str) -> i64 {
    let mut res = p
        .db
        .query(format!(
            "RETURN (SELECT count() AS n FROM product WHERE live = true AND {cond} GROUP ALL)[0].n ?? 0"
        ))
        .await
        .unwrap();
    let count: Option<i64> = res.take(0).unwrap();
    count.unwrap_or(0)
}

fn facet(results: &Value, name: &str, value: &str) -> i64 {
    results["facets"][name]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["value"] == value)
        .map_or(0, |f| f["count"].as_i64().unwrap())
}

#[tokio::test]
async fn totals_and_facet_counts_equal_a_recount_from_the_database() {
    let p = Platform::spawn().await;
    stock_shelves(&p).await;
    for (query, cond) in [
        ("", "true"),
        ("category=fashion", "category = 'fashion'"),
        ("colors=red", "colors CONTAINS 'red'"),
        ("in_stock=true", "stock > 0"),
        (
            "min_price=5500&max_price=20000",
            "price >= 5500 AND price <= 20000",
        ),
    ] {
        let found = search(&p, query).await;
        assert_eq!(found["total"], recount(&p, cond).await, "{query}");
        assert_ne!(
            found["total_is_lower_bound"], true,
            "{query}: totals are exact"
        );
        assert!(found["facets"].get("sampled").is_none_or(Value::is_null));
        for category in ["fashion", "electronics"] {
            assert_eq!(
                facet(&found, "categories", category),
                recount(&p, &format!("{cond} AND category = '{category}'")).await,
                "{query}: {category}"
            );
        }
        for color in ["red", "blue", "black"] {
            assert_eq!(
                facet(&found, "colors", color),
                recount(&p, &format!("{cond} AND colors CONTAINS '{color}'")).await,
                "{query}: {color}"
            );
        }
    }
}

#[tokio::test]
async fn no_query_text_breaks_search() {
    let p = Platform::spawn().await;
    stock_shelves(&p).await;
    let long = "shoes ".repeat(2_000);
    for q in [
        "title:shoes AND (bag OR \"red",
        "*",
        "shoes~2^5",
        "\\ / : + - ! ( ) { } [ ] ^ \" ~ * ? | &",
        "category:fashion",
        "NOT",
        "🙂 \u{0} \u{202e}",
        long.as_str(),
    ] {
        for path in ["/api/products", "/api/search/suggest"] {
            let r = p
                .http
                .get(p.url(path))
                .query(&[("q", q)])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(
                status == 200 || status == 422,
                "{path} q={:.40}: {status} {}",
                q,
                r.text().await.unwrap()
            );
        }
    }
    // User text is terms, not syntax: a field prefix finds nothing extra.
    assert_eq!(
        search(&p, "q=title%3Ashoes").await["total"],
        search(&p, "q=title+shoes").await["total"]
    );
}
