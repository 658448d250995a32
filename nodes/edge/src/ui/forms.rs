//! What form pages share: a refused form's messages by field, and the
//! options of a select.

use bazaar_subjects::ErrorEnvelope;

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
