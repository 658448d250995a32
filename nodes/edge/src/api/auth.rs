//! Sign-up, sign-in, sessions, profile and addresses over HTTP. Sessions
//! travel in httpOnly cookies for browsers and in the body for API clients.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::{self as a, *};
use bazaar_subjects::{Empty, ErrorEnvelope, Role};

use crate::error::ApiError;
use crate::extract::{ACCESS_COOKIE, ApiJson, Meta, REFRESH_COOKIE, cookie_value};
use crate::middleware::device;
use crate::middleware::ratelimit::Limit;
use crate::state::EdgeState;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/api/register/user", post(register_user))
        .route("/api/register/seller", post(register_seller))
        .route("/api/register/verify", post(verify))
        .route("/api/register/resend", post(resend))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/refresh-token", post(refresh))
        .route("/api/forgot-password", post(forgot_password))
        .route("/api/reset-password", post(reset_password))
        .route("/api/me", get(me).patch(update_me))
        .route("/api/me/password", post(change_password))
        .route(
            "/api/me/addresses",
            get(list_addresses).post(create_address),
        )
        .route(
            "/api/me/addresses/{id}",
            put(update_address).delete(delete_address),
        )
        .route("/api/admins", post(add_admin))
}

/// The cookies that carry a session; `Secure` unless the site is plain http.
/// Appended: two `Set-Cookie` headers, not one replacing the other.
pub(crate) fn session_cookies(
    state: &EdgeState,
    s: &Session,
) -> AppendHeaders<[(header::HeaderName, HeaderValue); 2]> {
    let secure = state.secure_attribute();
    let access = format!(
        "{ACCESS_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        s.access_token, s.access_expires_in
    );
    let refresh = format!(
        "{REFRESH_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        s.refresh_token, s.refresh_expires_in
    );
    AppendHeaders([
        (
            header::SET_COOKIE,
            HeaderValue::from_str(&access).unwrap_or(HeaderValue::from_static("")),
        ),
        (
            header::SET_COOKIE,
            HeaderValue::from_str(&refresh).unwrap_or(HeaderValue::from_static("")),
        ),
    ])
}

pub(crate) fn clear_cookies() -> AppendHeaders<[(header::HeaderName, HeaderValue); 2]> {
    AppendHeaders([
        (
            header::SET_COOKIE,
            HeaderValue::from_static("bazaar_access=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
        ),
        (
            header::SET_COOKIE,
            HeaderValue::from_static(
                "bazaar_refresh=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
            ),
        ),
    ])
}

fn with_session(state: &EdgeState, s: Session) -> Response {
    (session_cookies(state, &s), Json(s)).into_response()
}

fn accepted(a: Accepted) -> Response {
    (StatusCode::ACCEPTED, Json(a)).into_response()
}

/// Per-address limit on the calls that send codes or check passwords, on top
/// of the per-IP limits every `/api` call has.
pub(crate) async fn limit_email(
    state: &EdgeState,
    action: &str,
    email: &str,
) -> Result<(), ApiError> {
    let key = format!(
        "email.{action}.{}",
        crate::middleware::ratelimit::digest(&email.trim().to_lowercase())
    );
    state
        .limiter()
        .check(&key, Limit::per_account(&state.inner.config))
        .await
}

/// Start a buyer sign-up: 202, and a 6-digit code by email.
#[utoipa::path(post, path = "/api/register/user", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = Accepted), (status = 422, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn register_user(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    register(s, meta, Role::Buyer, req).await
}

/// What `POST /api/register/seller` reads: a [`RegisterRequest`] whose
/// phone and country are required (the auth node checks them for sellers).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "only its schema is used: the handler reads a RegisterRequest"
)]
pub struct SellerRegistration {
    #[serde(flatten)]
    account: RegisterRequest,
    /// 6 to 20 digits, with spaces, `+`, `-` and brackets.
    #[schema(pattern = r"^[ +()-]*([0-9][ +()-]*){6,20}$")]
    phone: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    country: String,
}

