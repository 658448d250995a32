//! What every handler shares: the NATS connection, the configuration and
//! the stores opened on first use.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::jetstream::object_store::ObjectStore;
use axum::http::HeaderName;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::{Domain, Endpoint};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::config::EdgeConfig;
use crate::error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct EdgeState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) nats: async_nats::Client,
    pub(crate) request_timeout: Duration,
    /// The domains `/readyz` waits for.
    pub(crate) domains: Vec<Domain>,
    pub(crate) config: EdgeConfig,
    pub(crate) jetstream: async_nats::jetstream::Context,
    /// The rate limits' counters (JetStream KV), opened on first use; `None`
    /// when they could not be opened.
    pub(crate) rate_limits: OnceCell<Option<kv::Store>>,
    /// The images' object store, opened on first use.
    pub(crate) images: OnceCell<ObjectStore>,
    /// The general per-address limit, decided here and shared with the
    /// other edges.
    pub(crate) shared_limit: Arc<crate::middleware::shared_limit::SharedLimiter>,
    /// The category tree and site settings, kept while unchanged.
    pub(crate) hot: crate::hot::HotReads,
    /// Signs guest cart cookies.
    pub(crate) cart_key: [u8; 32],
    /// Signs device cookies (see `middleware::device`).
    pub(crate) device_key: [u8; 32],
    /// The accounts with a socket open here, and their heartbeats.
    pub(crate) presence: Arc<crate::presence::Presence>,
}

impl EdgeState {
    pub fn new(
        nats: async_nats::Client,
        request_timeout: Duration,
        domains: Vec<Domain>,
        config: EdgeConfig,
    ) -> Self {
        let cart_key = cart_key(config.cookie_secret.as_deref());
        Self {
            inner: Arc::new(Inner {
                jetstream: async_nats::jetstream::new(nats.clone()),
                rate_limits: OnceCell::new(),
                hot: crate::hot::HotReads::default(),
                shared_limit: Arc::new(crate::middleware::shared_limit::SharedLimiter::new(
                    config.rate_limit_per_minute,
                )),
                images: OnceCell::new(),
                cart_key,
                device_key: crate::middleware::device::derive_key(&cart_key),
                presence: Arc::default(),
                nats,
                request_timeout,
                domains,
                config,
            }),
        }
    }

    /// Calls endpoint `E` on whichever node serves it.
    pub async fn call<E: Endpoint>(
        &self,
        meta: &RequestMeta,
        body: &E::Request,
    ) -> Result<E::Reply, ApiError> {
        let reply =
            bazaar_runtime::call::<E>(&self.inner.nats, meta, body, self.inner.request_timeout)
                .await
                .map_err(|e| ApiError(e.with_request_id(Some(meta.request_id.clone()))))?;
        self.after_call::<E>();
        Ok(reply)
    }
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The key that signs guest cart cookies.
fn cart_key(secret: Option<&str>) -> [u8; 32] {
    use sha2::Digest;
    match secret {
        Some(s) => Sha256::digest(s.as_bytes()).into(),
        None => {
            let mut key = [0u8; 32];
            key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            key
        }
    }
}
