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

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use bazaar_runtime::lease::Lease;
use bazaar_runtime::{NodeError, RequestMeta, Shutdown};
use bazaar_schema::take_rows;
use bazaar_subjects::Job;
use bazaar_subjects::catalog::Reservation;
use bazaar_subjects::orders::{self, CheckoutStatus, PaymentNotification, PaymentStatus};
use futures::StreamExt;
use serde::Deserialize;

use crate::OrdersError;
use crate::checkout::CheckoutRow;
use crate::orders::StoredOrder;
use crate::store::OrdersStore;

const CONSUMER: &str = "orders-payments";
const SWEEP_LEASE: &str = "orders_leases";

/// What the one-box test payment page sends.
#[derive(Debug, Deserialize)]
struct TestPayment {
    checkout_id: String,
    approved: bool,
}

impl OrdersStore {
    /// Sends the buyer to pay: the test page on one box without a payment
    /// provider; otherwise no card payments can be taken.
    pub(crate) async fn start_payment(
        &self,
        row: &CheckoutRow,
        _reservation: &Reservation,
    ) -> Result<(), OrdersError> {
        if !self.config.test_payments {
            self.release(row).await;
            self.fail(
                row,
                "card payments are not available on this site yet; choose cash on delivery",
            )
            .await?;
            return Ok(());
        }
        let url = format!("{}/pay/test/{}", self.config.public_url, row.id);
        self.db
            .query(
                "UPDATE type::record('checkout', $id) SET status = 'awaiting_payment', payment_url = $url,
                    updated_at = time::now() WHERE status = 'reserving' RETURN NONE",
            )
            .bind(("id", row.id.clone()))
            .bind(("url", url))
            .await?
            .check()?;
        Ok(())
    }

    /// A paid card order's money goes back to the buyer.
    pub(crate) async fn refund_payment(&self, order: &StoredOrder) -> Result<(), OrdersError> {
        if self.config.test_payments {
            tracing::info!(order = %order.order.id, "test payment refunded");
            return Ok(());
        }
        Err(OrdersError::Conflict(
            "card refunds need the payment provider, which is not set up on this site".into(),
        ))
    }

    /// Applies one payment notification; `Ok` means done (or nothing to do).
    pub(crate) async fn apply_payment(&self, n: &PaymentNotification) -> Result<(), OrdersError> {
        match n.kind.as_str() {
            "test.payment" => {
                if !self.config.test_payments {
                    tracing::warn!("a test payment arrived but test payments are off; ignored");
                    return Ok(());
                }
                let t: TestPayment = serde_json::from_str(&n.payload)?;
                if t.approved {
                    self.payment_succeeded(&t.checkout_id).await
                } else {
                    self.payment_failed(&t.checkout_id, "the payment was declined")
                        .await
                }
            }
            other => {
                tracing::info!(kind = other, "payment notification of no interest");
                Ok(())
            }
        }
    }

    /// The money is in: place the orders (once) from the reservation.
    pub(crate) async fn payment_succeeded(&self, checkout_id: &str) -> Result<(), OrdersError> {
        let Some(row) = self.checkout_by_id(checkout_id).await? else {
            tracing::warn!(checkout = checkout_id, "payment for an unknown checkout");
            return Ok(());
        };
        match row.status {
            CheckoutStatus::AwaitingPayment | CheckoutStatus::Reserving => {
                // Idempotent at the catalog: the stock taken at checkout.
                let reservation = self.reserve(&RequestMeta::default(), &row).await?;
                self.place_orders(&row, &reservation, PaymentStatus::Paid)
                    .await
            }
            CheckoutStatus::Placed => Ok(()),
            CheckoutStatus::Failed => {
                // Paid after we gave up on it (expired): the provider must
                // refund; we never sell stock we already released.
                tracing::error!(
                    checkout = checkout_id,
                    "payment arrived for a failed checkout; refund it"
                );
                Ok(())
            }
        }
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
            self.payment_failed(&s.id, "the payment was not completed in time")
                .await?;
        }
        Ok(stale.len())
    }
}

async fn consumer(js: &async_nats::jetstream::Context) -> Result<PullConsumer, NodeError> {
    let stream = bazaar_runtime::jetstream::ensure_work_queue(js, orders::JOBS).await?;
    stream
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                description: Some("every orders node copy applies payments from here".into()),
                filter_subject: PaymentNotification::SUBJECT.into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: 50,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| NodeError::JetStream(format!("{CONSUMER}: {e}")))
}

/// Applies payment notifications until `shutdown`.
pub async fn run(
    store: OrdersStore,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let consumer = consumer(&js).await?;
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = async {
                let mut batch = consumer.fetch().max_messages(1).expires(Duration::from_secs(1)).messages().await?;
                batch.next().await.transpose()
            } => next,
        };
        let msg = match next {
            Ok(Some(msg)) => msg,
            Ok(None) => continue,
            Err::<_, async_nats::Error>(e) => {
                tracing::warn!(error = %e, "cannot pull payment notifications; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
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
