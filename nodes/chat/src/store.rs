//! The chat domain's data in SurrealDB, and what happens around each write:
//! the event on JetStream and the frames to the participants' sockets.

use std::time::Duration;

use async_nats::jetstream::{kv, object_store::ObjectStore};
use bazaar_outbox::{Relay, WRITE_ONE};
use bazaar_runtime::jetstream::{ensure_kv, ensure_object_store, ensure_stream};
use bazaar_runtime::{Caller, NodeContext, NodeError, Request, RequestMeta};
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::{Db, TransactionError, committed, retry_transaction, take_rows};
use bazaar_subjects::auth::GetMe;
use bazaar_subjects::catalog::{GetProductsByIds, Product, ProductIds};
use bazaar_subjects::chat::{
    self, CatchUp, Conversation, ConversationFlag, Conversations, EDIT_WINDOW_SECS,
    ListConversations, ListMessages, Message, MessageBody, MessageInput, MessageSent, Messages,
    Missed, PRESENCE_BUCKET, ProductRef, Report, ReportConversation, Reports, ResponseTime,
    SendMessage, Side, StartConversation,
};
use bazaar_subjects::console::ResolveReport;
use bazaar_subjects::sellers::{GetShopOwner, ShopSlug};
use bazaar_subjects::socket::ServerFrame;
use bazaar_subjects::{Empty, Endpoint, ErrorEnvelope, Role};
use serde::Deserialize;

use crate::rows::{CONVERSATION_FIELDS, ConversationRow, MESSAGE_FIELDS, MessageRow, preview};
use crate::{ChatConfig, ChatError, deliver, presence, validate};

/// How often a write that lost a race with another is tried in all.
const ATTEMPTS: u32 = 20;

/// A chat report as admins read it.
const REPORT_FIELDS: &str = "record::id(id) AS id, conversation, reporter AS reporter_id, reason, \
    <string>created_at AS created_at, status, \
    IF resolved_at THEN <string>resolved_at END AS resolved_at, resolved_by, resolution";
/// Presence entries are kept this long (last seen survives a month offline).
const PRESENCE_KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most cursors one catch-up may carry, and messages it returns per
/// conversation.
const MAX_CURSORS: usize = 200;
const MAX_MISSED: u32 = 200;

/// The chat node's state: the database, NATS, and the buckets it reads.
#[derive(Clone)]
pub struct ChatStore {
    pub(crate) db: Db,
    pub(crate) nats: async_nats::Client,
    pub(crate) presence: kv::Store,
    images: ObjectStore,
    pub(crate) config: ChatConfig,
    /// Publishes the events and emails written with each change.
    pub(crate) outbox: Relay,
    timeout: Duration,
}

type Result<T> = std::result::Result<T, ChatError>;

/// Who is asking: their account and whether they are an admin.
struct Me<'a> {
    id: &'a str,
    admin: bool,
}

