//! An edge is taken out of service while a buyer uses it, over HTTP and a
//! chat socket: the buyer moves to the other edge with the same session,
//! and the socket resumes there with every message that came meanwhile,
//! none twice.

use std::sync::Arc;
use std::time::Duration;

use bazaar_subjects::chat::{Conversation, Cursor, Message, MessageBody};
use bazaar_subjects::socket::{ClientFrame, ServerFrame};
use bazaar_tests::socket::Socket;
use bazaar_tests::story::{ok_as, ok_json};
use bazaar_tests::{Options, Platform};
use reqwest::Method;
use serde_json::json;

use crate::platform;

const PASSWORD: &str = "a long and secret password";

async fn post_text(p: &Platform, token: &str, conversation: &str, text: &str) {
    let r = p
        .send(
            Method::POST,
            &format!("/api/conversations/{conversation}/messages"),
            token,
            Some(json!({
                "client_id": uuid::Uuid::new_v4().to_string(),
                "body": { "kind": "text", "text": text },
            })),
        )
        .await;
    assert_eq!(r.status(), 201);
}

fn text_of(m: &Message) -> String {
    match &m.body {
        Some(MessageBody::Text { text }) => text.clone(),
        other => panic!("not a text message: {other:?}"),
    }
}

async fn next_message(s: &mut Socket) -> Message {
    s.until(|f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_on_an_edge_taken_out_of_service_carries_on_on_the_other() {
    let p = platform(Options::default()).await;
    let edge_a = p.start_edge_copy().await;
    let (a, b) = (edge_a.base_url.clone(), p.base_url.clone());
    p.create_categories(&[("Electronics", &["Audio"])]).await;
    let (seller, shop) = p.real_seller_with_shop("Anna Audio", "electronics").await;
    p.sign_up_buyer("moving@example.com").await;

    // The buyer signs in on edge A, as a browser: the session is in cookies
    // of the site's host (a load balancer in front would send the next
    // request to either edge).
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let session = ok_json(
        browser
            .post(format!("{a}/api/login"))
            .json(&json!({ "email": "moving@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let me = ok_json(browser.get(format!("{a}/api/me")).send().await.unwrap()).await;
    assert_eq!(me["email"], "moving@example.com");
    let c: Conversation = ok_as(
        p.send(
            Method::POST,
            "/api/conversations",
            &token,
            Some(json!({ "shop_slug": shop.slug })),
        )
        .await,
    )
    .await;
    let mut socket = Socket::open(&a, &token).await;
    for text in ["one", "two"] {
        post_text(&p, &seller, &c.id, text).await;
    }
    let held: Vec<i64> = vec![
        next_message(&mut socket).await.seq,
        next_message(&mut socket).await.seq,
    ];
    assert_eq!(held, [1, 2]);

    // Edge A goes out of service while the seller writes on: its socket
    // closes as going away, and A answers no more.
    let stopping = tokio::spawn(edge_a.stop());
    let (closed, ()) = futures::join!(socket.closed(), async {
        for text in ["three", "four"] {
            post_text(&p, &seller, &c.id, text).await;
        }
    });
    stopping.await.unwrap();
    eprintln!("edge A stopped; its socket closed with {closed:?}");
    assert_eq!(closed.map(|(code, _)| code), Some(1001));
    assert!(browser.get(format!("{a}/api/me")).send().await.is_err());

    // On edge B the same cookies are the same session, and refresh too.
    let me = ok_json(browser.get(format!("{b}/api/me")).send().await.unwrap()).await;
    assert_eq!(me["email"], "moving@example.com");
    let refreshed = ok_json(
        browser
            .post(format!("{b}/api/refresh-token"))
            .header("origin", &b)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = refreshed["access_token"].as_str().unwrap().to_owned();

    // The socket resumes on B from the last message it held: exactly what
    // it missed, then live messages again.
    let mut socket = Socket::open(&b, &token).await;
    socket
        .send(&ClientFrame::Resume {
            cursors: vec![Cursor {
                conversation: c.id.clone(),
                seq: *held.last().unwrap(),
            }],
        })
        .await;
    let missed = socket
        .until(|f| match f {
            ServerFrame::Missed { messages } => Some(messages),
            _ => None,
        })
        .await;
    let missed: Vec<String> = missed.iter().map(text_of).collect();
    eprintln!("resumed on edge B with {} missed: {missed:?}", missed.len());
    assert_eq!(missed, ["three", "four"]);
    post_text(&p, &seller, &c.id, "five").await;
    let live = next_message(&mut socket).await;
    assert_eq!((text_of(&live), live.seq), ("five".to_owned(), 5));
    let more: Vec<ServerFrame> = socket
        .drain(Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|f| matches!(f, ServerFrame::Message { .. } | ServerFrame::Missed { .. }))
        .collect();
    assert!(more.is_empty(), "a message twice: {more:?}");
}
