//! REST routes of the admin console (admins; the node that serves each
//! call checks): accounts (search, view, ban, unban, promote, their shop and
//! reviews), moderation (hide or restore a product, a review or a shop),
//! the reports queue and the audit log (search, CSV export).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::ErrorEnvelope;
use bazaar_subjects::catalog::Product;
use bazaar_subjects::console::{
    AccountId, AccountPage, AccountSearch, AccountSummary, AuditEntry, AuditPage, AuditQuery,
    BanAccount, BanRequest, GetAccount, HideProduct, ModerateRequest, PromoteAccount, Reason,
    RestoreProduct, SearchAccounts, SearchAudit, UnbanAccount, UnbanRequest,
};
use bazaar_subjects::console::{
    AuthorReviews, GetShopOfOwner, HideReview, HideShop, ListAuthorReviews, RestoreReview,
    RestoreShop,
};
use bazaar_subjects::console::{
    FileReport, FileReportEndpoint, ListReports, ReportEntry, ReportList, ReportQuery, Resolution,
    ResolveReport, ResolveReportEndpoint,
};
use bazaar_subjects::orders::{AuthoredReviews, Review};
use bazaar_subjects::sellers::{OwnedShop, Shop};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::extract::{ApiJson, FormQuery, Meta};
use crate::state::{EdgeState, Relayed};

#[derive(OpenApi)]
#[openapi(paths(
    accounts,
    account,
    ban,
    unban,
    promote,
    audit,
    audit_csv,
    hide_product,
    restore_product,
    hide_review,
    restore_review,
    hide_shop,
    restore_shop,
    account_reviews,
    account_shop,
    file_report,
    reports,
    resolve_report
))]
pub struct Doc;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/admin/accounts", get(accounts))
        .route("/api/admin/accounts/{id}", get(account))
        .route("/api/admin/accounts/{id}/ban", post(ban))
        .route("/api/admin/accounts/{id}/unban", post(unban))
        .route("/api/admin/accounts/{id}/promote", post(promote))
        .route("/api/admin/products/{id}/hide", post(hide_product))
        .route("/api/admin/products/{id}/restore", post(restore_product))
        .route("/api/admin/reviews/{id}/hide", post(hide_review))
        .route("/api/admin/reviews/{id}/restore", post(restore_review))
        .route("/api/admin/shops/{id}/hide", post(hide_shop))
        .route("/api/admin/shops/{id}/restore", post(restore_shop))
        .route("/api/admin/accounts/{id}/reviews", get(account_reviews))
        .route("/api/admin/accounts/{id}/shop", get(account_shop))
        .route("/api/reports", post(file_report))
        .route("/api/admin/reports", get(reports))
        .route("/api/admin/reports/{id}/resolve", post(resolve_report))
        .route("/api/admin/audit", get(audit))
        .route("/api/admin/audit.csv", get(audit_csv))
}

/// Accounts by email or name, role and standing, newest first (admins).
#[utoipa::path(get, path = "/api/admin/accounts", tag = "admin",
    params(AccountSearch),
    responses((status = 200, body = AccountPage), (status = 403, body = ErrorEnvelope)))]
pub async fn accounts(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<AccountSearch>,
) -> Result<Relayed<AccountPage>, ApiError> {
    s.relay::<SearchAccounts>(&meta, &q).await
}