fn me(caller: &Caller) -> Result<Me<'_>> {
    match caller {
        Caller::Account { id, role, .. } => Ok(Me {
            id,
            admin: *role == Role::Admin,
        }),
        Caller::Anonymous => Err(ChatError::SignedOut),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl ChatStore {
    pub async fn open(
        ctx: &NodeContext,
        db: Db,
        config: ChatConfig,
    ) -> std::result::Result<Self, NodeError> {
        ensure_stream(&ctx.jetstream, chat::EVENTS).await?;
        let presence = ensure_kv(&ctx.jetstream, PRESENCE_BUCKET, PRESENCE_KEEP).await?;
        let images =
            ensure_object_store(&ctx.jetstream, bazaar_subjects::catalog::IMAGES_BUCKET).await?;
        Ok(Self {
            outbox: Relay::for_node(ctx, db.clone()),
            db,
            nats: ctx.nats.clone(),
            presence,
            images,
            config,
            timeout: ctx.request_timeout,
        })
    }

    async fn call<E: Endpoint>(&self, meta: &RequestMeta, body: &E::Request) -> Result<E::Reply> {
        bazaar_runtime::call::<E>(&self.nats, meta, body, self.timeout)
            .await
            .map_err(crate::error::upstream)
    }

    /// One conversation by id, or 404.
    pub(crate) async fn load(&self, id: &str) -> Result<ConversationRow> {
        if !validate::is_record_id(id) {
            return Err(ChatError::NoConversation);
        }
        let mut res = self
            .db
            .query(format!(
                "SELECT {CONVERSATION_FIELDS} FROM type::record('conversation', $id)"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        take_rows::<ConversationRow>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(ChatError::NoConversation)
    }

    /// The conversation and the caller's side in it; 403 for outsiders.
    async fn joined(&self, caller: &Caller, id: &str) -> Result<(ConversationRow, Side)> {
        let me = me(caller)?;
        let row = self.load(id).await?;
        let side = row
            .side_of(me.id, me.admin)
            .ok_or(ChatError::NotParticipant)?;
        Ok((row, side))
    }

    /// A buyer asks a shop: the one conversation of this buyer and shop,
    /// created on first use, with the product they asked from as context.
    pub async fn start(&self, req: &Request<StartConversation>) -> Result<Conversation> {
        let me = me(&req.caller)?;
        let meta = req.onward();
        let shop = self
            .call::<GetShopOwner>(
                &meta,
                &ShopSlug {
                    slug: req.body.shop_slug.clone(),
                },
            )
            .await
            .map_err(|e| match e {
                ChatError::Upstream(env) if env.status == 404 => ChatError::NoShop,
                other => other,
            })?;
        if shop.owner == me.id {
            return Err(ChatError::Invalid(ErrorEnvelope::validation(vec![
                bazaar_subjects::FieldError {
                    field: "shop_slug".into(),
                    message: "this is your own shop: buyers write to you here".into(),
                },
            ])));
        }
        let product = match &req.body.product_id {
            Some(id) => {
                let p = self.product(&meta, id).await?;
                if p.shop_slug != shop.slug {
                    return Err(ChatError::Invalid(ErrorEnvelope::validation(vec![
                        bazaar_subjects::FieldError {
                            field: "product_id".into(),
                            message: "this product is sold by another shop".into(),
                        },
                    ])));
                }
                Some(product_ref(p))
            }
            None => None,
        };
        let account = self.call::<GetMe>(&meta, &Empty {}).await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let created = self
            .db
            .query(
                "CREATE type::record('conversation', $id) CONTENT {
                    buyer: $buyer, buyer_name: $buyer_name,
                    shop_id: $shop_id, shop_slug: $shop_slug, shop_name: $shop_name,
                    seller: $seller, product: $product
                 } RETURN NONE",
            )
            .bind(("id", id.clone()))
            .bind(("buyer", me.id.to_owned()))
            .bind(("buyer_name", account.name))
            .bind(("shop_id", shop.id.clone()))
            .bind(("shop_slug", shop.slug))
            .bind(("shop_name", shop.name))
            .bind(("seller", shop.owner))
            .bind((
                "product",
                product.as_ref().map(serde_json::to_value).transpose()?,
            ))
            .await;
        let id = match committed(created) {
            Ok(_) => id,
            Err(TransactionError::Unique { .. }) => {
                // This buyer asked this shop before: that conversation, now
                // about the product they ask from.
                let mut res = self
                    .db
                    .query(
                        "UPDATE conversation SET product = $product ?? product
                         WHERE buyer = $buyer AND shop_id = $shop_id RETURN VALUE record::id(id)",
                    )
                    .bind(("buyer", me.id.to_owned()))
                    .bind(("shop_id", shop.id))
                    .bind((
                        "product",
                        product.as_ref().map(serde_json::to_value).transpose()?,
                    ))
                    .await?
                    .check()?;
                let ids: Vec<String> = res.take(0)?;
                ids.into_iter().next().ok_or(ChatError::NoConversation)?
            }
            Err(e) => return Err(e.into()),
        };
        let row = self.load(&id).await?;
        let presence = presence::of(&self.presence, &row.seller).await;
        Ok(row.view(Side::Buyer, Some(presence)))
    }

    /// A product buyers can see (active, not in the bin), or 422.
    async fn product(&self, meta: &RequestMeta, id: &str) -> Result<Product> {
        let found = self
            .call::<GetProductsByIds>(
                meta,
                &ProductIds {
                    ids: vec![id.to_owned()],
                },
            )
            .await?;
        found
            .items
            .into_iter()
            .find(|p| p.shown_to_buyers())
            .ok_or_else(|| {
                ChatError::Invalid(ErrorEnvelope::validation(vec![
                    bazaar_subjects::FieldError {
                        field: "product_id".into(),
                        message: "there is no such product".into(),
                    },
                ]))
            })
    }

    /// The caller's conversations, newest activity first.
    pub async fn list(&self, caller: &Caller, q: &ListConversations) -> Result<Conversations> {
        let me = me(caller)?;
        let limit = validate::limit(q.limit, 20)?;
        let before = q.before.as_deref().map(validate::cursor_time).transpose()?;
        if q.all && !me.admin {
            return Err(ChatError::NotParticipant);
        }
        let scope = if q.all {
            "true"
        } else {
            match q.side {
                Some(Side::Buyer) => "buyer = $me",
                Some(Side::Seller) => "seller = $me",
                Some(Side::Admin) => "$me IN admins",
                None => "(buyer = $me OR seller = $me)",
            }
        };
        let unread = if q.unread_only {
            " AND ((buyer = $me AND buyer_read < last_seq) OR (seller = $me AND seller_read < last_seq))"
        } else {
            ""
        };
        let page = if before.is_some() {
            " AND active_at < <datetime>$before"
        } else {
            ""
        };
        let mut res = self
            .db
            .query(format!(
                "SELECT {CONVERSATION_FIELDS}, active_at AS sort_at FROM conversation
                 WHERE {scope}{unread}{page}
                 ORDER BY sort_at DESC LIMIT $limit;
                 SELECT math::sum(last_seq) AS seqs, math::sum(buyer_read) AS reads
                 FROM conversation WHERE buyer = $me GROUP ALL;
                 SELECT math::sum(last_seq) AS seqs, math::sum(seller_read) AS reads
                 FROM conversation WHERE seller = $me GROUP ALL;"
            ))
            .bind(("me", me.id.to_owned()))
            .bind(("before", before))
            .bind(("limit", limit + 1))
            .await?
            .check()?;
        let mut rows: Vec<ConversationRow> = take_rows(&mut res, 0)?;
        let mut unread = 0;
        for side in [1, 2] {
            #[derive(Deserialize)]
            struct Sums {
                seqs: i64,
                reads: i64,
            }
            if let Some(s) = take_rows::<Sums>(&mut res, side)?.into_iter().next() {
                unread += (s.seqs - s.reads).max(0);
            }
        }
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_before = more
            .then(|| rows.last().map(|r| r.active_at.clone()))
            .flatten();
        let conversations = rows
            .into_iter()
            .map(|r| {
                let side = r.side_of(me.id, me.admin).unwrap_or(Side::Admin);
                r.view(side, None)
            })
            .collect();
        Ok(Conversations {
            conversations,
            unread,
            next_before,
        })
    }

    /// A page of one conversation's messages, oldest first.
    pub async fn messages(&self, caller: &Caller, q: &ListMessages) -> Result<Messages> {
        let (row, side) = self.joined(caller, &q.conversation).await?;
        let limit = validate::limit(q.limit, 50)?;
        let (filter, order) = match (q.before, q.after) {
            (_, Some(_)) => (
                "AND seq > $after AND ($before = NONE OR seq < $before)",
                "ASC",
            ),
            (Some(_), None) => ("AND seq < $before", "DESC"),
            (None, None) => ("", "DESC"),
        };
        let mut res = self
            .db
            .query(format!(
                "SELECT {MESSAGE_FIELDS} FROM chat_message WHERE conversation = $c {filter}
                 ORDER BY seq {order} LIMIT $limit"
            ))
            .bind(("c", row.id.clone()))
            .bind(("before", q.before))
            .bind(("after", q.after))
            .bind(("limit", limit))
            .await?
            .check()?;
        let mut messages: Vec<Message> = take_rows::<MessageRow>(&mut res, 0)?
            .into_iter()
            .map(Message::from)
            .collect();
        messages.sort_by_key(|m| m.seq);
        let has_older = messages.first().is_some_and(|m| m.seq > 1);
        let other = row.counterpart(side).to_owned();
        let presence = presence::of(&self.presence, &other).await;
        Ok(Messages {
            conversation: row.view(side, Some(presence)),
            messages,
            has_older,
        })
    }

    /// Posts a message: validated, rate-limited, stored with the next
    /// sequence, then announced and delivered. A retried send (same
    /// `client_id`) answers with the message it stored the first time.
    pub async fn send(&self, req: &Request<SendMessage>) -> Result<Message> {
        let me = me(&req.caller)?;
        let body = &req.body;
        validate::client_id(&body.client_id)?;
        let (row, side) = self.joined(&req.caller, &body.conversation).await?;
        if side == Side::Admin && !row.admins.iter().any(|a| a == me.id) {
            return Err(ChatError::JoinFirst);
        }
        if let Some(earlier) = self.by_client_id(&row.id, me.id, &body.client_id).await? {
            return Ok(earlier);
        }
        if row.blocked_by.is_some() {
            return Err(ChatError::Blocked);
        }
        let content = self.body(&req.onward(), me.id, &body.body).await?;
        self.check_rate(me.id).await?;
        let kind = match &content {
            MessageBody::Text { .. } => "text",
            MessageBody::Image { .. } => "image",
            MessageBody::Product { .. } => "product",
        };
        let stored = retry_transaction(ATTEMPTS, || async {
            let result = self
                .db
                .query(send_sql(side))
                .bind(("id", row.id.clone()))
                .bind(("me", me.id.to_owned()))
                .bind(("name", row.author_name(side)))
                .bind(("side", side_name(side)))
                .bind(("cid", body.client_id.clone()))
                .bind(("kind", kind))
                .bind(("body", serde_json::to_value(&content)?))
                .bind(("preview", preview(&content)))
                .bind(("shop_id", row.shop_id.clone()))
                .bind(("subject", <MessageSent as bazaar_subjects::Event>::SUBJECT))
                .await;
            let mut res = committed(result)?;
            let last = bazaar_schema::before_commit(&res);
            Ok::<_, ChatError>(take_rows::<MessageRow>(&mut res, last)?)
        })
        .await;
        let message: Message = match stored {
            Ok(rows) => rows.into_iter().next().ok_or(ChatError::NoMessage)?.into(),
            // The same send raced itself: the first one stored it.
            Err(ChatError::Transaction(TransactionError::Unique { .. })) => self
                .by_client_id(&row.id, me.id, &body.client_id)
                .await?
                .ok_or(ChatError::NoMessage)?,
            Err(e) => return Err(e),
        };
        self.outbox.written();
        deliver::frame(
            &self.nats,
            &row.participants(),
            &ServerFrame::Message {
                message: message.clone(),
            },
        )
        .await;
        for (to, account) in [(Side::Buyer, &row.buyer), (Side::Seller, &row.seller)] {
            if to == side || row.muted(to) {
                continue;
            }
            let frame = ServerFrame::Notification {
                title: format!("New message from {}", message.author_name),
                body: message.body.as_ref().map(preview).unwrap_or_default(),
                link: Some(conversation_path(to, &row.id)),
            };
            deliver::frame(&self.nats, std::slice::from_ref(account), &frame).await;
        }
        Ok(message)
    }

    /// What a message input becomes once checked: text trimmed, an image
    /// only if the author uploaded it, a product as its card.
    async fn body(
        &self,
        meta: &RequestMeta,
        author: &str,
        input: &MessageInput,
    ) -> Result<MessageBody> {
        match input {
            MessageInput::Text { text } => Ok(MessageBody::Text {
                text: validate::text("text", text)?,
            }),
            MessageInput::Image { image } => {
                let uploader = if bazaar_subjects::is_image_id(image) {
                    self.images.info(image).await.ok().and_then(|info| {
                        info.metadata
                            .get(bazaar_subjects::catalog::IMAGE_UPLOADER_KEY)
                            .cloned()
                    })
                } else {
                    None
                };
                if uploader.as_deref() != Some(author) {
                    return Err(ChatError::Invalid(ErrorEnvelope::validation(vec![
                        bazaar_subjects::FieldError {
                            field: "image".into(),
                            message: "send a picture you uploaded yourself".into(),
                        },
                    ])));
                }
                Ok(MessageBody::Image {
                    image: image.clone(),
                })
            }
            MessageInput::Product { product_id } => Ok(MessageBody::Product {
                product: product_ref(self.product(meta, product_id).await?),
            }),
        }
    }

    async fn by_client_id(
        &self,
        conversation: &str,
        author: &str,
        client_id: &str,
    ) -> Result<Option<Message>> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {MESSAGE_FIELDS} FROM chat_message
                 WHERE conversation = $c AND author = $me AND client_id = $cid LIMIT 1"
            ))
            .bind(("c", conversation.to_owned()))
            .bind(("me", author.to_owned()))
            .bind(("cid", client_id.to_owned()))
            .await?
            .check()?;
        Ok(take_rows::<MessageRow>(&mut res, 0)?
            .into_iter()
            .next()
            .map(Message::from))
    }

    /// At most `messages_per_10s` messages from one account in any ten
    /// seconds, counted from the messages themselves (indexed by author and
    /// time), so every copy of the node agrees.
    async fn check_rate(&self, author: &str) -> Result<()> {
        let mut res = self
            .db
            .query(
                "SELECT count() AS n FROM chat_message
                 WHERE author = $me AND sent_at > time::now() - 10s GROUP ALL",
            )
            .bind(("me", author.to_owned()))
            .await?
            .check()?;
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let sent = take_rows::<Count>(&mut res, 0)?.first().map_or(0, |c| c.n);
        if sent >= i64::from(self.config.messages_per_10s) {
            return Err(ChatError::TooFast {
                retry_after_secs: 10,
            });
        }
        Ok(())
    }

    /// The author changes a text message within the edit window.
    pub async fn edit(
        &self,
        caller: &Caller,
        conversation: &str,
        seq: i64,
        text: &str,
    ) -> Result<Message> {
        let text = validate::text("text", text)?;
        let (row, message) = self.own_message(caller, conversation, seq).await?;
        if !matches!(message.body, Some(MessageBody::Text { .. })) {
            return Err(ChatError::Invalid(ErrorEnvelope::validation(vec![
                bazaar_subjects::FieldError {
                    field: "text".into(),
                    message: "only text messages can be edited".into(),
                },
            ])));
        }
        let body = MessageBody::Text { text };
        let changed = self
            .change(
                &row,
                seq,
                "body = $body, edited_at = time::now()",
                Some(body.clone()),
                (seq == row.last_seq).then(|| preview(&body)),
            )
            .await?;
        Ok(changed)
    }

    /// The author deletes a message within the edit window.
    pub async fn delete(&self, caller: &Caller, conversation: &str, seq: i64) -> Result<Message> {
        let (row, _) = self.own_message(caller, conversation, seq).await?;
        self.change(
            &row,
            seq,
            "body = NONE, deleted = true",
            None,
            (seq == row.last_seq).then(|| "Message deleted".to_owned()),
        )
        .await
    }

    /// A message of the caller's that is still theirs to change.
    async fn own_message(
        &self,
        caller: &Caller,
        conversation: &str,
        seq: i64,
    ) -> Result<(ConversationRow, Message)> {
        let me = me(caller)?;
        let (row, _) = self.joined(caller, conversation).await?;
        let mut res = self
            .db
            .query(format!(
                "SELECT {MESSAGE_FIELDS}, sent_at > time::now() - {EDIT_WINDOW_SECS}s AS recent
                 FROM chat_message WHERE conversation = $c AND seq = $seq"
            ))
            .bind(("c", row.id.clone()))
            .bind(("seq", seq))
            .await?
            .check()?;
        #[derive(Deserialize)]
        struct Row {
            #[serde(flatten)]
            message: MessageRow,
            recent: bool,
        }
        let found = take_rows::<Row>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(ChatError::NoMessage)?;
        if found.message.author_id != me.id {
            return Err(ChatError::NotAuthor);
        }
        if found.message.deleted {
            return Err(ChatError::TooLate("this message was deleted"));
        }
        if !found.recent {
            return Err(ChatError::TooLate(
                "messages can be changed for 5 minutes after sending",
            ));
        }
        Ok((row, found.message.into()))
    }

    async fn change(
        &self,
        row: &ConversationRow,
        seq: i64,
        set: &str,
        body: Option<MessageBody>,
        new_preview: Option<String>,
    ) -> Result<Message> {
        let res = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 IF $preview != NONE {{
                     UPDATE type::record('conversation', $c) SET last_preview = $preview RETURN NONE;
                 }};
                 UPDATE chat_message SET {set} WHERE conversation = $c AND seq = $seq RETURN NONE;
                 SELECT {MESSAGE_FIELDS} FROM chat_message WHERE conversation = $c AND seq = $seq;
                 COMMIT TRANSACTION;"
            ))
            .bind(("c", row.id.clone()))
            .bind(("seq", seq))
            .bind(("body", body.as_ref().map(serde_json::to_value).transpose()?))
            .bind(("preview", new_preview))
            .await;
        let mut res = committed(res)?;
        let last = bazaar_schema::before_commit(&res);
        let message: Message = take_rows::<MessageRow>(&mut res, last)?
            .into_iter()
            .next()
            .ok_or(ChatError::NoMessage)?
            .into();
        deliver::frame(
            &self.nats,
            &row.participants(),
            &ServerFrame::Message {
                message: message.clone(),
            },
        )
        .await;
        Ok(message)
    }

    /// The caller has seen the conversation up to `seq`: their read mark
    /// moves forward (never back) and the others get a "seen" receipt.
    pub async fn read(
        &self,
        caller: &Caller,
        conversation: &str,
        seq: i64,
    ) -> Result<Conversation> {
        let me = me(caller)?;
        let (row, side) = self.joined(caller, conversation).await?;
        let field = match side {
            Side::Buyer => "buyer",
            Side::Seller => "seller",
            Side::Admin => return Ok(row.view(side, None)),
        };
        let seq = seq.clamp(0, row.last_seq);
        self.db
            .query(format!(
                "UPDATE type::record('conversation', $c) SET
                     {field}_read = math::max([{field}_read, $seq]),
                     {field}_unread_since = IF $seq >= last_seq THEN NONE ELSE {field}_unread_since END
                 RETURN NONE"
            ))
            .bind(("c", row.id.clone()))
            .bind(("seq", seq))
            .await?
            .check()?;
        let others = row.others(me.id);
        deliver::frame(
            &self.nats,
            &others,
            &ServerFrame::Read {
                conversation: row.id.clone(),
                account_id: me.id.to_owned(),
                seq,
            },
        )
        .await;
        let row = self.load(&row.id).await?;
        Ok(row.view(side, None))
    }

    /// The caller is typing: the others are told; nothing is stored.
    pub async fn typing(&self, caller: &Caller, conversation: &str) -> Result<Empty> {
        let me = me(caller)?;
        let (row, side) = self.joined(caller, conversation).await?;
        if row.blocked_by.is_some() {
            return Err(ChatError::Blocked);
        }
        let others = row.others(me.id);
        deliver::frame(
            &self.nats,
            &others,
            &ServerFrame::Typing {
                conversation: row.id.clone(),
                account_id: me.id.to_owned(),
                name: row.author_name(side),
            },
        )
        .await;
        Ok(Empty {})
    }

    /// Mute (no reminder emails, no notifications) or unmute.
    pub async fn mute(&self, caller: &Caller, flag: &ConversationFlag) -> Result<Conversation> {
        let (row, side) = self.joined(caller, &flag.conversation).await?;
        let field = match side {
            Side::Buyer => "buyer_muted",
            Side::Seller => "seller_muted",
            Side::Admin => return Err(ChatError::NotParticipant),
        };
        self.db
            .query(format!(
                "UPDATE type::record('conversation', $c) SET {field} = $on RETURN NONE"
            ))
            .bind(("c", row.id.clone()))
            .bind(("on", flag.on))
            .await?
            .check()?;
        Ok(self.load(&row.id).await?.view(side, None))
    }

    /// Block the other side (no new messages either way) or lift one's own
    /// block; a block set by the other side stays theirs to lift.
    pub async fn block(&self, caller: &Caller, flag: &ConversationFlag) -> Result<Conversation> {
        let (row, side) = self.joined(caller, &flag.conversation).await?;
        if side == Side::Admin {
            return Err(ChatError::NotParticipant);
        }
        let sql = if flag.on {
            "UPDATE type::record('conversation', $c) SET blocked_by = blocked_by ?? $side RETURN NONE"
        } else {
            "UPDATE type::record('conversation', $c) SET blocked_by = NONE
             WHERE blocked_by = $side RETURN NONE"
        };
        self.db
            .query(sql)
            .bind(("c", row.id.clone()))
            .bind(("side", side_name(side)))
            .await?
            .check()?;
        Ok(self.load(&row.id).await?.view(side, None))
    }

    /// A participant reports a conversation to the admins.
    pub async fn report(&self, caller: &Caller, r: &ReportConversation) -> Result<Report> {
        let me = me(caller)?;
        let reason = validate::reason(&r.reason)?;
        let (row, _) = self.joined(caller, &r.conversation).await?;
        let mut res = self
            .db
            .query(format!(
                "CREATE chat_report CONTENT {{ conversation: $c, reporter: $me, reason: $reason }}
                 RETURN {REPORT_FIELDS}"
            ))
            .bind(("c", row.id))
            .bind(("me", me.id.to_owned()))
            .bind(("reason", reason))
            .await?
            .check()?;
        take_rows::<Report>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(ChatError::NoConversation)
    }

    /// Open reports oldest first (the queue), or resolved ones newest first.
    pub async fn reports(&self, resolved: bool) -> Result<Reports> {
        let (status, order) = if resolved {
            ("resolved", "resolved_at DESC")
        } else {
            ("open", "created_at ASC")
        };
        let mut res = self
            .db
            .query(format!(
                "SELECT {REPORT_FIELDS}, created_at, resolved_at FROM chat_report
                   WHERE status = $status ORDER BY {order} LIMIT 500"
            ))
            .bind(("status", status))
            .await?
            .check()?;
        Ok(Reports {
            reports: take_rows(&mut res, 0)?,
        })
    }

    /// An admin resolves a report, saying what was done; the audit row is
    /// written in the same transaction.
    pub async fn resolve_report(&self, req: &Request<ResolveReport>) -> Result<Report> {
        let me = me(&req.caller)?;
        let id = req.body.id.trim().to_owned();
        let resolution = validate::resolution(&req.body.resolution)?;
        let record = Audit::new(
            me.id,
            "chat_report.resolve",
            "chat_report",
            &id,
            &req.request_id,
        )
        .with_reason(&resolution);
        let snapshot = |var: &str| {
            format!(
                "LET {var} = (SELECT conversation, reporter, reason, status, resolution \
                 FROM type::record('chat_report', $id))[0];"
            )
        };
        let result = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 {before}
                 IF $before = NONE {{ THROW 'no_such_report'; }};
                 IF $before.status = 'resolved' {{ THROW 'resolved_already'; }};
                 UPDATE type::record('chat_report', $id) SET status = 'resolved',
                     resolved_at = time::now(), resolved_by = $admin, resolution = $resolution
                     RETURN NONE;
                 {after}
                 {record}
                 COMMIT TRANSACTION;",
                before = snapshot("$before"),
                after = snapshot("$after"),
                record = audit::RECORD,
            ))
            .bind(("id", id.clone()))
            .bind(("admin", me.id.to_owned()))
            .bind(("resolution", resolution))
            .bind(record.bind())
            .await;
        if let Err(e) = committed(result) {
            return Err(match e.thrown() {
                Some("no_such_report") => ChatError::NoReport,
                Some("resolved_already") => ChatError::TooLate("this report is resolved already"),
                _ => ChatError::Transaction(e),
            });
        }
        let mut res = self
            .db
            .query(format!(
                "SELECT {REPORT_FIELDS} FROM type::record('chat_report', $id)"
            ))
            .bind(("id", id))
            .await?
            .check()?;
        tracing::info!("chat report resolved");
        take_rows::<Report>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(ChatError::NoReport)
    }

    /// An admin joins: from now on they receive its frames and may post.
    pub async fn join(&self, caller: &Caller, conversation: &str) -> Result<Conversation> {
        let me = me(caller)?;
        let row = self.load(conversation).await?;
        self.db
            .query(
                "UPDATE type::record('conversation', $c) SET admins = array::union(admins, [$me])
                 RETURN NONE",
            )
            .bind(("c", row.id.clone()))
            .bind(("me", me.id.to_owned()))
            .await?
            .check()?;
        Ok(self.load(&row.id).await?.view(Side::Admin, None))
    }

    /// What a reconnecting client missed: per cursor, the messages after it
    /// (only in conversations the caller takes part in).
    pub async fn catch_up(&self, caller: &Caller, q: &CatchUp) -> Result<Missed> {
        if q.cursors.len() > MAX_CURSORS {
            return Err(ChatError::Invalid(ErrorEnvelope::validation(vec![
                bazaar_subjects::FieldError {
                    field: "cursors".into(),
                    message: "send at most 200 cursors".into(),
                },
            ])));
        }
        let mut messages = Vec::new();
        for cursor in &q.cursors {
            let page = self
                .messages(
                    caller,
                    &ListMessages {
                        conversation: cursor.conversation.clone(),
                        before: None,
                        after: Some(cursor.seq),
                        limit: Some(MAX_MISSED.min(chat::MAX_PAGE)),
                    },
                )
                .await?;
            messages.extend(page.messages);
        }
        Ok(Missed { messages })
    }

    /// A shop's mean first-response time over its answered conversations.
    pub async fn response_time(&self, shop_id: &str) -> Result<ResponseTime> {
        let mut res = self
            .db
            .query(
                "SELECT count() AS answered, math::mean(first_response_secs) AS average
                 FROM conversation WHERE shop_id = $shop AND first_response_secs != NONE
                 GROUP ALL",
            )
            .bind(("shop", shop_id.to_owned()))
            .await?
            .check()?;
        #[derive(Deserialize)]
        struct Row {
            answered: i64,
            average: Option<f64>,
        }
        let row = take_rows::<Row>(&mut res, 0)?.into_iter().next();
        Ok(match row {
            Some(r) if r.answered > 0 => ResponseTime {
                answered: r.answered,
                average_secs: r.average.map(|a| a.round() as i64),
            },
            _ => ResponseTime {
                answered: 0,
                average_secs: None,
            },
        })
    }

    /// The caller came online or went offline: the people they talk to
    /// (their 200 most recent conversations) are told.
    pub async fn announce(&self, caller: &Caller, online: bool) -> Result<Empty> {
        let me = me(caller)?;
        let mut res = self
            .db
            .query(
                "SELECT buyer, seller, active_at FROM conversation
                 WHERE buyer = $me OR seller = $me ORDER BY active_at DESC LIMIT 200",
            )
            .bind(("me", me.id.to_owned()))
            .await?
            .check()?;
        #[derive(Deserialize)]
        struct Pair {
            buyer: String,
            seller: String,
        }
        let mut partners: Vec<String> = take_rows::<Pair>(&mut res, 0)?
            .into_iter()
            .map(|p| if p.buyer == me.id { p.seller } else { p.buyer })
            .collect();
        partners.sort();
        partners.dedup();
        let presence = presence::of(&self.presence, me.id).await;
        deliver::frame(
            &self.nats,
            &partners,
            &ServerFrame::Presence {
                account_id: me.id.to_owned(),
                online,
                last_seen: presence.last_seen.or_else(|| Some(now_rfc3339())),
            },
        )
        .await;
        Ok(Empty {})
    }
}

