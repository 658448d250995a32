//! Rate limits shared by every edge copy. The strict ones (sign-in, codes,
//! per account) are fixed-window counters in JetStream KV, bumped with
//! compare-and-set, so two edges enforce exactly one limit and a store
//! outage refuses; the general per-address limit is decided in memory
//! (`shared_limit`), so an ordinary request never waits on a round trip.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_nats::jetstream::kv;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use bazaar_subjects::ErrorEnvelope;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::config::EdgeConfig;
use crate::error::ApiError;
use crate::state::EdgeState;

use bazaar_subjects::bus::EDGE_RATE_LIMITS_BUCKET as BUCKET;

/// How many hits per how long.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u64,
    /// Refuse when the counters cannot be read (the limits that guard
    /// passwords and codes); the general limit lets traffic through
    /// instead, so a limiter outage does not take the shop down.
    pub fail_closed: bool,
}

impl Limit {
    pub fn per_account(c: &EdgeConfig) -> Self {
        Self {
            max: c.account_rate_limit_per_15min,
            window_secs: 15 * 60,
            fail_closed: true,
        }
    }
}

/// Why a hit is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Over the limit: retry after this many seconds.
    Over(u64),
    /// A strict limit's counters cannot be read right now.
    Unavailable,
}

/// A short, KV-safe digest of a key part (emails, IPs never stored in clear).
pub fn digest(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..12])
}

/// The counters' store, opened on first use.
async fn store<'a>(
    cell: &'a OnceCell<Option<kv::Store>>,
    js: &async_nats::jetstream::Context,
) -> Option<&'a kv::Store> {
    cell.get_or_init(|| async {
        match bazaar_runtime::jetstream::ensure_kv(js, BUCKET, Duration::from_secs(3600)).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit store unavailable");
                None
            }
        }
    })
    .await
    .as_ref()
}

/// Counts one hit on `key`; over the limit → 429 with `Retry-After`.
/// When the store cannot be reached the hit is let through (and logged),
/// unless the limit fails closed: a rate limiter must not take the shop
/// down, and must not open the door to password guessing either.
async fn hit(
    cell: &OnceCell<Option<kv::Store>>,
    js: &async_nats::jetstream::Context,
    key: &str,
    limit: Limit,
) -> Result<(), Refusal> {
    let outage = || {
        if limit.fail_closed {
            Err(Refusal::Unavailable)
        } else {
            Ok(())
        }
    };
    let Some(store) = store(cell, js).await else {
        return outage();
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    let window = now / limit.window_secs;
    let retry_after = (window + 1) * limit.window_secs - now;
    let k = format!("{key}.{}.{window}", limit.window_secs);
    for _ in 0..16 {
        let entry = match store.entry(&k).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit read failed");
                return outage();
            }
        };
        let (count, revision) = match &entry {
            Some(e) if e.operation == kv::Operation::Put => (
                std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0),
                Some(e.revision),
            ),
            _ => (0, None),
        };
        if count >= limit.max {
            return Err(Refusal::Over(retry_after));
        }
        let next = (count + 1).to_string();
        let written = match revision {
            Some(r) => store.update(&k, next.into(), r).await.is_ok(),
            None => store.create(&k, next.into()).await.is_ok(),
        };
        if written {
            return Ok(());
        }
    }
    // Sixteen writers in a row beat us to the same counter: the limit is
    // being hammered; the strict limits treat that as an outage.
    outage()
}

impl EdgeState {
    pub(crate) fn limiter(&self) -> LimiterHandle<'_> {
        LimiterHandle { state: self }
    }
}

pub(crate) struct LimiterHandle<'a> {
    state: &'a EdgeState,
}

impl LimiterHandle<'_> {
    pub async fn check(&self, key: &str, limit: Limit) -> Result<(), ApiError> {
        let inner = &self.state.inner;
        hit(&inner.rate_limits, &inner.jetstream, key, limit)
            .await
            .map_err(refused)
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Over(retry_after) => ApiError(ErrorEnvelope::rate_limited(
            format!("too many requests: try again in {retry_after} seconds"),
            retry_after,
        )),
        Refusal::Unavailable => ApiError(ErrorEnvelope::new(
            bazaar_subjects::ErrorCode::Unavailable,
            "signing in is paused for a moment: try again shortly",
        )),
    }
}

/// Paths that send codes or check passwords get the stricter per-IP limit,
/// whether an API client or a page's form calls them.
fn is_auth_path(path: &str) -> bool {
    path.starts_with("/api/register/")
        || matches!(
            path,
            "/api/login"
                | "/api/forgot-password"
                | "/api/reset-password"
                | "/api/refresh-token"
                | "/login"
                | "/signup"
                | "/seller/signup"
                | "/verify"
                | "/verify/resend"
                | "/forgot-password"
                | "/reset-password"
        )
}

