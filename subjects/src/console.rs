//! The admin console's contract: accounts (search, view, ban, unban,
//! promote) served by the auth node, which owns accounts; moderation (hide
//! or restore a product, a review or a shop) served by the node that owns
//! each; the audit log and the reports queue served by the admin node. Every
//! endpoint here is for admins only (but filing a report), checked by the
//! node that serves it.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Access, Domain, Endpoint, ErrorEnvelope, FieldError, Role, catalog, orders, sellers};

/// Hide or restore one thing (a product, a review or a shop), saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModerateRequest {
    pub id: String,
    /// 1–500 characters once trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}

impl ModerateRequest {
    /// The reason, trimmed, as every node that moderates takes it: 1–500
    /// characters, else a 422 naming `reason`.
    pub fn reason(&self) -> Result<String, ErrorEnvelope> {
        let text = self.reason.trim();
        if text.is_empty() || text.chars().count() > 500 {
            return Err(ErrorEnvelope::validation(vec![FieldError {
                field: "reason".into(),
                message: "say why, in at most 500 characters".into(),
            }]));
        }
        Ok(text.to_owned())
    }
}

/// Banned accounts, in JetStream KV: key = account id, value = when the ban
/// began (RFC 3339). The auth node keeps it; every node watches it and
/// refuses the access tokens of the accounts in it.
pub const REVOKED_BUCKET: &str = "revoked_accounts";

/// At most this many accounts or audit entries per page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Which accounts to list: a text in the email or name, a role, a page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountSearch {
    /// Part of the email or the name, ignoring case.
    #[serde(default)]
    #[param(max_length = 200)]
    pub q: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    /// Only banned accounts (`true`) or only accounts in good standing (`false`).
    #[serde(default)]
    pub banned: Option<bool>,
    /// From 1; default 1.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
    /// Default 25, at most 100.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// One account as an admin sees it in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountSummary {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// RFC 3339.
    pub created_at: String,
    /// When the ban began (RFC 3339); absent for an account in good standing.
    #[serde(default)]
    pub banned_at: Option<String>,
    #[serde(default)]
    pub ban_reason: Option<String>,
}

/// A page of accounts, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AccountSummary>,
    /// How many accounts match in all.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// One account, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountId {
    pub account_id: String,
}

/// One account's reviews, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorReviews {
    pub account_id: String,
    /// From 1; default 1.
    #[serde(default)]
    pub page: Option<u32>,
}

/// Ban an account, saying why (shown in the audit log and on its page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BanRequest {
    pub account_id: String,
    /// 1–500 characters once trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Lift a ban, saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnbanRequest {
    pub account_id: String,
    /// 1–500 characters once trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// The body of the ban and unban routes (the account is in the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    /// 1–500 characters once trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $subject:literal, $domain:ident, $req:ty => $rep:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl Endpoint for $name {
            const SUBJECT: &'static str = $subject;
            const DOMAIN: Domain = Domain::$domain;
            const ACCESS: Access = Access::Admin;
            type Request = $req;
            type Reply = $rep;
        }
    };
}

endpoint!(/// Search and page through accounts (admins).
    SearchAccounts, "auth.account.search", Auth, AccountSearch => AccountPage);
endpoint!(/// One account (admins).
    GetAccount, "auth.account.get", Auth, AccountId => AccountSummary);
endpoint!(/// Ban an account: its sessions end, it cannot sign in, and every node
    /// refuses its access tokens within seconds (admins; not oneself).
    BanAccount, "auth.account.ban", Auth, BanRequest => AccountSummary);
endpoint!(/// Lift a ban (admins).
    UnbanAccount, "auth.account.unban", Auth, UnbanRequest => AccountSummary);
endpoint!(/// Make an existing account an admin (admins).
    PromoteAccount, "auth.account.promote", Auth, AccountId => AccountSummary);
endpoint!(/// Hide a product from buyers: it leaves the storefront, listings and
    /// search until restored (admins).
    HideProduct, "catalog.product.hide", Catalog, ModerateRequest => catalog::Product);
endpoint!(/// Show a hidden product again (admins).
    RestoreProduct, "catalog.product.unhide", Catalog, ModerateRequest => catalog::Product);
endpoint!(/// Hide a review: it leaves the product's or shop's page and no longer
    /// counts in its rating until restored (admins).
    HideReview, "orders.review.hide", Orders, ModerateRequest => orders::Review);
