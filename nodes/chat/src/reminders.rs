//! Reminder emails: a message that waited unread for the configured time
//! (15 minutes by default) while its recipient was offline brings them an
//! email, at most one per conversation per hour, never for a muted side.
//!
//! Every copy of the node runs the loop; a reminder is claimed by setting
//! the conversation's `reminded_at` on the condition that it is old, in the
//! transaction that writes its email into the outbox, so two copies never
//! send the same one and a claimed reminder is never lost.

use std::time::Duration;

use bazaar_outbox::WRITE_ONE;
use bazaar_runtime::{RequestMeta, Shutdown};
use bazaar_schema::take_rows;
use bazaar_subjects::auth::{AccountRef, GetContact};
use bazaar_subjects::chat::Side;
use bazaar_subjects::mail::{Email, SendEmail};

use crate::rows::{CONVERSATION_FIELDS, ConversationRow};
use crate::store::conversation_path;
use crate::{ChatError, ChatStore, presence};

/// Looks for overdue unread messages every `tick` until `shutdown`.
pub(crate) async fn run(store: ChatStore, tick: Duration, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
        for side in [Side::Seller, Side::Buyer] {
            if let Err(e) = remind(&store, side).await {
                tracing::warn!(error = %e, "chat reminders failed; trying again");
            }
        }
    }
}

async fn remind(store: &ChatStore, side: Side) -> Result<(), ChatError> {
    let name = crate::store::side_name(side);
    let after = store.config.reminder_after_secs;
    let every = store.config.reminder_every_secs;
    let mut res = store
        .db
        .query(format!(
            "SELECT {CONVERSATION_FIELDS} FROM conversation
             WHERE {name}_unread_since != NONE AND {name}_unread_since < time::now() - {after}s
                 AND {name}_muted = false
                 AND (reminded_at = NONE OR reminded_at < time::now() - {every}s)
             LIMIT 100"
        ))
        .await?
        .check()?;
    let due: Vec<ConversationRow> = take_rows(&mut res, 0)?;
    for row in due {
        let recipient = match side {
            Side::Seller => row.seller.clone(),
            _ => row.buyer.clone(),
        };
        if presence::of(&store.presence, &recipient).await.online {
            continue;
        }
        let contact = bazaar_runtime::call::<GetContact>(
            &store.nats,
            &RequestMeta {
                request_id: uuid::Uuid::now_v7().to_string(),
                authorization: None,
            },
            &AccountRef {
                account_id: recipient,
            },
            Duration::from_secs(10),
        )
        .await
        .map_err(ChatError::Upstream)?;
        let from = match side {
            Side::Seller => row.buyer_name.clone(),
            _ => row.shop_name.clone(),
        };
        let link = format!(
            "{}{}",
            store.config.public_url.trim_end_matches('/'),
            conversation_path(side, &row.id)
        );
        let email = Email::ChatUnread {
            name: contact.name,
            from,
            preview: row.last_preview.clone().unwrap_or_default(),
            link,
        };
        // Claim it and queue the email in one transaction: only the copy
        // whose update matched writes the email (see the outbox), and a
        // claim never goes without its email.
        let result = store
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 LET $claimed = UPDATE type::record('conversation', $c) SET reminded_at = time::now()
                     WHERE reminded_at = NONE OR reminded_at < time::now() - {every}s
                     RETURN VALUE <string>reminded_at;
                 IF array::len($claimed) > 0 {{
                     LET $event_id = 'chat-reminder-' + $c + '-' + $claimed[0];
                     LET $event = {{ id: $event_id, to: $to, email: $email }};
                     {WRITE_ONE}
                 }};
                 COMMIT TRANSACTION;"
            ))
            .bind(("c", row.id.clone()))
            .bind(("subject", <SendEmail as bazaar_subjects::Job>::SUBJECT))
            .bind(("to", contact.email))
            .bind(("email", serde_json::to_value(&email)?))
            .await;
        bazaar_schema::transaction_errors(result)?;
        store.outbox.written();
    }
    Ok(())
}
