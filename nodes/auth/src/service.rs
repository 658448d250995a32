//! The auth domain's operations, one per endpoint.

use bazaar_runtime::jetstream::{enqueue_job, ensure_work_queue};
use bazaar_runtime::{Caller, NodeContext, NodeError, Request, TokenContact, TokenSigner};
use bazaar_schema::{Db, take_rows};
use bazaar_subjects::auth::*;
use bazaar_subjects::mail::{self, CodePurpose, Email, SendEmail};
use bazaar_subjects::{Empty, ErrorEnvelope, Role, Validator};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codes::{CODE_TTL, Codes};
use crate::validate::*;
use crate::{AuthError, passwords};

/// Access tokens live 15 minutes; refresh tokens 7 days.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_SECS: i64 = 7 * 24 * 3600;

const SIGN_UP: &str = "signup";
const RESET: &str = "reset";

#[derive(Clone)]
pub struct AuthService {
    db: Db,
    js: async_nats::jetstream::Context,
    codes: Codes,
    signer: TokenSigner,
    google: Option<crate::google::Google>,
    /// How long a session (a refresh-token family) may live in all.
    session_max_age_secs: u64,
    /// Banned accounts, watched by every node (see `crate::console`).
    revoked: async_nats::jetstream::kv::Store,
}

/// A sign-up waiting for its code: everything but the proof of the address.
#[derive(Serialize, Deserialize)]
struct PendingSignUp {
    name: String,
    role: Role,
    password_hash: String,
    phone: Option<String>,
    country: Option<String>,
    /// Someone signed up again for this address with another password
    /// while it waited: the account is then created without a password
    /// (whoever holds the code is signed in and sets one by reset), so
    /// neither sign-up's password can take the account over.
    #[serde(default)]
    contested: bool,
}

#[derive(Deserialize)]
struct AccountRow {
    id: String,
    name: String,
    email: String,
    role: Role,
    phone: Option<String>,
    country: Option<String>,
    avatar_url: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    banned: bool,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: r.id,
            name: r.name,
            email: r.email,
            role: r.role,
            phone: r.phone,
            country: r.country,
            avatar_url: r.avatar_url,
        }
    }
}

const ACCOUNT_FIELDS: &str = "record::id(id) AS id, name, email, role, phone, country, avatar_url, password_hash, banned_at != NONE AS banned";

fn accepted(message: &str) -> Accepted {
    Accepted {
        message: message.to_owned(),
    }
}

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_token() -> Result<String, AuthError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(hex::encode(b))
}

fn caller_id(caller: &Caller) -> Result<String, AuthError> {
    caller
        .account_id()
        .map(str::to_owned)
        .ok_or(AuthError::WrongCredentials)
}

