//! The admin's logs: `/admin/logs` (a filter form and the newest page,
//! older pages by a link, no JavaScript needed), `/admin/logs/requests/{id}`
//! (one request across the edge and the nodes) and the live tail, a socket
//! at `/ws/logs` that a small script in the page opens.
//!
//! The logs node decides who may read: every page and every batch the tail
//! sends is a call with the viewer's own token. The page only spares other
//! accounts a form they could not use.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::Account;
use bazaar_subjects::logs::{
    FollowLogRequest, FollowRequest, Level, LogQuery, QueryLogs, StoredRecord, TailClientFrame,
    TailServerFrame,
};
use bazaar_subjects::{Domain, ErrorEnvelope};

use crate::error::ApiError;
use crate::extract::{Admin, Meta};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::PageError;
use crate::ui::query::{first, query_pairs};

/// How often a live tail asks the logs node for new records.
const TAIL_EVERY: Duration = Duration::from_secs(1);
/// The most records one tail batch carries.
const TAIL_BATCH: u32 = 200;
/// Records on one page.
const PAGE: u32 = 100;
/// How long one write to a tail may take before the tail is closed.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/admin/logs", get(page))
        .route("/admin/logs/requests/{id}", get(request_page))
        .route("/ws/logs", get(tail))
}

/// One record as a row.
struct Row {
    seq: u64,
    time: String,
    level: &'static str,
    node: String,
    target: String,
    message: String,
    fields: String,
    request_id: Option<String>,
}

impl From<StoredRecord> for Row {
    fn from(r: StoredRecord) -> Self {
        let fields = r
            .record
            .fields
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            seq: r.seq,
            time: r.record.time,
            level: r.record.level.name(),
            node: r.record.node,
            target: r.record.target,
            message: r.record.message,
            fields,
            request_id: r.record.request_id,
        }
    }
}

/// The filters as the form sent them.
#[derive(Default)]
struct Filters {
    level: String,
    node: String,
    text: String,
    request_id: String,
}

impl Filters {
    fn read(raw: Option<&str>) -> Self {
        let pairs = query_pairs(raw);
        Self {
            level: first(&pairs, "level"),
            node: first(&pairs, "node"),
            text: first(&pairs, "text"),
            request_id: first(&pairs, "request_id"),
        }
    }

    fn query(&self) -> LogQuery {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        LogQuery {
            level: self.level.parse::<Level>().ok(),
            node: given(&self.node),
            text: given(&self.text),
            request_id: given(&self.request_id),
            ..LogQuery::default()
        }
    }

    /// The query string that keeps these filters (for the older page).
    fn encoded(&self) -> String {
        serde_html_form::to_string([
            ("level", &self.level),
            ("node", &self.node),
            ("text", &self.text),
            ("request_id", &self.request_id),
        ])
        .unwrap_or_default()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_logs.html")]
struct LogsPage {
    viewer: Option<Account>,
    chrome: Chrome,
    filters: Filters,
    levels: [&'static str; 5],
    nodes: Vec<&'static str>,
    rows: Vec<Row>,
    older: Option<String>,
    last_seq: u64,
    scanned: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_log_request.html")]
struct RequestPage {
    viewer: Option<Account>,
    chrome: Chrome,
    request_id: String,
    nodes: Vec<String>,
    rows: Vec<Row>,
    complete: bool,
}

async fn page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let filters = Filters::read(raw.as_deref());
    let before = first(&query_pairs(raw.as_deref()), "before").parse().ok();
    let query = LogQuery {
        before,
        limit: Some(PAGE),
        ..filters.query()
    };
    let page = s.call::<QueryLogs>(&meta, &query).await?;
    let older = page
        .next_before
        .map(|b| format!("/admin/logs?{}&before={b}", filters.encoded()));
    Ok(LogsPage {
        viewer: Some(viewer),
        chrome,
        levels: ["trace", "debug", "info", "warn", "error"],
        nodes: std::iter::once("edge")
            .chain(Domain::ALL.iter().map(|d| d.name()))
            .collect(),
        rows: page.records.into_iter().map(Row::from).collect(),
        older,
        last_seq: page.last_seq,
        scanned: page.scanned,
        filters,
    }
    .into_response())
}

async fn request_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let trail = s
        .call::<FollowLogRequest>(&meta, &FollowRequest { request_id: id })
        .await?;
    Ok(RequestPage {
        viewer: Some(viewer),
        chrome,
        request_id: trail.request_id,
        nodes: trail.nodes,
        rows: trail.records.into_iter().map(Row::from).collect(),
        complete: trail.complete,
    }
    .into_response())
}

/// Opens a live tail for a caller the logs node admits (the same filters
/// as the page's form, and `after`: the last sequence the page shows),
/// from one of our own pages.
async fn tail(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        if !crate::middleware::csrf::own_origins(&s, &headers).contains(&origin) {
            return Err(ApiError(ErrorEnvelope::forbidden(
                "this page may not open a socket here",
            )));
        }
    }
    let filters = Filters::read(raw.as_deref()).query();
    // The logs node decides: a caller it refuses gets no socket.
    let first_look = s
        .call::<QueryLogs>(
            &meta,
            &LogQuery {
                limit: Some(1),
                ..filters.clone()
            },
        )
        .await?;
    let after = first(&query_pairs(raw.as_deref()), "after")
        .parse()
        .unwrap_or(first_look.last_seq);
    Ok(ws.on_upgrade(move |socket| follow(s, meta, filters, after, socket)))
}

fn frame(f: &TailServerFrame) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(f).unwrap_or_default(),
    ))
}

/// One live tail: every [`TAIL_EVERY`] the records after the last one sent
/// (none while paused), until the client goes or the logs node refuses.
async fn follow(
    s: EdgeState,
    meta: RequestMeta,
    filters: LogQuery,
    mut after: u64,
    mut socket: WebSocket,
) {
    let mut paused = false;
    let mut tick = tokio::time::interval(TAIL_EVERY);
    loop {
        let out = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                    Ok(TailClientFrame::Pause) => { paused = true; Some(TailServerFrame::Paused) }
                    Ok(TailClientFrame::Resume) => { paused = false; Some(TailServerFrame::Resumed) }
                    Err(_) => None,
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => None,
            },
            _ = tick.tick(), if !paused => {
                let query = LogQuery { after: Some(after), limit: Some(TAIL_BATCH), ..filters.clone() };
                match s.call::<QueryLogs>(&meta, &query).await {
                    Ok(page) => {
                        after = page.last_seq.max(after);
                        (!page.records.is_empty()).then_some(TailServerFrame::Records {
                            records: page.records,
                            last_seq: after,
                        })
                    }
                    Err(ApiError(e)) => {
                        let refused = TailServerFrame::Refused { status: e.status, message: e.message };
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.send(frame(&refused))).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                }
            }
        };
        if let Some(out) = out {
            match tokio::time::timeout(WRITE_TIMEOUT, socket.send(frame(&out))).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
}
