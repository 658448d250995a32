//! What every Bazaar node shares.
//!
//! A node is a library with a `run(ctx, shutdown)`; this crate gives it its
//! context ([`NodeContext`]: NATS, JetStream, token verification; a node
//! that keeps tables is handed its database by whoever starts it),
//! a [`Node`] builder that registers typed handlers with the NATS service API,
//! a typed [`call`] for talking to other nodes, idempotent JetStream setup
//! helpers, a revision-checked KV cache, config and tracing.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bus;
pub mod cache;
pub mod call;
pub mod config;
pub mod jetstream;
pub mod lease;
pub mod logbus;
pub mod metrics;
pub mod node;
pub mod pages;
pub mod revocation;
pub mod telemetry;
pub mod tokens;

pub use bus::BusAccess;
pub use call::{RequestMeta, call, call_json};
pub use config::CommonConfig;
pub use node::{Caller, Node, NodeContext, NodeError, Request, Shutdown, internal};
pub use tokens::{Claims, TokenContact, TokenSigner, TokenVerifier};

/// The version every node reports to the NATS service API.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
