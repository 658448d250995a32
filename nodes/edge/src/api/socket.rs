//! `GET /ws`: one websocket per tab for chat, typing, receipts, presence and
//! live notifications.
//!
//! The edge only carries frames: what a client sends becomes a call to the
//! chat node with the client's own token (the node judges it), and what
//! nodes publish on `deliver.<account>` goes out to that account's sockets
//! on this edge. Each socket has a bounded send queue: a client that does
//! not read is disconnected with a reason, and nobody else waits for it.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::{Account, GetMe};
use bazaar_subjects::chat::{
    AnnouncePresence, CatchUp, CatchUpChat, ChatTyping, ConversationId, MarkChatRead, MessageRef,
    PresenceChange, SendChatMessage, SendMessage,
};
use bazaar_subjects::socket::{
    ClientFrame, MAX_CLIENT_FRAME_BYTES, PROTOCOL_VERSION, ServerFrame, deliver_subject,
};
use bazaar_subjects::{Empty, ErrorEnvelope};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::ApiError;
use crate::extract::Meta;
use crate::state::EdgeState;

/// Frames waiting for a slow client before it is cut off.
pub const SEND_QUEUE: usize = 256;
/// Frames larger than this close the socket (the protocol's limit, with room
/// for the error frame that answers a frame over [`MAX_CLIENT_FRAME_BYTES`]).
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 4 * 1024;
/// How long one write to a client may take before it counts as not reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The close code for a client that did not keep up (RFC 6455: policy).
const CLOSE_TOO_SLOW: u16 = 1008;
/// The close code for a socket whose edge is stopping (RFC 6455: going
/// away): the client connects again, to another edge, and resumes.
const CLOSE_GOING_AWAY: u16 = 1001;

pub fn routes() -> Router<EdgeState> {
    Router::new().route("/ws", get(upgrade))
}

/// Upgrades a signed-in caller (cookie or Bearer token) from one of our own
/// pages (or a client that sends no `Origin`, which has no cookies to
/// abuse); 401 for the signed out, 403 for a foreign page.
async fn upgrade(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
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
    let account = s.call::<GetMe>(&meta, &Empty {}).await?;
    // Small buffers: most sockets are idle most of the time, and the
    // library's 128 KiB defaults would cost a quarter MiB per tab.
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(HARD_FRAME_LIMIT * 2)
        .max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("socket", account = %account.id);
            session(s, meta, account, socket).instrument(span)
        }))
}

fn text(frame: &ServerFrame) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(frame).unwrap_or_default(),
    ))
}

fn error_frame(client_id: Option<String>, e: &ErrorEnvelope) -> ServerFrame {
    ServerFrame::Error {
        client_id,
        status: e.status,
        message: e.message.clone(),
    }
}

