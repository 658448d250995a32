//! Security stories: what an attacker tries, and what they get instead.

use bazaar_subjects::orders::Notifications;
use bazaar_tests::Platform;
use bazaar_tests::story::{envelope, ok_as};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn marking_notifications_read_refuses_ids_it_never_gave_out() {
    let p = Platform::spawn().await;
    let buyer = p.sign_up_buyer("nina@example.com").await;
    for ids in [json!([""]), json!(["x'; DELETE notification; --"]), json!(["a".repeat(65)])] {
        let r = p
            .send(
                Method::POST,
                "/api/notifications/read",
                &buyer,
                Some(json!({ "ids": ids })),
            )
            .await;
        let (status, e) = envelope(r).await;
        assert_eq!(status, 422, "{ids}: {e:?}");
        assert_eq!(e.fields[0].field, "ids");
    }
    let fine: Notifications = ok_as(
        p.send(
            Method::POST,
            "/api/notifications/read",
            &buyer,
            Some(json!({ "ids": ["abcDEF123"] })),
        )
        .await,
    )
    .await;
    assert_eq!(fine.unread, 0);
}

#[tokio::test]
async fn signing_in_never_sends_the_browser_to_another_site() {
    let p = Platform::spawn().await;
    p.sign_up_buyer("olga@example.com").await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (next, lands) in [
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/orders", "/orders"),
    ] {
        let r = no_redirects
            .post(p.url("/login"))
            .form(&[
                ("email", "olga@example.com"),
                ("password", "a long and secret password"),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_redirection(), "{next:?}: {}", r.status());
        assert_eq!(r.headers()["location"], lands, "{next:?}");
    }
}

#[tokio::test]
async fn the_sign_in_form_has_the_strict_limit_of_the_sign_in_api() {
    let p = bazaar_tests::Platform::spawn_with(bazaar_tests::Options {
        edge: bazaar_edge::EdgeConfig {
            auth_rate_limit_per_minute: 5,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let r = p
            .http
            .post(p.url("/login"))
            .form(&[
                ("email", format!("guess{i}@example.com")),
                ("password", "wrong password, again".to_owned()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429, 429], "{statuses:?}");
}
