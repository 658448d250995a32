//! `POST /api/webhooks/stripe`: Stripe's event notifications.
//!
//! The raw body's `Stripe-Signature` is checked exactly as Stripe documents
//! it (HMAC-SHA256 of `{t}.{body}` with the endpoint's signing secret, any
//! `v1` entry matching, timestamp within 300 seconds). A valid event is
//! queued on the `ORDERS_JOBS` work queue as a `PaymentNotification` keyed by
//! the event id (so Stripe's retries are deduplicated by JetStream), and the
//! answer is 200 only once JetStream has it; `account.*` events go to the
//! sellers node's queue instead. Anything else is a 400 that changes nothing.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bazaar_runtime::jetstream::enqueue_job;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::orders::PaymentNotification;
use bazaar_subjects::sellers::StripeAccountChanged;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::ApiError;
use crate::state::EdgeState;

/// How old a signed timestamp may be (Stripe's default tolerance).
pub const TOLERANCE_SECS: i64 = 300;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/api/webhooks/stripe", post(stripe_webhook))
}

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
    if (now - t).abs() > TOLERANCE_SECS {
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

/// The part of a Stripe event the edge needs.
#[derive(Deserialize)]
struct EventHead {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Deserialize)]
struct EventObject {
    #[serde(default)]
    id: Option<String>,
}

fn bad(message: &str) -> ApiError {
    ApiError(ErrorEnvelope::bad_request(message))
}

async fn stripe_webhook(
    State(s): State<EdgeState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(secret) = s.inner.config.stripe_webhook_secret.as_deref() else {
        return Err(ApiError(ErrorEnvelope::not_found(
            "Stripe webhooks are not configured on this site",
        )));
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad("missing Stripe-Signature"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    if let Err(why) = verify_signature(header, &body, secret, now) {
        tracing::warn!(?why, "stripe webhook refused");
        return Err(bad("invalid Stripe-Signature"));
    }
    let head: EventHead =
        serde_json::from_slice(&body).map_err(|_| bad("the body is not a Stripe event"))?;
    let queued = |e| ApiError(bazaar_runtime::internal(e));
    if head.kind.starts_with("account.") {
        // Connected accounts are the sellers node's.
        let Some(account_id) = head.data.object.id else {
            return Err(bad("the event names no account"));
        };
        let job = StripeAccountChanged {
            event_id: head.id,
            account_id,
        };
        enqueue_job(&s.inner.jetstream, &job, &job.event_id)
            .await
            .map_err(queued)?;
        tracing::info!(event = %job.event_id, "stripe account event queued");
        return Ok(StatusCode::OK);
    }
    let payload = String::from_utf8(body.to_vec()).map_err(|_| bad("the body is not UTF-8"))?;
    let job = PaymentNotification {
        event_id: head.id,
        kind: head.kind,
        payload,
    };
    enqueue_job(&s.inner.jetstream, &job, &job.event_id)
        .await
        .map_err(queued)?;
    tracing::info!(event = %job.event_id, kind = %job.kind, "stripe event queued");
    Ok(StatusCode::OK)
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
