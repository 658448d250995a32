//! Stripe's webhook signatures, checked as Stripe documents them: an
//! HMAC-SHA256 of `{t}.{body}` with the endpoint's signing secret, any `v1`
//! entry matching, the timestamp within 300 seconds. The edge checks a
//! webhook when it arrives; the node that acts on it checks its origin again,
//! so a job on the bus is worth nothing without Stripe's signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How old a signed timestamp may be (Stripe's default tolerance).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// No `t=` or no `v1=` in the header.
    Malformed,
    /// The timestamp is further than the tolerance from now.
    Stale,
    /// No `v1` signature matches.
    Mismatch,
}

/// Checks a `Stripe-Signature` header (`t=…,v1=…[,v1=…][,v0=…]`) against
/// the raw body, as Stripe's libraries do.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    check(header, body, secret, Some(now))
}

/// Checks only that Stripe signed `body` (any age): for an event queued
/// after the edge checked it fresh, which may be handled much later.
pub fn verify_origin(header: &str, body: &[u8], secret: &str) -> Result<(), SignatureError> {
    check(header, body, secret, None)
}

fn check(header: &str, body: &[u8], secret: &str, now: Option<i64>) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.is_some_and(|now| (now - t).abs() > TOLERANCE_SECS) {
        return Err(SignatureError::Stale);
    }
    let matches = signatures.iter().any(|sig| {
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&sig).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;

    #[test]
    fn a_correct_signature_passes() {
        let h = sign("whsec_x", 1000, BODY);
        assert_eq!(verify_signature(&h, BODY, "whsec_x", 1100), Ok(()));
        // Another v1 (secret rotation) and a v0 beside it are fine.
        let h = format!("{h},v1=00ff,v0=abc");
        assert_eq!(verify_signature(&h, BODY, "whsec_x", 1000), Ok(()));
    }

    #[test]
    fn an_old_signature_still_proves_its_origin() {
        let h = sign("whsec_x", 1000, BODY);
        assert_eq!(verify_origin(&h, BODY, "whsec_x"), Ok(()));
        assert_eq!(
            verify_origin(&h, b"{}", "whsec_x"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn forged_stale_or_malformed_signatures_fail() {
        let h = sign("whsec_other", 1000, BODY);
        assert_eq!(
            verify_signature(&h, BODY, "whsec_x", 1000),
            Err(SignatureError::Mismatch)
        );
        let h = sign("whsec_x", 1000, BODY);
        assert_eq!(
            verify_signature(&h, b"{}", "whsec_x", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&h, BODY, "whsec_x", 1000 + TOLERANCE_SECS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature("t=1000", BODY, "whsec_x", 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature("v1=abcd", BODY, "whsec_x", 1000),
            Err(SignatureError::Malformed)
        );
    }
}
