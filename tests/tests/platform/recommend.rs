//! Recommendations: a data team retrains from a CSV or the storefront's own
//! events, the running recommend node swaps to the published model without
//! dropping a request, refuses a broken one, and never recommends what a
//! buyer cannot or need not buy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bazaar::retrain::{Outcome, RetrainArgs, retrain};
use bazaar_recommend::ModelStore;
use bazaar_recommender::Weights;
use bazaar_recommender::synthetic::{self, SyntheticConfig};
use bazaar_subjects::auth::Account;
use bazaar_subjects::orders::{OrderEvent, OrderPlaced, OrderStatus, PaymentStatus};
use bazaar_subjects::recommend::{ModelPointer, RecommendationSource, Recommendations};
use bazaar_subjects::{Currency, Event, catalog};
use bazaar_tests::Platform;
use bazaar_tests::story::ok_as;
use serde_json::{Value, json};

/// A planted data set as a CSV file: 600 users × 150 items in 6 groups.
fn planted_csv(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let config = SyntheticConfig {
        groups: 6,
        ..SyntheticConfig::new(600, 150, 12_000, 3)
    };
    let data = synthetic::generate(&config);
    let path = dir.path().join("interactions.csv");
    let file = std::fs::File::create(&path).unwrap();
    data.write_csv(&Weights::default(), file).unwrap();
    path
}

fn small(args: RetrainArgs) -> RetrainArgs {
    RetrainArgs {
        factors: 16,
        iterations: 8,
        ..args
    }
}

async fn retrain_csv(p: &Platform, csv: &std::path::Path, seed: u64) -> Outcome {
    retrain(
        &p.ctx.nats,
        &small(RetrainArgs {
            from_csv: Some(csv.to_owned()),
            seed,
            ..Default::default()
        }),
    )
    .await
    .unwrap()
}

/// Recommendations from `path`, as `token`'s holder (or a guest) gets them.
async fn recommended(p: &Platform, path: &str, token: Option<&str>) -> Recommendations {
    ok_as(p.get(path, token).await).await
}

/// The model version answering a guest right now.
async fn served_version(p: &Platform) -> Option<String> {
    recommended(p, "/api/recommendations", None)
        .await
        .model_version
}