impl AuthService {
    pub async fn open(
        ctx: &NodeContext,
        db: Db,
        signer: TokenSigner,
        google: &crate::GoogleConfig,
    ) -> Result<Self, NodeError> {
        ensure_work_queue(&ctx.jetstream, mail::JOBS).await?;
        // The banned accounts, kept until an unban deletes them.
        let revoked = bazaar_runtime::jetstream::ensure_kv(
            &ctx.jetstream,
            bazaar_subjects::console::REVOKED_BUCKET,
            std::time::Duration::ZERO,
        )
        .await?;
        Ok(Self {
            revoked,
            db,
            js: ctx.jetstream.clone(),
            codes: Codes::open(&ctx.jetstream, signer.derived_key("one-time codes")).await?,
            signer,
            google: crate::google::Google::open(google, &ctx.jetstream).await?,
            session_max_age_secs: crate::SESSION_MAX_AGE_SECS,
        })
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn revoked(&self) -> &async_nats::jetstream::kv::Store {
        &self.revoked
    }

    /// Sessions end this many seconds after they began, refreshed or not.
    pub fn with_session_max_age(mut self, secs: u64) -> Self {
        self.session_max_age_secs = secs;
        self
    }

    pub async fn start_google(
        &self,
        req: Request<GoogleStart>,
    ) -> Result<GoogleRedirect, AuthError> {
        let google = self.google.as_ref().ok_or(AuthError::GoogleDisabled)?;
        let (authorization_url, state) = google.start(&req.body.redirect_uri).await?;
        Ok(GoogleRedirect {
            authorization_url,
            state,
        })
    }

    /// Signs in with a verified Google identity: the account linked to it,
    /// else the buyer account with the same (verified) email, which gets
    /// linked, else a new buyer account.
    pub async fn finish_google(&self, req: Request<GoogleFinish>) -> Result<Session, AuthError> {
        let google = self.google.as_ref().ok_or(AuthError::GoogleDisabled)?;
        let who = google.finish(&req.body.code, &req.body.state).await?;
        let mut res = self
            .db
            .query(format!(
                "SELECT {ACCOUNT_FIELDS} FROM account WHERE google_sub = $sub"
            ))
            .bind(("sub", who.sub.clone()))
            .await?
            .check()?;
        if let Some(row) = take_rows::<AccountRow>(&mut res, 0)?.into_iter().next() {
            if row.banned {
                return Err(AuthError::Banned);
            }
            return self.session(row.into(), None).await;
        }
        let email = normalize_email(&who.email);
        if let Some(row) = self.account_by_email(&email).await? {
            if row.banned {
                return Err(AuthError::Banned);
            }
            if row.role != Role::Buyer {
                return Err(AuthError::PasswordOnly);
            }
            self.db
                .query("UPDATE type::record('account', $id) SET google_sub = $sub RETURN NONE")
                .bind(("id", row.id.clone()))
                .bind(("sub", who.sub))
                .await?
                .check()?;
            tracing::info!(account = %row.id, "Google identity linked");
            return self.session(row.into(), None).await;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let name = who
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or("Shopper").to_owned());
        let name: String = name.trim().chars().take(80).collect();
        let created = self
            .db
            .query("CREATE type::record('account', $id) SET email = $email, name = $name, role = 'buyer', google_sub = $sub RETURN NONE")
            .bind(("id", id.clone()))
            .bind(("email", email.clone()))
            .bind(("name", name.clone()))
            .bind(("sub", who.sub))
            .await?
            .check();
        if created.is_err() {
            return Err(AuthError::EmailTaken);
        }
        tracing::info!(account = %id, "account created with Google");
        let account = Account {
            id,
            name,
            email,
            role: Role::Buyer,
            phone: None,
            country: None,
            avatar_url: None,
        };
        self.session(account, None).await
    }

    async fn mail(&self, to: &str, email: Email) -> Result<(), AuthError> {
        let job = SendEmail {
            id: uuid::Uuid::now_v7().to_string(),
            to: to.to_owned(),
            email,
        };
        enqueue_job(&self.js, &job, &job.id)
            .await
            .map_err(|e| AuthError::Internal(format!("queueing mail: {e}")))
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>, AuthError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {ACCOUNT_FIELDS} FROM account WHERE email = $email"
            ))
            .bind(("email", email.to_owned()))
            .await?
            .check()?;
        Ok(take_rows::<AccountRow>(&mut res, 0)?.into_iter().next())
    }

    async fn account_by_id(&self, id: &str) -> Result<Option<AccountRow>, AuthError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {ACCOUNT_FIELDS} FROM type::record('account', $id)"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        Ok(take_rows::<AccountRow>(&mut res, 0)?.into_iter().next())
    }

    /// A new session (new refresh-token family unless `family` continues one).
    async fn session(
        &self,
        account: Account,
        family: Option<String>,
    ) -> Result<Session, AuthError> {
        let access_token = self
            .signer
            .sign_with_contact(
                &account.id,
                account.role,
                Some(TokenContact {
                    email: account.email.clone(),
                    name: account.name.clone(),
                }),
                ACCESS_TTL_SECS,
            )
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let refresh_token = random_token()?;
        self.db
            .query(
                "CREATE refresh_token SET hash = $hash, account = type::record('account', $account),
                    family = $family, expires_at = time::now() + 7d RETURN NONE",
            )
            .bind(("hash", sha_hex(&refresh_token)))
            .bind(("account", account.id.clone()))
            .bind(("family", family.unwrap_or_else(|| uuid::Uuid::now_v7().to_string())))
            .await?
            .check()?;
        Ok(Session {
            access_token,
            access_expires_in: ACCESS_TTL_SECS,
            refresh_token,
            refresh_expires_in: REFRESH_TTL_SECS,
            account,
        })
    }

    async fn revoke_all(&self, account_id: &str) -> Result<(), AuthError> {
        self.db
            .query("UPDATE refresh_token SET revoked = true WHERE account = type::record('account', $id) AND revoked = false RETURN NONE")
            .bind(("id", account_id.to_owned()))
            .await?
            .check()?;
        Ok(())
    }

    async fn send_code(
        &self,
        to: &str,
        name: &str,
        code: String,
        purpose: CodePurpose,
    ) -> Result<(), AuthError> {
        self.mail(
            to,
            Email::OneTimeCode {
                name: name.to_owned(),
                code,
                purpose,
                valid_minutes: (CODE_TTL.as_secs() / 60) as u32,
            },
        )
        .await
    }

    pub async fn start_registration(&self, req: Request<Register>) -> Result<Accepted, AuthError> {
        let Register { role, request: r } = req.body;
        let email = normalize_email(&r.email);
        let mut v = Validator::default();
        check_name(&mut v, &r.name);
        check_email(&mut v, &email);
        check_password(&mut v, "password", &r.password);
        v.check(role != Role::Admin, "role", "admins are created by admins");
        if role == Role::Seller {
            v.check(
                r.phone.as_deref().is_some_and(is_phone),
                "phone",
                "enter a phone number",
            )
            .check(
                r.country
                    .as_deref()
                    .is_some_and(|c| is_country(&c.trim().to_uppercase())),
                "country",
                "choose a country (two-letter code)",
            );
        }
        v.finish().map_err(AuthError::Invalid)?;
        self.codes.allow_send(SIGN_UP, &email).await?;
        let answer = accepted("check your email for a 6-digit code");
        if let Some(mut pending) = self.codes.pending::<PendingSignUp>(SIGN_UP, &email).await {
            // A sign-up is already waiting: it is kept as it is and a new
            // code goes to the address, so a second sign-up cannot put its
            // own password on the account. Checking the password costs what
            // hashing it does, so the answer takes as long as for a new one.
            let same = passwords::verify(r.password, Some(pending.password_hash.clone())).await;
            pending.contested |= !same;
            let code = self.codes.issue(SIGN_UP, &email, &pending).await?;
            self.send_code(&email, &pending.name, code, CodePurpose::SignUp)
                .await?;
            return Ok(answer);
        }
        // Hashed whether or not the address is taken, so the answer takes
        // as long either way (argon2 is most of the time spent here).
        let password_hash = passwords::hash(r.password).await?;
        if let Some(existing) = self.account_by_email(&email).await? {
            // Same answer as for a new address; the owner learns by email.
            self.mail(
                &email,
                Email::AlreadyRegistered {
                    name: existing.name,
                },
            )
            .await?;
            return Ok(answer);
        }
        let pending = PendingSignUp {
            name: r.name.trim().to_owned(),
            role,
            password_hash,
            phone: r
                .phone
                .filter(|_| role == Role::Seller)
                .map(|p| p.trim().to_owned()),
            country: r
                .country
                .filter(|_| role == Role::Seller)
                .map(|c| c.trim().to_uppercase()),
            contested: false,
        };
        let code = self.codes.issue(SIGN_UP, &email, &pending).await?;
        self.send_code(&email, &pending.name, code, CodePurpose::SignUp)
            .await?;
        Ok(answer)
    }

    pub async fn resend_code(&self, req: Request<EmailOnly>) -> Result<Accepted, AuthError> {
        let email = normalize_email(&req.body.email);
        let answer = accepted("if a sign-up is waiting for this address, a new code is on its way");
        let Some(pending) = self.codes.pending::<PendingSignUp>(SIGN_UP, &email).await else {
            return Ok(answer);
        };
        self.codes.allow_send(SIGN_UP, &email).await?;
        let code = self.codes.issue(SIGN_UP, &email, &pending).await?;
        self.send_code(&email, &pending.name, code, CodePurpose::SignUp)
            .await?;
        Ok(answer)
    }

    pub async fn verify_registration(
        &self,
        req: Request<VerifyRequest>,
    ) -> Result<Session, AuthError> {
        let email = normalize_email(&req.body.email);
        let code = req.body.otp.trim();
        if !is_email(&email) || !is_code(code) {
            return Err(AuthError::BadCode);
        }
        let p: PendingSignUp = self.codes.redeem(SIGN_UP, &email, code).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let created = self
            .db
            .query(
                "CREATE type::record('account', $id) SET email = $email, name = $name, role = $role,
                    password_hash = $hash, phone = $phone, country = $country RETURN NONE",
            )
            .bind(("id", id.clone()))
            .bind(("email", email.clone()))
            .bind(("name", p.name.clone()))
            .bind(("role", serde_json::to_value(p.role).unwrap_or_default()))
            .bind(("hash", (!p.contested).then_some(p.password_hash)))
            .bind(("phone", p.phone.clone()))
            .bind(("country", p.country.clone()))
            .await?
            .check();
        if created.is_err() {
            // The unique email index: someone finished signing up first.
            return Err(AuthError::EmailTaken);
        }
        tracing::info!(account = %id, role = ?p.role, contested = p.contested, "account created");
        let account = Account {
            id,
            name: p.name,
            email,
            role: p.role,
            phone: p.phone,
            country: p.country,
            avatar_url: None,
        };
        self.session(account, None).await
    }

    pub async fn login(&self, req: Request<LoginRequest>) -> Result<Session, AuthError> {
        let email = normalize_email(&req.body.email);
        let row = if is_email(&email) {
            self.account_by_email(&email).await?
        } else {
            None
        };
        let hash = row.as_ref().and_then(|r| r.password_hash.clone());
        // Verify even when there is no account, so both take the same time.
        if !passwords::verify(req.body.password, hash).await {
            return Err(AuthError::WrongCredentials);
        }
        let row = row.ok_or(AuthError::WrongCredentials)?;
        if row.banned {
            return Err(AuthError::Banned);
        }
        self.session(row.into(), None).await
    }

    /// Whether the session a refresh-token family is began within the
    /// session's maximum age (its first token's creation).
    async fn family_young(&self, family: &str) -> Result<bool, AuthError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT created_at, created_at > time::now() - {}s AS young FROM refresh_token
                 WHERE family = $family ORDER BY created_at ASC LIMIT 1",
                self.session_max_age_secs
            ))
            .bind(("family", family.to_owned()))
            .await?
            .check()?;
        #[derive(Deserialize)]
        struct Young {
            young: bool,
        }
        Ok(take_rows::<Young>(&mut res, 0)?
            .into_iter()
            .next()
            .is_some_and(|y| y.young))
    }

    pub async fn refresh(&self, req: Request<RefreshRequest>) -> Result<Session, AuthError> {
        let hash = sha_hex(req.body.refresh_token.trim());
        // Mark it used only if it is still good; the WHERE makes this the one winner.
        let mut res = self
            .db
            .query(
                "UPDATE refresh_token SET used_at = time::now()
                   WHERE hash = $hash AND used_at = NONE AND revoked = false AND expires_at > time::now()
                   RETURN record::id(account) AS account, family",
            )
            .bind(("hash", hash.clone()))
            .await?
            .check()?;
        #[derive(Deserialize)]
        struct Used {
            account: String,
            family: String,
        }
        if let Some(used) = take_rows::<Used>(&mut res, 0)?.into_iter().next() {
            if !self.family_young(&used.family).await? {
                // Refreshing never makes a session older than its limit.
                return Err(AuthError::BadRefreshToken);
            }
            let account = self
                .account_by_id(&used.account)
                .await?
                .ok_or(AuthError::BadRefreshToken)?;
            if account.banned {
                return Err(AuthError::Banned);
            }
            return self.session(account.into(), Some(used.family)).await;
        }
        // Unknown, expired, revoked — or reused: a used token presented again
        // means it was stolen, so its whole family ends (OAuth 2.0 Security BCP).
        let mut res = self
            .db
            .query(
                "LET $t = (SELECT family, used_at FROM refresh_token WHERE hash = $hash)[0];
                 IF $t != NONE AND $t.used_at != NONE {
                     UPDATE refresh_token SET revoked = true WHERE family = $t.family RETURN NONE;
                 };
                 $t.used_at != NONE;",
            )
            .bind(("hash", hash))
            .await?
            .check()?;
        let reused: Option<bool> = res.take(2)?;
        if reused == Some(true) {
            tracing::warn!("refresh token reused: its family is revoked");
        }
        Err(AuthError::BadRefreshToken)
    }

    pub async fn logout(&self, req: Request<RefreshRequest>) -> Result<Empty, AuthError> {
        self.db
            .query(
                "LET $t = (SELECT family FROM refresh_token WHERE hash = $hash)[0];
                 IF $t != NONE { UPDATE refresh_token SET revoked = true WHERE family = $t.family RETURN NONE; };",
            )
            .bind(("hash", sha_hex(req.body.refresh_token.trim())))
            .await?
            .check()?;
        Ok(Empty {})
    }

    pub async fn forgot_password(&self, req: Request<EmailOnly>) -> Result<Accepted, AuthError> {
        let email = normalize_email(&req.body.email);
        let answer =
            accepted("if an account uses this address, a code to reset the password is on its way");
        if !is_email(&email) {
            return Ok(answer);
        }
        // Counted for every address, known or not: a 429 for the second
        // request must not tell a registered address from an unknown one.
        self.codes.allow_send(RESET, &email).await?;
        let Some(account) = self.account_by_email(&email).await? else {
            return Ok(answer);
        };
        let code = self.codes.issue(RESET, &email, &account.id).await?;
        self.send_code(&email, &account.name, code, CodePurpose::PasswordReset)
            .await?;
        Ok(answer)
    }

    pub async fn reset_password(
        &self,
        req: Request<ResetPasswordRequest>,
    ) -> Result<Accepted, AuthError> {
        let email = normalize_email(&req.body.email);
        let mut v = Validator::default();
        check_password(&mut v, "new_password", &req.body.new_password);
        v.finish().map_err(AuthError::Invalid)?;
        if !is_code(req.body.otp.trim()) {
            return Err(AuthError::BadCode);
        }
        let account_id: String = self
            .codes
            .redeem(RESET, &email, req.body.otp.trim())
            .await?;
        self.set_password(&account_id, req.body.new_password)
            .await?;
        Ok(accepted(
            "your password is changed; sign in with the new one",
        ))
    }

    /// Sets a new password, ends every session and tells the owner.
    async fn set_password(
        &self,
        account_id: &str,
        password: String,
    ) -> Result<AccountRow, AuthError> {
        let hash = passwords::hash(password).await?;
        self.db
            .query("UPDATE type::record('account', $id) SET password_hash = $hash, password_changed_at = time::now() RETURN NONE")
            .bind(("id", account_id.to_owned()))
            .bind(("hash", hash))
            .await?
            .check()?;
        self.revoke_all(account_id).await?;
        let account = self
            .account_by_id(account_id)
            .await?
            .ok_or(AuthError::WrongCredentials)?;
        self.mail(
            &account.email,
            Email::PasswordChanged {
                name: account.name.clone(),
            },
        )
        .await?;
        Ok(account)
    }

    pub async fn change_password(
        &self,
        req: Request<ChangePasswordRequest>,
    ) -> Result<Session, AuthError> {
        let id = caller_id(&req.caller)?;
        let mut v = Validator::default();
        check_password(&mut v, "new_password", &req.body.new_password);
        v.finish().map_err(AuthError::Invalid)?;
        let account = self
            .account_by_id(&id)
            .await?
            .ok_or(AuthError::WrongCredentials)?;
        if !passwords::verify(req.body.current_password, account.password_hash).await {
            return Err(AuthError::Invalid(ErrorEnvelope::validation(vec![
                bazaar_subjects::FieldError {
                    field: "current_password".into(),
                    message: "the current password is wrong".into(),
                },
            ])));
        }
        let account = self.set_password(&id, req.body.new_password).await?;
        self.session(account.into(), None).await
    }

    pub async fn me(&self, req: Request<Empty>) -> Result<Account, AuthError> {
        let id = caller_id(&req.caller)?;
        Ok(self
            .account_by_id(&id)
            .await?
            .ok_or(AuthError::WrongCredentials)?
            .into())
    }

    pub async fn contact(&self, req: Request<AccountRef>) -> Result<Contact, AuthError> {
        let account = self
            .account_by_id(&req.body.account_id)
            .await?
            .ok_or(AuthError::NoSuchAccount)?;
        let account: Account = account.into();
        Ok(Contact {
            account_id: account.id,
            name: account.name,
            email: account.email,
        })
    }

    pub async fn update_me(&self, req: Request<ProfileUpdate>) -> Result<Account, AuthError> {
        let id = caller_id(&req.caller)?;
        let u = req.body;
        let mut v = Validator::default();
        if let Some(name) = &u.name {
            check_name(&mut v, name);
        }
        v.check(
            u.avatar_url
                .as_deref()
                .is_none_or(|a| a.is_empty() || (a.starts_with('/') && a.len() <= 512)),
            "avatar_url",
            "use an uploaded image",
        );
        v.finish().map_err(AuthError::Invalid)?;
        self.db
            .query(
                "UPDATE type::record('account', $id) SET
                    name = $name ?? name,
                    avatar_url = IF $avatar = '' THEN NONE ELSE $avatar ?? avatar_url END
                 RETURN NONE",
            )
            .bind(("id", id.clone()))
            .bind(("name", u.name.map(|n| n.trim().to_owned())))
            .bind(("avatar", u.avatar_url))
            .await?
            .check()?;
        Ok(self
            .account_by_id(&id)
            .await?
            .ok_or(AuthError::WrongCredentials)?
            .into())
    }

    pub async fn list_addresses(&self, req: Request<Empty>) -> Result<AddressList, AuthError> {
        let id = caller_id(&req.caller)?;
        let mut res = self
            .db
            .query(
                "SELECT record::id(id) AS id, label, full_name, line1, line2, city, postal_code, country, phone, is_default
                 FROM address WHERE account = type::record('account', $id) ORDER BY is_default DESC, created_at",
            )
            .bind(("id", id))
            .await?
            .check()?;
        Ok(AddressList {
            addresses: take_rows(&mut res, 0)?,
        })
    }

    pub async fn create_address(&self, req: Request<AddressInput>) -> Result<Address, AuthError> {
        let owner = caller_id(&req.caller)?;
        let fields = validate_address(req.body)?;
        let id = uuid::Uuid::now_v7().to_string();
        self.write_address(&owner, &id, &fields, true).await?;
        Ok(Address { id, fields })
    }

    pub async fn update_address(&self, req: Request<AddressUpdate>) -> Result<Address, AuthError> {
        let owner = caller_id(&req.caller)?;
        let fields = validate_address(req.body.fields)?;
        self.write_address(&owner, &req.body.id, &fields, false)
            .await?;
        Ok(Address {
            id: req.body.id,
            fields,
        })
    }

    /// Creates or updates (only the owner's) address; one default per account.
    async fn write_address(
        &self,
        owner: &str,
        id: &str,
        f: &AddressInput,
        create: bool,
    ) -> Result<(), AuthError> {
        let set = "account = $owner, label = $input.label, full_name = $input.full_name, line1 = $input.line1,
                   line2 = $input.line2, city = $input.city, postal_code = $input.postal_code,
                   country = $input.country, phone = $input.phone, is_default = $input.is_default";
        let write = if create {
            format!("CREATE type::record('address', $id) SET {set} RETURN VALUE record::id(id)")
        } else {
            // The WHERE is the ownership check: someone else's address matches nothing.
            format!(
                "UPDATE type::record('address', $id) SET {set} WHERE account = $owner RETURN VALUE record::id(id)"
            )
        };
        let input = serde_json::to_value(f).map_err(|e| AuthError::Internal(e.to_string()))?;
        let mut res = self
            .db
            .query(format!(
                "LET $owner = type::record('account', $account);
                 {write};
                 IF $input.is_default {{
                     UPDATE address SET is_default = false
                       WHERE account = $owner AND id != type::record('address', $id) RETURN NONE;
                 }};"
            ))
            .bind(("account", owner.to_owned()))
            .bind(("id", id.to_owned()))
            .bind(("input", strip_nulls(input)))
            .await?
            .check()?;
        let written: Vec<String> = res.take(1)?;
        if written.is_empty() {
            return Err(AuthError::NoSuchAddress);
        }
        Ok(())
    }

    pub async fn delete_address(&self, req: Request<AddressId>) -> Result<Empty, AuthError> {
        let owner = caller_id(&req.caller)?;
        let mut res = self
            .db
            .query(
                "DELETE type::record('address', $id) WHERE account = type::record('account', $owner) RETURN BEFORE",
            )
            .bind(("id", req.body.id))
            .bind(("owner", owner))
            .await?
            .check()?;
        let gone: Vec<serde_json::Value> = res.take(0)?;
        if gone.is_empty() {
            return Err(AuthError::NoSuchAddress);
        }
        Ok(Empty {})
    }

    pub async fn add_admin(&self, req: Request<CreateAdmin>) -> Result<Account, AuthError> {
        let admin = req.caller.account_id().unwrap_or_default().to_owned();
        let record = bazaar_schema::audit::Audit::new(
            admin,
            "account.create_admin",
            "account",
            // The new account's id, set once it is made.
            "",
            &req.request_id,
        );
        create_admin_as(&self.db, req.body, Some(&record)).await
    }
}

