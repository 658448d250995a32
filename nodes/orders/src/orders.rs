//! Orders after checkout: buyers see theirs, sellers run their shop's
//! (forward-only delivery steps), admins see all; cancelling and refunding
//! give the stock back once; notifications for everyone involved.

use bazaar_outbox::Outgoing;
use bazaar_runtime::{Caller, Request};
use bazaar_schema::{TransactionError, take_count, take_rows};
use bazaar_subjects::mail::Email;
use bazaar_subjects::orders::{
    AdvanceOrder, ListOrders, MarkRead, Notification, Notifications, Order, OrderCancelled,
    OrderEvent, OrderEventItem, OrderItem, OrderList, OrderRefunded, OrderStatus,
    OrderStatusChanged, OrderSummary, PaymentMethod, PaymentStatus,
};
use bazaar_subjects::{Role, Validator};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::OrdersError;
use crate::store::{OrdersStore, account};

pub(crate) use crate::row::{ORDER_FIELDS, StoredOrder};

impl StoredOrder {
    /// An order as `draft_orders` drafts it, read as it will be stored
    /// (the row names the buyer `buyer`; the database stamps the time).
    pub fn drafted(draft: &serde_json::Value) -> Result<Self, OrdersError> {
        let mut row = draft.clone();
        row["buyer_id"] = draft["buyer"].clone();
        row["created_at"] = serde_json::Value::String(String::new());
        serde_json::from_value(row)
            .map_err(|e| OrdersError::Internal(format!("a drafted order does not read back: {e}")))
    }

    pub fn summary(&self) -> OrderSummary {
        let o = &self.order;
        OrderSummary {
            id: o.id.clone(),
            number: o.number.clone(),
            shop_id: o.shop_id.clone(),
            shop_name: o.shop_name.clone(),
            status: o.status,
            payment_method: o.payment_method,
            payment_status: o.payment_status,
            total: o.total,
            currency: o.currency,
            item_count: o.items.iter().map(|i| i.quantity).sum(),
            created_at: o.created_at.clone(),
        }
    }

    pub fn event(&self) -> OrderEvent {
        let o = &self.order;
        OrderEvent {
            order_id: o.id.clone(),
            number: o.number.clone(),
            buyer_id: o.buyer_id.clone(),
            shop_id: o.shop_id.clone(),
            status: o.status,
            payment_status: o.payment_status,
            total: o.total,
            currency: o.currency,
            product_ids: o.items.iter().map(|i| i.product_id.clone()).collect(),
            items: event_items(&o.items, o.discount),
            platform_fee: o.platform_fee,
            at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .ok(),
        }
    }
}

/// Each product of an order once, with all its units (a product bought in
/// two colours is two lines), what the buyer paid for them and its
/// category.
fn event_items(items: &[OrderItem], discount: i64) -> Vec<OrderEventItem> {
    let mut out: Vec<OrderEventItem> = Vec::new();
    for i in items {
        match out.iter_mut().find(|e| e.product_id == i.product_id) {
            Some(e) => {
                e.quantity += i.quantity;
                e.revenue += i.line_total;
            }
            None => out.push(OrderEventItem {
                product_id: i.product_id.clone(),
                quantity: i.quantity,
                revenue: i.line_total,
                category_id: i.category.clone(),
            }),
        }
    }
    share_discount(&mut out, discount);
    out
}

/// Takes the order's discount off its items in proportion to what each
/// cost, so that the items' revenues add up to the order's total (the
/// minor units rounding leaves come off the first items, one each).
fn share_discount(items: &mut [OrderEventItem], discount: i64) {
    let subtotal: i64 = items.iter().map(|i| i.revenue).sum();
    if discount <= 0 || subtotal <= 0 {
        return;
    }
    let discount = discount.min(subtotal);
    let mut shared = 0;
    for i in items.iter_mut() {
        // i128: a line total times a discount may not fit in an i64.
        let share = (i128::from(i.revenue) * i128::from(discount) / i128::from(subtotal)) as i64;
        i.revenue -= share;
        shared += share;
    }
    // Never more than what is left to take: the items still hold at least
    // the discount's unshared part.
    let mut left = discount - shared;
    while left > 0 {
        for i in items.iter_mut().filter(|i| i.revenue > 0) {
            if left == 0 {
                break;
            }
            i.revenue -= 1;
            left -= 1;
        }
    }
}

