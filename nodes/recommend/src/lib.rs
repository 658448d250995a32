//! The recommend node: "recommended for you", "similar products" and
//! "customers also bought".
//!
//! It keeps no tables. At start it loads the model the
//! [`MODEL_POINTER_BUCKET`](bazaar_subjects::recommend::MODEL_POINTER_BUCKET)
//! pointer names from the models Object Store, then follows the pointer and
//! swaps in each new model without dropping a request (see [`served`]); a
//! corrupt or incompatible artifact is refused and the old model kept. With
//! no model yet it answers with the catalog's best sellers. Candidates are
//! checked against the catalog before they are shown: deleted, unlisted and
//! out-of-stock products, and what the asker already bought, never appear.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bundle;
mod handlers;
pub mod served;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_subjects::Domain;
use bazaar_subjects::recommend::{AlsoBought, GetCurrentModel, RecommendForYou, SimilarProducts};

pub use bundle::{Bundle, BundleError, Extras};
pub use served::{Loaded, ModelStore, Served};

/// What the handlers share.
pub struct Recommend {
    served: Arc<Served>,
    nats: async_nats::Client,
    timeout: std::time::Duration,
}

/// Serves the recommend domain until `shutdown`.
pub async fn run(ctx: NodeContext, shutdown: Shutdown) -> Result<(), NodeError> {
    let store = ModelStore::open(&ctx.jetstream).await?;
    let served = Arc::new(Served::default());
    let revision = store.load_current(&served).await;
    let watch_stop = shutdown.child_token();
    let watcher = {
        let served = served.clone();
        let stop = watch_stop.clone();
        tokio::spawn(async move { store.watch(served, revision, stop).await })
    };
    let state = Recommend {
        served,
        nats: ctx.nats.clone(),
        timeout: ctx.request_timeout,
    };
    let served = Node::new(ctx, Domain::Recommend, "recommendations")
        .with_state(state)
        .serve::<RecommendForYou>(handlers::for_you)
        .serve::<SimilarProducts>(handlers::similar)
        .serve::<AlsoBought>(handlers::also_bought)
        .serve::<GetCurrentModel>(handlers::current_model)
        .run(shutdown)
        .await;
    watch_stop.cancel();
    if let Ok(Err(e)) = watcher.await {
        tracing::warn!(error = %e, "recommender pointer watch ended");
    }
    served
}
