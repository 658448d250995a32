//! The logs node: every process's log records, for admins to read.
//!
//! Every process publishes its records on `logs.<identity>.<level>` (see
//! `bazaar_runtime::logbus`); this node keeps the `LOGS` stream that holds
//! them (created at start, its size and age limits kept as configured) and
//! answers two admin-only endpoints over it: a page of records, newest
//! first, with filters ([`QueryLogs`]), and every record of one request in
//! time order ([`FollowLogRequest`]). The caller's token is verified and
//! its role checked here, not at the edge. It keeps no tables and no state:
//! any number of copies answer from the one stream (see [`store`] for how a
//! query reads it and its bounds).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod store;

use std::time::Duration;

use bazaar_runtime::{Node, NodeContext, NodeError, Request, Shutdown};
use bazaar_subjects::Domain;
use bazaar_subjects::logs::{
    FollowLogRequest, FollowRequest, LogPage, LogQuery, QueryLogs, RequestTrail,
};

pub use store::{LogStore, LogsError};

/// The logs node's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsConfig {
    /// The most bytes the LOGS stream keeps; the oldest records go first.
    #[arg(long, env = "BAZAAR_LOGS_MAX_BYTES", default_value_t = DEFAULT_MAX_BYTES)]
    pub logs_max_bytes: u64,
    /// How long the LOGS stream keeps a record, in seconds.
    #[arg(long, env = "BAZAAR_LOGS_MAX_AGE_SECS", default_value_t = DEFAULT_MAX_AGE_SECS)]
    pub logs_max_age_secs: u64,
    /// The most records one query reads before it answers with what it
    /// found (and where to go on from).
    #[arg(long, env = "BAZAAR_LOGS_SCAN_LIMIT", default_value_t = DEFAULT_SCAN_LIMIT)]
    pub logs_scan_limit: u64,
}

/// 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// Seven days.
pub const DEFAULT_MAX_AGE_SECS: u64 = 7 * 24 * 60 * 60;
pub const DEFAULT_SCAN_LIMIT: u64 = 20_000;

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            logs_max_bytes: DEFAULT_MAX_BYTES,
            logs_max_age_secs: DEFAULT_MAX_AGE_SECS,
            logs_scan_limit: DEFAULT_SCAN_LIMIT,
        }
    }
}

impl LogsConfig {
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.logs_max_age_secs)
    }
}

/// Serves the logs domain until `shutdown`.
pub async fn run(
    ctx: NodeContext,
    config: LogsConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let store = LogStore::open(&ctx.jetstream, &config).await?;
    Node::new(ctx, Domain::Logs, "central logs")
        .quiet()
        .with_state(store)
        .serve::<QueryLogs>(query)
        .serve::<FollowLogRequest>(follow)
        .run(shutdown)
        .await
}

async fn query(store: &LogStore, req: Request<LogQuery>) -> Result<LogPage, LogsError> {
    store.query(&req.body).await
}

async fn follow(store: &LogStore, req: Request<FollowRequest>) -> Result<RequestTrail, LogsError> {
    store.follow(&req.body.request_id).await
}
