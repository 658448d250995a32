//! Accounts as admins manage them: search, view, ban, unban, promote.
//!
//! The auth node owns accounts, so it checks the admin (the endpoints are
//! `Access::Admin`, enforced by the runtime) and makes each change in one
//! transaction with its audit row. A ban also ends every session of the
//! account (its refresh tokens are revoked in that transaction) and, once
//! committed, goes into the banned-accounts bucket every node watches, so
//! the account's access tokens are refused everywhere within seconds (see
//! `bazaar_runtime::revocation`).

use bazaar_runtime::Request;
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::{TransactionError, committed, take_count, take_rows};
use bazaar_subjects::Validator;
use bazaar_subjects::console::*;
use serde::Deserialize;

use crate::AuthError;
use crate::service::AuthService;

/// What a list and the audit log show of an account.
const SUMMARY: &str = "record::id(id) AS id, name, email, role, <string> created_at AS created_at, \
     IF banned_at != NONE THEN <string> banned_at END AS banned_at, ban_reason";

/// The same, as an object for `$before` / `$after`.
fn snapshot(var: &str) -> String {
    format!(
        "LET {var} = (SELECT record::id(id) AS id, name, email, role, banned_at, ban_reason \
         FROM type::record('account', $id))[0];"
    )
}

#[derive(Deserialize)]
struct SummaryRow {
    id: String,
    name: String,
    email: String,
    role: bazaar_subjects::Role,
    created_at: String,
    #[serde(default)]
    banned_at: Option<String>,
    #[serde(default)]
    ban_reason: Option<String>,
}

impl From<SummaryRow> for AccountSummary {
    fn from(r: SummaryRow) -> Self {
        AccountSummary {
            id: r.id,
            name: r.name,
            email: r.email,
            role: r.role,
            created_at: r.created_at,
            banned_at: r.banned_at,
            ban_reason: r.ban_reason,
        }
    }
}

fn reason(text: &str) -> Result<String, AuthError> {
    let text = text.trim();
    let mut v = Validator::default();
    v.check(
        !text.is_empty() && text.chars().count() <= 500,
        "reason",
        "say why, in at most 500 characters",
    );
    v.finish().map_err(AuthError::Invalid)?;
    Ok(text.to_owned())
}

fn admin_of<T>(req: &Request<T>) -> Result<String, AuthError> {
    req.caller
        .account_id()
        .map(str::to_owned)
        .ok_or(AuthError::WrongCredentials)
}

/// A failed console transaction as the caller's error.
fn refused(e: TransactionError) -> AuthError {
    match e.thrown() {
        Some("no_such_account") => AuthError::NoSuchAccount,
        Some("already_banned") => AuthError::AlreadyBanned,
        Some("not_banned") => AuthError::NotBanned,
        Some("already_admin") => AuthError::AlreadyAdmin,
        _ => AuthError::Internal(e.to_string()),
    }
}

