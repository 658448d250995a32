//! Reading the LOGS stream.
//!
//! JetStream keeps records in arrival order and reads forwards, so a page
//! newest first is read in windows going backwards: from the stream's last
//! sequence (or the page's `before`), an ephemeral consumer without acks
//! starting at the window's first sequence fetches the window, the window's
//! records are matched newest first, and the next window ends where this one
//! began. Windows start at 256 records and double up to 4,096. Filters are
//! matched here, record by record, so a query reads at most
//! `BAZAAR_LOGS_SCAN_LIMIT` records (20,000 by default) and then answers
//! with what it found and a `next_before` to go on from: a rare match far
//! back may take several pages. A `since` bound ends the scan at the first
//! older record (by the time the stream received it).
//!
//! Following a request reads forwards instead: request ids minted by the
//! edge are UUID v7, which carry the time the request began, so the read
//! starts a few seconds before it (JetStream finds that place by time) and
//! stops two minutes after; it costs the same however old the request is.
//! Another request id (a client's own `x-request-id`) is looked for in the
//! newest records only, within the scan limit.
//!
//! A live tail asks for the records after the last sequence it holds
//! (`after`), oldest first.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use bazaar_runtime::NodeError;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::bus::log_stream_subjects;
use bazaar_subjects::logs::{
    LogPage, LogQuery, LogRecord, MAX_PAGE, MAX_TRAIL, RequestTrail, STREAM, StoredRecord,
};
use futures::StreamExt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::LogsConfig;

const FIRST_WINDOW: u64 = 256;
const MAX_WINDOW: u64 = 4096;
const DEFAULT_PAGE: u32 = 100;
/// How far before a followed request's start the read begins (clocks of
/// different boxes disagree a little).
const FOLLOW_BEFORE: Duration = Duration::from_secs(5);
/// How long after its start a followed request's records are looked for.
const FOLLOW_SPAN: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// 400: a filter that cannot be read.
    #[error("{0}")]
    BadQuery(String),
    /// 500: the stream could not be read.
    #[error("reading the LOGS stream: {0}")]
    Stream(String),
}

impl From<LogsError> for ErrorEnvelope {
    fn from(e: LogsError) -> Self {
        match e {
            LogsError::BadQuery(m) => ErrorEnvelope::bad_request(m),
            other => bazaar_runtime::internal(other),
        }
    }
}

fn stream_err(e: impl std::fmt::Display) -> LogsError {
    LogsError::Stream(e.to_string())
}

/// The LOGS stream and how far a query may read.
pub struct LogStore {
    stream: stream::Stream,
    scan_limit: u64,
}

/// One record as read, with when the stream received it.
struct Read {
    seq: u64,
    received: OffsetDateTime,
    record: LogRecord,
}

impl LogStore {
    /// Makes sure the LOGS stream exists with the configured limits (an
    /// existing one is brought to them) and opens it.
    pub async fn open(js: &jetstream::Context, config: &LogsConfig) -> Result<Self, NodeError> {
        let wanted = stream::Config {
            name: STREAM.to_owned(),
            subjects: log_stream_subjects(),
            max_bytes: i64::try_from(config.logs_max_bytes).unwrap_or(i64::MAX),
            max_age: config.max_age(),
            discard: stream::DiscardPolicy::Old,
            storage: stream::StorageType::File,
            allow_direct: true,
            num_replicas: bazaar_runtime::jetstream::replicas(),
            ..Default::default()
        };
        let refused = |e: &dyn std::fmt::Display| {
            NodeError::Config(format!(
                "the LOGS stream cannot keep BAZAAR_LOGS_MAX_BYTES={} bytes for \
                 BAZAAR_LOGS_MAX_AGE_SECS={} s: {e}",
                config.logs_max_bytes, config.logs_max_age_secs
            ))
        };
        let mut stream =
            bazaar_runtime::jetstream::settled(|| js.get_or_create_stream(wanted.clone()))
                .await
                .map_err(|e| refused(&e))?;
        let current = stream.info().await.map_err(|e| refused(&e))?.config.clone();
        if current.max_bytes != wanted.max_bytes
            || current.max_age != wanted.max_age
            || current.subjects != wanted.subjects
        {
            js.update_stream(wanted).await.map_err(|e| refused(&e))?;
            stream = js.get_stream(STREAM).await.map_err(|e| refused(&e))?;
        }
        Ok(Self {
            stream,
            scan_limit: config.logs_scan_limit.max(1),
        })
    }

