//! The sellers node: shops, followers and top shops.
//!
//! A seller opens exactly one shop (the owner is the caller, from their
//! verified token; the unique owner index keeps it to one even when two
//! requests race) and edits only that one. Shop pages and rankings are
//! public. Writes go to SurrealDB, then `events.sellers.*` is published.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod handlers;
mod listeners;
mod moderation;
mod payouts;
mod store;
mod validate;

pub use store::{SellersConfig, SellersError, SellersStore};
pub use validate::{ValidShop, is_image_id, slug_from_name, validate_shop};

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::console::{GetShopOfOwner, HideShop, RestoreShop};
use bazaar_subjects::sellers::{
    ConnectPayouts, CreateShop, FollowShop, GetMyShop, GetPayoutAccounts, GetPayoutStatus, GetShop,
    GetShopCard, GetShopOwner, TopShops, UnfollowShop, UpdateMyShop,
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
    let _outbox = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
        store.outbox.clone().run(shutdown.clone()),
    ));
    let accounts = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
        payouts::run_account_jobs(store.clone(), ctx.jetstream.clone(), shutdown.clone()),
    ));
    Node::new(ctx, Domain::Sellers, "shops, followers and top shops")
        .with_state(store)
        .serve::<CreateShop>(handlers::create)
        .serve::<GetMyShop>(handlers::mine)
        .serve::<UpdateMyShop>(handlers::update)
        .serve::<GetShop>(handlers::page)
        .serve::<GetShopCard>(handlers::card)
        .serve::<GetShopOwner>(handlers::owner)
        .serve::<HideShop>(handlers::hide)
        .serve::<RestoreShop>(handlers::restore)
        .serve::<GetShopOfOwner>(handlers::of_owner)
        .serve::<FollowShop>(handlers::follow)
        .serve::<UnfollowShop>(handlers::unfollow)
        .serve::<TopShops>(handlers::top)
        .serve::<ConnectPayouts>(handlers::connect_payouts)
        .serve::<GetPayoutStatus>(handlers::payout_status)
        .serve::<GetPayoutAccounts>(handlers::payout_accounts)
        .run(shutdown)
        .await?;
    accounts
        .await
        .map_err(|e| NodeError::JetStream(format!("stripe account jobs: {e}")))??;
    Ok(())
}
