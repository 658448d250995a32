//! Central logs: every process publishes its log records on the bus.
//!
//! [`layer`] is a `tracing` layer that turns each event at or above the
//! publish level into a [`LogRecord`] (time, level, node, instance, target,
//! message, fields, request id, span names) and puts it on a bounded queue
//! without waiting: when the queue is full the record is dropped and counted
//! (`bazaar_log_records_dropped_total`), and a warning record says how many
//! went. A background task drains the queue and publishes each record on
//! `logs.<identity>.<level>` with the connection [`attach`]ed for the node
//! that recorded it (one process may run many nodes, each with its own
//! identity on the bus), else with the process's first one.
//!
//! The node is the `domain` field of the innermost span that has one (the
//! runtime's `request` span, the edge's `http` span, the one-box `node`
//! span), else the node crate the record came from (`bazaar_mail::…` is
//! `mail`: work a node spawned outside any request), else the process's
//! identity. The request id is the innermost span's `request_id`. Of the
//! spans' other fields only `method`, `path` (never the query) and
//! `subject` are copied, and a field whose name says it holds a secret
//! (password, token, secret, cookie, authorization, card) is replaced by
//! `[redacted]`.
//!
//! No loops: records of this module and of `async_nats` (whose own events
//! happen while a record is published) are never published, and nothing
//! here records an event while publishing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bazaar_subjects::logs::{Level, LogRecord, record_subject};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Records waiting to be published; beyond this they are dropped.
pub const QUEUE_CAPACITY: usize = 8192;

/// How often dropped records are reported (when some were).
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);

/// The counter of records dropped because the queue was full.
pub const DROPPED_COUNTER: &str = crate::metrics::LOG_RECORDS_DROPPED;

/// Field names whose values are never published.
const SECRET_FIELDS: [&str; 6] = [
    "password",
    "token",
    "secret",
    "cookie",
    "authorization",
    "card",
];

struct Hub {
    tx: mpsc::Sender<LogRecord>,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<LogRecord>>>,
    /// The connection each identity publishes with (the latest attached).
    clients: Mutex<HashMap<String, async_nats::Client>>,
    /// The process's own identity: the first attached.
    fallback: OnceLock<String>,
    drain: Mutex<Option<tokio::task::JoinHandle<()>>>,
    instance: String,
    dropped: AtomicU64,
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        Hub {
            tx,
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
            clients: Mutex::default(),
            fallback: OnceLock::new(),
            drain: Mutex::default(),
            instance: instance_id(),
            dropped: AtomicU64::new(0),
        }
    })
}

/// `host-pid`: which process recorded it.
fn instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Publishes the records of `identity` (a domain's name, `edge` or
/// `operator`) with `client`, which must be connected as that identity, and
/// starts the publishing task when it is not running. The first identity
/// attached is the process's own: its records outside any node's span go
/// with it. Call from within the Tokio runtime.
pub fn attach(identity: &str, client: async_nats::Client) {
    let hub = hub();
    let _ = hub.fallback.set(identity.to_owned());
    if let Ok(mut clients) = hub.clients.lock() {
        clients.insert(identity.to_owned(), client);
    }
    let Ok(mut drain) = hub.drain.lock() else {
        return;
    };
    if drain.as_ref().is_none_or(|task| task.is_finished())
        && let Ok(runtime) = tokio::runtime::Handle::try_current()
    {
        *drain = Some(runtime.spawn(publish_loop(hub.rx.clone())));
    }
}

/// How many records this process dropped because the queue was full.
pub fn dropped() -> u64 {
    hub().dropped.load(Ordering::Relaxed)
}

async fn publish_loop(rx: Arc<tokio::sync::Mutex<mpsc::Receiver<LogRecord>>>) {
    let mut rx = rx.lock().await;
    let mut batch = Vec::with_capacity(256);
    let mut report = tokio::time::interval(DROP_REPORT_EVERY);
    let mut reported = dropped();
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    return;
                }
                for record in batch.drain(..) {
                    publish(record).await;
                }
            }
            _ = report.tick() => {
                let now = dropped();
                if now > reported {
                    let count = now - reported;
                    reported = now;
                    publish(dropped_record(count)).await;
                }
            }
        }
    }
}

