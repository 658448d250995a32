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
use bazaar_stripe::webhook::verify_signature;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::orders::PaymentNotification;
use bazaar_subjects::sellers::StripeAccountChanged;
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::EdgeState;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/api/webhooks/stripe", post(stripe_webhook))
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
        signature: Some(header.to_owned()),
    };
    enqueue_job(&s.inner.jetstream, &job, &job.event_id)
        .await
        .map_err(queued)?;
    tracing::info!(event = %job.event_id, kind = %job.kind, "stripe event queued");
    Ok(StatusCode::OK)
}
