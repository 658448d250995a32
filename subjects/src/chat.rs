//! The chat domain: conversations between a buyer and a shop, their
//! messages, and who is online.
//!
//! One conversation per (buyer, shop), reused. The chat node assigns each
//! message the next sequence number of its conversation, stores it in
//! SurrealDB, publishes [`MessageSent`] and delivers a
//! [`crate::socket::ServerFrame`] to every participant's
//! [`crate::socket::deliver_subject`], which the edges holding their sockets
//! subscribe to. Participants are the buyer, the shop's seller, and admins
//! who joined; an admin may read every conversation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::priced;
use crate::{Access, Currency, Domain, Empty, Endpoint, Event, Stream};

/// Every chat event: `events.chat.>`.
pub const EVENTS: Stream = Stream {
    name: "CHAT_EVENTS",
    subjects: "events.chat.>",
};

/// The key-value bucket of heartbeats: key = account (see
/// [`crate::socket::account_token`]), value = [`PresenceBeat`]. Edges write it
/// while a socket is open; an entry older than [`PRESENCE_TTL_SECS`] means
/// offline, so a crashed edge's users go offline by themselves.
pub const PRESENCE_BUCKET: &str = "chat_presence";
/// How often an edge beats for each connected account.
pub const PRESENCE_BEAT_SECS: u64 = 10;
/// A beat older than this means offline.
pub const PRESENCE_TTL_SECS: u64 = 30;

/// The longest text message, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// How long an author may edit or delete a message, in seconds.
pub const EDIT_WINDOW_SECS: i64 = 5 * 60;
/// The most messages one page holds.
pub const MAX_PAGE: u32 = 100;

/// One heartbeat in [`PRESENCE_BUCKET`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceBeat {
    /// Unix milliseconds of the beat (or of the disconnect).
    pub at_ms: i64,
    /// False once the account's last socket on that edge closed.
    pub online: bool,
}

/// Which side of a conversation someone is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buyer,
    Seller,
    Admin,
}

/// Whether someone is online, and when they were last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Presence {
    pub online: bool,
    /// RFC 3339; absent when never seen.
    pub last_seen: Option<String>,
}

/// The product a conversation or message is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductRef {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub image: Option<String>,
    /// Minor units, with `currency`.
    pub price: i64,
    #[schema(value_type = String, example = "USD")]
    pub currency: Currency,
}
priced!(ProductRef: price);

/// A conversation as one participant (or an admin) sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub shop_id: String,
    pub shop_slug: String,
    pub shop_name: String,
    pub buyer_id: String,
    pub buyer_name: String,
    /// What the buyer asked about, when they started from a product page.
    pub product: Option<ProductRef>,
    /// The newest message's sequence (0: no message yet).
    pub last_seq: i64,
    /// The newest message, shortened, for inbox lists.
    pub last_preview: Option<String>,
    /// RFC 3339.
    pub last_message_at: Option<String>,
    pub created_at: String,
    /// The caller's side: buyer, seller, or admin (reading or joined).
    pub side: Side,
    /// Messages from the others after the caller's read mark.
    pub unread: i64,
    /// The last sequence the caller has seen.
    pub read_seq: i64,
    /// The last sequence the other side has seen ("seen" receipts).
    pub their_read_seq: i64,
    /// Whether the caller muted it (no reminder emails, no notifications).
    pub muted: bool,
    /// Which side blocked the other, if one did: no new messages then.
    pub blocked_by: Option<Side>,
    /// Admins who joined (their account ids).
    pub admins: Vec<String>,
    /// The other side's presence (for a buyer: the seller's).
    pub presence: Option<Presence>,
}

/// A page of conversations, newest activity first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversations {
    pub conversations: Vec<Conversation>,
    /// Unread messages over all of the caller's conversations.
    pub unread: i64,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// What a buyer starts a conversation with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartConversation {
    pub shop_slug: String,
    /// The product page it starts from, if any.
    #[serde(default)]
    pub product_id: Option<String>,
}

/// Which conversations to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListConversations {
    /// `buyer` (the caller's own questions), `seller` (their shop's inbox),
    /// `all` (admins: every conversation). Absent: both of the caller's sides.
    #[serde(default)]
    pub side: Option<Side>,
    /// Admins: every conversation on the site, not only joined ones.
    #[serde(default)]
    pub all: bool,
    /// Only conversations with unread messages.
    #[serde(default)]
    pub unread_only: bool,
    /// The `next_before` of the previous page.
    #[serde(default)]
    pub before: Option<String>,
    /// 1–100, default 20.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConversationId {
    pub conversation: String,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageBody {
    Text {
        text: String,
    },
    /// An image the author uploaded (`POST /api/images`).
    Image {
        image: String,
    },
    Product {
        product: ProductRef,
    },
}

/// What an author sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageInput {
    Text {
        /// 1–4,000 characters once trimmed.
        #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
        text: String,
    },
    Image {
        image: String,
    },
    Product {
        product_id: String,
    },
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub conversation: String,
    /// 1, 2, 3 … within the conversation.
    pub seq: i64,
    pub author_id: String,
    pub author_name: String,
    pub author_side: Side,
    /// Absent once deleted.
    pub body: Option<MessageBody>,
    /// RFC 3339.
    pub sent_at: String,
    pub edited_at: Option<String>,
    pub deleted: bool,
}

