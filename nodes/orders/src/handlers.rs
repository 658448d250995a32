//! One async function per endpoint: unpacks the request and asks the store.
//! Carts and wishlists belong to the caller's account, else to the guest id
//! the request names.

use bazaar_runtime::Request;
use bazaar_subjects::Empty;
use bazaar_subjects::console::{AuthorReviews, ModerateRequest};
use bazaar_subjects::orders::*;

use crate::store::owner_key;
use crate::{OrdersError, OrdersStore};

type Reply<T> = Result<T, OrdersError>;

pub(crate) async fn cart(s: &OrdersStore, req: Request<CartOwner>) -> Reply<Cart> {
    let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
    s.cart(&req.onward(), &owner).await
}

pub(crate) async fn add_to_cart(s: &OrdersStore, req: Request<AddToCart>) -> Reply<Cart> {
    s.add_to_cart(&req.onward(), &req.caller, &req.body).await
}

pub(crate) async fn update_line(s: &OrdersStore, req: Request<UpdateCartLine>) -> Reply<Cart> {
    let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
    s.update_line(&req.onward(), &owner, &req.body.line_id, req.body.quantity)
        .await
}

pub(crate) async fn remove_line(s: &OrdersStore, req: Request<RemoveCartLine>) -> Reply<Cart> {
    let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
    s.remove_line(&req.onward(), &owner, &req.body.line_id)
        .await
}

pub(crate) async fn apply_coupon(s: &OrdersStore, req: Request<ApplyCoupon>) -> Reply<Cart> {
    s.apply_coupon(&req.onward(), &req.caller, &req.body).await
}

pub(crate) async fn merge(s: &OrdersStore, req: Request<MergeCart>) -> Reply<Cart> {
    s.merge(&req.onward(), &req.caller, &req.body.guest_id)
        .await
}

pub(crate) async fn wishlist(s: &OrdersStore, req: Request<CartOwner>) -> Reply<Wishlist> {
    let owner = owner_key(&req.caller, req.body.guest_id.as_deref())?;
    s.wishlist(&req.onward(), &owner).await
}

pub(crate) async fn wish(s: &OrdersStore, req: Request<WishlistChange>) -> Reply<Wishlist> {
    s.wish(&req.onward(), &req.caller, &req.body, true).await
}

pub(crate) async fn unwish(s: &OrdersStore, req: Request<WishlistChange>) -> Reply<Wishlist> {
    s.wish(&req.onward(), &req.caller, &req.body, false).await
}

pub(crate) async fn create_coupon(s: &OrdersStore, req: Request<CouponInput>) -> Reply<Coupon> {
    s.create_coupon(&req).await
}

pub(crate) async fn my_coupons(s: &OrdersStore, req: Request<Empty>) -> Reply<Coupons> {
    s.my_coupons(&req).await
}

pub(crate) async fn delete_coupon(s: &OrdersStore, req: Request<CouponId>) -> Reply<Empty> {
    s.delete_coupon(&req).await
}

pub(crate) async fn place_checkout(
    s: &OrdersStore,
    req: Request<CheckoutRequest>,
) -> Reply<CheckoutResult> {
    s.place_checkout(&req).await
}

pub(crate) async fn my_checkout(
    s: &OrdersStore,
    req: Request<CheckoutId>,
) -> Reply<CheckoutResult> {
    s.my_checkout(&req.caller, &req.body.checkout_id).await
}

pub(crate) async fn my_orders(s: &OrdersStore, req: Request<ListOrders>) -> Reply<OrderList> {
    s.my_orders(&req).await
}

pub(crate) async fn my_order(s: &OrdersStore, req: Request<OrderId>) -> Reply<Order> {
    Ok(s.my_order(&req.caller, &req.body.id).await?.order)
}

pub(crate) async fn cancel_my_order(s: &OrdersStore, req: Request<OrderId>) -> Reply<Order> {
    s.cancel_my_order(&req).await
}

pub(crate) async fn shop_orders(s: &OrdersStore, req: Request<ListOrders>) -> Reply<OrderList> {
    s.shop_orders(&req).await
}

pub(crate) async fn shop_order(s: &OrdersStore, req: Request<OrderId>) -> Reply<Order> {
    Ok(s.shop_order(&req.caller, &req.body.id).await?.order)
}

pub(crate) async fn advance_order(s: &OrdersStore, req: Request<AdvanceOrder>) -> Reply<Order> {
    s.advance_order(&req).await
}

pub(crate) async fn refund_order(s: &OrdersStore, req: Request<OrderId>) -> Reply<Order> {
    s.refund_order(&req).await
}

pub(crate) async fn all_orders(s: &OrdersStore, req: Request<ListOrders>) -> Reply<OrderList> {
    s.all_orders(&req).await
}

pub(crate) async fn notifications(s: &OrdersStore, req: Request<Empty>) -> Reply<Notifications> {
    s.notifications(&req.caller).await
}

pub(crate) async fn mark_read(s: &OrdersStore, req: Request<MarkRead>) -> Reply<Notifications> {
    s.mark_read(&req.caller, &req.body).await
}

pub(crate) async fn upsert_review(s: &OrdersStore, req: Request<ReviewInput>) -> Reply<Review> {
    s.upsert_review(&req).await
}

pub(crate) async fn hide_review(s: &OrdersStore, req: Request<ModerateRequest>) -> Reply<Review> {
    s.moderate_review(&req, true).await
}

pub(crate) async fn restore_review(
    s: &OrdersStore,
    req: Request<ModerateRequest>,
) -> Reply<Review> {
    s.moderate_review(&req, false).await
}

pub(crate) async fn author_reviews(
    s: &OrdersStore,
    req: Request<AuthorReviews>,
) -> Reply<AuthoredReviews> {
    s.author_reviews(&req.body).await
}

pub(crate) async fn list_reviews(s: &OrdersStore, req: Request<ListReviews>) -> Reply<Reviews> {
    s.list_reviews(&req.body).await
}
