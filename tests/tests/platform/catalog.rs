//! Catalog stories: sellers list products, buyers search, filter and open
//! them; what sellers change shows at once on product pages and within
//! moments in search; the bin empties itself.

use std::time::Duration;

use bazaar::platform::NodeConfigs;
use bazaar_subjects::catalog::{
    FacetCount, Product, ProductChange, ProductChanged, ProductPage, SearchResults, Showcase,
    Suggestions,
};
use bazaar_subjects::sellers::ShopCard;
use bazaar_subjects::{Domain, Role};
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::{Options, Platform, eventually};
use serde::Deserialize;
use serde_json::{Value, json};

/// The categories these stories sell in.
pub(crate) async fn categories(p: &Platform) {
    p.create_categories(&[
        ("Electronics", &["Audio", "Phones"]),
        ("Fashion", &["Shoes", "Bags"]),
    ])
    .await;
}

pub(crate) fn product(title: &str, category: &str, price: i64) -> Value {
    json!({
        "title": title,
        "description": format!("<p>The <b>{title}</b> you were looking for.</p>"),
        "category": category,
        "regular_price": price,
        "stock": 10,
    })
}

pub(crate) async fn create(p: &Platform, token: &str, body: &Value) -> Product {
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    ok_as(r).await
}

pub(crate) async fn search(p: &Platform, query: &str) -> SearchResults {
    ok_as(p.get(&format!("/api/products?{query}"), None).await).await
}

/// Searches until the answer `shows` what the story expects (the index
/// shows a write within about a second), and returns that answer.
pub(crate) async fn search_until(
    p: &Platform,
    query: &str,
    what: &str,
    shows: impl Fn(&SearchResults) -> bool,
) -> SearchResults {
    eventually(what, || search(p, query), shows).await
}

/// Searches until `query` finds exactly `expected` (by title, in order).
pub(crate) async fn search_finds(p: &Platform, query: &str, expected: &[&str]) -> SearchResults {
    let what = format!("{query} finds {expected:?}");
    search_until(p, query, &what, |r| titles(r) == expected).await
}

pub(crate) fn titles(results: &SearchResults) -> Vec<String> {
    results.items.iter().map(|i| i.title.clone()).collect()
}

/// A product page's data: the product and its shop's card.
#[derive(Debug, Deserialize)]
pub(crate) struct ProductView {
    pub product: Product,
    pub shop: Option<ShopCard>,
}

/// The public product page's data for `slug`.
pub(crate) async fn product_page(p: &Platform, slug: &str) -> ProductView {
    ok_as(p.get(&format!("/api/products/{slug}"), None).await).await
}

/// One of the seller's own products, in any state.
async fn my_product(p: &Platform, token: &str, id: &str) -> Product {
    ok_as(
        p.get(&format!("/api/seller/products/{id}"), Some(token))
            .await,
    )
    .await
}

/// The seller's own products matching `query`.
async fn my_products(p: &Platform, token: &str, query: &str) -> ProductPage {
    ok_as(
        p.get(&format!("/api/seller/products?{query}"), Some(token))
            .await,
    )
    .await
}

