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
//! A relay takes the rows its node's identity may publish, whichever copy
//! wrote them. It claims a batch for [`CLAIM`] before
//! publishing it, so two copies do not publish the same rows at once; a
//! relay that dies holding a claim is taken over when the claim runs out.
//! A row published twice (a relay died after the publish, before the
//! delete) is dropped by JetStream's duplicate window, and consumers are
//! idempotent beyond it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream;
use async_nats::jetstream::context::PublishAckFuture;
use bazaar_runtime::{NodeContext, Shutdown};
use bazaar_schema::{Db, TransactionError};
use bazaar_subjects::{Event, Job};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::coop::unconstrained;

/// SurrealQL that stores the messages bound as `$outbox` (see [`bind`]);
/// put it inside the transaction that makes the change. A message whose
/// body depends on what the transaction computes is written by the
/// transaction itself with [`WRITE_ONE`].
pub const WRITE: &str = "FOR $m IN $outbox {
        UPSERT type::record('outbox', $m.id) CONTENT {
            subject: $m.subject, payload: $m.payload, n: $m.n, at: time::now()
        } RETURN NONE;
    };";

/// [`WRITE_ONE`] as a literal, for SurrealQL constants built with `concat!`.
#[macro_export]
macro_rules! write_one {
    () => {
        "UPSERT type::record('outbox', $event_id) CONTENT {
            subject: $subject, payload: $event, n: 0, at: time::now()
        } RETURN NONE;"
    };
}

/// SurrealQL that stores one message the transaction computed itself: its
/// id in `$event_id` and its body in `$event` (both set with `LET` before
/// it), its subject bound as `$subject`. The id is what deduplicates the
/// message in JetStream, so it names the change (e.g. the record and its
/// revision), never a random value a retried transaction would change.
pub const WRITE_ONE: &str = write_one!();

/// How long a relay holds the rows it claimed: far longer than publishing a
/// batch takes, short enough that a dead relay's rows are soon taken over.
pub const CLAIM: Duration = Duration::from_secs(30);

/// Rows a relay claims and publishes at a time. Under load the rows pile up
/// while a batch is out, and each claim and delete is shared by all of
/// them; a batch of 1,000 takes seconds on a saturated box, well within
/// [`CLAIM`].
const BATCH: usize = 1000;

/// How often a relay looks for rows nobody told it about: those of another
/// copy that died before relaying, or of a publish that failed.
const SWEEP: Duration = Duration::from_secs(1);

/// How long a relay that has just published waits before it claims again.
/// The first change after a quiet spell goes out at once; under load the
/// rows of many changes gather into one claim, one delete, and one batch for
/// each consumer downstream. On a saturated two-core box, relaying each
/// change as it came cost about 14 ms of CPU an order all told, against
/// about 10–11 ms with this pause, for at most 100 ms more lag an event.
const LINGER: Duration = Duration::from_millis(100);

/// How soon a relay claims again after colliding with another copy's claim.
const RETRY: Duration = Duration::from_millis(20);

/// How long [`Relay::sent`] waits for the loop (which goes on regardless).
const SENT_WAIT: Duration = Duration::from_secs(2);

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
    /// How long it had waited in the outbox when claimed.
    #[serde(default)]
    waited_ms: u64,
}

/// Takes up to `$batch` rows of this relay's lane that nobody else holds,
/// oldest first, and holds them for [`CLAIM`]: rows no relay
/// holds, rows whose claim ran out, and this relay's own (whose publish
/// failed last time). Two relays claiming at once conflict; the loser tries
/// again later.
fn claim_sql(lane: &str) -> String {
    format!(
        "BEGIN TRANSACTION;
    LET $rows = SELECT id, subject, payload, at, n FROM outbox
        WHERE ({lane}) AND (claimed_until = NONE OR claimed_until < time::now() OR claimed_by = $me)
        ORDER BY at, n LIMIT $batch;
    FOR $r IN $rows {{ UPDATE $r.id SET claimed_until = time::now() + {hold}s, claimed_by = $me RETURN NONE; }};
    SELECT record::id(id) AS id, subject, payload, at, n,
        duration::millis(time::now() - at) AS waited_ms FROM $rows ORDER BY at, n;
    COMMIT TRANSACTION;",
        hold = CLAIM.as_secs()
    )
}

/// The subjects a relay may publish, as the bus grants them to its node
/// (`events.orders.>`, `jobs.mail.send`): all nodes share the table, and a
/// row goes out only through a node whose credentials may publish it.
#[derive(Debug, Clone)]
struct Lane {
    prefixes: Vec<String>,
    exact: Vec<String>,
}

impl Lane {
    fn of<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let mut lane = Self {
            prefixes: Vec::new(),
            exact: Vec::new(),
        };
        for p in patterns {
            if let Some(prefix) = p.strip_suffix('>') {
                lane.prefixes.push(prefix.to_owned());
            } else if !p.contains('*') {
                lane.exact.push(p.to_owned());
            }
        }
        lane
    }

    /// The SurrealQL condition on `subject`, over `$lane_prefix_<i>` and
    /// `$lane_exact`.
    fn condition(&self) -> String {
        let mut any: Vec<String> = (0..self.prefixes.len())
            .map(|i| format!("string::starts_with(subject, $lane_prefix_{i})"))
            .collect();
        any.push("subject IN $lane_exact".to_owned());
        any.join(" OR ")
    }
}

