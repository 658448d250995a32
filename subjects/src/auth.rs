//! The auth domain: accounts, one-time codes, sessions, profiles and addresses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Domain, Empty, Endpoint, Role};

/// One-time codes (keyed hashes only) while they are valid.
pub const CODES_BUCKET: &str = "auth_codes";
/// When a code was last sent to an address (the resend limit).
pub const CODE_SENDS_BUCKET: &str = "auth_code_sends";
/// Google sign-ins between the redirect and the callback.
pub const OIDC_PENDING_BUCKET: &str = "auth_oidc_pending";

/// Start signing up: a code goes to the email. Sellers add phone and country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 1–80 characters once trimmed, no control characters.
    #[schema(
        max_length = 80,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 10–128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// Sellers only (required for them): 6 to 20 digits, with spaces, `+`, `-` and brackets.
    #[serde(default)]
    #[schema(pattern = r"^[ +()-]*([0-9][ +()-]*){6,20}$")]
    pub phone: Option<String>,
    /// Sellers only (required for them): ISO 3166-1 alpha-2, e.g. `DE`.
    #[serde(default)]
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: Option<String>,
}

/// The internal form: which role the new account gets (set by the edge route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub role: Role,
    #[serde(flatten)]
    pub request: RegisterRequest,
}

/// The same answer whether or not the email was known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerifyRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The six digits from the email.
    #[schema(pattern = r"^\s*[0-9]{6}\s*$")]
    pub otp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EmailOnly {
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub email: String,
    /// The six digits from the email.
    #[schema(pattern = r"^\s*[0-9]{6}\s*$")]
    pub otp: String,
    /// 10–128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 10–128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// A signed-in account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// A new session: a short-lived access token and a rotating refresh token.
/// The edge puts both in httpOnly cookies; API clients may use them directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub access_expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
    pub account: Account,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProfileUpdate {
    #[serde(default)]
    pub name: Option<String>,
    /// An image URL (from `POST /api/images`), or "" to remove.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// A shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Address {
    pub id: String,
    #[serde(flatten)]
    pub fields: AddressInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressInput {
    /// e.g. "Home"; at most 40 characters.
    #[serde(default)]
    #[schema(max_length = 40)]
    pub label: Option<String>,
    /// 1–120 characters once trimmed.
    #[schema(max_length = 120, pattern = r"\S")]
    pub full_name: String,
    /// 1–200 characters once trimmed.
    #[schema(max_length = 200, pattern = r"\S")]
    pub line1: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    /// 1–100 characters once trimmed.
    #[schema(max_length = 100, pattern = r"\S")]
    pub city: String,
    /// 1–20 characters once trimmed.
    #[schema(max_length = 20, pattern = r"\S")]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: String,
    /// Empty, or 6 to 20 digits with spaces, `+`, `-` and brackets.
    #[serde(default)]
    #[schema(pattern = r"^([ +()-]*([0-9][ +()-]*){6,20})?$")]
    pub phone: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressList {
    pub addresses: Vec<Address>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressId {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressUpdate {
    pub id: String,
    #[serde(flatten)]
    pub fields: AddressInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreateAdmin {
    /// 1–80 characters once trimmed, no control characters.
    #[schema(
        max_length = 80,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 10–128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
}

macro_rules! endpoint {
    ($(#[$doc:meta])* $name:ident, $subject:literal, $access:ident, $req:ty => $rep:ty) => {
        $(#[$doc])*
        pub struct $name;
        impl Endpoint for $name {
            const SUBJECT: &'static str = $subject;
            const DOMAIN: Domain = Domain::Auth;
            const ACCESS: Access = Access::$access;
            type Request = $req;
            type Reply = $rep;
        }
    };
}

endpoint!(/// Start a sign-up; always `Accepted`.
    StartRegistration, "auth.registration.start", Public, Register => Accepted);
endpoint!(/// Finish a sign-up with the emailed code: account created, signed in.
    VerifyRegistration, "auth.registration.verify", Public, VerifyRequest => Session);
endpoint!(/// Send a fresh sign-up code (cooldown applies).
    ResendCode, "auth.registration.resend", Public, EmailOnly => Accepted);
endpoint!(/// Email + password → session. One answer for every failure.
    Login, "auth.session.login", Public, LoginRequest => Session);
endpoint!(/// Rotate a refresh token; reusing a used one revokes its whole family.
    Refresh, "auth.session.refresh", Public, RefreshRequest => Session);
endpoint!(/// End the session the refresh token belongs to.
    Logout, "auth.session.logout", Public, RefreshRequest => Empty);
endpoint!(/// Always `Accepted`; a code goes out only when the account exists.
    ForgotPassword, "auth.password.forgot", Public, EmailOnly => Accepted);
endpoint!(/// Set a new password with the emailed code; every session ends.
    ResetPassword, "auth.password.reset", Public, ResetPasswordRequest => Accepted);
endpoint!(/// Change the password, knowing the current one: every session ends and a fresh one begins.
    ChangePassword, "auth.password.change", Account, ChangePasswordRequest => Session);
endpoint!(/// The caller's own account.
    GetMe, "auth.me.get", Account, Empty => Account);
endpoint!(/// Change the caller's name or avatar.
    UpdateMe, "auth.me.update", Account, ProfileUpdate => Account);
endpoint!(/// The caller's shipping addresses.
    ListAddresses, "auth.address.list", Account, Empty => AddressList);
endpoint!(/// Add a shipping address.
    CreateAddress, "auth.address.create", Account, AddressInput => Address);
endpoint!(/// Change one of the caller's addresses.
    UpdateAddress, "auth.address.update", Account, AddressUpdate => Address);
endpoint!(/// Remove one of the caller's addresses.
    DeleteAddress, "auth.address.delete", Account, AddressId => Empty);
endpoint!(/// An admin adds another admin.
    AddAdmin, "auth.admin.create", Admin, CreateAdmin => Account);
endpoint!(/// Where to email an account that is not the caller (chat reminders).
    /// Node to node only: the edge routes no path to it, and the bus's
    /// permissions let only the nodes that email people request it.
    GetContact, "auth.contact.get", Public, AccountRef => Contact);

/// One account, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountRef {
    pub account_id: String,
}

/// How to reach an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    pub account_id: String,
    pub name: String,
    pub email: String,
}

/// Begin "Sign in with Google": where to send the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GoogleStart {
    /// Our callback URL, registered with the provider.
    pub redirect_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GoogleRedirect {
    pub authorization_url: String,
    /// Bind it to the browser (a cookie) and compare on the way back.
    pub state: String,
}

/// The provider sent the browser back with a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GoogleFinish {
    pub code: String,
    pub state: String,
}

endpoint!(/// Start the OpenID Connect authorization-code flow (PKCE, state, nonce).
    StartGoogleSignIn, "auth.google.start", Public, GoogleStart => GoogleRedirect);
endpoint!(/// Finish it: exchange the code, verify the id_token, sign in (linking by email).
    FinishGoogleSignIn, "auth.google.finish", Public, GoogleFinish => Session);
