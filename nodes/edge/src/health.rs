//! Liveness and readiness.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use futures::future::join_all;
use serde::Serialize;

use crate::state::EdgeState;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process' metrics in Prometheus' text format, when this edge was
/// given the process' recorder (`bazaar dev`); elsewhere each process
/// serves them on its own metrics address and this is 404.
async fn metrics(State(state): State<EdgeState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.inner.metrics.get() {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Whether this edge can serve: NATS connected and every domain answering.
    ready: bool,
    nats: &'static str,
    /// Each domain and whether at least one node answered its ping.
    domains: Vec<DomainReadiness>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DomainReadiness {
    domain: String,
    ready: bool,
    /// The id of the node copy that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
}

/// NATS is connected and every domain has at least one node answering.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(s): State<EdgeState>) -> (StatusCode, Json<Readiness>) {
    let nats = &s.inner.nats;
    let connected = nats.connection_state() == async_nats::connection::State::Connected;
    let pings = s.inner.domains.iter().map(|d| async move {
        let request = async_nats::Request::new().timeout(Some(Duration::from_secs(1)));
        let answer = nats
            .send_request(bazaar_subjects::ping_subject(*d), request)
            .await
            .ok();
        let node = answer
            .and_then(|m| {
                serde_json::from_slice::<async_nats::service::PingResponse>(&m.payload).ok()
            })
            .map(|p| p.id);
        DomainReadiness {
            domain: d.name().to_owned(),
            ready: node.is_some(),
            node,
        }
    });
    let domains = join_all(pings).await;
    let ready = connected && domains.iter().all(|d| d.ready);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            nats: if connected {
                "connected"
            } else {
                "disconnected"
            },
            domains,
        }),
    )
}
