//! Chat delivery over websockets: N sockets spread over two edges, one
//! conversation per pair (a buyer on edge A, a seller on edge B), buyers
//! sending at a fixed total rate; prints delivery latency from send to
//! receive (p50/p99/max), messages/s delivered, and memory per idle socket.
//! A benchmark: it prints numbers, it never fails on timing.
//!
//! Everything runs in this process, as the platform tests do: a real
//! nats-server, SurrealDB in memory, every node, two edges, and the clients.
//! So the memory per socket counts both ends of each connection, and the
//! clients share the machine's cores with the platform.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bazaar::platform::NodeConfigs;
use bazaar_edge::EdgeConfig;
use bazaar_subjects::Role;
use bazaar_subjects::chat::{Conversation, MessageBody, MessageInput};
use bazaar_subjects::socket::{ClientFrame, ServerFrame};
use bazaar_tests::{Options, Platform};
use clap::Parser;
use futures::SinkExt;
use futures::stream::{self, SplitSink, StreamExt};
use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
/// A buyer's sending half, shared by the sends in flight.
type Sender = Arc<Mutex<SplitSink<Ws, Message>>>;

#[derive(Debug, Parser)]
#[command(about = "Chat delivery latency and throughput over websockets on two edges")]
struct Args {
    /// Sockets in all (half buyers on edge A, half sellers on edge B).
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    /// Messages per second sent, over all conversations.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// How long to send.
    #[arg(long, default_value_t = 10)]
    secs: u64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn open(base: &str, token: &str) -> anyhow::Result<Ws> {
    let url = format!("{}/ws", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    // Small buffers, as a client with many idle connections would use.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    // The welcome.
    ws.next().await;
    Ok(ws)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pairs = (args.sockets / 2).max(1);
    let dir = tempfile::tempdir()?;
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.chat.messages_per_10s = 1_000_000;
    let p = Platform::spawn_with(Options {
        configs: Some(configs),
        edge: EdgeConfig {
            rate_limit_per_minute: 1_000_000_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let edge_b = p.start_edge().await;
    p.create_categories(&[("Electronics", &["Audio"])]).await;
    eprintln!("[bench-chat] setting up {pairs} conversations (a shop and a buyer each)");

    // Set-up, not measured: accounts, shops, conversations.
    let setup: Vec<anyhow::Result<(String, String, String)>> = stream::iter(0..pairs)
        .map(|i| {
            let p = &p;
            async move {
                let (_, seller) = p.account(&format!("Seller {i}"), Role::Seller).await;
                let shop = p
                    .open_shop(&seller, &format!("Shop {i}"), "electronics")
                    .await;
                let (_, buyer) = p.account(&format!("Buyer {i}"), Role::Buyer).await;
                let r = p
                    .send(
                        reqwest::Method::POST,
                        "/api/conversations",
                        &buyer,
                        Some(serde_json::json!({ "shop_slug": shop.slug })),
                    )
                    .await;
                let c: Conversation = r.json().await?;
                Ok((buyer, seller, c.id))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let setup: Vec<(String, String, String)> = setup.into_iter().collect::<anyhow::Result<_>>()?;

    let before = rss_kib();
    let mut senders: Vec<(Sender, String)> = Vec::new();
    let mut receivers = Vec::new();
    let opened: Vec<anyhow::Result<(Ws, Ws, String)>> = stream::iter(setup)
        .map(|(buyer, seller, id)| {
            let (a, b) = (p.base_url.clone(), edge_b.clone());
            async move { Ok((open(&a, &buyer).await?, open(&b, &seller).await?, id)) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    for o in opened {
        let (buyer_ws, seller_ws, id) = o?;
        let (sink, mut buyer_stream) = buyer_ws.split();
        senders.push((Arc::new(Mutex::new(sink)), id));
        // The buyer's own frames (acks of its sends) are read and dropped,
        // as a browser tab would: a client that does not read is cut off.
        tokio::spawn(async move { while let Some(Ok(_)) = buyer_stream.next().await {} });
        receivers.push(seller_ws);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib();
    let sockets = pairs * 2;
    println!(
        "sockets: {sockets} over 2 edges; RSS {} MiB → {} MiB: {:.1} KiB per idle socket (both ends, one process)",
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 / sockets as f64
    );

    // Measured: buyers send at the rate; sellers' sockets receive.
    let start = Instant::now();
    let histogram = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let received = Arc::new(AtomicU64::new(0));
    for mut ws in receivers {
        let histogram = histogram.clone();
        let received = received.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                let Ok(ServerFrame::Message { message }) = serde_json::from_str(t.as_str()) else {
                    continue;
                };
                if let Some(MessageBody::Text { text }) = message.body
                    && let Some(sent) = text.strip_prefix("t=").and_then(|n| n.parse::<u64>().ok())
                {
                    let now = start.elapsed().as_micros() as u64;
                    let _ = histogram
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .record(now.saturating_sub(sent).max(1));
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let total = args.rate * args.secs;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    for n in 0..total {
        tick.tick().await;
        let (sink, id) = &senders[n as usize % senders.len()];
        let frame = ClientFrame::Send {
            conversation: id.clone(),
            client_id: format!("b{n}"),
            body: MessageInput::Text {
                text: format!("t={}", start.elapsed().as_micros()),
            },
        };
        let sink = sink.clone();
        let text = serde_json::to_string(&frame)?;
        tokio::spawn(async move {
            let _ = sink.lock().await.send(Message::Text(text.into())).await;
        });
        sent += 1;
    }
    let sending = start.elapsed();
    // Let the last messages arrive.
    for _ in 0..100 {
        if received.load(Ordering::Relaxed) >= sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = received.load(Ordering::Relaxed);
    let (p50, p99, max) = {
        let h = histogram.lock().unwrap_or_else(|e| e.into_inner());
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        (ms(0.50), ms(0.99), h.max() as f64 / 1000.0)
    };
    println!(
        "sent {sent} at {} msg/s target over {:.1} s; delivered {got} ({:.0} msg/s)",
        args.rate,
        sending.as_secs_f64(),
        got as f64 / start.elapsed().as_secs_f64().max(0.001)
    );
    println!(
        "delivery latency, send to receive: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p50, p99, max
    );
    p.stop().await;
    Ok(())
}
