//! The cost of central logs: browsing load (category listings through the
//! edge and the search node, N clients) measured alone, then while this
//! process sends a burst of log records as fast as one thread can, first
//! one that fits the publishing queue and then one far larger. Prints the
//! browsing's requests/s and latency, and for each burst the records sent,
//! those that reached the bus, those dropped (counted by the runtime) and
//! those lost without being counted, which must be none.
//! A benchmark: it prints numbers, it never fails on timing.
//!
//! Everything runs in this process, as the platform tests do: a real
//! nats-server, SurrealDB in memory, every node and an edge, so the records
//! come from the process that serves the requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bazaar_subjects::Role;
use bazaar_tests::{Options, Platform};
use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

/// What every burst record says, to tell them from the platform's own.
const BURST_MESSAGE: &str = "log benchmark burst record";

#[derive(Debug, Parser)]
#[command(about = "Browsing latency with and without a burst of log records")]
struct Args {
    /// Records in the large burst.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Browsing clients, each one request at a time.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Seconds of browsing per measurement.
    #[arg(long, default_value_t = 10)]
    secs: u64,
}

struct Browsing {
    requests: u64,
    failed: u64,
    latency: Histogram<u64>,
    elapsed: Duration,
}

/// `clients` clients browsing a category listing until `stop`.
async fn browse(p: &Platform, clients: usize, stop: Arc<AtomicBool>) -> Browsing {
    let started = Instant::now();
    let url = p.url("/api/products?category=electronics");
    let runs = (0..clients).map(|_| {
        let (http, url, stop) = (p.http.clone(), url.clone(), stop.clone());
        tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3).expect("a histogram");
            let (mut requests, mut failed) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => failed += 1,
                }
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                let _ = latency.record(micros);
                requests += 1;
            }
            (requests, failed, latency)
        })
    });
    let mut total = Browsing {
        requests: 0,
        failed: 0,
        latency: Histogram::<u64>::new(3).expect("a histogram"),
        elapsed: Duration::ZERO,
    };
    for run in futures::future::join_all(runs).await {
        let (requests, failed, latency) = run.expect("a client");
        total.requests += requests;
        total.failed += failed;
        let _ = total.latency.add(latency);
    }
    total.elapsed = started.elapsed();
    total
}

struct Burst {
    sent: u64,
    took: Duration,
    dropped: u64,
}

/// Sends `records` records from a thread of its own, as fast as it can.
fn burst(records: u64) -> std::thread::JoinHandle<Burst> {
    std::thread::spawn(move || {
        let dropped_before = bazaar_runtime::logbus::dropped();
        let started = Instant::now();
        for n in 0..records {
            tracing::info!(target: "bazaar_bench_logs", n, BURST_MESSAGE);
        }
        Burst {
            sent: records,
            took: started.elapsed(),
            dropped: bazaar_runtime::logbus::dropped() - dropped_before,
        }
    })
}

fn row(what: &str, b: &Browsing) {
    let secs = b.elapsed.as_secs_f64().max(f64::EPSILON);
    #[allow(clippy::cast_precision_loss)]
    let rate = b.requests as f64 / secs;
    println!(
        "| {what} | {rate:.0} | {:.2} ms | {:.2} ms | {} |",
        b.latency.value_at_quantile(0.5) as f64 / 1000.0,
        b.latency.value_at_quantile(0.99) as f64 / 1000.0,
        b.failed,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Browsing from one address: the general rate limit out of the way.
    let p = Platform::spawn_with(Options {
        edge: bazaar_edge::EdgeConfig {
            rate_limit_per_minute: u32::MAX,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    p.create_categories(&[("Electronics", &["Audio"])]).await;
    let seller = p.token(Role::Seller);
    p.open_shop(&seller, "Bench Sounds", "electronics").await;
    for n in 0..24 {
        let r = p
            .send(
                reqwest::Method::POST,
                "/api/seller/products",
                &seller,
                Some(json!({
                    "title": format!("Bench speaker {n}"),
                    "description": "<p>A speaker.</p>",
                    "category": "electronics",
                    "regular_price": 1_000 + n,
                    "stock": 10,
                })),
            )
            .await;
        anyhow::ensure!(r.status() == 201, "a product: {}", r.status());
    }

    // Every burst record that reaches the bus, counted as it arrives.
    let arrived = Arc::new(AtomicU64::new(0));
    let mut records = p.ctx.nats.subscribe("logs.>").await?;
    {
        let arrived = arrived.clone();
        tokio::spawn(async move {
            while let Some(msg) = records.next().await {
                if msg
                    .payload
                    .windows(BURST_MESSAGE.len())
                    .any(|w| w == BURST_MESSAGE.as_bytes())
                {
                    arrived.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    println!(
        "| browsing ({} clients, {} s each) | req/s | p50 | p99 | failed |",
        args.clients, args.secs
    );
    println!("|---|---:|---:|---:|---:|");
    let mut bursts = Vec::new();
    let fits = u64::try_from(bazaar_runtime::logbus::QUEUE_CAPACITY / 2).unwrap_or(4096);
    for (what, records) in [
        ("alone", 0),
        ("with a burst that fits the queue", fits),
        ("with a burst far larger than the queue", args.records),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let stopper = {
            let stop = stop.clone();
            let secs = args.secs;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.store(true, Ordering::Relaxed);
            })
        };
        let before = arrived.load(Ordering::Relaxed);
        let sending = (records > 0).then(|| burst(records));
        let browsing = browse(&p, args.clients, stop).await;
        stopper.await?;
        row(&format!("{what} ({records} records)"), &browsing);
        if let Some(sending) = sending {
            let sent = tokio::task::spawn_blocking(move || sending.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the burst thread panicked"))?;
            // What is still queued goes out; then count what arrived.
            tokio::time::sleep(Duration::from_secs(3)).await;
            bursts.push((what, sent, arrived.load(Ordering::Relaxed) - before));
        }
    }
    println!();
    println!(
        "| burst | records sent | sent in | reached the bus | dropped (counted) | lost uncounted |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, b, reached) in bursts {
        println!(
            "| {what} | {} | {:.0} ms | {reached} | {} | {} |",
            b.sent,
            b.took.as_secs_f64() * 1000.0,
            b.dropped,
            b.sent.saturating_sub(reached + b.dropped),
        );
    }
    p.stop().await;
    Ok(())
}