/// Moves an order forward from `$from`, and writes what that announces.
static ADVANCE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "BEGIN TRANSACTION;
     LET $moved = UPDATE type::record('shop_order', $id) SET status = $to, timeline += $steps,
        payment_status = IF $to = 'delivered' AND payment_method = 'cod' THEN 'paid' ELSE payment_status END,
        updated_at = time::now()
        WHERE status = $from RETURN VALUE id;
     IF array::len($moved) = 0 { THROW 'order changed'; };
     OUTBOX_WRITE
     COMMIT TRANSACTION;"
        .replace("OUTBOX_WRITE", bazaar_outbox::WRITE)
});

/// Cancels or refunds an order still open, and writes what that announces.
static STOP_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "BEGIN TRANSACTION;
     LET $stopped = UPDATE type::record('shop_order', $id) SET status = $status, payment_status = $payment,
        timeline += [{ status: $status, at: $now }], updated_at = time::now()
        WHERE status NOT IN ['cancelled', 'refunded'] RETURN VALUE id;
     IF array::len($stopped) = 0 { THROW 'already stopped'; };
     OUTBOX_WRITE
     COMMIT TRANSACTION;"
        .replace("OUTBOX_WRITE", bazaar_outbox::WRITE)
});

/// Whose orders a listing shows.
enum Scope {
    Buyer(String),
    Shop(String),
    All,
}

fn status_str(s: OrderStatus) -> &'static str {
    s.as_str()
}