impl AuthService {
    /// One account's summary.
    async fn summary(&self, id: &str) -> Result<AccountSummary, AuthError> {
        let mut res = self
            .db()
            .query(format!(
                "SELECT {SUMMARY} FROM type::record('account', $id)"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        take_rows::<SummaryRow>(&mut res, 0)?
            .into_iter()
            .next()
            .map(Into::into)
            .ok_or(AuthError::NoSuchAccount)
    }

    pub async fn search_accounts(
        &self,
        req: Request<AccountSearch>,
    ) -> Result<AccountPage, AuthError> {
        let q = req.body;
        let per_page = q.per_page.unwrap_or(25).clamp(1, MAX_PAGE_SIZE);
        let page = q.page.unwrap_or(1).clamp(1, 100_000);
        let mut filters = vec!["true".to_owned()];
        let text =
            q.q.as_deref()
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty());
        if text.is_some() {
            filters.push(
                "(string::contains(string::lowercase(email), $text) \
                 OR string::contains(string::lowercase(name), $text))"
                    .into(),
            );
        }
        if q.role.is_some() {
            filters.push("role = $role".into());
        }
        match q.banned {
            Some(true) => filters.push("banned_at != NONE".into()),
            Some(false) => filters.push("banned_at = NONE".into()),
            None => {}
        }
        let filter = filters.join(" AND ");
        let mut res = self
            .db()
            .query(format!(
                "SELECT {SUMMARY} FROM account WHERE {filter} \
                 ORDER BY created_at DESC LIMIT $limit START $start;
                 SELECT count() AS n FROM account WHERE {filter} GROUP ALL;"
            ))
            .bind(("text", text.unwrap_or_default()))
            .bind((
                "role",
                q.role
                    .and_then(|r| serde_json::to_value(r).ok())
                    .unwrap_or_default(),
            ))
            .bind(("limit", per_page))
            .bind(("start", (page - 1) * per_page))
            .await?
            .check()?;
        let accounts = take_rows::<SummaryRow>(&mut res, 0)?
            .into_iter()
            .map(Into::into)
            .collect();
        let total = take_count(&mut res, 1)?;
        Ok(AccountPage {
            accounts,
            total: u64::try_from(total).unwrap_or(0),
            page,
            per_page,
        })
    }

    pub async fn get_account(&self, req: Request<AccountId>) -> Result<AccountSummary, AuthError> {
        self.summary(&req.body.account_id).await
    }

    pub async fn ban_account(&self, req: Request<BanRequest>) -> Result<AccountSummary, AuthError> {
        let admin = admin_of(&req)?;
        let id = req.body.account_id.trim().to_owned();
        let why = reason(&req.body.reason)?;
        if id == admin {
            return Err(AuthError::CannotBanSelf);
        }
        let record =
            Audit::new(&admin, "account.ban", "account", &id, &req.request_id).with_reason(&why);
        let result = self
            .db()
            .query(format!(
                "BEGIN TRANSACTION;
                 {before}
                 IF $before = NONE {{ THROW 'no_such_account'; }};
                 IF $before.banned_at != NONE {{ THROW 'already_banned'; }};
                 UPDATE type::record('account', $id) SET banned_at = time::now(), ban_reason = $reason RETURN NONE;
                 UPDATE refresh_token SET revoked = true
                     WHERE account = type::record('account', $id) AND revoked = false RETURN NONE;
                 {after}
                 {record}
                 COMMIT TRANSACTION;",
                before = snapshot("$before"),
                after = snapshot("$after"),
                record = audit::RECORD,
            ))
            .bind(("id", id.clone()))
            .bind(("reason", why))
            .bind(record.bind())
            .await;
        match committed(result) {
            Ok(_) => {}
            Err(e) => {
                let e = refused(e);
                // A ban already in the database is put in the bucket again,
                // in case the put after it was lost.
                if matches!(e, AuthError::AlreadyBanned)
                    && let Ok(s) = self.summary(&id).await
                {
                    self.publish_ban(&s).await?;
                }
                return Err(e);
            }
        }
        let summary = self.summary(&id).await?;
        self.publish_ban(&summary).await?;
        tracing::info!(account = %id, "account banned");
        Ok(summary)
    }

    pub async fn unban_account(
        &self,
        req: Request<UnbanRequest>,
    ) -> Result<AccountSummary, AuthError> {
        let admin = admin_of(&req)?;
        let id = req.body.account_id.trim().to_owned();
        let why = reason(&req.body.reason)?;
        let record =
            Audit::new(&admin, "account.unban", "account", &id, &req.request_id).with_reason(&why);
        let result = self
            .db()
            .query(format!(
                "BEGIN TRANSACTION;
                 {before}
                 IF $before = NONE {{ THROW 'no_such_account'; }};
                 IF $before.banned_at = NONE {{ THROW 'not_banned'; }};
                 UPDATE type::record('account', $id) SET banned_at = NONE, ban_reason = NONE RETURN NONE;
                 {after}
                 {record}
                 COMMIT TRANSACTION;",
                before = snapshot("$before"),
                after = snapshot("$after"),
                record = audit::RECORD,
            ))
            .bind(("id", id.clone()))
            .bind(record.bind())
            .await;
        committed(result).map_err(refused)?;
        self.revoked()
            .delete(&id)
            .await
            .map_err(|e| AuthError::Internal(format!("lifting the ban in the bucket: {e}")))?;
        tracing::info!(account = %id, "account unbanned");
        self.summary(&id).await
    }

    pub async fn promote_account(
        &self,
        req: Request<AccountId>,
    ) -> Result<AccountSummary, AuthError> {
        let admin = admin_of(&req)?;
        let id = req.body.account_id.trim().to_owned();
        let record = Audit::new(&admin, "account.promote", "account", &id, &req.request_id);
        let result = self
            .db()
            .query(format!(
                "BEGIN TRANSACTION;
                 {before}
                 IF $before = NONE {{ THROW 'no_such_account'; }};
                 IF $before.role = 'admin' {{ THROW 'already_admin'; }};
                 UPDATE type::record('account', $id) SET role = 'admin' RETURN NONE;
                 UPDATE refresh_token SET revoked = true
                     WHERE account = type::record('account', $id) AND revoked = false RETURN NONE;
                 {after}
                 {record}
                 COMMIT TRANSACTION;",
                before = snapshot("$before"),
                after = snapshot("$after"),
                record = audit::RECORD,
            ))
            .bind(("id", id.clone()))
            .bind(record.bind())
            .await;
        committed(result).map_err(refused)?;
        tracing::info!(account = %id, "account made an admin");
        self.summary(&id).await
    }

    /// Puts a banned account in the bucket every node watches.
    async fn publish_ban(&self, s: &AccountSummary) -> Result<(), AuthError> {
        let at = s.banned_at.clone().unwrap_or_default();
        self.revoked()
            .put(&s.id, at.into_bytes().into())
            .await
            .map(|_| ())
            .map_err(|e| AuthError::Internal(format!("announcing the ban: {e}")))
    }

    /// Makes the bucket match the database: every banned account in it and
    /// no other. Run when the node starts, so a put lost after a commit (or
    /// a bucket lost with its server) is made good.
    pub(crate) async fn reconcile_bans(&self) -> Result<(), AuthError> {
        let mut res = self
            .db()
            .query(format!(
                "SELECT {SUMMARY} FROM account WHERE banned_at != NONE"
            ))
            .await?
            .check()?;
        let banned: Vec<AccountSummary> = take_rows::<SummaryRow>(&mut res, 0)?
            .into_iter()
            .map(Into::into)
            .collect();
        for s in &banned {
            self.publish_ban(s).await?;
        }
        let keys = self.banned_keys().await?;
        for key in keys {
            if !banned.iter().any(|s| s.id == key) {
                let _ = self.revoked().delete(&key).await;
            }
        }
        Ok(())
    }

    async fn banned_keys(&self) -> Result<Vec<String>, AuthError> {
        use futures::TryStreamExt;
        match self.revoked().keys().await {
            Ok(keys) => keys
                .try_collect()
                .await
                .map_err(|e| AuthError::Internal(e.to_string())),
            Err(e) => Err(AuthError::Internal(e.to_string())),
        }
    }
}
