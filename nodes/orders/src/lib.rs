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
mod orders;
mod payments;
mod reviews;
mod store;

use tokio_util::task::AbortOnDropHandle;

pub use config::OrdersConfig;
pub use error::OrdersError;
pub use store::{OrdersStore, money};

use std::time::Duration;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::orders::*;

use crate::store::owner_key;

/// Serves `$endpoint` with `$body`, given the store as `$s` and the request
/// as `$req`.
macro_rules! serve {
    ($node:expr, $store:expr, $endpoint:ty, |$s:ident, $req:ident| $body:expr) => {
        $node.handle::<$endpoint, _, _>({
            let store = $store.clone();
            move |$req| {
                let $s = store.clone();
                async move { Ok($body) }
            }
        })
    };
}

/// Serves the orders domain until `shutdown`, with the payment applier and
/// the stale-checkout sweeper.
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
    let sweeper = AbortOnDropHandle::new(tokio::spawn(payments::sweeper(
        store.clone(),
        ctx.jetstream.clone(),
        format!("orders-{}", uuid::Uuid::now_v7()),
        Duration::from_secs(60),
        shutdown.clone(),
    )));
    let node = Node::new(
        ctx,
        Domain::Orders,
        "carts, checkout, orders, notifications and reviews",
    );
    let node = serve!(node, store, GetCart, |s, req| {
        let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
        s.cart(&req.onward(), &owner).await?
    });
    let node = serve!(node, store, AddCartItem, |s, req| s
        .add_to_cart(&req.onward(), &req.caller, &req.body)
        .await?);
    let node = serve!(node, store, UpdateCartItem, |s, req| {
        let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
        s.update_line(&req.onward(), &owner, &req.body.line_id, req.body.quantity)
            .await?
    });
    let node = serve!(node, store, RemoveCartItem, |s, req| {
        let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
        s.remove_line(&req.onward(), &owner, &req.body.line_id)
            .await?
    });
    let node = serve!(node, store, ApplyCartCoupon, |s, req| s
        .apply_coupon(&req.onward(), &req.caller, &req.body)
        .await?);
    let node = serve!(node, store, MergeGuestCart, |s, req| s
        .merge(&req.onward(), &req.caller, &req.body.guest_id)
        .await?);
    let node = serve!(node, store, GetWishlist, |s, req| {
        let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
        s.wishlist(&req.onward(), &owner).await?
    });
    let node = serve!(node, store, AddWishlistItem, |s, req| s
        .wish(&req.onward(), &req.caller, &req.body, true)
        .await?);
    let node = serve!(node, store, RemoveWishlistItem, |s, req| s
        .wish(&req.onward(), &req.caller, &req.body, false)
        .await?);
    let node = serve!(node, store, CreateCoupon, |s, req| s
        .create_coupon(&req)
        .await?);
    let node = serve!(node, store, ListCoupons, |s, req| s
        .my_coupons(&req)
        .await?);
    let node = serve!(node, store, DeleteCoupon, |s, req| s
        .delete_coupon(&req)
        .await?);
    let node = serve!(node, store, PlaceCheckout, |s, req| s
        .place_checkout(&req)
        .await?);
    let node = serve!(node, store, GetCheckout, |s, req| s
        .my_checkout(&req.caller, &req.body.checkout_id)
        .await?);
    let node = serve!(node, store, ListMyOrders, |s, req| s
        .my_orders(&req)
        .await?);
    let node = serve!(node, store, GetMyOrder, |s, req| s
        .my_order(&req.caller, &req.body.id)
        .await?
        .order);
    let node = serve!(node, store, CancelMyOrder, |s, req| s
        .cancel_my_order(&req)
        .await?);
    let node = serve!(node, store, ListShopOrders, |s, req| s
        .shop_orders(&req)
        .await?);
    let node = serve!(node, store, GetShopOrder, |s, req| s
        .shop_order(&req.caller, &req.body.id)
        .await?
        .order);
    let node = serve!(node, store, AdvanceShopOrder, |s, req| s
        .advance_order(&req)
        .await?);
    let node = serve!(node, store, RefundShopOrder, |s, req| s
        .refund_order(&req)
        .await?);
    let node = serve!(node, store, ListAllOrders, |s, req| s
        .all_orders(&req)
        .await?);
    let node = serve!(node, store, ListNotifications, |s, req| s
        .notifications(&req.caller)
        .await?);
    let node = serve!(node, store, MarkNotificationsRead, |s, req| s
        .mark_read(&req.caller, &req.body)
        .await?);
    let node = serve!(node, store, UpsertReview, |s, req| s
        .upsert_review(&req)
        .await?);
    let node = serve!(node, store, ListTargetReviews, |s, req| s
        .list_reviews(&req.body)
        .await?);
    let served = node.run(shutdown).await;
    let _ = payments.await;
    let _ = sweeper.await;
    served
}
