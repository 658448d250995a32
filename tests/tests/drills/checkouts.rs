//! Buyers checking out while a part of the platform fails, and what must
//! hold after it whatever the fault: every checkout that answered 2xx is
//! placed with exactly one order, a late retry of its key answers the same
//! checkout, each buyer has exactly their checkouts' orders, the units in
//! them are the units gone from stock, and each order is announced and
//! confirmed by email exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bazaar_subjects::catalog::Product;
use bazaar_subjects::orders::{CheckoutResult, CheckoutStatus, Order, OrderList, OrderPlaced};
use bazaar_tests::drill::Tally;
use bazaar_tests::story::ok_as;
use bazaar_tests::{Platform, eventually};
use serde_json::json;

use crate::{shop_selling, stock_of};

pub const BUYERS: usize = 8;
pub const ROUNDS: usize = 3;
const STOCK: i64 = 1_000;

/// One buyer's checkout as the buyer saw it end: its key and what the
/// platform answered it with.
pub struct Placed {
    buyer: usize,
    key: String,
    checkout: CheckoutResult,
}

fn address() -> serde_json::Value {
    json!({
        "full_name": "Dora Drill", "line1": "1 Market Street", "city": "Berlin",
        "postal_code": "10115", "country": "de",
    })
}

/// A buyer's `ROUNDS` purchases, each retried as a real client retries:
/// the same request again after a 5xx or no answer, the checkout with the
/// same idempotency key. Odd buyers pay by card on the test payment page.
async fn shop(
    p: &Platform,
    tally: &Tally,
    buyer: usize,
    token: &str,
    product_id: &str,
) -> Vec<Placed> {
    let card = buyer % 2 == 1;
    let mut placed = Vec::new();
    for round in 0..ROUNDS {
        let quantity = 1 + (buyer + round) % 3;
        let r = tally
            .until_answered(|| {
                p.http
                    .post(p.url("/api/cart/items"))
                    .bearer_auth(token)
                    .json(&json!({ "product_id": product_id, "quantity": quantity }))
            })
            .await;
        assert!(r.status().is_success(), "cart add: {}", r.status());
        let key = format!("drill-{buyer}-{round}");
        let payment = if card { "card" } else { "cod" };
        let body = json!({ "address": address(), "payment": payment });
        let r = tally
            .until_answered(|| {
                p.http
                    .post(p.url("/api/checkout"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", &key)
                    .json(&body)
            })
            .await;
        let status = r.status();
        assert!(status.is_success(), "checkout {key}: {status}");
        let started: CheckoutResult = ok_as(r).await;
        if card {
            let pay = format!("/pay/test/{}", started.checkout_id);
            let no_redirects = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let r = tally
                .until_answered(|| {
                    no_redirects
                        .post(p.url(&pay))
                        .form(&[("decision", "approve")])
                })
                .await;
            assert_eq!(r.status(), 303, "paying {key}");
        }
        let checkout = placed_checkout(p, tally, token, &started.checkout_id).await;
        placed.push(Placed {
            buyer,
            key,
            checkout,
        });
    }
    placed
}

/// Reads a checkout until it is placed (a card payment is confirmed a
/// moment after the payment page answers).
async fn placed_checkout(p: &Platform, tally: &Tally, token: &str, id: &str) -> CheckoutResult {
    let path = format!("/api/checkouts/{id}");
    for _ in 0..600 {
        let r = tally
            .until_answered(|| p.http.get(p.url(&path)).bearer_auth(token))
            .await;
        let checkout: CheckoutResult = ok_as(r).await;
        match checkout.status {
            CheckoutStatus::Placed => return checkout,
            CheckoutStatus::Failed => panic!("checkout {id} failed: {checkout:?}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("checkout {id} was never placed");
}

/// A seller with one product and `BUYERS` signed-up buyers: (seller token,
/// product, buyers' emails and tokens).
pub async fn shop_and_buyers(p: &Platform) -> (String, Product, Vec<(String, String)>) {
    let (seller, lamp) = shop_selling(p, "Drill Lamp", STOCK).await;
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        let email = format!("drill{i}@example.com");
        let token = p.sign_up_buyer(&email).await;
        buyers.push((email, token));
    }
    (seller, lamp, buyers)
}

/// Every buyer shops `ROUNDS` times while `fault` runs: the checkouts as
/// the buyers saw them end.
pub async fn shop_through<F: std::future::Future<Output = ()>>(
    p: &Platform,
    tally: &Tally,
    buyers: &[(String, String)],
    product_id: &str,
    fault: F,
) -> Vec<Placed> {
    let shopping = futures::future::join_all(
        buyers
            .iter()
            .enumerate()
            .map(|(i, (_, token))| shop(p, tally, i, token, product_id)),
    );
    let (placed, ()) = futures::join!(shopping, fault);
    placed.into_iter().flatten().collect()
}

/// Prints what the fault cost (`with` says what it was) and asserts that
/// every buyer's every checkout was placed.
pub fn report(with: &str, started: std::time::Instant, tally: &Tally, placed: &[Placed]) {
    let counts = tally.counts();
    eprintln!(
        "{} checkouts placed in {:.1?} with {with}: \
         {} requests, {} failed (5xx {}, no answer {}) and were retried",
        placed.len(),
        started.elapsed(),
        counts.total(),
        counts.failed(),
        counts.server_errors,
        counts.unanswered,
    );
    assert_eq!(placed.len(), BUYERS * ROUNDS);
}

/// Asserts what must hold after the fault (see the module's doc).
pub async fn verify(
    p: &Platform,
    tally: &Tally,
    seller: &str,
    lamp: &Product,
    buyers: &[(String, String)],
    placed: &[Placed],
) {
    // A late retry of any key answers the same checkout, placing nothing new.
    for done in placed.iter().step_by(5) {
        let token = &buyers[done.buyer].1;
        let payment = if done.buyer % 2 == 1 { "card" } else { "cod" };
        let r = tally
            .until_answered(|| {
                p.http
                    .post(p.url("/api/checkout"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", &done.key)
                    .json(&json!({ "address": address(), "payment": payment }))
            })
            .await;
        let again: CheckoutResult = ok_as(r).await;
        assert_eq!(again.checkout_id, done.checkout.checkout_id, "{}", done.key);
    }

    // Every checkout is one order (one shop); no order belongs to two.
    let mut order_ids = HashSet::new();
    for done in placed {
        assert_eq!(done.checkout.orders.len(), 1, "{}", done.key);
        for o in &done.checkout.orders {
            assert!(order_ids.insert(o.id.clone()), "order {} twice", o.id);
        }
    }
    // Each buyer has exactly the orders of their checkouts, and the units
    // in them are the units the stock lost.
    let mut units = 0;
    let mut orders_of = HashMap::new();
    for (i, (email, token)) in buyers.iter().enumerate() {
        let mine: OrderList = ok_as(p.get("/api/orders?per_page=100", Some(token)).await).await;
        let listed: HashSet<String> = mine.orders.iter().map(|o| o.id.clone()).collect();
        let placed_ids: HashSet<String> = placed
            .iter()
            .filter(|d| d.buyer == i)
            .flat_map(|d| d.checkout.orders.iter().map(|o| o.id.clone()))
            .collect();
        assert_eq!(listed, placed_ids, "the orders of {email}");
        assert_eq!(mine.total as usize, ROUNDS, "{email}");
        for id in &listed {
            let order: Order = ok_as(p.get(&format!("/api/orders/{id}"), Some(token)).await).await;
            units += order.items.iter().map(|i| i.quantity).sum::<i64>();
        }
        orders_of.insert(email.clone(), listed.len());
    }
    let sold = STOCK - stock_of(p, seller, &lamp.id).await;
    eprintln!(
        "{} orders, {units} units in them, {sold} units gone from stock",
        order_ids.len()
    );
    assert_eq!(sold, units);

    // Every order is announced once and confirmed by email once.
    let placed_events = || async {
        let mut per_order: HashMap<String, usize> = HashMap::new();
        for e in p.events_of::<OrderPlaced>().await {
            *per_order.entry(e.0.order_id).or_default() += 1;
        }
        per_order
    };
    eventually(
        "every order to be announced",
        placed_events,
        |seen: &HashMap<String, usize>| order_ids.iter().all(|id| seen.contains_key(id)),
    )
    .await;
    let confirmations = |email: String| async move {
        p.emails_to(&email)
            .await
            .iter()
            .filter(|m| m.subject.contains("is confirmed"))
            .count()
    };
    for (email, orders) in &orders_of {
        eventually(
            &format!("{email}'s confirmations"),
            || confirmations(email.clone()),
            |n| n >= orders,
        )
        .await;
    }
    // A duplicate would come a moment later, if at all.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = placed_events().await;
    assert_eq!(seen.len(), order_ids.len(), "announced orders");
    assert!(seen.values().all(|n| *n == 1), "an order announced twice");
    let mut emails = 0;
    for (email, orders) in &orders_of {
        let n = confirmations(email.clone()).await;
        assert_eq!(n, *orders, "confirmations to {email}");
        emails += n;
    }
    eprintln!(
        "{} OrderPlaced events and {emails} confirmation emails for {} orders",
        seen.values().sum::<usize>(),
        order_ids.len()
    );
}
