//! Chat pages: the buyer's inbox, the seller's shop inbox, the admins' view
//! of every conversation and its reports, and one conversation page for all
//! three. They work without JavaScript (a form posts the message and the
//! page reloads); `live.js` adds live messages, typing and receipts over the
//! socket when it can.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bazaar_subjects::auth::Account;
use bazaar_subjects::chat::{
    BlockChat, Conversation, ConversationFlag, ConversationId, JoinChat, ListChatMessages,
    ListChatReports, ListChats, ListConversations, ListMessages, MarkChatRead, Message,
    MessageBody, MessageInput, MessageRef, MuteChat, Report, ReportChat, ReportConversation,
    SendChatMessage, SendMessage, Side, StartChat, StartConversation,
};
use bazaar_subjects::{Role, chat};

use crate::extract::{Meta, SignedIn};
use crate::state::EdgeState;
use crate::ui::chrome::{Chrome, Nav};
use crate::ui::errors::PageError;
use crate::ui::query::urlencode;
use crate::ui::redirect::{with_error, with_notice};
use crate::ui::time::human_time;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/messages", get(inbox))
        .route("/messages/start", post(start))
        .route("/messages/{id}", get(conversation).post(send))
        .route("/messages/{id}/mute", post(mute))
        .route("/messages/{id}/block", post(block))
        .route("/messages/{id}/report", post(report))
        .route("/messages/{id}/join", post(join))
        .route("/seller/messages", get(inbox))
        .route("/seller/messages/{id}", get(conversation))
        .route("/admin/messages", get(inbox))
        .route("/admin/messages/{id}", get(conversation))
}

/// One row of an inbox.
struct Row {
    href: String,
    with: String,
    about: Option<String>,
    preview: String,
    when: String,
    unread: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "messages.html")]
struct InboxPage {
    viewer: Option<Account>,
    chrome: Chrome,
    heading: &'static str,
    empty: &'static str,
    rows: Vec<Row>,
    unread: i64,
    next: Option<String>,
    reports: Vec<ReportRow>,
}

struct ReportRow {
    href: String,
    reason: String,
    when: String,
}

#[derive(serde::Deserialize, Default)]
struct PageQuery {
    before: Option<String>,
}

/// The inbox of one side, named by its path: the buyer's questions
/// (`/messages`), the shop's inbox (`/seller/messages`), or every
/// conversation with the reports on top (`/admin/messages`).
async fn inbox(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    chrome: Chrome,
    uri: axum::http::Uri,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let side = match uri.path() {
        "/seller/messages" => Side::Seller,
        "/admin/messages" => Side::Admin,
        _ => Side::Buyer,
    };
    let request = ListConversations {
        side: (side != Side::Admin).then_some(side),
        all: side == Side::Admin,
        unread_only: false,
        before: q.before.clone(),
        limit: Some(20),
    };
    let list = s.call::<ListChats>(&meta, &request).await?;
    let reports = if side == Side::Admin {
        s.call::<ListChatReports>(&meta, &bazaar_subjects::console::ReportQuery::default())
            .await?
            .reports
            .into_iter()
            .map(report_row)
            .collect()
    } else {
        Vec::new()
    };
    let rows = list
        .conversations
        .into_iter()
        .map(|c| Row {
            href: path_for(side, &c.id),
            with: match side {
                Side::Buyer => c.shop_name.clone(),
                Side::Seller => c.buyer_name.clone(),
                Side::Admin => format!("{} ↔ {}", c.buyer_name, c.shop_name),
            },
            about: c.product.as_ref().map(|p| p.title.clone()),
            preview: c
                .last_preview
                .clone()
                .unwrap_or_else(|| "No messages yet".to_owned()),
            when: human_time(c.last_message_at.as_deref().unwrap_or(&c.created_at)),
            unread: c.unread,
        })
        .collect();
    let (heading, empty) = match side {
        Side::Buyer => (
            "Messages",
            "No conversations yet. Ask a shop from any product page.",
        ),
        Side::Seller => (
            "Shop inbox",
            "No buyer has written yet. Questions from product and shop pages land here.",
        ),
        Side::Admin => ("All conversations", "Nobody has talked yet."),
    };
    let nav = Nav::load(&s, &meta, &Some(viewer.clone()), None).await;
    Ok(InboxPage {
        viewer: Some(viewer),
        chrome: Chrome { nav, ..chrome },
        heading,
        empty,
        rows,
        unread: list.unread,
        next: list
            .next_before
            .map(|b| format!("?before={}", urlencode(&b))),
        reports,
    }
    .into_response())
}

