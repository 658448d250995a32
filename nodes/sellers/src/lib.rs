//! The sellers node: shops, followers and top shops.

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_subjects::Domain;

/// Serves the sellers domain until `shutdown`.
pub async fn run(ctx: NodeContext, shutdown: Shutdown) -> Result<(), NodeError> {
    Node::new(ctx, Domain::Sellers, "shops, followers and top shops")
        .run(shutdown)
        .await
}
