//! What form pages share: reading a multipart post, a refused form's
//! messages by field, and the options of a select.

use axum::extract::Multipart;
use bazaar_subjects::ErrorEnvelope;

use crate::api::images::field_bytes;
use crate::error::ApiError;

/// A multipart form as posted: its text fields in order, and the file
/// parts that carried bytes.
pub(crate) struct Posted {
    pub fields: Vec<(String, String)>,
    pub files: Vec<PostedFile>,
}

/// One file part of a multipart form.
pub(crate) struct PostedFile {
    /// The form field it came in.
    pub field: String,
    /// The name the browser gave the file, if any.
    pub file_name: Option<String>,
    pub bytes: bytes::Bytes,
}

/// Reads a multipart form whole: the parts named in `file_fields` are
/// files (a file input left empty still sends an empty part, which is
/// dropped), the others text. A body over the route's limit is a 413.
pub(crate) async fn read_multipart(
    mut multipart: Multipart,
    file_fields: &[&str],
) -> Result<Posted, ApiError> {
    let mut posted = Posted {
        fields: Vec::new(),
        files: Vec::new(),
    };
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        ApiError(ErrorEnvelope::bad_request(e.body_text()))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if file_fields.contains(&name.as_str()) {
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field_bytes(field).await?;
            if !bytes.is_empty() {
                posted.files.push(PostedFile {
                    field: name,
                    file_name,
                    bytes,
                });
            }
        } else {
            posted
                .fields
                .push((name, field.text().await.map_err(unreadable)?));
        }
    }
    Ok(posted)
}

/// Why a node refused, in one line for a form: its first field's message,
/// else its message.
pub(crate) fn reason(e: &ErrorEnvelope) -> String {
    e.fields
        .first()
        .map_or(e.message.clone(), |f| f.message.clone())
}

/// A refused form's messages by field name, in the order they came.
#[derive(Default)]
pub(crate) struct FieldErrors(std::collections::HashMap<String, Vec<String>>);

impl FieldErrors {
    pub(crate) fn from_envelope(e: &ErrorEnvelope) -> Self {
        let mut errors = Self::default();
        for f in &e.fields {
            errors.add(&f.field, &f.message);
        }
        errors
    }

    pub(crate) fn add(&mut self, field: &str, message: &str) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some message names a field not in `known`.
    pub(crate) fn any_outside(&self, known: &[&str]) -> bool {
        self.0.keys().any(|k| !known.contains(&k.as_str()))
    }

    pub(crate) fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The field's messages as one line (several joined by `; `).
    pub(crate) fn message(&self, field: &str) -> Option<String> {
        self.0.get(field).map(|m| m.join("; "))
    }

    /// The field's messages one by one.
    pub(crate) fn messages(&self, field: &str) -> &[String] {
        self.0.get(field).map_or(&[], Vec::as_slice)
    }
}

/// An option of a select: value, label, selected.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub(crate) fn new(value: &str, label: &str, current: &str) -> Self {
        Self {
            value: value.to_owned(),
            label: label.to_owned(),
            selected: value == current,
        }
    }
}

/// A group of subcategory options under their category's name.
pub(crate) struct ChoiceGroup {
    pub label: String,
    pub choices: Vec<Choice>,
}
