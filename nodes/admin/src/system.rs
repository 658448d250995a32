//! The system report: every node copy's service info and stats (the NATS
//! service API, `$SRV.INFO` and `$SRV.STATS`, answered by every copy) and
//! JetStream's streams and durable consumers, gathered when an admin asks.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream;
use bazaar_subjects::system::{
    ConsumerReport, EndpointFigures, InstanceReport, NodeReport, RecentError, SRV_INFO, SRV_STATS,
    StreamReport, SubjectReport, SystemReport,
};
use futures::StreamExt;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long to wait for the copies' answers in all.
const GATHER_FOR: Duration = Duration::from_millis(1500);
/// Once answers came, how long a quiet spell means every copy answered.
const QUIET: Duration = Duration::from_millis(250);
/// How many recent errors the report keeps.
const RECENT_ERRORS: usize = 20;

/// 500: the bus did not let the report be gathered.
#[derive(Debug, thiserror::Error)]
#[error("cannot gather the system report: {0}")]
pub struct InspectError(String);

fn inspect_err(e: impl std::fmt::Display) -> InspectError {
    InspectError(e.to_string())
}

/// Gathers system reports over the admin node's connection.
#[derive(Clone)]
pub struct Inspector {
    nats: async_nats::Client,
    js: jetstream::Context,
}

#[derive(Deserialize)]
struct InfoReply {
    name: String,
    id: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct StatsReply {
    name: String,
    id: String,
    version: String,
    started: String,
    #[serde(default)]
    endpoints: Vec<EndpointStats>,
}

#[derive(Deserialize)]
struct EndpointStats {
    subject: String,
    #[serde(default)]
    data: Option<EndpointFigures>,
}

impl Inspector {
    pub fn new(nats: async_nats::Client, js: jetstream::Context) -> Self {
        Self { nats, js }
    }

    /// Every copy's answer to one service API request to all services.
    async fn ask_all<T: serde::de::DeserializeOwned>(
        &self,
        subject: &'static str,
    ) -> Result<Vec<T>, InspectError> {
        let inbox = self.nats.new_inbox();
        let mut replies = self
            .nats
            .subscribe(inbox.clone())
            .await
            .map_err(inspect_err)?;
        self.nats
            .publish_with_reply(subject, inbox, "".into())
            .await
            .map_err(inspect_err)?;
        let deadline = tokio::time::Instant::now() + GATHER_FOR;
        let mut out = Vec::new();
        loop {
            // Wait the whole time for a first answer, then only for a quiet spell.
            let until = if out.is_empty() {
                deadline
            } else {
                deadline.min(tokio::time::Instant::now() + QUIET)
            };
            match tokio::time::timeout_at(until, replies.next()).await {
                Ok(Some(msg)) => match serde_json::from_slice::<T>(&msg.payload) {
                    Ok(reply) => out.push(reply),
                    Err(e) => tracing::debug!(error = %e, "a service answer not ours"),
                },
                Ok(None) | Err(_) => break,
            }
        }
        Ok(out)
    }

    pub async fn report(&self) -> Result<SystemReport, InspectError> {
        let (infos, stats, streams) = tokio::join!(
            self.ask_all::<InfoReply>(SRV_INFO),
            self.ask_all::<StatsReply>(SRV_STATS),
            self.streams()
        );
        let (infos, stats, streams) = (infos?, stats?, streams?);
        let now = OffsetDateTime::now_utc();
        let descriptions: BTreeMap<(String, String), String> = infos
            .into_iter()
            .map(|i| ((i.name, i.id), i.description))
            .collect();

        let mut nodes: BTreeMap<String, NodeReport> = BTreeMap::new();
        let mut subjects: BTreeMap<String, SubjectReport> = BTreeMap::new();
        let mut recent_errors = Vec::new();
        for copy in stats {
            let uptime_secs = OffsetDateTime::parse(&copy.started, &Rfc3339)
                .map(|started| (now - started).whole_seconds().max(0) as u64)
                .unwrap_or_default();
            let mut requests = 0;
            let mut errors = 0;
            for endpoint in copy.endpoints {
                let figures = endpoint.data.unwrap_or_default();
                requests += figures.requests;
                errors += figures.errors;
                let s = subjects
                    .entry(endpoint.subject.clone())
                    .or_insert_with(|| SubjectReport {
                        subject: endpoint.subject.clone(),
                        domain: copy.name.clone(),
                        requests: 0,
                        errors: 0,
                        refused: 0,
                        requests_per_sec: 0.0,
                        error_rate: 0.0,
                        mean_ms: 0.0,
                    });
                // The mean over every copy, weighted by their requests.
                let busy_ms = s.mean_ms * s.requests as f64 + figures.busy_micros as f64 / 1000.0;
                s.requests += figures.requests;
                s.errors += figures.errors;
                s.refused += figures.refused;
                s.requests_per_sec += figures.requests as f64 / uptime_secs.max(1) as f64;
                s.mean_ms = if s.requests == 0 {
                    0.0
                } else {
                    busy_ms / s.requests as f64
                };
                s.error_rate = if s.requests == 0 {
                    0.0
                } else {
                    s.errors as f64 / s.requests as f64
                };
                recent_errors.extend(figures.last_error);
            }
            let description = descriptions
                .get(&(copy.name.clone(), copy.id.clone()))
                .cloned()
                .unwrap_or_default();
            let node = nodes
                .entry(copy.name.clone())
                .or_insert_with(|| NodeReport {
                    domain: copy.name.clone(),
                    description,
                    copies: 0,
                    instances: Vec::new(),
                });
            node.copies += 1;
            node.instances.push(InstanceReport {
                id: copy.id,
                version: copy.version,
                started: copy.started,
                uptime_secs,
                requests,
                errors,
            });
        }
        recent_errors.sort_by(|a: &RecentError, b| b.at.cmp(&a.at));
        recent_errors.truncate(RECENT_ERRORS);
        Ok(SystemReport {
            at: now.format(&Rfc3339).unwrap_or_default(),
            nodes: nodes.into_values().collect(),
            subjects: subjects.into_values().collect(),
            recent_errors,
            streams,
        })
    }

    /// Every stream with its size and its durable consumers' lag.
    async fn streams(&self) -> Result<Vec<StreamReport>, InspectError> {
        let mut infos = Vec::new();
        let mut list = self.js.streams();
        while let Some(info) = list.next().await {
            infos.push(info.map_err(inspect_err)?);
        }
        let mut out = Vec::new();
        for info in infos {
            let name = info.config.name.clone();
            let stream = self.js.get_stream(&name).await.map_err(inspect_err)?;
            let mut consumers = Vec::new();
            let mut list = stream.consumers();
            while let Some(consumer) = list.next().await {
                let consumer = consumer.map_err(inspect_err)?;
                if consumer.config.durable_name.is_none() {
                    continue;
                }
                consumers.push(ConsumerReport {
                    name: consumer.name,
                    pending: consumer.num_pending,
                    ack_pending: consumer.num_ack_pending as u64,
                });
            }
            consumers.sort_by(|a, b| a.name.cmp(&b.name));
            out.push(StreamReport {
                name,
                messages: info.state.messages,
                bytes: info.state.bytes,
                consumers,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
