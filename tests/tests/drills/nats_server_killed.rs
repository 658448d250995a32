//! One of three NATS servers is killed with SIGKILL while buyers check out:
//! every stream, bucket and store has 3 replicas, clients move to another
//! server, and a client that retries with its idempotency key gets exactly
//! one set of orders, announced and confirmed exactly once.

use std::time::Duration;

use bazaar_tests::Options;
use bazaar_tests::drill::Tally;

use crate::checkouts::{self, BUYERS};
use crate::platform;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_killed_while_buyers_check_out_loses_and_doubles_no_order() {
    let p = platform(Options::default()).await;
    // Orders' events live on all three servers.
    let mut events = p.ctx.jetstream.get_stream("ORDERS_EVENTS").await.unwrap();
    let info = events.info().await.unwrap();
    assert_eq!(info.config.num_replicas, 3);
    let (seller, lamp, buyers) = checkouts::shop_and_buyers(&p).await;

    // The buyers shop; once their requests flow, the server the edge is
    // on dies as a machine dies, without a word to anyone.
    let tally = Tally::default();
    let killed = p.edge_nats_server();
    let fault = async {
        while tally.counts().total() < 2 * BUYERS as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = tally.counts();
        p.kill_nats_server(killed).await;
        eprintln!("killed NATS server {killed} (the edge's) after {before:?}");
    };
    let started = std::time::Instant::now();
    let placed = checkouts::shop_through(&p, &tally, &buyers, &lamp.id, fault).await;
    checkouts::report("one of three NATS servers killed", started, &tally, &placed);
    checkouts::verify(&p, &tally, &seller, &lamp, &buyers, &placed).await;

    // The killed server comes back with its store and rejoins.
    p.restart_nats_server(killed).await;
}
