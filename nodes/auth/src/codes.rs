//! One-time codes in JetStream KV: stored as a keyed hash (HMAC-SHA-256
//! with a key derived from the token-signing key, so a read of the bucket
//! reveals neither codes nor addresses), gone after 5 minutes, locked after
//! 5 wrong tries, sent at most once a minute and 5 times an hour per
//! address. Every change is compare-and-set, so all copies of the auth node
//! enforce one limit.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::Sha256;

use crate::AuthError;

pub const CODE_TTL: Duration = Duration::from_secs(5 * 60);
const COOLDOWN_SECS: i64 = 60;
const MAX_SENDS_PER_HOUR: u32 = 5;
const MAX_WRONG_TRIES: u32 = 5;

#[derive(Clone)]
pub struct Codes {
    codes: kv::Store,
    sends: kv::Store,
    /// The HMAC key of every stored hash.
    key: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct Pending<T> {
    code_hash: String,
    wrong_tries: u32,
    payload: T,
}

#[derive(Serialize, Deserialize)]
struct Sends {
    count: u32,
    last_sent: i64,
}

/// HMAC-SHA-256 of the parts (NUL-separated), in hex. Six-digit codes
/// hashed without a key are reversed by trying all million.
fn keyed(key: &[u8; 32], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(&[0]);
    }
    hex::encode(mac.finalize().into_bytes())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn kv_err(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(format!("code store: {e}"))
}

/// A uniformly random 6-digit code.
fn new_code() -> Result<String, AuthError> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|e| AuthError::Internal(e.to_string()))?;
        let n = u32::from_le_bytes(b);
        // Reject the top sliver so every code is equally likely.
        if n < u32::MAX - (u32::MAX % 1_000_000) {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

impl Codes {
    pub async fn open(
        js: &jetstream::Context,
        key: [u8; 32],
    ) -> Result<Self, bazaar_runtime::NodeError> {
        use bazaar_runtime::jetstream::ensure_kv;
        Ok(Self {
            codes: ensure_kv(js, bazaar_subjects::auth::CODES_BUCKET, CODE_TTL).await?,
            sends: ensure_kv(
                js,
                bazaar_subjects::auth::CODE_SENDS_BUCKET,
                Duration::from_secs(3600),
            )
            .await?,
            key,
        })
    }

    /// The bucket key for an address's pending code of one purpose.
    fn key(&self, purpose: &str, email: &str) -> String {
        format!("{purpose}.{}", keyed(&self.key, &[email]))
    }

    /// Records one more `purpose` email sent to `email`, or says how long to wait.
    pub async fn allow_send(&self, purpose: &str, email: &str) -> Result<(), AuthError> {
        let k = self.key(purpose, email);
        for _ in 0..10 {
            let entry = self.sends.entry(&k).await.map_err(kv_err)?;
            let (held, revision) = match &entry {
                Some(e) if e.operation == kv::Operation::Put => (
                    serde_json::from_slice::<Sends>(&e.value).ok(),
                    Some(e.revision),
                ),
                _ => (None, None),
            };
            let now = now();
            let next = match held {
                Some(s) if now - s.last_sent < COOLDOWN_SECS => {
                    return Err(AuthError::TooSoon {
                        retry_after_secs: (COOLDOWN_SECS - (now - s.last_sent)) as u64,
                    });
                }
                Some(s) if s.count >= MAX_SENDS_PER_HOUR => {
                    return Err(AuthError::TooSoon {
                        retry_after_secs: 3600,
                    });
                }
                Some(s) => Sends {
                    count: s.count + 1,
                    last_sent: now,
                },
                None => Sends {
                    count: 1,
                    last_sent: now,
                },
            };
            let bytes = serde_json::to_vec(&next).map_err(kv_err)?;
            let written = match revision {
                Some(r) => self.sends.update(&k, bytes.into(), r).await.is_ok(),
                None => self.sends.create(&k, bytes.into()).await.is_ok(),
            };
            if written {
                return Ok(());
            }
        }
        Err(AuthError::Internal("code send log kept changing".into()))
    }

    /// Stores a fresh code (replacing any earlier one) and returns it.
    pub async fn issue<T: Serialize>(
        &self,
        purpose: &str,
        email: &str,
        payload: &T,
    ) -> Result<String, AuthError> {
        let code = new_code()?;
        let pending = Pending {
            code_hash: keyed(&self.key, &[purpose, email, &code]),
            wrong_tries: 0,
            payload,
        };
        let bytes = serde_json::to_vec(&pending).map_err(kv_err)?;
        self.codes
            .put(self.key(purpose, email), bytes.into())
            .await
            .map_err(kv_err)?;
        Ok(code)
    }

    /// The payload waiting behind a code, without using the code.
    pub async fn pending<T: DeserializeOwned>(&self, purpose: &str, email: &str) -> Option<T> {
        let bytes = self.codes.get(self.key(purpose, email)).await.ok()??;
        serde_json::from_slice::<Pending<T>>(&bytes)
            .ok()
            .map(|p| p.payload)
    }

    /// Uses the code: right → its payload, and the code is gone; wrong → one
    /// more wrong try; locked after five.
    pub async fn redeem<T: DeserializeOwned>(
        &self,
        purpose: &str,
        email: &str,
        code: &str,
    ) -> Result<T, AuthError> {
        let k = self.key(purpose, email);
        for _ in 0..10 {
            let Some(entry) = self.codes.entry(&k).await.map_err(kv_err)? else {
                return Err(AuthError::BadCode);
            };
            if entry.operation != kv::Operation::Put {
                return Err(AuthError::BadCode);
            }
            // The payload stays opaque JSON here, so a wrong try can rewrite
            // the entry without knowing its type.
            let mut pending: Pending<serde_json::Value> =
                serde_json::from_slice(&entry.value).map_err(kv_err)?;
            if pending.wrong_tries >= MAX_WRONG_TRIES {
                return Err(AuthError::CodeLocked);
            }
            if pending.code_hash == keyed(&self.key, &[purpose, email, code]) {
                // Only one redeemer wins: the delete names the revision it saw.
                if self
                    .codes
                    .delete_expect_revision(&k, Some(entry.revision))
                    .await
                    .is_ok()
                {
                    return serde_json::from_value(pending.payload).map_err(kv_err);
                }
                continue;
            }
            pending.wrong_tries += 1;
            let bytes = serde_json::to_vec(&pending).map_err(kv_err)?;
            if self
                .codes
                .update(&k, bytes.into(), entry.revision)
                .await
                .is_ok()
            {
                return Err(if pending.wrong_tries >= MAX_WRONG_TRIES {
                    AuthError::CodeLocked
                } else {
                    AuthError::BadCode
                });
            }
        }
        Err(AuthError::BadCode)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let c = super::new_code().unwrap();
            assert!(crate::validate::is_code(&c), "{c}");
        }
    }
}