impl OrdersStore {
    pub(crate) async fn order(&self, id: &str) -> Result<Option<StoredOrder>, OrdersError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {ORDER_FIELDS} FROM type::record('shop_order', $id)"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?.into_iter().next())
    }

    /// The caller's own order (404 for anyone else's).
    pub(crate) async fn my_order(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<StoredOrder, OrdersError> {
        let me = account(caller)?;
        match self.order(id).await? {
            Some(o) if o.order.buyer_id == me => Ok(o),
            _ => Err(OrdersError::NotFound(
                "there is no such order of yours".into(),
            )),
        }
    }

    /// An order of the caller's shop (404 for other shops'; admins see all).
    pub(crate) async fn shop_order(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<StoredOrder, OrdersError> {
        let me = account(caller)?;
        match self.order(id).await? {
            Some(o) if o.seller == me || caller.role() == Some(Role::Admin) => Ok(o),
            _ => Err(OrdersError::NotFound(
                "there is no such order in your shop".into(),
            )),
        }
    }

    async fn list(&self, scope: Scope, req: &ListOrders) -> Result<OrderList, OrdersError> {
        let page = req.page.unwrap_or(1);
        let page_size = req.page_size.unwrap_or(20);
        let mut v = Validator::default();
        v.check((1..=10_000).contains(&page), "page", "pages start at 1")
            .check(
                (1..=100).contains(&page_size),
                "page_size",
                "1 to 100 orders a page",
            );
        v.finish().map_err(OrdersError::Invalid)?;
        let (mut cond, who) = match scope {
            Scope::Buyer(b) => ("buyer = $who".to_owned(), Some(b)),
            Scope::Shop(s) => ("seller = $who".to_owned(), Some(s)),
            Scope::All => ("true".to_owned(), None),
        };
        if req.status.is_some() {
            cond.push_str(" AND status = $status");
        }
        let mut res = self
            .db
            .query(format!(
                "SELECT {ORDER_FIELDS} FROM shop_order WHERE {cond} ORDER BY created_at DESC LIMIT $limit START $start;
                 SELECT count() AS n FROM shop_order WHERE {cond} GROUP ALL;"
            ))
            .bind(("who", who))
            .bind(("status", req.status.map(status_str)))
            .bind(("limit", page_size))
            .bind(("start", (page - 1) * page_size))
            .await?
            .check()?;
        let rows: Vec<StoredOrder> = take_rows(&mut res, 0)?;
        let total = take_count(&mut res, 1)?;
        Ok(OrderList {
            orders: rows.iter().map(StoredOrder::summary).collect(),
            total,
            page,
            pages: u32::try_from((total + i64::from(page_size) - 1) / i64::from(page_size))
                .unwrap_or(0),
        })
    }

    pub async fn my_orders(&self, req: &Request<ListOrders>) -> Result<OrderList, OrdersError> {
        self.list(Scope::Buyer(account(&req.caller)?), &req.body)
            .await
    }

    pub async fn shop_orders(&self, req: &Request<ListOrders>) -> Result<OrderList, OrdersError> {
        self.list(Scope::Shop(account(&req.caller)?), &req.body)
            .await
    }

    pub async fn all_orders(&self, req: &Request<ListOrders>) -> Result<OrderList, OrdersError> {
        let mut v = Validator::default();
        v.check(
            req.body.buyer.is_none() || req.body.seller.is_none(),
            "seller",
            "filter on a buyer or on a seller, not both",
        );
        for (field, value) in [("buyer", &req.body.buyer), ("seller", &req.body.seller)] {
            if let Some(id) = value {
                v.check(
                    (1..=200).contains(&id.trim().len()),
                    field,
                    "an account id of 1 to 200 characters",
                );
            }
        }
        v.finish().map_err(OrdersError::Invalid)?;
        let scope = match (&req.body.buyer, &req.body.seller) {
            (Some(buyer), _) => Scope::Buyer(buyer.trim().to_owned()),
            (None, Some(seller)) => Scope::Shop(seller.trim().to_owned()),
            (None, None) => Scope::All,
        };
        self.list(scope, &req.body).await
    }

    /// Moves an order forward (one or more steps, never back), stamping
    /// each step on the timeline.
    pub async fn advance_order(&self, req: &Request<AdvanceOrder>) -> Result<Order, OrdersError> {
        let current = self.shop_order(&req.caller, &req.body.id).await?;
        let from = current.order.status;
        let to = req.body.status;
        let pos = |s| OrderStatus::FLOW.iter().position(|f| *f == s);
        let (Some(a), Some(b)) = (pos(from), pos(to)) else {
            return Err(OrdersError::Conflict(format!(
                "a {} order cannot become {}",
                from.label().to_lowercase(),
                to.label().to_lowercase()
            )));
        };
        if b <= a {
            return Err(OrdersError::Conflict(format!(
                "orders only move forward: this one is already {}",
                from.label().to_lowercase()
            )));
        }
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let steps: Vec<serde_json::Value> = OrderStatus::FLOW[a + 1..=b]
            .iter()
            .map(|s| serde_json::json!({ "status": s.as_str(), "at": now }))
            .collect();
        // Delivered cash-on-delivery orders have been paid at the door.
        let mut after = current.clone();
        after.order.status = to;
        if to == OrderStatus::Delivered && after.order.payment_method == PaymentMethod::Cod {
            after.order.payment_status = PaymentStatus::Paid;
        }
        let mut messages = vec![Outgoing::event(
            &OrderStatusChanged(after.event()),
            &format!("status-{}-{}", after.order.id, to.as_str()),
        )];
        messages.extend(self.status_email(&after, to));
        let result = self
            .db
            .query(ADVANCE_SQL.as_str())
            .bind(("id", req.body.id.clone()))
            .bind(("to", to.as_str()))
            .bind(("from", from.as_str()))
            .bind(("steps", serde_json::Value::Array(steps)))
            .bind(("outbox", bazaar_outbox::bind(&messages)))
            .await;
        match bazaar_schema::transaction_errors(result) {
            Err(TransactionError::Thrown(code)) if code == "order changed" => {
                return Err(OrdersError::Conflict(
                    "the order changed meanwhile; reload it and try again".into(),
                ));
            }
            other => other?,
        }
        self.outbox.written();
        let order = self
            .order(&req.body.id)
            .await?
            .ok_or_else(|| OrdersError::Internal("order vanished".into()))?;
        self.tell_buyer(&order, to).await;
        Ok(order.order)
    }

    /// The buyer's email about an order's new status, when the order has
    /// their address.
    fn status_email(&self, order: &StoredOrder, status: OrderStatus) -> Option<Outgoing> {
        let o = &order.order;
        let to = order.buyer_email.as_deref()?;
        Some(OrdersStore::email_job(
            format!("order-{}-{}", o.id, status.as_str()),
            to,
            Email::OrderUpdate {
                name: o.address.full_name.clone(),
                number: o.number.clone(),
                status: status.label().to_owned(),
                link: format!("{}/orders/{}", self.config.public_url, o.id),
            },
        ))
    }

    /// The buyer's in-app notification of an order's new status (the email
    /// went out with the change).
    async fn tell_buyer(&self, order: &StoredOrder, status: OrderStatus) {
        let o = &order.order;
        self.notify(
            &o.buyer_id,
            format!("Order {}: {}", o.number, status.label()),
            format!("{} — {}", o.shop_name, o.total()),
            Some(format!("/orders/{}", o.id)),
        )
        .await;
    }

    /// The buyer cancels before shipping.
    pub async fn cancel_my_order(
        &self,
        req: &Request<bazaar_subjects::orders::OrderId>,
    ) -> Result<Order, OrdersError> {
        let order = self.my_order(&req.caller, &req.body.id).await?;
        if matches!(
            order.order.status,
            OrderStatus::Cancelled | OrderStatus::Refunded
        ) {
            return Ok(order.order);
        }
        if order.order.status > OrderStatus::Packed {
            return Err(OrdersError::Conflict(format!(
                "this order is already {}: it can no longer be cancelled",
                order.order.status.label().to_lowercase()
            )));
        }
        self.stop_order(order, false).await
    }

    /// The seller refunds (card) or cancels (cash on delivery) an order.
    pub async fn refund_order(
        &self,
        req: &Request<bazaar_subjects::orders::OrderId>,
    ) -> Result<Order, OrdersError> {
        let order = self.shop_order(&req.caller, &req.body.id).await?;
        self.stop_order(order, true).await
    }

    /// Ends an order: cancelled or refunded, its stock given back once.
    async fn stop_order(&self, order: StoredOrder, by_seller: bool) -> Result<Order, OrdersError> {
        let o = &order.order;
        if matches!(o.status, OrderStatus::Cancelled | OrderStatus::Refunded) {
            return Ok(order.order);
        }
        let paid = o.payment_status == PaymentStatus::Paid;
        let (status, payment_status) = match (paid, o.payment_method) {
            (true, _) => (OrderStatus::Refunded, PaymentStatus::Refunded),
            (false, _) => (OrderStatus::Cancelled, PaymentStatus::Cancelled),
        };
        if paid && o.payment_method == PaymentMethod::Card {
            self.refund_payment(&order).await?;
        }
        if by_seller && !paid && o.status == OrderStatus::Delivered {
            return Err(OrdersError::Conflict(
                "a delivered order cannot be cancelled".into(),
            ));
        }
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut after = order.clone();
        after.order.status = status;
        after.order.payment_status = payment_status;
        let event = after.event();
        let mut messages = vec![match status {
            OrderStatus::Refunded => {
                Outgoing::event(&OrderRefunded(event), &format!("refunded-{}", o.id))
            }
            _ => Outgoing::event(&OrderCancelled(event), &format!("cancelled-{}", o.id)),
        }];
        messages.extend(self.status_email(&after, status));
        let result = self
            .db
            .query(STOP_SQL.as_str())
            .bind(("id", o.id.clone()))
            .bind(("status", status.as_str()))
            .bind((
                "payment",
                match payment_status {
                    PaymentStatus::Refunded => "refunded",
                    _ => "cancelled",
                },
            ))
            .bind(("now", now))
            .bind(("outbox", bazaar_outbox::bind(&messages)))
            .await;
        let stopped = match bazaar_schema::transaction_errors(result) {
            Ok(()) => true,
            // Stopped meanwhile by another call, which told everyone.
            Err(TransactionError::Thrown(code)) if code == "already stopped" => false,
            Err(e) => return Err(e.into()),
        };
        let updated = self
            .order(&o.id)
            .await?
            .ok_or_else(|| OrdersError::Internal("order vanished".into()))?;
        if !stopped {
            return Ok(updated.order);
        }
        self.outbox.written();
        self.restore_stock(&updated).await;
        self.tell_buyer(&updated, status).await;
        self.notify(
            &updated.seller,
            format!("Order {}: {}", o.number, status.label()),
            "its stock is back on sale".into(),
            Some(format!("/seller/orders/{}", o.id)),
        )
        .await;
        Ok(updated.order)
    }

    /// Puts an order's items back on sale, once (the flag flips in the same
    /// write that claims the job; the catalog's release is idempotent too).
    async fn restore_stock(&self, order: &StoredOrder) {
        let claimed = self
            .db
            .query(
                "UPDATE type::record('shop_order', $id) SET stock_restored = true
                   WHERE stock_restored = false RETURN VALUE id",
            )
            .bind(("id", order.order.id.clone()))
            .await
            .and_then(|r| r.check());
        let Ok(mut claimed) = claimed else { return };
        let won: Vec<serde_json::Value> = claimed.take(0).unwrap_or_default();
        if won.is_empty() {
            return;
        }
        // One reservation covers every shop's order of a checkout, so the
        // stock of just this order goes back line by line.
        let Ok(Some(checkout)) = self.checkout_by_id(&order.reservation_id).await else {
            return;
        };
        if let Err(e) = self.return_items(&checkout.plan.release_token, order).await {
            tracing::error!(order = %order.order.id, error = %e, "stock not restored");
        }
    }

    async fn return_items(&self, token: &str, order: &StoredOrder) -> Result<(), OrdersError> {
        self.call::<bazaar_subjects::catalog::RestockItems>(
            &bazaar_runtime::RequestMeta::default(),
            &bazaar_subjects::catalog::RestockRequest {
                reservation_id: order.reservation_id.clone(),
                release_token: token.to_owned(),
                restock_id: format!("order-{}", order.order.id),
                lines: order
                    .order
                    .items
                    .iter()
                    .map(|i| bazaar_subjects::catalog::StockLine {
                        product_id: i.product_id.clone(),
                        quantity: i.quantity,
                    })
                    .collect(),
            },
        )
        .await
        .map(|_| ())
    }

    pub async fn notifications(&self, caller: &Caller) -> Result<Notifications, OrdersError> {
        let me = account(caller)?;
        let mut res = self
            .db
            .query(
                "SELECT record::id(id) AS id, title, body, link, read, <string>created_at AS created_at
                   FROM notification WHERE account = $me ORDER BY created_at DESC LIMIT 50;
                 SELECT count() AS n FROM notification WHERE account = $me AND read = false GROUP ALL;",
            )
            .bind(("me", me))
            .await?
            .check()?;
        let notifications: Vec<Notification> = take_rows(&mut res, 0)?;
        let unread = take_count(&mut res, 1)?;
        Ok(Notifications {
            notifications,
            unread,
        })
    }

    pub async fn mark_read(
        &self,
        caller: &Caller,
        req: &MarkRead,
    ) -> Result<Notifications, OrdersError> {
        let me = account(caller)?;
        // Ids are what `notifications` listed: record keys, never query text.
        let plausible = |id: &String| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let mut v = bazaar_subjects::Validator::default();
        v.check(
            req.ids.len() <= 100,
            "ids",
            "mark at most 100 notifications at a time",
        );
        v.check(
            req.ids.iter().all(plausible),
            "ids",
            "use the ids the notifications list gave",
        );
        v.finish().map_err(OrdersError::Invalid)?;
        if req.ids.is_empty() {
            self.db
                .query("UPDATE notification SET read = true WHERE account = $me AND read = false RETURN NONE")
                .bind(("me", me))
                .await?
                .check()?;
        } else {
            self.db
                .query(
                    "FOR $id IN $ids {
                        UPDATE type::record('notification', $id) SET read = true WHERE account = $me RETURN NONE;
                     };",
                )
                .bind(("me", me))
                .bind(("ids", req.ids.clone()))
                .await?
                .check()?;
        }
        self.notifications(caller).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product: &str, line_total: i64) -> OrderItem {
        OrderItem {
            product_id: product.into(),
            slug: product.into(),
            title: product.into(),
            image: None,
            color: None,
            size: None,
            quantity: 1,
            unit_price: line_total,
            line_total,
            category: Some("home".into()),
        }
    }

    #[test]
    fn the_items_revenues_add_up_to_the_discounted_total() {
        let lines = [
            line("a", 1_000),
            line("b", 333),
            line("a", 500),
            line("c", 1),
        ];
        let items = event_items(&lines, 100);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].quantity, 2);
        assert_eq!(items.iter().map(|i| i.revenue).sum::<i64>(), 1_834 - 100);
        assert!(items.iter().all(|i| i.revenue >= 0));
        assert_eq!(items[0].category_id.as_deref(), Some("home"));
        let whole = event_items(&lines, 0);
        assert_eq!(whole[0].revenue, 1_500);
        let free = event_items(&lines, 5_000);
        assert!(free.iter().all(|i| i.revenue == 0));
    }
}
