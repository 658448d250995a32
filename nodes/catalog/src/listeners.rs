//! What the catalog does when other things happen, from durable JetStream
//! consumers shared by every copy (each event is handled by one copy, and
//! again after a crash until acknowledged):
//! - a shop was renamed: its products' cards carry the new name;
//! - products were viewed: their view counts go up, in batches.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use bazaar_runtime::jetstream::ensure_stream;
use bazaar_runtime::{NodeError, Shutdown};
use bazaar_schema::take_rows;
use bazaar_subjects::Event;
use bazaar_subjects::catalog::{self, ProductChange, ProductViewed};
use bazaar_subjects::sellers::{self, ShopChanged};
use futures::StreamExt;

use crate::CatalogError;
use crate::store::{CatalogStore, PRODUCT_FIELDS, StoredProduct};

const SHOP_NAMES: &str = "catalog-shop-names";
const VIEW_COUNTER: &str = "catalog-view-counter";
const BATCH: usize = 500;

async fn consumer(
    js: &async_nats::jetstream::Context,
    stream: bazaar_subjects::Stream,
    durable: &str,
    subject: &str,
) -> Result<PullConsumer, NodeError> {
    let stream = ensure_stream(js, stream).await?;
    stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.into()),
                filter_subject: subject.into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| NodeError::JetStream(format!("{durable}: {e}")))
}

/// Starts both listeners; they end at `shutdown`.
pub async fn spawn(
    store: CatalogStore,
    shutdown: Shutdown,
) -> Result<Vec<tokio::task::JoinHandle<()>>, NodeError> {
    let js = store.jetstream().clone();
    let names = consumer(&js, sellers::EVENTS, SHOP_NAMES, ShopChanged::SUBJECT).await?;
    let views = consumer(&js, catalog::EVENTS, VIEW_COUNTER, ProductViewed::SUBJECT).await?;
    let (s1, s2) = (store.clone(), store);
    let (d1, d2) = (shutdown.clone(), shutdown);
    Ok(vec![
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
            pulled = pull_batch(&consumer) => pulled,
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

async fn pull_batch(consumer: &PullConsumer) -> Result<Vec<Message>, async_nats::Error> {
    let mut batch = consumer
        .fetch()
        .max_messages(BATCH)
        .expires(Duration::from_secs(1))
        .messages()
        .await?;
    let mut out = Vec::new();
    while let Some(msg) = batch.next().await {
        out.push(msg?);
    }
    Ok(out)
}

/// Products carry their shop's name on their cards; keep it current.
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
                "UPDATE product SET shop_name = $name, revision += 1
                   WHERE shop_id = $shop AND shop_name != $name RETURN NONE;
                 SELECT {PRODUCT_FIELDS} FROM product WHERE shop_id = $shop AND shop_name = $name;"
            ))
            .bind(("shop", event.shop_id.clone()))
            .bind(("name", event.name.clone()))
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
        if let Ok(v) = serde_json::from_slice::<ProductViewed>(&msg.payload) {
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
