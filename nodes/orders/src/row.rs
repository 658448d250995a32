//! An order as the `shop_order` table holds it: what a placement creates
//! and every reader of orders reads back.

use bazaar_subjects::orders::Order;
use serde::Deserialize;

pub(crate) const ORDER_FIELDS: &str = "record::id(id) AS id, number, checkout_id, buyer AS buyer_id, \
    shop_id, shop_name, items, subtotal, discount, coupon, total, platform_fee, payout, currency, \
    payment_method, payment_status, status, timeline, address, <string>created_at AS created_at, \
    seller, buyer_email, reservation_id, payment_intent, transfer";

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredOrder {
    #[serde(flatten)]
    pub order: Order,
    pub seller: String,
    pub buyer_email: Option<String>,
    pub reservation_id: String,
    /// Card orders paid through Stripe: the payment and the shop's transfer.
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub transfer: Option<String>,
}
