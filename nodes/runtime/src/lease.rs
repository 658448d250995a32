//! A lease in JetStream KV: which copy of a node does a scheduled job.
//!
//! The key's entries expire after [`LEASE_TTL`]. `create` succeeds for
//! exactly one copy while the key is absent; the holder renews it with a
//! compare-and-set on its revision before each round, so a copy that lost the
//! lease (paused, partitioned) finds out before it acts.

use std::time::Duration;

use async_nats::jetstream::kv;

use crate::NodeError;
use crate::jetstream::ensure_kv;

const LEASE_KEY: &str = "lease";
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// The lease: held by at most one copy at a time.
pub struct Lease {
    kv: kv::Store,
    holder: String,
    revision: Option<u64>,
}

impl Lease {
    /// A lease in `bucket` (one bucket per job), held as `holder`.
    pub async fn new(
        js: &async_nats::jetstream::Context,
        bucket: &str,
        holder: String,
    ) -> Result<Self, NodeError> {
        let kv = ensure_kv(js, bucket, LEASE_TTL).await?;
        Ok(Self {
            kv,
            holder,
            revision: None,
        })
    }

    /// Takes or renews the lease; `false` when another copy holds it.
    pub async fn acquire(&mut self) -> bool {
        let attempt = match self.revision {
            Some(rev) => self
                .kv
                .update(LEASE_KEY, self.holder.clone().into(), rev)
                .await
                .map_err(|e| e.to_string()),
            None => self
                .kv
                .create(LEASE_KEY, self.holder.clone().into())
                .await
                .map_err(|e| e.to_string()),
        };
        match attempt {
            Ok(rev) => {
                self.revision = Some(rev);
                true
            }
            Err(_) if self.revision.is_some() => {
                // Our lease expired or was taken: try afresh next time.
                self.revision = None;
                false
            }
            Err(_) => false,
        }
    }

    /// Gives the lease up (on shutdown) so another copy takes over at once.
    pub async fn release(&mut self) {
        if let Some(rev) = self.revision.take() {
            let _ = self.kv.delete_expect_revision(LEASE_KEY, Some(rev)).await;
        }
    }
}