/// One account (admins).
#[utoipa::path(get, path = "/api/admin/accounts/{id}", tag = "admin",
    params(("id" = String, Path, description = "an account id")),
    responses((status = 200, body = AccountSummary), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn account(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Relayed<AccountSummary>, ApiError> {
    s.relay::<GetAccount>(&meta, &AccountId { account_id: id })
        .await
}

/// Ban an account, saying why: its sessions end, it cannot sign in, and
/// every node refuses its access tokens within seconds (admins).
#[utoipa::path(post, path = "/api/admin/accounts/{id}/ban", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "an account id")),
    responses((status = 200, body = AccountSummary), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn ban(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<AccountSummary>, ApiError> {
    let req = BanRequest {
        account_id: id,
        reason: body.reason,
    };
    s.relay::<BanAccount>(&meta, &req).await
}

/// Lift a ban, saying why (admins).
#[utoipa::path(post, path = "/api/admin/accounts/{id}/unban", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "an account id")),
    responses((status = 200, body = AccountSummary), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn unban(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<AccountSummary>, ApiError> {
    let req = UnbanRequest {
        account_id: id,
        reason: body.reason,
    };
    s.relay::<UnbanAccount>(&meta, &req).await
}

/// Make an existing account an admin; its sessions end, so it signs in
/// again as one (admins).
#[utoipa::path(post, path = "/api/admin/accounts/{id}/promote", tag = "admin",
    params(("id" = String, Path, description = "an account id")),
    responses((status = 200, body = AccountSummary), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn promote(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Relayed<AccountSummary>, ApiError> {
    s.relay::<PromoteAccount>(&meta, &AccountId { account_id: id })
        .await
}

/// Hide a product from buyers, saying why: it leaves the storefront,
/// listings, carts and search until restored (admins).
#[utoipa::path(post, path = "/api/admin/products/{id}/hide", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "a product id")),
    responses((status = 200, body = Product), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn hide_product(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<Product>, ApiError> {
    let req = ModerateRequest {
        id,
        reason: body.reason,
    };
    s.relay::<HideProduct>(&meta, &req).await
}

/// Show a hidden product again, saying why (admins).
#[utoipa::path(post, path = "/api/admin/products/{id}/restore", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "a product id")),
    responses((status = 200, body = Product), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn restore_product(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<Product>, ApiError> {
    let req = ModerateRequest {
        id,
        reason: body.reason,
    };
    s.relay::<RestoreProduct>(&meta, &req).await
}

/// Hide a review, saying why: it leaves its product's or shop's page and
/// rating until restored (admins).
#[utoipa::path(post, path = "/api/admin/reviews/{id}/hide", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "a review id")),
    responses((status = 200, body = Review), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn hide_review(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<Review>, ApiError> {
    let req = ModerateRequest {
        id,
        reason: body.reason,
    };
    s.relay::<HideReview>(&meta, &req).await
}

/// Show a hidden review again, saying why (admins).
#[utoipa::path(post, path = "/api/admin/reviews/{id}/restore", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "a review id")),
    responses((status = 200, body = Review), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn restore_review(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<Review>, ApiError> {
    let req = ModerateRequest {
        id,
        reason: body.reason,
    };
    s.relay::<RestoreReview>(&meta, &req).await
}

/// Hide a shop, saying why: its page and all its products leave the
/// storefront, listings and search until restored (admins).
#[utoipa::path(post, path = "/api/admin/shops/{id}/hide", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "a shop id")),
    responses((status = 200, body = Shop), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn hide_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<Shop>, ApiError> {
    let req = ModerateRequest {
        id,
        reason: body.reason,
    };
    s.relay::<HideShop>(&meta, &req).await
}

/// Show a hidden shop again, saying why (admins).
#[utoipa::path(post, path = "/api/admin/shops/{id}/restore", tag = "admin", request_body = Reason,
    params(("id" = String, Path, description = "a shop id")),
    responses((status = 200, body = Shop), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn restore_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Relayed<Shop>, ApiError> {
    let req = ModerateRequest {
        id,
        reason: body.reason,
    };
    s.relay::<RestoreShop>(&meta, &req).await
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1; default 1.
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    page: Option<u32>,
}

/// The reviews an account wrote, newest first, hidden ones included (admins).
#[utoipa::path(get, path = "/api/admin/accounts/{id}/reviews", tag = "admin",
    params(("id" = String, Path, description = "an account id"), PageQuery),
    responses((status = 200, body = AuthoredReviews), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn account_reviews(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    FormQuery(q): FormQuery<PageQuery>,
) -> Result<Relayed<AuthoredReviews>, ApiError> {
    let req = AuthorReviews {
        account_id: id,
        page: q.page,
    };
    s.relay::<ListAuthorReviews>(&meta, &req).await
}

/// The shop an account owns (`shop` is null when it has none), hidden or
/// not (admins).
#[utoipa::path(get, path = "/api/admin/accounts/{id}/shop", tag = "admin",
    params(("id" = String, Path, description = "an account id")),
    responses((status = 200, body = OwnedShop), (status = 403, body = ErrorEnvelope)))]
pub async fn account_shop(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<Relayed<OwnedShop>, ApiError> {
    s.relay::<GetShopOfOwner>(&meta, &AccountId { account_id: id })
        .await
}

/// Report a product, a review or a shop to the admins (signed in).
#[utoipa::path(post, path = "/api/reports", tag = "admin", request_body = FileReport,
    responses((status = 201, body = ReportEntry), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn file_report(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(body): ApiJson<FileReport>,
) -> Result<Response, ApiError> {
    let report = s.call::<FileReportEndpoint>(&meta, &body).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(report)).into_response())
}

/// The reports queue: open reports oldest first, or resolved ones (admins).
#[utoipa::path(get, path = "/api/admin/reports", tag = "admin",
    params(ReportQuery),
    responses((status = 200, body = ReportList), (status = 403, body = ErrorEnvelope)))]
pub async fn reports(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<ReportQuery>,
) -> Result<Relayed<ReportList>, ApiError> {
    s.relay::<ListReports>(&meta, &q).await
}

/// Resolve a report, saying what was done (admins).
#[utoipa::path(post, path = "/api/admin/reports/{id}/resolve", tag = "admin", request_body = Resolution,
    params(("id" = String, Path, description = "a report id")),
    responses((status = 200, body = ReportEntry), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn resolve_report(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Resolution>,
) -> Result<Relayed<ReportEntry>, ApiError> {
    let req = ResolveReport {
        id,
        resolution: body.resolution,
    };
    s.relay::<ResolveReportEndpoint>(&meta, &req).await
}

/// The audit log, newest first, by admin, action, target and time (admins).
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin",
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn audit(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<AuditQuery>,
) -> Result<Relayed<AuditPage>, ApiError> {
    s.relay::<SearchAudit>(&meta, &q).await
}

/// The audit log as CSV (the same filters; up to 10,000 rows), for
/// spreadsheets and archives (admins).
#[utoipa::path(get, path = "/api/admin/audit.csv", tag = "admin",
    params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn audit_csv(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    FormQuery(q): FormQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let body = audit_export(&s, &meta, q).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The CSV text of the entries the query matches (at most 10,000).
pub(crate) async fn audit_export(
    s: &EdgeState,
    meta: &RequestMeta,
    mut q: AuditQuery,
) -> Result<String, ApiError> {
    q.page = Some(1);
    q.per_page = Some(10_000);
    let page = s.call::<SearchAudit>(meta, &q).await?;
    Ok(csv(&page.entries))
}

/// RFC 4180: every field quoted, quotes doubled, one header row. A field
/// that starts like a formula gets a leading `'` so a spreadsheet shows it
/// as text.
fn csv(entries: &[AuditEntry]) -> String {
    fn field(out: &mut String, v: &str) {
        out.push('"');
        if v.starts_with(['=', '+', '-', '@']) {
            out.push('\'');
        }
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    }
    let mut out = String::from(
        "\"at\",\"admin\",\"action\",\"target_kind\",\"target\",\"reason\",\"before\",\"after\",\"request_id\"\r\n",
    );
    for e in entries {
        let cells = [
            e.at.as_str(),
            &e.admin,
            &e.action,
            &e.target_kind,
            &e.target,
            e.reason.as_deref().unwrap_or(""),
            e.before.as_deref().unwrap_or(""),
            e.after.as_deref().unwrap_or(""),
            &e.request_id,
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, c);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_every_field_and_defuses_formulas() {
        let e = AuditEntry {
            id: "1".into(),
            at: "2026-12-06T19:00:00Z".into(),
            admin: "a1".into(),
            action: "account.ban".into(),
            target_kind: "account".into(),
            target: "b2".into(),
            before: Some(r#"{"name":"Ann"}"#.into()),
            after: None,
            reason: Some("=HYPERLINK(\"x\")".into()),
            request_id: "r".into(),
        };
        let text = csv(&[e]);
        let line = text.lines().nth(1).unwrap();
        assert!(line.contains(r#""'=HYPERLINK(""x"")""#), "{line}");
        assert!(line.contains(r#""{""name"":""Ann""}""#), "{line}");
        assert_eq!(text.lines().count(), 2);
    }
}