fn report_row(r: Report) -> ReportRow {
    ReportRow {
        href: path_for(Side::Admin, &r.conversation),
        reason: r.reason,
        when: human_time(&r.created_at),
    }
}

/// Where `side` reads a conversation.
fn path_for(side: Side, id: &str) -> String {
    match side {
        Side::Buyer => format!("/messages/{}", urlencode(id)),
        Side::Seller => format!("/seller/messages/{}", urlencode(id)),
        Side::Admin => format!("/admin/messages/{}", urlencode(id)),
    }
}

/// One message as the page shows it.
struct Bubble {
    seq: i64,
    mine: bool,
    author: String,
    text: Option<String>,
    image: Option<String>,
    /// (link, price, title)
    product: Option<(String, String, String)>,
    deleted: bool,
    edited: bool,
    when: String,
}

fn bubble(m: Message, me: &str) -> Bubble {
    let (mut text, mut image, mut product) = (None, None, None);
    match m.body {
        Some(MessageBody::Text { text: t }) => text = Some(t),
        Some(MessageBody::Image { image: i }) => image = Some(format!("/images/{}", urlencode(&i))),
        Some(MessageBody::Product { product: p }) => {
            product = Some((
                format!("/products/{}", urlencode(&p.slug)),
                p.price().to_string(),
                p.title,
            ));
        }
        None => {}
    }
    Bubble {
        seq: m.seq,
        mine: m.author_id == me,
        author: m.author_name,
        text,
        image,
        product,
        deleted: m.deleted,
        edited: m.edited_at.is_some(),
        when: human_time(&m.sent_at),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "conversation.html")]
struct ConversationPage {
    viewer: Option<Account>,
    chrome: Chrome,
    c: Conversation,
    with: String,
    status: String,
    here: String,
    bubbles: Vec<Bubble>,
    older: Option<String>,
    client_id: String,
    can_post: bool,
    is_admin_outside: bool,
    /// The caller reads as an admin (no mute, block or report).
    is_admin: bool,
    blocked_by_me: bool,
    notice: Option<String>,
    error: Option<String>,
    max_chars: usize,
}

#[derive(serde::Deserialize, Default)]
struct ConversationQuery {
    before: Option<i64>,
    notice: Option<String>,
    error: Option<String>,
}

/// One conversation: its newest 50 messages (older ones a link away), the
/// form to answer, and what the others see (typing, seen, online). Reading
/// the page marks the conversation read.
async fn conversation(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    chrome: Chrome,
    Path(id): Path<String>,
    Query(q): Query<ConversationQuery>,
) -> Result<Response, PageError> {
    let page = s
        .call::<ListChatMessages>(
            &meta,
            &ListMessages {
                conversation: id.clone(),
                before: q.before,
                after: None,
                limit: Some(50),
            },
        )
        .await?;
    let c = page.conversation;
    if c.side != Side::Admin && c.unread > 0 {
        let seen = MessageRef {
            conversation: c.id.clone(),
            seq: c.last_seq,
        };
        if let Err(e) = s.call::<MarkChatRead>(&meta, &seen).await {
            tracing::debug!(status = e.0.status, "read mark not set");
        }
    }
    let here = path_for(c.side, &c.id);
    let with = match c.side {
        Side::Buyer => c.shop_name.clone(),
        Side::Seller => c.buyer_name.clone(),
        Side::Admin => format!("{} and {}", c.buyer_name, c.shop_name),
    };
    let status = match &c.presence {
        Some(p) if p.online => "online".to_owned(),
        Some(p) => p
            .last_seen
            .as_deref()
            .map(|t| format!("last seen {}", human_time(t)))
            .unwrap_or_else(|| "offline".to_owned()),
        None => String::new(),
    };
    let is_admin_outside = c.side == Side::Admin && !c.admins.contains(&viewer.id);
    let can_post = c.blocked_by.is_none() && !is_admin_outside;
    let older = page
        .has_older
        .then(|| {
            page.messages
                .first()
                .map(|m| format!("{here}?before={}", m.seq))
        })
        .flatten();
    let bubbles = page
        .messages
        .into_iter()
        .map(|m| bubble(m, &viewer.id))
        .collect();
    let nav = Nav::load(&s, &meta, &Some(viewer.clone()), None).await;
    Ok(ConversationPage {
        viewer: Some(viewer),
        chrome: Chrome { nav, ..chrome },
        with,
        status,
        here,
        bubbles,
        older,
        client_id: uuid::Uuid::new_v4().to_string(),
        can_post,
        is_admin_outside,
        is_admin: c.side == Side::Admin,
        blocked_by_me: c.blocked_by == Some(c.side),
        notice: q.notice,
        error: q.error,
        max_chars: chat::MAX_TEXT_CHARS,
        c,
    }
    .into_response())
}

