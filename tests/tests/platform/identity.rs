//! Identity and access, as buyers, sellers, admins and attackers meet it.

use std::time::Duration;

use bazaar_subjects::Role;
use bazaar_subjects::auth::{Account, Address, AddressList, Session};
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::{Platform, six_digit_code};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn post(p: &Platform, path: &str, body: Value) -> reqwest::Response {
    p.http.post(p.url(path)).json(&body).send().await.unwrap()
}

/// Signs up a buyer through the emailed code; returns the session body.
async fn sign_up(p: &Platform, email: &str) -> Session {
    let r = post(
        p,
        "/api/register/user",
        json!({ "name": "Ann Buyer", "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let mail = p.last_email(email).await;
    let code = six_digit_code(&mail.text).expect("a code in the email");
    let r = post(
        p,
        "/api/register/verify",
        json!({ "email": email, "otp": code }),
    )
    .await;
    assert_eq!(r.status(), 200);
    ok_as(r).await
}

/// The saved addresses of `token`'s holder.
async fn addresses(p: &Platform, token: &str) -> Vec<Address> {
    ok_as::<AddressList>(p.get("/api/me/addresses", Some(token)).await)
        .await
        .addresses
}

/// The signed-in account, as `/api/me` shows it to `token`'s holder.
async fn me(p: &Platform, token: &str) -> Account {
    ok_as(p.get("/api/me", Some(token)).await).await
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_buyer_signs_up_with_the_emailed_code_and_is_signed_in() {
    let p = Platform::spawn().await;
    let r = post(
        &p,
        "/api/register/user",
        json!({ "name": "Ann", "email": " Ann@Example.com ", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), 202);
    let mail = p.last_email("ann@example.com").await;
    let code = six_digit_code(&mail.text).unwrap();
    assert!(
        mail.subject.to_lowercase().contains("code"),
        "{}",
        mail.subject
    );

    // A wrong code is refused and counts; the right one signs in.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = post(
        &p,
        "/api/register/verify",
        json!({ "email": "ann@example.com", "otp": wrong }),
    )
    .await;
    assert_eq!(envelope(r).await.0, 400);
    let r = post(
        &p,
        "/api/register/verify",
        json!({ "email": "ann@example.com", "otp": code }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let cookies = set_cookies(&r);
    let access = cookies
        .iter()
        .find(|c| c.starts_with("bazaar_access="))
        .expect("access cookie");
    assert!(
        access.contains("HttpOnly")
            && access.contains("SameSite=Lax")
            && access.contains("Max-Age=900"),
        "{access}"
    );
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("bazaar_refresh="))
        .expect("refresh cookie");
    assert!(
        refresh.contains("HttpOnly") && refresh.contains("SameSite=Strict"),
        "{refresh}"
    );
    let session: Session = ok_as(r).await;
    assert_eq!(session.account.role, Role::Buyer);
    assert_eq!(session.account.email, "ann@example.com");

    // The code works once.
    let r = post(
        &p,
        "/api/register/verify",
        json!({ "email": "ann@example.com", "otp": code }),
    )
    .await;
    assert_eq!(envelope(r).await.0, 400);

    // Signed in: by bearer token (API clients) and by cookie (browsers).
    let token = session.access_token.as_str();
    assert_eq!(me(&p, token).await.name, "Ann");
    let cookie_jar = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = cookie_jar
        .post(p.url("/api/login"))
        .json(&json!({ "email": "ann@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let by_cookie: Account = ok_as(cookie_jar.get(p.url("/api/me")).send().await.unwrap()).await;
    assert_eq!(by_cookie.email, "ann@example.com");
    // Signing out ends it.
    assert_eq!(
        cookie_jar
            .post(p.url("/api/logout"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        cookie_jar
            .get(p.url("/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        cookie_jar
            .post(p.url("/api/refresh-token"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_seller_signs_up_with_phone_and_country() {
    let p = Platform::spawn().await;
    let r = post(
        &p,
        "/api/register/seller",
        json!({ "name": "Sam", "email": "sam@shop.test", "password": PASSWORD }),
    )
    .await;
    let (status, env) = envelope(r).await;
    assert_eq!(status, 422);
    let fields: Vec<_> = env.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["phone", "country"]);
    let r = post(
        &p,
        "/api/register/seller",
        json!({ "name": "Sam", "email": "sam@shop.test", "password": PASSWORD, "phone": "+49 30 1234567", "country": "de" }),
    )
    .await;
    assert_eq!(r.status(), 202);
    let code = six_digit_code(&p.last_email("sam@shop.test").await.text).unwrap();
    let session: Session = ok_as(
        post(
            &p,
            "/api/register/verify",
            json!({ "email": "sam@shop.test", "otp": code }),
        )
        .await,
    )
    .await;
    assert_eq!(session.account.role, Role::Seller);
    assert_eq!(session.account.country.as_deref(), Some("DE"));
}

#[tokio::test]
async fn bad_sign_ups_name_every_bad_field_and_taken_emails_reveal_nothing() {
    let p = Platform::spawn().await;
    let r = post(
        &p,
        "/api/register/user",
        json!({ "name": "", "email": "not-an-email", "password": "short" }),
    )
    .await;
    let (status, env) = envelope(r).await;
    assert_eq!(status, 422);
    let fields: Vec<_> = env.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["name", "email", "password"]);
    assert!(env.fields[2].message.contains("10 characters"));

    // An existing account (made by an admin, so no code was sent to it yet).
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "Tia", "email": "taken@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let first = post(
        &p,
        "/api/register/user",
        json!({ "name": "X", "email": "new@example.com", "password": PASSWORD }),
    )
    .await;
    let again = post(
        &p,
        "/api/register/user",
        json!({ "name": "X", "email": "taken@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(first.status(), again.status());
    let first: Value = first.json().await.unwrap();
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        first, again,
        "the answer does not tell whether the email is registered"
    );
    // The owner of the address learns by email instead.
    let mail = p.last_email("taken@example.com").await;
    assert!(
        six_digit_code(&mail.text).is_none(),
        "no code for an existing account: {}",
        mail.text
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let p = Platform::spawn().await;
    sign_up(&p, "ann@example.com").await;
    let wrong = post(
        &p,
        "/api/login",
        json!({ "email": "ann@example.com", "password": "not the password" }),
    )
    .await;
    let unknown = post(
        &p,
        "/api/login",
        json!({ "email": "nobody@example.com", "password": "not the password" }),
    )
    .await;
    let (s1, mut e1) = envelope(wrong).await;
    let (s2, mut e2) = envelope(unknown).await;
    e1.request_id = None;
    e2.request_id = None;
    assert_eq!((s1, &e1), (s2, &e2));
    assert_eq!(s1, 401);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_its_whole_family() {
    let p = Platform::spawn().await;
    let first = sign_up(&p, "ann@example.com").await;
    let a = first.refresh_token;
    let second: Session =
        ok_as(post(&p, "/api/refresh-token", json!({ "refresh_token": a })).await).await;
    let b = second.refresh_token;
    assert_ne!(a, b, "refresh tokens rotate");
    // A thief replays the old one: refused, and the legitimate new one dies too.
    assert_eq!(
        envelope(post(&p, "/api/refresh-token", json!({ "refresh_token": a })).await)
            .await
            .0,
        401
    );
    assert_eq!(
        envelope(post(&p, "/api/refresh-token", json!({ "refresh_token": b })).await)
            .await
            .0,
        401
    );
    // Another session (another family) is untouched.
    let other: Session = ok_as(
        post(
            &p,
            "/api/login",
            json!({ "email": "ann@example.com", "password": PASSWORD }),
        )
        .await,
    )
    .await;
    let r = post(
        &p,
        "/api/refresh-token",
        json!({ "refresh_token": other.refresh_token }),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_code_and_every_session_ends() {
    let p = Platform::spawn().await;
    let session = sign_up(&p, "ann@example.com").await;
    let r = post(
        &p,
        "/api/forgot-password",
        json!({ "email": "nobody@example.com" }),
    )
    .await;
    assert_eq!(r.status(), 202, "unknown addresses get the same answer");
    let before = p.email_count("ann@example.com").await;
    let r = post(
        &p,
        "/api/forgot-password",
        json!({ "email": "ann@example.com" }),
    )
    .await;
    assert_eq!(r.status(), 202);
    let mail = p.email_after("ann@example.com", before).await;
    let code = six_digit_code(&mail.text).unwrap();
    let r = post(
        &p,
        "/api/reset-password",
        json!({ "email": "ann@example.com", "otp": code, "new_password": "short" }),
    )
    .await;
    assert_eq!(envelope(r).await.0, 422);
    let r = post(
        &p,
        "/api/reset-password",
        json!({ "email": "ann@example.com", "otp": code, "new_password": "a brand new password" }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &p,
        "/api/refresh-token",
        json!({ "refresh_token": session.refresh_token }),
    )
    .await;
    assert_eq!(envelope(r).await.0, 401, "old sessions ended");
    let r = post(
        &p,
        "/api/login",
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = post(
        &p,
        "/api/login",
        json!({ "email": "ann@example.com", "password": "a brand new password" }),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn guessing_codes_is_locked_and_resending_is_throttled() {
    let p = Platform::spawn().await;
    post(
        &p,
        "/api/register/user",
        json!({ "name": "Ann", "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    let code = six_digit_code(&p.last_email("ann@example.com").await.text).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let r = post(
            &p,
            "/api/register/verify",
            json!({ "email": "ann@example.com", "otp": wrong }),
        )
        .await;
        assert_eq!(envelope(r).await.0, 400);
    }
    let r = post(
        &p,
        "/api/register/verify",
        json!({ "email": "ann@example.com", "otp": wrong }),
    )
    .await;
    assert_eq!(
        envelope(r).await.0,
        429,
        "the fifth wrong try locks the code"
    );
    let r = post(
        &p,
        "/api/register/verify",
        json!({ "email": "ann@example.com", "otp": code }),
    )
    .await;
    assert_eq!(
        envelope(r).await.0,
        429,
        "even the right code is refused once locked"
    );
    let r = post(
        &p,
        "/api/register/resend",
        json!({ "email": "ann@example.com" }),
    )
    .await;
    assert_eq!(
        r.status(),
        429,
        "a new code waits for the 60-second cooldown"
    );
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn brute_forcing_a_login_is_stopped_with_429() {
    let p = Platform::spawn().await;
    sign_up(&p, "ann@example.com").await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = post(
            &p,
            "/api/login",
            json!({ "email": "ann@example.com", "password": "guess" }),
        )
        .await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry > 0 && retry <= 900);
        }
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_refused() {
    let p = Platform::spawn().await;
    let session = sign_up(&p, "ann@example.com").await;
    let good = session.access_token.as_str();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    let tampered = parts.join(".");
    let (private, _) = bazaar_runtime::tokens::generate_key_pair().unwrap();
    let foreign = bazaar_runtime::TokenSigner::from_pem(private.as_bytes())
        .unwrap()
        .sign(&session.account.id, Role::Admin, 600)
        .unwrap();
    // Signed by the platform's own key, but long expired.
    let expired = p.sign_claims(&bazaar_runtime::Claims {
        sub: session.account.id.clone(),
        role: Role::Buyer,
        iat: 1_000_000,
        exp: 1_000_900,
        iss: "bazaar".into(),
        aud: "bazaar".into(),
        contact: None,
    });
    for bad in [
        tampered.as_str(),
        foreign.as_str(),
        expired.as_str(),
        "not.a.token",
    ] {
        let r = p
            .http
            .get(p.url("/api/me"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(envelope(r).await.0, 401, "{bad}");
    }
    let r = p
        .http
        .get(p.url("/api/me"))
        .bearer_auth(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn buyers_cannot_call_admin_subjects_even_straight_over_nats() {
    let p = Platform::spawn().await;
    let buyer = sign_up(&p, "ann@example.com").await;
    let meta = bazaar_runtime::RequestMeta {
        request_id: "direct".into(),
        authorization: Some(buyer.access_token.clone()),
    };
    let input = bazaar_subjects::auth::CreateAdmin {
        name: "Mallory".into(),
        email: "mallory@example.com".into(),
        password: PASSWORD.into(),
    };
    let err = bazaar_runtime::call::<bazaar_subjects::auth::AddAdmin>(
        &p.ctx.nats,
        &meta,
        &input,
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status, 403);
    // Through the edge too; an admin may.
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(&buyer.access_token)
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(p.token(Role::Admin))
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = post(
        &p,
        "/api/login",
        json!({ "email": "mallory@example.com", "password": PASSWORD }),
    )
    .await;
    let session: Session = ok_as(r).await;
    assert_eq!(session.account.role, Role::Admin);
}

#[tokio::test]
async fn addresses_belong_to_their_owner_alone() {
    let p = Platform::spawn().await;
    let ann = sign_up(&p, "ann@example.com").await;
    let bob = sign_up(&p, "bob@example.com").await;
    let ann_token = ann.access_token.as_str();
    let bob_token = bob.access_token.as_str();
    let home = json!({ "label": "Home", "full_name": "Ann A", "line1": "1 Main St", "city": "Berlin",
                       "postal_code": "10115", "country": "de", "is_default": true });
    let r = p
        .http
        .post(p.url("/api/me/addresses"))
        .bearer_auth(ann_token)
        .json(&home)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Address = ok_as(r).await;
    let id = created.id.as_str();
    assert_eq!(created.fields.country, "DE");
    let work = json!({ "full_name": "Ann A", "line1": "2 Work Rd", "city": "Berlin", "postal_code": "10117",
                       "country": "DE", "is_default": true });
    p.http
        .post(p.url("/api/me/addresses"))
        .bearer_auth(ann_token)
        .json(&work)
        .send()
        .await
        .unwrap();
    let defaults: Vec<bool> = addresses(&p, ann_token)
        .await
        .iter()
        .map(|a| a.fields.is_default)
        .collect();
    assert_eq!(defaults, [true, false], "one default at a time");

    // Bob sees none of it and can change none of it.
    assert!(addresses(&p, bob_token).await.is_empty());
    let r = p
        .http
        .put(p.url(&format!("/api/me/addresses/{id}")))
        .bearer_auth(bob_token)
        .json(&home)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 404);
    let r = p
        .http
        .delete(p.url(&format!("/api/me/addresses/{id}")))
        .bearer_auth(bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 404);
    let r = p
        .http
        .delete(p.url(&format!("/api/me/addresses/{id}")))
        .bearer_auth(ann_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let bad = json!({ "full_name": "", "line1": "", "city": "", "postal_code": "", "country": "Germany" });
    let r = p
        .http
        .post(p.url("/api/me/addresses"))
        .bearer_auth(ann_token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    let (status, env) = envelope(r).await;
    assert_eq!(status, 422);
    assert_eq!(env.fields.len(), 5);
}

#[tokio::test]
async fn cookie_requests_from_a_foreign_site_are_refused() {
    let p = Platform::spawn().await;
    let session = sign_up(&p, "ann@example.com").await;
    let cookie = format!("bazaar_access={}", session.access_token);
    let body = json!({ "name": "Evil" });
    let r = p
        .http
        .patch(p.url("/api/me"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 403);
    let by_cookie = p.http.get(p.url("/api/me")).header("cookie", &cookie);
    let by_cookie: Account = ok_as(by_cookie.send().await.unwrap()).await;
    assert_eq!(by_cookie.name, "Ann Buyer", "nothing changed");
    let r = p
        .http
        .patch(p.url("/api/me"))
        .header("cookie", &cookie)
        .header("origin", &p.base_url)
        .json(&json!({ "name": "Ann B" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "our own pages may");
}

#[cfg(unix)]
#[tokio::test]
async fn no_password_code_or_token_ever_reaches_the_logs() {
    bazaar_tests::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let port = bazaar::natsd::free_port().unwrap();
    let dead_nats = bazaar::natsd::free_port().unwrap();
    let log_path = dir.path().join("bazaar.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = tokio::process::Command::new(bazaar_tests::bazaar_binary())
        .args([
            "dev",
            "--no-seed",
            "--port",
            &port.to_string(),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("BAZAAR_NATS_URL", format!("nats://127.0.0.1:{dead_nats}"))
        .env("RUST_LOG", "debug")
        .env("BAZAAR_LOG_FORMAT", "json")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let email = "secretive@example.com";
    let r = http
        .post(format!("{base}/api/register/user"))
        .json(&json!({ "name": "Sec", "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Read the code from the one-box mailbox (the same list /dev/mailbox shows).
    let nats = bazaar_tests::dev_bus(&dir.path().join("data"))
        .connect(bazaar_subjects::bus::Principal::Operator, "test")
        .await
        .unwrap();
    let mut code = None;
    for _ in 0..100 {
        let mailbox = bazaar_runtime::call::<bazaar_subjects::mail::ListMailbox>(
            &nats,
            &bazaar_runtime::RequestMeta::default(),
            &bazaar_subjects::Empty {},
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        code = mailbox
            .messages
            .iter()
            .find(|m| m.to == email)
            .and_then(|m| six_digit_code(&m.text));
        if code.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = http
        .get(format!("{base}/dev/mailbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let code = code.expect("the code is in the mailbox");
    assert!(
        page.text().await.unwrap().contains(&code),
        "/dev/mailbox shows it"
    );
    let verified = http
        .post(format!("{base}/api/register/verify"))
        .json(&json!({ "email": email, "otp": code }))
        .send()
        .await
        .unwrap();
    let session: Session = ok_as(verified).await;
    let (access, refresh) = (session.access_token, session.refresh_token);
    http.post(format!("{base}/api/login"))
        .json(&json!({ "email": email, "password": "a wrong password" }))
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/api/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    http.post(format!("{base}/api/refresh-token"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .unwrap();
    bazaar_tests::terminate(&mut child).await;
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("account created"),
        "the logs are being written"
    );
    for secret in [
        PASSWORD,
        "a wrong password",
        code.as_str(),
        access.as_str(),
        refresh.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}

#[tokio::test]
async fn the_first_admin_is_created_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("pw");
    let run = |email: &str, password: &str| {
        std::fs::write(&password_file, format!("{password}\n")).unwrap();
        std::process::Command::new(bazaar_tests::bazaar_binary())
            .args([
                "admin",
                "create",
                "--email",
                email,
                "--name",
                "Root Admin",
                "--password-file",
            ])
            .arg(&password_file)
            .env("BAZAAR_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    let ok = run("root@example.com", "a long admin password");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("admin root@example.com created"));
    let again = run("root@example.com", "a long admin password");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let weak = run("other@example.com", "short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 10 characters"));
}

#[tokio::test]
async fn two_edges_enforce_one_login_limit() {
    let p = Platform::spawn().await;
    sign_up(&p, "ann@example.com").await;
    // A second edge on the same NATS: the counters live in JetStream KV.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = format!("http://{}", listener.local_addr().unwrap());
    let state = bazaar_edge::EdgeState::new(
        p.ctx.nats.clone(),
        Duration::from_secs(5),
        bazaar::platform::DOMAINS.to_vec(),
        bazaar_edge::EdgeConfig::default(),
    );
    let stop = bazaar_runtime::Shutdown::new();
    tokio::spawn(bazaar_edge::serve(listener, state, stop.clone()));
    let mut statuses = Vec::new();
    for i in 0..12 {
        let base = if i % 2 == 0 {
            p.base_url.clone()
        } else {
            second.clone()
        };
        let r = p
            .http
            .post(format!("{base}/api/login"))
            .json(&json!({ "email": "ann@example.com", "password": "guess" }))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(
        &statuses[10..],
        &[429, 429],
        "the 11th try is refused whichever edge gets it"
    );
    stop.cancel();
}
