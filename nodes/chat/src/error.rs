//! What can go wrong in the chat domain, and how each failure is answered.

use bazaar_schema::TransactionError;
use bazaar_subjects::{ErrorCode, ErrorEnvelope};

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// 401
    #[error("not signed in")]
    SignedOut,
    /// 404: no such conversation (or message).
    #[error("no such conversation")]
    NoConversation,
    #[error("no such message")]
    NoMessage,
    #[error("no such report")]
    NoReport,
    /// 404: no shop with that slug.
    #[error("no such shop")]
    NoShop,
    /// 403: the caller takes no part in the conversation.
    #[error("not a participant")]
    NotParticipant,
    /// 403: one side blocked the other.
    #[error("blocked")]
    Blocked,
    /// 403: an admin posts only after joining.
    #[error("join first")]
    JoinFirst,
    /// 403: only the author changes a message.
    #[error("not the author")]
    NotAuthor,
    /// 409: the five minutes to change a message are over, or it is deleted.
    #[error("too late")]
    TooLate(&'static str),
    /// 429: too many messages in a short time.
    #[error("slow down")]
    TooFast { retry_after_secs: u64 },
    /// 422: invalid input, per field.
    #[error("invalid input")]
    Invalid(ErrorEnvelope),
    /// Another node's answer, passed on as it came.
    #[error("{}", .0.message)]
    Upstream(ErrorEnvelope),
    /// 500: the database failed (boxed: its errors are large).
    #[error(transparent)]
    Db(Box<surrealdb::Error>),
    #[error(transparent)]
    Schema(Box<bazaar_schema::SchemaError>),
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

impl From<surrealdb::Error> for ChatError {
    fn from(e: surrealdb::Error) -> Self {
        ChatError::Db(Box::new(e))
    }
}

impl From<bazaar_schema::SchemaError> for ChatError {
    fn from(e: bazaar_schema::SchemaError) -> Self {
        ChatError::Schema(Box::new(e))
    }
}

impl From<serde_json::Error> for ChatError {
    fn from(e: serde_json::Error) -> Self {
        ChatError::from(bazaar_schema::SchemaError::from(e))
    }
}

impl bazaar_schema::Retryable for ChatError {
    fn is_retryable(&self) -> bool {
        matches!(self, ChatError::Transaction(e) if e.is_retryable())
    }
}

impl From<ChatError> for ErrorEnvelope {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::SignedOut => ErrorEnvelope::unauthorized("sign in to do this"),
            ChatError::NoConversation => ErrorEnvelope::not_found("there is no such conversation"),
            ChatError::NoMessage => ErrorEnvelope::not_found("there is no such message"),
            ChatError::NoReport => ErrorEnvelope::not_found("there is no such report"),
            ChatError::NoShop => ErrorEnvelope::not_found("there is no such shop"),
            ChatError::NotParticipant => {
                ErrorEnvelope::forbidden("you take no part in this conversation")
            }
            ChatError::Blocked => ErrorEnvelope::forbidden(
                "this conversation is blocked: no new messages can be sent",
            ),
            ChatError::JoinFirst => {
                ErrorEnvelope::forbidden("join the conversation before writing in it")
            }
            ChatError::NotAuthor => {
                ErrorEnvelope::forbidden("only its author can change a message")
            }
            ChatError::TooLate(why) => ErrorEnvelope::conflict(why),
            ChatError::TooFast { retry_after_secs } => ErrorEnvelope::rate_limited(
                format!("you are sending messages too fast: wait {retry_after_secs} seconds"),
                retry_after_secs,
            ),
            ChatError::Invalid(envelope) | ChatError::Upstream(envelope) => envelope,
            other => bazaar_runtime::internal(other),
        }
    }
}

/// A refusal from another node, passed on (404 stays 404, 503 stays 503).
pub(crate) fn upstream(e: ErrorEnvelope) -> ChatError {
    if e.code == ErrorCode::Validation {
        ChatError::Invalid(e)
    } else {
        ChatError::Upstream(e)
    }
}