/// SurrealDB's `option<…>` fields want absent values, not nulls.
fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

fn validate_address(mut a: AddressInput) -> Result<AddressInput, AuthError> {
    let trim = |s: &mut String| *s = s.trim().to_owned();
    trim(&mut a.full_name);
    trim(&mut a.line1);
    trim(&mut a.city);
    trim(&mut a.postal_code);
    a.country = a.country.trim().to_uppercase();
    let short = |s: &str, max: usize| !s.is_empty() && s.chars().count() <= max;
    let mut v = Validator::default();
    v.check(
        short(&a.full_name, 120),
        "full_name",
        "enter the recipient's name",
    )
    .check(short(&a.line1, 200), "line1", "enter the street and number")
    .check(
        a.line2.as_deref().is_none_or(|l| l.chars().count() <= 200),
        "line2",
        "keep it to 200 characters",
    )
    .check(short(&a.city, 100), "city", "enter the city")
    .check(
        short(&a.postal_code, 20),
        "postal_code",
        "enter the postal code",
    )
    .check(
        is_country(&a.country),
        "country",
        "choose a country (two-letter code)",
    )
    .check(
        a.phone
            .as_deref()
            .is_none_or(|p| p.is_empty() || is_phone(p)),
        "phone",
        "enter a valid phone number",
    )
    .check(
        a.label.as_deref().is_none_or(|l| l.chars().count() <= 40),
        "label",
        "keep the label to 40 characters",
    );
    v.finish().map_err(AuthError::Invalid)?;
    a.line2 = a.line2.filter(|l| !l.trim().is_empty());
    a.phone = a.phone.filter(|p| !p.trim().is_empty());
    a.label = a.label.filter(|l| !l.trim().is_empty());
    Ok(a)
}

