//! What the catalog does when other things happen, from durable JetStream
//! consumers shared by every copy (each event is handled by one copy, and
//! again after a crash until acknowledged):
//! - a shop was renamed: its products' cards carry the new name;
//! - products were viewed: their view counts go up, in batches;
//! - a product's reviews changed: its rating and count follow, newest
//!   revision wins (redelivered or late events change nothing);
//! - an order was placed: its products' sales go up by its units, once per
//!   order; cancelled or refunded: they go back down, once (see
//!   [`count_sales`]).

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::PullConsumer;
use bazaar_runtime::jetstream::{SharedConsumer, ensure_stream, pull_batch};
use bazaar_runtime::{NodeError, Shutdown};
use bazaar_schema::{Retryable, take_rows};
use bazaar_subjects::Event;
use bazaar_subjects::catalog::{self, ProductChange};
use bazaar_subjects::orders::{self, OrderEvent, ReviewChanged, ReviewTarget};
use bazaar_subjects::sellers::{self, ShopChanged};

use crate::CatalogError;
use crate::store::{CatalogStore, PRODUCT_FIELDS, StoredProduct};

const SHOP_NAMES: &str = "catalog-shop-names";
const VIEW_COUNTER: &str = "catalog-view-counter";
const RATINGS: &str = "catalog-ratings";
const SALES: &str = "catalog-sales";
/// Every order event; the sales counter reads placed, cancelled, refunded.
/// How often a write that collided with another is tried in all.
const ATTEMPTS: u32 = 10;
const BATCH: usize = 500;

async fn consumer(
    js: &async_nats::jetstream::Context,
    stream: bazaar_subjects::Stream,
    durable: &str,
    subject: &str,
) -> Result<PullConsumer, NodeError> {
    let stream = ensure_stream(js, stream).await?;
    SharedConsumer::new(durable, subject).open(&stream).await
}

/// Starts the listeners; they end at `shutdown`.
pub async fn spawn(
    store: CatalogStore,
    shutdown: Shutdown,
) -> Result<Vec<tokio::task::JoinHandle<()>>, NodeError> {
    let js = store.jetstream().clone();
    let names = consumer(&js, sellers::EVENTS, SHOP_NAMES, ShopChanged::SUBJECT).await?;
    let views = consumer(&js, catalog::EVENTS, VIEW_COUNTER, catalog::VIEW_EVENTS).await?;
    let ratings = consumer(&js, orders::EVENTS, RATINGS, ReviewChanged::SUBJECT).await?;
    let sales = consumer(&js, orders::EVENTS, SALES, orders::ORDER_EVENTS).await?;
    let (s1, s2, s3, s4) = (store.clone(), store.clone(), store.clone(), store);
    let (d1, d2, d3, d4) = (
        shutdown.clone(),
        shutdown.clone(),
        shutdown.clone(),
        shutdown,
    );
    Ok(vec![
        tokio::spawn(listen(ratings, d3, move |batch| {
            let s = s3.clone();
            async move { apply_ratings(&s, batch).await }
        })),
        tokio::spawn(listen(sales, d4, move |batch| {
            let s = s4.clone();
            async move { count_sales(&s, batch).await }
        })),
        tokio::spawn(listen(names, d1, move |batch| {
            let s = s1.clone();
            async move { rename_shops(&s, batch).await }
        })),
        tokio::spawn(listen(views, d2, move |batch| {
            let s = s2.clone();
            async move { count_views(&s, batch).await }
        })),
    ])
}

