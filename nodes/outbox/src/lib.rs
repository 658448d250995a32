//! The transactional outbox.
//!
//! A change and the events and jobs it causes are written in one SurrealDB
//! transaction: the change's own statements plus [`WRITE`], which stores
//! each [`Outgoing`] message as a row of the `outbox` table. A [`Relay`]
//! (every copy of the node runs one) then publishes the rows to JetStream,
//! each with its row id as `Nats-Msg-Id`, and deletes them once JetStream has
//! stored them. So a process that dies between its commit and its publish
//! delays the event until a relay runs again; it never loses it.
//!
//! Any copy may relay any row. A relay claims a batch for [`CLAIM`] before
//! publishing it, so two copies do not publish the same rows at once; a
//! relay that dies holding a claim is taken over when the claim runs out.
//! A row published twice (a relay died after the publish, before the
//! delete) is dropped by JetStream's duplicate window, and consumers are
//! idempotent beyond it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use bazaar_runtime::Shutdown;
use bazaar_schema::{Db, TransactionError};
use bazaar_subjects::{Event, Job};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// SurrealQL that stores the messages bound as `$outbox` (see [`bind`]);
/// put it inside the transaction that makes the change. A message whose
/// body depends on what the transaction computes is written by the
/// transaction itself, as a row of the same shape (see `outbox` in the
/// schema).
pub const WRITE: &str = "FOR $m IN $outbox {
        UPSERT type::record('outbox', $m.id) CONTENT {
            subject: $m.subject, payload: $m.payload, n: $m.n, at: time::now()
        } RETURN NONE;
    };";

/// How long a relay holds the rows it claimed: far longer than publishing a
/// batch takes, short enough that a dead relay's rows are soon taken over.
pub const CLAIM: Duration = Duration::from_secs(30);

/// Rows a relay claims and publishes at a time.
const BATCH: usize = 100;

/// How often a relay looks for rows nobody told it about: those of another
/// copy that died before relaying, or of a publish that failed.
const SWEEP: Duration = Duration::from_secs(1);

/// One event or job, ready to be written with the change that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Unique per message: the row id and the `Nats-Msg-Id`.
    pub id: String,
    pub subject: String,
    /// The message body (a contract type as JSON: always an object).
    pub payload: serde_json::Value,
}

impl Outgoing {
    /// An event, deduplicated by `id` (the id a direct publish would use).
    pub fn event<E: Event>(event: &E, id: &str) -> Self {
        Self::of(E::SUBJECT, event, id)
    }

    /// A job for a work queue, deduplicated by `id`.
    pub fn job<J: Job>(job: &J, id: &str) -> Self {
        Self::of(J::SUBJECT, job, id)
    }

    fn of<T: Serialize>(subject: &str, body: &T, id: &str) -> Self {
        Self {
            id: id.to_owned(),
            subject: subject.to_owned(),
            // The contract's types are plain data: encoding cannot fail.
            payload: serde_json::to_value(body).unwrap_or_default(),
        }
    }
}

/// The value to bind as `$outbox` for [`WRITE`]: the messages in the order
/// they are to be published.
pub fn bind(messages: &[Outgoing]) -> serde_json::Value {
    serde_json::Value::Array(
        messages
            .iter()
            .enumerate()
            .map(|(n, m)| {
                serde_json::json!({ "id": m.id, "subject": m.subject, "payload": m.payload, "n": n })
            })
            .collect(),
    )
}

/// A claimed row.
#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    subject: String,
    payload: serde_json::Value,
}

/// Takes up to `$batch` rows nobody holds, oldest first, and holds them for
/// [`CLAIM`] (the `30s`).
/// Two relays claiming at once conflict; the loser tries again later.
const CLAIM_SQL: &str = "BEGIN TRANSACTION;
    LET $rows = SELECT id, subject, payload, at, n FROM outbox
        WHERE claimed_until = NONE OR claimed_until < time::now()
        ORDER BY at, n LIMIT $batch;
    FOR $r IN $rows { UPDATE $r.id SET claimed_until = time::now() + 30s RETURN NONE; };
    SELECT record::id(id) AS id, subject, payload, at, n FROM $rows ORDER BY at, n;
    COMMIT TRANSACTION;";

/// Publishes what the transactions of its node wrote into the outbox.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    js: jetstream::Context,
    wake: Arc<Notify>,
}

