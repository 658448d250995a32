//! Checks on what people send, with messages a person can act on.

use bazaar_subjects::chat::{MAX_PAGE, MAX_TEXT_CHARS};
use bazaar_subjects::{ErrorEnvelope, Validator};

use crate::ChatError;

/// A message's text: trimmed, 1 to 4,000 characters.
pub(crate) fn text(field: &str, text: &str) -> Result<String, ChatError> {
    let trimmed = text.trim();
    let mut v = Validator::default();
    v.check(!trimmed.is_empty(), field, "write something first");
    v.check(
        trimmed.chars().count() <= MAX_TEXT_CHARS,
        field,
        "a message is at most 4,000 characters: split it in two",
    );
    v.finish().map_err(ChatError::Invalid)?;
    Ok(trimmed.to_owned())
}

/// A client's id for one send: 1–64 printable ASCII characters.
pub(crate) fn client_id(id: &str) -> Result<(), ChatError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic());
    let mut v = Validator::default();
    v.check(
        ok,
        "client_id",
        "give each send an id of 1–64 letters, digits or symbols",
    );
    v.finish().map_err(ChatError::Invalid)
}

/// A report's reason: 1–1,000 characters.
pub(crate) fn reason(reason: &str) -> Result<String, ChatError> {
    let trimmed = reason.trim();
    let mut v = Validator::default();
    v.check(!trimmed.is_empty(), "reason", "say what is wrong");
    v.check(
        trimmed.chars().count() <= 1000,
        "reason",
        "a reason is at most 1,000 characters",
    );
    v.finish().map_err(ChatError::Invalid)?;
    Ok(trimmed.to_owned())
}

/// What an admin did about a report: 1–500 characters.
pub(crate) fn resolution(text: &str) -> Result<String, ChatError> {
    let trimmed = text.trim();
    let mut v = Validator::default();
    v.check(
        !trimmed.is_empty() && trimmed.chars().count() <= 500,
        "resolution",
        "say what was done, in at most 500 characters",
    );
    v.finish().map_err(ChatError::Invalid)?;
    Ok(trimmed.to_owned())
}

/// A page size: 1–100, `default` when absent.
pub(crate) fn limit(limit: Option<u32>, default: u32) -> Result<u32, ChatError> {
    let limit = limit.unwrap_or(default);
    let mut v = Validator::default();
    v.check(
        (1..=MAX_PAGE).contains(&limit),
        "limit",
        "ask for between 1 and 100 at a time",
    );
    v.finish().map_err(ChatError::Invalid)?;
    Ok(limit)
}

/// An RFC 3339 time from a `before` cursor.
pub(crate) fn cursor_time(before: &str) -> Result<String, ChatError> {
    time::OffsetDateTime::parse(before, &time::format_description::well_known::Rfc3339)
        .map(|_| before.to_owned())
        .map_err(|_| {
            ChatError::Invalid(ErrorEnvelope::validation(vec![
                bazaar_subjects::FieldError {
                    field: "before".into(),
                    message: "use the next_before of the previous page".into(),
                },
            ]))
        })
}

/// A record id as this node makes them (UUID v7, 32 hex digits): anything
/// else cannot name a conversation, and is never put in a query.
pub(crate) fn is_record_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("text", "  hi  ").unwrap(), "hi");
        assert!(text("text", "   ").is_err());
        assert!(text("text", &"é".repeat(4000)).is_ok());
        assert!(text("text", &"é".repeat(4001)).is_err());
    }

    #[test]
    fn client_ids_are_short_and_printable() {
        assert!(client_id("abc-1").is_ok());
        assert!(client_id("").is_err());
        assert!(client_id("a b").is_err());
        assert!(client_id(&"x".repeat(65)).is_err());
    }
}