/// Uploads a photo as the holder of `token`: its image id.
pub(crate) async fn upload(p: &Platform, token: &str) -> String {
    let r = p
        .upload_image(token, bazaar_tests::png(64, 48), "photo.png")
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_seller_lists_a_product_and_a_buyer_finds_and_opens_it() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, shop) = p.real_seller_with_shop("Sound House", "electronics").await;
    let image = upload(&p, &seller).await;
    let mut body = product("Studio Headphones", "electronics", 12_999);
    body["subcategory"] = json!("audio");
    body["sale_price"] = json!(9_999);
    body["images"] = json!([image]);
    body["colors"] = json!(["Black", "White"]);
    body["tags"] = json!(["wireless"]);
    body["description"] = json!("<p>Closed-back <b>headphones</b><script>alert(1)</script></p>");
    let created = create(&p, &seller, &body).await;
    assert_eq!(created.slug, "studio-headphones");
    assert_eq!(created.price, 9_999);
    assert_eq!(created.shop_slug, shop.slug);
    assert!(!created.description.contains("script"));

    // A buyer searches with another form of the word and finds it, highlighted.
    let found = search_finds(&p, "q=headphone", &["Studio Headphones"]).await;
    let item = &found.items[0];
    assert_eq!(item.image.as_deref(), Some(image.as_str()));
    let snippet = item.snippet_html.as_deref().unwrap_or_default();
    assert!(snippet.contains("<mark>"), "{item:?}");
    assert_eq!(found.facets.colors.len(), 2);

    // The product page carries the shop card, and the view is recorded.
    let page = product_page(&p, "studio-headphones").await;
    assert_eq!(page.product.title, "Studio Headphones");
    assert_eq!(page.shop.expect("the shop's card").name, "Sound House");
    let img = p
        .http
        .get(p.url(&format!("/images/{image}")))
        .send()
        .await
        .unwrap();
    assert_eq!(img.status(), 200);
    let mut viewed = Vec::new();
    for _ in 0..40 {
        viewed = p.views().await;
        if !viewed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(viewed.len(), 1);
    assert_eq!(viewed[0].product_id, created.id);
    // The view is counted for the seller, from the event.
    let mut views = 0;
    for _ in 0..60 {
        views = my_product(&p, &seller, &created.id).await.views;
        if views == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(views, 1);

    // Suggestions complete a half-typed word.
    let s: Suggestions = ok_as(p.get("/api/search/suggest?q=head", None).await).await;
    assert_eq!(s.suggestions[0].slug, "studio-headphones");

    // A second product with the same title gets its own slug.
    let twin = create(
        &p,
        &seller,
        &product("Studio Headphones", "electronics", 5_000),
    )
    .await;
    assert_ne!(twin.slug, created.slug);
    assert!(twin.slug.starts_with("studio-headphones-"), "{}", twin.slug);
}

#[tokio::test]
async fn a_seller_can_never_touch_another_sellers_product() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (alice, _) = p.seller_with_shop("Alice Audio", "electronics").await;
    let (bob, _) = p.seller_with_shop("Bob Bikes", "electronics").await;
    let theirs = create(&p, &alice, &product("Vinyl Player", "electronics", 20_000)).await;
    let id = theirs.id.as_str();
    let path = p.url(&format!("/api/seller/products/{id}"));

    let r = p.http.get(&path).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = p
        .http
        .put(&path)
        .bearer_auth(&bob)
        .json(&product("Stolen", "electronics", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = p.http.delete(&path).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(my_products(&p, &bob, "").await.total, 0);

    // Alice's product is as she left it, and still for sale.
    assert_eq!(my_product(&p, &alice, id).await.title, "Vinyl Player");
    search_finds(&p, "q=vinyl", &["Vinyl Player"]).await;

    // Buyers cannot sell; strangers must sign in; sellers need a shop first.
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(p.token(Role::Buyer))
        .json(&product("Nope", "electronics", 100))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .json(&product("Nope", "electronics", 100))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(p.token(Role::Seller))
        .json(&product("Nope", "electronics", 100))
        .send()
        .await
        .unwrap();
    let (status, e) = envelope(r).await;
    assert_eq!(status, 409);
    assert!(e.message.contains("shop"), "{e:?}");
}

#[tokio::test]
async fn bad_product_input_is_refused_field_by_field() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Careful Co", "electronics").await;
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .json(&json!({
            "title": "",
            "category": "cars",
            "regular_price": 1000,
            "sale_price": 2000,
            "stock": -3,
            "images": ["../../etc/passwd"],
        }))
        .send()
        .await
        .unwrap();
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
    for f in ["title", "category", "sale_price", "stock", "images"] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    // A currency that is not an ISO code is refused as the body is read.
    let mut body = product("Sneakers", "electronics", 100);
    body["currency"] = json!("dollars");
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    assert_eq!(e.fields.len(), 1, "{e:?}");
    assert_eq!(e.fields[0].field, "currency");
    assert!(e.fields[0].message.contains("ISO 4217"), "{e:?}");
    // A body that is not a product at all.
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A subcategory from another category.
    let mut body = product("Sneakers", "electronics", 100);
    body["subcategory"] = json!("shoes");
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // Bad search parameters are explained, hostile queries just find nothing.
    let r = p
        .http
        .get(p.url("/api/products?page_size=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = p
        .http
        .get(p.url("/api/products?min_price=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    for q in [
        "'; DELETE product; --",
        "\") OR 1=1",
        "$q @1@ x",
        "%00%01",
        &"x".repeat(5000),
    ] {
        let r = p
            .http
            .get(p.url("/api/products"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{q}");
    }
    let r = p
        .http
        .get(p.url("/api/products/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn buyers_filter_sort_page_and_count_facets() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, shop) = p.seller_with_shop("Everything Store", "electronics").await;
    // The draft goes first: once the last live product is searchable, so
    // is every change before it.
    let draft = {
        let mut b = product("Secret Draft Shoes", "fashion", 1_000);
        b["status"] = json!("draft");
        b
    };
    create(&p, &seller, &draft).await;
    for (title, category, sub, price, colors, stock) in [
        (
            "Red Running Shoes",
            "fashion",
            "shoes",
            5_000,
            vec!["red"],
            3,
        ),
        (
            "Blue Running Shoes",
            "fashion",
            "shoes",
            6_000,
            vec!["blue"],
            0,
        ),
        (
            "Leather Bag",
            "fashion",
            "bags",
            15_000,
            vec!["brown", "red"],
            2,
        ),
        (
            "Bluetooth Speaker",
            "electronics",
            "audio",
            8_000,
            vec!["red"],
            5,
        ),
        (
            "Smart Phone",
            "electronics",
            "phones",
            50_000,
            vec!["black"],
            1,
        ),
    ] {
        let mut body = product(title, category, price);
        body["subcategory"] = json!(sub);
        body["colors"] = json!(colors);
        body["stock"] = json!(stock);
        create(&p, &seller, &body).await;
    }

    let all = search_until(
        &p,
        "sort=price_asc",
        "the five live products are listed",
        |r| titles(r).iter().any(|t| t == "Smart Phone"),
    )
    .await;
    assert_eq!(all.total, 5, "drafts are not listed");
    assert_eq!(titles(&all)[0], "Red Running Shoes");
    let fashion = search(&p, "category=fashion&sort=price_desc").await;
    assert_eq!(
        titles(&fashion),
        ["Leather Bag", "Blue Running Shoes", "Red Running Shoes"]
    );
    let red = search(&p, "colors=red&colors=black&sort=price_asc").await;
    assert_eq!(red.total, 4);
    let cheap_red = search(&p, "colors=red&min_price=5000&max_price=9000&in_stock=true").await;
    let mut t = titles(&cheap_red);
    t.sort();
    assert_eq!(t, ["Bluetooth Speaker", "Red Running Shoes"]);
    let shoes = search(&p, "q=running+shoes&subcategory=shoes").await;
    assert_eq!(shoes.total, 2);
    let count = |value: &str, count| FacetCount {
        value: value.into(),
        count,
    };
    let categories = &all.facets.categories;
    assert_eq!(
        categories[..2],
        [count("fashion", 3), count("electronics", 2)]
    );
    let reds = all.facets.colors.iter().find(|c| c.value == "red");
    assert_eq!(reds, Some(&count("red", 3)));
    let by_shop = search(&p, &format!("shop={}", shop.slug)).await;
    assert_eq!(by_shop.total, 5);
    assert_eq!(search(&p, "shop=nobody").await.total, 0);

    // Pages of two: three pages, no product twice, none missing.
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = search(&p, &format!("sort=price_asc&page_size=2&page={page}")).await;
        assert_eq!(r.pages, 3);
        seen.extend(titles(&r));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
    assert!(search(&p, "page=4&page_size=2").await.items.is_empty());

    // The seller sees their draft in their own list, searchable by title.
    let mine = my_products(&p, &seller, "status=draft").await;
    assert_eq!(mine.total, 1);
    assert_eq!(mine.items[0].title, "Secret Draft Shoes");
}

#[tokio::test]
async fn an_edit_shows_however_warm_the_caches_are() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Quick Edits", "electronics").await;
    let made = create(&p, &seller, &product("Copper Kettle", "electronics", 4_000)).await;
    let id = made.id.as_str();
    search_finds(&p, "q=kettle", &["Copper Kettle"]).await;
    // Warm every cache: the search, the product page.
    for _ in 0..2 {
        assert_eq!(titles(&search(&p, "q=kettle").await), ["Copper Kettle"]);
        let r = p
            .http
            .get(p.url("/api/products/copper-kettle"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let mut edit = product("Copper Tea Kettle", "electronics", 3_500);
    edit["sale_price"] = json!(3_000);
    let r = p
        .http
        .put(p.url(&format!("/api/seller/products/{id}")))
        .bearer_auth(&seller)
        .json(&edit)
        .send()
        .await
        .unwrap();
    let edited: Product = ok_as(r).await;
    assert_eq!(edited.slug, "copper-kettle", "the URL stays");
    // The product page shows it at once; search within moments.
    let found = search_finds(&p, "q=kettle", &["Copper Tea Kettle"]).await;
    assert_eq!(found.items[0].price, 3_000);
    let page = product_page(&p, "copper-kettle").await;
    assert_eq!(page.product.title, "Copper Tea Kettle");
    assert_eq!(page.product.price, 3_000);

    // Drafting it takes it off the shelves (the product page at once).
    edit["status"] = json!("draft");
    p.http
        .put(p.url(&format!("/api/seller/products/{id}")))
        .bearer_auth(&seller)
        .json(&edit)
        .send()
        .await
        .unwrap();
    let r = p
        .http
        .get(p.url("/api/products/copper-kettle"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    search_finds(&p, "q=kettle", &[]).await;
}

/// A platform whose catalog runs its scheduled jobs every second and
/// empties the bin after one.
pub(crate) async fn with_fast_maintenance() -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    configs.catalog.purge_after_secs = 1;
    configs.catalog.maintenance_interval_secs = 1;
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        ..Default::default()
    })
    .await;
    p.keep(dir);
    p
}

#[tokio::test]
async fn the_bin_restores_and_then_empties_itself_with_the_images() {
    let p = with_fast_maintenance().await;
    // A second catalog copy: the lease lets only one of them do the work.
    let second = p.start_node(Domain::Catalog);
    categories(&p).await;
    let (seller, _) = p.real_seller_with_shop("Bin Testers", "electronics").await;
    let image = upload(&p, &seller).await;
    let mut body = product("Folding Chair", "electronics", 2_500);
    body["images"] = json!([image]);
    let made = create(&p, &seller, &body).await;
    let id = made.id;
    let path = p.url(&format!("/api/seller/products/{id}"));

    let r = p
        .http
        .delete(&path)
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = p
        .http
        .get(p.url("/api/products/folding-chair"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(my_products(&p, &seller, "deleted=true").await.total, 1);
    search_finds(&p, "q=chair", &[]).await;
    let r = p
        .http
        .post(p.url(&format!("/api/seller/products/{id}/restore")))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    search_finds(&p, "q=chair", &["Folding Chair"]).await;

    // Binned again, it is purged within seconds, and its image with it.
    p.http
        .delete(&path)
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        let r = p.http.get(&path).bearer_auth(&seller).send().await.unwrap();
        if r.status() == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the product was never purged");
    // The images go just after the product row.
    let mut image_gone = false;
    for _ in 0..50 {
        let r = p
            .http
            .get(p.url(&format!("/images/{image}")))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            image_gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(image_gone, "the image outlived its product");
    // Two copies ran the timer; the product was purged exactly once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let purged: Vec<ProductChanged> = p
        .events_of::<ProductChanged>()
        .await
        .into_iter()
        .filter(|e| e.product_id == id && e.change == ProductChange::Purged)
        .collect();
    assert_eq!(purged.len(), 1, "{purged:?}");
    second.stop().await;
}

#[tokio::test]
async fn flash_sales_show_only_inside_their_window() {
    let p = with_fast_maintenance().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Flash Deals", "electronics").await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    // Long enough to check it while live even on a busy machine.
    let ends = now + time::Duration::seconds(6);
    let mut live = product("Espresso Machine", "electronics", 30_000);
    live["sale_price"] = json!(19_900);
    live["flash_sale"] = json!({
        "starts_at": fmt(now - time::Duration::minutes(1)),
        "ends_at": fmt(ends),
    });
    let live = create(&p, &seller, &live).await;
    assert!(live.event_live);
    let mut later = product("Milk Frother", "electronics", 5_000);
    later["sale_price"] = json!(3_000);
    later["flash_sale"] = json!({
        "starts_at": fmt(now + time::Duration::hours(1)),
        "ends_at": fmt(now + time::Duration::hours(2)),
    });
    create(&p, &seller, &later).await;
    // A flash sale without a discount, or already over, is refused.
    let mut bad = product("Grinder", "electronics", 5_000);
    bad["flash_sale"] =
        json!({ "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-02T00:00:00Z" });
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let showcase: Showcase = ok_as(p.get("/api/showcase", None).await).await;
    let events: Vec<&str> = showcase.events.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(events, ["Espresso Machine"]);
    assert_eq!(showcase.new_arrivals.len(), 2);
    search_finds(&p, "event=true", &["Espresso Machine"]).await;

    // Once the window has passed it is no event anywhere, and the job ends it.
    let left = ends - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(500);
    tokio::time::sleep(left.try_into().unwrap_or_default()).await;
    assert_eq!(search(&p, "event=true").await.total, 0);
    let showcase: Showcase = ok_as(p.get("/api/showcase", None).await).await;
    assert!(showcase.events.is_empty());
    let mut ended = false;
    for _ in 0..50 {
        let mine = my_product(&p, &seller, &live.id).await;
        if mine.flash_sale.is_none() {
            assert!(!mine.event_live);
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ended, "the ended flash sale was never expired");
    let page = product_page(&p, "espresso-machine").await;
    assert!(!page.product.event_live);
}

async fn reserve(
    p: &Platform,
    token: &str,
    id: &str,
    lines: Vec<(String, i64)>,
) -> Result<bazaar_subjects::catalog::Reservation, bazaar_subjects::ErrorEnvelope> {
    use bazaar_subjects::catalog::{ReserveStock, ReserveStockRequest, StockLine};
    bazaar_runtime::call::<ReserveStock>(
        &p.ctx.nats,
        &bazaar_runtime::RequestMeta {
            request_id: uuid::Uuid::new_v4().to_string(),
            authorization: Some(token.to_owned()),
        },
        &ReserveStockRequest {
            reservation_id: id.to_owned(),
            release_token: format!("release-token-of-{id}"),
            lines: lines
                .into_iter()
                .map(|(product_id, quantity)| StockLine {
                    product_id,
                    quantity,
                })
                .collect(),
        },
        Duration::from_secs(30),
    )
    .await
}

pub(crate) async fn stock_of(p: &Platform, slug: &str) -> i64 {
    product_page(p, slug).await.product.stock
}

/// Waits for the product page to show `expected` units in stock. An edge
/// keeps a product page until the catalog announces the change, so a buyer
/// sees new stock a moment after the write that made it.
pub(crate) async fn stock_shows(p: &Platform, slug: &str, expected: i64) {
    eventually(
        &format!("{slug} to show {expected} in stock"),
        || stock_of(p, slug),
        |stock| *stock == expected,
    )
    .await;
}

#[tokio::test]
async fn fifty_buyers_racing_for_five_units_never_oversell() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Limited Editions", "electronics").await;
    let mut body = product("Signed Print", "electronics", 9_000);
    body["stock"] = json!(5);
    let print = create(&p, &seller, &body).await;
    let other = create(&p, &seller, &product("Frame", "electronics", 1_000)).await;
    let print_id = print.id;

    let buyers: Vec<String> = (0..50).map(|_| p.token(Role::Buyer)).collect();
    let attempts = buyers.iter().enumerate().map(|(i, token)| {
        let lines = vec![(print_id.clone(), 1)];
        let p = &p;
        async move { reserve(p, token, &format!("race{i}"), lines).await }
    });
    let results = futures::future::join_all(attempts).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        won,
        5,
        "{:?}",
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .take(3)
            .collect::<Vec<_>>()
    );
    for lost in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(lost.status, 409, "{lost:?}");
        assert!(
            lost.message.contains("out of stock") || lost.message.contains("left"),
            "{}",
            lost.message
        );
    }
    stock_shows(&p, "signed-print", 0).await;

    // All or nothing: a basket with the sold-out print takes no frames either.
    let buyer = p.token(Role::Buyer);
    let r = reserve(
        &p,
        &buyer,
        "basket1",
        vec![(other.id.clone(), 2), (print_id.clone(), 1)],
    )
    .await;
    assert_eq!(r.unwrap_err().status, 409);
    stock_shows(&p, "frame", 10).await;

    // A retried reservation takes stock once; releasing gives it back once,
    // and only for whoever holds the release token.
    let frame = other.id;
    let first = reserve(&p, &buyer, "basket2", vec![(frame.clone(), 3)])
        .await
        .unwrap();
    let again = reserve(&p, &buyer, "basket2", vec![(frame.clone(), 3)])
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(first.lines[0].unit_price, 1_000);
    stock_shows(&p, "frame", 7).await;
    let release = |token: String| {
        let p = &p;
        async move {
            bazaar_runtime::call::<bazaar_subjects::catalog::ReleaseStock>(
                &p.ctx.nats,
                &bazaar_runtime::RequestMeta::default(),
                &bazaar_subjects::catalog::ReleaseRequest {
                    reservation_id: "basket2".into(),
                    release_token: token,
                },
                Duration::from_secs(10),
            )
            .await
        }
    };
    assert_eq!(
        release("a guessed token".into()).await.unwrap_err().status,
        404
    );
    assert!(
        release("release-token-of-basket2".into())
            .await
            .unwrap()
            .released
    );
    assert!(
        release("release-token-of-basket2".into())
            .await
            .unwrap()
            .released
    );
    stock_shows(&p, "frame", 10).await;
}

#[tokio::test]
async fn a_view_counter_from_before_views_were_batched_follows_the_batches_from_where_it_was() {
    use bazaar_runtime::jetstream::{SharedConsumer, ensure_stream, publish_event};
    use bazaar_subjects::Event;
    use bazaar_subjects::catalog::{self, ProductViewed, ProductsViewed};

    let p = Platform::spawn().await;
    let stream = ensure_stream(&p.ctx.jetstream, catalog::EVENTS)
        .await
        .unwrap();
    let view = |product: &str| ProductViewed {
        product_id: product.into(),
        shop_id: "s1".into(),
        account_id: None,
        at: "2026-12-07T02:00:00Z".into(),
        visitor_id: Some("v1".into()),
    };
    // A counter as an older version made it: one view per event.
    let old = async_nats::jetstream::consumer::pull::Config {
        durable_name: Some("views-before-batches".into()),
        filter_subject: ProductViewed::SUBJECT.into(),
        ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
        ..Default::default()
    };
    stream.create_consumer(old).await.unwrap();
    publish_event(&p.ctx.jetstream, &view("p-old"), "view-old-1")
        .await
        .unwrap();

    // The newer version opens it under the same name: it follows both
    // shapes and has not lost the view published meanwhile.
    let counter = SharedConsumer::new("views-before-batches", catalog::VIEW_EVENTS)
        .open(&stream)
        .await
        .unwrap();
    assert_eq!(
        counter.cached_info().config.filter_subject,
        catalog::VIEW_EVENTS
    );
    let batch = ProductsViewed {
        views: vec![view("p-new"), view("p-new")],
    };
    publish_event(&p.ctx.jetstream, &batch, "views-new-1")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut messages = counter
        .fetch()
        .max_messages(10)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    while let Some(Ok(msg)) = futures::StreamExt::next(&mut messages).await {
        seen.extend(
            catalog::views_of(msg.subject.as_str(), &msg.payload)
                .into_iter()
                .map(|v| v.product_id),
        );
        msg.ack().await.unwrap();
    }
    assert_eq!(seen, ["p-old", "p-new", "p-new"]);
}
