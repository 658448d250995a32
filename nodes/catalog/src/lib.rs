//! The catalog node: products, flash sales, browse and full-text search.

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_subjects::Domain;

/// Serves the catalog domain until `shutdown`.
pub async fn run(ctx: NodeContext, shutdown: Shutdown) -> Result<(), NodeError> {
    Node::new(
        ctx,
        Domain::Catalog,
        "products, flash sales, browse and search",
    )
    .run(shutdown)
    .await
}
