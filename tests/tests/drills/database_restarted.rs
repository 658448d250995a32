//! The SurrealDB server is restarted while buyers check out: the nodes
//! reach it over `ws://` as the distributed mode runs, reconnect by
//! themselves once it is back, and no write is lost or doubled: a client
//! that retries with its idempotency key gets exactly one set of orders,
//! announced and confirmed exactly once.

use std::time::Duration;

use bazaar_tests::Options;
use bazaar_tests::drill::Tally;

use crate::checkouts::{self, BUYERS};
use crate::platform;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarted_while_buyers_check_out_loses_and_doubles_no_order() {
    let p = platform(Options {
        surreal_server: true,
        ..Options::default()
    })
    .await;
    let (seller, lamp, buyers) = checkouts::shop_and_buyers(&p).await;

    // The buyers shop; once their requests flow, the database server is
    // stopped and started again on the same port and store.
    let tally = Tally::default();
    let server = p.surreal.as_ref().expect("a SurrealDB server");
    let fault = async {
        while tally.counts().total() < 2 * BUYERS as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = tally.counts();
        let away = server.restart().await;
        eprintln!("restarted the SurrealDB server after {before:?}; it was away {away:.1?}");
    };
    let started = std::time::Instant::now();
    let placed = checkouts::shop_through(&p, &tally, &buyers, &lamp.id, fault).await;
    checkouts::report("the database restarted", started, &tally, &placed);
    checkouts::verify(&p, &tally, &seller, &lamp, &buyers, &placed).await;
}