impl Relay {
    pub fn new(db: Db, js: jetstream::Context) -> Self {
        Self {
            db,
            js,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Says that a transaction has just written rows, so they go out now
    /// rather than at the next sweep.
    pub fn written(&self) {
        self.wake.notify_one();
    }

    /// Relays until `shutdown`: at once when told rows were written, and
    /// every second for any left behind.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            match self.relay_once().await {
                // A full batch: there may be more waiting.
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox not relayed; trying again"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(SWEEP) => {}
            }
        }
    }

    /// Claims a batch, publishes it in order and deletes what JetStream
    /// stored. How many rows it claimed.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let rows = self.claim().await?;
        let mut sent: Vec<String> = Vec::with_capacity(rows.len());
        let mut failed = None;
        for row in &rows {
            match self.publish(row).await {
                Ok(()) => sent.push(row.id.clone()),
                Err(e) => {
                    // Keep the order: what follows waits for this one.
                    failed = Some(e);
                    break;
                }
            }
        }
        if !sent.is_empty() {
            metrics::counter!("bazaar_outbox_relayed_total").increment(sent.len() as u64);
            self.db
                .query("FOR $id IN $ids { DELETE type::record('outbox', $id) RETURN NONE; };")
                .bind(("ids", sent))
                .await
                .and_then(|r| r.check())
                .map_err(|e| RelayError::Database(e.to_string()))?;
        }
        if let Some(e) = failed {
            // Let the claim go, so the next sweep (here or elsewhere) retries.
            let _ = self
                .db
                .query("UPDATE outbox SET claimed_until = NONE WHERE claimed_until != NONE AND record::id(id) IN $ids RETURN NONE")
                .bind((
                    "ids",
                    rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
                ))
                .await;
            return Err(e);
        }
        Ok(rows.len())
    }

    async fn claim(&self) -> Result<Vec<Row>, RelayError> {
        let result = self.db.query(CLAIM_SQL).bind(("batch", BATCH as i64)).await;
        let mut res = bazaar_schema::committed(result).map_err(RelayError::Claim)?;
        let last = bazaar_schema::before_commit(&res);
        bazaar_schema::take_rows(&mut res, last).map_err(|e| RelayError::Database(e.to_string()))
    }

    async fn publish(&self, row: &Row) -> Result<(), RelayError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", row.id.as_str());
        let payload = serde_json::to_vec(&row.payload)
            .map_err(|e| RelayError::Publish(row.subject.clone(), e.to_string()))?;
        let ack = self
            .js
            .publish_with_headers(row.subject.clone(), headers, payload.into())
            .await
            .map_err(|e| RelayError::Publish(row.subject.clone(), e.to_string()))?;
        ack.await
            .map_err(|e| RelayError::Publish(row.subject.clone(), e.to_string()))?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("claiming outbox rows: {0}")]
    Claim(TransactionError),
    #[error("outbox table: {0}")]
    Database(String),
    #[error("publishing to {0}: {1}")]
    Publish(String, String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Note {
        text: &'static str,
    }

    fn note(id: &str, text: &'static str) -> Outgoing {
        Outgoing::of("events.test.note", &Note { text }, id)
    }

    async fn db() -> Db {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        db
    }

    /// The claiming half of a relay, without a bus behind it.
    async fn claim(db: &Db) -> Vec<Row> {
        let nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect("127.0.0.1:1")
            .await
            .unwrap();
        Relay::new(db.clone(), jetstream::new(nats))
            .claim()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn rows_written_with_a_change_are_claimed_once_in_the_order_written() {
        let db = db().await;
        let sql =
            format!("BEGIN TRANSACTION; CREATE thing:one SET n = 1; {WRITE} COMMIT TRANSACTION;");
        let written = vec![note("b-placed", "first"), note("a-paid", "second")];
        let result = db.query(sql).bind(("outbox", bind(&written))).await;
        bazaar_schema::committed(result).unwrap();

        let rows = claim(&db).await;
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b-placed", "a-paid"]);
        assert_eq!(rows[0].subject, "events.test.note");
        assert_eq!(rows[0].payload, serde_json::json!({ "text": "first" }));
        assert!(claim(&db).await.is_empty(), "held by the first claim");
    }

    #[tokio::test]
    async fn a_body_reads_back_as_it_was_written() {
        let db = db().await;
        let body = serde_json::json!({
            "average": 4.0, "count": 3, "author_id": null, "stars": 5,
            "items": [{ "product_id": "p-1", "quantity": 2 }], "at": "2026-12-06T19:00:00Z",
        });
        let message = Outgoing {
            id: "review-1".into(),
            subject: "events.test.review".into(),
            payload: body.clone(),
        };
        let sql = format!("BEGIN TRANSACTION; {WRITE} COMMIT TRANSACTION;");
        let result = db.query(sql).bind(("outbox", bind(&[message]))).await;
        bazaar_schema::committed(result).unwrap();
        let rows = claim(&db).await;
        assert_eq!(rows[0].payload, body);
    }

    #[tokio::test]
    async fn a_transaction_that_fails_leaves_no_row() {
        let db = db().await;
        let sql = format!("BEGIN TRANSACTION; {WRITE} THROW 'no'; COMMIT TRANSACTION;");
        let result = db
            .query(sql)
            .bind(("outbox", bind(&[note("lost", "never")])))
            .await;
        assert!(bazaar_schema::committed(result).is_err());
        assert!(claim(&db).await.is_empty());
    }
}
