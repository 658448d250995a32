//! People in a real (headless) browser.

use bazaar_tests::browser::Browser;
use bazaar_tests::{Platform, six_digit_code};

#[tokio::test]
async fn a_newcomer_signs_up_with_the_emailed_code_and_is_signed_in() {
    let p = Platform::spawn().await;
    let b = Browser::start().await;
    b.goto(&p.url("/")).await;
    b.click("a[href='/signup']").await;
    b.wait_for_path("/signup").await;

    // A too-short password comes back beside the field, with the rest kept.
    b.fill("name", "Nora Newcomer").await;
    b.fill("email", "nora@example.com").await;
    b.fill("password", "short").await;
    b.click("form[action='/signup'] button[type=submit]").await;
    let error = b.text("#password-error").await;
    assert!(error.contains("10 characters"), "{error}");
    let kept = b
        .client
        .find(fantoccini::Locator::Css("input[name='email']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("nora@example.com"));

    b.fill("password", "a long enough password").await;
    b.click("form[action='/signup'] button[type=submit]").await;
    b.wait_for_path("/verify").await;
    assert!(b.text(".notice").await.contains("nora@example.com"));

    let code = six_digit_code(&p.last_email("nora@example.com").await.text).unwrap();
    b.fill("otp", &code).await;
    b.click("form[action='/verify'] button[type=submit]").await;
    b.wait_for_path("/").await;
    assert_eq!(b.text("header .viewer").await, "Nora Newcomer");
    b.close().await;
}

#[tokio::test]
async fn a_customer_signs_in_and_out() {
    let p = Platform::spawn().await;
    let http = &p.http;
    http.post(p.url("/api/register/user"))
        .json(&serde_json::json!({ "name": "Olga", "email": "olga@example.com", "password": "olga's password" }))
        .send()
        .await
        .unwrap();
    let code = six_digit_code(&p.last_email("olga@example.com").await.text).unwrap();
    http.post(p.url("/api/register/verify"))
        .json(&serde_json::json!({ "email": "olga@example.com", "otp": code }))
        .send()
        .await
        .unwrap();

    let b = Browser::start().await;
    b.goto(&p.url("/login?next=/account")).await;
    b.fill("email", "olga@example.com").await;
    b.fill("password", "wrong password!").await;
    b.click("form[action='/login'] button[type=submit]").await;
    assert!(
        b.text(".error-banner")
            .await
            .contains("email or password is wrong")
    );
    b.fill("password", "olga's password").await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_for_path("/account").await;
    assert_eq!(b.text("header .viewer").await, "Olga");

    // Add an address without JavaScript forms tricks: plain form posts.
    b.fill("full_name", "Olga O").await;
    b.fill("line1", "5 Canal St").await;
    b.fill("city", "Amsterdam").await;
    b.fill("postal_code", "1011").await;
    b.fill("country", "nl").await;
    b.click("form[action='/account/addresses'] button[type=submit]")
        .await;
    b.wait_for_path("/account").await;
    assert!(b.text(".address").await.contains("5 Canal St"));

    b.click("header form[action='/logout'] button").await;
    b.wait_for_path("/").await;
    assert!(
        b.source().await.contains("href=\"/login\""),
        "signed out: the header offers sign-in"
    );
    b.goto(&p.url("/account")).await;
    b.wait_for_path("/login").await;
    b.close().await;
}
