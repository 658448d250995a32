//! The catalog node: products, flash sales, browse and full-text search.
//!
//! Sellers write their own products (the seller's shop comes from the
//! sellers node, asked on the caller's behalf; ownership is checked here on
//! every read and write of a seller's product). Buyers read live products
//! through search, suggestions, the showcase and product pages, served from
//! JetStream KV caches that every write invalidates before it answers.
//! Shop renames and product views arrive as events (see `listeners`).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod listeners;
pub mod maintenance;
pub mod search;
pub mod seed;
mod stock;
pub mod store;
pub mod validate;

pub use error::CatalogError;
pub use maintenance::CatalogConfig;
pub use store::CatalogStore;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::catalog::{
    CreateProduct, DeleteProduct, EditProduct, GetMyProduct, GetProduct, GetProductsByIds,
    GetShowcase, ListMyProducts, ReleaseStock, ReserveStock, RestockItems, RestoreProduct,
    SearchCatalog, Suggest,
};

/// Serves the catalog domain until `shutdown`, with the scheduled jobs.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: CatalogConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let store = CatalogStore::open(&ctx, db).await?;
    let holder = format!("catalog-{}", uuid::Uuid::now_v7());
    let jobs = tokio::spawn(maintenance::run(
        store.clone(),
        config,
        holder,
        shutdown.clone(),
    ));
    let listeners = listeners::spawn(store.clone(), shutdown.clone()).await?;
    let s = store;
    let served = Node::new(
        ctx,
        Domain::Catalog,
        "products, flash sales, browse and search",
    )
    .handle::<SearchCatalog, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.search(req.body).await?) }
        }
    })
    .handle::<Suggest, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.suggest(&req.body.q).await?) }
        }
    })
    .handle::<GetShowcase, _, _>({
        let s = s.clone();
        move |_req| {
            let s = s.clone();
            async move { Ok(s.showcase().await?) }
        }
    })
    .handle::<GetProduct, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.get_public(&req).await?) }
        }
    })
    .handle::<CreateProduct, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.create(&req).await?) }
        }
    })
    .handle::<EditProduct, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.update(&req).await?) }
        }
    })
    .handle::<DeleteProduct, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.delete(&req.caller, &req.body.id).await?) }
        }
    })
    .handle::<RestoreProduct, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.restore(&req.caller, &req.body.id).await?) }
        }
    })
    .handle::<GetMyProduct, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.mine(&req.caller, &req.body.id).await?.product) }
        }
    })
    .handle::<ListMyProducts, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.list_mine(&req.caller, &req.body).await?) }
        }
    })
    .handle::<ReserveStock, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.reserve(&req.caller, &req.body).await?) }
        }
    })
    .handle::<ReleaseStock, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move {
                Ok(s.release(&req.body.reservation_id, &req.body.release_token)
                    .await?)
            }
        }
    })
    .handle::<RestockItems, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move {
                s.restock(&req.body).await?;
                Ok(bazaar_subjects::Empty {})
            }
        }
    })
    .handle::<GetProductsByIds, _, _>({
        let s = s.clone();
        move |req| {
            let s = s.clone();
            async move { Ok(s.by_ids(&req.body.ids).await?) }
        }
    })
    .run(shutdown)
    .await;
    let _ = jobs.await;
    for l in listeners {
        let _ = l.await;
    }
    served
}
