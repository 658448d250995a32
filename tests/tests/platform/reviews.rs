//! Review stories: a buyer reviews what was delivered to them (and the shop
//! it came from), once, editably; ratings and sales counters follow on the
//! product and shop, and reviews show escaped on the pages.

use bazaar_tests::story::ok_json;
use bazaar_tests::{Platform, eventually};
use serde_json::{Value, json};

use crate::catalog::{categories, create, product};
use crate::commerce::with_test_payments;

async fn get_json(p: &Platform, path: impl AsRef<str>) -> Value {
    ok_json(p.http.get(p.url(path.as_ref())).send().await.unwrap()).await
}

/// Places a cash-on-delivery order of `quantity` units; its id.
async fn order(p: &Platform, buyer: &str, product_id: &Value, quantity: i64, key: &str) -> String {
    ok_json(
        p.send(
            reqwest::Method::POST,
            "/api/cart/items",
            buyer,
            Some(json!({ "product_id": product_id, "quantity": quantity })),
        )
        .await,
    )
    .await;
    let placed = ok_json(
        p.http
            .post(p.url("/api/checkout"))
            .bearer_auth(buyer)
            .header("Idempotency-Key", key)
            .json(&json!({
                "address": {
                    "full_name": "Bea Buyer", "line1": "1 Market Street", "city": "Berlin",
                    "postal_code": "10115", "country": "de",
                },
                "payment": "cod",
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    placed["orders"][0]["id"].as_str().unwrap().to_owned()
}

async fn deliver(p: &Platform, seller: &str, order_id: &str) {
    ok_json(
        p.send(
            reqwest::Method::POST,
            &format!("/api/seller/orders/{order_id}/status"),
            seller,
            Some(json!({ "status": "delivered" })),
        )
        .await,
    )
    .await;
}

async fn review(p: &Platform, buyer: &str, body: Value) -> reqwest::Response {
    p.send(reqwest::Method::PUT, "/api/reviews", buyer, Some(body))
        .await
}

fn cod_product(title: &str) -> Value {
    let mut b = product(title, "electronics", 4_000);
    b["cash_on_delivery"] = json!(true);
    b
}

#[tokio::test]
async fn a_buyer_reviews_what_was_delivered_once_and_the_ratings_follow() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, shop) = p.seller_with_shop("Rita's Records", "electronics").await;
    let shop_id = shop["id"].as_str().unwrap().to_owned();
    let shop_slug = shop["slug"].as_str().unwrap().to_owned();
    let turntable = create(&p, &seller, &cod_product("Belt Turntable")).await;
    let slug = turntable["slug"].as_str().unwrap().to_owned();
    let buyer = p.sign_up_buyer("rita-fan@example.com").await;
    let order_id = order(&p, &buyer, &turntable["id"], 2, "first").await;

    // Not yet delivered: a clear refusal.
    let early = json!({ "target": "product", "target_id": turntable["id"], "rating": 5, "title": "Lovely" });
    let r = review(&p, &buyer, early.clone()).await;
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert!(e["message"].as_str().unwrap().contains("delivered"), "{e}");

    deliver(&p, &seller, &order_id).await;

    // Out of range stars are refused, per field.
    for stars in [0, 6] {
        let mut bad = early.clone();
        bad["rating"] = json!(stars);
        let r = review(&p, &buyer, bad).await;
        assert_eq!(r.status(), 422, "{stars} stars");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["fields"][0]["field"], "rating", "{e}");
    }

    let first = ok_json(
        review(
            &p,
            &buyer,
            json!({ "target": "product", "target_id": turntable["id"], "rating": 4,
                    "title": "<script>alert(1)</script> Spins true",
                    "body": "Arrived <b>well packed</b>." }),
        )
        .await,
    )
    .await;
    assert_eq!(first["author_name"], "Bea B.");
    // Writing again replaces it.
    let edited = ok_json(
        review(
            &p,
            &buyer,
            json!({ "target": "product", "target_id": turntable["id"], "rating": 2,
                    "title": "<script>alert(1)</script> Hums a bit",
                    "body": "Arrived <b>well packed</b>, but it hums." }),
        )
        .await,
    )
    .await;
    assert_eq!(edited["id"], first["id"]);
    assert_eq!(edited["created_at"], first["created_at"]);
    let listed = get_json(&p, &format!("/api/products/{slug}/reviews")).await;
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(listed["average"], 2.0);
    assert_eq!(listed["reviews"][0]["rating"], 2);

    // The shop, from the same delivered order.
    ok_json(
        review(
            &p,
            &buyer,
            json!({ "target": "shop", "target_id": shop_id, "rating": 5, "title": "Fast and friendly" }),
        )
        .await,
    )
    .await;
    let shop_reviews = get_json(&p, &format!("/api/shops/{shop_slug}/reviews")).await;
    assert_eq!(shop_reviews["count"], 1, "{shop_reviews}");
    assert_eq!(shop_reviews["reviews"][0]["title"], "Fast and friendly");

    // Someone who never bought it may not review it; nothing is no such thing.
    let stranger = p.sign_up_buyer("stranger@example.com").await;
    let r = review(&p, &stranger, early.clone()).await;
    assert_eq!(r.status(), 403);
    let r = review(
        &p,
        &stranger,
        json!({ "target": "shop", "target_id": shop_id, "rating": 1, "title": "Never bought" }),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = review(
        &p,
        &stranger,
        json!({ "target": "product", "target_id": "0123456789abcdef0123456789abcdef", "rating": 1, "title": "?" }),
    )
    .await;
    assert_eq!(r.status(), 404);

    // The catalog and the shop keep the ratings (from events, so eventually).
    let view = eventually(
        "the product's rating",
        || get_json(&p, format!("/api/products/{slug}")),
        |v| v["product"]["rating_count"] == 1 && v["product"]["rating_avg"] == 2.0,
    )
    .await;
    assert_eq!(view["product"]["sales"], 2, "two units sold");
    // Search follows too: the rated product is found by its rating.
    eventually(
        "the rated product in search",
        || get_json(&p, "/api/products?sort=rating&min_rating=1.5"),
        |found| {
            found["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["slug"] == slug.as_str())
        },
    )
    .await;
    let shop_now = eventually(
        "the shop's rating",
        || get_json(&p, format!("/api/shops/{shop_slug}")),
        |v| v["shop"]["rating_count"] == 1 && v["shop"]["rating_avg"] == 5.0,
    )
    .await;
    assert_eq!(shop_now["shop"]["sales"], 2);

    // Pages show the reviews, escaped.
    let html = p
        .http
        .get(p.url(&format!("/products/{slug}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Hums a bit"), "{html}");
    // The markup arrives as text: escaped, never as tags.
    let title_at = html.find("Hums a bit").unwrap();
    let shown = &html[html[..title_at].rfind("review-title").unwrap()..title_at];
    assert!(
        shown.contains("&#60;script&#62;") || shown.contains("&lt;script&gt;"),
        "{shown}"
    );
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(!html.contains("<b>well packed</b>"));
    assert!(html.contains("1 review"));
    let html = p
        .http
        .get(p.url(&format!("/shops/{shop_slug}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Fast and friendly"), "{html}");
    p.stop().await;
}

#[tokio::test]
async fn sales_counters_rise_once_per_order_and_fall_back_when_it_is_cancelled() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, shop) = p.seller_with_shop("Sal's Saddles", "electronics").await;
    let shop_slug = shop["slug"].as_str().unwrap().to_owned();
    let saddle = create(&p, &seller, &cod_product("Leather Saddle")).await;
    let slug = saddle["slug"].as_str().unwrap().to_owned();
    let buyer = p.sign_up_buyer("rider@example.com").await;
    let product_sales = || {
        let (p, slug) = (&p, slug.clone());
        async move { get_json(p, &format!("/api/products/{slug}")).await }
    };
    let shop_sales = || {
        let (p, slug) = (&p, shop_slug.clone());
        async move { get_json(p, &format!("/api/shops/{slug}")).await }
    };

    order(&p, &buyer, &saddle["id"], 3, "one").await;
    eventually("3 sales", product_sales, |v| v["product"]["sales"] == 3).await;
    eventually("3 shop sales", shop_sales, |v| v["shop"]["sales"] == 3).await;
    eventually(
        "the best seller first in search",
        || get_json(&p, "/api/products?sort=top_sales"),
        |top| top["items"][0]["slug"] == slug.as_str(),
    )
    .await;

    let second = order(&p, &buyer, &saddle["id"], 1, "two").await;
    eventually("4 sales", product_sales, |v| v["product"]["sales"] == 4).await;
    ok_json(
        p.send(
            reqwest::Method::POST,
            &format!("/api/orders/{second}/cancel"),
            &buyer,
            None,
        )
        .await,
    )
    .await;
    eventually("back to 3 sales", product_sales, |v| {
        v["product"]["sales"] == 3
    })
    .await;
    eventually("back to 3 shop sales", shop_sales, |v| {
        v["shop"]["sales"] == 3
    })
    .await;
    // Each order counted once, however often its events are read again.
    assert_eq!(p.events("events.orders.order.placed").await.len(), 2);
    p.stop().await;
}
