//! REST routes for the central logs (admins; the logs node checks): a page
//! of records with filters, and every record of one request.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::logs::{
    FollowLogRequest, FollowRequest, Level, LogPage, LogQuery, QueryLogs, RequestTrail,
};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::extract::{FormQuery, Meta};
use crate::state::{EdgeState, Relayed};

#[derive(OpenApi)]
#[openapi(paths(query, follow))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/admin/logs", get(query))
        .route("/api/admin/logs/requests/{id}", get(follow))
}

/// Log records from every node and edge, newest first (admins). A query
/// reads a bounded number of records: page on with `before` = the answer's
/// `next_before`; follow new records with `after` = the last `seq` held.
#[utoipa::path(get, path = "/api/admin/logs", tag = "admin",
    params(
        ("level" = Option<Level>, Query, description = "this level and above"),
        ("node" = Option<String>, Query, description = "`edge` or a domain: `auth`, `orders`, …"),
        ("request_id" = Option<String>, Query),
        ("text" = Option<String>, Query, description = "in the message, target or a field's value, ignoring case"),
        ("since" = Option<String>, Query, description = "RFC 3339"),
        ("until" = Option<String>, Query, description = "RFC 3339"),
        ("before" = Option<u64>, Query, description = "older than this sequence (a page's `next_before`)"),
        ("after" = Option<u64>, Query, description = "newer than this sequence, oldest first"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "default 100"),
    ),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn query(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<LogQuery>,
) -> Result<Relayed<LogPage>, ApiError> {
    s.relay::<QueryLogs>(&meta, &q).await
}

/// Every record of one request, from the edge and every node it touched,
/// in time order (admins). The id is the `x-request-id` of the response.
#[utoipa::path(get, path = "/api/admin/logs/requests/{id}", tag = "admin",
    params(("id" = String, Path, description = "a request id")),
    responses((status = 200, body = RequestTrail), (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)))]
pub async fn follow(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Relayed<RequestTrail>, ApiError> {
    s.relay::<FollowLogRequest>(&meta, &FollowRequest { request_id: id })
        .await
}
