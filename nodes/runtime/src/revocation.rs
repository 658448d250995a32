//! Banned accounts, refused by every node within seconds of the ban.
//!
//! An access token lives 15 minutes and is checked by signature alone, so
//! ending a session at the auth node (its refresh tokens revoked) would leave
//! the banned account working until its token expires. The auth node also
//! puts each banned account in a JetStream KV bucket
//! ([`REVOKED_BUCKET`](bazaar_subjects::console::REVOKED_BUCKET): account id →
//! when the ban began); every process that verifies tokens keeps a copy of
//! that bucket in memory, current through a KV watch, and
//! [`TokenVerifier::verify`](crate::TokenVerifier::verify) refuses a token
//! whose account is in it. The check is a hash-map lookup: no round trip per
//! request.
//!
//! Fail-safe semantics: the copy is what the watch last delivered. While the
//! bus is unreachable it keeps the bans it knows (nobody is let back in by an
//! outage); a ban made during an outage reaches it when the watch resumes,
//! and is enforced meanwhile where it matters most: the auth node refuses the
//! account's sign-ins and refreshes from the database, so a missed ban lasts
//! at most one access token's lifetime. The auth node re-puts every ban from
//! the database when it starts, so a bucket lost or emptied is refilled.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use bazaar_subjects::console::REVOKED_BUCKET;
use futures::StreamExt;

/// The banned accounts this process knows of: account id → when the ban
/// began. Shared by every clone.
#[derive(Debug, Clone, Default)]
pub struct Revocations(Arc<RwLock<HashMap<String, String>>>);

impl Revocations {
    /// Whether `account` is banned.
    pub fn is_banned(&self, account: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(account)
    }

    /// How many bans this copy holds.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a ban (or its end, with `banned_at` `None`).
    pub fn set(&self, account: &str, banned_at: Option<String>) {
        let mut all = self.0.write().unwrap_or_else(|e| e.into_inner());
        match banned_at {
            Some(at) => {
                all.insert(account.to_owned(), at);
            }
            None => {
                all.remove(account);
            }
        }
    }
}

/// How long to wait before looking again for a bucket not made yet or a
/// watch that ended.
const RETRY: Duration = Duration::from_secs(1);

/// Keeps `revocations` equal to the bucket for as long as the process runs:
/// waits for the auth node to make the bucket, then applies every entry the
/// watch delivers (the current ones first, then each change), and watches
/// again whenever the watch ends.
pub async fn follow(js: async_nats::jetstream::Context, revocations: Revocations) {
    let mut warned = false;
    loop {
        let watch = match js.get_key_value(REVOKED_BUCKET).await {
            Ok(kv) => kv.watch_with_history(">").await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut watch = match watch {
            Ok(w) => w,
            Err(e) => {
                // Usual while the auth node has not started yet.
                if !warned {
                    tracing::debug!(error = %e, "banned accounts not watched yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        tracing::debug!("watching banned accounts");
        while let Some(entry) = watch.next().await {
            match entry {
                Ok(entry) => match entry.operation {
                    Operation::Put => revocations.set(
                        &entry.key,
                        Some(String::from_utf8_lossy(&entry.value).into_owned()),
                    ),
                    Operation::Delete | Operation::Purge => revocations.set(&entry.key, None),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "banned accounts watch failed; watching again");
                    break;
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_holds_until_lifted_and_clones_share_it() {
        let r = Revocations::default();
        let seen_elsewhere = r.clone();
        assert!(!r.is_banned("a"));
        r.set("a", Some("2026-12-06T19:00:00Z".into()));
        assert!(seen_elsewhere.is_banned("a"));
        assert!(!seen_elsewhere.is_banned("b"));
        r.set("a", None);
        assert!(!seen_elsewhere.is_banned("a"));
        assert!(r.is_empty());
    }
}