/// Publishes what the transactions of its node wrote into the outbox.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    js: jetstream::Context,
    lane: Arc<Lane>,
    claim_sql: Arc<str>,
    /// Names this relay's claims.
    me: String,
    wake: Arc<Notify>,
    /// Wake-ups asked for so far, and the last of them the loop has sent
    /// everything for (see [`Relay::sent`]).
    asked: Arc<AtomicU64>,
    done: Arc<watch::Sender<u64>>,
    /// A fault for failure drills: this relay never publishes, as one
    /// killed between its node's commit and its publish would not.
    dead: bool,
}

impl Relay {
    /// The relay of a node: it publishes with the node's connection, so it
    /// takes only the rows the node's identity may publish.
    pub fn for_node(ctx: &NodeContext, db: Db) -> Self {
        let granted = ctx
            .principal
            .grants()
            .map(|g| g.publishes)
            .unwrap_or_default();
        Self::new(db, ctx.jetstream.clone(), Lane::of(granted))
    }

    fn new(db: Db, js: jetstream::Context, lane: Lane) -> Self {
        Self {
            db,
            js,
            claim_sql: claim_sql(&lane.condition()).into(),
            lane: Arc::new(lane),
            me: uuid::Uuid::now_v7().to_string(),
            wake: Arc::new(Notify::new()),
            asked: Arc::new(AtomicU64::new(0)),
            done: Arc::new(watch::Sender::new(0)),
            dead: false,
        }
    }

    /// The same relay, never publishing (a fault only tests set): what its
    /// node writes waits for another copy's relay.
    pub fn dead(mut self) -> Self {
        self.dead = true;
        self
    }

    /// Tells the relay loop that a transaction has just written rows. The
    /// loop claims, publishes and deletes whatever is waiting in one batch,
    /// so under load many changes share one claim and one delete, and the
    /// writer answers without waiting for JetStream.
    pub fn written(&self) {
        if !self.dead {
            self.ask();
        }
    }

    /// Wakes the loop; the ticket a later [`Relay::sent`] waits for.
    fn ask(&self) -> u64 {
        let ticket = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        ticket
    }

    /// [`Relay::written`], then waits (at most [`SENT_WAIT`]) until the loop
    /// has sent what was written before this call: for changes whose writer
    /// reads them back through a listener at once (a product page an edge
    /// keeps, which a product's `ProductChanged` refreshes).
    pub async fn sent(&self) {
        if self.dead {
            return;
        }
        let ticket = self.ask();
        let mut done = self.done.subscribe();
        let waited = tokio::time::timeout(SENT_WAIT, done.wait_for(|d| *d >= ticket)).await;
        if waited.is_err() {
            tracing::debug!("outbox rows not sent yet; the relay loop goes on");
        }
    }

