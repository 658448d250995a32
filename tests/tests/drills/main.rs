//! Failure drills: the platform under a fault a real deployment meets (a
//! NATS server killed, the database restarted, a node copy crashed, an edge
//! taken out of service)
//! while clients keep using it. Each drill reads as a story, asserts what
//! must hold whatever the fault (no order lost or doubled, no session or
//! message lost) and prints what the fault cost.
//!
//! `cargo nextest run -p bazaar-tests --test drills`

mod checkouts;
mod database_restarted;
mod edge_restart;
mod nats_server_killed;
mod node_copy_crashed;

use bazaar_edge::EdgeConfig;
use bazaar_subjects::catalog::Product;
use bazaar_tests::story::ok_as;
use bazaar_tests::{Options, Platform};
use serde_json::{Value, json};

/// A platform as `scripts/cluster` runs it: three NATS servers in a
/// JetStream cluster, 3 replicas of everything, with the mailbox and test
/// payment page of `bazaar dev`, and these options on top. Every drill runs
/// on the cluster: the replicas setting is one per process, and a test
/// binary run by `cargo test` is one process for all its drills.
///
/// A drill's buyers all come from one address, as fast as the box
/// answers: the per-address limit (1,200 a minute) is lifted, as
/// `scripts/bench` lifts it, or a fast run meets 429s that are not the
/// fault's.
async fn platform(options: Options) -> Platform {
    Platform::spawn_like_dev(Options {
        nats_cluster: true,
        edge: EdgeConfig {
            rate_limit_per_minute: 1_000_000_000,
            ..options.edge.clone()
        },
        ..options
    })
    .await
}

/// A seller's shop with one product that can be paid on delivery or by
/// card, `stock` units of it: (seller token, product).
async fn shop_selling(p: &Platform, title: &str, stock: i64) -> (String, Product) {
    p.create_categories(&[("Electronics", &["Audio"])]).await;
    let (seller, _) = p.seller_with_shop("Drill Hardware", "electronics").await;
    let body = json!({
        "title": title,
        "description": format!("<p>The <b>{title}</b>.</p>"),
        "category": "electronics",
        "regular_price": 4_000,
        "stock": stock,
        "cash_on_delivery": true,
    });
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    (seller.clone(), ok_as(r).await)
}

/// A product's stock as its seller reads it (from the catalog, not from a
/// page an edge keeps).
async fn stock_of(p: &Platform, seller: &str, product_id: &str) -> i64 {
    let product: Value = bazaar_tests::story::ok_json(
        p.get(&format!("/api/seller/products/{product_id}"), Some(seller))
            .await,
    )
    .await;
    product["stock"].as_i64().expect("a stock")
}