/// The statements that store one message from `side` and return it: the
/// conversation's sequence is bumped and read in the same transaction, so
/// two senders racing get consecutive sequences (the loser retries).
fn send_sql(side: Side) -> String {
    let marks = match side {
        Side::Buyer => {
            "buyer_read = $seq, buyer_unread_since = NONE,
             seller_unread_since = seller_unread_since ?? time::now(),
             buyer_first_at = buyer_first_at ?? time::now()"
        }
        Side::Seller => {
            "seller_read = $seq, seller_unread_since = NONE,
             buyer_unread_since = buyer_unread_since ?? time::now(),
             first_response_secs = IF first_response_secs = NONE AND buyer_first_at != NONE
                 THEN duration::secs(time::now() - buyer_first_at) ELSE first_response_secs END"
        }
        Side::Admin => {
            "buyer_unread_since = buyer_unread_since ?? time::now(),
             seller_unread_since = seller_unread_since ?? time::now()"
        }
    };
    format!(
        "BEGIN TRANSACTION;
         LET $seq = (UPDATE ONLY type::record('conversation', $id) SET last_seq += 1,
             last_preview = $preview, last_message_at = time::now(), active_at = time::now()
             RETURN VALUE last_seq);
         UPDATE type::record('conversation', $id) SET {marks} RETURN NONE;
         CREATE chat_message CONTENT {{
             conversation: $id, seq: $seq, author: $me, author_name: $name,
             author_side: $side, client_id: $cid, kind: $kind, body: $body
         }} RETURN NONE;
         -- `MessageSent`, written with the message (see the outbox).
         LET $sent = (SELECT VALUE <string>sent_at FROM chat_message WHERE conversation = $id AND seq = $seq)[0];
         LET $event_id = 'chat-' + $id + '-' + <string>$seq;
         LET $event = {{ conversation: $id, seq: $seq, shop_id: $shop_id, author_id: $me,
             author_side: $side, kind: $kind, at: $sent }};
         {WRITE_ONE}
         SELECT {MESSAGE_FIELDS} FROM chat_message WHERE conversation = $id AND seq = $seq;
         COMMIT TRANSACTION;"
    )
}

/// How a side names itself in the database.
pub(crate) fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buyer => "buyer",
        Side::Seller => "seller",
        Side::Admin => "admin",
    }
}

/// Where a side reads a conversation on the site.
pub(crate) fn conversation_path(side: Side, id: &str) -> String {
    match side {
        Side::Buyer => format!("/messages/{id}"),
        Side::Seller => format!("/seller/messages/{id}"),
        Side::Admin => format!("/admin/messages/{id}"),
    }
}

fn product_ref(p: Product) -> ProductRef {
    ProductRef {
        id: p.id,
        slug: p.slug,
        title: p.title,
        image: p.images.into_iter().next(),
        price: p.price,
        currency: p.currency,
    }
}
