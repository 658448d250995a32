//! `bazaar-bench-bare`: the floor the hot read path is measured against. A
//! bare axum handler (no middleware, no NATS) that answers every GET with
//! the same JSON body, read once from a file: what a plain web server costs
//! for the same bytes on the same box (`scripts/bench-hot` runs it beside
//! the platform).

use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "bazaar-bench-bare",
    about = "A bare axum handler serving one JSON file"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: String,
    /// The JSON body every request gets.
    #[arg(long)]
    body: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body: Bytes = std::fs::read(&args.body)
        .with_context(|| format!("cannot read {}", args.body.display()))?
        .into();
    let app = Router::new().fallback(get(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body) }
    }));
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