/// The warning that `count` records were dropped.
fn dropped_record(count: u64) -> LogRecord {
    LogRecord {
        time: now(),
        level: Level::Warn,
        node: String::new(),
        instance: hub().instance.clone(),
        target: module_path!().to_owned(),
        message: "log records dropped: the publishing queue was full".to_owned(),
        fields: BTreeMap::from([("dropped".to_owned(), count.into())]),
        request_id: None,
        spans: Vec::new(),
    }
}

async fn publish(mut record: LogRecord) {
    let hub = hub();
    let Some(fallback) = hub.fallback.get() else {
        return;
    };
    if record.node.is_empty() {
        record.node = fallback.clone();
    }
    let found = hub.clients.lock().ok().and_then(|clients| {
        clients
            .get_key_value(&record.node)
            .or_else(|| clients.get_key_value(fallback))
            .map(|(identity, client)| (identity.clone(), client.clone()))
    });
    let Some((identity, client)) = found else {
        return;
    };
    let Ok(payload) = serde_json::to_vec(&record) else {
        return;
    };
    // A record that cannot go out is lost; saying so would make another.
    let _ = client
        .publish(record_subject(&identity, record.level), payload.into())
        .await;
}

/// The layer that publishes records at `level` and above. Quiet libraries
/// (the database, the search index) are published from `warn` up; NATS'
/// client and this module never.
pub fn layer<S>(level: LevelFilter) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let quiet = std::cmp::min(level, LevelFilter::WARN);
    let filter = Targets::new()
        .with_default(level)
        .with_target("async_nats", LevelFilter::OFF)
        .with_target(module_path!(), LevelFilter::OFF)
        .with_target("surrealdb", quiet)
        .with_target("surrealdb_core", quiet)
        .with_target("surrealkv", quiet)
        .with_target("tantivy", quiet)
        .with_target("hyper", quiet)
        .with_target("h2", quiet);
    // Make sure the queue exists before the first event.
    let _ = hub();
    PublishLayer.with_filter(filter)
}

struct PublishLayer;

/// The span fields a record takes along: what the request was (an HTTP
/// method and path without its query, a NATS subject). No other span field
/// is copied.
const SPAN_FIELDS: [&str; 3] = ["method", "path", "subject"];

/// What a span tells its records.
#[derive(Default)]
struct SpanTags {
    domain: Option<String>,
    request_id: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Visit for SpanTags {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "domain" => self.domain = Some(value.to_owned()),
            "request_id" if !value.is_empty() => self.request_id = Some(value.to_owned()),
            name => {
                if let Some(kept) = SPAN_FIELDS.iter().find(|f| **f == name) {
                    self.fields.push((kept, value.to_owned()));
                }
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "domain" | "request_id") || SPAN_FIELDS.contains(&field.name()) {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// The node a target belongs to when no span says: the domain of a node
/// crate (`bazaar_mail::…` → `mail`), `edge` for the edge's.
fn node_of_target(target: &str) -> Option<String> {
    let krate = target.split("::").next()?.strip_prefix("bazaar_")?;
    if krate == "edge" {
        return Some("edge".to_owned());
    }
    krate
        .parse::<bazaar_subjects::Domain>()
        .ok()
        .map(|d| d.name().to_owned())
}

impl<S> Layer<S> for PublishLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut tags = SpanTags::default();
        attrs.record(&mut tags);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(tags);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(tags) = ext.get_mut::<SpanTags>() {
                values.record(tags);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut node = None;
        let mut request_id = None;
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                spans.push(span.name().to_owned());
                let ext = span.extensions();
                if let Some(tags) = ext.get::<SpanTags>() {
                    if node.is_none() {
                        node.clone_from(&tags.domain);
                    }
                    if request_id.is_none() {
                        request_id.clone_from(&tags.request_id);
                    }
                    for (name, value) in &tags.fields {
                        fields
                            .values
                            .entry((*name).to_owned())
                            .or_insert_with(|| value.clone().into());
                    }
                }
            }
        }
        spans.reverse();
        let target = fields
            .log_target
            .take()
            .unwrap_or_else(|| meta.target().to_owned());
        let node = node.or_else(|| node_of_target(&target));
        let record = LogRecord {
            time: now(),
            level: level(meta.level()),
            node: node.unwrap_or_default(),
            instance: hub().instance.clone(),
            target,
            message: fields.message.unwrap_or_default(),
            fields: fields.values,
            request_id,
            spans,
        };
        if hub().tx.try_send(record).is_err() {
            hub().dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(DROPPED_COUNTER).increment(1);
        }
    }
}

