//! Checkout: a cart becomes one order per shop, exactly once.
//!
//! The steps, each safe to repeat, so a retry (same `Idempotency-Key`) or a
//! redelivered payment event picks up wherever a crash left off:
//! 1. a `checkout` row keyed by (buyer, key) records the plan — prices,
//!    discounts, address — before anything else happens (a second request
//!    with the key finds it; with another body it is refused);
//! 2. the catalog reserves stock under the checkout's id (idempotent there);
//! 3. orders are created in one transaction that also moves the checkout to
//!    `placed`, counts the coupon use and empties the bought cart lines —
//!    it only runs while the checkout is still open, so it happens once.
//!
//! Cash on delivery goes straight to 3; card payments wait for the payment
//! provider between 2 and 3 (see `payments`).

use bazaar_outbox::Outgoing;
use bazaar_runtime::{Request, RequestMeta};
use bazaar_schema::{Retryable, TransactionError, take_rows};
use bazaar_subjects::Money;
use bazaar_subjects::auth::{Address, GetMe, ListAddresses};
use bazaar_subjects::catalog::{
    ReleaseRequest, ReleaseStock, Reservation, ReserveStock, ReserveStockRequest, StockLine,
};
use bazaar_subjects::mail::Email;
use bazaar_subjects::orders::{
    CheckoutRequest, CheckoutResult, CheckoutStatus, CouponKind, OrderPaid, OrderPlaced,
    PaymentMethod, PaymentStatus, ShippingAddress,
};
use bazaar_subjects::socket::ServerFrame;
use bazaar_subjects::{Currency, Empty, ErrorEnvelope, FieldError, Validator};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::OrdersError;
use crate::coupons;
use crate::orders::{ORDER_FIELDS, StoredOrder};
use crate::store::{OrdersStore, account, new_id};

/// What a checkout will buy, fixed when it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub lines: Vec<PlanLine>,
    pub coupon: Option<String>,
    pub coupon_shop: Option<String>,
    /// The code's terms as they were at checkout: the orders get this
    /// discount whatever the seller does to the code meanwhile (a card
    /// payment was priced with it).
    #[serde(default)]
    pub coupon_terms: Option<CouponTerms>,
    pub address: ShippingAddress,
    pub buyer_email: Option<String>,
    pub buyer_name: String,
    pub currency: Currency,
    /// The secret that gives the reserved stock back.
    pub release_token: String,
    /// Card payments through Stripe: each shop's connected account, as it
    /// was when the buyer checked out.
    #[serde(default)]
    pub payout_accounts: BTreeMap<String, String>,
}

