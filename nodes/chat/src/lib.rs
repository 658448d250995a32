//! The chat node: conversations between buyers and shops.
//!
//! It owns the `conversation`, `chat_message` and `chat_report` tables. A
//! message gets the next sequence of its conversation in the transaction
//! that stores it; then `events.chat.message.sent` is published and a frame
//! goes to every participant's `deliver.<account>` subject, which the edges
//! holding their sockets subscribe to: two people on two edges talk as if on
//! one. Who may read or post is decided here, from the caller's verified
//! token, never at the edge. A loop emails a reminder when a message has
//! waited unread while its recipient was offline.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod deliver;
mod error;
mod handlers;
mod presence;
mod reminders;
mod rows;
mod store;
mod validate;

pub use error::ChatError;
pub use store::ChatStore;

use std::time::Duration;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::chat::{
    AnnouncePresence, BlockChat, CatchUpChat, ChatTyping, DeleteChatMessage, EditChatMessage,
    GetResponseTime, JoinChat, ListChatMessages, ListChatReports, ListChats, MarkChatRead,
    MuteChat, ReportChat, ResolveChatReport, SendChatMessage, StartChat,
};

/// The chat node's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatConfig {
    /// How long a message waits unread (its recipient offline) before a
    /// reminder email, in seconds.
    #[arg(long, env = "BAZAAR_CHAT_REMINDER_AFTER_SECS", default_value_t = 15 * 60)]
    pub reminder_after_secs: u64,
    /// At most one reminder per conversation this often, in seconds.
    #[arg(long, env = "BAZAAR_CHAT_REMINDER_EVERY_SECS", default_value_t = 60 * 60)]
    pub reminder_every_secs: u64,
    /// How often the reminder loop looks, in milliseconds.
    #[arg(long, env = "BAZAAR_CHAT_REMINDER_TICK_MS", default_value_t = 30_000)]
    pub reminder_tick_ms: u64,
    /// Messages one account may send in any 10 seconds.
    #[arg(long, env = "BAZAAR_CHAT_MESSAGES_PER_10S", default_value_t = 20)]
    pub messages_per_10s: u32,
    /// The public URL of the site (links in reminder emails).
    #[arg(
        id = "chat_public_url",
        long = "chat-public-url",
        env = "BAZAAR_PUBLIC_URL",
        default_value = "http://localhost:8080"
    )]
    pub public_url: String,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            reminder_after_secs: 15 * 60,
            reminder_every_secs: 60 * 60,
            reminder_tick_ms: 30_000,
            messages_per_10s: 20,
            public_url: "http://localhost:8080".into(),
        }
    }
}

impl ChatConfig {
    fn reminder_tick(&self) -> Duration {
        Duration::from_millis(self.reminder_tick_ms.max(100))
    }
}

/// Serves the chat domain until `shutdown`.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: ChatConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let store = ChatStore::open(&ctx, db, config.clone()).await?;
    let _reminders = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(reminders::run(
        store.clone(),
        config.reminder_tick(),
        shutdown.clone(),
    )));
    let _outbox = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
        store.outbox.clone().run(shutdown.clone()),
    ));
    Node::new(ctx, Domain::Chat, "conversations between buyers and shops")
        .with_state(store)
        .serve::<StartChat>(handlers::start)
        .serve::<ListChats>(handlers::list)
        .serve::<ListChatMessages>(handlers::messages)
        .serve::<SendChatMessage>(handlers::send)
        .serve::<EditChatMessage>(handlers::edit)
        .serve::<DeleteChatMessage>(handlers::delete)
        .serve::<MarkChatRead>(handlers::read)
        .serve::<ChatTyping>(handlers::typing)
        .serve::<MuteChat>(handlers::mute)
        .serve::<BlockChat>(handlers::block)
        .serve::<ReportChat>(handlers::report)
        .serve::<JoinChat>(handlers::join)
        .serve::<ListChatReports>(handlers::reports)
        .serve::<ResolveChatReport>(handlers::resolve_report)
        .serve::<CatchUpChat>(handlers::catch_up)
        .serve::<GetResponseTime>(handlers::response_time)
        .serve::<AnnouncePresence>(handlers::announce)
        .run(shutdown)
        .await
}
