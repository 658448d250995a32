//! The running system as an admin sees it: which nodes answer, how many
//! copies, their versions and uptimes, what each subject serves and fails,
//! and what JetStream holds.
//!
//! Every node answers the NATS service API (`$SRV.INFO`, `$SRV.STATS`);
//! each endpoint's figures travel in its stats' `data` as an
//! [`EndpointFigures`] (a node replies on its shared connection, so that a
//! stopping node can drain, and counts its replies itself). The admin node
//! gathers them into a [`SystemReport`] for admins.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Domain, Empty, Endpoint};

/// The service API's info request to every service.
pub const SRV_INFO: &str = "$SRV.INFO";
/// The service API's stats request to every service.
pub const SRV_STATS: &str = "$SRV.STATS";

/// What the gatherer asks to see the system (read-only): every service's
/// info and stats, and every stream's and consumer's state.
pub const INSPECT: &[&str] = &[
    SRV_INFO,
    SRV_STATS,
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.INFO.*",
    "$JS.API.CONSUMER.NAMES.*",
    "$JS.API.CONSUMER.LIST.*",
    "$JS.API.CONSUMER.INFO.*.*",
];

/// One endpoint's figures since its copy started, as the copy counted them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EndpointFigures {
    /// Requests answered.
    pub requests: u64,
    /// Requests that failed on the server side (status 500 and up).
    pub errors: u64,
    /// Requests refused (status 400-499: bad input, not signed in, not allowed, not found).
    pub refused: u64,
    /// Time spent answering, in total, in microseconds.
    pub busy_micros: u64,
    /// The latest server-side failure.
    pub last_error: Option<RecentError>,
}

/// A request that failed on the server side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecentError {
    pub subject: String,
    pub status: u16,
    /// What the caller was told (never the internal cause, which is logged).
    pub message: String,
    /// The request's id, as its log lines carry it.
    pub request_id: String,
    /// When, RFC 3339.
    pub at: String,
}

/// Every domain with a node answering, and JetStream's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SystemReport {
    /// When this was gathered, RFC 3339.
    pub at: String,
    /// One entry per domain that has at least one copy answering, by name.
    pub nodes: Vec<NodeReport>,
    /// Per subject, summed over every copy.
    pub subjects: Vec<SubjectReport>,
    /// The latest server-side failures, newest first.
    pub recent_errors: Vec<RecentError>,
    pub streams: Vec<StreamReport>,
}

/// One domain's running copies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NodeReport {
    pub domain: String,
    pub description: String,
    /// How many copies answered.
    pub copies: usize,
    pub instances: Vec<InstanceReport>,
}

/// One running copy of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InstanceReport {
    /// The service API's id of this copy.
    pub id: String,
    pub version: String,
    /// When it started, RFC 3339.
    pub started: String,
    pub uptime_secs: u64,
    pub requests: u64,
    pub errors: u64,
}

/// One subject's traffic over every copy serving it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SubjectReport {
    pub subject: String,
    pub domain: String,
    pub requests: u64,
    pub errors: u64,
    pub refused: u64,
    /// Requests per second since the copies started (each copy's count
    /// over its uptime, summed).
    pub requests_per_sec: f64,
    /// Server-side failures as a share of requests (0 to 1).
    pub error_rate: f64,
    /// Mean time to answer, in milliseconds.
    pub mean_ms: f64,
}

/// One JetStream stream (events, work queues, buckets) and its consumers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StreamReport {
    pub name: String,
    pub messages: u64,
    pub bytes: u64,
    pub consumers: Vec<ConsumerReport>,
}

/// A durable consumer and how far behind it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsumerReport {
    pub name: String,
    /// Messages not yet given to it.
    pub pending: u64,
    /// Messages given to it and not acknowledged.
    pub ack_pending: u64,
}

/// `admin.system.get`: the system report, for admins.
pub struct GetSystem;
impl Endpoint for GetSystem {
    const SUBJECT: &'static str = "admin.system.get";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Admin;
    type Request = Empty;
    type Reply = SystemReport;
}
