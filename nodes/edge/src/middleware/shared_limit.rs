//! The general per-address limit, decided in each edge's memory so a
//! request never waits on a round trip, and shared between edges.
//!
//! Each edge keeps a GCRA limiter per key (`governor`: the limit as a burst
//! of `max` that refills evenly over the minute). The hits it lets through
//! are published every [`SHARE_EVERY`] on [`EDGE_HITS`]; every other edge
//! takes them from the same key's allowance, so all edges together admit
//! one limit. The overshoot is what the other edges admit before their hits
//! arrive: at most (edges − 1) × the hits one edge admits for a key in
//! [`SHARE_EVERY`] plus the NATS latency. The strict limits (sign-in, codes)
//! never use this: they keep exact shared counters (`ratelimit.rs`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bazaar_subjects::bus::EDGE_HITS;
use futures::StreamExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::{Deserialize, Serialize};

/// How often an edge tells the others what it let through.
pub const SHARE_EVERY: Duration = Duration::from_millis(250);

/// How often keys idle for a whole refill are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// One edge's hits since its last report.
#[derive(Debug, Serialize, Deserialize)]
struct Hits {
    /// The reporting edge (it skips its own reports).
    edge: String,
    hits: Vec<(String, u32)>,
}

pub struct SharedLimiter {
    limiter: DefaultKeyedRateLimiter<Arc<str>>,
    clock: DefaultClock,
    /// Hits let through here and not reported yet.
    unreported: Mutex<HashMap<Arc<str>, u32>>,
    /// The keys of client addresses seen lately: making one hashes the
    /// address, which is not worth doing on every request.
    keys: quick_cache::sync::Cache<IpAddr, Arc<str>>,
    edge: String,
}

/// Client addresses whose keys are kept.
const KEYS: usize = 10_000;

impl SharedLimiter {
    /// `per_minute` hits a minute per key (0 is taken as 1).
    pub fn new(per_minute: u32) -> Self {
        let max = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(max)),
            clock: DefaultClock::default(),
            unreported: Mutex::new(HashMap::new()),
            keys: quick_cache::sync::Cache::new(KEYS),
            edge: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// Counts one hit from `client`, whose key `make_key` makes (once in
    /// a while): `Err(seconds)` to wait when over the limit.
    pub fn hit_client(&self, client: IpAddr, make_key: impl FnOnce() -> String) -> Result<(), u64> {
        let key = match self.keys.get(&client) {
            Some(key) => key,
            None => {
                let key: Arc<str> = make_key().into();
                self.keys.insert(client, key.clone());
                key
            }
        };
        self.hit(&key)
    }

    /// Counts one hit on `key`: `Err(seconds)` to wait when over the limit.
    pub fn hit(&self, key: &Arc<str>) -> Result<(), u64> {
        match self.limiter.check_key(key) {
            Ok(()) => {
                *self
                    .unreported
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(key.clone())
                    .or_default() += 1;
                Ok(())
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
        }
    }

    /// Another edge's hits, taken from this edge's allowance for the key
    /// (as many as it still has).
    fn apply(&self, key: Arc<str>, n: u32) {
        for _ in 0..n {
            if self.limiter.check_key(&key).is_err() {
                break;
            }
        }
    }

    fn take_unreported(&self) -> Vec<(Arc<str>, u32)> {
        std::mem::take(
            &mut *self
                .unreported
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
        .into_iter()
        .collect()
    }

    /// Reports this edge's hits and applies the others' until `shutdown`.
    /// Without NATS the limit holds per edge: reports that cannot be sent
    /// are dropped, never queued.
    pub async fn share(
        self: Arc<Self>,
        nats: async_nats::Client,
        shutdown: bazaar_runtime::Shutdown,
    ) {
        let mut others = match nats.subscribe(EDGE_HITS).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot hear the other edges' hits; the limit holds per edge");
                None
            }
        };
        let mut report = tokio::time::interval(SHARE_EVERY);
        let mut forget = tokio::time::interval(FORGET_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = report.tick() => {
                    let hits = self.take_unreported();
                    if hits.is_empty() {
                        continue;
                    }
                    let hits = hits.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
                    let report = Hits { edge: self.edge.clone(), hits };
                    if let Ok(payload) = serde_json::to_vec(&report)
                        && let Err(e) = nats.publish(EDGE_HITS, payload.into()).await
                    {
                        tracing::debug!(error = %e, "hits not shared");
                    }
                }
                _ = forget.tick() => {
                    self.limiter.retain_recent();
                    self.limiter.shrink_to_fit();
                }
                Some(msg) = async {
                    match others.as_mut() {
                        Some(s) => s.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    let Ok(report) = serde_json::from_slice::<Hits>(&msg.payload) else {
                        continue;
                    };
                    if report.edge == self.edge {
                        continue;
                    }
                    for (key, n) in report.hits {
                        self.apply(key.into(), n);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_and_other_keys_are_untouched() {
        let limiter = SharedLimiter::new(5);
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        for _ in 0..5 {
            assert_eq!(limiter.hit(&a), Ok(()));
        }
        let wait = limiter.hit(&a).unwrap_err();
        assert!((1..=12).contains(&wait), "a hit refills every 12 s: {wait}");
        assert_eq!(limiter.hit(&b), Ok(()));
    }

    #[test]
    fn two_edges_that_hear_each_other_admit_one_limit() {
        let (one, two) = (SharedLimiter::new(10), SharedLimiter::new(10));
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let mut admitted = 0;
        for i in 0..40 {
            let edge = if i % 2 == 0 { &one } else { &two };
            if edge.hit_client(client, || "ip.api.client".into()).is_ok() {
                admitted += 1;
            }
            // Every few hits each edge hears the other's report.
            if i % 4 == 3 {
                for (from, to) in [(&one, &two), (&two, &one)] {
                    for (key, n) in from.take_unreported() {
                        to.apply(key, n);
                    }
                }
            }
        }
        assert!(
            (10..=12).contains(&admitted),
            "one limit of 10, with the overshoot of one report interval: {admitted}"
        );
    }
}
