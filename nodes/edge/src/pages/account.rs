//! The sign-up, sign-in, code, password and account pages. Plain HTML forms
//! (they work without JavaScript) posting to the same subjects the API uses;
//! a refused form comes back with each field's error beside it and what the
//! person typed still in place.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::{self as a, *};
use bazaar_subjects::{Empty, ErrorEnvelope, Role};
use serde::Deserialize;

use crate::api::auth::{clear_cookies, limit_email, password_sign_in, session_cookies};
use crate::extract::{Meta, REFRESH_COOKIE, SignedIn, Viewer, cookie_value};
use crate::state::EdgeState;
use crate::ui::address::{AddressField, AddressFields};
use crate::ui::chrome::Chrome;
use crate::ui::errors::PageError;
use crate::ui::forms::{FieldErrors, reason};
use crate::ui::query::urlencode;

pub fn routes() -> Router<EdgeState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup_buyer))
        .route(
            "/seller/signup",
            get(seller_signup_page).post(signup_seller),
        )
        .route("/verify", get(verify_page).post(verify))
        .route("/verify/resend", post(resend))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/forgot-password", get(forgot_page).post(forgot))
        .route("/reset-password", get(reset_page).post(reset))
        .route("/account", get(account_page))
        .route("/account/profile", post(update_profile))
        .route(
            "/account/avatar",
            post(upload_avatar).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::images::MAX_IMAGE_BYTES + 64 * 1024,
            )),
        )
        .route("/account/addresses", post(add_address))
        .route("/account/addresses/{id}/delete", post(delete_address))
        .route("/account/password", post(change_password))
}

struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    value: String,
    autocomplete: &'static str,
    error: Option<String>,
}

fn field(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    value: &str,
    autocomplete: &'static str,
) -> Field {
    Field {
        name,
        label,
        kind,
        // Passwords are never sent back into the page.
        value: if kind == "password" {
            String::new()
        } else {
            value.to_owned()
        },
        autocomplete,
        error: None,
    }
}

struct ExtraForm {
    action: &'static str,
    label: &'static str,
    hidden: Vec<(String, String)>,
}

struct FormSpec {
    title: &'static str,
    intro: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    action: &'static str,
    fields: Vec<Field>,
    submit: &'static str,
    extra_forms: Vec<ExtraForm>,
    links: Vec<(&'static str, &'static str)>,
    google: bool,
}

impl FormSpec {
    fn new(
        title: &'static str,
        action: &'static str,
        submit: &'static str,
        fields: Vec<Field>,
    ) -> Self {
        Self {
            title,
            intro: None,
            notice: None,
            error: None,
            action,
            fields,
            submit,
            extra_forms: Vec::new(),
            links: Vec::new(),
            google: false,
        }
    }

    /// Puts an error envelope's messages beside the fields they name.
    fn with_error(mut self, e: ErrorEnvelope) -> Self {
        let mut unplaced = e.fields.is_empty();
        for fe in &e.fields {
            match self.fields.iter_mut().find(|f| f.name == fe.field) {
                Some(f) => f.error = Some(fe.message.clone()),
                None => unplaced = true,
            }
        }
        if unplaced || e.fields.is_empty() {
            self.error = Some(e.message);
        } else {
            self.error = Some("Please correct the marked fields.".into());
        }
        self
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "form.html")]
struct FormPage {
    viewer: Option<Account>,
    chrome: Chrome,
    form: FormSpec,
}

fn render(viewer: Option<Account>, chrome: Chrome, form: FormSpec, status: StatusCode) -> Response {
    (
        status,
        FormPage {
            viewer,
            chrome,
            form,
        },
    )
        .into_response()
}

fn status_of(e: &ErrorEnvelope) -> StatusCode {
    StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST)
}

fn signed_in(state: &EdgeState, session: &Session, to: &str) -> Response {
    (session_cookies(state, session), Redirect::to(to)).into_response()
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| crate::ui::redirect::is_local_path(n))
        .unwrap_or("/")
        .to_owned()
}