async fn wait_for_version(p: &Platform, version: &str) {
    for _ in 0..100 {
        if served_version(p).await.as_deref() == Some(version) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("model {version} was never served");
}

#[tokio::test]
async fn a_retrained_model_is_published_and_swapped_in_without_dropping_a_request() {
    let p = Platform::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = planted_csv(&dir);

    // No model yet: the catalog's best sellers (none in an empty shop).
    let first = recommended(&p, "/api/recommendations", None).await;
    assert_eq!(first.source, RecommendationSource::Popular);
    assert_eq!(first.model_version, None);

    // The data team retrains from a CSV and writes the report.
    let report = dir.path().join("report.json");
    let v1 = retrain(
        &p.ctx.nats,
        &small(RetrainArgs {
            from_csv: Some(csv.clone()),
            report: Some(report.clone()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    assert!(v1.published);
    assert!(v1.report.model.precision > v1.report.baseline.precision);
    let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(written["version"], v1.version.as_str());
    assert_eq!(written["published"], true);
    wait_for_version(&p, &v1.version).await;

    // Shoppers keep asking while a new model is published and swapped in.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hammer = {
        let (http, url) = (p.http.clone(), p.url("/api/recommendations"));
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let v2 = retrain_csv(&p, &csv, 7).await;
    assert_ne!(v2.version, v1.version);
    wait_for_version(&p, &v2.version).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    hammer.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed");
    assert!(ok.load(Ordering::Relaxed) > 10);
}

#[tokio::test]
async fn a_corrupt_or_incompatible_model_is_refused_and_the_old_one_keeps_answering() {
    let p = Platform::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = planted_csv(&dir);
    let v1 = retrain_csv(&p, &csv, 42).await;
    wait_for_version(&p, &v1.version).await;

    let store = ModelStore::open(&p.ctx.jetstream).await.unwrap();
    let pointer = |version: &str| ModelPointer {
        version: version.to_owned(),
        trained_at: "2026-12-06T09:00:00Z".to_owned(),
        precision_at_10: 1.0,
        baseline_precision_at_10: 0.0,
    };
    store
        .publish(
            &pointer("corrupt"),
            b"BZRREC\r\n this is not a model".to_vec(),
        )
        .await
        .unwrap();
    // A bare ALS artifact without the bundle around it: another format.
    let mut object = store.objects.get(&v1.version).await.unwrap();
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut object, &mut bytes)
        .await
        .unwrap();
    let bare = bazaar_recommend::Bundle::from_bytes(&bytes)
        .unwrap()
        .model
        .to_bytes();
    store.publish(&pointer("bare-als"), bare).await.unwrap();
    store
        .publish(&pointer("missing"), Vec::new())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for _ in 0..5 {
        assert_eq!(
            served_version(&p).await.as_deref(),
            Some(v1.version.as_str())
        );
    }

    // A good model after the broken ones is taken.
    let v2 = retrain_csv(&p, &csv, 9).await;
    wait_for_version(&p, &v2.version).await;
}

async fn publish<E: Event>(p: &Platform, event: &E) {
    p.ctx
        .jetstream
        .publish(E::SUBJECT, serde_json::to_vec(event).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

fn placed(buyer: &str, products: &[&str]) -> OrderPlaced {
    OrderPlaced(OrderEvent {
        order_id: uuid::Uuid::new_v4().to_string(),
        number: "1".to_owned(),
        buyer_id: buyer.to_owned(),
        shop_id: "shop".to_owned(),
        status: OrderStatus::Ordered,
        payment_status: PaymentStatus::Pending,
        total: 100,
        currency: Currency::USD,
        product_ids: products.iter().map(|s| (*s).to_owned()).collect(),
        items: Vec::new(),
        platform_fee: 0,
        at: None,
    })
}

fn ids(answer: &Recommendations) -> Vec<String> {
    answer.items.iter().map(|i| i.id.clone()).collect()
}

#[tokio::test]
async fn deleted_out_of_stock_and_already_bought_products_are_never_recommended() {
    let p = Platform::spawn().await;
    crate::catalog::categories(&p).await;
    let (seller, _shop) = p.real_seller_with_shop("Gadget Barn", "electronics").await;
    let mut made = Vec::new();
    for (title, stock) in [
        ("Bought Lamp", 10),
        ("Deleted Lamp", 10),
        ("Empty Lamp", 0),
        ("Desk Lamp", 10),
        ("Floor Lamp", 10),
        ("Wall Lamp", 10),
        ("Reading Lamp", 10),
    ] {
        let mut body = crate::catalog::product(title, "electronics", 2_500);
        body["stock"] = json!(stock);
        made.push(crate::catalog::create(&p, &seller, &body).await);
    }
    let id = |i: usize| made[i].id.clone();
    let (bought, deleted, empty) = (id(0), id(1), id(2));
    let buyer = p.sign_up_buyer("bea@example.com").await;
    let me: Account = ok_as(p.get("/api/me", Some(&buyer)).await).await;
    let buyer_id = me.id;

    // With no model yet, the home page shows best sellers as recommendations.
    let (status, home) = crate::storefront::page(&p, "/", None).await;
    assert_eq!(status, 200);
    assert!(home.contains("Recommended for you"), "{home}");

    // Others bought everything; our buyer bought one lamp and looked at two.
    let all: Vec<String> = (0..made.len()).map(id).collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    for n in 0..30 {
        publish(&p, &placed(&format!("account:other{n}"), &all_refs)).await;
    }
    publish(&p, &placed(&buyer_id, &[&bought])).await;
    for viewed in [&deleted, &empty] {
        let view = catalog::ProductViewed {
            product_id: viewed.clone(),
            shop_id: "shop".to_owned(),
            account_id: Some(buyer_id.clone()),
            at: "2026-12-06T09:00:00Z".to_owned(),
            visitor_id: None,
        };
        publish(&p, &view).await;
    }
    let outcome = retrain(
        &p.ctx.nats,
        &RetrainArgs {
            factors: 4,
            iterations: 4,
            holdout: 1,
            force: true,
            since: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(outcome.interactions, 30 * made.len() + 3);
    wait_for_version(&p, &outcome.version).await;

    // The seller bins one lamp after training.
    let r = p
        .http
        .delete(p.url(&format!("/api/seller/products/{deleted}")))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let never = [&bought, &deleted, &empty];
    let for_you = recommended(&p, "/api/recommendations?limit=24", Some(&buyer)).await;
    assert_eq!(for_you.model_version, Some(outcome.version.clone()));
    let shown = ids(&for_you);
    assert!(!shown.is_empty(), "{for_you:?}");
    assert!(never.iter().all(|n| !shown.contains(n)), "{for_you:?}");

    let slug = &made[3].slug;
    let similar = recommended(&p, &format!("/api/products/{slug}/similar"), Some(&buyer)).await;
    let shown = ids(&similar);
    assert!(!shown.contains(&id(3)), "{similar:?}");
    assert!(never.iter().all(|n| !shown.contains(n)), "{similar:?}");

    let (status, page) =
        crate::storefront::page(&p, &format!("/products/{slug}"), Some(&buyer)).await;
    assert_eq!(status, 200);
    if !shown.is_empty() {
        assert!(page.contains("Similar products"));
    }

    // In the cart: what the others bought with the desk lamp.
    let r = p
        .http
        .post(p.url("/api/cart/items"))
        .bearer_auth(&buyer)
        .json(&json!({ "product_id": id(3) }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let also = recommended(&p, "/api/cart/also-bought", Some(&buyer)).await;
    assert_eq!(also.source, RecommendationSource::CoPurchase);
    let shown = ids(&also);
    assert!(!shown.is_empty(), "{also:?}");
    assert!(!shown.contains(&id(3)), "{also:?}");
    assert!(never.iter().all(|n| !shown.contains(n)), "{also:?}");
    let (status, cart) = crate::storefront::page(&p, "/cart", Some(&buyer)).await;
    assert_eq!(status, 200);
    assert!(cart.contains("Customers also bought"), "{cart}");

    // A guest gets the popular products of the model.
    let guest = recommended(&p, "/api/recommendations", None).await;
    assert_eq!(guest.source, RecommendationSource::Popular);
    assert_eq!(guest.model_version, Some(outcome.version.clone()));
    let shown = ids(&guest);
    assert!(!shown.contains(&deleted) && !shown.contains(&empty));
}
