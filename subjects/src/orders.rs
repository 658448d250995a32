//! The orders domain: carts, wishlists, discount codes, checkout, payments,
//! orders and their delivery, notifications and reviews.
//!
//! Money is integer minor units with an ISO 4217 code; timestamps RFC 3339.
//! A cart belongs to an account, or to a guest identified by an unguessable
//! id the edge keeps in a signed cookie (`guest_id`); signing in merges it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::priced;
use crate::{Access, Currency, Domain, Empty, Endpoint, Event, Job, Stream};

/// Every orders event: `events.orders.>`.
pub const EVENTS: Stream = Stream {
    name: "ORDERS_EVENTS",
    subjects: "events.orders.>",
};

/// An order's lifecycle events (placed, paid, status changed, cancelled,
/// refunded): `events.orders.order.>`, what the sales counters follow.
pub const ORDER_EVENTS: &str = "events.orders.order.>";

/// Payment provider notifications, verified at the edge and queued here so
/// a node crash mid-way is redelivered: `jobs.orders.>`.
/// Leases that let one orders node at a time sweep stale payments.
pub const LEASES_BUCKET: &str = "orders_leases";

pub const JOBS: Stream = Stream {
    name: "ORDERS_JOBS",
    subjects: "jobs.orders.>",
};

/// Guest cart ids (and checkout ids) are random UUIDs in 32 hex digits:
/// unguessable, so holding one is proof enough of whose it is.
pub fn is_guest_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Who a cart or wishlist belongs to: the caller's account when signed in,
/// else the guest id from the edge's signed cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CartOwner {
    #[serde(default)]
    pub guest_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddToCart {
    #[serde(default)]
    pub guest_id: Option<String>,
    pub product_id: String,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    /// 1–99, default 1; added to what is already in the cart.
    #[serde(default)]
    pub quantity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdateCartLine {
    #[serde(default)]
    pub guest_id: Option<String>,
    pub line_id: String,
    /// 0 removes the line.
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RemoveCartLine {
    #[serde(default)]
    pub guest_id: Option<String>,
    pub line_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplyCoupon {
    #[serde(default)]
    pub guest_id: Option<String>,
    /// Empty removes the coupon.
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MergeCart {
    pub guest_id: String,
}

/// One line of a cart, priced now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    pub line_id: String,
    pub product_id: String,
    pub slug: String,
    pub title: String,
    pub image: Option<String>,
    pub shop_id: String,
    pub shop_name: String,
    pub color: Option<String>,
    pub size: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    pub currency: Currency,
    /// Whether it can be bought as it stands (live, in stock).
    pub available: bool,
    pub stock: i64,
    pub cash_on_delivery: bool,
}

priced!(CartLine: unit_price, line_total);

/// Something that changed since the buyer last looked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CartNotice {
    pub line_id: String,
    pub message: String,
}

/// The lines of one shop, which become one order at checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CartShop {
    pub shop_id: String,
    pub shop_name: String,
    pub subtotal: i64,
    /// From the applied coupon, when it is this shop's.
    pub discount: i64,
    pub total: i64,
    /// Whether the shop can take card payments (Stripe connected).
    pub accepts_card: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub shops: Vec<CartShop>,
    pub coupon: Option<AppliedCoupon>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub currency: Currency,
    pub item_count: i64,
    /// What changed (prices, stock, availability) since the last look.
    pub notices: Vec<CartNotice>,
}

priced!(Cart: subtotal, discount, total);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppliedCoupon {
    pub code: String,
    pub shop_id: String,
    pub discount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WishlistItem {
    pub product_id: String,
    pub slug: String,
    pub title: String,
    pub image: Option<String>,
    pub price: i64,
    pub currency: Currency,
    pub available: bool,
    pub added_at: String,
}

priced!(WishlistItem: price);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Wishlist {
    pub items: Vec<WishlistItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WishlistChange {
    #[serde(default)]
    pub guest_id: Option<String>,
    pub product_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CouponKind {
    /// `amount` is a percentage, 1–100.
    Percent,
    /// `amount` is minor units off.
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouponInput {
    /// 3–32 letters, digits, `-` or `_`; stored upper-case.
    #[schema(pattern = r"^\s*[A-Za-z0-9_-]{3,32}\s*$")]
    pub code: String,
    pub kind: CouponKind,
    /// Percent: 1–100; fixed: 1–100,000,000 minor units.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub amount: i64,
    /// Minimum subtotal of the shop's items, minor units.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub min_subtotal: Option<i64>,
    /// RFC 3339, in the future.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub usage_limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Coupon {
    pub id: String,
    pub code: String,
    pub shop_id: String,
    pub kind: CouponKind,
    pub amount: i64,
    pub min_subtotal: Option<i64>,
    pub expires_at: Option<String>,
    pub usage_limit: Option<i64>,
    pub used: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Coupons {
    pub coupons: Vec<Coupon>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouponId {
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    Card,
    Cod,
}

/// Where an order goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippingAddress {
    pub full_name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckoutRequest {
    /// One of the buyer's saved addresses…
    #[serde(default)]
    pub address_id: Option<String>,
    /// …or a new one.
    #[serde(default)]
    pub address: Option<ShippingAddress>,
    #[serde(default)]
    pub coupon: Option<String>,
    pub payment: PaymentMethod,
    /// From the `Idempotency-Key` header: the same key gives the same result.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckoutResult {
    pub checkout_id: String,
    /// One per shop (for card payments: created once the payment succeeds).
    pub orders: Vec<OrderSummary>,
    /// For card payments: where to send the buyer to pay.
    pub payment_url: Option<String>,
    pub status: CheckoutStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    /// Being placed (stock being reserved); a retry continues it.
    Reserving,
    /// Waiting for the card payment.
    AwaitingPayment,
    /// Orders placed (paid, or cash on delivery).
    Placed,
    /// Payment failed or the session expired; stock released.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckoutId {
    pub checkout_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Ordered,
    Packed,
    Shipped,
    OutForDelivery,
    Delivered,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    /// The delivery steps, in order.
    pub const FLOW: [OrderStatus; 5] = [
        OrderStatus::Ordered,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::OutForDelivery,
        OrderStatus::Delivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Ordered => "ordered",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::OutForDelivery => "out_for_delivery",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::Ordered => "Ordered",
            OrderStatus::Packed => "Packed",
            OrderStatus::Shipped => "Shipped",
            OrderStatus::OutForDelivery => "Out for delivery",
            OrderStatus::Delivered => "Delivered",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Refunded => "Refunded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Cash on delivery, not yet collected.
    Pending,
    Paid,
    Refunded,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderItem {
    pub product_id: String,
    pub slug: String,
    pub title: String,
    pub image: Option<String>,
    pub color: Option<String>,
    pub size: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    /// The product's category slug when it was ordered (absent from older
    /// orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// One step of the delivery timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineStep {
    pub status: OrderStatus,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    pub shop_id: String,
    pub shop_name: String,
    pub status: OrderStatus,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub total: i64,
    pub currency: Currency,
    pub item_count: i64,
    pub created_at: String,
}

priced!(OrderSummary: total);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: String,
    pub number: String,
    pub checkout_id: String,
    pub buyer_id: String,
    pub shop_id: String,
    pub shop_name: String,
    pub items: Vec<OrderItem>,
    pub subtotal: i64,
    pub discount: i64,
    pub coupon: Option<String>,
    /// What the buyer pays for this order.
    pub total: i64,
    /// The platform's fee, kept from the shop's payout.
    pub platform_fee: i64,
    /// What the shop receives.
    pub payout: i64,
    pub currency: Currency,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub status: OrderStatus,
    pub timeline: Vec<TimelineStep>,
    pub address: ShippingAddress,
    pub created_at: String,
}

priced!(Order: subtotal, discount, total, platform_fee, payout);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderId {
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListOrders {
    #[serde(default)]
    pub status: Option<OrderStatus>,
    /// Only this buyer's orders (an account id). Admins only: the buyer's
    /// and seller's own lists are theirs whatever this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<String>,
    /// Only this seller's shop's orders (the seller's account id). Admins only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub page_size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderSummary>,
    pub total: i64,
    pub page: u32,
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AdvanceOrder {
    pub id: String,
    /// The next step (forward only).
    pub status: OrderStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: String,
    pub title: String,
    pub body: String,
    /// Where it points, e.g. `/orders/…`.
    pub link: Option<String>,
    pub read: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Notifications {
    pub notifications: Vec<Notification>,
    pub unread: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MarkRead {
    /// Empty marks all.
    #[serde(default)]
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReviewTarget {
    Product,
    Shop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewInput {
    pub target: ReviewTarget,
    /// The product or shop id.
    pub target_id: String,
    /// 1–5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// 1–120 characters once trimmed.
    #[schema(max_length = 120, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub body: String,
    #[serde(default)]
    #[schema(max_items = 6)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    pub id: String,
    pub target: ReviewTarget,
    pub target_id: String,
    pub author_name: String,
    pub rating: i64,
    pub title: String,
    pub body: String,
    pub images: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When an admin hid it (RFC 3339); only admins ever see hidden reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
}

/// The reviews one account wrote, newest first (for admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthoredReviews {
    pub reviews: Vec<Review>,
    pub total: i64,
    pub page: u32,
    pub pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListReviews {
    pub target: ReviewTarget,
    pub target_id: String,
    #[serde(default)]
    pub page: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Reviews {
    pub reviews: Vec<Review>,
    pub average: f64,
    pub count: i64,
    pub page: u32,
    pub pages: u32,
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $subject:literal, $access:ident, $req:ty => $reply:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl Endpoint for $name {
            const SUBJECT: &'static str = $subject;
            const DOMAIN: Domain = Domain::Orders;
            const ACCESS: Access = Access::$access;
            type Request = $req;
            type Reply = $reply;
        }
    };
}

endpoint!(/// The caller's (or guest's) cart, re-priced now.
    GetCart, "orders.cart.get", Public, CartOwner => Cart);
endpoint!(/// Add a product (with its options) to the cart.
    AddCartItem, "orders.cart.add", Public, AddToCart => Cart);
endpoint!(/// Change a line's quantity (0 removes it).
    UpdateCartItem, "orders.cart.update", Public, UpdateCartLine => Cart);
endpoint!(/// Remove a line.
    RemoveCartItem, "orders.cart.remove", Public, RemoveCartLine => Cart);
endpoint!(/// Apply (or clear) a discount code.
    ApplyCartCoupon, "orders.cart.coupon", Public, ApplyCoupon => Cart);
endpoint!(/// Move a guest cart into the signed-in caller's cart.
    MergeGuestCart, "orders.cart.merge", Account, MergeCart => Cart);
endpoint!(/// The wishlist.
    GetWishlist, "orders.wishlist.get", Public, CartOwner => Wishlist);
endpoint!(/// Add to the wishlist (idempotent).
    AddWishlistItem, "orders.wishlist.add", Public, WishlistChange => Wishlist);
endpoint!(/// Remove from the wishlist.
    RemoveWishlistItem, "orders.wishlist.remove", Public, WishlistChange => Wishlist);
endpoint!(/// A seller creates a discount code for their shop.
    CreateCoupon, "orders.coupon.create", Seller, CouponInput => Coupon);
endpoint!(/// The seller's discount codes.
    ListCoupons, "orders.coupons.mine", Seller, Empty => Coupons);
endpoint!(/// A seller deletes one of their codes.
    DeleteCoupon, "orders.coupon.delete", Seller, CouponId => Empty);
endpoint!(/// Turn the cart into orders (one per shop), exactly once per key.
    PlaceCheckout, "orders.checkout.place", Account, CheckoutRequest => CheckoutResult);
endpoint!(/// Where a checkout stands (after the payment page).
    GetCheckout, "orders.checkout.get", Account, CheckoutId => CheckoutResult);
endpoint!(/// The buyer's orders.
    ListMyOrders, "orders.orders.mine", Account, ListOrders => OrderList);
endpoint!(/// One of the buyer's orders.
    GetMyOrder, "orders.order.mine", Account, OrderId => Order);
endpoint!(/// The buyer cancels before shipping (stock returns; card payments are refunded).
    CancelMyOrder, "orders.order.cancel", Account, OrderId => Order);
endpoint!(/// The seller's shop's orders.
    ListShopOrders, "orders.orders.shop", Seller, ListOrders => OrderList);
endpoint!(/// One of the seller's shop's orders.
    GetShopOrder, "orders.order.shop", Seller, OrderId => Order);
endpoint!(/// The seller moves an order one or more steps forward.
    AdvanceShopOrder, "orders.order.advance", Seller, AdvanceOrder => Order);
endpoint!(/// The seller refunds (card) or cancels (cash on delivery) an order.
    RefundShopOrder, "orders.order.refund", Seller, OrderId => Order);
endpoint!(/// Every order (admins).
    ListAllOrders, "orders.orders.all", Admin, ListOrders => OrderList);
endpoint!(/// The caller's notifications and unread count.
    ListNotifications, "orders.notifications.list", Account, Empty => Notifications);
endpoint!(/// Mark notifications read.
    MarkNotificationsRead, "orders.notifications.read", Account, MarkRead => Notifications);
endpoint!(/// Write or edit the caller's review (after a delivered order).
    UpsertReview, "orders.review.upsert", Account, ReviewInput => Review);
endpoint!(/// Reviews of a product or shop.
    ListTargetReviews, "orders.reviews.list", Public, ListReviews => Reviews);

/// A payment provider's notification, verified by the edge, to be applied
/// exactly once (deduplicated by the provider's event id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNotification {
    /// The provider's event id, e.g. `evt_…`.
    pub event_id: String,
    /// e.g. `checkout.session.completed`.
    pub kind: String,
    /// The provider's JSON, as received.
    pub payload: String,
    /// The provider's signature of `payload` as received (Stripe's
    /// `Stripe-Signature`): the orders node checks it again, so queueing a
    /// payment takes the provider's secret, not only access to the bus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}
impl Job for PaymentNotification {
    const STREAM: Stream = JOBS;
    const SUBJECT: &'static str = "jobs.orders.payment";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order_id: String,
    pub number: String,
    pub buyer_id: String,
    pub shop_id: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub total: i64,
    pub currency: Currency,
    pub product_ids: Vec<String>,
    /// What was bought: each product once, with its units (the sales
    /// counters add these up). Empty in events from older nodes.
    #[serde(default)]
    pub items: Vec<OrderEventItem>,
    /// The platform's fee kept from the shop's payout (0 in events from
    /// older nodes).
    #[serde(default)]
    pub platform_fee: i64,
    /// When it happened (RFC 3339); absent from older nodes, whose events
    /// are dated by the time the stream received them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

priced!(OrderEvent: total);

/// One product of an order and how many units of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEventItem {
    pub product_id: String,
    pub quantity: i64,
    /// What the buyer paid for this product's lines, in minor units of the
    /// order's currency: their line totals less the product's share of the
    /// order's discount (shared in proportion to the line totals, what
    /// rounding leaves taken from the first item), so an order's items add
    /// up to its `total`. 0 in events from older nodes.
    #[serde(default)]
    pub revenue: i64,
    /// The product's category (its slug in the admins' category list) when
    /// the order was placed; absent from older nodes' events and for
    /// products the catalog had no category for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_id: Option<String>,
}

macro_rules! order_event {
    ($name:ident, $subject:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name(pub OrderEvent);
        impl Event for $name {
            const STREAM: Stream = EVENTS;
            const SUBJECT: &'static str = $subject;
        }
    };
}

order_event!(OrderPlaced, "events.orders.order.placed");
order_event!(OrderPaid, "events.orders.order.paid");
order_event!(OrderStatusChanged, "events.orders.order.status_changed");
order_event!(OrderCancelled, "events.orders.order.cancelled");
order_event!(OrderRefunded, "events.orders.order.refunded");

/// What an order event means to a sales counter: its order, and whether
/// its units are added (placed) or taken back (cancelled, refunded).
/// `None` for the other order events; an unreadable one is logged and
/// skipped, as a redelivery would not make it readable.
pub fn sale_of(subject: &str, payload: &[u8]) -> Option<(OrderEvent, bool)> {
    let placed = subject == OrderPlaced::SUBJECT;
    if !placed && subject != OrderCancelled::SUBJECT && subject != OrderRefunded::SUBJECT {
        return None;
    }
    match serde_json::from_slice::<OrderEvent>(payload) {
        Ok(event) => Some((event, placed)),
        Err(_) => {
            tracing::error!(subject, "unreadable order event; skipped");
            None
        }
    }
}

/// `events.orders.cart.added` / wishlist: for analytics and the recommender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItemAdded {
    pub product_id: String,
    pub account_id: Option<String>,
    pub quantity: i64,
    pub at: String,
}
impl Event for CartItemAdded {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.orders.cart.added";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishlistItemAdded {
    pub product_id: String,
    pub account_id: Option<String>,
    pub at: String,
}
impl Event for WishlistItemAdded {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.orders.wishlist.added";
}

/// `events.orders.review.changed`: the catalog and sellers nodes keep
/// their average ratings from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewChanged {
    pub target: ReviewTarget,
    pub target_id: String,
    pub average: f64,
    pub count: i64,
    /// Bumped by every review write to this target: consumers apply an
    /// event only when it is newer than what they hold, so redelivered and
    /// out-of-order events change nothing.
    #[serde(default)]
    pub revision: i64,
    /// The account whose review write this announces, and its stars: what
    /// the recommender learns from.
    #[serde(default)]
    pub author_id: Option<String>,
    #[serde(default)]
    pub stars: Option<u8>,
}
impl Event for ReviewChanged {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.orders.review.changed";
}
