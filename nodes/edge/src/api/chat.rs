//! REST routes for conversations between buyers and shops. The chat node
//! decides who may read or write; live delivery goes over `GET /ws`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::chat::ResolveChatReport;
use bazaar_subjects::chat::{
    BlockChat, Conversation, ConversationFlag, ConversationId, Conversations, DeleteChatMessage,
    EditChatMessage, EditMessage, JoinChat, ListChatMessages, ListChatReports, ListChats,
    ListConversations, ListMessages, MarkChatRead, Message, MessageInput, MessageRef, Messages,
    MuteChat, Report, ReportChat, ReportConversation, Reports, SendChatMessage, SendMessage, Side,
    StartChat, StartConversation,
};
use bazaar_subjects::console::{ReportQuery, Resolution, ResolveReport};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, FormQuery, Meta};
use crate::state::EdgeState;

#[derive(OpenApi)]
#[openapi(paths(
    list,
    start,
    messages,
    send,
    edit,
    delete,
    read,
    mute,
    block,
    report,
    join,
    reports,
    resolve_report
))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/conversations", get(list).post(start))
        .route("/api/conversations/{id}/messages", get(messages).post(send))
        .route(
            "/api/conversations/{id}/messages/{seq}",
            patch(edit).delete(delete),
        )
        .route("/api/conversations/{id}/read", post(read))
        .route("/api/conversations/{id}/mute", put(mute))
        .route("/api/conversations/{id}/block", put(block))
        .route("/api/conversations/{id}/report", post(report))
        .route("/api/conversations/{id}/join", post(join))
        .route("/api/admin/chat-reports", get(reports))
        .route("/api/admin/chat-reports/{id}/resolve", post(resolve_report))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ListQuery {
    /// `buyer`, `seller` or `admin` (joined); absent: both of the caller's sides.
    side: Option<Side>,
    /// Admins: every conversation on the site.
    #[serde(default)]
    all: bool,
    #[serde(default)]
    unread_only: bool,
    /// The previous page's `next_before`.
    #[param(format = DateTime)]
    before: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// The caller's conversations, newest activity first, with unread counts.
#[utoipa::path(get, path = "/api/conversations", tag = "chat", params(ListQuery),
    responses((status = 200, body = Conversations), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn list(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<ListQuery>,
) -> Result<Json<Conversations>, ApiError> {
    let request = ListConversations {
        side: q.side,
        all: q.all,
        unread_only: q.unread_only,
        before: q.before,
        limit: q.limit,
    };
    Ok(Json(s.call::<ListChats>(&meta, &request).await?))
}

/// Ask a shop: the caller's conversation with it (created on first use).
#[utoipa::path(post, path = "/api/conversations", tag = "chat", request_body = StartConversation,
    responses((status = 200, body = Conversation), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn start(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<StartConversation>,
) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(s.call::<StartChat>(&meta, &body).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MessagesQuery {
    /// Older than this sequence (paging back).
    before: Option<i64>,
    /// Newer than this sequence (catching up).
    after: Option<i64>,
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// A page of a conversation's messages, oldest first.
#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "chat",
    params(("id" = String, Path), MessagesQuery),
    responses((status = 200, body = Messages), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn messages(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    FormQuery(q): FormQuery<MessagesQuery>,
) -> Result<Json<Messages>, ApiError> {
    let request = ListMessages {
        conversation: id,
        before: q.before,
        after: q.after,
        limit: q.limit,
    };
    Ok(Json(s.call::<ListChatMessages>(&meta, &request).await?))
}

/// What a client posts: its id for this send (a retry with the same id
/// stores one message) and the message.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessage {
    /// 1–64 printable ASCII characters, no spaces.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]+$")]
    client_id: String,
    body: MessageInput,
}

/// Post a message: text, an image the caller uploaded, or a product card.
#[utoipa::path(post, path = "/api/conversations/{id}/messages", tag = "chat",
    params(("id" = String, Path)), request_body = NewMessage,
    responses((status = 201, body = Message), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn send(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<Response, ApiError> {
    let request = SendMessage {
        conversation: id,
        client_id: body.client_id,
        body: body.body,
    };
    let message = s.call::<SendChatMessage>(&meta, &request).await?;
    Ok((StatusCode::CREATED, Json(message)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewText {
    /// 1–4,000 characters once trimmed.
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    text: String,
}

/// The author changes a text message (within five minutes).
#[utoipa::path(patch, path = "/api/conversations/{id}/messages/{seq}", tag = "chat",
    params(("id" = String, Path), ("seq" = i64, Path)), request_body = NewText,
    responses((status = 200, body = Message), (status = 403, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn edit(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiPath((id, seq)): ApiPath<(String, i64)>,
    ApiJson(body): ApiJson<NewText>,
) -> Result<Json<Message>, ApiError> {
    let request = EditMessage {
        conversation: id,
        seq,
        text: body.text,
    };
    Ok(Json(s.call::<EditChatMessage>(&meta, &request).await?))
}

/// The author deletes a message (within five minutes).
#[utoipa::path(delete, path = "/api/conversations/{id}/messages/{seq}", tag = "chat",
    params(("id" = String, Path), ("seq" = i64, Path)),
    responses((status = 200, body = Message), (status = 403, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn delete(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiPath((id, seq)): ApiPath<(String, i64)>,
) -> Result<Json<Message>, ApiError> {
    let request = MessageRef {
        conversation: id,
        seq,
    };
    Ok(Json(s.call::<DeleteChatMessage>(&meta, &request).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SeenUpTo {
    seq: i64,
}

/// The caller has seen the conversation up to `seq` (a "seen" receipt).
#[utoipa::path(post, path = "/api/conversations/{id}/read", tag = "chat",
    params(("id" = String, Path)), request_body = SeenUpTo,
    responses((status = 200, body = Conversation), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn read(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SeenUpTo>,
) -> Result<Json<Conversation>, ApiError> {
    let request = MessageRef {
        conversation: id,
        seq: body.seq,
    };
    Ok(Json(s.call::<MarkChatRead>(&meta, &request).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Switch {
    on: bool,
}

/// Mute or unmute the conversation for the caller.
#[utoipa::path(put, path = "/api/conversations/{id}/mute", tag = "chat",
    params(("id" = String, Path)), request_body = Switch,
    responses((status = 200, body = Conversation), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn mute(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Switch>,
) -> Result<Json<Conversation>, ApiError> {
    switch::<MuteChat>(&s, &meta, id, body).await
}

/// Block (or unblock) the other side: no new messages while blocked.
#[utoipa::path(put, path = "/api/conversations/{id}/block", tag = "chat",
    params(("id" = String, Path)), request_body = Switch,
    responses((status = 200, body = Conversation), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn block(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Switch>,
) -> Result<Json<Conversation>, ApiError> {
    switch::<BlockChat>(&s, &meta, id, body).await
}

/// Sets one of the caller's switches on a conversation (mute, block).
async fn switch<E>(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    conversation: String,
    body: Switch,
) -> Result<Json<Conversation>, ApiError>
where
    E: bazaar_subjects::Endpoint<Request = ConversationFlag, Reply = Conversation>,
{
    let request = ConversationFlag {
        conversation,
        on: body.on,
    };
    Ok(Json(s.call::<E>(meta, &request).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Reason {
    /// 1–1,000 characters once trimmed.
    #[schema(min_length = 1, max_length = 1000, pattern = "\\S")]
    reason: String,
}

/// Report the conversation to the admins.
#[utoipa::path(post, path = "/api/conversations/{id}/report", tag = "chat",
    params(("id" = String, Path)), request_body = Reason,
    responses((status = 201, body = Report), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn report(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Response, ApiError> {
    let request = ReportConversation {
        conversation: id,
        reason: body.reason,
    };
    let report = s.call::<ReportChat>(&meta, &request).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

/// An admin joins the conversation (a dispute).
#[utoipa::path(post, path = "/api/conversations/{id}/join", tag = "chat",
    params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn join(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    let request = ConversationId { conversation: id };
    Ok(Json(s.call::<JoinChat>(&meta, &request).await?))
}

/// Reported conversations: open ones oldest first, or resolved ones
/// newest first (admins).
#[utoipa::path(get, path = "/api/admin/chat-reports", tag = "chat",
    params(ReportQuery),
    responses((status = 200, body = Reports), (status = 403, body = ErrorEnvelope)))]
pub async fn reports(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<ReportQuery>,
) -> Result<Json<Reports>, ApiError> {
    Ok(Json(s.call::<ListChatReports>(&meta, &q).await?))
}

/// Resolve a chat report, saying what was done (admins).
#[utoipa::path(post, path = "/api/admin/chat-reports/{id}/resolve", tag = "chat", request_body = Resolution,
    params(("id" = String, Path, description = "a chat report id")),
    responses((status = 200, body = Report), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn resolve_report(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Resolution>,
) -> Result<Json<Report>, ApiError> {
    let req = ResolveReport {
        id,
        resolution: body.resolution,
    };
    Ok(Json(s.call::<ResolveChatReport>(&meta, &req).await?))
}
