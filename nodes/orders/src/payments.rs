//! Card payments: a checkout waits for its payment, then becomes orders.
//!
//! Payment notifications (the provider's webhooks, verified by the edge, or
//! the one-box test payment page) arrive as jobs on the `ORDERS_JOBS` work
//! queue, deduplicated by the provider's event id. One durable consumer
//! shared by every copy applies each; it is acknowledged only once applied,
//! so a node dying mid-way leaves it for redelivery. Applying is safe to
//! repeat: orders are created only while the checkout is still open.
//!
//! Checkouts whose payment never came are failed and their stock released by
//! a sweeper on whichever copy holds the lease.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use bazaar_runtime::jetstream::{SharedConsumer, next_message};
use bazaar_runtime::lease::Lease;
use bazaar_runtime::{NodeError, RequestMeta, Shutdown};
use bazaar_schema::take_rows;
use bazaar_stripe::{NewCheckoutSession, PaymentLine};
use bazaar_subjects::catalog::Reservation;
use bazaar_subjects::orders::{self, CheckoutStatus, PaymentNotification, PaymentStatus};
use bazaar_subjects::sellers::{GetPayoutAccounts, ShopIds};
use bazaar_subjects::{Currency, Job};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::OrdersError;
use crate::checkout::CheckoutRow;
use crate::orders::StoredOrder;
use crate::store::OrdersStore;

const CONSUMER: &str = "orders-payments";
use bazaar_subjects::orders::LEASES_BUCKET as SWEEP_LEASE;

/// The part of a Stripe event the orders node reads: its object is a
/// Checkout Session or a PaymentIntent.
#[derive(Debug, Deserialize)]
struct StripeEvent {
    data: StripeEventData,
}

#[derive(Debug, Deserialize)]
struct StripeEventData {
    object: StripeObject,
}

#[derive(Debug, Deserialize)]
struct StripeObject {
    id: String,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    payment_status: Option<String>,
    /// An id, or the expanded object (then its id is taken).
    #[serde(default, deserialize_with = "id_or_object")]
    payment_intent: Option<String>,
    /// What a Checkout Session charged, in minor units.
    #[serde(default)]
    amount_total: Option<i64>,
    /// What a PaymentIntent received, in minor units.
    #[serde(default)]
    amount_received: Option<i64>,
}

fn id_or_object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Object(o)) => {
            o.get("id").and_then(|i| i.as_str()).map(str::to_owned)
        }
        _ => None,
    })
}

/// What the one-box test payment page sends.
#[derive(Debug, Deserialize)]
struct TestPayment {
    checkout_id: String,
    approved: bool,
}

