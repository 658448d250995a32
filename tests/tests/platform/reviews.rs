//! Review stories: a buyer reviews what was delivered to them (and the shop
//! it came from), once, editably; ratings and sales counters follow on the
//! product and shop, and reviews show escaped on the pages.

use bazaar_subjects::catalog::SearchResults;
use bazaar_subjects::orders::{Order, OrderPlaced, Review, Reviews};
use bazaar_subjects::sellers::ShopPage;
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::{Platform, eventually};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::catalog::{ProductView, categories, create};
use crate::commerce::{add, cod_product, place_cod, with_test_payments};

async fn get_as<T: DeserializeOwned>(p: &Platform, path: impl AsRef<str>) -> T {
    ok_as(p.get(path.as_ref(), None).await).await
}

/// Places a cash-on-delivery order of `quantity` units; its id.
pub(crate) async fn order(
    p: &Platform,
    buyer: &str,
    product_id: &str,
    quantity: i64,
    key: &str,
) -> String {
    add(p, buyer, product_id, quantity).await;
    place_cod(p, buyer, key).await.orders[0].id.clone()
}

pub(crate) async fn deliver(p: &Platform, seller: &str, order_id: &str) {
    let _: Order = ok_as(
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

pub(crate) async fn review(p: &Platform, buyer: &str, body: Value) -> reqwest::Response {
    p.send(reqwest::Method::PUT, "/api/reviews", buyer, Some(body))
        .await
}

#[tokio::test]
async fn a_buyer_reviews_what_was_delivered_once_and_the_ratings_follow() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, shop) = p.seller_with_shop("Rita's Records", "electronics").await;
    let (shop_id, shop_slug) = (shop.id, shop.slug);
    let turntable = create(&p, &seller, &cod_product("Belt Turntable", 4_000, 10)).await;
    let slug = turntable.slug.clone();
    let buyer = p.sign_up_buyer("rita-fan@example.com").await;
    let order_id = order(&p, &buyer, &turntable.id, 2, "first").await;

    // Not yet delivered: a clear refusal.
    let early =
        json!({ "target": "product", "target_id": turntable.id, "rating": 5, "title": "Lovely" });
    let (status, e) = envelope(review(&p, &buyer, early.clone()).await).await;
    assert_eq!(status, 403);
    assert!(e.message.contains("delivered"), "{e:?}");

    deliver(&p, &seller, &order_id).await;

    // Out of range stars are refused, per field.
    for stars in [0, 6] {
        let mut bad = early.clone();
        bad["rating"] = json!(stars);
        let (status, e) = envelope(review(&p, &buyer, bad).await).await;
        assert_eq!(status, 422, "{stars} stars");
        assert_eq!(e.fields[0].field, "rating", "{e:?}");
    }

    let first: Review = ok_as(
        review(
            &p,
            &buyer,
            json!({ "target": "product", "target_id": turntable.id, "rating": 4,
                    "title": "<script>alert(1)</script> Spins true",
                    "body": "Arrived <b>well packed</b>." }),
        )
        .await,
    )
    .await;
    assert_eq!(first.author_name, "Bea B.");
    // Writing again replaces it.
    let edited: Review = ok_as(
        review(
            &p,
            &buyer,
            json!({ "target": "product", "target_id": turntable.id, "rating": 2,
                    "title": "<script>alert(1)</script> Hums a bit",
                    "body": "Arrived <b>well packed</b>, but it hums." }),
        )
        .await,
    )
    .await;
    assert_eq!(edited.id, first.id);
    assert_eq!(edited.created_at, first.created_at);
    let listed: Reviews = get_as(&p, format!("/api/products/{slug}/reviews")).await;
    assert_eq!(listed.count, 1, "{listed:?}");
    assert_eq!(listed.average, 2.0);
    assert_eq!(listed.reviews[0].rating, 2);

    // The shop, from the same delivered order.
    let _: Review = ok_as(
        review(
            &p,
            &buyer,
            json!({ "target": "shop", "target_id": shop_id, "rating": 5, "title": "Fast and friendly" }),
        )
        .await,
    )
    .await;
    let shop_reviews: Reviews = get_as(&p, format!("/api/shops/{shop_slug}/reviews")).await;
    assert_eq!(shop_reviews.count, 1, "{shop_reviews:?}");
    assert_eq!(shop_reviews.reviews[0].title, "Fast and friendly");

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
        || get_as::<ProductView>(&p, format!("/api/products/{slug}")),
        |v| v.product.rating_count == 1 && v.product.rating_avg == 2.0,
    )
    .await;
    assert_eq!(view.product.sales, 2, "two units sold");
    // Search follows too: the rated product is found by its rating.
    eventually(
        "the rated product in search",
        || get_as::<SearchResults>(&p, "/api/products?sort=rating&min_rating=1.5"),
        |found| found.items.iter().any(|i| i.slug == slug),
    )
    .await;
    let shop_now = eventually(
        "the shop's rating",
        || get_as::<ShopPage>(&p, format!("/api/shops/{shop_slug}")),
        |v| v.shop.rating_count == 1 && v.shop.rating_avg == 5.0,
    )
    .await;
    assert_eq!(shop_now.shop.sales, 2);

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
    let shop_slug = shop.slug;
    let saddle = create(&p, &seller, &cod_product("Leather Saddle", 4_000, 10)).await;
    let slug = saddle.slug.clone();
    let buyer = p.sign_up_buyer("rider@example.com").await;
    let product_sales = || {
        let (p, slug) = (&p, slug.clone());
        async move {
            let page: ProductView = get_as(p, format!("/api/products/{slug}")).await;
            page.product.sales
        }
    };
    let shop_sales = || {
        let (p, slug) = (&p, shop_slug.clone());
        async move {
            get_as::<ShopPage>(p, format!("/api/shops/{slug}"))
                .await
                .shop
                .sales
        }
    };

    order(&p, &buyer, &saddle.id, 3, "one").await;
    eventually("3 sales", product_sales, |n| *n == 3).await;
    eventually("3 shop sales", shop_sales, |n| *n == 3).await;
    eventually(
        "the best seller first in search",
        || get_as::<SearchResults>(&p, "/api/products?sort=top_sales"),
        |top| top.items.first().is_some_and(|i| i.slug == slug),
    )
    .await;

    let second = order(&p, &buyer, &saddle.id, 1, "two").await;
    eventually("4 sales", product_sales, |n| *n == 4).await;
    let _: Order = ok_as(
        p.send(
            reqwest::Method::POST,
            &format!("/api/orders/{second}/cancel"),
            &buyer,
            None,
        )
        .await,
    )
    .await;
    eventually("back to 3 sales", product_sales, |n| *n == 3).await;
    eventually("back to 3 shop sales", shop_sales, |n| *n == 3).await;
    // Each order counted once, however often its events are read again.
    assert_eq!(p.events_of::<OrderPlaced>().await.len(), 2);
    p.stop().await;
}
