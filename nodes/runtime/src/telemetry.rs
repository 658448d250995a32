//! Tracing set-up: one subscriber per process, pretty for people, JSON for
//! machines, and every record at the publish level and above sent to the
//! central logs (see [`crate::logbus`]).

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the global subscriber; `RUST_LOG` filters (default `info`).
/// Safe to call twice: the second call changes nothing.
pub fn init(format: LogFormat) {
    init_with(Some(format), LevelFilter::INFO);
}

/// As [`init`], with the console optional (`None`: print nothing) and the
/// lowest level published to the central logs.
pub fn init_with(console: Option<LogFormat>, publish: LevelFilter) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,surrealdb=warn,surrealdb_core=warn,async_nats=warn")
    });
    let console = console.map(|format| {
        let layer = tracing_subscriber::fmt::layer();
        match format {
            LogFormat::Pretty => layer.compact().boxed(),
            LogFormat::Json => layer
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .boxed(),
        }
        .with_filter(filter)
    });
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(crate::logbus::layer(publish))
        .try_init();
}
