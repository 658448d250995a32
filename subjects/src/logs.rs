//! The logs domain: every process's log records, kept in one stream.
//!
//! Each process (every node, every edge) publishes its structured log
//! records on `logs.<source>.<level>`, where the source is the bus identity
//! that publishes it (a domain's name, `edge` or `operator`). The
//! [`STREAM`] keeps them within a size and an age; the logs node answers
//! queries over it ([`QueryLogs`]) and gathers one request's records from
//! every process it touched ([`FollowLogRequest`]). Both are for admins
//! only, checked by the logs node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Domain, Endpoint};

/// The JetStream stream holding the records.
pub const STREAM: &str = "LOGS";

/// The first token of every record's subject.
pub const PREFIX: &str = "logs";

/// The most records one page holds.
pub const MAX_PAGE: u32 = 500;

/// The most records a followed request returns.
pub const MAX_TRAIL: usize = 2_000;

/// The subject a record from `source` at `level` is published on.
pub fn record_subject(source: &str, level: Level) -> String {
    format!("{PREFIX}.{source}.{}", level.name())
}

/// How much a record matters, as `tracing` ranks it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown level `{s}` (trace, debug, info, warn or error)"))
    }
}

/// One log record as a process published it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogRecord {
    /// When it was recorded (RFC 3339, UTC, nanoseconds).
    pub time: String,
    pub level: Level,
    /// The node that recorded it: the domain whose request or task it was
    /// in, `edge` for an HTTP edge, else the publishing process's identity.
    pub node: String,
    /// Which process: host and process id.
    pub instance: String,
    /// The Rust module it came from, e.g. `bazaar_runtime::node`.
    pub target: String,
    pub message: String,
    /// The record's own fields (never the spans' fields).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The request it belongs to, when it happened while serving one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The names of the spans it happened in, outermost first.
    #[serde(default)]
    pub spans: Vec<String>,
}

/// A record as the stream keeps it: with its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredRecord {
    /// Its place in the stream: later records have higher numbers.
    pub seq: u64,
    #[serde(flatten)]
    pub record: LogRecord,
}

/// Which records to show. Every filter given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogQuery {
    /// Records at this level or above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Only this node's records (`edge`, `auth`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Only this request's records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Text in the message, the target or a field's value (ignoring case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Recorded at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Recorded before this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Paging back: only records older than this sequence (a page's
    /// `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// Following the stream: only records newer than this sequence, oldest
    /// first (a live tail passes the last sequence it holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// At most this many records (default 100, at most [`MAX_PAGE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One page of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    /// Newest first; oldest first when the query had `after`.
    pub records: Vec<StoredRecord>,
    /// Pass as `before` for the next (older) page; none when nothing older
    /// is left to look at.
    pub next_before: Option<u64>,
    /// The newest sequence in the stream when the query ran (a tail starts
    /// from it).
    pub last_seq: u64,
    /// How many records were read to answer; a query reads a bounded
    /// number, so a rare match may need the next page.
    pub scanned: u64,
}

/// Whose records to gather.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FollowRequest {
    pub request_id: String,
}

/// Every record of one request, from the edge and every node it touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestTrail {
    pub request_id: String,
    /// In time order.
    pub records: Vec<StoredRecord>,
    /// The nodes that recorded something, in the order they first did.
    pub nodes: Vec<String>,
    /// False when the look-up stopped at its bound before reaching the
    /// request's start (a request id that is not a UUID v7 is looked for in
    /// the newest records only).
    pub complete: bool,
}

/// `logs.records.query`: a page of records, newest first (admins).
pub struct QueryLogs;
impl Endpoint for QueryLogs {
    const SUBJECT: &'static str = "logs.records.query";
    const DOMAIN: Domain = Domain::Logs;
    const ACCESS: Access = Access::Admin;
    type Request = LogQuery;
    type Reply = LogPage;
}

/// `logs.request.follow`: one request's records across the platform (admins).
pub struct FollowLogRequest;
impl Endpoint for FollowLogRequest {
    const SUBJECT: &'static str = "logs.request.follow";
    const DOMAIN: Domain = Domain::Logs;
    const ACCESS: Access = Access::Admin;
    type Request = FollowRequest;
    type Reply = RequestTrail;
}

/// What a live tail's page sends on its socket (`GET /ws/logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TailClientFrame {
    /// Stop sending records; nothing is missed, they come on resume.
    Pause,
    /// Send the records held back since the pause, and the new ones.
    Resume,
}

/// What the edge sends a live tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TailServerFrame {
    /// New records matching the tail's filters, oldest first.
    Records {
        records: Vec<StoredRecord>,
        last_seq: u64,
    },
    Paused,
    Resumed,
    /// The logs node refused the tail (signed out, not an admin, or a bad
    /// filter); the socket closes after it.
    Refused {
        status: u16,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::Error > Level::Warn && Level::Warn > Level::Info);
        for l in Level::ALL {
            assert_eq!(l.name().parse::<Level>(), Ok(l));
        }
        assert_eq!(record_subject("edge", Level::Warn), "logs.edge.warn");
    }

    #[test]
    fn a_stored_record_reads_flat() {
        let json = serde_json::json!({
            "seq": 7, "time": "2026-01-01T00:00:00Z", "level": "info", "node": "auth",
            "instance": "h-1", "target": "t", "message": "m"
        });
        let r: StoredRecord = serde_json::from_value(json).unwrap();
        assert_eq!(r.seq, 7);
        assert_eq!(r.record.node, "auth");
        assert!(r.record.fields.is_empty());
    }
}