/// What a discount code takes off, frozen in a checkout's plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CouponTerms {
    pub kind: CouponKind,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlanLine {
    pub product_id: String,
    pub quantity: i64,
    pub color: Option<String>,
    pub size: Option<String>,
    pub unit_price: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CheckoutRow {
    pub id: String,
    pub buyer: String,
    pub request_hash: String,
    pub status: CheckoutStatus,
    pub payment: PaymentMethod,
    pub plan: Plan,
    pub payment_url: Option<String>,
    pub failure: Option<String>,
    /// The Stripe Checkout Session buyers pay on.
    #[serde(default)]
    pub payment_session: Option<String>,
    /// The Stripe payment, once it succeeded.
    #[serde(default)]
    pub payment_intent: Option<String>,
}

const CHECKOUT_FIELDS: &str = "record::id(id) AS id, buyer, request_hash, status, payment, plan, \
    payment_url, failure, payment_session, payment_intent";

fn request_hash(req: &CheckoutRequest) -> String {
    let body = serde_json::json!([req.address_id, req.address, req.coupon, req.payment]);
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

fn field_error(field: &str, message: String) -> OrdersError {
    OrdersError::Invalid(ErrorEnvelope::validation(vec![FieldError {
        field: field.into(),
        message,
    }]))
}

fn validate_address(a: &ShippingAddress) -> Result<ShippingAddress, OrdersError> {
    let t = |s: &str| s.trim().to_owned();
    let a = ShippingAddress {
        full_name: t(&a.full_name),
        line1: t(&a.line1),
        line2: a.line2.as_deref().map(t).filter(|s| !s.is_empty()),
        city: t(&a.city),
        postal_code: t(&a.postal_code),
        country: t(&a.country).to_uppercase(),
        phone: a.phone.as_deref().map(t).filter(|s| !s.is_empty()),
    };
    let len = |s: &str, max: usize| (1..=max).contains(&s.chars().count());
    let mut v = Validator::default();
    v.check(
        len(&a.full_name, 120),
        "address.full_name",
        "the recipient's name, up to 120 characters",
    )
    .check(
        len(&a.line1, 200),
        "address.line1",
        "the street address, up to 200 characters",
    )
    .check(
        a.line2.as_deref().is_none_or(|l| len(l, 200)),
        "address.line2",
        "up to 200 characters",
    )
    .check(
        len(&a.city, 100),
        "address.city",
        "the city, up to 100 characters",
    )
    .check(
        len(&a.postal_code, 20),
        "address.postal_code",
        "the postal code, up to 20 characters",
    )
    .check(
        a.country.len() == 2 && a.country.bytes().all(|b| b.is_ascii_uppercase()),
        "address.country",
        "a two-letter country code such as DE",
    )
    .check(
        a.phone.as_deref().is_none_or(|p| len(p, 30)),
        "address.phone",
        "up to 30 characters",
    );
    v.finish().map_err(OrdersError::Invalid)?;
    Ok(a)
}

/// How many order numbers a placement draws before giving up: with six
/// characters a day's numbers seldom meet, and twice in a row almost never.
const NUMBER_DRAWS: u32 = 5;

/// `BZ-251125-7K3F9Q`: dated, short enough to read out on the phone.
fn order_number(id: &str) -> String {
    let date = OffsetDateTime::now_utc();
    let tail: String = id.chars().rev().take(6).collect::<String>().to_uppercase();
    format!(
        "BZ-{:02}{:02}{:02}-{tail}",
        date.year() % 100,
        u8::from(date.month()),
        date.day()
    )
}

impl OrdersStore {
    async fn checkout_by_key(
        &self,
        buyer: &str,
        key: &str,
    ) -> Result<Option<CheckoutRow>, OrdersError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {CHECKOUT_FIELDS} FROM checkout WHERE buyer = $buyer AND idempotency_key = $key"
            ))
            .bind(("buyer", buyer.to_owned()))
            .bind(("key", key.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?.into_iter().next())
    }

    pub(crate) async fn checkout_by_id(
        &self,
        id: &str,
    ) -> Result<Option<CheckoutRow>, OrdersError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {CHECKOUT_FIELDS} FROM type::record('checkout', $id)"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?.into_iter().next())
    }

    pub async fn place_checkout(
        &self,
        req: &Request<CheckoutRequest>,
    ) -> Result<CheckoutResult, OrdersError> {
        let buyer = account(&req.caller)?;
        let body = &req.body;
        let key = body.idempotency_key.trim();
        if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
            return Err(OrdersError::BadRequest(
                "send an Idempotency-Key header (1 to 128 characters) so a retry never orders twice"
                    .into(),
            ));
        }
        let hash = request_hash(body);
        let meta = req.onward();
        // A new checkout is the common case: its key is looked up only when
        // the checkout cannot be planned (a retry finds the cart it emptied)
        // or the key's unique index refuses the new row.
        let plan = match self.plan(&meta, &req.caller, &buyer, body).await {
            Ok(plan) => plan,
            Err(e) => {
                return match self.checkout_by_key(&buyer, key).await? {
                    Some(existing) => self.same_key(&meta, existing, &hash).await,
                    None => Err(e),
                };
            }
        };
        self.refuse_own_shop(&req.caller, &meta).await?;
        let id = new_id();
        let opening = serde_json::json!({
            "id": id,
            "buyer": buyer,
            "key": key,
            "hash": hash,
            "payment": match body.payment {
                PaymentMethod::Card => "card",
                PaymentMethod::Cod => "cod",
            },
            "plan": plan,
        });
        let created = self.openings.write(opening).await?;
        if let Err(e) = created {
            // The same key, sent twice at once: the other request won.
            if e.unique_index().is_some()
                && let Some(existing) = self.checkout_by_key(&buyer, key).await?
            {
                return self.same_key(&meta, existing, &hash).await;
            }
            return Err(e.into());
        }
        // What was just written, without reading it back.
        let row = CheckoutRow {
            id,
            buyer,
            request_hash: hash,
            status: CheckoutStatus::Reserving,
            payment: body.payment,
            plan,
            payment_url: None,
            failure: None,
            payment_session: None,
            payment_intent: None,
        };
        self.advance(&meta, row).await
    }

    /// A seller cannot buy from their own shop: it would let them inflate
    /// their sales and review their own products.
    async fn refuse_own_shop(
        &self,
        caller: &bazaar_runtime::Caller,
        meta: &RequestMeta,
    ) -> Result<(), OrdersError> {
        if !matches!(
            caller.role(),
            Some(bazaar_subjects::Role::Seller | bazaar_subjects::Role::Admin)
        ) {
            return Ok(());
        }
        let shop = match self
            .call::<bazaar_subjects::sellers::GetMyShop>(meta, &bazaar_subjects::Empty {})
            .await
        {
            Ok(shop) => shop,
            Err(OrdersError::Upstream(e)) if e.status == 404 => return Ok(()),
            Err(e) => return Err(e),
        };
        let cart = self.cart(meta, &format!("a:{}", account(caller)?)).await?;
        if cart.shops.iter().any(|s| s.shop_id == shop.id) {
            return Err(field_error(
                "cart",
                format!(
                    "your cart holds products of your own shop, {}: remove them to check out",
                    shop.name
                ),
            ));
        }
        Ok(())
    }

    async fn same_key(
        &self,
        meta: &RequestMeta,
        existing: CheckoutRow,
        hash: &str,
    ) -> Result<CheckoutResult, OrdersError> {
        if existing.request_hash != hash {
            return Err(OrdersError::Conflict(
                "this Idempotency-Key was already used for a different checkout".into(),
            ));
        }
        // The buyer asking again picks up where the first request is (or
        // where a crash left it).
        self.advance(meta, existing).await
    }

    /// Takes a checkout as far as it can go now.
    pub(crate) async fn advance(
        &self,
        meta: &RequestMeta,
        row: CheckoutRow,
    ) -> Result<CheckoutResult, OrdersError> {
        match row.status {
            CheckoutStatus::Placed | CheckoutStatus::AwaitingPayment => self.result(&row).await,
            CheckoutStatus::Failed => Err(OrdersError::Conflict(
                row.failure.unwrap_or_else(|| "this checkout failed".into()),
            )),
            CheckoutStatus::Reserving => {
                let reservation = match self.reserve(meta, &row).await {
                    Ok(r) => r,
                    Err(OrdersError::Upstream(e)) if e.status == 409 => {
                        let why = format!("{}; review your cart and try again", e.message);
                        self.fail(&row, &why).await?;
                        return Err(OrdersError::Conflict(why));
                    }
                    Err(e) => return Err(e),
                };
                let changed: Vec<String> = row
                    .plan
                    .lines
                    .iter()
                    .filter_map(|l| {
                        let got = reservation
                            .lines
                            .iter()
                            .find(|r| r.product_id == l.product_id)?;
                        (got.unit_price != l.unit_price).then(|| {
                            format!("the price of “{}” is now {}", got.title, got.unit_price())
                        })
                    })
                    .collect();
                if !changed.is_empty() {
                    self.release(&row).await;
                    let why = format!("{}; review your cart and try again", changed.join("; "));
                    self.fail(&row, &why).await?;
                    return Err(OrdersError::Conflict(why));
                }
                match row.payment {
                    PaymentMethod::Cod => {
                        if let Some(orders) = self
                            .place_orders(&row, &reservation, PaymentStatus::Pending)
                            .await?
                        {
                            return Ok(CheckoutResult {
                                checkout_id: row.id.clone(),
                                orders: orders.iter().map(StoredOrder::summary).collect(),
                                payment_url: None,
                                status: CheckoutStatus::Placed,
                            });
                        }
                    }
                    PaymentMethod::Card => {
                        self.start_payment(&row, &reservation).await?;
                    }
                }
                let row = self
                    .checkout_by_id(&row.id)
                    .await?
                    .ok_or_else(|| OrdersError::Internal("checkout vanished".into()))?;
                match row.status {
                    CheckoutStatus::Failed => Err(OrdersError::Conflict(
                        row.failure.unwrap_or_else(|| "this checkout failed".into()),
                    )),
                    _ => self.result(&row).await,
                }
            }
        }
    }

    pub(crate) async fn reserve(
        &self,
        meta: &RequestMeta,
        row: &CheckoutRow,
    ) -> Result<Reservation, OrdersError> {
        self.call::<ReserveStock>(
            meta,
            &ReserveStockRequest {
                reservation_id: row.id.clone(),
                release_token: row.plan.release_token.clone(),
                lines: row
                    .plan
                    .lines
                    .iter()
                    .map(|l| StockLine {
                        product_id: l.product_id.clone(),
                        quantity: l.quantity,
                    })
                    .collect(),
            },
        )
        .await
    }

    /// Gives the checkout's stock back (logged, not fatal: the release is
    /// retried by whoever finds the checkout failed later).
    pub(crate) async fn release(&self, row: &CheckoutRow) {
        let r = self
            .call::<ReleaseStock>(
                &RequestMeta::default(),
                &ReleaseRequest {
                    reservation_id: row.id.clone(),
                    release_token: row.plan.release_token.clone(),
                },
            )
            .await;
        match r {
            Ok(_) => {}
            // Never reserved: nothing to give back.
            Err(OrdersError::Upstream(e)) if e.status == 404 => {}
            Err(e) => tracing::warn!(checkout = %row.id, error = %e, "stock not released yet"),
        }
    }

    pub(crate) async fn fail(&self, row: &CheckoutRow, why: &str) -> Result<(), OrdersError> {
        self.db
            .query(
                "UPDATE type::record('checkout', $id) SET status = 'failed', failure = $why, updated_at = time::now()
                   WHERE status IN ['reserving', 'awaiting_payment'] RETURN NONE",
            )
            .bind(("id", row.id.clone()))
            .bind(("why", why.to_owned()))
            .await?
            .check()?;
        Ok(())
    }

    /// Where one of the caller's checkouts stands.
    pub async fn my_checkout(
        &self,
        caller: &bazaar_runtime::Caller,
        id: &str,
    ) -> Result<CheckoutResult, OrdersError> {
        let me = account(caller)?;
        let mut found = self.checkout_by_id(id).await?;
        if let Some(row) = found.as_ref().filter(|r| {
            r.buyer == me
                && r.status == CheckoutStatus::AwaitingPayment
                && r.payment_session.is_some()
        }) {
            // Back from Stripe's page before its webhook: ask Stripe.
            match self.reconcile(row).await {
                Ok(true) => found = self.checkout_by_id(id).await?,
                Ok(false) => {}
                Err(e) => tracing::warn!(checkout = id, error = %e, "cannot ask Stripe yet"),
            }
        }
        match found {
            Some(row) if row.buyer == me => match row.status {
                CheckoutStatus::Failed => Ok(CheckoutResult {
                    checkout_id: row.id.clone(),
                    orders: Vec::new(),
                    payment_url: None,
                    status: CheckoutStatus::Failed,
                }),
                _ => self.result(&row).await,
            },
            _ => Err(OrdersError::NotFound(
                "there is no such checkout of yours".into(),
            )),
        }
    }

    async fn result(&self, row: &CheckoutRow) -> Result<CheckoutResult, OrdersError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {ORDER_FIELDS} FROM shop_order WHERE checkout_id = $id ORDER BY shop_name"
            ))
            .bind(("id", row.id.clone()))
            .await?
            .check()?;
        let orders: Vec<StoredOrder> = take_rows(&mut res, 0)?;
        Ok(CheckoutResult {
            checkout_id: row.id.clone(),
            orders: orders.into_iter().map(|o| o.summary()).collect(),
            payment_url: match row.status {
                CheckoutStatus::AwaitingPayment => row.payment_url.clone(),
                _ => None,
            },
            status: row.status,
        })
    }

    /// Checks the cart, the address, the code and the payment method, and
    /// writes down exactly what will be bought.
    async fn plan(
        &self,
        meta: &RequestMeta,
        caller: &bazaar_runtime::Caller,
        buyer: &str,
        body: &CheckoutRequest,
    ) -> Result<Plan, OrdersError> {
        let owner = format!("a:{buyer}");
        // Read twice: the first read records what the buyer has now seen.
        let cart = self.cart(meta, &owner).await?;
        if !cart.notices.is_empty() {
            let all: Vec<String> = cart.notices.iter().map(|n| n.message.clone()).collect();
            return Err(OrdersError::Conflict(format!(
                "your cart changed: {}; review it and try again",
                all.join("; ")
            )));
        }
        let lines: Vec<_> = cart.lines.iter().filter(|l| l.available).collect();
        if lines.is_empty() {
            return Err(OrdersError::Conflict("your cart is empty".into()));
        }
        if cart.lines.iter().any(|l| !l.available) {
            return Err(OrdersError::Conflict(
                "some items in your cart cannot be bought now: remove them first".into(),
            ));
        }
        if lines.iter().any(|l| l.currency != cart.currency) {
            return Err(OrdersError::Conflict(
                "items priced in different currencies cannot be paid together: check them out separately".into(),
            ));
        }
        // The code: the one sent, else the one on the cart.
        let code = body
            .coupon
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_uppercase)
            .or_else(|| cart.coupon.as_ref().map(|c| c.code.clone()));
        let mut coupon_shop = None;
        let mut coupon_terms = None;
        if let Some(code) = &code {
            let shops: Vec<String> = cart.shops.iter().map(|s| s.shop_id.clone()).collect();
            let Some(c) = coupons::find(self, code, &shops).await? else {
                return Err(field_error("coupon", coupons::NOT_FOR_THIS_CART.into()));
            };
            if let Some(why) = coupons::refusal(&c, &cart, OffsetDateTime::now_utc()) {
                return Err(field_error("coupon", why));
            }
            coupon_shop = Some(c.shop_id.clone());
            coupon_terms = Some(CouponTerms {
                kind: c.kind,
                amount: c.amount,
            });
        }
        match body.payment {
            PaymentMethod::Cod => {
                let not_cod: Vec<&str> = lines
                    .iter()
                    .filter(|l| !l.cash_on_delivery)
                    .map(|l| l.title.as_str())
                    .collect();
                if !not_cod.is_empty() {
                    return Err(field_error(
                        "payment",
                        format!("these cannot be paid on delivery: {}", not_cod.join(", ")),
                    ));
                }
            }
            PaymentMethod::Card => {
                let no_card: Vec<&str> = cart
                    .shops
                    .iter()
                    .filter(|s| !s.accepts_card)
                    .map(|s| s.shop_name.as_str())
                    .collect();
                if !no_card.is_empty() {
                    return Err(field_error(
                        "payment",
                        format!(
                            "these shops take cash on delivery only: {}",
                            no_card.join(", ")
                        ),
                    ));
                }
            }
        }
        let payout_accounts = match body.payment {
            PaymentMethod::Card if self.config.stripe_enabled() => {
                let ids = cart.shops.iter().map(|s| s.shop_id.clone()).collect();
                self.payout_accounts(meta, ids).await?
            }
            _ => BTreeMap::new(),
        };
        // Whom to confirm the order to: as the buyer's token names them
        // (signed at most 15 minutes ago), else as the auth node has them.
        let (email, name) = match caller.contact() {
            Some(c) => (c.email.clone(), c.name.clone()),
            None => {
                let me = self.call::<GetMe>(meta, &Empty {}).await?;
                (me.email, me.name)
            }
        };
        let address = match (&body.address_id, &body.address) {
            (Some(id), _) => {
                let saved = self.call::<ListAddresses>(meta, &Empty {}).await?;
                let found: Option<&Address> = saved.addresses.iter().find(|a| &a.id == id);
                let a = found.ok_or_else(|| {
                    field_error("address_id", "that is not one of your addresses".into())
                })?;
                ShippingAddress {
                    full_name: a.fields.full_name.clone(),
                    line1: a.fields.line1.clone(),
                    line2: a.fields.line2.clone(),
                    city: a.fields.city.clone(),
                    postal_code: a.fields.postal_code.clone(),
                    country: a.fields.country.clone(),
                    phone: a.fields.phone.clone(),
                }
            }
            (None, Some(a)) => validate_address(a)?,
            (None, None) => {
                return Err(field_error(
                    "address",
                    "where should it go? Give an address".into(),
                ));
            }
        };
        Ok(Plan {
            lines: lines
                .iter()
                .map(|l| PlanLine {
                    product_id: l.product_id.clone(),
                    quantity: l.quantity,
                    color: l.color.clone(),
                    size: l.size.clone(),
                    unit_price: l.unit_price,
                })
                .collect(),
            coupon: code,
            coupon_shop,
            coupon_terms,
            address,
            buyer_email: Some(email),
            buyer_name: name,
            currency: cart.currency,
            release_token: format!("{}{}", new_id(), new_id()),
            payout_accounts,
        })
    }

    /// The orders a checkout becomes, one per shop, with their discount and
    /// the platform's fee: what is charged and what each shop is paid.
    pub(crate) async fn draft_orders(
        &self,
        row: &CheckoutRow,
        reservation: &Reservation,
        payment_status: PaymentStatus,
    ) -> Result<Vec<serde_json::Value>, OrdersError> {
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut shops: Vec<(String, String, String)> = Vec::new();
        for l in &reservation.lines {
            if !shops.iter().any(|(id, _, _)| id == &l.shop_id) {
                shops.push((l.shop_id.clone(), l.shop_name.clone(), l.seller.clone()));
            }
        }
        // The terms frozen at checkout; a plan written before they were
        // frozen looks the code up.
        let coupon = match (
            &row.plan.coupon,
            &row.plan.coupon_terms,
            &row.plan.coupon_shop,
        ) {
            (Some(_), Some(terms), Some(shop)) => Some((shop.clone(), terms.clone())),
            (Some(code), None, _) => {
                let shops: Vec<String> = row.plan.coupon_shop.iter().cloned().collect();
                coupons::find(self, code, &shops).await?.map(|c| {
                    (
                        c.shop_id.clone(),
                        CouponTerms {
                            kind: c.kind,
                            amount: c.amount,
                        },
                    )
                })
            }
            _ => None,
        };
        let mut orders = Vec::new();
        for (shop_id, shop_name, seller) in shops {
            let items: Vec<serde_json::Value> = reservation
                .lines
                .iter()
                .filter(|l| l.shop_id == shop_id)
                .map(|l| {
                    let planned = row.plan.lines.iter().find(|p| p.product_id == l.product_id);
                    // The price the buyer agreed to at checkout.
                    let unit_price = planned.map_or(l.unit_price, |p| p.unit_price);
                    let mut item = serde_json::json!({
                        "product_id": l.product_id, "slug": l.slug, "title": l.title,
                        "image": l.image, "color": planned.and_then(|p| p.color.clone()),
                        "size": planned.and_then(|p| p.size.clone()), "quantity": l.quantity,
                        "unit_price": unit_price, "line_total": unit_price * l.quantity,
                    });
                    if let Some(category) = &l.category {
                        item["category"] = serde_json::Value::String(category.clone());
                    }
                    item
                })
                .collect();
            let subtotal: i64 = items.iter().filter_map(|i| i["line_total"].as_i64()).sum();
            let discount = match &coupon {
                Some((shop, terms)) if *shop == shop_id => {
                    coupons::discount(terms.kind, terms.amount, subtotal)
                }
                _ => 0,
            };
            let total = subtotal - discount;
            let fee = (total * i64::from(self.config.platform_fee_bps) + 5_000) / 10_000;
            let id = new_id();
            let card = row.payment == PaymentMethod::Card;
            orders.push(serde_json::json!({
                "id": id, "number": order_number(&id), "checkout_id": row.id, "buyer": row.buyer,
                "buyer_email": row.plan.buyer_email, "shop_id": shop_id, "shop_name": shop_name,
                "seller": seller, "items": items, "subtotal": subtotal, "discount": discount,
                "coupon": if discount > 0 { row.plan.coupon.clone() } else { None },
                "total": total, "platform_fee": fee, "payout": total - fee,
                "currency": row.plan.currency, "payment_method": match row.payment {
                    PaymentMethod::Card => "card", PaymentMethod::Cod => "cod" },
                "payment_status": match payment_status {
                    PaymentStatus::Paid => "paid", _ => "pending" },
                "status": "ordered", "timeline": [{ "status": "ordered", "at": now }],
                "address": row.plan.address, "reservation_id": row.id,
                "payment_intent": if card { row.payment_intent.clone() } else { None },
                "stripe_account": if card { row.plan.payout_accounts.get(&shop_id).cloned() } else { None },
            }));
        }
        Ok(orders)
    }

    /// Creates the orders, once: only while the checkout is still open. The
    /// orders, when this call placed them; `None` when the checkout had
    /// closed meanwhile (placed or failed by another call, or failed here).
    pub(crate) async fn place_orders(
        &self,
        row: &CheckoutRow,
        reservation: &Reservation,
        payment_status: PaymentStatus,
    ) -> Result<Option<Vec<StoredOrder>>, OrdersError> {
        // An order number is short enough to read out on the phone, so two
        // orders of a busy day can draw the same one: draw again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .try_place_orders(row, reservation, payment_status)
                .await
            {
                Err(OrdersError::Transaction(e))
                    if e.unique_index() == Some("order_number") && attempts < NUMBER_DRAWS =>
                {
                    tracing::info!(checkout = %row.id, "order number taken; drawing another");
                }
                placed => return placed,
            }
        }
    }

    /// One try at [`OrdersStore::place_orders`], with freshly drawn order ids.
    async fn try_place_orders(
        &self,
        row: &CheckoutRow,
        reservation: &Reservation,
        payment_status: PaymentStatus,
    ) -> Result<Option<Vec<StoredOrder>>, OrdersError> {
        let mut orders = self.draft_orders(row, reservation, payment_status).await?;
        // Absent, not null: SurrealDB tells NONE (no value) from NULL.
        for o in &mut orders {
            if let Some(map) = o.as_object_mut() {
                map.retain(|_, v| !v.is_null());
            }
        }
        let product_ids: Vec<String> = row
            .plan
            .lines
            .iter()
            .map(|l| l.product_id.clone())
            .collect();
        let counts_coupon = orders
            .iter()
            .any(|o| o["discount"].as_i64().unwrap_or(0) > 0);
        // The buyer's and each seller's in-app notification, the events and
        // the confirmation emails are written with the orders, so they exist
        // exactly when the orders do.
        let notes: Vec<serde_json::Value> = orders.iter().flat_map(placed_notifications).collect();
        let outbox = bazaar_outbox::bind(&self.placed_messages(row, &orders, payment_status)?);
        let placement = serde_json::json!({
            "checkout": row.id,
            "counts_coupon": counts_coupon,
            // Paid orders were priced with the code when the buyer paid:
            // they are placed even if it has run out since.
            "enforce_limit": payment_status != PaymentStatus::Paid,
            "code": row.plan.coupon,
            "coupon_shop": row.plan.coupon_shop,
            "orders": orders,
            "owner": format!("a:{}", row.buyer),
            "products": product_ids,
            "notes": notes,
            "outbox": outbox,
        });
        let placed = self.placements.write(placement).await?;
        match placed {
            Ok(placed) => {
                for note in &notes {
                    let text = |k: &str| note[k].as_str().unwrap_or_default().to_owned();
                    let frame = ServerFrame::Notification {
                        title: text("title"),
                        body: text("body"),
                        link: note["link"].as_str().map(str::to_owned),
                    };
                    self.push(&text("account"), frame).await;
                }
                self.outbox.written();
                Ok(Some(placed))
            }
            Err(OrdersError::Transaction(TransactionError::Thrown(code))) => match code.as_str() {
                "checkout closed" => Ok(None),
                "coupon used up" => {
                    self.release(row).await;
                    self.fail(
                        row,
                        "the discount code has just been used up; check out again without it",
                    )
                    .await?;
                    Ok(None)
                }
                _ => Err(TransactionError::Thrown(code).into()),
            },
            Err(e) if e.is_retryable() => Err(OrdersError::Internal(
                "checkout kept colliding with itself".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// What freshly drafted orders announce: `placed` (and `paid` for a
    /// paid checkout) for each, and the buyer's confirmation email.
    fn placed_messages(
        &self,
        row: &CheckoutRow,
        drafts: &[serde_json::Value],
        payment_status: PaymentStatus,
    ) -> Result<Vec<Outgoing>, OrdersError> {
        let mut out = Vec::new();
        for draft in drafts {
            let o = StoredOrder::drafted(draft)?;
            let event = o.event();
            out.push(Outgoing::event(
                &OrderPlaced(event.clone()),
                &format!("placed-{}", o.order.id),
            ));
            if payment_status == PaymentStatus::Paid {
                out.push(Outgoing::event(
                    &OrderPaid(event),
                    &format!("paid-{}", o.order.id),
                ));
            }
            if let Some(to) = &o.buyer_email {
                out.push(OrdersStore::email_job(
                    format!("order-placed-{}", o.order.id),
                    to,
                    Email::OrderPlaced {
                        name: row.plan.buyer_name.clone(),
                        number: o.order.number.clone(),
                        shop: o.order.shop_name.clone(),
                        total: o.order.total().to_string(),
                        items: o
                            .order
                            .items
                            .iter()
                            .map(|i| format!("{} × {}", i.quantity, i.title))
                            .collect(),
                        link: format!("{}/orders/{}", self.config.public_url, o.order.id),
                    },
                ));
            }
        }
        Ok(out)
    }
}

/// What the buyer and the seller are told in the app about a drafted order
/// (see `draft_orders` for its fields).
fn placed_notifications(order: &serde_json::Value) -> [serde_json::Value; 2] {
    let text = |k: &str| order[k].as_str().unwrap_or_default().to_owned();
    let (id, number) = (text("id"), text("number"));
    let total = Money::of(order["total"].as_i64().unwrap_or(0), &text("currency")).to_string();
    let items = order["items"].as_array().map_or(0, Vec::len);
    [
        serde_json::json!({
            "account": text("buyer"),
            "title": format!("Order {number} placed"),
            "body": format!("{items} from {} — {total}", text("shop_name")),
            "link": format!("/orders/{id}"),
        }),
        serde_json::json!({
            "account": text("seller"),
            "title": format!("New order {number}"),
            "body": format!("{items} item(s), {total}"),
            "link": format!("/seller/orders/{id}"),
        }),
    ]
}

#[cfg(test)]
mod tests {
    /// What a placement that drew a taken order number meets: the error
    /// `place_orders` draws again on.
    #[tokio::test]
    async fn a_taken_order_number_is_told_apart_from_other_failures() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        let place = |id: &'static str| {
            let db = db.clone();
            async move {
                let r = db
                    .query(
                        "BEGIN TRANSACTION;
                         CREATE type::record('shop_order', $id) CONTENT $order RETURN NONE;
                         COMMIT TRANSACTION;",
                    )
                    .bind(("id", id))
                    .bind((
                        "order",
                        serde_json::json!({
                            "number": "BZ-261207-ABC123", "checkout_id": "c", "buyer": "b",
                            "shop_id": "s", "shop_name": "S", "seller": "x", "items": [],
                            "subtotal": 100, "discount": 0, "total": 100, "platform_fee": 5,
                            "payout": 95, "currency": "USD", "payment_method": "cod",
                            "payment_status": "pending", "status": "ordered", "timeline": [],
                            "address": {}, "reservation_id": "c",
                        }),
                    ))
                    .await;
                bazaar_schema::transaction_errors(r)
            }
        };
        place("one").await.unwrap();
        let taken = place("two").await.unwrap_err();
        assert_eq!(taken.unique_index(), Some("order_number"), "{taken:?}");
    }

    #[tokio::test]
    async fn bought_lines_leave_the_cart() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        db.query("CREATE cart_line SET owner = 'a:x', product_id = 'p1', quantity = 1; CREATE cart_line SET owner = 'a:x', product_id = 'p2', quantity = 1;")
            .await.unwrap().check().unwrap();
        let mut r = db
            .query("BEGIN TRANSACTION; DELETE cart_line WHERE owner = $owner AND product_id IN $products RETURN NONE; COMMIT TRANSACTION; SELECT VALUE product_id FROM cart_line;")
            .bind(("owner", "a:x".to_owned()))
            .bind(("products", vec!["p1".to_owned()]))
            .await
            .unwrap();
        let errs = r.take_errors();
        assert!(errs.is_empty(), "{errs:?}");
        let left: Vec<String> = r.take(3).unwrap();
        assert_eq!(left, ["p2"]);
    }
}
