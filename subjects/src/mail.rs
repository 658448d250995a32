//! The mail domain: every email goes through the mail node's durable work queue.
//!
//! Other nodes publish a [`SendEmail`] job to JetStream; the mail node renders
//! it from templates (HTML + plain text) and delivers it (SMTP, or files in the
//! data dir on one box), retrying with backoff. The job's `id` is its
//! `Nats-Msg-Id`, so a retried publish queues one email, not two.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Domain, Empty, Endpoint, Job, Stream};

/// The mail work queue: `jobs.mail.>` (work-queue retention: a job is gone once sent).
pub const JOBS: Stream = Stream {
    name: "MAIL_JOBS",
    subjects: "jobs.mail.>",
};

/// Why a one-time code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    /// Confirming the email address of a new account.
    SignUp,
    /// Resetting a forgotten password.
    PasswordReset,
}

/// What to say; the mail node owns the wording and layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Email {
    /// A 6-digit one-time code.
    OneTimeCode {
        name: String,
        code: String,
        purpose: CodePurpose,
        /// Minutes until the code expires.
        valid_minutes: u32,
    },
    /// Someone tried to sign up with an address that already has an account.
    AlreadyRegistered { name: String },
    /// The password was changed or reset.
    PasswordChanged { name: String },
    /// A buyer's order was placed (one email per shop's order).
    OrderPlaced {
        name: String,
        number: String,
        shop: String,
        /// Formatted, e.g. `12.99 USD`.
        total: String,
        /// e.g. `2 × Studio Headphones`.
        items: Vec<String>,
        link: String,
    },
    /// A buyer's order moved on (packed, shipped, delivered, cancelled …).
    OrderUpdate {
        name: String,
        number: String,
        /// e.g. `Shipped`.
        status: String,
        link: String,
    },
    /// A seller got a new order.
    NewOrder {
        shop: String,
        number: String,
        total: String,
        items: Vec<String>,
        link: String,
    },
    /// A chat message waited unread while its recipient was away.
    ChatUnread {
        name: String,
        /// Who wrote: a shop's name, or the buyer's.
        from: String,
        /// The first words of the newest message.
        preview: String,
        link: String,
    },
}

/// `jobs.mail.send`: send one email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEmail {
    /// Unique per email; also the JetStream dedupe id.
    pub id: String,
    pub to: String,
    pub email: Email,
}
impl Job for SendEmail {
    const STREAM: Stream = JOBS;
    const SUBJECT: &'static str = "jobs.mail.send";
}

/// One delivered message, as the one-box mailbox shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MailboxMessage {
    pub id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// RFC 3339.
    pub sent_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mailbox {
    /// Newest first.
    pub messages: Vec<MailboxMessage>,
}

/// `mail.mailbox.list`: the messages written to the data dir (only served by
/// `bazaar dev` when no SMTP server is configured, so a newcomer can finish
/// sign-up without one).
pub struct ListMailbox;
impl Endpoint for ListMailbox {
    const SUBJECT: &'static str = "mail.mailbox.list";
    const DOMAIN: Domain = Domain::Mail;
    const ACCESS: Access = Access::Public;
    type Request = Empty;
    type Reply = Mailbox;
}
