//! Which accounts have a socket open on this edge, and their heartbeats.
//!
//! This is connection state, not domain state: it lives and dies with the
//! sockets. While an account has a socket here, the edge writes a beat to
//! the chat presence bucket every few seconds; when its last socket closes,
//! a final beat says offline. An edge that crashes simply stops beating, and
//! its users read as offline once their beats are older than the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use bazaar_subjects::chat::{PRESENCE_BEAT_SECS, PRESENCE_BUCKET, PresenceBeat};
use bazaar_subjects::socket::account_token;
use tokio::sync::OnceCell;

/// Presence entries are kept this long (last seen survives a month offline).
const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Default)]
pub(crate) struct Presence {
    /// Open sockets per account on this edge.
    open: Mutex<HashMap<String, usize>>,
    bucket: OnceCell<Option<kv::Store>>,
    beating: OnceCell<()>,
}

impl Presence {
    async fn bucket(&self, js: &async_nats::jetstream::Context) -> Option<&kv::Store> {
        self.bucket
            .get_or_init(|| async {
                match bazaar_runtime::jetstream::ensure_kv(js, PRESENCE_BUCKET, KEEP).await {
                    Ok(store) => Some(store),
                    Err(e) => {
                        tracing::warn!(error = %e, "presence bucket unavailable");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// A socket of `account` opened; true when it is the account's first here.
    pub(crate) async fn opened(
        self: &Arc<Self>,
        js: &async_nats::jetstream::Context,
        account: &str,
    ) -> bool {
        let first = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(account.to_owned()).or_insert(0);
            *n += 1;
            *n == 1
        };
        self.start_beating(js).await;
        if first {
            self.beat(js, account, true).await;
        }
        first
    }

    /// A socket of `account` closed; true when it was the account's last here.
    pub(crate) async fn closed(&self, js: &async_nats::jetstream::Context, account: &str) -> bool {
        let last = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            match open.get_mut(account) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                Some(_) => {
                    open.remove(account);
                    true
                }
                None => false,
            }
        };
        if last {
            self.beat(js, account, false).await;
        }
        last
    }

    async fn beat(&self, js: &async_nats::jetstream::Context, account: &str, online: bool) {
        let Some(bucket) = self.bucket(js).await else {
            return;
        };
        let beat = PresenceBeat {
            at_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
            online,
        };
        let Ok(value) = serde_json::to_vec(&beat) else {
            return;
        };
        if let Err(e) = bucket.put(account_token(account), value.into()).await {
            tracing::debug!(error = %e, "presence beat not written");
        }
    }

    /// One task per edge beats for every account with a socket open.
    async fn start_beating(self: &Arc<Self>, js: &async_nats::jetstream::Context) {
        let me = Arc::downgrade(self);
        let js = js.clone();
        self.beating
            .get_or_init(|| async move {
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_secs(PRESENCE_BEAT_SECS));
                    loop {
                        tick.tick().await;
                        let Some(presence) = me.upgrade() else {
                            return;
                        };
                        let accounts: Vec<String> = presence
                            .open
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .keys()
                            .cloned()
                            .collect();
                        for account in accounts {
                            presence.beat(&js, &account, true).await;
                        }
                    }
                });
            })
            .await;
    }
}
