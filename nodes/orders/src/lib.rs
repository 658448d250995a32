//! The orders node: carts, wishlists, discount codes, checkout, payments,
//! orders and their delivery, notifications and reviews.
//!
//! Ownership is checked here on every call: a cart is the caller's account's
//! (or the guest id's), an order is its buyer's or its shop's seller's; other
//! people's things are simply not found.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cart;
mod checkout;
mod config;
mod coupons;
mod error;
mod handlers;
mod orders;
mod payments;
mod placement;
mod reviews;
mod row;
mod store;

use tokio_util::task::AbortOnDropHandle;

pub use config::OrdersConfig;
pub use error::OrdersError;
pub use store::OrdersStore;

use std::time::Duration;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::console::{HideReview, ListAuthorReviews, RestoreReview};
use bazaar_subjects::orders::*;

/// Serves the orders domain until `shutdown`, with the payment applier, the
/// stale-checkout sweeper and the outbox relay.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: OrdersConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let store = OrdersStore::open(&ctx, db, config).await?;
    // Both end with this node, whether it stops or is dropped mid-way.
    let payments = AbortOnDropHandle::new(tokio::spawn(payments::run(
        store.clone(),
        ctx.jetstream.clone(),
        shutdown.clone(),
    )));
    let outbox = AbortOnDropHandle::new(tokio::spawn(store.outbox.clone().run(shutdown.clone())));
    let sweeper = AbortOnDropHandle::new(tokio::spawn(payments::sweeper(
        store.clone(),
        ctx.jetstream.clone(),
        format!("orders-{}", uuid::Uuid::now_v7()),
        Duration::from_secs(60),
        shutdown.clone(),
    )));
    let served = Node::new(
        ctx,
        Domain::Orders,
        "carts, checkout, orders, notifications and reviews",
    )
    .with_state(store)
    .serve::<GetCart>(handlers::cart)
    .serve::<AddCartItem>(handlers::add_to_cart)
    .serve::<UpdateCartItem>(handlers::update_line)
    .serve::<RemoveCartItem>(handlers::remove_line)
    .serve::<ApplyCartCoupon>(handlers::apply_coupon)
    .serve::<MergeGuestCart>(handlers::merge)
    .serve::<GetWishlist>(handlers::wishlist)
    .serve::<AddWishlistItem>(handlers::wish)
    .serve::<RemoveWishlistItem>(handlers::unwish)
    .serve::<CreateCoupon>(handlers::create_coupon)
    .serve::<ListCoupons>(handlers::my_coupons)
    .serve::<DeleteCoupon>(handlers::delete_coupon)
    .serve::<PlaceCheckout>(handlers::place_checkout)
    .serve::<GetCheckout>(handlers::my_checkout)
    .serve::<ListMyOrders>(handlers::my_orders)
    .serve::<GetMyOrder>(handlers::my_order)
    .serve::<CancelMyOrder>(handlers::cancel_my_order)
    .serve::<ListShopOrders>(handlers::shop_orders)
    .serve::<GetShopOrder>(handlers::shop_order)
    .serve::<AdvanceShopOrder>(handlers::advance_order)
    .serve::<RefundShopOrder>(handlers::refund_order)
    .serve::<ListAllOrders>(handlers::all_orders)
    .serve::<ListNotifications>(handlers::notifications)
    .serve::<MarkNotificationsRead>(handlers::mark_read)
    .serve::<UpsertReview>(handlers::upsert_review)
    .serve::<ListTargetReviews>(handlers::list_reviews)
    .serve::<HideReview>(handlers::hide_review)
    .serve::<RestoreReview>(handlers::restore_review)
    .serve::<ListAuthorReviews>(handlers::author_reviews)
    .run(shutdown)
    .await;
    let _ = payments.await;
    let _ = sweeper.await;
    let _ = outbox.await;
    served
}
