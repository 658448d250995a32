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
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

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

/// One live tail: every [`TAIL_EVERY`] the records after the last one sent
/// (none while paused), until the client goes or the logs node refuses.
/// A reader task takes the client's frames, a writer task owns the sink
/// and is fed through a bounded queue; this task asks the logs node.
async fn follow(s: EdgeState, meta: RequestMeta, filters: LogQuery, after: u64, socket: WebSocket) {
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel::<TailServerFrame>(TAIL_QUEUE);
    let (paused_tx, paused) = watch::channel(false);
    let done = CancellationToken::new();
    let writer = tokio::spawn(write_frames(sink, rx, done.clone()));
    let reader = tokio::spawn(read_frames(stream, tx.clone(), paused_tx, done.clone()));
    poll(&s, &meta, filters, after, &tx, paused, &done).await;
    done.cancel();
    drop(tx);
    let _ = reader.await;
    let _ = writer.await;
}

/// Frames waiting for a slow client before the tail is closed.
const TAIL_QUEUE: usize = 16;

/// Asks the logs node for new records until `done`.
async fn poll(
    s: &EdgeState,
    meta: &RequestMeta,
    filters: LogQuery,
    mut after: u64,
    tx: &mpsc::Sender<TailServerFrame>,
    mut paused: watch::Receiver<bool>,
    done: &CancellationToken,
) {
    let mut tick = tokio::time::interval(TAIL_EVERY);
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            _ = tick.tick() => {}
        }
        if *paused.borrow_and_update() {
            tokio::select! {
                () = done.cancelled() => return,
                changed = paused.wait_for(|p| !p) => if changed.is_err() { return },
            }
            continue;
        }
        let query = LogQuery {
            after: Some(after),
            limit: Some(TAIL_BATCH),
            ..filters.clone()
        };
        let frame = match s.call::<QueryLogs>(meta, &query).await {
            // Paused while asking: these come again on resume.
            Ok(_) if *paused.borrow() => continue,
            Ok(page) => {
                after = page.last_seq.max(after);
                if page.records.is_empty() {
                    continue;
                }
                TailServerFrame::Records {
                    records: page.records,
                    last_seq: after,
                }
            }
            Err(ApiError(e)) => {
                let _ = tx
                    .send(TailServerFrame::Refused {
                        status: e.status,
                        message: e.message,
                    })
                    .await;
                return;
            }
        };
        // A client that does not read is let go, not waited for.
        if tx.try_send(frame).is_err() {
            return;
        }
    }
}

/// The client's frames: pause and resume, until it goes.
async fn read_frames(
    mut stream: SplitStream<WebSocket>,
    tx: mpsc::Sender<TailServerFrame>,
    paused: watch::Sender<bool>,
    done: CancellationToken,
) {
    loop {
        let incoming = tokio::select! {
            () = done.cancelled() => return,
            incoming = stream.next() => incoming,
        };
        let answer = match incoming {
            Some(Ok(Message::Text(text))) => match serde_json::from_str(&text) {
                Ok(TailClientFrame::Pause) => {
                    paused.send_replace(true);
                    TailServerFrame::Paused
                }
                Ok(TailClientFrame::Resume) => {
                    paused.send_replace(false);
                    TailServerFrame::Resumed
                }
                Err(_) => continue,
            },
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                done.cancel();
                return;
            }
            Some(Ok(_)) => continue,
        };
        if tx.send(answer).await.is_err() {
            return;
        }
    }
}

/// Writes the queued frames; closes the socket when the queue ends.
async fn write_frames(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<TailServerFrame>,
    done: CancellationToken,
) {
    while let Some(frame) = rx.recv().await {
        let refused = matches!(frame, TailServerFrame::Refused { .. });
        let text = Message::Text(Utf8Bytes::from(
            serde_json::to_string(&frame).unwrap_or_default(),
        ));
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(text)).await {
            Ok(Ok(())) if !refused => {}
            _ => break,
        }
    }
    done.cancel();
    let _ = sink.send(Message::Close(None)).await;
}