    /// Relays until `shutdown`: when told rows were written (at once, or
    /// [`LINGER`] after its last batch), and every second for any left
    /// behind. One loop per relay, so the rows one copy claims are never
    /// claimed twice by that copy.
    pub async fn run(self, shutdown: Shutdown) {
        if self.dead {
            return;
        }
        loop {
            // What was written before this point is committed: the claim
            // below sees it.
            let asked = self.asked.load(Ordering::SeqCst);
            let pause = match self.relay_once().await {
                // A full batch: there may be more waiting.
                Ok(n) if n == BATCH => continue,
                Ok(n) => {
                    self.done.send_if_modified(|d| {
                        let newer = asked > *d;
                        *d = (*d).max(asked);
                        newer
                    });
                    if n > 0 {
                        // Busy: what is written meanwhile goes in the next
                        // batch together (see [`LINGER`]).
                        tokio::select! {
                            () = shutdown.cancelled() => break,
                            () = tokio::time::sleep(LINGER) => {}
                        }
                    }
                    SWEEP
                }
                // Another copy claimed at the same moment: its rows are
                // taken, ours are soon free again.
                Err(RelayError::Claim(e)) if e.is_retryable() => RETRY,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox not relayed; trying again");
                    SWEEP
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Claims a batch, publishes it in order and deletes what JetStream
    /// stored. How many rows it claimed.
    ///
    /// The whole batch is sent before any acknowledgement is awaited:
    /// JetStream stores one connection's messages in the order sent, and a
    /// round trip per row let a busy node's rows pile up faster than one
    /// relay could send them. Should an acknowledgement fail, the rows from
    /// there on stay claimed and go again; those JetStream had stored after
    /// it are dropped as duplicates by their `Nats-Msg-Id`.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        // The claim and the delete run outside Tokio's cooperative budget.
        // Every row they touch takes the storage's async lock, which spends
        // budget, so on a busy runtime a large batch yielded hundreds of
        // times, each time queueing behind every request: a saturated box
        // deleted about 200 rows a second and the outbox fell seconds
        // behind the data. Unconstrained, a batch is a few milliseconds.
        let rows = unconstrained(self.claim()).await?;
        let claimed = Instant::now();
        let mut acks = Vec::with_capacity(rows.len());
        let mut failed = None;
        for row in &rows {
            match self.publish(row).await {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    // Keep the order: what follows waits for this one.
                    failed = Some(e);
                    break;
                }
            }
        }
        let mut sent: Vec<String> = Vec::with_capacity(acks.len());
        for (row, ack) in rows.iter().zip(acks) {
            if let Err(e) = ack.await {
                failed.get_or_insert(RelayError::Publish(row.subject.clone(), e.to_string()));
                break;
            }
            let delay = Duration::from_millis(row.waited_ms) + claimed.elapsed();
            metrics::histogram!("bazaar_outbox_delay_seconds").record(delay.as_secs_f64());
            sent.push(row.id.clone());
        }
        if !sent.is_empty() {
            // Rows per batch is what one claim and one delete are shared by.
            metrics::counter!("bazaar_outbox_relayed_total").increment(sent.len() as u64);
            metrics::counter!("bazaar_outbox_batches_total").increment(1);
            let delete = self
                .db
                .query("FOR $id IN $ids { DELETE type::record('outbox', $id) RETURN NONE; };")
                .bind(("ids", sent));
            unconstrained(delete.into_future())
                .await
                .and_then(|r| r.check())
                .map_err(|e| RelayError::Database(e.to_string()))?;
        }
        if let Some(e) = failed {
            // The rows stay claimed by this relay, which takes them again at
            // its next sweep; should it die, another relay takes them once
            // the claim runs out.
            return Err(e);
        }
        Ok(rows.len())
    }

    async fn claim(&self) -> Result<Vec<Row>, RelayError> {
        let mut query = self
            .db
            .query(self.claim_sql.as_ref())
            .bind(("batch", BATCH as i64))
            .bind(("me", self.me.clone()))
            .bind(("lane_exact", self.lane.exact.clone()));
        for (i, prefix) in self.lane.prefixes.iter().enumerate() {
            query = query.bind((format!("lane_prefix_{i}"), prefix.clone()));
        }
        let result = query.await;
        let mut res = bazaar_schema::committed(result).map_err(RelayError::Claim)?;
        let last = bazaar_schema::before_commit(&res);
        bazaar_schema::take_rows(&mut res, last).map_err(|e| RelayError::Database(e.to_string()))
    }

    /// Sends one row; the acknowledgement comes later.
    async fn publish(&self, row: &Row) -> Result<PublishAckFuture, RelayError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", row.id.as_str());
        let payload = serde_json::to_vec(&row.payload)
            .map_err(|e| RelayError::Publish(row.subject.clone(), e.to_string()))?;
        self.js
            .publish_with_headers(row.subject.clone(), headers, payload.into())
            .await
            .map_err(|e| RelayError::Publish(row.subject.clone(), e.to_string()))
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

    /// A relay without a bus behind it: only its claiming half is used.
    async fn relay(db: &Db) -> Relay {
        let nats = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect("127.0.0.1:1")
            .await
            .unwrap();
        Relay::new(
            db.clone(),
            jetstream::new(nats),
            Lane::of(["events.test.>", "jobs.test"]),
        )
    }

    /// What a new relay claims.
    async fn claim(db: &Db) -> Vec<Row> {
        relay(db).await.claim().await.unwrap()
    }

    #[tokio::test]
    async fn rows_written_with_a_change_are_claimed_once_in_the_order_written() {
        let db = db().await;
        let sql =
            format!("BEGIN TRANSACTION; CREATE thing:one SET n = 1; {WRITE} COMMIT TRANSACTION;");
        let written = vec![note("b-placed", "first"), note("a-paid", "second")];
        let result = db.query(sql).bind(("outbox", bind(&written))).await;
        bazaar_schema::committed(result).unwrap();

        let first = relay(&db).await;
        let rows = first.claim().await.unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["b-placed", "a-paid"]);
        assert_eq!(rows[0].subject, "events.test.note");
        assert_eq!(rows[0].payload, serde_json::json!({ "text": "first" }));
        assert!(claim(&db).await.is_empty(), "held by the first relay");
        // Unpublished (say, JetStream refused them), they are the first
        // relay's to try again at once.
        assert_eq!(first.claim().await.unwrap().len(), 2);
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
    async fn a_relay_takes_only_what_its_node_may_publish() {
        let db = db().await;
        let sql = format!("BEGIN TRANSACTION; {WRITE} COMMIT TRANSACTION;");
        let written = vec![
            Outgoing::of("events.test.note", &Note { text: "ours" }, "ours"),
            Outgoing::of("events.other.note", &Note { text: "theirs" }, "theirs"),
            Outgoing::of("jobs.test", &Note { text: "a job" }, "job"),
            Outgoing::of("events.testing.note", &Note { text: "near" }, "near"),
        ];
        let result = db.query(sql).bind(("outbox", bind(&written))).await;
        bazaar_schema::committed(result).unwrap();
        let ids: Vec<String> = claim(&db).await.into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["ours", "job"]);
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
