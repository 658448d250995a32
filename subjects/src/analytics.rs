//! The analytics domain: rollups of what happened on the platform, per
//! shop, per product and per day, and platform-wide.
//!
//! The analytics node keeps the rollups from the domain events (product
//! views, cart and wishlist adds, orders placed, paid, cancelled and
//! refunded, reviews, follows, shops created) and answers from them alone:
//! nothing here is computed from raw orders at request time. A seller reads
//! their own shop's figures, an admin any shop's and the platform's; the
//! node checks both from the caller's token.
//!
//! Days are UTC calendar days written `YYYY-MM-DD`; money is integer minor
//! units in the reply's currency.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Currency, Domain, Endpoint};

/// The longest range one request may ask for, in days.
pub const MAX_RANGE_DAYS: i64 = 731;

/// How many top products or shops a reply lists.
pub const TOP: usize = 10;

/// A range of days, both ends included, and (for admins) which shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnalyticsRange {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// The shop to report on: a seller's own shop when absent; only admins
    /// may name another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<String>,
}

/// A shop's figures over a range of days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopTotals {
    /// Orders placed, less those cancelled or refunded, in minor units.
    pub revenue: i64,
    /// Orders placed.
    pub orders: i64,
    /// Orders cancelled or refunded.
    pub cancelled: i64,
    /// Units sold in the orders placed.
    pub units: i64,
    /// Revenue over orders, in minor units (0 without orders).
    pub average_order_value: i64,
    pub product_views: i64,
    pub cart_adds: i64,
    pub wishlist_adds: i64,
    /// Distinct visitors (an estimate: a HyperLogLog sketch per day,
    /// merged over the range).
    pub unique_visitors: i64,
    /// Follows less unfollows.
    pub new_followers: i64,
    pub reviews: i64,
}

/// One day of a shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopDay {
    pub day: String,
    pub revenue: i64,
    pub orders: i64,
    pub units: i64,
    pub product_views: i64,
    pub cart_adds: i64,
    pub unique_visitors: i64,
    /// Followers at the end of the day.
    pub followers: i64,
}

/// One product's figures over the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductStat {
    pub product_id: String,
    /// What buyers paid for it in the orders placed, less in those
    /// cancelled or refunded, in minor units (its share of an order's
    /// discount taken off; 0 for orders announced without it).
    #[serde(default)]
    pub revenue: i64,
    pub units: i64,
    pub orders: i64,
    pub views: i64,
    pub cart_adds: i64,
}

/// What a seller's dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopAnalytics {
    pub shop_id: String,
    pub currency: Currency,
    pub from: String,
    pub to: String,
    /// The same number of days just before `from`.
    pub previous_from: String,
    pub previous_to: String,
    pub current: ShopTotals,
    pub previous: ShopTotals,
    /// Every day of the range, oldest first (days without activity too).
    pub days: Vec<ShopDay>,
    /// By revenue, then units sold, then views; at most [`TOP`].
    pub top_products: Vec<ProductStat>,
    /// Followers now.
    pub followers: i64,
}

/// The platform's figures over a range of days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformTotals {
    /// Gross merchandise value: orders placed less cancelled or refunded.
    pub gmv: i64,
    /// The platform's fees on those orders.
    pub fees: i64,
    pub orders: i64,
    pub cancelled: i64,
    /// Accounts that placed their first order.
    pub new_buyers: i64,
    /// Shops opened.
    pub new_sellers: i64,
    /// Shops with at least one order placed.
    pub active_shops: i64,
    pub product_views: i64,
}

/// One day of the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformDay {
    pub day: String,
    pub gmv: i64,
    pub fees: i64,
    pub orders: i64,
    pub new_buyers: i64,
    pub new_sellers: i64,
    pub active_shops: i64,
}

/// One shop's figures over the range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopStat {
    pub shop_id: String,
    pub name: String,
    pub revenue: i64,
    pub orders: i64,
}

/// One category's sales over the range: the orders with a product of it,
/// counted by the category the product had when it was ordered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategoryStat {
    /// The category's slug.
    pub category_id: String,
    /// What buyers paid for its products, less the orders cancelled or
    /// refunded, in minor units.
    pub gmv: i64,
    /// The same over the period before.
    pub previous_gmv: i64,
    /// Orders placed with at least one of its products.
    pub orders: i64,
    pub previous_orders: i64,
    /// Units of its products in the orders placed.
    pub units: i64,
    pub previous_units: i64,
}

/// What the admins' analytics page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlatformAnalytics {
    pub currency: Currency,
    pub from: String,
    pub to: String,
    pub previous_from: String,
    pub previous_to: String,
    pub current: PlatformTotals,
    pub previous: PlatformTotals,
    pub days: Vec<PlatformDay>,
    /// By revenue; at most [`TOP`].
    pub top_shops: Vec<ShopStat>,
    /// By GMV, then orders; at most [`TOP`].
    #[serde(default)]
    pub top_categories: Vec<CategoryStat>,
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $subject:literal, $access:ident, $req:ty => $reply:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl Endpoint for $name {
            const SUBJECT: &'static str = $subject;
            const DOMAIN: Domain = Domain::Analytics;
            const ACCESS: Access = Access::$access;
            type Request = $req;
            type Reply = $reply;
        }
    };
}

endpoint!(/// A shop's figures: the caller's own shop (admins: any shop).
    GetShopAnalytics, "analytics.shop.overview", Seller, AnalyticsRange => ShopAnalytics);
endpoint!(/// The platform's figures (admins only).
    GetPlatformAnalytics, "analytics.platform.overview", Admin, AnalyticsRange => PlatformAnalytics);