/// Creates an admin account (the first one from the command line; later ones
/// by an admin through `auth.admin.create`).
pub async fn create_admin(db: &Db, input: CreateAdmin) -> Result<Account, AuthError> {
    create_admin_as(db, input, None).await
}

/// Creates an admin account; with `audit` (an admin's request), the action
/// is recorded in the same transaction, with the new account as `after`.
async fn create_admin_as(
    db: &Db,
    input: CreateAdmin,
    audit: Option<&bazaar_schema::audit::Audit>,
) -> Result<Account, AuthError> {
    let email = normalize_email(&input.email);
    let mut v = Validator::default();
    check_name(&mut v, &input.name);
    check_email(&mut v, &email);
    check_password(&mut v, "password", &input.password);
    v.finish().map_err(AuthError::Invalid)?;
    let id = uuid::Uuid::now_v7().to_string();
    let hash = passwords::hash(input.password).await?;
    let audit = audit.map(|a| bazaar_schema::audit::Audit {
        target: id.clone(),
        ..a.clone()
    });
    let record = if audit.is_some() {
        bazaar_schema::audit::RECORD
    } else {
        ""
    };
    let created = db
        .query(format!(
            "BEGIN TRANSACTION;
             CREATE type::record('account', $id) SET email = $email, name = $name, role = 'admin', password_hash = $hash RETURN NONE;
             LET $before = NONE;
             LET $after = (SELECT record::id(id) AS id, name, email, role FROM type::record('account', $id))[0];
             {record}
             COMMIT TRANSACTION;"
        ))
        .bind(
            audit
                .as_ref()
                .map_or(("audit", serde_json::Value::Null), |a| a.bind()),
        )
        .bind(("id", id.clone()))
        .bind(("email", email.clone()))
        .bind(("name", input.name.trim().to_owned()))
        .bind(("hash", hash))
        .await?
        .check();
    if created.is_err() {
        return Err(AuthError::EmailTaken);
    }
    Ok(Account {
        id,
        name: input.name.trim().to_owned(),
        email,
        role: Role::Admin,
        phone: None,
        country: None,
        avatar_url: None,
    })
}
