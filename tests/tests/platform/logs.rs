//! Central logs: an admin follows one of their own requests through the
//! edge and the nodes, a buyer is refused (by the API and straight on the
//! bus), and a buyer's whole life — sign-up with the emailed code, sign-in,
//! a password reset, a card payment — leaves no secret in any record. An
//! admin watches the live tail in a real browser, pauses and resumes it.

use std::time::Duration;

use bazaar::platform::NodeConfigs;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::auth::Session;
use bazaar_subjects::bus::Principal;
use bazaar_subjects::logs::{
    FollowLogRequest, FollowRequest, Level, LogPage, LogQuery, QueryLogs, RequestTrail,
};
use bazaar_subjects::orders::CheckoutStatus;
use bazaar_subjects::{Domain, Role};
use bazaar_tests::browser::Browser;
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::{Options, Platform, eventually, six_digit_code};
use reqwest::Method;
use serde_json::json;

use crate::commerce::{checkout_state, two_shops};
use crate::stripe::amplifier_by_card;

/// The records of request `id`, as an admin asks for them.
async fn trail(p: &Platform, admin: &str, id: &str) -> RequestTrail {
    ok_as(
        p.get(&format!("/api/admin/logs/requests/{id}"), Some(admin))
            .await,
    )
    .await
}

/// Every record in the platform's logs, newest first, page by page.
async fn every_record(p: &Platform, admin: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/api/admin/logs?limit=500&before={b}"),
            None => "/api/admin/logs?limit=500".to_owned(),
        };
        let page: serde_json::Value = ok_as(p.get(&path, Some(admin)).await).await;
        out.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["next_before"].as_u64() {
            Some(b) => before = Some(b),
            None => return out,
        }
    }
}

