//! Prometheus metrics: one exporter per process, whatever runs in it.
//!
//! Everything records through the `metrics` facade; [`install`] puts the
//! Prometheus recorder behind it once per process (a one-box process runs
//! many nodes and an edge, and they share it), either with an HTTP listener
//! of its own (`BAZAAR_METRICS_ADDR`) or for the edge to render on
//! `/metrics` (`bazaar dev`). Without a recorder the facade's calls do
//! nothing. The names are the constants here; `docs/metrics.md` says what
//! each one counts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// HTTP requests an edge answered, by route template, method and status.
pub const HTTP_REQUESTS: &str = "bazaar_http_requests_total";
/// How long an edge took to answer, by route template and method.
pub const HTTP_DURATION: &str = "bazaar_http_request_duration_seconds";
/// NATS requests, by `side` (`served` by a node here, `made` from here),
/// subject and status (200, or the error's HTTP-like status).
pub const NATS_REQUESTS: &str = "bazaar_nats_requests_total";
/// NATS requests that failed on the server side (status 500 and up: a
/// node's internal error, no node answering, no answer in time).
pub const NATS_ERRORS: &str = "bazaar_nats_request_errors_total";
/// How long a NATS request took, by side and subject.
pub const NATS_DURATION: &str = "bazaar_nats_request_duration_seconds";
/// Messages a durable JetStream consumer has not yet been given.
pub const CONSUMER_PENDING: &str = "bazaar_jetstream_consumer_pending";
/// Messages a durable consumer was given and has not acknowledged.
pub const CONSUMER_ACK_PENDING: &str = "bazaar_jetstream_consumer_ack_pending";
/// Emails waiting in the mail work queue.
pub const MAIL_QUEUE_DEPTH: &str = "bazaar_mail_queue_depth";
/// Log records the log publisher dropped (its buffer was full or NATS away).
pub const LOG_RECORDS_DROPPED: &str = "bazaar_log_records_dropped_total";
/// Always 1, labelled with the running version.
pub const BUILD_INFO: &str = "bazaar_build_info";
/// The prefix of the process metrics (`bazaar_process_resident_memory_bytes`,
/// CPU seconds, open files, threads, start time).
pub const PROCESS_PREFIX: &str = "bazaar_";

/// How often the gauges read from elsewhere (consumer lag, process memory)
/// are read again.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Latency buckets in seconds, from a cached read to a slow checkout.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot serve metrics on {addr}: {source} (set BAZAAR_METRICS_ADDR to a free address)")]
    Listen {
        addr: SocketAddr,
        source: metrics_exporter_prometheus::BuildError,
    },
    #[error("cannot install the metrics recorder: {0}")]
    Install(metrics_exporter_prometheus::BuildError),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, when [`install`] ran.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE.get().cloned()
}

/// Installs the process's Prometheus recorder (once; later calls return the
/// same handle) and starts sampling the process and the watched consumers.
/// With `listen`, Prometheus' text format is served there on any path; the
/// handle renders it for whoever serves it otherwise. Needs a Tokio runtime.
pub fn install(listen: Option<SocketAddr>) -> Result<PrometheusHandle, MetricsError> {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(MetricsError::Install)?;
    let recorder = match listen {
        Some(addr) => {
            let (recorder, exporter) = builder
                .with_http_listener(addr)
                .build()
                .map_err(|source| MetricsError::Listen { addr, source })?;
            tokio::spawn(async move {
                if exporter.await.is_err() {
                    tracing::error!(%addr, "the metrics listener stopped");
                }
            });
            tracing::info!(%addr, "serving metrics");
            recorder
        }
        None => {
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SAMPLE_EVERY).await;
                    handle.run_upkeep();
                }
            });
            recorder
        }
    };
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| MetricsError::Install(metrics_exporter_prometheus::BuildError::from(e)))?;
    describe();
    tokio::spawn(sample_forever());
    let _ = HANDLE.set(handle.clone());
    Ok(handle)
}

/// Names every metric with its help text, and registers the ones that must
/// show before anything happened (a counter at 0 says "none yet").
fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered by the edge");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "time the edge took to answer");
    describe_counter!(NATS_REQUESTS, "NATS requests served or made");
    describe_counter!(
        NATS_ERRORS,
        "NATS requests that failed on the server side (status 500 and up)"
    );
    describe_histogram!(NATS_DURATION, Unit::Seconds, "time a NATS request took");
    describe_gauge!(
        CONSUMER_PENDING,
        "messages a durable JetStream consumer has not been given yet"
    );
    describe_gauge!(
        CONSUMER_ACK_PENDING,
        "messages a durable JetStream consumer holds unacknowledged"
    );
    describe_gauge!(MAIL_QUEUE_DEPTH, "emails waiting in the mail work queue");
    describe_counter!(
        LOG_RECORDS_DROPPED,
        "log records the log publisher could not send"
    );
    describe_gauge!(BUILD_INFO, "1, labelled with the running version");
    counter!(LOG_RECORDS_DROPPED).increment(0);
    gauge!(BUILD_INFO, "version" => crate::VERSION).set(1.0);
}

