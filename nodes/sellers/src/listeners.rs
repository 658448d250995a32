//! What the sellers node does when orders happen, from durable JetStream
//! consumers shared by every copy (each event is handled by one copy, and
//! again after a crash until acknowledged):
//! - a shop's reviews changed: its rating and count follow, newest review
//!   revision wins (redelivered or late events change nothing);
//! - an order was placed: its shop's sales go up by its units, once per
//!   order; cancelled or refunded: they go back down, once, even when the
//!   cancellation arrives before the placement.
//!
//! Shops are read straight from the database (no cache), so the top-shops
//! ranking sees each change as soon as it is committed.

use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::PullConsumer;
use bazaar_runtime::jetstream::{SharedConsumer, ensure_stream, pull_batch};
use bazaar_runtime::{NodeError, Shutdown};
use bazaar_schema::{Db, TransactionError, retry_transaction, transaction_errors};
use bazaar_subjects::Event;
use bazaar_subjects::orders::{self, OrderEvent, ReviewChanged, ReviewTarget};

const RATINGS: &str = "sellers-ratings";
const SALES: &str = "sellers-sales";
const BATCH: usize = 200;
const ATTEMPTS: u32 = 10;

/// Why a batch was not handled (it is then redelivered).
#[derive(Debug, thiserror::Error)]
enum TallyError {
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    #[error(transparent)]
    Db(Box<surrealdb::Error>),
    #[error("encoding order events: {0}")]
    Encode(String),
}

impl From<surrealdb::Error> for TallyError {
    fn from(e: surrealdb::Error) -> Self {
        TallyError::Db(Box::new(e))
    }
}

async fn consumer(
    js: &async_nats::jetstream::Context,
    durable: &str,
    subject: &str,
) -> Result<PullConsumer, NodeError> {
    let stream = ensure_stream(js, orders::EVENTS).await?;
    SharedConsumer::new(durable, subject).open(&stream).await
}

/// Starts the rating and sales listeners; they end at `shutdown`.
pub async fn spawn(
    db: Db,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
) -> Result<Vec<tokio::task::JoinHandle<()>>, NodeError> {
    let ratings = consumer(&js, RATINGS, ReviewChanged::SUBJECT).await?;
    let sales = consumer(&js, SALES, orders::ORDER_EVENTS).await?;
    Ok(vec![
        tokio::spawn(listen(ratings, db.clone(), shutdown.clone(), Kind::Ratings)),
        tokio::spawn(listen(sales, db, shutdown, Kind::Sales)),
    ])
}

#[derive(Clone, Copy)]
enum Kind {
    Ratings,
    Sales,
}

/// Pulls batches until `shutdown`. Ratings are handled and acknowledged
/// one by one, the rest of a batch left for redelivery when one fails;
/// sales are counted a whole batch at a time and acknowledged once counted.
async fn listen(consumer: PullConsumer, db: Db, shutdown: Shutdown, kind: Kind) {
    loop {
        let pulled = tokio::select! {
            () = shutdown.cancelled() => return,
            pulled = pull_batch(&consumer, BATCH) => pulled,
        };
        let failed = match pulled {
            Ok(batch) => match kind {
                Kind::Ratings => apply_ratings(&db, batch).await,
                Kind::Sales => match count_sales(&db, &batch).await {
                    Ok(()) => {
                        ack_all(batch).await;
                        false
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "order events not counted; they will be redelivered");
                        true
                    }
                },
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull order events; trying again");
                true
            }
        };
        if failed {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }
}

async fn ack_all(batch: Vec<Message>) {
    for msg in batch {
        if let Err(e) = msg.ack().await {
            tracing::warn!(error = %e, "ack lost; the event will be handled again");
        }
    }
}

/// Applies review events in order; whether one failed (the rest are then
/// redelivered).
async fn apply_ratings(db: &Db, batch: Vec<Message>) -> bool {
    for msg in batch {
        match apply_rating(db, &msg).await {
            Ok(()) => {
                if let Err(e) = msg.ack().await {
                    tracing::warn!(error = %e, "ack lost; the event will be handled again");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "review event not handled; it will be redelivered");
                return true;
            }
        }
    }
    false
}

/// A shop takes a rating only when it is newer than the one it holds.
async fn apply_rating(db: &Db, msg: &Message) -> Result<(), TallyError> {
    let Ok(event) = serde_json::from_slice::<ReviewChanged>(&msg.payload) else {
        tracing::error!("unreadable review event; skipped");
        return Ok(());
    };
    if event.target != ReviewTarget::Shop {
        return Ok(());
    }
    let average = if event.average.is_finite() {
        (event.average * 100.0).round() / 100.0
    } else {
        0.0
    };
    db.query(
        "UPDATE type::record('shop', $id) SET rating_avg = $avg, rating_count = $count,
            rating_revision = $rev WHERE rating_revision < $rev RETURN NONE",
    )
    .bind(("id", event.target_id))
    .bind(("avg", average))
    .bind(("count", event.count))
    .bind(("rev", event.revision))
    .await?
    .check()?;
    Ok(())
}