/// Who a limit counts: an IPv4 address, or an IPv6 client's /64 (one
/// subscriber's network gets a whole /64, and would otherwise have 2^64
/// addresses to rotate through).
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The client's address. Behind our own proxy it is the last entry of
/// `X-Forwarded-For`: the one the proxy appended for the connection it got
/// (nginx's `$proxy_add_x_forwarded_for`); earlier entries are whatever the
/// client sent and could be forged to dodge the limits.
fn client_ip(req: &Request, trust_forwarded: bool) -> Option<IpAddr> {
    if trust_forwarded
        && let Some(ip) = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Per-IP limits on every `/api` request, socket and form post.
/// Counts the request against its client's limit: over it, the 429 to
/// answer with. The general limit is decided at once, in memory; the
/// strict one (sign-in and code paths) is the returned future's round trip
/// to the shared counters. The future holds nothing of the request, whose
/// body may not be shared between threads.
pub(crate) fn check(
    state: &EdgeState,
    req: &Request,
) -> impl Future<Output = Result<(), Response>> + Send + use<> {
    let strict = general(state, req);
    let state = state.clone();
    async move {
        let Some((key, max)) = strict? else {
            return Ok(());
        };
        state
            .limiter()
            .check(
                &key,
                Limit {
                    max,
                    window_secs: 60,
                    fail_closed: true,
                },
            )
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// The general limit, decided here; `Ok(Some(key, max))` when the strict
/// limit is the one to count.
fn general(state: &EdgeState, req: &Request) -> Result<Option<(String, u32)>, Response> {
    let path = req.uri().path();
    // Every API call, every socket opened, and every form post (sign-in and
    // sign-up pages included).
    let limited =
        path.starts_with("/api/") || path == "/ws" || req.method() == axum::http::Method::POST;
    if !limited {
        return Ok(None);
    }
    let config = &state.inner.config;
    let client = client_ip(req, config.trust_forwarded);
    let key_of = |class: &str| {
        let ip = client.map_or_else(|| "unknown".to_owned(), client_key);
        format!("ip.{class}.{}", digest(&ip))
    };
    if is_auth_path(path) {
        return Ok(Some((key_of("auth"), config.auth_rate_limit_per_minute)));
    }
    let shared = &state.inner.shared_limit;
    let hit = match client {
        Some(ip) => shared.hit_client(ip, || key_of("api")),
        None => shared.hit(&key_of("api").into()),
    };
    hit.map(|()| None)
        .map_err(|retry_after| refused(Refusal::Over(retry_after)).into_response())
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::test_support::{body_text, offline_state};

    #[tokio::test]
    async fn page_views_are_not_counted() {
        // The limiter's store is never reached here: a page view does not wait for it.
        let state = offline_state(EdgeConfig::default()).await;
        let app = Router::new()
            .route("/products", get(|| async { "products" }))
            .layer(crate::middleware::policy::PolicyLayer {
                state: state.clone(),
            })
            .with_state(state);
        let request = axum::http::Request::get("/products")
            .body(Body::empty())
            .unwrap();
        let response = tokio::time::timeout(StdDuration::from_secs(2), app.oneshot(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_strict_limit_whose_counters_are_gone_is_503() {
        let response = refused(Refusal::Unavailable).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn over_the_limit_is_429_with_when_to_come_back() {
        let response = refused(Refusal::Over(37)).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "37");
        let body: ErrorEnvelope = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body.retry_after_secs, Some(37));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(client_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn sign_in_and_code_paths_get_the_stricter_limit() {
        for path in [
            "/api/login",
            "/api/register/user",
            "/api/forgot-password",
            "/api/reset-password",
            "/api/refresh-token",
        ] {
            assert!(is_auth_path(path), "{path}");
        }
        for path in [
            "/login",
            "/signup",
            "/verify",
            "/forgot-password",
            "/reset-password",
        ] {
            assert!(is_auth_path(path), "the form at {path}");
        }
        for path in ["/api/products", "/api/cart", "/cart/add"] {
            assert!(!is_auth_path(path), "{path}");
        }
    }

    fn request(forwarded: &[&str]) -> Request {
        let mut b = axum::http::Request::builder().uri("/api/login");
        for f in forwarded {
            b = b.header("x-forwarded-for", *f);
        }
        let mut req = b.body(axum::body::Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
        req
    }

    #[test]
    fn behind_a_proxy_the_address_it_appended_counts_not_what_the_client_claims() {
        let forged = request(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(
            client_ip(&forged, true),
            Some("203.0.113.7".parse().unwrap())
        );
        let two_headers = request(&["6.6.6.6", "203.0.113.8"]);
        assert_eq!(
            client_ip(&two_headers, true),
            Some("203.0.113.8".parse().unwrap())
        );
        // Without trusting the proxy, the connection's address counts.
        assert_eq!(
            client_ip(&forged, false),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(&request(&["not an address"]), true),
            Some("127.0.0.1".parse().unwrap())
        );
    }
}