#[derive(Deserialize, Default)]
struct SignupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    country: String,
}

fn signup_form(role: Role, f: &SignupForm) -> FormSpec {
    let mut fields = vec![
        field("name", "Your name", "text", &f.name, "name"),
        field("email", "Email", "email", &f.email, "email"),
        field(
            "password",
            "Password (at least 10 characters)",
            "password",
            "",
            "new-password",
        ),
    ];
    let (title, action) = if role == Role::Seller {
        fields.push(field("phone", "Phone", "tel", &f.phone, "tel"));
        fields.push(field(
            "country",
            "Country (two letters, e.g. DE)",
            "text",
            &f.country,
            "country",
        ));
        ("Sell on Bazaar", "/seller/signup")
    } else {
        ("Create your account", "/signup")
    };
    let mut spec = FormSpec::new(title, action, "Send me a code", fields);
    spec.intro = Some("We'll email you a 6-digit code to confirm your address.".into());
    spec.links = if role == Role::Seller {
        vec![
            ("/login", "Already have an account? Sign in"),
            ("/signup", "Just shopping? Create a buyer account"),
        ]
    } else {
        vec![
            ("/login", "Already have an account? Sign in"),
            ("/seller/signup", "Want to sell? Open a shop"),
        ]
    };
    spec
}

async fn signup_page(Viewer(viewer): Viewer, chrome: Chrome) -> Response {
    render(
        viewer,
        chrome,
        signup_form(Role::Buyer, &SignupForm::default()),
        StatusCode::OK,
    )
}

async fn seller_signup_page(Viewer(viewer): Viewer, chrome: Chrome) -> Response {
    render(
        viewer,
        chrome,
        signup_form(Role::Seller, &SignupForm::default()),
        StatusCode::OK,
    )
}

async fn signup_buyer(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    chrome: Chrome,
    Form(f): Form<SignupForm>,
) -> Response {
    signup(s, meta, chrome, Role::Buyer, f).await
}

async fn signup_seller(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    chrome: Chrome,
    Form(f): Form<SignupForm>,
) -> Response {
    signup(s, meta, chrome, Role::Seller, f).await
}

async fn signup(
    s: EdgeState,
    meta: RequestMeta,
    chrome: Chrome,
    role: Role,
    f: SignupForm,
) -> Response {
    let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let request = RegisterRequest {
        name: f.name.clone(),
        email: f.email.clone(),
        password: f.password.clone(),
        phone: opt(&f.phone),
        country: opt(&f.country),
    };
    let result = match limit_email(&s, "register", &f.email).await {
        Ok(()) => s
            .call::<StartRegistration>(&meta, &Register { role, request })
            .await
            .map_err(|e| e.0),
        Err(e) => Err(e.0),
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/verify?email={}&sent=1",
            urlencode(f.email.trim())
        ))
        .into_response(),
        Err(e) => render(
            None,
            chrome,
            signup_form(role, &f).with_error(e.clone()),
            status_of(&e),
        ),
    }
}

#[derive(Deserialize, Default)]
struct VerifyForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    otp: String,
}

fn verify_form(email: &str) -> FormSpec {
    let mut spec = FormSpec::new(
        "Enter your code",
        "/verify",
        "Confirm",
        vec![
            field("email", "Email", "email", email, "email"),
            field("otp", "6-digit code", "text", "", "one-time-code"),
        ],
    );
    spec.intro = Some("The code is valid for 5 minutes.".into());
    spec.extra_forms = vec![ExtraForm {
        action: "/verify/resend",
        label: "Send me a new code",
        hidden: vec![("email".into(), email.to_owned())],
    }];
    spec
}

async fn verify_page(
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let email = q.get("email").cloned().unwrap_or_default();
    let mut spec = verify_form(&email);
    if q.contains_key("sent") {
        spec.notice = Some(format!("We sent a code to {email}. Check your inbox."));
    }
    render(viewer, chrome, spec, StatusCode::OK)
}

