//! Typed requests to other nodes: the only way an edge or a node calls one.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::client::RequestErrorKind;
use bazaar_subjects::{Endpoint, ErrorCode, ErrorEnvelope, headers};

/// What travels with a request besides its body.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    /// The caller's access token, verified by the node that serves the call.
    pub authorization: Option<String>,
}

/// Sends `body` to whichever node serves `E` and decodes its reply.
///
/// No node serving → 503; no answer in `timeout` → 504; a node's error
/// reply → its envelope, status and all.
pub async fn call<E: Endpoint>(
    nats: &async_nats::Client,
    meta: &RequestMeta,
    body: &E::Request,
    timeout: Duration,
) -> Result<E::Reply, ErrorEnvelope> {
    let reply = call_json::<E>(nats, meta, body, timeout).await?;
    serde_json::from_slice(&reply)
        .map_err(|e| crate::internal(format!("{}: undecodable reply: {e}", E::SUBJECT)))
}

/// As [`call`], but the reply is left as the JSON the node sent (an
/// `E::Reply`): for whoever passes it on as it is, without decoding and
/// encoding it again.
pub async fn call_json<E: Endpoint>(
    nats: &async_nats::Client,
    meta: &RequestMeta,
    body: &E::Request,
    timeout: Duration,
) -> Result<bytes::Bytes, ErrorEnvelope> {
    let started = std::time::Instant::now();
    let result = request_json::<E>(nats, meta, body, timeout).await;
    let status = result.as_ref().map_or_else(|e| e.status, |_| 200);
    crate::metrics::nats_request(crate::metrics::Side::Made, E::SUBJECT, status, started);
    result
}

async fn request_json<E: Endpoint>(
    nats: &async_nats::Client,
    meta: &RequestMeta,
    body: &E::Request,
    timeout: Duration,
) -> Result<bytes::Bytes, ErrorEnvelope> {
    let payload = serde_json::to_vec(body).map_err(crate::internal)?;
    let mut hdrs = HeaderMap::new();
    hdrs.insert(headers::REQUEST_ID, meta.request_id.as_str());
    if let Some(token) = &meta.authorization {
        hdrs.insert(headers::AUTHORIZATION, token.as_str());
    }
    let request = async_nats::Request::new()
        .payload(payload.into())
        .headers(hdrs)
        .timeout(Some(timeout));
    let reply = nats
        .send_request(E::SUBJECT, request)
        .await
        .map_err(|e| match e.kind() {
            RequestErrorKind::NoResponders => ErrorEnvelope::new(
                ErrorCode::Unavailable,
                format!(
                    "the {} service is not running right now; try again shortly",
                    E::DOMAIN
                ),
            ),
            RequestErrorKind::TimedOut => ErrorEnvelope::new(
                ErrorCode::Timeout,
                format!("the {} service did not answer in time", E::DOMAIN),
            ),
            _ => crate::internal(e),
        })?;
    if let Some(code) = reply
        .headers
        .as_ref()
        .and_then(|h| h.get(headers::SERVICE_ERROR_CODE))
    {
        return Err(
            serde_json::from_slice::<ErrorEnvelope>(&reply.payload).unwrap_or_else(|_| {
                // A service that sent only the standard headers.
                let status = code.as_str().parse().unwrap_or(500);
                let message = reply
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(headers::SERVICE_ERROR))
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default();
                ErrorEnvelope::new(ErrorCode::from_status(status), message)
            }),
        );
    }
    Ok(reply.payload)
}
