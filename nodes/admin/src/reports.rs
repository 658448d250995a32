//! The reports queue: buyers report a product, a review or a shop; admins
//! work through the open reports and resolve each, saying what was done
//! (recorded in the audit log in the same transaction).

use bazaar_runtime::Request;
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::{committed, take_rows};
use bazaar_subjects::console::{
    FileReport, ReportEntry, ReportKind, ReportList, ReportQuery, ResolveReport,
};
use bazaar_subjects::{ErrorEnvelope, FieldError};
use serde::Deserialize;

use crate::{AdminError, AdminStore};

const FIELDS: &str = "record::id(id) AS id, kind, target, reporter, reason, \
    <string> created_at AS created_at, status, \
    IF resolved_at != NONE THEN <string> resolved_at END AS resolved_at, resolved_by, resolution";

#[derive(Deserialize)]
struct Row {
    id: String,
    kind: ReportKind,
    target: String,
    reporter: String,
    reason: String,
    created_at: String,
    status: String,
    #[serde(default)]
    resolved_at: Option<String>,
    #[serde(default)]
    resolved_by: Option<String>,
    #[serde(default)]
    resolution: Option<String>,
}

impl From<Row> for ReportEntry {
    fn from(r: Row) -> Self {
        ReportEntry {
            id: r.id,
            kind: r.kind,
            target: r.target,
            reporter: r.reporter,
            reason: r.reason,
            created_at: r.created_at,
            status: r.status,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution: r.resolution,
        }
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, AdminError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(AdminError::Invalid(ErrorEnvelope::validation(vec![
            FieldError {
                field: field.into(),
                message: format!("enter 1 to {max} characters"),
            },
        ])));
    }
    Ok(value.to_owned())
}

async fn one(s: &AdminStore, id: &str) -> Result<Option<ReportEntry>, AdminError> {
    let mut res = s
        .db()
        .query(format!("SELECT {FIELDS} FROM type::record('report', $id)"))
        .bind(("id", id.to_owned()))
        .await?
        .check()?;
    Ok(take_rows::<Row>(&mut res, 0)?
        .into_iter()
        .next()
        .map(Into::into))
}

pub(crate) async fn file(
    s: &AdminStore,
    req: Request<FileReport>,
) -> Result<ReportEntry, AdminError> {
    let target = text("target", &req.body.target, 200)?;
    let reason = text("reason", &req.body.reason, 1000)?;
    let reporter = req.caller.account_id().unwrap_or_default().to_owned();
    let id = uuid::Uuid::now_v7().simple().to_string();
    s.db()
        .query(
            "CREATE type::record('report', $id) SET kind = $kind, target = $target, \
             reporter = $reporter, reason = $reason RETURN NONE",
        )
        .bind(("id", id.clone()))
        .bind(("kind", req.body.kind.name()))
        .bind(("target", target))
        .bind(("reporter", reporter))
        .bind(("reason", reason))
        .await?
        .check()?;
    tracing::info!(report = %id, kind = req.body.kind.name(), "report filed");
    one(s, &id)
        .await?
        .ok_or_else(|| AdminError::Invalid(ErrorEnvelope::internal()))
}

pub(crate) async fn list(
    s: &AdminStore,
    req: Request<ReportQuery>,
) -> Result<ReportList, AdminError> {
    let resolved = req.body.status.as_deref() == Some("resolved");
    let (status, order) = if resolved {
        ("resolved", "resolved_at DESC")
    } else {
        ("open", "created_at ASC")
    };
    let mut res = s
        .db()
        .query(format!(
            "SELECT {FIELDS} FROM report WHERE status = $status ORDER BY {order} LIMIT 500"
        ))
        .bind(("status", status))
        .await?
        .check()?;
    Ok(ReportList {
        reports: take_rows::<Row>(&mut res, 0)?
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

pub(crate) async fn resolve(
    s: &AdminStore,
    req: Request<ResolveReport>,
) -> Result<ReportEntry, AdminError> {
    let id = req.body.id.trim().to_owned();
    let resolution = text("resolution", &req.body.resolution, 500)?;
    let admin = req.caller.account_id().unwrap_or_default().to_owned();
    let record = Audit::new(&admin, "report.resolve", "report", &id, &req.request_id)
        .with_reason(&resolution);
    let snapshot = |var: &str| {
        format!(
            "LET {var} = (SELECT kind, target, reporter, reason, status, resolution \
             FROM type::record('report', $id))[0];"
        )
    };
    let result = s
        .db()
        .query(format!(
            "BEGIN TRANSACTION;
             {before}
             IF $before = NONE {{ THROW 'no_such_report'; }};
             IF $before.status = 'resolved' {{ THROW 'resolved_already'; }};
             UPDATE type::record('report', $id) SET status = 'resolved', resolved_at = time::now(),
                 resolved_by = $admin, resolution = $resolution RETURN NONE;
             {after}
             {record}
             COMMIT TRANSACTION;",
            before = snapshot("$before"),
            after = snapshot("$after"),
            record = audit::RECORD,
        ))
        .bind(("id", id.clone()))
        .bind(("admin", admin))
        .bind(("resolution", resolution))
        .bind(record.bind())
        .await;
    if let Err(e) = committed(result) {
        return Err(match e.thrown() {
            Some("no_such_report") => AdminError::NoSuchReport,
            Some("resolved_already") => AdminError::ReportResolved,
            _ => AdminError::Write(e),
        });
    }
    one(s, &id).await?.ok_or(AdminError::NoSuchReport)
}
