//! What every handler shares: the NATS connection, the configuration and
//! the stores opened on first use.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::jetstream::object_store::ObjectStore;
use axum::http::HeaderName;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::admin::{self, CategoryList, SiteConfig};
use bazaar_subjects::{Access, Domain, Empty, Endpoint};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::config::EdgeConfig;
use crate::error::ApiError;
use crate::hot;

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
    pub(crate) hot: Arc<crate::hot::HotReads>,
    /// Product pages and shop cards, kept while unchanged.
    pub(crate) pages: Arc<crate::product_pages::ProductPages>,
    /// Product page views on their way to the catalog node.
    pub(crate) views: Arc<crate::views::ViewRecorder>,
    /// Signs guest cart cookies.
    pub(crate) cart_key: [u8; 32],
    /// Signs device cookies (see `middleware::device`).
    pub(crate) device_key: [u8; 32],
    /// The accounts with a socket open here, and their heartbeats.
    pub(crate) presence: Arc<crate::presence::Presence>,
    /// The process' metrics, rendered on `/metrics` when set.
    pub(crate) metrics: std::sync::OnceLock<bazaar_runtime::metrics::PrometheusHandle>,
    /// Cancelled when the edge stops: its sockets, which the HTTP server's
    /// graceful shutdown does not wait for, close as "going away" then.
    pub(crate) closing: tokio_util::sync::CancellationToken,
}

impl EdgeState {
    pub fn new(
        nats: async_nats::Client,
        request_timeout: Duration,
        domains: Vec<Domain>,
        config: EdgeConfig,
    ) -> Self {
        let cart_key = cart_key(config.cookie_secret.as_deref());
        bazaar_runtime::logbus::attach(bazaar_subjects::bus::Principal::Edge.name(), nats.clone());
        Self {
            inner: Arc::new(Inner {
                jetstream: async_nats::jetstream::new(nats.clone()),
                rate_limits: OnceCell::new(),
                hot: Arc::default(),
                pages: Arc::new(crate::product_pages::ProductPages::new(config.kept_pages)),
                views: Arc::default(),
                shared_limit: Arc::new(crate::middleware::shared_limit::SharedLimiter::new(
                    config.rate_limit_per_minute,
                )),
                images: OnceCell::new(),
                cart_key,
                device_key: device_key(&cart_key),
                presence: Arc::default(),
                metrics: std::sync::OnceLock::new(),
                closing: tokio_util::sync::CancellationToken::new(),
                nats,
                request_timeout,
                domains,
                config,
            }),
        }
    }

    /// Serves the process' metrics on `/metrics` (the one-box development
    /// platform, which has no metrics address of its own).
    pub fn with_metrics(self, handle: bazaar_runtime::metrics::PrometheusHandle) -> Self {
        let _ = self.inner.metrics.set(handle);
        self
    }

    /// Calls endpoint `E` and answers with its reply as the node encoded
    /// it: for API routes that return a reply unchanged.
    pub async fn relay<E: Endpoint>(
        &self,
        meta: &RequestMeta,
        body: &E::Request,
    ) -> Result<Relayed<E::Reply>, ApiError> {
        let json = bazaar_runtime::call_json::<E>(
            &self.inner.nats,
            meta,
            body,
            self.inner.request_timeout,
        )
        .await
        .map_err(|e| ApiError(e.with_request_id(Some(meta.request_id.clone()))))?;
        self.after_call::<E>();
        Ok(Relayed {
            json,
            reply: std::marker::PhantomData,
        })
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

/// The key device cookies are signed with (`middleware::device`), derived
/// from the cookie key so that no other cookie's signature is ever a device
/// cookie's.
fn device_key(cookie_key: &[u8; 32]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<Sha256>::new_from_slice(cookie_key).expect("HMAC takes a key of any length");
    mac.update(b"device cookies");
    mac.finalize().into_bytes().into()
}

impl EdgeState {
    /// `; Secure` for every cookie unless the site is plain http.
    pub(crate) fn secure_attribute(&self) -> &'static str {
        if self.inner.config.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        }
    }

    /// Every category, from memory when nothing changed since it was read.
    pub(crate) async fn categories(&self, meta: &RequestMeta) -> Result<CategoryList, ApiError> {
        let hot = &self.inner.hot;
        let generation = hot.generation();
        if let Some(list) = hot::kept(&hot.categories, generation) {
            return Ok(list);
        }
        let list = self.call::<admin::ListCategories>(meta, &Empty {}).await?;
        hot::keep(hot, &hot.categories, list.clone(), generation);
        Ok(list)
    }

    /// The site settings, from memory when nothing changed since they were read.
    pub(crate) async fn site(&self, meta: &RequestMeta) -> Result<SiteConfig, ApiError> {
        let hot = &self.inner.hot;
        let generation = hot.generation();
        if let Some(site) = hot::kept(&hot.site, generation) {
            return Ok(site);
        }
        let site = self.call::<admin::GetSite>(meta, &Empty {}).await?;
        hot::keep(hot, &hot.site, site.clone(), generation);
        Ok(site)
    }

    /// After a call this edge made: an admin's change to the site's own
    /// settings or categories shows on this edge at once.
    pub(crate) fn after_call<E: Endpoint>(&self) {
        if E::DOMAIN == Domain::Admin && E::ACCESS == Access::Admin {
            self.inner.hot.invalidate();
        }
    }
}

/// A node's JSON reply of type `T`, answered as it came (200,
/// `application/json`).
pub struct Relayed<T> {
    json: bytes::Bytes,
    reply: std::marker::PhantomData<T>,
}

impl<T> Relayed<T> {
    /// `json`, already encoded from a `T`.
    pub(crate) fn encoded(json: bytes::Bytes) -> Self {
        Self {
            json,
            reply: std::marker::PhantomData,
        }
    }
}

impl<T> axum::response::IntoResponse for Relayed<T> {
    fn into_response(self) -> axum::response::Response {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.json,
        )
            .into_response()
    }
}
