//! The pieces the `bazaar` binary and the platform tests share: which nodes
//! exist and how to start them, and a managed `nats-server` child.

pub mod natsd;
pub mod platform;
