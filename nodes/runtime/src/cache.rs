//! A read-through cache in JetStream KV that never goes back in time.
//!
//! Each value is stored with the revision of the data it was read from (a
//! counter bumped in the same database transaction as every change). Writers
//! put the new value after committing; readers fill a missing key. Both use
//! compare-and-set on the KV entry and keep whichever revision is higher, so
//! a slow reader can never overwrite a fresh value with a stale one, and every
//! copy of every node sees the same cache.

use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Serialize, Deserialize)]
struct Cached<T> {
    revision: u64,
    value: T,
}

#[derive(Clone)]
pub struct RevisionCache {
    kv: kv::Store,
}

impl RevisionCache {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    /// The cached value, if any (a cache failure reads as a miss).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        match self.kv.get(key).await {
            Ok(Some(bytes)) => serde_json::from_slice::<Cached<T>>(&bytes)
                .ok()
                .map(|c| c.value),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(key, error = %e, "cache read failed");
                None
            }
        }
    }

    /// The cached value with the revision it was read at.
    pub async fn get_with_revision<T: DeserializeOwned>(&self, key: &str) -> Option<(u64, T)> {
        match self.kv.get(key).await {
            Ok(Some(bytes)) => serde_json::from_slice::<Cached<T>>(&bytes)
                .ok()
                .map(|c| (c.revision, c.value)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(key, error = %e, "cache read failed");
                None
            }
        }
    }

    /// Stores `value` unless the cache already holds a newer revision.
    pub async fn put<T: Serialize>(&self, key: &str, revision: u64, value: &T) {
        let Ok(bytes) = serde_json::to_vec(&Cached { revision, value }) else {
            return;
        };
        for _ in 0..8 {
            let outcome = match self.kv.entry(key).await {
                Ok(Some(entry)) if entry.operation == kv::Operation::Put => {
                    let held =
                        serde_json::from_slice::<Cached<serde::de::IgnoredAny>>(&entry.value)
                            .map(|c| c.revision)
                            .unwrap_or(0);
                    if held >= revision {
                        return;
                    }
                    self.kv
                        .update(key, bytes.clone().into(), entry.revision)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                Ok(_) => self
                    .kv
                    .create(key, bytes.clone().into())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => return,
                // Someone else wrote in between: look again.
                Err(e) => tracing::debug!(key, error = %e, "cache write raced, retrying"),
            }
        }
        tracing::warn!(key, "cache write gave up after repeated races");
    }
}