#[tokio::test]
async fn an_admin_follows_a_request_they_made_across_the_edge_and_the_nodes() {
    let p = Platform::spawn().await;
    let (_, admin) = p.account("Ada Admin", Role::Admin).await;
    let r = p.get("/api/admin/orders", Some(&admin)).await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();

    // The edge and the orders node each said something about it.
    let followed = eventually(
        "the request's records to arrive",
        || trail(&p, &admin, &id),
        |t| t.nodes.contains(&"edge".to_owned()) && t.nodes.contains(&"orders".to_owned()),
    )
    .await;
    assert!(followed.complete, "a v7 request id is followed to its end");
    assert!(
        followed
            .records
            .iter()
            .all(|r| r.record.request_id.as_deref() == Some(id.as_str()))
    );
    let times: Vec<_> = followed
        .records
        .iter()
        .map(|r| {
            time::OffsetDateTime::parse(
                &r.record.time,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let orders = followed
        .records
        .iter()
        .find(|r| r.record.node == "orders")
        .unwrap();
    assert_eq!(orders.record.message, "handled");
    assert!(orders.record.spans.contains(&"request".to_owned()));
    let edge = followed
        .records
        .iter()
        .find(|r| r.record.node == "edge")
        .unwrap();
    assert_eq!(edge.record.fields["status"], 200);
    assert_eq!(edge.record.fields["method"], "GET");
    assert_eq!(edge.record.fields["path"], "/api/admin/orders");
    assert_eq!(
        orders.record.fields["subject"],
        <bazaar_subjects::orders::ListAllOrders as bazaar_subjects::Endpoint>::SUBJECT
    );
    assert!(edge.record.spans.contains(&"http".to_owned()));

    // The same records through the query, filtered to one node.
    let page: LogPage = ok_as(
        p.get(
            &format!("/api/admin/logs?request_id={id}&node=orders"),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert!(!page.records.is_empty());
    assert!(page.records.iter().all(|r| r.record.node == "orders"));
    // Newest first, and a level filter keeps only what is at least as bad.
    let page: LogPage = ok_as(p.get("/api/admin/logs?limit=50", Some(&admin)).await).await;
    assert!(page.records.windows(2).all(|w| w[0].seq > w[1].seq));
    let page: LogPage = ok_as(p.get("/api/admin/logs?level=warn", Some(&admin)).await).await;
    assert!(page.records.iter().all(|r| r.record.level >= Level::Warn));
    // Text finds the request's record in a field or the message.
    let page: LogPage = ok_as(
        p.get(
            &format!("/api/admin/logs?text=HANDLED&request_id={id}"),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(page.records.len(), 1, "{page:?}");
    let (status, _) = envelope(p.get("/api/admin/logs?since=yesterday", Some(&admin)).await).await;
    assert_eq!(status, 400);
    // Reading the logs leaves no record of each read (a live tail would
    // show its own polls).
    let page: LogPage = ok_as(
        p.get("/api/admin/logs?node=logs&text=handled", Some(&admin))
            .await,
    )
    .await;
    assert!(page.records.is_empty(), "{page:?}");

    // Putting a product in her cart goes from the edge to the orders node
    // and on to the catalog: one request id through all three.
    let (_, _, amp, _) = two_shops(&p).await;
    let r = p
        .send(
            Method::POST,
            "/api/cart/items",
            &admin,
            Some(json!({ "product_id": amp.id, "quantity": 1 })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let followed = eventually(
        "the cart request's records from three places",
        || trail(&p, &admin, &id),
        |t| {
            ["edge", "orders", "catalog"]
                .iter()
                .all(|n| t.nodes.contains(&(*n).to_owned()))
        },
    )
    .await;
    assert_eq!(
        followed.nodes.last().map(String::as_str),
        Some("edge"),
        "the edge answers last"
    );
}

#[tokio::test]
async fn a_buyer_is_refused_the_logs_by_the_api_and_on_the_bus() {
    let p = Platform::spawn().await;
    let buyer = p.token(Role::Buyer);
    let seller = p.token(Role::Seller);
    for token in [&buyer, &seller] {
        let (status, _) = envelope(p.get("/api/admin/logs", Some(token)).await).await;
        assert_eq!(status, 403);
        let (status, _) = envelope(p.get("/api/admin/logs/requests/abc", Some(token)).await).await;
        assert_eq!(status, 403);
    }
    let (status, _) = envelope(p.get("/api/admin/logs", None).await).await;
    assert_eq!(status, 401);

    // Holding the edge's credentials changes nothing: the logs node judges
    // the token itself.
    let (edge, _) = p.connect_as(Principal::Edge).await;
    let as_buyer = RequestMeta {
        request_id: "straight-on-the-bus".into(),
        authorization: Some(buyer.clone()),
    };
    let refused = bazaar_runtime::call::<QueryLogs>(
        &edge,
        &as_buyer,
        &LogQuery::default(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, 403);
    let refused = bazaar_runtime::call::<FollowLogRequest>(
        &edge,
        &RequestMeta::default(),
        &FollowRequest {
            request_id: "x".into(),
        },
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.status, 401);

    // Nor can the edge's credentials write another's records or read the
    // stream behind the node's back.
    let (edge, mut refusals) = p.connect_as(Principal::Edge).await;
    edge.publish("logs.auth.error", "forged".into())
        .await
        .unwrap();
    edge.flush().await.unwrap();
    let refusal = tokio::time::timeout(Duration::from_secs(5), refusals.recv())
        .await
        .expect("the server refuses")
        .unwrap();
    assert!(refusal.contains("logs.auth.error"), "{refusal}");
}

#[tokio::test]
async fn no_secret_a_buyer_used_ever_reaches_a_record() {
    let email = "sue@example.com";
    // Sue signs up with the emailed code and checks out by card.
    let (p, stripe, signup_token, checkout_id, session) = amplifier_by_card(email).await;
    let signup_code = p
        .emails_to(email)
        .await
        .iter()
        .filter_map(|m| six_digit_code(&m.text))
        .next_back()
        .expect("the sign-up code");
    // She signs in.
    let password = "a long and secret password";
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    let signed_in: Session = ok_as(r).await;
    // She forgets her password and sets a new one with the emailed code.
    let before = p.email_count(email).await;
    let r = p
        .http
        .post(p.url("/api/forgot-password"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let reset_code = six_digit_code(&p.email_after(email, before).await.text).unwrap();
    let new_password = "another quite secret passphrase";
    let r = p
        .http
        .post(p.url("/api/reset-password"))
        .json(&json!({ "email": email, "otp": reset_code, "new_password": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": email, "password": new_password }))
        .send()
        .await
        .unwrap();
    let after_reset: Session = ok_as(r).await;
    // She pays on Stripe's page; the webhook places her order.
    let session_id = session["id"].as_str().unwrap().to_owned();
    for e in stripe.pay(&session_id) {
        assert_eq!(stripe.deliver(&p.base_url, &e).await, 200);
    }
    eventually(
        "the order to be placed",
        || checkout_state(&p, &after_reset.access_token, &checkout_id),
        |c| c.status == CheckoutStatus::Placed,
    )
    .await;
    let payment_intent = stripe
        .session_for(&checkout_id)
        .and_then(|s| s["payment_intent"].as_str().map(str::to_owned));

    // An admin reads every record; the last request's are there.
    let (_, admin) = p.account("Ada Admin", Role::Admin).await;
    let r = p
        .send(Method::GET, "/api/orders", &after_reset.access_token, None)
        .await;
    let last = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    eventually(
        "the last request's records to arrive",
        || trail(&p, &admin, &last),
        |t| !t.records.is_empty(),
    )
    .await;
    let records = every_record(&p, &admin).await;
    assert!(records.len() > 20, "{} records", records.len());
    let mut secrets = vec![
        password.to_owned(),
        new_password.to_owned(),
        signup_code,
        reset_code,
        signup_token,
        signed_in.access_token,
        signed_in.refresh_token,
        after_reset.access_token,
        after_reset.refresh_token,
        session_id,
    ];
    secrets.extend(payment_intent);
    for record in &records {
        let text = record.to_string();
        for secret in &secrets {
            assert!(
                !holds(&text, secret),
                "a record holds a secret ({secret}): {text}"
            );
        }
    }
}

/// Whether `secret` is in `text` as a whole (a six-digit code inside a
/// longer run of letters and digits, such as an id, is not the code).
fn holds(text: &str, secret: &str) -> bool {
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[tokio::test]
async fn the_live_tail_shows_a_new_record_in_the_browser_and_holds_them_while_paused() {
    let p = Platform::spawn().await;
    // Ada signed up and was made an admin; she signs in in her browser.
    p.sign_up_buyer("ada@example.com").await;
    p.db.query("UPDATE account SET role = 'admin' WHERE email = $email RETURN NONE")
        .bind(("email", "ada@example.com"))
        .await
        .and_then(|r| r.check())
        .unwrap();
    let (_, admin) = p.account("Another Admin", Role::Admin).await;
    let b = Browser::start().await;
    b.sign_in(&p.base_url, "ada@example.com", "a long and secret password")
        .await;
    // The newest page, filtered to the orders node, works without the script.
    b.goto(&p.url("/admin/logs?node=orders")).await;
    assert_eq!(b.text("h1").await, "Logs");
    b.click("#log-tail").await;
    b.wait_for_text(">Live<").await;

    // A buyer knocks on the admins' door; the orders node records it.
    let buyer = p.token(Role::Buyer);
    let refused_request = |p: &Platform| {
        let buyer = buyer.clone();
        let url = p.url("/api/admin/orders");
        let http = p.http.clone();
        async move {
            let r = http.get(url).bearer_auth(buyer).send().await.unwrap();
            assert_eq!(r.status(), 403);
            r.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    let first = refused_request(&p).await;
    b.wait_for_text(&first).await;

    // Paused, nothing new arrives; resumed, what happened meanwhile does.
    b.click("#log-tail").await;
    b.wait_for_text("Paused").await;
    let second = refused_request(&p).await;
    // The node's record is in the logs, yet the paused page does not show it.
    eventually(
        "the second request's record to be kept",
        || trail(&p, &admin, &second),
        |t| t.nodes.contains(&"orders".to_owned()),
    )
    .await;
    assert!(!b.source().await.contains(&second));
    b.click("#log-tail").await;
    b.wait_for_text(&second).await;
    // Only the orders node's records came, as the filter asked.
    let nodes = b
        .client
        .find_all(fantoccini::Locator::Css("tr.tailed td:nth-child(3)"))
        .await
        .unwrap();
    assert!(!nodes.is_empty());
    for n in nodes {
        assert_eq!(n.text().await.unwrap(), "orders");
    }
    b.close().await;
}

#[tokio::test]
async fn the_logs_stream_keeps_the_configured_size_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    configs.logs.logs_max_bytes = 8 * 1024 * 1024;
    configs.logs.logs_max_age_secs = 3600;
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        ..Options::default()
    })
    .await;
    p.keep(dir);
    let mut stream = p
        .ctx
        .jetstream
        .get_stream(bazaar_subjects::logs::STREAM)
        .await
        .unwrap();
    let config = stream.info().await.unwrap().config.clone();
    assert_eq!(config.max_bytes, 8 * 1024 * 1024);
    assert_eq!(config.max_age, Duration::from_secs(3600));
    // Each identity's records, and none of the logs node's requests.
    assert!(config.subjects.contains(&"logs.edge.*".to_owned()));
    assert!(config.subjects.contains(&"logs.orders.*".to_owned()));
    assert!(!config.subjects.iter().any(|s| s == "logs.>"));

    // A logs node started with a larger limit brings the stream to it.
    p.configs.logs.logs_max_bytes = 16 * 1024 * 1024;
    let copy = p.start_node(Domain::Logs);
    eventually(
        "the stream to take the new limit",
        || async {
            let mut stream = p
                .ctx
                .jetstream
                .get_stream(bazaar_subjects::logs::STREAM)
                .await
                .unwrap();
            stream.info().await.unwrap().config.max_bytes
        },
        |max| *max == 16 * 1024 * 1024,
    )
    .await;
    copy.stop().await;
}
