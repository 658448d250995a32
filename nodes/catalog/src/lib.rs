//! The catalog node: products, flash sales, stock, product pages.
//!
//! Sellers write their own products (the seller's shop comes from the
//! sellers node, asked on the caller's behalf; ownership is checked here on
//! every read and write of a seller's product). Buyers read live products
//! through the showcase and product pages, served from JetStream KV caches
//! that every write invalidates before it answers; every change is
//! announced on `events.catalog.product.changed`, which feeds the search
//! node's indexes (search, listings and suggestions live there).
//! Edges send the product pages they served (`catalog.product.views`,
//! see `views`); shop renames and the views' counts arrive as events (see
//! `listeners`).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod handlers;
mod images;
mod listeners;
pub mod maintenance;
mod moderation;
mod stock;
pub mod store;
pub mod validate;
mod views;

#[cfg(test)]
mod test_support;

pub use error::CatalogError;
pub use maintenance::CatalogConfig;
pub use store::CatalogStore;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::catalog::{
    CreateProduct, DeleteProduct, EditProduct, GetMyProduct, GetProduct, GetProductsByIds,
    GetShowcase, ListMyProducts, RecordViews, ReleaseStock, ReserveStock, RestockItems,
    RestoreProduct,
};

/// The smallest cap the default falls back to on a store short of room.
const IMAGES_MIN_FALLBACK_BYTES: u64 = 64 * 1024 * 1024;

/// Makes the images bucket with its cap. JetStream reserves a cap on its
/// store, and a nats-server sizes its store from the disk's free space, so
/// on a nearly full disk the default 1 GiB is refused: the default then
/// halves until it fits (down to 64 MiB), with a warning, so a shop on a
/// small box still starts. A cap the operator chose is kept or refused.
async fn ensure_images_bucket(ctx: &NodeContext, max_bytes: u64) -> Result<(), NodeError> {
    let bucket = bazaar_subjects::catalog::IMAGES_BUCKET;
    let mut cap = max_bytes;
    loop {
        match bazaar_runtime::jetstream::ensure_capped_object_store(&ctx.jetstream, bucket, cap)
            .await
        {
            Ok(_) => break,
            // Only a refused reservation: any other failure is not a
            // matter of room, and a smaller cap would not mend it.
            Err(NodeError::CapRefused { .. })
                if max_bytes == maintenance::DEFAULT_IMAGES_MAX_BYTES
                    && cap / 2 >= IMAGES_MIN_FALLBACK_BYTES =>
            {
                cap /= 2;
            }
            Err(refused @ NodeError::CapRefused { .. }) => {
                return Err(NodeError::Config(format!(
                    "{refused}: set BAZAAR_IMAGES_MAX_BYTES lower"
                )));
            }
            Err(other) => return Err(other),
        }
    }
    if cap != max_bytes {
        tracing::warn!(
            cap_bytes = cap,
            default_bytes = max_bytes,
            "the JetStream store has no room for the default images cap: images are capped lower; \
             free disk space or set BAZAAR_IMAGES_MAX_BYTES"
        );
    }
    Ok(())
}

/// Serves the catalog domain until `shutdown`, with the scheduled jobs.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: CatalogConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    // The images bucket with its cap, before anything opens it.
    ensure_images_bucket(&ctx, config.images_max_bytes).await?;
    let store = CatalogStore::open(&ctx, db).await?;
    let holder = format!("catalog-{}", uuid::Uuid::now_v7());
    let jobs = tokio::spawn(maintenance::run(
        store.clone(),
        config,
        holder,
        shutdown.clone(),
    ));
    let listeners = listeners::spawn(store.clone(), shutdown.clone()).await?;
    let _outbox = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
        store.outbox.clone().run(shutdown.clone()),
    ));
    let served = Node::new(
        ctx,
        Domain::Catalog,
        "products, flash sales, product pages and stock",
    )
    .with_state(store)
    .serve::<GetShowcase>(handlers::showcase)
    .serve::<GetProduct>(handlers::product)
    .serve::<CreateProduct>(handlers::create)
    .serve::<EditProduct>(handlers::edit)
    .serve::<DeleteProduct>(handlers::delete)
    .serve::<bazaar_subjects::console::HideProduct>(moderation::hide)
    .serve::<bazaar_subjects::console::RestoreProduct>(moderation::restore)
    .serve::<RestoreProduct>(handlers::restore)
    .serve::<GetMyProduct>(handlers::my_product)
    .serve::<ListMyProducts>(handlers::my_products)
    .serve::<ReserveStock>(handlers::reserve)
    .serve::<ReleaseStock>(handlers::release)
    .serve::<RestockItems>(handlers::restock)
    .serve::<GetProductsByIds>(handlers::by_ids)
    .serve::<RecordViews>(handlers::views)
    .run(shutdown)
    .await;
    let _ = jobs.await;
    for l in listeners {
        let _ = l.await;
    }
    served
}
