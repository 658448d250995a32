//! What a NATS call needs from an HTTP request: its request id and the
//! caller's token. The layer below every other extractor (pages' chrome
//! and error pages use it too), so it imports nothing of the edge.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bazaar_runtime::RequestMeta;

/// The access-token cookie set by sign-in.
pub(crate) const ACCESS_COOKIE: &str = "bazaar_access";
/// The refresh-token cookie set by sign-in.
pub(crate) const REFRESH_COOKIE: &str = "bazaar_refresh";

/// The request id and the caller's token, from the request's headers: an
/// `Authorization: Bearer` header for API clients, else the access cookie.
/// The edge does not judge the token; the node that serves the call does.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(crate::state::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| crate::ids::uuid_v7().to_string());
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let authorization = bearer.or_else(|| cookie_value(&parts.headers, ACCESS_COOKIE));
        Ok(Meta(RequestMeta {
            request_id,
            authorization,
        }))
    }
}

/// One cookie's value from the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