async fn verify(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    chrome: Chrome,
    Form(f): Form<VerifyForm>,
) -> Response {
    let req = VerifyRequest {
        email: f.email.clone(),
        otp: f.otp.trim().to_owned(),
    };
    match s.call::<VerifyRegistration>(&meta, &req).await {
        Ok(session) => {
            let to = if session.account.role == Role::Seller {
                "/account?welcome=seller"
            } else {
                "/?welcome=1"
            };
            signed_in(&s, &session, to)
        }
        Err(e) => {
            let mut spec = verify_form(&f.email);
            spec.fields[1].error = Some(e.0.message.clone());
            render(None, chrome, spec, status_of(&e.0))
        }
    }
}

async fn resend(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    chrome: Chrome,
    Form(f): Form<a::EmailOnly>,
) -> Response {
    let mut spec = verify_form(&f.email);
    let result = match limit_email(&s, "register", &f.email).await {
        Ok(()) => s.call::<ResendCode>(&meta, &f).await.map_err(|e| e.0),
        Err(e) => Err(e.0),
    };
    match result {
        Ok(_) => {
            spec.notice =
                Some("If a sign-up is waiting for this address, a new code is on its way.".into());
            render(None, chrome, spec, StatusCode::OK)
        }
        Err(e) => render(None, chrome, spec.with_error(e.clone()), status_of(&e)),
    }
}

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn login_form(f: &LoginForm) -> FormSpec {
    let mut spec = FormSpec::new(
        "Sign in",
        "/login",
        "Sign in",
        vec![
            field("email", "Email", "email", &f.email, "email"),
            field("password", "Password", "password", "", "current-password"),
            field("next", "", "hidden", &safe_next(Some(&f.next)), "off"),
        ],
    );
    spec.links = vec![
        ("/forgot-password", "Forgot your password?"),
        ("/signup", "New here? Create an account"),
    ];
    spec
}

async fn login_page(
    State(s): State<EdgeState>,
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let form = LoginForm {
        next: q.get("next").cloned().unwrap_or_default(),
        ..LoginForm::default()
    };
    let mut spec = login_form(&form);
    spec.google = s.inner.config.google_sign_in;
    if q.contains_key("reset") {
        spec.notice = Some("Your password is changed. Sign in with the new one.".into());
    }
    render(viewer, chrome, spec, StatusCode::OK)
}

async fn login(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    chrome: Chrome,
    Form(f): Form<LoginForm>,
) -> Response {
    let req = LoginRequest {
        email: f.email.clone(),
        password: f.password.clone(),
    };
    let result = password_sign_in(&s, &meta, &headers, &req)
        .await
        .map_err(|e| e.0);
    match result {
        Ok((session, device)) => (
            AppendHeaders([(header::SET_COOKIE, device)]),
            signed_in(&s, &session, &safe_next(Some(&f.next))),
        )
            .into_response(),
        Err(e) => render(
            None,
            chrome,
            login_form(&f).with_error(e.clone()),
            status_of(&e),
        ),
    }
}

async fn logout(State(s): State<EdgeState>, Meta(meta): Meta, headers: HeaderMap) -> Response {
    if let Some(refresh_token) = cookie_value(&headers, REFRESH_COOKIE) {
        let _ = s
            .call::<Logout>(&meta, &RefreshRequest { refresh_token })
            .await;
    }
    (clear_cookies(), Redirect::to("/")).into_response()
}

fn forgot_form(email: &str) -> FormSpec {
    let mut spec = FormSpec::new(
        "Forgot your password?",
        "/forgot-password",
        "Email me a code",
        vec![field("email", "Email", "email", email, "email")],
    );
    spec.links = vec![("/login", "Back to sign in")];
    spec
}

async fn forgot_page(Viewer(viewer): Viewer, chrome: Chrome) -> Response {
    render(viewer, chrome, forgot_form(""), StatusCode::OK)
}

