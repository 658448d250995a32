//! Idempotent JetStream set-up and event publishing.
//!
//! Every node calls these at start; the first copy creates, the others find.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv, object_store, stream};
use bazaar_subjects::{Event, Stream};

use crate::NodeError;

fn js_err(e: impl std::fmt::Display) -> NodeError {
    NodeError::JetStream(e.to_string())
}

/// Up to `max` messages from a pull consumer, waiting at most a second for
/// the first: what a listener loop takes each round.
pub async fn pull_batch(
    consumer: &jetstream::consumer::PullConsumer,
    max: usize,
) -> Result<Vec<jetstream::Message>, async_nats::Error> {
    use futures::StreamExt;
    let mut batch = consumer
        .fetch()
        .max_messages(max)
        .expires(Duration::from_secs(1))
        .messages()
        .await?;
    let mut out = Vec::new();
    while let Some(msg) = batch.next().await {
        out.push(msg?);
    }
    Ok(out)
}

/// The next message of a pull consumer that handles one at a time; `None`
/// once `shutdown` is cancelled. A failed pull is logged (`what` names what
/// is being pulled) and tried again after a pause, so the loop rides out a
/// NATS restart.
pub async fn next_message(
    consumer: &jetstream::consumer::PullConsumer,
    shutdown: &crate::Shutdown,
    what: &str,
) -> Option<jetstream::Message> {
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return None,
            next = pull_batch(consumer, 1) => next,
        };
        match next {
            Ok(batch) => {
                if let Some(msg) = batch.into_iter().next() {
                    return Some(msg);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull {what}; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// How many copies of a stream, bucket or store this process makes (set from
/// `BAZAAR_JETSTREAM_REPLICAS` when the node context is made).
static REPLICAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

pub fn set_replicas(replicas: u8) {
    REPLICAS.store(
        usize::from(replicas.max(1)),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The replicas every stream, KV bucket and Object Store is created with.
pub fn replicas() -> usize {
    REPLICAS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Makes sure a domain's event stream exists (file storage, dedupe window).
pub async fn ensure_stream(
    js: &jetstream::Context,
    s: Stream,
) -> Result<stream::Stream, NodeError> {
    ensure_with_retention(js, s, stream::RetentionPolicy::Limits).await
}

async fn ensure_with_retention(
    js: &jetstream::Context,
    s: Stream,
    retention: stream::RetentionPolicy,
) -> Result<stream::Stream, NodeError> {
    let config = stream::Config {
        name: s.name.to_owned(),
        subjects: vec![s.subjects.to_owned()],
        retention,
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas(),
        ..Default::default()
    };
    settled(|| js.get_or_create_stream(config.clone()))
        .await
        .map_err(js_err)
}

/// Runs a get-or-create of a JetStream asset again, a few times, while it
/// fails. Copies of a node start together: in a cluster the second create
/// of a stream or consumer is refused while the first is still being
/// agreed on, and a moment later the look-up finds it.
pub async fn settled<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    const TRIES: u32 = 5;
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(_) if tries < TRIES => {
                tokio::time::sleep(Duration::from_millis(250) * tries).await;
                tries += 1;
            }
            done => return done,
        }
    }
}

/// Makes sure a KV bucket exists; `max_age` zero keeps entries forever.
pub async fn ensure_kv(
    js: &jetstream::Context,
    bucket: &str,
    max_age: Duration,
) -> Result<kv::Store, NodeError> {
    if let Ok(store) = js.get_key_value(bucket).await {
        return Ok(store);
    }
    let created = js
        .create_key_value(kv::Config {
            bucket: bucket.to_owned(),
            history: 1,
            max_age,
            storage: stream::StorageType::File,
            num_replicas: replicas(),
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        // Another copy created it between our look-up and our create.
        Err(_) => settled(|| js.get_key_value(bucket)).await.map_err(js_err),
    }
}

/// Makes sure an Object Store bucket exists.
pub async fn ensure_object_store(
    js: &jetstream::Context,
    bucket: &str,
) -> Result<object_store::ObjectStore, NodeError> {
    if let Ok(store) = js.get_object_store(bucket).await {
        return Ok(store);
    }
    let created = js
        .create_object_store(object_store::Config {
            bucket: bucket.to_owned(),
            storage: stream::StorageType::File,
            num_replicas: replicas(),
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        Err(_) => settled(|| js.get_object_store(bucket))
            .await
            .map_err(js_err),
    }
}

/// The stream behind an Object Store bucket.
fn object_stream_name(bucket: &str) -> String {
    format!("OBJ_{bucket}")
}

/// Makes sure an Object Store bucket exists and holds at most `max_bytes`
/// (0: no cap). A bucket that exists already gets the cap too, so a cap
/// set (or changed) in the configuration applies at the next start.
pub async fn ensure_capped_object_store(
    js: &jetstream::Context,
    bucket: &str,
    max_bytes: u64,
) -> Result<object_store::ObjectStore, NodeError> {
    let cap = if max_bytes == 0 {
        -1
    } else {
        i64::try_from(max_bytes).unwrap_or(i64::MAX)
    };
    if js.get_object_store(bucket).await.is_err() {
        let created = js
            .create_object_store(object_store::Config {
                bucket: bucket.to_owned(),
                storage: stream::StorageType::File,
                max_bytes: cap,
                num_replicas: replicas(),
                ..Default::default()
            })
            .await;
        match created {
            Ok(store) => return Ok(store),
            // Another copy created it meanwhile: it gets the cap below.
            Err(refused) if js.get_stream(object_stream_name(bucket)).await.is_ok() => {
                tracing::debug!(bucket, error = %refused, "the bucket came from another copy");
            }
            Err(refused) => return Err(cap_refused(bucket, max_bytes, refused)),
        }
    }
    let mut found = js
        .get_stream(object_stream_name(bucket))
        .await
        .map_err(js_err)?;
    let mut config = found.info().await.map_err(js_err)?.config.clone();
    if config.max_bytes != cap {
        config.max_bytes = cap;
        js.update_stream(&config)
            .await
            .map_err(|e| cap_refused(bucket, max_bytes, e))?;
    }
    js.get_object_store(bucket).await.map_err(js_err)
}

/// JetStream reserves a capped bucket's bytes on its store when the bucket is
/// made or its cap changes, so a cap larger than the store is refused.
fn cap_refused(bucket: &str, max_bytes: u64, e: impl std::fmt::Display) -> NodeError {
    NodeError::CapRefused {
        bucket: bucket.to_owned(),
        max_bytes,
        reason: e.to_string(),
    }
}

/// How many more bytes an Object Store bucket takes before its cap; `None`
/// when it has no cap.
pub async fn object_store_room(
    js: &jetstream::Context,
    bucket: &str,
) -> Result<Option<u64>, NodeError> {
    let mut found = js
        .get_stream(object_stream_name(bucket))
        .await
        .map_err(js_err)?;
    let info = found.info().await.map_err(js_err)?;
    Ok(u64::try_from(info.config.max_bytes)
        .ok()
        .filter(|cap| *cap > 0)
        .map(|cap| cap.saturating_sub(info.state.bytes)))
}

/// Publishes an event and waits for JetStream to store it. `dedupe_id`
/// (a `Nats-Msg-Id`) makes a retried publish land once.
pub async fn publish_event<E: Event>(
    js: &jetstream::Context,
    event: &E,
    dedupe_id: &str,
) -> Result<(), async_nats::Error> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", dedupe_id);
    let payload = serde_json::to_vec(event)?;
    js.publish_with_headers(E::SUBJECT, headers, payload.into())
        .await?
        .await?;
    Ok(())
}

/// Makes sure a job stream exists with work-queue retention: each job is
/// held until one consumer acknowledges it, then removed.
pub async fn ensure_work_queue(
    js: &jetstream::Context,
    s: Stream,
) -> Result<stream::Stream, NodeError> {
    ensure_with_retention(js, s, stream::RetentionPolicy::WorkQueue).await
}

/// Queues a job and waits for JetStream to store it; `dedupe_id` (its
/// `Nats-Msg-Id`) makes a retried enqueue land once within the stream's
/// two-minute duplicate window.
///
/// The job's work queue is created on first use when it does not exist yet,
/// so a publisher never depends on the consuming node having started first.
pub async fn enqueue_job<J: bazaar_subjects::Job>(
    js: &jetstream::Context,
    job: &J,
    dedupe_id: &str,
) -> Result<(), async_nats::Error> {
    let payload = bytes::Bytes::from(serde_json::to_vec(job)?);
    let publish = || async {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", dedupe_id);
        js.publish_with_headers(J::SUBJECT, headers, payload.clone())
            .await?
            .await
    };
    match publish().await {
        Err(e) if e.kind() == jetstream::context::PublishErrorKind::StreamNotFound => {
            ensure_work_queue(js, J::STREAM).await?;
            publish().await?;
        }
        other => {
            other?;
        }
    }
    Ok(())
}

/// A durable pull consumer that every copy of a node shares: the first copy
/// creates it, the others find it, and each message goes to one of them.
/// Messages are acknowledged explicitly, so one a copy dies holding comes
/// back after `ack_wait`.
#[derive(Debug, Clone)]
pub struct SharedConsumer<'a> {
    pub name: &'a str,
    pub filter_subject: &'a str,
    pub description: Option<&'a str>,
    pub ack_wait: Duration,
    /// 0: no limit.
    pub max_deliver: i64,
}

impl<'a> SharedConsumer<'a> {
    /// Thirty seconds to acknowledge, redelivered without limit.
    pub fn new(name: &'a str, filter_subject: &'a str) -> Self {
        Self {
            name,
            filter_subject,
            description: None,
            ack_wait: Duration::from_secs(30),
            max_deliver: 0,
        }
    }

    pub fn description(mut self, description: &'a str) -> Self {
        self.description = Some(description);
        self
    }

    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    pub fn max_deliver(mut self, max_deliver: i64) -> Self {
        self.max_deliver = max_deliver;
        self
    }

    /// Creates the consumer on `stream`, or finds the one already there.
    pub async fn open(
        self,
        stream: &stream::Stream,
    ) -> Result<jetstream::consumer::PullConsumer, NodeError> {
        let config = jetstream::consumer::pull::Config {
            durable_name: Some(self.name.into()),
            description: self.description.map(str::to_owned),
            filter_subject: self.filter_subject.into(),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            ..Default::default()
        };
        let mut consumer = settled(|| stream.get_or_create_consumer(self.name, config.clone()))
            .await
            .map_err(|e| NodeError::JetStream(format!("{}: {e}", self.name)))?;
        if consumer.cached_info().config.filter_subject != config.filter_subject {
            // The subjects a listener follows changed in a newer version: the
            // consumer keeps its place in the stream and follows the new ones.
            consumer = settled(|| stream.update_consumer(config.clone()))
                .await
                .map_err(|e| NodeError::JetStream(format!("{}: {e}", self.name)))?;
        }
        crate::metrics::watch_consumer(&stream.cached_info().config.name, &consumer);
        Ok(consumer)
    }
}