impl OrdersStore {
    /// Sends the buyer to pay: a Stripe Checkout Session when Stripe is set
    /// up, else the test page on one box; otherwise no card payments.
    pub(crate) async fn start_payment(
        &self,
        row: &CheckoutRow,
        reservation: &Reservation,
    ) -> Result<(), OrdersError> {
        let base = self.config.public_url.trim_end_matches('/').to_owned();
        let (url, session) = if let Some(stripe) = &self.config.stripe {
            let drafts = self
                .draft_orders(row, reservation, PaymentStatus::Paid)
                .await?;
            let lines: Vec<PaymentLine> = drafts
                .iter()
                .map(|o| PaymentLine {
                    name: format!(
                        "{} — order {}",
                        o["shop_name"].as_str().unwrap_or("Bazaar shop"),
                        o["number"].as_str().unwrap_or_default()
                    ),
                    amount: o["total"].as_i64().unwrap_or_default(),
                })
                .filter(|l| l.amount > 0)
                .collect();
            if lines.is_empty() {
                // Discounted to nothing: there is nothing to pay.
                return self
                    .place_orders(row, reservation, PaymentStatus::Paid)
                    .await
                    .map(|_| ());
            }
            // Stripe keeps a session open 30 minutes at least; the sweeper
            // asks Stripe before giving up on it, and a payment that still
            // arrives later is refunded.
            let ttl = self.config.checkout_ttl_secs.clamp(1800, 86_400) as i64;
            let expires_at = OffsetDateTime::now_utc().unix_timestamp() + ttl;
            let result = stripe
                .create_checkout_session(NewCheckoutSession {
                    checkout_id: &row.id,
                    currency: row.plan.currency.code(),
                    lines,
                    customer_email: row.plan.buyer_email.as_deref(),
                    success_url: format!("{base}/checkout/{}", row.id),
                    cancel_url: format!("{base}/checkout/{}", row.id),
                    expires_at: Some(expires_at),
                })
                .await;
            match result {
                Ok(session) => (session.url.unwrap_or_default(), Some(session.id)),
                Err(e) if !e.is_transient() => {
                    tracing::warn!(checkout = %row.id, error = %e, "stripe refused the payment page");
                    self.release(row).await;
                    self.fail(row, "the card payment could not be started; try again or choose cash on delivery").await?;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        } else if self.config.test_payments {
            (format!("{base}/pay/test/{}", row.id), None)
        } else {
            self.release(row).await;
            self.fail(
                row,
                "card payments are not available on this site yet; choose cash on delivery",
            )
            .await?;
            return Ok(());
        };
        self.db
            .query(
                "UPDATE type::record('checkout', $id) SET status = 'awaiting_payment', payment_url = $url,
                    payment_session = IF $pay_session = NULL THEN NONE ELSE $pay_session END,
                    updated_at = time::now() WHERE status = 'reserving' RETURN NONE",
            )
            .bind(("id", row.id.clone()))
            .bind(("url", url))
            .bind(("pay_session", session))
            .await?
            .check()?;
        Ok(())
    }

    /// Which of these shops take card payments through Stripe, and into
    /// which connected account.
    pub(crate) async fn payout_accounts(
        &self,
        meta: &RequestMeta,
        ids: Vec<String>,
    ) -> Result<BTreeMap<String, String>, OrdersError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let found = self
            .call::<GetPayoutAccounts>(meta, &ShopIds { ids })
            .await?;
        Ok(found
            .shops
            .into_iter()
            .filter_map(|s| Some((s.shop_id, s.stripe_account?)))
            .collect())
    }

    /// A paid card order's money goes back to the buyer (and the shop's
    /// share back from the shop), once.
    pub(crate) async fn refund_payment(&self, order: &StoredOrder) -> Result<(), OrdersError> {
        if let (Some(stripe), Some(intent)) = (&self.config.stripe, &order.payment_intent) {
            let id = &order.order.id;
            let refund = stripe
                .refund(&format!("refund-order-{id}"), intent, order.order.total)
                .await?;
            if let Some(transfer) = &order.transfer {
                // The buyer is refunded whatever happens here; a shop
                // that cannot give its share back is the platform's to chase.
                if let Err(e) = stripe
                    .reverse_transfer(
                        &format!("reversal-order-{id}"),
                        transfer,
                        order.order.payout,
                    )
                    .await
                {
                    tracing::error!(order = %id, error = %e, "transfer not reversed; take it up with the shop");
                }
            }
            self.db
                .query("UPDATE type::record('shop_order', $id) SET refund = $r RETURN NONE")
                .bind(("id", id.clone()))
                .bind(("r", refund.clone()))
                .await?
                .check()?;
            tracing::info!(order = %id, refund = %refund, "card payment refunded");
            return Ok(());
        }
        if self.config.test_payments && order.payment_intent.is_none() {
            tracing::info!(order = %order.order.id, "test payment refunded");
            return Ok(());
        }
        Err(OrdersError::Conflict(
            "card refunds need the payment provider, which is not set up on this site".into(),
        ))
    }

    /// Applies one payment notification; `Ok` means done (or nothing to do).
    /// Whether Stripe signed this event: only then may it move money.
    fn signed_by_stripe(&self, n: &PaymentNotification) -> bool {
        let (Some(secret), Some(signature)) = (
            self.config.stripe_webhook_secret.as_deref(),
            n.signature.as_deref(),
        ) else {
            return false;
        };
        bazaar_stripe::webhook::verify_origin(signature, n.payload.as_bytes(), secret).is_ok()
    }

    pub(crate) async fn apply_payment(&self, n: &PaymentNotification) -> Result<(), OrdersError> {
        match n.kind.as_str() {
            "test.payment" => {
                if !self.config.test_payments {
                    tracing::warn!("a test payment arrived but test payments are off; ignored");
                    return Ok(());
                }
                let t: TestPayment = serde_json::from_str(&n.payload)?;
                if t.approved {
                    self.payment_succeeded(&t.checkout_id, None, None).await
                } else {
                    self.payment_failed(&t.checkout_id, "the payment was declined")
                        .await
                }
            }
            kind if kind.starts_with("checkout.session.") || kind == "payment_intent.succeeded" => {
                if self.config.stripe.is_none() {
                    tracing::warn!(
                        kind,
                        "a Stripe event arrived but Stripe is not set up; ignored"
                    );
                    return Ok(());
                }
                if !self.signed_by_stripe(n) {
                    tracing::warn!(
                        kind,
                        "a Stripe event without Stripe's valid signature; ignored"
                    );
                    return Ok(());
                }
                let event: StripeEvent = serde_json::from_str(&n.payload)?;
                let o = event.data.object;
                let charged = o.amount_total.or(o.amount_received);
                let Some(checkout_id) = o
                    .client_reference_id
                    .clone()
                    .or_else(|| o.metadata.get("checkout_id").cloned())
                else {
                    tracing::info!(
                        kind,
                        "a Stripe payment not made through a Bazaar checkout; ignored"
                    );
                    return Ok(());
                };
                match kind {
                    "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                        if o.payment_status.as_deref() == Some("paid") {
                            self.payment_succeeded(
                                &checkout_id,
                                o.payment_intent.as_deref(),
                                charged,
                            )
                            .await
                        } else {
                            // Bank debits and the like: the money follows
                            // in `async_payment_succeeded`.
                            Ok(())
                        }
                    }
                    "payment_intent.succeeded" => {
                        self.payment_succeeded(&checkout_id, Some(&o.id), charged)
                            .await
                    }
                    "checkout.session.expired" => {
                        self.payment_failed(&checkout_id, "the payment was not completed in time")
                            .await
                    }
                    "checkout.session.async_payment_failed" => {
                        self.payment_failed(&checkout_id, "the payment failed")
                            .await
                    }
                    _ => Ok(()),
                }
            }
            other => {
                tracing::info!(kind = other, "payment notification of no interest");
                Ok(())
            }
        }
    }

    /// The money is in: place the orders (once) from the plan frozen at
    /// checkout, then pay each shop its share. A Stripe payment must be
    /// exactly the plan's total (`charged`, when the notification does not
    /// say, is asked of Stripe): otherwise no order is placed, the checkout
    /// fails and the payment is refunded.
    pub(crate) async fn payment_succeeded(
        &self,
        checkout_id: &str,
        payment_intent: Option<&str>,
        charged: Option<i64>,
    ) -> Result<(), OrdersError> {
        if let Some(intent) = payment_intent {
            // First writer wins; a later event names the same payment.
            self.db
                .query(
                    "UPDATE type::record('checkout', $id) SET payment_intent = $pi
                       WHERE payment_intent = NONE RETURN NONE",
                )
                .bind(("id", checkout_id.to_owned()))
                .bind(("pi", intent.to_owned()))
                .await?
                .check()?;
        }
        let Some(row) = self.checkout_by_id(checkout_id).await? else {
            tracing::warn!(checkout = checkout_id, "payment for an unknown checkout");
            return Ok(());
        };
        match row.status {
            CheckoutStatus::AwaitingPayment | CheckoutStatus::Reserving => {
                if row.payment_session.is_some() && row.payment_intent.is_none() {
                    // A Stripe checkout paid without a payment to tie the
                    // orders to cannot be refunded later: wait for it.
                    return Err(OrdersError::Internal(
                        "paid, but Stripe has not named the payment yet".into(),
                    ));
                }
                // Idempotent at the catalog: the stock taken at checkout.
                let reservation = self.reserve(&RequestMeta::default(), &row).await?;
                if row.payment_session.is_some() {
                    let charged = match charged {
                        Some(amount) => amount,
                        None => self.charged(&row).await?,
                    };
                    let due: i64 = self
                        .draft_orders(&row, &reservation, PaymentStatus::Paid)
                        .await?
                        .iter()
                        .filter_map(|o| o["total"].as_i64())
                        .sum();
                    if charged != due {
                        tracing::error!(
                            checkout = checkout_id,
                            charged,
                            due,
                            "a payment does not match its checkout's total; no order placed, refunding"
                        );
                        self.fail(
                            &row,
                            "the payment did not match the order total, so it is refunded; check out again",
                        )
                        .await?;
                        self.release(&row).await;
                        return self.refund_late_payment(&row).await;
                    }
                }
                self.place_orders(&row, &reservation, PaymentStatus::Paid)
                    .await?;
                self.pay_shops(checkout_id).await
            }
            // Finishes the transfers a crash may have left undone.
            CheckoutStatus::Placed => self.pay_shops(checkout_id).await,
            // Paid after we gave up on it (expired): the buyer gets the
            // money back; we never sell stock we already released.
            CheckoutStatus::Failed => self.refund_late_payment(&row).await,
        }
    }

    /// Refunds in full a payment for a checkout that will not be placed.
    async fn refund_late_payment(&self, row: &CheckoutRow) -> Result<(), OrdersError> {
        let checkout_id = row.id.as_str();
        match (&self.config.stripe, &row.payment_intent) {
            (Some(stripe), Some(intent)) => {
                let refund = stripe
                    .refund(
                        &format!("refund-checkout-{checkout_id}"),
                        intent,
                        self.charged(row).await?,
                    )
                    .await?;
                self.db
                    .query("UPDATE type::record('checkout', $id) SET refund = $r RETURN NONE")
                    .bind(("id", checkout_id.to_owned()))
                    .bind(("r", refund))
                    .await?
                    .check()?;
                tracing::warn!(
                    checkout = checkout_id,
                    "payment arrived for a failed checkout; refunded"
                );
            }
            _ => tracing::error!(
                checkout = checkout_id,
                "payment arrived for a failed checkout; refund it"
            ),
        }
        Ok(())
    }

    /// What a failed checkout's buyer was charged: asked of Stripe, since
    /// no orders recorded it.
    async fn charged(&self, row: &CheckoutRow) -> Result<i64, OrdersError> {
        let (Some(stripe), Some(session)) = (&self.config.stripe, &row.payment_session) else {
            return Err(OrdersError::Internal("no Stripe session to refund".into()));
        };
        let s = stripe.checkout_session(session).await?;
        s.amount_total
            .ok_or_else(|| OrdersError::Internal("the Stripe session has no amount".into()))
    }

    /// Transfers each paid card order's payout to its shop's connected
    /// account, once per order (Stripe's idempotency key is the order id,
    /// and the transfer id is recorded).
    pub(crate) async fn pay_shops(&self, checkout_id: &str) -> Result<(), OrdersError> {
        let Some(stripe) = &self.config.stripe else {
            return Ok(());
        };
        #[derive(Deserialize)]
        struct Due {
            id: String,
            payout: i64,
            currency: Currency,
            stripe_account: String,
            payment_intent: String,
        }
        let mut res = self
            .db
            .query(
                "SELECT record::id(id) AS id, payout, currency, stripe_account, payment_intent
                   FROM shop_order WHERE checkout_id = $id AND payment_intent != NONE
                     AND stripe_account != NONE AND transfer = NONE AND payout > 0",
            )
            .bind(("id", checkout_id.to_owned()))
            .await?
            .check()?;
        let due: Vec<Due> = take_rows(&mut res, 0)?;
        let Some(first) = due.first() else {
            return Ok(());
        };
        // Tied to the charge, a transfer waits for its funds to settle.
        let charge = stripe.latest_charge(&first.payment_intent).await?;
        for d in &due {
            let transfer = stripe
                .transfer(
                    &format!("transfer-order-{}", d.id),
                    d.payout,
                    d.currency.code(),
                    &d.stripe_account,
                    checkout_id,
                    charge.as_deref(),
                )
                .await?;
            self.db
                .query("UPDATE type::record('shop_order', $id) SET transfer = $t RETURN NONE")
                .bind(("id", d.id.clone()))
                .bind(("t", transfer.clone()))
                .await?
                .check()?;
            tracing::info!(order = %d.id, transfer = %transfer, amount = d.payout, "shop paid its share");
        }
        Ok(())
    }

    /// Asks Stripe whether a waiting checkout was paid (a webhook may be
    /// late or lost) and applies the answer.
    pub(crate) async fn reconcile(&self, row: &CheckoutRow) -> Result<bool, OrdersError> {
        let (Some(stripe), Some(session)) = (&self.config.stripe, &row.payment_session) else {
            return Ok(false);
        };
        let s = stripe.checkout_session(session).await?;
        if s.payment_status == "paid" {
            self.payment_succeeded(&row.id, s.payment_intent.as_deref(), s.amount_total)
                .await?;
            return Ok(true);
        }
        if s.status == "expired" {
            self.payment_failed(&row.id, "the payment was not completed in time")
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(crate) async fn payment_failed(
        &self,
        checkout_id: &str,
        why: &str,
    ) -> Result<(), OrdersError> {
        let Some(row) = self.checkout_by_id(checkout_id).await? else {
            return Ok(());
        };
        if matches!(
            row.status,
            CheckoutStatus::AwaitingPayment | CheckoutStatus::Reserving
        ) {
            self.fail(&row, why).await?;
            self.release(&row).await;
        }
        Ok(())
    }

    /// Fails checkouts that waited too long for their payment.
    async fn sweep(&self) -> Result<usize, OrdersError> {
        #[derive(Deserialize)]
        struct Stale {
            id: String,
        }
        let mut res = self
            .db
            .query(
                "SELECT record::id(id) AS id FROM checkout
                   WHERE status IN ['reserving', 'awaiting_payment']
                     AND updated_at < time::now() - <duration>$ttl LIMIT 200",
            )
            .bind(("ttl", format!("{}s", self.config.checkout_ttl_secs)))
            .await?
            .check()?;
        let stale: Vec<Stale> = take_rows(&mut res, 0)?;
        for s in &stale {
            if let Some(row) = self.checkout_by_id(&s.id).await?
                && row.payment_session.is_some()
            {
                match self.reconcile(&row).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    // Stripe unreachable: never fail a checkout that may be paid.
                    Err(e) => {
                        tracing::warn!(checkout = %s.id, error = %e, "cannot ask Stripe; trying later");
                        continue;
                    }
                }
            }
            self.payment_failed(&s.id, "the payment was not completed in time")
                .await?;
        }
        Ok(stale.len())
    }
}

