//! The sellers node: shops, followers and top shops.
//!
//! A seller opens exactly one shop (the owner is the caller, from their
//! verified token; the unique owner index keeps it to one even when two
//! requests race) and edits only that one. Shop pages and rankings are
//! public. Writes go to SurrealDB, then `events.sellers.*` is published.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod listeners;
mod payouts;
mod store;
mod validate;

pub use store::{SellersConfig, SellersError, SellersStore};
pub use validate::{ValidShop, is_image_id, slug_from_name, validate_shop};

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::sellers::{
    ConnectPayouts, CreateShop, FollowShop, GetMyShop, GetPayoutAccounts, GetPayoutStatus, GetShop,
    GetShopCard, TopShops, UnfollowShop, UpdateMyShop,
};

/// Serves the sellers domain until `shutdown`.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: SellersConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let store = SellersStore::open(&ctx, db.clone(), config).await?;
    // The rating and sales listeners end at `shutdown` on their own.
    let _tallies = listeners::spawn(db, ctx.jetstream.clone(), shutdown.clone()).await?;
    let accounts = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
        payouts::run_account_jobs(store.clone(), ctx.jetstream.clone(), shutdown.clone()),
    ));
    let payouts = store.clone();
    let (s1, s2, s3, s4, s5, s6, s7, s8) = (
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        store,
    );
    Node::new(ctx, Domain::Sellers, "shops, followers and top shops")
        .handle::<CreateShop, _, _>(move |req| {
            let s = s1.clone();
            async move { Ok(s.create(&req).await?) }
        })
        .handle::<GetMyShop, _, _>(move |req| {
            let s = s2.clone();
            async move { Ok(s.mine(&req.caller).await?) }
        })
        .handle::<UpdateMyShop, _, _>(move |req| {
            let s = s3.clone();
            async move { Ok(s.update(&req).await?) }
        })
        .handle::<GetShop, _, _>(move |req| {
            let s = s4.clone();
            async move { Ok(s.page(&req.caller, &req.body.slug).await?) }
        })
        .handle::<GetShopCard, _, _>(move |req| {
            let s = s5.clone();
            async move { Ok(s.card(&req.body.id).await?) }
        })
        .handle::<FollowShop, _, _>(move |req| {
            let s = s6.clone();
            async move { Ok(s.follow(&req.caller, &req.body.slug, true).await?) }
        })
        .handle::<UnfollowShop, _, _>(move |req| {
            let s = s7.clone();
            async move { Ok(s.follow(&req.caller, &req.body.slug, false).await?) }
        })
        .handle::<TopShops, _, _>(move |req| {
            let s = s8.clone();
            async move { Ok(s.top(&req.body).await?) }
        })
        .handle::<ConnectPayouts, _, _>({
            let s = payouts.clone();
            move |req| {
                let s = s.clone();
                async move { Ok(s.connect_payouts(&req.caller).await?) }
            }
        })
        .handle::<GetPayoutStatus, _, _>({
            let s = payouts.clone();
            move |req| {
                let s = s.clone();
                async move { Ok(s.payout_status(&req.caller).await?) }
            }
        })
        .handle::<GetPayoutAccounts, _, _>({
            let s = payouts;
            move |req| {
                let s = s.clone();
                async move { Ok(s.payout_accounts(&req.body).await?) }
            }
        })
        .run(shutdown)
        .await?;
    accounts
        .await
        .map_err(|e| NodeError::JetStream(format!("stripe account jobs: {e}")))??;
    Ok(())
}