endpoint!(/// Show a hidden review again (admins).
    RestoreReview, "orders.review.unhide", Orders, ModerateRequest => orders::Review);
endpoint!(/// The reviews an account wrote, hidden ones included (admins).
    ListAuthorReviews, "orders.reviews.by_author", Orders, AuthorReviews => orders::AuthoredReviews);
endpoint!(/// Hide a shop: its page and all its products leave the storefront,
    /// listings and search until restored (admins).
    HideShop, "sellers.shop.hide", Sellers, ModerateRequest => sellers::Shop);
endpoint!(/// Show a hidden shop again (admins).
    RestoreShop, "sellers.shop.unhide", Sellers, ModerateRequest => sellers::Shop);
endpoint!(/// The shop an account owns, if any, hidden or not (admins).
    GetShopOfOwner, "sellers.shop.of_owner", Sellers, AccountId => sellers::OwnedShop);
endpoint!(/// Search the audit log, newest first (admins).
    SearchAudit, "admin.audit.search", Admin, AuditQuery => AuditPage);

/// Which audit entries: by admin, action, target and time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The acting admin's account id.
    #[serde(default)]
    #[param(max_length = 200)]
    pub admin: Option<String>,
    /// An action, e.g. `account.ban`.
    #[serde(default)]
    #[param(max_length = 200)]
    pub action: Option<String>,
    /// The target's id (an account id, a category slug, …).
    #[serde(default)]
    #[param(max_length = 200)]
    pub target: Option<String>,
    /// At or after (RFC 3339).
    #[serde(default)]
    #[param(max_length = 40)]
    pub since: Option<String>,
    /// Before (RFC 3339).
    #[serde(default)]
    #[param(max_length = 40)]
    pub until: Option<String>,
    /// From 1; default 1.
    #[serde(default)]
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<u32>,
    /// Default 50, at most 100 (the CSV export takes up to 10,000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

/// One admin action, as recorded with the change it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// The acting admin's account id.
    pub admin: String,
    /// What was done, e.g. `account.ban`, `category.upsert`.
    pub action: String,
    /// What kind of thing it was done to: `account`, `category`, `site`, …
    pub target_kind: String,
    pub target: String,
    /// The target before and after, as JSON text (absent when it did not exist).
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub request_id: String,
}

/// A page of audit entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    Product,
    Review,
    Shop,
}

impl ReportKind {
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Product => "product",
            ReportKind::Review => "review",
            ReportKind::Shop => "shop",
        }
    }
}

/// A buyer reports a product, a review or a shop to the admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileReport {
    pub kind: ReportKind,
    /// The product's, review's or shop's id.
    #[schema(max_length = 200, pattern = r"\S")]
    pub target: String,
    /// 1–1000 characters once trimmed.
    #[schema(max_length = 1000, pattern = r"\S")]
    pub reason: String,
}

/// A report in the admins' queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportEntry {
    pub id: String,
    pub kind: ReportKind,
    pub target: String,
    pub reporter: String,
    pub reason: String,
    /// RFC 3339.
    pub created_at: String,
    /// `open` or `resolved`.
    pub status: String,
    #[serde(default)]
    pub resolved_at: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
}

/// Which reports: open (the default) or resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `open` (default) or `resolved`.
    #[serde(default)]
    #[param(pattern = "^(open|resolved)$")]
    pub status: Option<String>,
}

/// The queue, oldest first for open reports, newest first for resolved ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportList {
    pub reports: Vec<ReportEntry>,
}

/// Resolve one report, saying what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResolveReport {
    pub id: String,
    /// 1–500 characters once trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub resolution: String,
}

/// The body of the resolve route (the report is in the path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Resolution {
    /// 1–500 characters once trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub resolution: String,
}

/// `admin.report.file`: any signed-in account reports a product, review or shop.
pub struct FileReportEndpoint;
impl Endpoint for FileReportEndpoint {
    const SUBJECT: &'static str = "admin.report.file";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Account;
    type Request = FileReport;
    type Reply = ReportEntry;
}

endpoint!(/// The reports queue (admins).
    ListReports, "admin.report.list", Admin, ReportQuery => ReportList);
endpoint!(/// Resolve a report (admins).
    ResolveReportEndpoint, "admin.report.resolve", Admin, ResolveReport => ReportEntry);
