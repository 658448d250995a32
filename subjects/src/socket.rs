//! The websocket protocol between a browser tab and an edge (`GET /ws`), and
//! how nodes reach the sockets of one account on whichever edge holds them.
//!
//! Frames are JSON objects tagged by `type`. The server speaks first with
//! [`ServerFrame::Welcome`], naming the protocol version; a client that
//! reconnects sends [`ClientFrame::Resume`] with the last sequence it holds
//! per conversation and gets [`ServerFrame::Missed`].
//!
//! Nodes publish [`ServerFrame`]s on [`deliver_subject`] (core NATS, no
//! storage: what matters is stored by the node and caught up on reconnect);
//! each edge subscribes to it for every account with a socket open there.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::chat::{Cursor, Message, MessageInput};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame a client may send, in bytes.
pub const MAX_CLIENT_FRAME_BYTES: usize = 32 * 1024;

/// An account id as one subject token: ids look like `account:…`, and a
/// subject token may not hold `.`, `*`, `>` or whitespace.
pub fn account_token(account_id: &str) -> String {
    account_id
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' | ' ' | '\t' | '\r' | '\n' => '_',
            c => c,
        })
        .collect()
}

/// Where frames for one account's sockets are published: `deliver.<account>`.
pub fn deliver_subject(account_id: &str) -> String {
    format!("deliver.{}", account_token(account_id))
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Post a message; answered with `sent` (or `error` with the same id).
    Send {
        conversation: String,
        client_id: String,
        body: MessageInput,
    },
    /// The user is typing in a conversation.
    Typing {
        conversation: String,
    },
    /// The user has seen a conversation up to `seq`.
    Read {
        conversation: String,
        seq: i64,
    },
    /// After a reconnect: what the client holds, per conversation.
    Resume {
        cursors: Vec<Cursor>,
    },
    Ping {},
}

/// What a client receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The first frame on every socket.
    Welcome {
        version: u32,
        account_id: String,
    },
    /// A new message, or an edit or delete of one (same conversation and seq).
    Message {
        message: Message,
    },
    /// The client's own `send` was stored as this message.
    Sent {
        client_id: String,
        message: Message,
    },
    /// Someone in a conversation is typing.
    Typing {
        conversation: String,
        account_id: String,
        name: String,
    },
    /// Someone has seen a conversation up to `seq`.
    Read {
        conversation: String,
        account_id: String,
        seq: i64,
    },
    /// Someone the user talks to came online or went offline.
    Presence {
        account_id: String,
        online: bool,
        /// RFC 3339.
        last_seen: Option<String>,
    },
    /// An in-app notification (order placed, status changed, new message).
    Notification {
        title: String,
        body: String,
        link: Option<String>,
    },
    /// What the client missed, in answer to `resume`.
    Missed {
        messages: Vec<Message>,
    },
    /// A frame could not be handled; `client_id` names the `send` it answers.
    Error {
        client_id: Option<String>,
        status: u16,
        message: String,
    },
    Pong {},
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_by_type() {
        let f: ClientFrame = serde_json::from_str(
            r#"{"type":"send","conversation":"c1","client_id":"x","body":{"kind":"text","text":"hi"}}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            ClientFrame::Send {
                conversation: "c1".into(),
                client_id: "x".into(),
                body: MessageInput::Text { text: "hi".into() }
            }
        );
        let out = serde_json::to_value(ServerFrame::Pong {}).unwrap();
        assert_eq!(out, serde_json::json!({"type": "pong"}));
    }

    #[test]
    fn account_ids_become_one_subject_token() {
        assert_eq!(deliver_subject("account:ab.c*"), "deliver.account:ab_c_");
    }
}
