//! The admin console's account, moderation and audit pages: find an account
//! (by email or name, role, standing), open it (its orders, shop and
//! reviews), ban it or lift its ban with a reason, make it an admin; hide or
//! restore a product, a review or a shop; work through the reports queue
//! (chat reports included); read the audit log with filters and export it
//! as CSV. Plain HTML forms and links, no script.
//!
//! The auth node (accounts) and the admin node (audit log) check the admin
//! themselves; the pages only spare other accounts forms they could not use.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Form, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bazaar_subjects::auth::Account;
use bazaar_subjects::chat::ResolveChatReport;
use bazaar_subjects::console::{
    AccountId, AccountSearch, AccountSummary, AuditEntry, AuditQuery, BanAccount, BanRequest,
    GetAccount, HideProduct, ListReports, ModerateRequest, PromoteAccount, ReportEntry,
    ReportQuery, ResolveReport, ResolveReportEndpoint, RestoreProduct, SearchAccounts, SearchAudit,
    UnbanAccount, UnbanRequest,
};
use bazaar_subjects::console::{
    AuthorReviews, GetShopOfOwner, HideReview, HideShop, ListAuthorReviews, RestoreReview,
    RestoreShop,
};
use bazaar_subjects::orders::{AuthoredReviews, ListAllOrders, ListOrders, OrderList};
use bazaar_subjects::sellers::Shop;
use bazaar_subjects::{ErrorEnvelope, Role};
use serde::Deserialize;

use crate::extract::{Admin, Meta};
use crate::state::EdgeState;
use crate::ui::chrome::Chrome;
use crate::ui::errors::{OnPage, PageError, Refusals};
use crate::ui::query::{first, query_pairs};

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/admin/accounts", get(accounts))
        .route("/admin/accounts/{id}", get(account))
        .route("/admin/accounts/{id}/ban", post(ban))
        .route("/admin/accounts/{id}/unban", post(unban))
        .route("/admin/accounts/{id}/promote", post(promote))
        .route("/admin/reports", get(reports))
        .route(
            "/admin/reports/{id}/resolve",
            post(resolve::<ResolveReportEndpoint>),
        )
        .route(
            "/admin/chat-reports/{id}/resolve",
            post(resolve::<ResolveChatReport>),
        )
        .route("/admin/moderation", post(moderate))
        .route("/admin/moderation/products", post(moderate))
        .route("/admin/audit", get(audit))
        .route("/admin/audit.csv", get(audit_csv))
}

/// One page of a paged list: the links to the pages around it.
struct Pager {
    page: u32,
    pages: u32,
    prev: Option<String>,
    next: Option<String>,
}