async fn forgot(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    chrome: Chrome,
    Form(f): Form<a::EmailOnly>,
) -> Response {
    let result = match limit_email(&s, "reset", &f.email).await {
        Ok(()) => s.call::<ForgotPassword>(&meta, &f).await.map_err(|e| e.0),
        Err(e) => Err(e.0),
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/reset-password?email={}&sent=1",
            urlencode(f.email.trim())
        ))
        .into_response(),
        Err(e) => render(
            None,
            chrome,
            forgot_form(&f.email).with_error(e.clone()),
            status_of(&e),
        ),
    }
}

#[derive(Deserialize, Default)]
struct ResetForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    new_password: String,
}

fn reset_form(email: &str) -> FormSpec {
    FormSpec::new(
        "Choose a new password",
        "/reset-password",
        "Change password",
        vec![
            field("email", "Email", "email", email, "email"),
            field(
                "otp",
                "6-digit code from the email",
                "text",
                "",
                "one-time-code",
            ),
            field(
                "new_password",
                "New password (at least 10 characters)",
                "password",
                "",
                "new-password",
            ),
        ],
    )
}

async fn reset_page(
    Viewer(viewer): Viewer,
    chrome: Chrome,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let email = q.get("email").cloned().unwrap_or_default();
    let mut spec = reset_form(&email);
    if q.contains_key("sent") {
        spec.notice = Some("If an account uses this address, a code is on its way.".into());
    }
    render(viewer, chrome, spec, StatusCode::OK)
}