/// One socket, from welcome to close.
async fn session(s: EdgeState, meta: RequestMeta, account: Account, socket: WebSocket) {
    let subscription = match s.inner.nats.subscribe(deliver_subject(&account.id)).await {
        Ok(sub) => sub,
        Err(e) => {
            tracing::warn!(error = %e, "cannot subscribe for a socket");
            return;
        }
    };
    let js = &s.inner.jetstream;
    let presence = s.inner.presence.clone();
    if presence.opened(js, &account.id).await {
        announce(&s, &meta, true);
    }
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(SEND_QUEUE);
    // Set when the client must go: the reason goes out in the close frame.
    let cut = CancellationToken::new();
    let reason = std::sync::Arc::new(std::sync::Mutex::new(None::<(u16, &'static str)>));

    let writer = {
        let cut = cut.clone();
        let reason = reason.clone();
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    () = cut.cancelled() => break,
                    msg = rx.recv() => msg,
                };
                let Some(msg) = msg else { break };
                match tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        *reason.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some((CLOSE_TOO_SLOW, "too slow: frames were not read in time"));
                        break;
                    }
                }
            }
            let why = reason.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some((code, why)) = why {
                let close = Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(why),
                }));
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
            }
        })
    };

    let _ = tx.try_send(text(&ServerFrame::Welcome {
        version: PROTOCOL_VERSION,
        account_id: account.id.clone(),
    }));

    // Frames from nodes for this account, as they come.
    let forwarder = {
        let tx = tx.clone();
        let cut = cut.clone();
        let reason = reason.clone();
        let mut subscription = subscription;
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    () = cut.cancelled() => break,
                    msg = subscription.next() => msg,
                };
                let Some(msg) = msg else { break };
                let Ok(frame) = std::str::from_utf8(&msg.payload) else {
                    continue;
                };
                match tx.try_send(Message::Text(Utf8Bytes::from(frame))) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        *reason.lock().unwrap_or_else(|e| e.into_inner()) = Some((
                            CLOSE_TOO_SLOW,
                            "too slow: more frames waited than the queue holds",
                        ));
                        cut.cancel();
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            let _ = subscription.unsubscribe().await;
        })
    };

    // What the client says, one frame at a time.
    loop {
        let incoming = tokio::select! {
            () = cut.cancelled() => break,
            () = s.inner.closing.cancelled() => {
                *reason.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((CLOSE_GOING_AWAY, "this edge is stopping; connect again"));
                break;
            }
            incoming = stream.next() => incoming,
        };
        let reply = match incoming {
            Some(Ok(Message::Text(t))) => handle(&s, &meta, t.as_str()).await,
            Some(Ok(Message::Binary(_))) => Some(error_frame(
                None,
                &ErrorEnvelope::bad_request("send text frames of JSON"),
            )),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
        };
        if let Some(reply) = reply
            && tx.try_send(text(&reply)).is_err()
        {
            // The queue is full: the forwarder is cutting this client off.
            continue;
        }
    }
    cut.cancel();
    forwarder.abort();
    drop(tx);
    let _ = writer.await;
    if presence.closed(js, &account.id).await {
        announce(&s, &meta, false);
    }
}

/// Tells the chat node, in the background, that the account came or went.
fn announce(s: &EdgeState, meta: &RequestMeta, online: bool) {
    let s = s.clone();
    let meta = meta.clone();
    tokio::spawn(async move {
        if let Err(e) = s
            .call::<AnnouncePresence>(&meta, &PresenceChange { online })
            .await
        {
            tracing::debug!(status = e.0.status, "presence not announced");
        }
    });
}

/// Answers one client frame (typing and read marks need no answer); every
/// failure is an error frame on this socket only.
async fn handle(s: &EdgeState, meta: &RequestMeta, raw: &str) -> Option<ServerFrame> {
    if raw.len() > MAX_CLIENT_FRAME_BYTES {
        return Some(error_frame(
            None,
            &ErrorEnvelope::new(
                bazaar_subjects::ErrorCode::PayloadTooLarge,
                format!("frames are at most {MAX_CLIENT_FRAME_BYTES} bytes"),
            ),
        ));
    }
    let frame: ClientFrame = match serde_json::from_str(raw) {
        Ok(f) => f,
        Err(e) => {
            return Some(error_frame(
                None,
                &ErrorEnvelope::bad_request(format!("unreadable frame: {e}")),
            ));
        }
    };
    let answer = match frame {
        ClientFrame::Send {
            conversation,
            client_id,
            body,
        } => {
            let request = SendMessage {
                conversation,
                client_id: client_id.clone(),
                body,
            };
            match s.call::<SendChatMessage>(meta, &request).await {
                Ok(message) => ServerFrame::Sent { client_id, message },
                Err(e) => error_frame(Some(client_id), &e.0),
            }
        }
        ClientFrame::Typing { conversation } => {
            match s
                .call::<ChatTyping>(meta, &ConversationId { conversation })
                .await
            {
                Ok(Empty {}) => return None,
                Err(e) => error_frame(None, &e.0),
            }
        }
        ClientFrame::Read { conversation, seq } => {
            match s
                .call::<MarkChatRead>(meta, &MessageRef { conversation, seq })
                .await
            {
                Ok(_) => return None,
                Err(e) => error_frame(None, &e.0),
            }
        }
        ClientFrame::Resume { cursors } => {
            match s.call::<CatchUpChat>(meta, &CatchUp { cursors }).await {
                Ok(missed) => ServerFrame::Missed {
                    messages: missed.messages,
                },
                Err(e) => error_frame(None, &e.0),
            }
        }
        ClientFrame::Ping {} => ServerFrame::Pong {},
    };
    Some(answer)
}
