//! Reading the audit log. Every node that makes an admin's change writes its
//! row in the change's own transaction (see `bazaar_schema::audit`); this
//! node only reads the shared table, by admin, action, target and time.

use bazaar_runtime::Request;
use bazaar_schema::{take_count, take_rows};
use bazaar_subjects::console::{AuditEntry, AuditPage, AuditQuery, MAX_PAGE_SIZE};
use bazaar_subjects::{ErrorEnvelope, FieldError};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use crate::{AdminError, AdminStore};

/// The most rows one query returns (what the CSV export asks for).
pub const MAX_EXPORT: u32 = 10_000;

#[derive(Deserialize)]
struct Row {
    id: String,
    at: String,
    admin: String,
    action: String,
    target_kind: String,
    target: String,
    #[serde(default)]
    before: Option<serde_json::Value>,
    #[serde(default)]
    after: Option<serde_json::Value>,
    #[serde(default)]
    reason: Option<String>,
    request_id: String,
}

fn json_text(v: Option<serde_json::Value>) -> Option<String> {
    v.filter(|v| !v.is_null()).map(|v| v.to_string())
}

fn time_field(name: &str, value: Option<&str>) -> Result<Option<String>, AdminError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => time::OffsetDateTime::parse(v, &Rfc3339)
            .map(|_| Some(v.to_owned()))
            .map_err(|_| {
                AdminError::Invalid(ErrorEnvelope::validation(vec![FieldError {
                    field: name.into(),
                    message: "enter a time like 2026-12-06T19:00:00Z".into(),
                }]))
            }),
    }
}

fn text(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(crate) async fn search(
    s: &AdminStore,
    req: Request<AuditQuery>,
) -> Result<AuditPage, AdminError> {
    let q = req.body;
    // The CSV export asks for one big page; the API's pages stay small.
    let limit = if q.per_page == Some(MAX_EXPORT) {
        MAX_EXPORT
    } else {
        q.per_page.unwrap_or(50).clamp(1, MAX_PAGE_SIZE)
    };
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let since = time_field("since", q.since.as_deref())?;
    let until = time_field("until", q.until.as_deref())?;
    let (admin, action, target) = (text(q.admin), text(q.action), text(q.target));
    let mut filters = vec!["true"];
    if admin.is_some() {
        filters.push("admin = $admin");
    }
    if action.is_some() {
        filters.push("action = $action");
    }
    if target.is_some() {
        filters.push("target = $target");
    }
    if since.is_some() {
        filters.push("at >= <datetime> $since");
    }
    if until.is_some() {
        filters.push("at < <datetime> $until");
    }
    let filter = filters.join(" AND ");
    let mut res = s
        .db()
        .query(format!(
            "SELECT record::id(id) AS id, <string> at AS at, admin, action, target_kind, target,
                    before, after, reason, request_id
             FROM audit WHERE {filter} ORDER BY at DESC, id DESC LIMIT $limit START $start;
             SELECT count() AS n FROM audit WHERE {filter} GROUP ALL;"
        ))
        .bind(("admin", admin.unwrap_or_default()))
        .bind(("action", action.unwrap_or_default()))
        .bind(("target", target.unwrap_or_default()))
        .bind(("since", since.unwrap_or_default()))
        .bind(("until", until.unwrap_or_default()))
        .bind(("limit", limit))
        .bind(("start", (page - 1) * limit))
        .await?
        .check()?;
    let entries = take_rows::<Row>(&mut res, 0)?
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            admin: r.admin,
            action: r.action,
            target_kind: r.target_kind,
            target: r.target,
            before: json_text(r.before),
            after: json_text(r.after),
            reason: r.reason,
            request_id: r.request_id,
        })
        .collect();
    let total = take_count(&mut res, 1)?;
    Ok(AuditPage {
        entries,
        total: u64::try_from(total).unwrap_or(0),
        page,
        per_page: limit,
    })
}
