//! The auth domain's errors and their one mapping to the envelope.

use bazaar_subjects::ErrorEnvelope;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// 422: invalid fields.
    #[error("invalid input")]
    Invalid(ErrorEnvelope),
    /// 401: one answer for unknown email and wrong password alike.
    #[error("wrong credentials")]
    WrongCredentials,
    /// 400: the code is wrong, used or expired (one answer for all three).
    #[error("bad code")]
    BadCode,
    /// 429: too many wrong codes: the code is locked until it expires.
    #[error("code locked")]
    CodeLocked,
    /// 429: codes are sent at most once a minute and a few times an hour.
    #[error("slow down")]
    TooSoon { retry_after_secs: u64 },
    /// 401: the refresh token is unknown, used, revoked or expired.
    #[error("bad refresh token")]
    BadRefreshToken,
    /// 404: no such address (or not the caller's).
    #[error("no such address")]
    NoSuchAddress,
    /// 404: no account has that id.
    #[error("no such account")]
    NoSuchAccount,
    /// 409: an account with this email exists already.
    #[error("email taken")]
    EmailTaken,
    /// 400: Google sign-in failed in a way the person can retry.
    #[error("google sign-in: {0}")]
    Google(String),
    /// 404: Google sign-in is not configured here.
    #[error("google sign-in disabled")]
    GoogleDisabled,
    /// 403: this account signs in with its password.
    #[error("not a buyer account")]
    PasswordOnly,
    /// 403: the account is banned; it cannot sign in until an admin lifts the ban.
    #[error("account banned")]
    Banned,
    /// 422: an admin cannot ban their own account.
    #[error("cannot ban oneself")]
    CannotBanSelf,
    /// 409: the account is banned already.
    #[error("already banned")]
    AlreadyBanned,
    /// 409: the account is not banned.
    #[error("not banned")]
    NotBanned,
    /// 409: the account is an admin already.
    #[error("already an admin")]
    AlreadyAdmin,
    /// 500
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
    /// 500
    #[error(transparent)]
    Schema(#[from] bazaar_schema::SchemaError),
    /// 500
    #[error("{0}")]
    Internal(String),
}

impl From<AuthError> for ErrorEnvelope {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Invalid(envelope) => envelope,
            AuthError::WrongCredentials => {
                ErrorEnvelope::unauthorized("the email or password is wrong")
            }
            AuthError::BadCode => ErrorEnvelope::bad_request("the code is wrong or has expired"),
            AuthError::CodeLocked => ErrorEnvelope::rate_limited(
                "too many wrong codes: request a new code in a few minutes",
                300,
            ),
            AuthError::TooSoon { retry_after_secs } => ErrorEnvelope::rate_limited(
                format!("a code was sent recently: try again in {retry_after_secs} seconds"),
                retry_after_secs,
            ),
            AuthError::BadRefreshToken => {
                ErrorEnvelope::unauthorized("your session has ended; sign in again")
            }
            AuthError::NoSuchAddress => ErrorEnvelope::not_found("there is no such address"),
            AuthError::NoSuchAccount => ErrorEnvelope::not_found("there is no such account"),
            AuthError::EmailTaken => {
                ErrorEnvelope::conflict("an account with this email exists already")
            }
            AuthError::Google(message) => ErrorEnvelope::bad_request(message),
            AuthError::GoogleDisabled => {
                ErrorEnvelope::not_found("Google sign-in is not enabled on this site")
            }
            AuthError::PasswordOnly => {
                ErrorEnvelope::forbidden("this account signs in with its email and password")
            }
            AuthError::Banned => ErrorEnvelope::forbidden(
                "this account has been suspended; contact support if you think this is a mistake",
            ),
            AuthError::CannotBanSelf => {
                ErrorEnvelope::validation(vec![bazaar_subjects::FieldError {
                    field: "account_id".into(),
                    message: "you cannot ban your own account".into(),
                }])
            }
            AuthError::AlreadyBanned => ErrorEnvelope::conflict("this account is banned already"),
            AuthError::NotBanned => ErrorEnvelope::conflict("this account is not banned"),
            AuthError::AlreadyAdmin => ErrorEnvelope::conflict("this account is an admin already"),
            other => bazaar_runtime::internal(other),
        }
    }
}