/// Start a seller sign-up (phone and country required).
#[utoipa::path(post, path = "/api/register/seller", tag = "auth", request_body = SellerRegistration,
    responses((status = 202, body = Accepted), (status = 422, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn register_seller(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    register(s, meta, Role::Seller, req).await
}

async fn register(
    s: EdgeState,
    meta: RequestMeta,
    role: Role,
    request: RegisterRequest,
) -> Result<Response, ApiError> {
    limit_email(&s, "register", &request.email).await?;
    let reply = s
        .call::<StartRegistration>(&meta, &Register { role, request })
        .await?;
    Ok(accepted(reply))
}

/// Finish sign-up with the code: the account exists and is signed in.
#[utoipa::path(post, path = "/api/register/verify", tag = "auth", request_body = VerifyRequest,
    responses((status = 200, body = Session), (status = 400, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn verify(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let session = s.call::<VerifyRegistration>(&meta, &req).await?;
    Ok(with_session(&s, session))
}

/// Send a new sign-up code (at most once a minute).
#[utoipa::path(post, path = "/api/register/resend", tag = "auth", request_body = EmailOnly,
    responses((status = 202, body = Accepted), (status = 429, body = ErrorEnvelope)))]
pub async fn resend(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<EmailOnly>,
) -> Result<Response, ApiError> {
    limit_email(&s, "register", &req.email).await?;
    Ok(accepted(s.call::<ResendCode>(&meta, &req).await?))
}

/// Signs in with a password, for the API and the sign-in form. A client
/// whose device cookie shows it signed in to this account before counts
/// against its own per-account limit, not the account's shared one, so
/// someone else's wrong passwords cannot lock it out. The session, and the
/// device cookie to set.
pub(crate) async fn password_sign_in(
    state: &EdgeState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    req: &LoginRequest,
) -> Result<(Session, HeaderValue), ApiError> {
    let known = device::of_request(state, headers, &req.email);
    match &known {
        Some(d) => {
            let action = format!(
                "login.device.{}",
                crate::middleware::ratelimit::digest(&d.id)
            );
            limit_email(state, &action, &req.email).await?;
        }
        None => limit_email(state, "login", &req.email).await?,
    }
    let session = state.call::<Login>(meta, req).await?;
    let known = match known {
        Some(d) if d.account == session.account.id => Some(d),
        // A cookie from an earlier account of the same email: this try
        // counts as a stranger's after all.
        Some(_) => {
            limit_email(state, "login", &req.email).await?;
            None
        }
        None => None,
    };
    let cookie = device::cookie(state, known.as_ref(), &session.account.id, &req.email);
    Ok((session, cookie))
}

/// Sign in (buyers, sellers and admins): session cookies and tokens, and a
/// device cookie that keeps this client out of the account's lockout.
#[utoipa::path(post, path = "/api/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn login(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let (session, device) = password_sign_in(&s, &meta, &headers, &req).await?;
    Ok((
        AppendHeaders([(header::SET_COOKIE, device)]),
        with_session(&s, session),
    )
        .into_response())
}

/// The refresh token from the cookie, or from a JSON body for API clients.
fn refresh_token(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    cookie_value(headers, REFRESH_COOKIE).or_else(|| {
        serde_json::from_slice::<RefreshRequest>(body)
            .ok()
            .map(|r| r.refresh_token)
    })
}

/// Sign out: the session's refresh-token family ends and the cookies go.
#[utoipa::path(post, path = "/api/logout", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "the refresh token, for clients without the cookie"),
    responses((status = 204)))]
pub async fn logout(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if let Some(refresh_token) = refresh_token(&headers, &body) {
        s.call::<Logout>(&meta, &RefreshRequest { refresh_token })
            .await?;
    }
    Ok((StatusCode::NO_CONTENT, clear_cookies()).into_response())
}

/// Trade the refresh token for a new session (it rotates; reuse ends the family).
#[utoipa::path(post, path = "/api/refresh-token", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Session), (status = 401, body = ErrorEnvelope)))]
pub async fn refresh(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Some(refresh_token) = refresh_token(&headers, &body) else {
        return Err(ApiError(ErrorEnvelope::unauthorized(
            "no session to refresh; sign in",
        )));
    };
    match s
        .call::<a::Refresh>(&meta, &RefreshRequest { refresh_token })
        .await
    {
        Ok(session) => Ok(with_session(&s, session)),
        Err(e) => Ok((clear_cookies(), e).into_response()),
    }
}