impl Pager {
    fn new(base: &str, pairs: &[(String, String)], page: u32, per_page: u32, total: u64) -> Self {
        let pages = u32::try_from(total.div_ceil(u64::from(per_page.max(1))))
            .unwrap_or(u32::MAX)
            .max(1);
        let link = |p: u32| {
            let mut kept: Vec<(String, String)> = pairs
                .iter()
                .filter(|(k, v)| k != "page" && !v.is_empty())
                .cloned()
                .collect();
            kept.push(("page".into(), p.to_string()));
            format!(
                "{base}?{}",
                serde_html_form::to_string(&kept).unwrap_or_default()
            )
        };
        Self {
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    viewer: Option<Account>,
    chrome: Chrome,
    section: &'static str,
    q: String,
    role: String,
    banned: String,
    accounts: Vec<AccountSummary>,
    total: u64,
    pager: Pager,
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Buyer => "buyer",
        Role::Seller => "seller",
        Role::Admin => "admin",
    }
}

async fn accounts(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let pairs = query_pairs(raw.as_deref());
    let (q, role, banned) = (
        first(&pairs, "q"),
        first(&pairs, "role"),
        first(&pairs, "banned"),
    );
    let search = AccountSearch {
        q: Some(q.clone()).filter(|q| !q.is_empty()),
        role: match role.as_str() {
            "buyer" => Some(Role::Buyer),
            "seller" => Some(Role::Seller),
            "admin" => Some(Role::Admin),
            _ => None,
        },
        banned: match banned.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        page: first(&pairs, "page").parse().ok(),
        per_page: Some(25),
    };
    let found = s
        .call::<SearchAccounts>(&meta, &search)
        .await
        .on_page("/admin/accounts", Refusals::NODES)?;
    let pager = Pager::new(
        "/admin/accounts",
        &pairs,
        found.page,
        found.per_page,
        found.total,
    );
    Ok(AccountsPage {
        viewer: Some(viewer),
        chrome,
        section: "accounts",
        q,
        role,
        banned,
        accounts: found.accounts,
        total: found.total,
        pager,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_account.html")]
struct AccountPage {
    viewer: Option<Account>,
    chrome: Chrome,
    section: &'static str,
    account: AccountSummary,
    is_self: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    reason: String,
    history: Vec<AuditEntry>,
    /// What the account bought, newest first (`None`: the orders node did
    /// not answer).
    orders: Option<OrderList>,
    /// Its shop's orders, for a seller.
    shop_orders: Option<OrderList>,
    /// `Some(None)`: it owns no shop; `None`: the sellers node did not answer.
    shop: Option<Option<Shop>>,
    reviews: Option<AuthoredReviews>,
}

impl AccountPage {
    fn money(&self, o: &bazaar_subjects::orders::OrderSummary) -> String {
        o.total().to_string()
    }
}

fn notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "banned" => "The account is banned. Its sessions have ended.",
        "unbanned" => "The ban is lifted. The account can sign in again.",
        "promoted" => "The account is an admin now. It signs in again to use the console.",
        "hidden" => "Hidden from buyers.",
        "restored" => "Shown to buyers again.",
        _ => return None,
    })
}

async fn render_account(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    id: String,
    notice: Option<&'static str>,
    refused: Option<(String, ErrorEnvelope)>,
) -> Result<Response, PageError> {
    let here = format!("/admin/accounts/{id}");
    let account = s
        .call::<GetAccount>(meta, &AccountId { account_id: id })
        .await
        .on_page(&here, Refusals::NODES)?;
    let history = s
        .call::<SearchAudit>(
            meta,
            &AuditQuery {
                target: Some(account.id.clone()),
                per_page: Some(20),
                ..AuditQuery::default()
            },
        )
        .await
        .map(|p| p.entries)
        .unwrap_or_default();
    let orders_of = |buyer: Option<String>, seller: Option<String>| ListOrders {
        page_size: Some(10),
        buyer,
        seller,
        ..ListOrders::default()
    };
    let bought = orders_of(Some(account.id.clone()), None);
    let sold = orders_of(None, Some(account.id.clone()));
    let owner = AccountId {
        account_id: account.id.clone(),
    };
    let written = AuthorReviews {
        account_id: account.id.clone(),
        page: None,
    };
    let is_seller = account.role == Role::Seller;
    let (orders, shop_orders, shop, reviews) = tokio::join!(
        s.call::<ListAllOrders>(meta, &bought),
        async {
            if is_seller {
                s.call::<ListAllOrders>(meta, &sold).await.ok()
            } else {
                None
            }
        },
        s.call::<GetShopOfOwner>(meta, &owner),
        s.call::<ListAuthorReviews>(meta, &written),
    );
    let (status, reason, error) = match refused {
        None => (StatusCode::OK, String::new(), None),
        Some((reason, e)) => {
            let message = e
                .fields
                .first()
                .map_or_else(|| e.message.clone(), |f| f.message.clone());
            (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                reason,
                Some(message),
            )
        }
    };
    let page = AccountPage {
        is_self: viewer.id == account.id,
        viewer: Some(viewer),
        chrome,
        section: "accounts",
        account,
        notice,
        error,
        reason,
        history,
        orders: orders.ok(),
        shop_orders,
        shop: shop.ok().map(|owned| owned.shop),
        reviews: reviews.ok(),
    };
    Ok((status, page).into_response())
}

async fn account(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let notice = notice(&first(&query_pairs(raw.as_deref()), "notice"));
    render_account(&s, &meta, viewer, chrome, id, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// After a ban, unban or promotion: back to the account with a notice, or
/// the account again with the refusal beside the form.
#[allow(clippy::too_many_arguments)]
async fn after(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    id: String,
    done: &str,
    reason: String,
    result: Result<AccountSummary, crate::error::ApiError>,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "/admin/accounts/{}?notice={done}",
            crate::ui::query::urlencode(&id)
        ))
        .into_response()),
        Err(e) if matches!(e.0.status, 401 | 403) => {
            Err(PageError::from(e).on_page("/admin/accounts", Refusals::NODES))
        }
        Err(e) => render_account(s, meta, viewer, chrome, id, None, Some((reason, e.0))).await,
    }
}

