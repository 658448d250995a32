//! One of two copies of the orders node crashes while buyers keep filling
//! their carts: the other copy takes every request from then on, and what
//! is lost is at most what the dead copy had in hand.

use std::sync::Arc;
use std::time::Duration;

use bazaar_subjects::{Domain, Role};
use bazaar_tests::Options;
use bazaar_tests::drill::Load;
use serde_json::json;

use crate::{platform, shop_selling};

/// Buyers sending requests at once: also the most requests a crashed copy
/// can have in hand.
const CONCURRENCY: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_copy_crashing_under_load_costs_at_most_its_requests_in_flight() {
    let p = platform(Options {
        without: vec![Domain::Orders],
        ..Default::default()
    })
    .await;
    let first = p.start_node(Domain::Orders);
    let second = p.start_node(Domain::Orders);
    p.wait_ready().await;
    eventually_two_copies(&p).await;
    let (_, item) = shop_selling(&p, "Drill Battery", 1_000_000).await;

    // Each buyer adds to their cart and reads it back, over and over: both
    // reach the orders node on every request (no edge keeps a cart).
    let buyers: Arc<Vec<String>> =
        Arc::new((0..CONCURRENCY).map(|_| p.token(Role::Buyer)).collect());
    let (http, base, item_id) = (p.http.clone(), p.base_url.clone(), item.id.clone());
    let load = Load::start(CONCURRENCY, move |worker, n| {
        let (http, base, item_id, buyers) =
            (http.clone(), base.clone(), item_id.clone(), buyers.clone());
        async move {
            let token = &buyers[worker];
            if n % 2 == 0 {
                http.post(format!("{base}/api/cart/items"))
                    .bearer_auth(token)
                    .json(&json!({ "product_id": item_id, "quantity": 1 }))
                    .send()
                    .await
            } else {
                http.get(format!("{base}/api/cart"))
                    .bearer_auth(token)
                    .send()
                    .await
            }
        }
    });
    load.until_answered(200).await;
    let before = load.counts();
    first.crash();
    eprintln!("crashed one of two orders copies after {before:?}");
    // Past the edge's request timeout, whatever the dead copy held has
    // been answered; from then on nothing may fail.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let settled = load.counts();
    load.until_answered(200).await;
    let after = load.stop().await;
    let lost = after.failed() - before.failed();
    eprintln!(
        "{} requests, {} after the crash; failed: {} before, {lost} from the crash on \
         (5xx {}, no answer {}); {} once settled",
        after.total(),
        after.total() - before.total(),
        before.failed(),
        after.server_errors - before.server_errors,
        after.unanswered - before.unanswered,
        after.failed() - settled.failed(),
    );
    assert_eq!(before.failed(), 0, "failures before the crash");
    assert_eq!(after.client_errors, 0, "a 4xx under load");
    assert!(
        lost <= CONCURRENCY as u64,
        "{lost} failed: more than the {CONCURRENCY} a copy can hold"
    );
    assert_eq!(after.failed(), settled.failed(), "failures once settled");
    eprintln!(
        "orders copies answering the service ping: {}",
        p.node_ids(Domain::Orders).await.len()
    );
    second.stop().await;
}

/// Both copies answer the service ping before the load starts, so the
/// load is spread over two. A copy on a cluster may take a while to start:
/// its streams and consumers are agreed on by three servers.
async fn eventually_two_copies(p: &bazaar_tests::Platform) {
    let two = async {
        while p.node_ids(Domain::Orders).await.len() < 2 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), two)
        .await
        .expect("two orders copies answer within a minute");
}