async fn consumer(js: &async_nats::jetstream::Context) -> Result<PullConsumer, NodeError> {
    let stream = bazaar_runtime::jetstream::ensure_work_queue(js, orders::JOBS).await?;
    SharedConsumer::new(CONSUMER, PaymentNotification::SUBJECT)
        .description("every orders node copy applies payments from here")
        .max_deliver(50)
        .open(&stream)
        .await
}

/// Applies payment notifications until `shutdown`.
pub async fn run(
    store: OrdersStore,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let consumer = consumer(&js).await?;
    while let Some(msg) = next_message(&consumer, &shutdown, "payment notifications").await {
        let notification: PaymentNotification = match serde_json::from_slice(&msg.payload) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "unreadable payment notification; dropped");
                let _ = msg.ack_with(AckKind::Term).await;
                continue;
            }
        };
        let span = tracing::info_span!("payment", event = %notification.event_id, kind = %notification.kind);
        let _g = span.enter();
        match store.apply_payment(&notification).await {
            Ok(()) => {
                if let Err(e) = msg.double_ack().await {
                    tracing::warn!(error = %e, "payment applied but its ack was lost; it will be applied again (harmlessly)");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "payment not applied yet; it will be redelivered");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await;
            }
        }
    }
    Ok(())
}

/// Fails stale checkouts every `interval` on the copy holding the lease.
pub async fn sweeper(
    store: OrdersStore,
    js: async_nats::jetstream::Context,
    holder: String,
    interval: Duration,
    shutdown: Shutdown,
) {
    let mut lease = match Lease::new(&js, SWEEP_LEASE, holder).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "checkout sweeper cannot start");
            return;
        }
    };
    loop {
        if lease.acquire().await {
            match store.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    expired = n,
                    "stale checkouts failed and their stock released"
                ),
                Err(e) => tracing::warn!(error = %e, "checkout sweep failed"),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
    lease.release().await;
}