async fn ban(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, PageError> {
    let req = BanRequest {
        account_id: id.clone(),
        reason: form.reason.clone(),
    };
    let result = s.call::<BanAccount>(&meta, &req).await;
    after(&s, &meta, viewer, chrome, id, "banned", form.reason, result).await
}

async fn unban(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, PageError> {
    let req = UnbanRequest {
        account_id: id.clone(),
        reason: form.reason.clone(),
    };
    let result = s.call::<UnbanAccount>(&meta, &req).await;
    after(
        &s,
        &meta,
        viewer,
        chrome,
        id,
        "unbanned",
        form.reason,
        result,
    )
    .await
}

async fn promote(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let req = AccountId {
        account_id: id.clone(),
    };
    let result = s.call::<PromoteAccount>(&meta, &req).await;
    after(
        &s,
        &meta,
        viewer,
        chrome,
        id,
        "promoted",
        String::new(),
        result,
    )
    .await
}

/// The audit filters as typed.
#[derive(Default)]
struct AuditFilters {
    admin: String,
    action: String,
    target: String,
    since: String,
    until: String,
}

impl AuditFilters {
    fn read(pairs: &[(String, String)]) -> Self {
        Self {
            admin: first(pairs, "admin"),
            action: first(pairs, "action"),
            target: first(pairs, "target"),
            since: first(pairs, "since"),
            until: first(pairs, "until"),
        }
    }

    fn query(&self, page: Option<u32>) -> AuditQuery {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        AuditQuery {
            admin: some(&self.admin),
            action: some(&self.action),
            target: some(&self.target),
            since: some(&self.since),
            until: some(&self.until),
            page,
            per_page: Some(50),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin_audit.html")]
struct AuditPageView {
    viewer: Option<Account>,
    chrome: Chrome,
    section: &'static str,
    filters: AuditFilters,
    entries: Vec<AuditEntry>,
    total: u64,
    pager: Pager,
    csv_href: String,
    error: Option<String>,
}

async fn audit(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let pairs = query_pairs(raw.as_deref());
    let filters = AuditFilters::read(&pairs);
    let query = filters.query(first(&pairs, "page").parse().ok());
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, v)| k != "page" && !v.is_empty())
        .cloned()
        .collect();
    let csv_href = format!(
        "/admin/audit.csv?{}",
        serde_html_form::to_string(&kept).unwrap_or_default()
    );
    let (entries, total, pager, error, status) = match s.call::<SearchAudit>(&meta, &query).await {
        Ok(p) => {
            let pager = Pager::new("/admin/audit", &pairs, p.page, p.per_page, p.total);
            (p.entries, p.total, pager, None, StatusCode::OK)
        }
        Err(e) if e.0.status == 422 => {
            let message =
                e.0.fields
                    .first()
                    .map_or_else(|| e.0.message.clone(), |f| f.message.clone());
            (
                Vec::new(),
                0,
                Pager::new("/admin/audit", &pairs, 1, 50, 0),
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => return Err(PageError::from(e).on_page("/admin/audit", Refusals::NODES)),
    };
    let page = AuditPageView {
        viewer: Some(viewer),
        chrome,
        section: "audit",
        filters,
        entries,
        total,
        pager,
        csv_href,
        error,
    };
    Ok((status, page).into_response())
}

async fn audit_csv(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    _: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let pairs = query_pairs(raw.as_deref());
    let query = AuditFilters::read(&pairs).query(None);
    let body = crate::api::console::audit_export(&s, &meta, query)
        .await
        .on_page("/admin/audit", Refusals::NODES)?;
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

#[derive(Template, WebTemplate)]
#[template(path = "admin_reports.html")]
struct ReportsPage {
    viewer: Option<Account>,
    chrome: Chrome,
    section: &'static str,
    resolved: bool,
    reports: Vec<ReportEntry>,
    chat_reports: Vec<bazaar_subjects::chat::Report>,
    notice: Option<&'static str>,
    error: Option<String>,
    /// What the moderation form starts with (from a report's "moderate" link).
    kind: String,
    target: String,
}

fn reports_notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "resolved" => "The report is resolved.",
        "hidden" => "Hidden from buyers.",
        "restored" => "Shown to buyers again.",
        _ => return None,
    })
}

/// The moderation form's starting values.
#[derive(Default)]
struct Prefill {
    kind: String,
    target: String,
}

#[allow(clippy::too_many_arguments)]
async fn render_reports(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    resolved: bool,
    notice: Option<&'static str>,
    error: Option<ErrorEnvelope>,
    prefill: Prefill,
) -> Result<Response, PageError> {
    let query = ReportQuery {
        status: resolved.then(|| "resolved".to_owned()),
    };
    let list = s
        .call::<ListReports>(meta, &query)
        .await
        .on_page("/admin/reports", Refusals::NODES)?;
    // Chat reports live with the chat node; shown here so one page holds
    // every report (an unreachable chat node only leaves them out).
    let chat_reports = s
        .call::<bazaar_subjects::chat::ListChatReports>(meta, &query)
        .await
        .map(|r| r.reports)
        .unwrap_or_default();
    let status = error.as_ref().map_or(StatusCode::OK, |e| {
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let page = ReportsPage {
        viewer: Some(viewer),
        chrome,
        section: "reports",
        resolved,
        reports: list.reports,
        chat_reports,
        notice,
        error: error.map(|e| {
            e.fields
                .first()
                .map_or_else(|| e.message.clone(), |f| f.message.clone())
        }),
        kind: prefill.kind,
        target: prefill.target,
    };
    Ok((status, page).into_response())
}

async fn reports(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let pairs = query_pairs(raw.as_deref());
    let resolved = first(&pairs, "status") == "resolved";
    let notice = reports_notice(&first(&pairs, "notice"));
    let prefill = Prefill {
        kind: first(&pairs, "kind"),
        target: first(&pairs, "target"),
    };
    render_reports(&s, &meta, viewer, chrome, resolved, notice, None, prefill).await
}

#[derive(Debug, Default, Deserialize)]
struct ResolveForm {
    #[serde(default)]
    resolution: String,
}

/// Resolves a report of the queue: the admin node's own reports, or the
/// chat node's (`E` says which).
async fn resolve<E>(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Result<Response, PageError>
where
    E: bazaar_subjects::Endpoint<Request = ResolveReport>,
{
    let req = ResolveReport {
        id,
        resolution: form.resolution,
    };
    let result = s.call::<E>(&meta, &req).await.map(drop);
    let then = Then {
        back: "/admin/reports",
        notice: "resolved",
        prefill: Prefill::default(),
    };
    after_action(&s, &meta, viewer, chrome, result, then).await
}

/// Where an action of the reports page leads.
struct Then<'a> {
    /// The page to go on to, with `?notice=…`.
    back: &'a str,
    notice: &'static str,
    /// The moderation form's values if the action is refused.
    prefill: Prefill,
}

/// After an action of the reports page: on with a notice, an error page for
/// a caller the node refused, or the reports page again with the refusal.
async fn after_action(
    s: &EdgeState,
    meta: &bazaar_runtime::RequestMeta,
    viewer: Account,
    chrome: Chrome,
    result: Result<(), crate::error::ApiError>,
    then: Then<'_>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("{}?notice={}", then.back, then.notice)).into_response())
        }
        Err(e) if matches!(e.0.status, 401 | 403) => {
            Err(PageError::from(e).on_page("/admin/reports", Refusals::NODES))
        }
        Err(e) => {
            render_reports(
                s,
                meta,
                viewer,
                chrome,
                false,
                None,
                Some(e.0),
                then.prefill,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ModerateForm {
    /// `product` (the default), `review` or `shop`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
    /// The older name of `target` for a product.
    #[serde(default)]
    product: String,
    #[serde(default)]
    reason: String,
    /// `hide` or `restore`.
    #[serde(default)]
    action: String,
    /// An account page to go back to (`/admin/accounts/…`), else the reports.
    #[serde(default)]
    back: String,
}

/// Hides or restores a product, a review or a shop; each is asked of the
/// node that owns it.
async fn moderate(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Admin(viewer): Admin,
    chrome: Chrome,
    Form(form): Form<ModerateForm>,
) -> Result<Response, PageError> {
    let target = if form.target.trim().is_empty() {
        form.product.trim()
    } else {
        form.target.trim()
    };
    let req = ModerateRequest {
        id: target.to_owned(),
        reason: form.reason.clone(),
    };
    let restore = form.action == "restore";
    let result = match (form.kind.as_str(), restore) {
        ("review", false) => s.call::<HideReview>(&meta, &req).await.map(drop),
        ("review", true) => s.call::<RestoreReview>(&meta, &req).await.map(drop),
        ("shop", false) => s.call::<HideShop>(&meta, &req).await.map(drop),
        ("shop", true) => s.call::<RestoreShop>(&meta, &req).await.map(drop),
        (_, false) => s.call::<HideProduct>(&meta, &req).await.map(drop),
        (_, true) => s.call::<RestoreProduct>(&meta, &req).await.map(drop),
    };
    // Only a page of the console is a place to go back to.
    let back = Some(form.back.as_str())
        .filter(|b| {
            b.starts_with("/admin/accounts/")
                && b.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/-_".contains(&c))
        })
        .unwrap_or("/admin/reports");
    let then = Then {
        back,
        notice: if restore { "restored" } else { "hidden" },
        prefill: Prefill {
            kind: form.kind.clone(),
            target: target.to_owned(),
        },
    };
    after_action(&s, &meta, viewer, chrome, result, then).await
}

/// How a role reads on the pages.
pub(crate) fn role_label(r: &Role) -> &'static str {
    role_name(*r)
}