async fn reset(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    chrome: Chrome,
    Form(f): Form<ResetForm>,
) -> Response {
    let req = ResetPasswordRequest {
        email: f.email.clone(),
        otp: f.otp.trim().to_owned(),
        new_password: f.new_password.clone(),
    };
    let result = match limit_email(&s, "reset", &f.email).await {
        Ok(()) => s.call::<ResetPassword>(&meta, &req).await.map_err(|e| e.0),
        Err(e) => Err(e.0),
    };
    match result {
        Ok(_) => (clear_cookies(), Redirect::to("/login?reset=1")).into_response(),
        Err(e) => {
            let mut spec = reset_form(&f.email);
            if e.fields.is_empty() {
                spec.fields[1].error = Some(e.message.clone());
                spec.error = Some(e.message.clone());
            } else {
                spec = spec.with_error(e.clone());
            }
            render(None, chrome, spec, status_of(&e))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    viewer: Option<Account>,
    chrome: Chrome,
    account: Account,
    initial: String,
    addresses: Vec<Address>,
    notice: Option<String>,
    error: Option<String>,
    address_label: String,
    address_inputs: Vec<AddressField>,
    address_errors: FieldErrors,
    password_errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
struct AddressForm {
    #[serde(default)]
    label: String,
    #[serde(flatten)]
    address: AddressFields,
    #[serde(default)]
    is_default: Option<String>,
}

#[derive(Default)]
struct AccountState {
    notice: Option<String>,
    error: Option<String>,
    address: AddressForm,
    address_errors: FieldErrors,
    password_errors: FieldErrors,
}

/// The account page; its forms come back to it, and so does signing in.
const ACCOUNT: &str = "/account";

/// The account a form on the account page was sent by, or where they go
/// to sign in first.
fn account_of(viewer: Option<Account>) -> Result<Account, PageError> {
    viewer.ok_or_else(|| PageError::sign_in(ACCOUNT))
}

async fn render_account(
    s: &EdgeState,
    meta: &RequestMeta,
    account: Account,
    st: AccountState,
    status: StatusCode,
) -> Response {
    let addresses = s
        .call::<ListAddresses>(meta, &Empty {})
        .await
        .map(|l| l.addresses)
        .unwrap_or_default();
    let viewer = Some(account.clone());
    let chrome = Chrome::load(s, meta).await;
    let page = AccountPage {
        initial: account
            .name
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default(),
        viewer,
        chrome,
        account,
        addresses,
        notice: st.notice,
        error: st.error,
        address_inputs: st.address.address.inputs(""),
        address_label: st.address.label,
        address_errors: st.address_errors,
        password_errors: st.password_errors,
    };
    (status, page).into_response()
}

async fn account_page(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    SignedIn(account): SignedIn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = if q.get("welcome").is_some_and(|w| w == "seller") {
        Some("Welcome! Your seller account is ready.".to_owned())
    } else {
        q.get("saved").map(|_| "Saved.".to_owned())
    };
    render_account(
        &s,
        &meta,
        account,
        AccountState {
            notice,
            ..Default::default()
        },
        StatusCode::OK,
    )
    .await
}

async fn update_profile(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Form(u): Form<ProfileUpdate>,
) -> Result<Response, PageError> {
    let account = account_of(viewer)?;
    match s.call::<UpdateMe>(&meta, &u).await {
        Ok(_) => Ok(Redirect::to("/account?saved=1").into_response()),
        Err(e) => {
            let st = AccountState {
                error: Some(reason(&e.0)),
                ..Default::default()
            };
            Ok(render_account(&s, &meta, account, st, status_of(&e.0)).await)
        }
    }
}

async fn upload_avatar(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let account = account_of(viewer)?;
    let result = match crate::api::images::store_upload(&s, multipart, Some(&account.id)).await {
        Ok(img) => {
            let update = ProfileUpdate {
                name: None,
                avatar_url: Some(img.url),
            };
            s.call::<UpdateMe>(&meta, &update).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/account?saved=1").into_response()),
        Err(e) => {
            let st = AccountState {
                error: Some(reason(&e.0)),
                ..Default::default()
            };
            Ok(render_account(&s, &meta, account, st, status_of(&e.0)).await)
        }
    }
}

async fn add_address(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Form(f): Form<AddressForm>,
) -> Result<Response, PageError> {
    let account = account_of(viewer)?;
    let typed = f.address.address();
    let input = a::AddressInput {
        label: Some(f.label.trim().to_owned()).filter(|l| !l.is_empty()),
        full_name: typed.full_name,
        line1: typed.line1,
        line2: typed.line2,
        city: typed.city,
        postal_code: typed.postal_code,
        country: typed.country,
        phone: typed.phone,
        is_default: f.is_default.is_some(),
    };
    match s.call::<CreateAddress>(&meta, &input).await {
        Ok(_) => Ok(Redirect::to("/account?saved=1").into_response()),
        Err(e) => {
            let st = AccountState {
                error: Some("The address could not be saved: see the marked fields.".into()),
                address_errors: FieldErrors::from_envelope(&e.0),
                address: f,
                ..Default::default()
            };
            Ok(render_account(&s, &meta, account, st, status_of(&e.0)).await)
        }
    }
}

async fn delete_address(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let account = account_of(viewer)?;
    match s.call::<DeleteAddress>(&meta, &AddressId { id }).await {
        Ok(_) => Ok(Redirect::to("/account?saved=1").into_response()),
        Err(e) => {
            let st = AccountState {
                error: Some(e.0.message.clone()),
                ..Default::default()
            };
            Ok(render_account(&s, &meta, account, st, status_of(&e.0)).await)
        }
    }
}

async fn change_password(
    State(s): State<EdgeState>,
    Meta(meta): Meta,
    Viewer(viewer): Viewer,
    Form(f): Form<ChangePasswordRequest>,
) -> Result<Response, PageError> {
    let account = account_of(viewer)?;
    match s.call::<ChangePassword>(&meta, &f).await {
        Ok(session) => Ok((
            session_cookies(&s, &session),
            Redirect::to("/account?saved=1"),
        )
            .into_response()),
        Err(e) => {
            let st = AccountState {
                error: Some("The password was not changed.".into()),
                password_errors: FieldErrors::from_envelope(&e.0),
                ..Default::default()
            };
            Ok(render_account(&s, &meta, account, st, status_of(&e.0)).await)
        }
    }
}