fn level(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::INFO => Level::Info,
        tracing::Level::DEBUG => Level::Debug,
        _ => Level::Trace,
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An event's message and fields, secrets redacted.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    /// The real target of a record of the `log` crate.
    log_target: Option<String>,
    values: BTreeMap<String, serde_json::Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        let name = field.name();
        // Fields `tracing-log` adds for records of the `log` crate.
        if name == "log.target" {
            self.log_target = value.as_str().map(str::to_owned);
        }
        if name.starts_with("log.") {
            return;
        }
        let lower = name.to_ascii_lowercase();
        let value = if SECRET_FIELDS.iter().any(|s| lower.contains(s)) {
            serde_json::Value::from("[redacted]")
        } else {
            value
        };
        self.values.insert(name.to_owned(), value);
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        } else {
            self.put(field, format!("{value:?}").into());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            self.put(field, value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// The queue is the process's one: tests that fill or drain it take turns.
    static QUEUE_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_full_queue_drops_records_without_waiting_and_counts_them() {
        let _turn = QUEUE_TURN.lock().unwrap_or_else(|e| e.into_inner());
        let subscriber = tracing_subscriber::registry().with(layer(LevelFilter::INFO));
        let before = dropped();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..QUEUE_CAPACITY + 10 {
                tracing::info!(target: "story", i, "busy");
            }
        });
        assert!(dropped() >= before + 10, "{} dropped", dropped() - before);
        let warning = dropped_record(10);
        assert_eq!(warning.level, Level::Warn);
        assert_eq!(warning.fields["dropped"], 10);
        // Empty it again for the next test.
        let mut rx = hub().rx.try_lock().unwrap();
        while rx.try_recv().is_ok() {}
    }

    #[test]
    fn a_record_carries_its_span_tags_and_no_secret() {
        let _turn = QUEUE_TURN.lock().unwrap_or_else(|e| e.into_inner());
        let subscriber = tracing_subscriber::registry().with(layer(LevelFilter::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: "story", "request", domain = "auth", request_id = "r-1");
            let _in = span.enter();
            tracing::info!(target: "story", password = "hunter2", attempts = 3u64, "signed in");
            tracing::debug!(target: "story", "not published at info");
        });
        let mut rx = hub().rx.try_lock().unwrap();
        let mut found = None;
        while let Ok(r) = rx.try_recv() {
            assert_ne!(r.message, "not published at info");
            if r.message == "signed in" {
                found = Some(r);
            }
        }
        let r = found.unwrap();
        assert_eq!(r.node, "auth");
        assert_eq!(r.request_id.as_deref(), Some("r-1"));
        assert_eq!(r.spans, vec!["request".to_owned()]);
        assert_eq!(r.fields["password"], "[redacted]");
        assert_eq!(r.fields["attempts"], 3);
        assert_eq!(r.level, Level::Info);
    }

    #[test]
    fn work_outside_a_span_belongs_to_its_crate() {
        assert_eq!(
            node_of_target("bazaar_mail::queue").as_deref(),
            Some("mail")
        );
        assert_eq!(node_of_target("bazaar_edge::api").as_deref(), Some("edge"));
        assert_eq!(node_of_target("bazaar_runtime::bus"), None);
        assert_eq!(node_of_target("tower_http::trace"), None);
    }
}