/// "Ask the seller" on product and shop pages: opens (or reopens) the
/// conversation with that shop.
async fn start(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(_viewer): SignedIn,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let request = StartConversation {
        shop_slug: form.get("shop_slug").cloned().unwrap_or_default(),
        product_id: form.get("product_id").filter(|p| !p.is_empty()).cloned(),
    };
    let c = s.call::<StartChat>(&meta, &request).await?;
    Ok(axum::response::Redirect::to(&path_for(Side::Buyer, &c.id)).into_response())
}

/// The conversation form posts here without JavaScript.
async fn send(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(_viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let back = form
        .get("back")
        .filter(|b| crate::ui::redirect::is_local_path(b))
        .cloned()
        .unwrap_or_else(|| path_for(Side::Buyer, &id));
    let request = SendMessage {
        conversation: id,
        client_id: form
            .get("client_id")
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        body: MessageInput::Text {
            text: form.get("text").cloned().unwrap_or_default(),
        },
    };
    match s.call::<SendChatMessage>(&meta, &request).await {
        Ok(m) => Ok(axum::response::Redirect::to(&format!("{back}#m{}", m.seq)).into_response()),
        Err(e) if e.0.status == 422 || e.0.status == 429 || e.0.status == 403 => {
            let why =
                e.0.fields
                    .first()
                    .map_or(e.0.message.clone(), |f| f.message.clone());
            Ok(with_error(&back, &why).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The side-specific path to come back to after a conversation form.
async fn back_to(s: &EdgeState, meta: &bazaar_runtime::RequestMeta, id: &str) -> String {
    let side = s
        .call::<ListChatMessages>(
            meta,
            &ListMessages {
                conversation: id.to_owned(),
                before: None,
                after: None,
                limit: Some(1),
            },
        )
        .await
        .map_or(Side::Buyer, |p| p.conversation.side);
    path_for(side, id)
}

fn on(form: &HashMap<String, String>) -> bool {
    form.get("on").is_some_and(|v| v == "true")
}

async fn mute(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(_viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let flag = ConversationFlag {
        conversation: id.clone(),
        on: on(&form),
    };
    let c = s.call::<MuteChat>(&meta, &flag).await?;
    let said = if c.muted {
        "Muted: no reminder emails or notifications for this conversation."
    } else {
        "Unmuted."
    };
    Ok(with_notice(&path_for(c.side, &id), said).into_response())
}

async fn block(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(_viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let flag = ConversationFlag {
        conversation: id.clone(),
        on: on(&form),
    };
    let c = s.call::<BlockChat>(&meta, &flag).await?;
    let said = match c.blocked_by {
        Some(side) if side == c.side => "Blocked: no new messages either way.",
        Some(_) => "The other side has blocked this conversation.",
        None => "Unblocked.",
    };
    Ok(with_notice(&path_for(c.side, &id), said).into_response())
}

async fn report(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(_viewer): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let back = back_to(&s, &meta, &id).await;
    let request = ReportConversation {
        conversation: id,
        reason: form.get("reason").cloned().unwrap_or_default(),
    };
    match s.call::<ReportChat>(&meta, &request).await {
        Ok(_) => Ok(with_notice(&back, "Reported: the admins will look at it.").into_response()),
        Err(e) if e.0.status == 422 => Ok(with_error(&back, "Say what is wrong.").into_response()),
        Err(e) => Err(e.into()),
    }
}

async fn join(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(viewer): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if viewer.role != Role::Admin {
        return Err(PageError::from(crate::error::ApiError(
            bazaar_subjects::ErrorEnvelope::forbidden("only admins join conversations"),
        )));
    }
    let c = s
        .call::<JoinChat>(&meta, &ConversationId { conversation: id })
        .await?;
    Ok(with_notice(
        &path_for(Side::Admin, &c.id),
        "You joined: both sides now see what you write.",
    )
    .into_response())
}