    /// A page of records matching `q`: newest first, or oldest first after
    /// `q.after`.
    pub async fn query(&self, q: &LogQuery) -> Result<LogPage, LogsError> {
        let filter = Filter::new(q)?;
        let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
        let (first, last) = self.bounds().await?;
        if let Some(after) = q.after {
            return self.tail(&filter, after, first, last, limit).await;
        }
        let mut page = LogPage {
            records: Vec::new(),
            next_before: None,
            last_seq: last,
            scanned: 0,
        };
        if last == 0 {
            return Ok(page);
        }
        let mut end = q.before.map_or(last, |b| b.saturating_sub(1).min(last));
        let mut window = FIRST_WINDOW;
        while end >= first && end > 0 {
            let start = end.saturating_sub(window - 1).max(first).max(1);
            let mut reads = self.read(start, end, (end - start + 1) as usize).await?;
            reads.reverse();
            for read in reads {
                page.scanned += 1;
                if filter.since.is_some_and(|since| read.received < since) {
                    return Ok(page);
                }
                if filter.matches(&read) {
                    page.records.push(StoredRecord {
                        seq: read.seq,
                        record: read.record,
                    });
                    if page.records.len() == limit {
                        page.next_before = Some(read.seq).filter(|s| *s > first);
                        return Ok(page);
                    }
                }
            }
            if start <= first {
                return Ok(page);
            }
            if page.scanned >= self.scan_limit {
                page.next_before = Some(start);
                return Ok(page);
            }
            end = start - 1;
            window = (window * 2).min(MAX_WINDOW);
        }
        Ok(page)
    }

    /// The records after `after`, oldest first.
    async fn tail(
        &self,
        filter: &Filter,
        after: u64,
        first: u64,
        last: u64,
        limit: usize,
    ) -> Result<LogPage, LogsError> {
        let mut page = LogPage {
            records: Vec::new(),
            next_before: None,
            last_seq: after.min(last),
            scanned: 0,
        };
        let mut start = after.saturating_add(1).max(first);
        while start <= last && page.scanned < self.scan_limit {
            let end = (start + MAX_WINDOW - 1).min(last);
            let reads = self.read(start, end, (end - start + 1) as usize).await?;
            if reads.is_empty() {
                break;
            }
            for read in reads {
                page.scanned += 1;
                page.last_seq = read.seq;
                if filter.matches(&read) {
                    page.records.push(StoredRecord {
                        seq: read.seq,
                        record: read.record,
                    });
                    if page.records.len() == limit {
                        return Ok(page);
                    }
                }
            }
            start = end + 1;
        }
        Ok(page)
    }

    /// Every record of one request, in time order.
    pub async fn follow(&self, request_id: &str) -> Result<RequestTrail, LogsError> {
        let request_id = request_id.trim();
        if request_id.is_empty() || request_id.len() > 200 {
            return Err(LogsError::BadQuery("give a request id".into()));
        }
        let q = LogQuery {
            request_id: Some(request_id.to_owned()),
            ..LogQuery::default()
        };
        let filter = Filter::new(&q)?;
        let (mut records, complete) = match started_at(request_id) {
            Some(began) => self.follow_from(&filter, began).await?,
            None => {
                let mut found = Vec::new();
                let mut before = None;
                let mut scanned = 0;
                loop {
                    let page = self
                        .query(&LogQuery {
                            before,
                            limit: Some(MAX_PAGE),
                            ..q.clone()
                        })
                        .await?;
                    scanned += page.scanned;
                    found.extend(page.records);
                    match page.next_before {
                        Some(b) if scanned < self.scan_limit && found.len() < MAX_TRAIL => {
                            before = Some(b)
                        }
                        Some(_) => break (found, false),
                        None => break (found, true),
                    }
                }
            }
        };
        records.sort_by_key(|r| (parse_time(&r.record.time), r.seq));
        records.truncate(MAX_TRAIL);
        let mut nodes: Vec<String> = Vec::new();
        for r in &records {
            if !nodes.contains(&r.record.node) {
                nodes.push(r.record.node.clone());
            }
        }
        Ok(RequestTrail {
            request_id: request_id.to_owned(),
            records,
            nodes,
            complete,
        })
    }

    /// Reads forwards from shortly before `began` to [`FOLLOW_SPAN`] after.
    async fn follow_from(
        &self,
        filter: &Filter,
        began: OffsetDateTime,
    ) -> Result<(Vec<StoredRecord>, bool), LogsError> {
        let (_, last) = self.bounds().await?;
        let mut found = Vec::new();
        let stop = began + FOLLOW_SPAN;
        let consumer = self
            .consumer(consumer::DeliverPolicy::ByStartTime {
                start_time: began - FOLLOW_BEFORE,
            })
            .await?;
        let mut scanned = 0;
        let outcome = loop {
            let reads = fetch(&consumer, MAX_WINDOW as usize).await?;
            if reads.is_empty() {
                break true;
            }
            for read in reads {
                scanned += 1;
                if read.received > stop {
                    return Ok((found, true));
                }
                let seq = read.seq;
                if filter.matches(&read) {
                    found.push(StoredRecord {
                        seq,
                        record: read.record,
                    });
                }
                if seq >= last {
                    return Ok((found, true));
                }
            }
            if scanned >= self.scan_limit || found.len() >= MAX_TRAIL {
                break false;
            }
        };
        Ok((found, outcome))
    }