/// Pulls batches until `shutdown`; a batch is acknowledged once handled,
/// and left for redelivery when handling fails.
async fn listen<F, Fut>(consumer: PullConsumer, shutdown: Shutdown, handle: F)
where
    F: Fn(Vec<Message>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Message>, CatalogError>>,
{
    loop {
        let pulled = tokio::select! {
            () = shutdown.cancelled() => return,
            pulled = pull_batch(&consumer, BATCH) => pulled,
        };
        match pulled {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => match handle(batch).await {
                Ok(done) => {
                    for msg in done {
                        if let Err(e) = msg.ack().await {
                            tracing::warn!(error = %e, "ack lost; the event will be handled again");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "events not handled; they will be redelivered");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull events; trying again");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }
}

/// Products carry their shop's name on their cards, and are not live while
/// an admin keeps their shop hidden; keep both current.
async fn rename_shops(
    store: &CatalogStore,
    batch: Vec<Message>,
) -> Result<Vec<Message>, CatalogError> {
    for msg in &batch {
        let Ok(event) = serde_json::from_slice::<ShopChanged>(&msg.payload) else {
            tracing::error!("unreadable shop event; skipped");
            continue;
        };
        let mut res = store
            .db()
            .query(format!(
                "UPDATE product SET shop_name = $name, shop_hidden = $hidden,
                     live = status = 'active' AND deleted_at = NONE AND hidden_at = NONE AND !$hidden,
                     revision += 1
                   WHERE shop_id = $shop AND (shop_name != $name OR shop_hidden != $hidden) RETURN NONE;
                 SELECT {PRODUCT_FIELDS} FROM product
                   WHERE shop_id = $shop AND shop_name = $name AND shop_hidden = $hidden;"
            ))
            .bind(("shop", event.shop_id.clone()))
            .bind(("name", event.name.clone()))
            .bind(("hidden", event.hidden))
            .await?
            .check()?;
        let renamed: Vec<StoredProduct> = take_rows(&mut res, 1)?;
        for p in &renamed {
            store.after_change(p, ProductChange::Updated).await;
        }
    }
    Ok(batch)
}

/// Adds up a batch of views per product and writes each sum once.
async fn count_views(
    store: &CatalogStore,
    batch: Vec<Message>,
) -> Result<Vec<Message>, CatalogError> {
    let mut counts: HashMap<String, i64> = HashMap::new();
    for msg in &batch {
        for v in catalog::views_of(msg.subject.as_str(), &msg.payload) {
            *counts.entry(v.product_id).or_default() += 1;
        }
    }
    for (id, n) in counts {
        store
            .db()
            .query("UPDATE type::record('product', $id) SET views += $n RETURN NONE")
            .bind(("id", id))
            .bind(("n", n))
            .await?
            .check()?;
    }
    Ok(batch)
}

/// Keeps products' ratings from their reviews. Each event carries the
/// target's review revision; a product takes it only when it is newer than
/// the one it holds, so a redelivered or overtaken event changes nothing.
async fn apply_ratings(
    store: &CatalogStore,
    batch: Vec<Message>,
) -> Result<Vec<Message>, CatalogError> {
    for msg in &batch {
        let Ok(event) = serde_json::from_slice::<ReviewChanged>(&msg.payload) else {
            tracing::error!("unreadable review event; skipped");
            continue;
        };
        if event.target != ReviewTarget::Product {
            continue;
        }
        let mut res = store
            .db()
            .query(format!(
                "UPDATE type::record('product', $id) SET rating_avg = $avg, rating_count = $count,
                    rating_revision = $rev, revision += 1
                   WHERE rating_revision < $rev RETURN NONE;
                 SELECT {PRODUCT_FIELDS} FROM type::record('product', $id) WHERE rating_revision = $rev;"
            ))
            .bind(("id", event.target_id.clone()))
            .bind(("avg", round_rating(event.average)))
            .bind(("count", event.count))
            .bind(("rev", event.revision))
            .await?
            .check()?;
        let changed: Vec<StoredProduct> = take_rows(&mut res, 1)?;
        for p in changed {
            store.after_change(&p.now(), ProductChange::Updated).await;
        }
    }
    Ok(batch)
}

/// Two decimals are all a rating needs.
fn round_rating(average: f64) -> f64 {
    if average.is_finite() {
        (average * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// Counts placed orders' units into their products' sales, and takes them
/// out again when an order is cancelled or refunded. Exactly once per order
/// and direction: the order's `product_sale` row is written in the same
/// transaction as the counters, and a cancellation that arrives before its
/// placement is remembered, so the placement then adds nothing. A batch is
/// counted in a few transactions, not one per order.
async fn count_sales(
    store: &CatalogStore,
    batch: Vec<Message>,
) -> Result<Vec<Message>, CatalogError> {
    let tallies: Vec<Tally> = batch
        .iter()
        .filter_map(|msg| orders::sale_of(msg.subject.as_str(), &msg.payload))
        .filter(|(event, _)| !event.items.is_empty())
        .map(|(event, placed)| Tally::of(&event, placed))
        .collect();
    // Each product as the last transaction that counted it left it.
    let mut counted: HashMap<String, StoredProduct> = HashMap::new();
    for chunk in tallies.chunks(TALLY_CHUNK) {
        let rows = match tally(store.db(), chunk).await {
            // Checkouts kept taking stock from these products while the
            // chunk was counted: count its orders one by one instead.
            Err(e) if e.is_retryable() && chunk.len() > 1 => {
                let mut rows = Vec::new();
                for one in chunk.chunks(1) {
                    rows.extend(tally(store.db(), one).await?);
                }
                rows
            }
            counted => counted?,
        };
        for p in rows {
            counted.insert(p.product.id.clone(), p);
        }
    }
    // Sales order listings: the search index re-reads these products.
    for p in counted.into_values() {
        store.after_change(&p.now(), ProductChange::Updated).await;
    }
    Ok(batch)
}

/// Orders counted per transaction. Each one also writes its products, which
/// checkouts write too: a short transaction seldom collides with them.
const TALLY_CHUNK: usize = 4;

/// One order event as the tally reads it: placed (add its units) or
/// cancelled/refunded (take them back).
#[derive(Debug, serde::Serialize)]
struct Tally {
    order: String,
    placed: bool,
    items: Vec<TallyItem>,
}

#[derive(Debug, serde::Serialize)]
struct TallyItem {
    product_id: String,
    quantity: i64,
}

impl Tally {
    fn of(event: &OrderEvent, placed: bool) -> Self {
        Self {
            order: event.order_id.clone(),
            placed,
            items: event
                .items
                .iter()
                .map(|i| TallyItem {
                    product_id: i.product_id.clone(),
                    quantity: i.quantity,
                })
                .collect(),
        }
    }
}

/// Counts the events bound as `$tallies`, in order, each once: a placement
/// adds its units unless its order's `product_sale` row exists; a reversal
/// takes them out if they were counted, and otherwise leaves a row that
/// stops a later placement from adding them. Reads the products back as
/// they are then, for the page cache and the search index.
static TALLY_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "BEGIN TRANSACTION;
    FOR $t IN $tallies {
        LET $row = (SELECT counted FROM type::record('product_sale', $t.order))[0];
        IF $t.placed {
            IF $row = NONE {
                CREATE type::record('product_sale', $t.order) SET counted = true RETURN NONE;
                FOR $i IN $t.items {
                    UPDATE type::record('product', $i.product_id) SET sales += $i.quantity, revision += 1 RETURN NONE;
                };
            };
        } ELSE IF $row = NONE {
            CREATE type::record('product_sale', $t.order) SET counted = false, reversed = true RETURN NONE;
        } ELSE IF $row.counted {
            UPDATE type::record('product_sale', $t.order) SET counted = false, reversed = true RETURN NONE;
            FOR $i IN $t.items {
                UPDATE type::record('product', $i.product_id)
                    SET sales = math::max([0, sales - $i.quantity]), revision += 1 RETURN NONE;
            };
        };
    };
    LET $ids = array::distinct(array::flatten($tallies.map(|$t| $t.items.map(|$i| $i.product_id))));
    SELECT PRODUCT_FIELDS FROM array::map($ids, |$i| type::record('product', $i)) WHERE id != NONE;
    COMMIT TRANSACTION;"
        .replace("PRODUCT_FIELDS", PRODUCT_FIELDS)
});

/// Runs the tally of some order events in one transaction, trying again
/// when it collided with another write to the same products; the products
/// they touched, as counted.
async fn tally(
    db: &bazaar_schema::Db,
    tallies: &[Tally],
) -> Result<Vec<StoredProduct>, CatalogError> {
    let tallies = serde_json::to_value(tallies)?;
    let tallied = bazaar_schema::retry_transaction(ATTEMPTS, || async {
        let result = db
            .query(TALLY_SQL.as_str())
            .bind(("tallies", tallies.clone()))
            .await;
        let mut res = bazaar_schema::committed(result)?;
        let last = bazaar_schema::before_commit(&res);
        Ok::<_, CatalogError>(take_rows(&mut res, last)?)
    });
    tallied.await
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_subjects::Currency;
    use bazaar_subjects::orders::{OrderEventItem, OrderStatus, PaymentStatus};

    fn order(id: &str) -> OrderEvent {
        OrderEvent {
            order_id: id.into(),
            number: "N1".into(),
            buyer_id: "b".into(),
            shop_id: "s".into(),
            status: OrderStatus::Ordered,
            payment_status: PaymentStatus::Pending,
            total: 100,
            currency: Currency::USD,
            product_ids: vec!["p1".into()],
            items: vec![OrderEventItem {
                product_id: "p1".into(),
                quantity: 3,
                ..Default::default()
            }],
            platform_fee: 0,
            at: None,
        }
    }

    async fn sales(db: &bazaar_schema::Db) -> i64 {
        let mut r = db
            .query("SELECT VALUE sales FROM product:p1")
            .await
            .unwrap();
        let v: Vec<i64> = r.take(0).unwrap();
        v[0]
    }

    #[tokio::test]
    async fn an_order_counts_once_and_a_cancel_takes_it_back_once_in_any_order() {
        let db = crate::test_support::db_with_product(1, 1).await;
        let place = |id: &str| Tally::of(&order(id), true);
        let cancel = |id: &str| Tally::of(&order(id), false);
        for _ in 0..3 {
            tally(&db, &[place("o1")]).await.unwrap();
        }
        assert_eq!(sales(&db).await, 3);
        for _ in 0..2 {
            tally(&db, &[cancel("o1")]).await.unwrap();
        }
        assert_eq!(sales(&db).await, 0);
        // A cancellation overtaking its placement: the placement adds nothing.
        tally(&db, &[cancel("o2")]).await.unwrap();
        tally(&db, &[place("o2")]).await.unwrap();
        assert_eq!(sales(&db).await, 0);
        let counted = tally(&db, &[place("o3")]).await.unwrap();
        assert_eq!(sales(&db).await, 3);
        // The products come back as counted, for the cache and the index.
        let ids: Vec<&str> = counted.iter().map(|p| p.product.id.as_str()).collect();
        assert_eq!((ids, counted[0].product.sales), (vec!["p1"], 3));
        // The same in one batch, redelivered events and all.
        tally(
            &db,
            &[
                place("o4"),
                place("o4"),
                cancel("o5"),
                place("o5"),
                place("o6"),
                cancel("o6"),
                place("o7"),
            ],
        )
        .await
        .unwrap();
        // o1 to o3 left 3; o4 adds 3, o5 nothing, o6 3 and back, o7 3.
        assert_eq!(sales(&db).await, 9);
    }

    #[test]
    fn ratings_keep_two_decimals() {
        assert_eq!(round_rating(4.666_666), 4.67);
        assert_eq!(round_rating(f64::NAN), 0.0);
    }
}
