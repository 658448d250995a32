//! Conversations and messages as stored, and as each participant sees them.

use bazaar_subjects::chat::{Conversation, Message, MessageBody, Presence, ProductRef, Side};
use serde::Deserialize;

/// Every stored field of a conversation, as [`ConversationRow`] reads it.
pub(crate) const CONVERSATION_FIELDS: &str = "record::id(id) AS id, buyer, buyer_name, \
    shop_id, shop_slug, shop_name, seller, product, last_seq, last_preview, \
    IF last_message_at THEN <string>last_message_at END AS last_message_at, \
    <string>created_at AS created_at, <string>active_at AS active_at, buyer_read, seller_read, \
    buyer_muted, seller_muted, blocked_by, admins";

/// Every field of a message as the wire spells it.
pub(crate) const MESSAGE_FIELDS: &str = "conversation, seq, author AS author_id, author_name, \
    author_side, body, <string>sent_at AS sent_at, \
    IF edited_at THEN <string>edited_at END AS edited_at, deleted";

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ConversationRow {
    pub id: String,
    pub buyer: String,
    pub buyer_name: String,
    pub shop_id: String,
    pub shop_slug: String,
    pub shop_name: String,
    pub seller: String,
    #[serde(default)]
    pub product: Option<ProductRef>,
    pub last_seq: i64,
    #[serde(default)]
    pub last_preview: Option<String>,
    #[serde(default)]
    pub last_message_at: Option<String>,
    pub created_at: String,
    pub active_at: String,
    pub buyer_read: i64,
    pub seller_read: i64,
    pub buyer_muted: bool,
    pub seller_muted: bool,
    #[serde(default)]
    pub blocked_by: Option<Side>,
    #[serde(default)]
    pub admins: Vec<String>,
}

impl ConversationRow {
    /// The caller's side, if they take part (admins may always read).
    pub fn side_of(&self, account: &str, is_admin: bool) -> Option<Side> {
        if account == self.buyer {
            Some(Side::Buyer)
        } else if account == self.seller {
            Some(Side::Seller)
        } else if is_admin {
            Some(Side::Admin)
        } else {
            None
        }
    }

    /// Everyone a frame about this conversation goes to.
    pub fn participants(&self) -> Vec<String> {
        let mut all = vec![self.buyer.clone(), self.seller.clone()];
        all.extend(self.admins.iter().cloned());
        all
    }

    /// Everyone a frame about this conversation goes to but `me`.
    pub fn others(&self, me: &str) -> Vec<String> {
        self.participants()
            .into_iter()
            .filter(|a| a != me)
            .collect()
    }

    /// The account on the other side from `side` (admins see the seller).
    pub fn counterpart(&self, side: Side) -> &str {
        match side {
            Side::Seller => &self.buyer,
            Side::Buyer | Side::Admin => &self.seller,
        }
    }

    /// How a side signs its messages: the buyer by name, the seller as the
    /// shop, admins as the marketplace's support.
    pub fn author_name(&self, side: Side) -> String {
        match side {
            Side::Buyer => self.buyer_name.clone(),
            Side::Seller => self.shop_name.clone(),
            Side::Admin => "Marketplace support".to_owned(),
        }
    }

    pub fn muted(&self, side: Side) -> bool {
        match side {
            Side::Buyer => self.buyer_muted,
            Side::Seller => self.seller_muted,
            Side::Admin => false,
        }
    }

    /// The conversation as `side` sees it.
    pub fn view(self, side: Side, presence: Option<Presence>) -> Conversation {
        let (read_seq, their_read_seq) = match side {
            Side::Buyer => (self.buyer_read, self.seller_read),
            Side::Seller => (self.seller_read, self.buyer_read),
            Side::Admin => (self.last_seq, self.buyer_read.min(self.seller_read)),
        };
        Conversation {
            muted: self.muted(side),
            unread: (self.last_seq - read_seq).max(0),
            id: self.id,
            shop_id: self.shop_id,
            shop_slug: self.shop_slug,
            shop_name: self.shop_name,
            buyer_id: self.buyer,
            buyer_name: self.buyer_name,
            product: self.product,
            last_seq: self.last_seq,
            last_preview: self.last_preview,
            last_message_at: self.last_message_at,
            created_at: self.created_at,
            side,
            read_seq,
            their_read_seq,
            blocked_by: self.blocked_by,
            admins: self.admins,
            presence,
        }
    }
}

/// A message row; `body` is kept as stored JSON and read as the wire's type.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MessageRow {
    pub conversation: String,
    pub seq: i64,
    pub author_id: String,
    pub author_name: String,
    pub author_side: Side,
    #[serde(default)]
    pub body: Option<MessageBody>,
    pub sent_at: String,
    #[serde(default)]
    pub edited_at: Option<String>,
    pub deleted: bool,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            conversation: r.conversation,
            seq: r.seq,
            author_id: r.author_id,
            author_name: r.author_name,
            author_side: r.author_side,
            body: if r.deleted { None } else { r.body },
            sent_at: r.sent_at,
            edited_at: r.edited_at,
            deleted: r.deleted,
        }
    }
}

/// What an inbox shows of a message: its first 120 characters.
pub(crate) fn preview(body: &MessageBody) -> String {
    match body {
        MessageBody::Text { text } => {
            let mut short: String = text.chars().take(120).collect();
            if text.chars().count() > 120 {
                short.push('…');
            }
            short
        }
        MessageBody::Image { .. } => "Sent a picture".to_owned(),
        MessageBody::Product { product } => format!("Shared {}", product.title),
    }
}
