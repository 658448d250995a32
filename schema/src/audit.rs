//! The audit log: one row per admin action, written in the same transaction
//! as the change it records.
//!
//! Changes live in different nodes (accounts in auth, categories and site
//! settings in admin, …), all on one SurrealDB, so each node writes its own
//! row into the shared `audit` table inside its own transaction, and the
//! admin node reads the table. A change that commits has its row; one that
//! fails has none. The table is append-only (see migration 0011).
//!
//! A transaction binds `$audit` ([`Audit::bind`]) and `$before` / `$after`
//! (the target as it was and as it is, read inside the transaction) and runs
//! [`RECORD`] after the change.

use serde::Serialize;

/// The statement that records the action: run inside the transaction, after
/// `$before` and `$after` are set (either may be `NONE`).
pub const RECORD: &str = "CREATE audit SET admin = $audit.admin, action = $audit.action, \
     target_kind = $audit.target_kind, target = $audit.target, before = $before, \
     after = $after, reason = $audit.reason, request_id = $audit.request_id RETURN NONE;";

/// Who did what to what, and why: the part of an audit row the node knows
/// before the transaction runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// The acting admin's account id.
    pub admin: String,
    /// e.g. `account.ban`, `category.upsert`.
    pub action: String,
    /// e.g. `account`, `category`, `site`.
    pub target_kind: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub request_id: String,
}

impl Audit {
    pub fn new(
        admin: impl Into<String>,
        action: &str,
        target_kind: &str,
        target: impl Into<String>,
        request_id: impl Into<String>,
    ) -> Self {
        Self {
            admin: admin.into(),
            action: action.to_owned(),
            target_kind: target_kind.to_owned(),
            target: target.into(),
            reason: None,
            request_id: request_id.into(),
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// `$audit` for [`RECORD`], as a query binding.
    pub fn bind(&self) -> (&'static str, serde_json::Value) {
        ("audit", serde_json::to_value(self).unwrap_or_default())
    }
}