    /// The stream's first and last sequence (last 0: empty).
    async fn bounds(&self) -> Result<(u64, u64), LogsError> {
        let info = self.stream.get_info().await.map_err(stream_err)?;
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    async fn consumer(
        &self,
        deliver_policy: consumer::DeliverPolicy,
    ) -> Result<consumer::PullConsumer, LogsError> {
        self.stream
            .create_consumer(consumer::pull::Config {
                deliver_policy,
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(stream_err)
    }

    /// The records from `start` to `end` (at most `max`).
    async fn read(&self, start: u64, end: u64, max: usize) -> Result<Vec<Read>, LogsError> {
        let consumer = self
            .consumer(consumer::DeliverPolicy::ByStartSequence {
                start_sequence: start,
            })
            .await?;
        let mut out = fetch(&consumer, max).await?;
        out.retain(|r| r.seq <= end);
        let name = consumer.cached_info().name.clone();
        // Without acks it costs nothing while it waits to expire; deleting
        // it at once keeps the server tidy.
        let _ = self.stream.delete_consumer(&name).await;
        Ok(out)
    }
}

/// Up to `max` records the consumer has now.
async fn fetch(consumer: &consumer::PullConsumer, max: usize) -> Result<Vec<Read>, LogsError> {
    let mut batch = consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .map_err(stream_err)?;
    let mut out = Vec::new();
    while let Some(msg) = batch.next().await {
        let msg = msg.map_err(stream_err)?;
        let Ok(info) = msg.info() else { continue };
        let (seq, received) = (info.stream_sequence, info.published);
        // A record that is not ours to read (a foreign publisher's junk)
        // is skipped, not an error.
        if let Ok(record) = serde_json::from_slice::<LogRecord>(&msg.payload) {
            out.push(Read {
                seq,
                received,
                record,
            });
        }
    }
    Ok(out)
}

/// When a request began, for the request ids that say (UUID v7).
fn started_at(request_id: &str) -> Option<OffsetDateTime> {
    let id = uuid::Uuid::parse_str(request_id).ok()?;
    if id.get_version() != Some(uuid::Version::SortRand) {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
        .ok()
}

fn parse_time(t: &str) -> OffsetDateTime {
    OffsetDateTime::parse(t, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A query's filters, read once.
struct Filter {
    level: Option<bazaar_subjects::logs::Level>,
    node: Option<String>,
    request_id: Option<String>,
    text: Option<String>,
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
}

impl Filter {
    fn new(q: &LogQuery) -> Result<Self, LogsError> {
        let time = |name: &str, v: &Option<String>| -> Result<Option<OffsetDateTime>, LogsError> {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                        LogsError::BadQuery(format!(
                            "`{name}` must be an RFC 3339 time, such as 2026-12-01T10:00:00Z"
                        ))
                    })
                })
                .transpose()
        };
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(Self {
            level: q.level,
            node: given(&q.node),
            request_id: given(&q.request_id),
            text: given(&q.text).map(|t| t.to_lowercase()),
            since: time("since", &q.since)?,
            until: time("until", &q.until)?,
        })
    }

    fn matches(&self, read: &Read) -> bool {
        let r = &read.record;
        self.level.is_none_or(|l| r.level >= l)
            && self.node.as_deref().is_none_or(|n| r.node == n)
            && self
                .request_id
                .as_deref()
                .is_none_or(|id| r.request_id.as_deref() == Some(id))
            && self.since.is_none_or(|t| read.received >= t)
            && self.until.is_none_or(|t| read.received < t)
            && self.text.as_deref().is_none_or(|t| contains_text(r, t))
    }
}

/// Whether `lowered` (lower case) is in the record's message, target or a
/// field's value.
fn contains_text(r: &LogRecord, lowered: &str) -> bool {
    r.message.to_lowercase().contains(lowered)
        || r.target.to_lowercase().contains(lowered)
        || r.fields.values().any(|v| match v {
            serde_json::Value::String(s) => s.to_lowercase().contains(lowered),
            other => other.to_string().contains(lowered),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v7_request_id_says_when_it_began() {
        let id = uuid::Uuid::now_v7().to_string();
        let began = started_at(&id).unwrap();
        assert!((OffsetDateTime::now_utc() - began).whole_seconds().abs() < 5);
        assert!(started_at(&uuid::Uuid::new_v4().to_string()).is_none());
        assert!(started_at("client-chosen").is_none());
    }

    #[test]
    fn filters_match_text_in_fields_and_refuse_bad_times() {
        let q = LogQuery {
            text: Some("Teapot".into()),
            ..LogQuery::default()
        };
        let record: LogRecord = serde_json::from_value(serde_json::json!({
            "time": "2026-01-01T00:00:00Z", "level": "warn", "node": "edge",
            "instance": "h-1", "target": "t", "message": "m",
            "fields": {"status": "418 teapot"}
        }))
        .unwrap();
        let read = Read {
            seq: 1,
            received: OffsetDateTime::now_utc(),
            record,
        };
        assert!(Filter::new(&q).unwrap().matches(&read));
        let q = LogQuery {
            since: Some("yesterday".into()),
            ..LogQuery::default()
        };
        assert!(matches!(Filter::new(&q), Err(LogsError::BadQuery(_))));
    }
}
