//! The pieces the `bazaar` binary and the platform tests share: which nodes
//! exist and how to start them, and a managed `nats-server` child.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod analytics;
pub mod bus_setup;
pub mod natsd;
pub mod platform;
pub mod retrain;
