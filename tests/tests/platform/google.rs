//! "Sign in with Google" against a local OpenID provider speaking the real protocol.

use bazaar::platform::NodeConfigs;
use bazaar_subjects::Role;
use bazaar_subjects::auth::{Account, Session};
use bazaar_tests::oidc::{GoogleUser, OidcProvider};
use bazaar_tests::story::ok_as;
use bazaar_tests::{Options, Platform, six_digit_code};
use serde_json::json;

fn user(email: &str) -> GoogleUser {
    GoogleUser {
        sub: format!("google-{email}"),
        email: email.into(),
        name: "Gia Google".into(),
        email_verified: true,
    }
}

async fn spawn(provider: &OidcProvider) -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    configs.auth.google = provider.google_config();
    let edge = bazaar_edge::EdgeConfig {
        google_sign_in: true,
        ..Default::default()
    };
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        edge,
        ..Options::default()
    })
    .await;
    p.keep(dir);
    p
}

/// A browser-like client: keeps cookies, follows redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Who the browser `b` is signed in as.
async fn signed_in_as(p: &Platform, b: &reqwest::Client) -> Account {
    ok_as(b.get(p.url("/api/me")).send().await.unwrap()).await
}

#[tokio::test]
async fn a_shopper_signs_in_with_google_and_comes_back_as_the_same_account() {
    let provider = OidcProvider::start(user("gia@gmail.test")).await;
    let p = spawn(&provider).await;
    let login = p
        .http
        .get(p.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("Sign in with Google"));

    let b = browser();
    let home = b.get(p.url("/auth/google")).send().await.unwrap();
    assert_eq!(home.url().path(), "/");
    let me = signed_in_as(&p, &b).await;
    assert_eq!(me.email, "gia@gmail.test");
    assert_eq!(me.role, Role::Buyer);
    assert_eq!(me.name, "Gia Google");

    let again = browser();
    again.get(p.url("/auth/google")).send().await.unwrap();
    assert_eq!(
        signed_in_as(&p, &again).await.id,
        me.id,
        "the same Google identity is the same account"
    );
}

#[tokio::test]
async fn google_links_to_an_existing_account_with_the_same_email() {
    let provider = OidcProvider::start(user("ann@example.com")).await;
    let p = spawn(&provider).await;
    p.http
        .post(p.url("/api/register/user"))
        .json(&json!({ "name": "Ann", "email": "ann@example.com", "password": "ann's long password" }))
        .send()
        .await
        .unwrap();
    let code = six_digit_code(&p.last_email("ann@example.com").await.text).unwrap();
    let verified = p
        .http
        .post(p.url("/api/register/verify"))
        .json(&json!({ "email": "ann@example.com", "otp": code }))
        .send()
        .await
        .unwrap();
    let session: Session = ok_as(verified).await;
    let b = browser();
    b.get(p.url("/auth/google")).send().await.unwrap();
    let me = signed_in_as(&p, &b).await;
    assert_eq!(me.id, session.account.id);
    assert_eq!(me.name, "Ann", "linking keeps the account as it was");
}

#[tokio::test]
async fn forged_or_replayed_google_answers_sign_nobody_in() {
    let provider = OidcProvider::start(user("eve@example.com")).await;
    let p = spawn(&provider).await;

    // A callback this browser never started (login CSRF): refused.
    let b = browser();
    let r = b
        .get(p.url("/auth/google/callback?code=stolen&state=someone-elses"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(b.get(p.url("/api/me")).send().await.unwrap().status(), 401);

    // An id_token for another request (wrong nonce): refused.
    provider.sign_wrong_nonce(true);
    let r = b.get(p.url("/auth/google")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(b.get(p.url("/api/me")).send().await.unwrap().status(), 401);
    provider.sign_wrong_nonce(false);

    // An unverified Google email: refused.
    provider.set_user(GoogleUser {
        email_verified: false,
        ..user("eve@example.com")
    });
    let r = b.get(p.url("/auth/google")).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Seller accounts keep signing in with their password.
    let admin = p.token(Role::Admin);
    p.http
        .post(p.url("/api/admins"))
        .bearer_auth(admin)
        .json(&json!({ "name": "Boss", "email": "boss@example.com", "password": "boss's long password" }))
        .send()
        .await
        .unwrap();
    provider.set_user(user("boss@example.com"));
    let r = b.get(p.url("/auth/google")).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn without_google_configured_the_button_is_hidden_and_the_route_says_so() {
    let p = Platform::spawn().await;
    let login = p
        .http
        .get(p.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login.contains("Sign in with Google"));
    let r = p.http.get(p.url("/auth/google")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