/// A page of one conversation's messages, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Messages {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
    /// Older messages exist: ask again with `before` = the first seq here.
    pub has_older: bool,
}

/// Which messages of a conversation to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListMessages {
    pub conversation: String,
    /// Only messages older than this sequence (paging back).
    #[serde(default)]
    pub before: Option<i64>,
    /// Only messages newer than this sequence (catching up).
    #[serde(default)]
    pub after: Option<i64>,
    /// 1–100, default 50.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SendMessage {
    pub conversation: String,
    /// The client's id for this send: a retried send with the same id
    /// stores one message (and answers with it again).
    pub client_id: String,
    pub body: MessageInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EditMessage {
    pub conversation: String,
    pub seq: i64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageRef {
    pub conversation: String,
    pub seq: i64,
}

/// A boolean setting of the caller's on one conversation (mute, block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConversationFlag {
    pub conversation: String,
    pub on: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportConversation {
    pub conversation: String,
    /// 1–1,000 characters.
    pub reason: String,
}

/// A participant's report, for admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub id: String,
    pub conversation: String,
    pub reporter_id: String,
    pub reason: String,
    pub created_at: String,
    /// `open` or `resolved`.
    #[serde(default = "open")]
    pub status: String,
    #[serde(default)]
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
}

fn open() -> String {
    "open".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reports {
    pub reports: Vec<Report>,
}

/// Where a reconnecting client stopped, per conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cursor {
    pub conversation: String,
    /// The last sequence the client holds.
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatchUp {
    /// At most 200 cursors.
    pub cursors: Vec<Cursor>,
}

/// Messages a client missed, oldest first per conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Missed {
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShopRef {
    pub shop_id: String,
}

/// How fast a shop answers: the mean time from a buyer's first message to
/// the shop's first answer, over its answered conversations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResponseTime {
    pub answered: i64,
    /// Absent until a conversation was answered.
    pub average_secs: Option<i64>,
}

/// An edge says an account came online or went offline (its first socket
/// opened, its last closed); the chat node tells the people it talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub online: bool,
}

/// `events.chat.message.sent`: a message was stored (analytics, search of
/// abuse, the reminder emails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSent {
    pub conversation: String,
    pub seq: i64,
    pub shop_id: String,
    pub author_id: String,
    pub author_side: Side,
    pub kind: String,
    pub at: String,
}
impl Event for MessageSent {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.chat.message.sent";
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $subject:literal, $access:ident, $req:ty => $reply:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl Endpoint for $name {
            const SUBJECT: &'static str = $subject;
            const DOMAIN: Domain = Domain::Chat;
            const ACCESS: Access = Access::$access;
            type Request = $req;
            type Reply = $reply;
        }
    };
}

endpoint!(/// A buyer asks a shop: the conversation (one per buyer and shop, reused).
    StartChat, "chat.conversation.start", Account, StartConversation => Conversation);
endpoint!(/// The caller's conversations (a seller's shop inbox; every one for admins).
    ListChats, "chat.conversation.list", Account, ListConversations => Conversations);
endpoint!(/// One page of a conversation's messages, for its participants and admins.
    ListChatMessages, "chat.message.list", Account, ListMessages => Messages);
endpoint!(/// Post a message (text, an own image, or a product card).
    SendChatMessage, "chat.message.send", Account, SendMessage => Message);
endpoint!(/// The author changes a text message within five minutes.
    EditChatMessage, "chat.message.edit", Account, EditMessage => Message);
endpoint!(/// The author deletes a message within five minutes.
    DeleteChatMessage, "chat.message.delete", Account, MessageRef => Message);
endpoint!(/// The caller has seen the conversation up to a sequence.
    MarkChatRead, "chat.conversation.read", Account, MessageRef => Conversation);
endpoint!(/// The caller is typing (delivered to the others, never stored).
    ChatTyping, "chat.conversation.typing", Account, ConversationId => Empty);
endpoint!(/// Mute or unmute a conversation for the caller.
    MuteChat, "chat.conversation.mute", Account, ConversationFlag => Conversation);
endpoint!(/// Block or unblock the other side: no new messages while blocked.
    BlockChat, "chat.conversation.block", Account, ConversationFlag => Conversation);
endpoint!(/// Report a conversation to the admins.
    ReportChat, "chat.conversation.report", Account, ReportConversation => Report);
endpoint!(/// An admin joins a conversation (a dispute): they receive and may post.
    JoinChat, "chat.conversation.join", Admin, ConversationId => Conversation);
endpoint!(/// Open reports oldest first, or resolved ones newest first (admins).
    ListChatReports, "chat.report.list", Admin, crate::console::ReportQuery => Reports);
endpoint!(/// Resolve a report, saying what was done (admins).
    ResolveChatReport, "chat.report.resolve", Admin, crate::console::ResolveReport => Report);
endpoint!(/// What a reconnecting client missed since its cursors.
    CatchUpChat, "chat.message.missed", Account, CatchUp => Missed);
endpoint!(/// A shop's average first-response time (shop pages show it).
    GetResponseTime, "chat.shop.response_time", Public, ShopRef => ResponseTime);
endpoint!(/// An edge reports the caller's first socket opening or last closing.
    AnnouncePresence, "chat.presence.announce", Account, PresenceChange => Empty);
