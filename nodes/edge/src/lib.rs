//! The HTTP edge: the only thing the web talks to.
//!
//! It turns REST calls under `/api` into typed NATS requests (the nodes do the
//! work and the access checks), serves the server-rendered pages and the
//! OpenAPI docs, and answers `/healthz` and `/readyz`. It holds no state: run
//! as many copies as you like behind a load balancer.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod assets;
mod config;
mod error;
mod extract;
mod health;
mod hot;
mod ids;
mod meta;
mod openapi;
mod presence;
mod product_pages;
mod state;
mod views;

/// REST under `/api` (and the few redirects and files that belong with it):
/// each handler parses, calls one subject and maps the answer.
mod api {
    pub(crate) mod analytics;
    pub(crate) mod auth;
    pub(crate) mod chat;
    pub(crate) mod commerce;
    pub(crate) mod console;
    pub(crate) mod google;
    pub(crate) mod images;
    pub(crate) mod logs;
    pub(crate) mod products;
    pub(crate) mod recommend;
    pub(crate) mod reviews;
    pub(crate) mod shops;
    pub(crate) mod site;
    pub(crate) mod socket;
    pub(crate) mod stripe_webhook;
    pub(crate) mod system;
}

/// Server-rendered pages, one module per part of the site.
mod pages {
    pub(crate) mod account;
    pub(crate) mod admin;
    pub(crate) mod analytics;
    pub(crate) mod cart;
    pub(crate) mod console;
    pub(crate) mod logs;
    pub(crate) mod mailbox;
    pub(crate) mod messages;
    pub(crate) mod orders;
    pub(crate) mod reviews;
    pub(crate) mod seller;
    pub(crate) mod shops;
    pub(crate) mod storefront;
    pub(crate) mod system;
}

/// What the pages share: the layout's chrome, error pages, redirects, and
/// the helpers their views use (prices, query strings, times, forms).
mod ui {
    pub(crate) mod address;
    pub(crate) mod charts;
    pub(crate) mod chrome;
    pub(crate) mod errors;
    pub(crate) mod forms;
    pub(crate) mod money;
    pub(crate) mod query;
    pub(crate) mod redirect;
    pub(crate) mod time;
}

#[cfg(test)]
mod test_support;

/// Layers every request passes through.
mod middleware {
    pub(crate) mod csrf;
    pub(crate) mod device;
    pub(crate) mod headers;
    pub(crate) mod observe;
    pub(crate) mod page_errors;
    pub(crate) mod policy;
    pub(crate) mod ratelimit;
    pub(crate) mod session;
    pub(crate) mod shared_limit;
    pub(crate) mod trace;
    pub(crate) mod visitor;
}

pub use config::EdgeConfig;
pub use error::ApiError;
pub use state::EdgeState;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use bazaar_runtime::Shutdown;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The whole HTTP application.
pub fn app(state: EdgeState) -> Router {
    let config = &state.inner.config;
    let cors = cors_layer(&config.cors_origins);
    Router::new()
        .merge(api::site::routes())
        .merge(api::auth::routes())
        .merge(pages::account::routes())
        .merge(pages::mailbox::routes())
        .merge(api::google::routes())
        .merge(api::images::routes())
        .merge(api::shops::routes())
        .merge(pages::shops::routes())
        .merge(api::products::routes())
        .merge(api::recommend::routes())
        .merge(api::logs::routes())
        .merge(api::socket::routes())
        .merge(api::chat::routes())
        .merge(api::commerce::routes())
        .merge(api::reviews::routes())
        .merge(api::stripe_webhook::routes())
        .merge(pages::cart::routes())
        .merge(pages::orders::routes())
        .merge(pages::messages::routes())
        .merge(pages::reviews::routes())
        .merge(pages::storefront::routes())
        .merge(pages::seller::routes())
        .merge(pages::admin::routes())
        .merge(pages::console::routes())
        .merge(api::console::routes())
        .merge(pages::system::routes())
        .merge(api::system::routes())
        .merge(pages::logs::routes())
        .merge(pages::analytics::routes())
        .merge(api::analytics::routes())
        .merge(health::routes())
        .merge(assets::routes())
        .merge(openapi::routes())
        .fallback(ui::errors::not_found)
        .with_state(state.clone())
        // One layer made of the whole stack: `Router::layer` wraps every
        // route in a boxed service per call, and a route's service is
        // cloned for each request, so a stack of a dozen `layer` calls
        // cost a dozen boxed clones per request (the largest cost of a
        // page the edge keeps, after the allocator).
        .layer(
            ServiceBuilder::new()
                .layer(middleware::observe::ObserveLayer {
                    timeout: Duration::from_millis(config.http_timeout_ms),
                })
                .layer(cors)
                .layer(DefaultBodyLimit::max(config.body_limit_bytes))
                .layer(middleware::policy::PolicyLayer {
                    state: state.clone(),
                }),
        )
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    if origins.is_empty() {
        // Same-origin only: no CORS headers at all.
        return CorsLayer::new();
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
            state::REQUEST_ID,
        ])
        .allow_credentials(true)
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}{hint}")]
    Bind {
        addr: String,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Binds the configured address with a clear error when it is taken.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind {
        addr: addr.to_owned(),
        hint: if source.kind() == std::io::ErrorKind::AddrInUse {
            " (another program uses this port: stop it or pick another with --port / BAZAAR_HTTP_ADDR)"
        } else {
            ""
        },
        source,
    })
}

/// Serves HTTP on `listener` until `shutdown`, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: EdgeState,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%addr, "edge listening");
    {
        let closing = state.inner.closing.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            closing.cancel();
        });
    }
    tokio::spawn(hot::follow_changes(
        state.inner.hot.clone(),
        state.inner.nats.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(product_pages::follow_changes(
        state.inner.pages.clone(),
        state.inner.nats.clone(),
        shutdown.clone(),
    ));
    {
        let views = state.inner.views.clone();
        let nats = state.inner.nats.clone();
        let timeout = state.inner.request_timeout;
        let shutdown = shutdown.clone();
        tokio::spawn(async move { views.send(nats, timeout, shutdown).await });
    }
    tokio::spawn(
        state
            .inner
            .shared_limit
            .clone()
            .share(state.inner.nats.clone(), shutdown.clone()),
    );
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
    .map_err(ServeError::Serve)?;
    tracing::info!("edge stopped");
    Ok(())
}