/// Always 202; a reset code goes out only when the account exists.
#[utoipa::path(post, path = "/api/forgot-password", tag = "auth", request_body = EmailOnly,
    responses((status = 202, body = Accepted), (status = 429, body = ErrorEnvelope)))]
pub async fn forgot_password(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<EmailOnly>,
) -> Result<Response, ApiError> {
    limit_email(&s, "reset", &req.email).await?;
    Ok(accepted(s.call::<ForgotPassword>(&meta, &req).await?))
}

/// Set a new password with the emailed code; every session ends.
#[utoipa::path(post, path = "/api/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 200, body = Accepted), (status = 400, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn reset_password(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> Result<Response, ApiError> {
    limit_email(&s, "reset", &req.email).await?;
    let reply = s.call::<ResetPassword>(&meta, &req).await?;
    Ok((clear_cookies(), Json(reply)).into_response())
}

/// Change the password: every other session ends; this one gets new tokens.
#[utoipa::path(post, path = "/api/me/password", tag = "account", request_body = ChangePasswordRequest,
    responses((status = 200, body = Session), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn change_password(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<Response, ApiError> {
    let session = s.call::<ChangePassword>(&meta, &req).await?;
    Ok(with_session(&s, session))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/me", tag = "account",
    responses((status = 200, body = Account), (status = 401, body = ErrorEnvelope)))]
pub async fn me(State(s): State<EdgeState>, Meta(meta): Meta) -> Result<Json<Account>, ApiError> {
    Ok(Json(s.call::<GetMe>(&meta, &Empty {}).await?))
}

/// Change name or avatar.
#[utoipa::path(patch, path = "/api/me", tag = "account", request_body = ProfileUpdate,
    responses((status = 200, body = Account), (status = 401, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_me(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(s.call::<UpdateMe>(&meta, &req).await?))
}

/// The signed-in account's shipping addresses, default first.
#[utoipa::path(get, path = "/api/me/addresses", tag = "account",
    responses((status = 200, body = AddressList), (status = 401, body = ErrorEnvelope)))]
pub async fn list_addresses(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
) -> Result<Json<AddressList>, ApiError> {
    Ok(Json(s.call::<ListAddresses>(&meta, &Empty {}).await?))
}

/// Add a shipping address.
#[utoipa::path(post, path = "/api/me/addresses", tag = "account", request_body = AddressInput,
    responses((status = 201, body = Address), (status = 422, body = ErrorEnvelope)))]
pub async fn create_address(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<AddressInput>,
) -> Result<Response, ApiError> {
    let address = s.call::<CreateAddress>(&meta, &req).await?;
    Ok((StatusCode::CREATED, Json(address)).into_response())
}

/// Change one of your addresses.
#[utoipa::path(put, path = "/api/me/addresses/{id}", tag = "account", request_body = AddressInput,
    params(("id" = String, Path, description = "address id")),
    responses((status = 200, body = Address), (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn update_address(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
    ApiJson(fields): ApiJson<AddressInput>,
) -> Result<Json<Address>, ApiError> {
    Ok(Json(
        s.call::<UpdateAddress>(&meta, &AddressUpdate { id, fields })
            .await?,
    ))
}

/// Remove one of your addresses.
#[utoipa::path(delete, path = "/api/me/addresses/{id}", tag = "account",
    params(("id" = String, Path, description = "address id")),
    responses((status = 204), (status = 404, body = ErrorEnvelope)))]
pub async fn delete_address(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.call::<DeleteAddress>(&meta, &AddressId { id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin adds another admin.
#[utoipa::path(post, path = "/api/admins", tag = "account", request_body = CreateAdmin,
    responses((status = 201, body = Account), (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn add_admin(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    ApiJson(req): ApiJson<CreateAdmin>,
) -> Result<Response, ApiError> {
    let account = s.call::<AddAdmin>(&meta, &req).await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}