/// One order event as the tally reads it: placed (add its units) or
/// cancelled/refunded (take them back).
#[derive(Debug, serde::Serialize)]
struct Tally {
    order: String,
    shop: String,
    units: i64,
    placed: bool,
}

impl Tally {
    fn of(event: &OrderEvent, placed: bool) -> Self {
        Self {
            order: event.order_id.clone(),
            shop: event.shop_id.clone(),
            units: event.items.iter().map(|i| i.quantity).sum(),
            placed,
        }
    }
}

/// Counts the events bound as `$tallies` into their shops' sales, in order,
/// each once (the order's `shop_sale` row is written in the same
/// transaction): a placement adds its units unless the row exists; a
/// reversal takes them out if they were counted, and otherwise leaves a row
/// that stops a later placement from adding them.
const TALLY_SQL: &str = "BEGIN TRANSACTION;
    FOR $t IN $tallies {
        LET $row = (SELECT counted FROM type::record('shop_sale', $t.order))[0];
        IF $t.placed {
            IF $row = NONE {
                CREATE type::record('shop_sale', $t.order) SET counted = true RETURN NONE;
                UPDATE type::record('shop', $t.shop) SET sales += $t.units RETURN NONE;
            };
        } ELSE IF $row = NONE {
            CREATE type::record('shop_sale', $t.order) SET counted = false, reversed = true RETURN NONE;
        } ELSE IF $row.counted {
            UPDATE type::record('shop_sale', $t.order) SET counted = false, reversed = true RETURN NONE;
            UPDATE type::record('shop', $t.shop) SET sales = math::max([0, sales - $t.units]) RETURN NONE;
        };
    };
    COMMIT TRANSACTION;";

/// Counts a batch of order events in one transaction.
async fn count_sales(db: &Db, batch: &[Message]) -> Result<(), TallyError> {
    let tallies: Vec<Tally> = batch
        .iter()
        .filter_map(|msg| orders::sale_of(msg.subject.as_str(), &msg.payload))
        .map(|(event, placed)| Tally::of(&event, placed))
        .collect();
    tally(db, &tallies).await
}

async fn tally(db: &Db, tallies: &[Tally]) -> Result<(), TallyError> {
    let tallies: Vec<&Tally> = tallies.iter().filter(|t| t.units > 0).collect();
    if tallies.is_empty() {
        return Ok(());
    }
    let bound = serde_json::to_value(&tallies).map_err(|e| TallyError::Encode(e.to_string()))?;
    let tallied = retry_transaction(ATTEMPTS, || async {
        let result = db.query(TALLY_SQL).bind(("tallies", bound.clone())).await;
        transaction_errors(result)
    });
    Ok(tallied.await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_subjects::Currency;
    use bazaar_subjects::orders::{OrderEventItem, OrderStatus, PaymentStatus};

    fn order(id: &str, units: i64) -> OrderEvent {
        OrderEvent {
            order_id: id.into(),
            number: "N1".into(),
            buyer_id: "b".into(),
            shop_id: "s1".into(),
            status: OrderStatus::Ordered,
            payment_status: PaymentStatus::Pending,
            total: 100,
            currency: Currency::USD,
            product_ids: vec!["p1".into(), "p2".into()],
            items: vec![
                OrderEventItem {
                    product_id: "p1".into(),
                    quantity: units,
                    ..Default::default()
                },
                OrderEventItem {
                    product_id: "p2".into(),
                    quantity: 1,
                    ..Default::default()
                },
            ],
            platform_fee: 0,
            at: None,
        }
    }

    async fn sales(db: &Db) -> i64 {
        let mut r = db.query("SELECT VALUE sales FROM shop:s1").await.unwrap();
        let v: Vec<i64> = r.take(0).unwrap();
        v[0]
    }

    #[tokio::test]
    async fn a_shop_counts_each_order_once_and_a_cancel_once() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        db.query("CREATE shop:s1 SET owner = 'o', slug = 's1', name = 'S', category = 'c'")
            .await
            .unwrap()
            .check()
            .unwrap();
        let place = |id: &str, units| Tally::of(&order(id, units), true);
        let cancel = |id: &str, units| Tally::of(&order(id, units), false);
        tally(&db, &[place("o1", 2)]).await.unwrap();
        tally(&db, &[place("o1", 2)]).await.unwrap();
        assert_eq!(sales(&db).await, 3);
        tally(&db, &[cancel("o1", 2)]).await.unwrap();
        tally(&db, &[cancel("o1", 2)]).await.unwrap();
        assert_eq!(sales(&db).await, 0);
        tally(&db, &[cancel("o2", 4)]).await.unwrap();
        tally(&db, &[place("o2", 4)]).await.unwrap();
        assert_eq!(sales(&db).await, 0);
        // The same in one batch, redelivered events and all: o3 counts once
        // (3 units), o4 is cancelled before it is placed, o5 is placed and
        // cancelled, o6 counts (2 units).
        let batch = [
            place("o3", 2),
            place("o3", 2),
            cancel("o4", 1),
            place("o4", 1),
            place("o5", 4),
            cancel("o5", 4),
            place("o6", 1),
        ];
        tally(&db, &batch).await.unwrap();
        assert_eq!(sales(&db).await, 5);
    }
}