/// A durable consumer whose lag is sampled, and the stream it reads.
struct Watched {
    stream: String,
    consumer: PullConsumer,
}

static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());

/// Samples `consumer`'s lag every [`SAMPLE_EVERY`] from now on (once per
/// stream and consumer name, however many copies open it). Does nothing
/// without a recorder.
pub fn watch_consumer(stream: &str, consumer: &PullConsumer) {
    if HANDLE.get().is_none() {
        return;
    }
    let name = consumer.cached_info().name.clone();
    let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    if watched
        .iter()
        .any(|w| w.stream == stream && w.consumer.cached_info().name == name)
    {
        return;
    }
    watched.push(Watched {
        stream: stream.to_owned(),
        consumer: consumer.clone(),
    });
}

/// Work queues whose depth (messages held) is sampled into a gauge.
static DEPTHS: Mutex<Vec<(&'static str, async_nats::jetstream::stream::Stream)>> =
    Mutex::new(Vec::new());

/// Samples how many messages `stream` holds into `gauge` every
/// [`SAMPLE_EVERY`] from now on (a work queue holds a job until it is done).
/// Does nothing without a recorder.
pub fn watch_depth(gauge: &'static str, stream: &async_nats::jetstream::stream::Stream) {
    if HANDLE.get().is_none() {
        return;
    }
    let mut depths = DEPTHS.lock().unwrap_or_else(|e| e.into_inner());
    if !depths.iter().any(|(g, _)| *g == gauge) {
        depths.push((gauge, stream.clone()));
    }
}

async fn sample_forever() {
    let process = metrics_process::Collector::new(PROCESS_PREFIX);
    process.describe();
    loop {
        process.collect();
        let consumers: Vec<(String, PullConsumer)> = WATCHED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|w| (w.stream.clone(), w.consumer.clone()))
            .collect();
        for (stream, consumer) in consumers {
            match consumer.get_info().await {
                Ok(info) => {
                    let labels = [("stream", stream), ("consumer", info.name.clone())];
                    gauge!(CONSUMER_PENDING, &labels).set(info.num_pending as f64);
                    gauge!(CONSUMER_ACK_PENDING, &labels).set(info.num_ack_pending as f64);
                }
                Err(e) => tracing::debug!(%stream, error = %e, "consumer lag not read"),
            }
        }
        let depths: Vec<_> = DEPTHS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (name, stream) in depths {
            match stream.get_info().await {
                Ok(info) => gauge!(name).set(info.state.messages as f64),
                Err(e) => tracing::debug!(gauge = name, error = %e, "queue depth not read"),
            }
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// Which way a NATS request went, from this process' point of view.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    /// A node in this process answered it.
    Served,
    /// This process asked.
    Made,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Served => "served",
            Side::Made => "made",
        }
    }
}

/// Records one NATS request on `subject` that ended with `status` (200 for
/// a reply) after it started at `started`.
pub fn nats_request(side: Side, subject: &'static str, status: u16, started: Instant) {
    let side = side.label();
    counter!(NATS_REQUESTS, "side" => side, "subject" => subject, "status" => status.to_string())
        .increment(1);
    if status >= 500 {
        counter!(NATS_ERRORS, "side" => side, "subject" => subject).increment(1);
    }
    metrics::histogram!(NATS_DURATION, "side" => side, "subject" => subject)
        .record(started.elapsed().as_secs_f64());
}

/// The counter and histogram of one route, method and status.
type HttpHandles = (metrics::Counter, metrics::Histogram);
/// Route → (method, status) → handles.
type HttpHandlesByRoute = HashMap<String, HashMap<(&'static str, u16), HttpHandles>>;

/// Handles made once per route, method and status: building the labelled
/// keys and finding them in the registry on every request was a visible
/// part of what the edge spends on a page it keeps.
static HTTP_HANDLES: LazyLock<RwLock<HttpHandlesByRoute>> = LazyLock::new(RwLock::default);

/// The methods whose requests keep handles (any other is labelled as sent,
/// and not kept: a client may send any token as a method).
fn known_method(method: &str) -> Option<&'static str> {
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .into_iter()
        .find(|m| *m == method)
}

fn http_handles(route: &str, method: &str, status: u16) -> HttpHandles {
    (
        counter!(HTTP_REQUESTS, "route" => route.to_owned(), "method" => method.to_owned(), "status" => status.to_string()),
        metrics::histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method.to_owned()),
    )
}

/// Records one HTTP request answered on `route` (the route's template,
/// never the URL as asked).
pub fn http_request(route: &str, method: &str, status: u16, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let record = |(requests, duration): &HttpHandles| {
        requests.increment(1);
        duration.record(seconds);
    };
    // Without the recorder the facade hands out handles that do nothing;
    // none is kept before it is installed.
    let (Some(method), Some(_)) = (known_method(method), HANDLE.get()) else {
        return record(&http_handles(route, method, status));
    };
    let key = (method, status);
    if let Some(handles) = HTTP_HANDLES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
        .and_then(|by| by.get(&key))
    {
        return record(handles);
    }
    let handles = http_handles(route, method, status);
    record(&handles);
    HTTP_HANDLES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(route.to_owned())
        .or_default()
        .insert(key, handles);
}
