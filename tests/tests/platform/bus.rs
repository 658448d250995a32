//! The closed bus: whoever reaches NATS without credentials gets nothing,
//! and each identity can do only its own domain's work. The rest of the
//! suite runs on the same closed bus, so everything the platform does is
//! within these permissions.

use std::time::Duration;

use async_nats::jetstream;
use bazaar_subjects::Domain;
use bazaar_subjects::bus::Principal;
use bazaar_subjects::mail::{Email, SendEmail};
use bazaar_subjects::{Job, auth};
use bazaar_tests::Platform;
use futures::StreamExt;
use serde_json::json;

/// Waits a moment for the server to refuse something, and says what it said.
async fn refusal(errors: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), errors.recv())
        .await
        .expect("the server refuses")
        .expect("a refusal")
}

/// JetStream with a short timeout: a refused API request is never answered.
fn jetstream_of(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client)
}

#[tokio::test]
async fn without_credentials_or_with_a_key_it_does_not_know_the_bus_refuses_the_connection() {
    let p = Platform::spawn().await;
    let url = &p.nats_server.url();
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await;
    assert!(anonymous.is_err(), "no credentials, no connection");
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let unknown = async_nats::ConnectOptions::new()
        .nkey(stranger)
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await;
    assert!(
        unknown.is_err(),
        "a key the server does not list is refused"
    );
}

#[tokio::test]
async fn the_edge_cannot_read_passwords_queue_mail_publish_events_or_open_the_auth_buckets() {
    let p = Platform::spawn().await;
    let (edge, mut errors) = p.connect_as(Principal::Edge).await;

    // Listening in on sign-ins is refused, and nothing arrives.
    let mut snoop = edge.subscribe("auth.>").await.unwrap();
    let why = refusal(&mut errors).await;
    assert!(
        why.contains("Permissions Violation for Subscription"),
        "{why}"
    );
    let (_, buyer) = p.account("Ida", bazaar_subjects::Role::Buyer).await;
    let r = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "ida@example.com", "password": "a guessed password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the sign-in went through the bus");
    let heard = tokio::time::timeout(Duration::from_millis(500), snoop.next()).await;
    assert!(
        heard.is_err(),
        "no sign-in request reached the edge's subscription"
    );
    // The edge still does its own work: its requests are answered.
    let me = p.get("/api/me", Some(&buyer)).await;
    assert_eq!(me.status(), 200);

    let js = jetstream_of(edge.clone());
    // The auth node's buckets are the auth node's.
    assert!(js.get_key_value(auth::CODES_BUCKET).await.is_err());
    assert!(
        refusal(&mut errors)
            .await
            .contains("Permissions Violation for Publish")
    );
    // Mail is queued by the nodes that send it, never by the edge.
    let mail = SendEmail {
        id: "forged".into(),
        to: "victim@example.com".into(),
        email: Email::AlreadyRegistered {
            name: "Victim".into(),
        },
    };
    let queued = js
        .publish(
            SendEmail::SUBJECT,
            serde_json::to_vec(&mail).unwrap().into(),
        )
        .await;
    let stored = match queued {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!stored, "the mail queue never stores the edge's job");
    // Nor does the edge speak for a domain.
    let stored = match js.publish("events.orders.order.placed", "{}".into()).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!stored, "the orders stream never stores the edge's event");
    assert!(
        refusal(&mut errors)
            .await
            .contains("Permissions Violation for Publish")
    );
}

#[tokio::test]
async fn a_catalog_node_cannot_serve_orders_or_answer_anyone_who_may_not_call_it() {
    let p = Platform::spawn().await;
    let (catalog, mut errors) = p.connect_as(Principal::Node(Domain::Catalog)).await;
    // Serving another domain's endpoint: refused, and the requests keep
    // going to the orders node.
    let mut stolen = catalog
        .queue_subscribe("orders.orders.mine", "q".into())
        .await
        .unwrap();
    let why = refusal(&mut errors).await;
    assert!(
        why.contains("Permissions Violation for Subscription"),
        "{why}"
    );
    let (_, buyer) = p.account("Jo", bazaar_subjects::Role::Buyer).await;
    for _ in 0..5 {
        let r = p.get("/api/orders", Some(&buyer)).await;
        assert_eq!(r.status(), 200, "the orders node answers");
    }
    let heard = tokio::time::timeout(Duration::from_millis(300), stolen.next()).await;
    assert!(heard.is_err(), "nothing reached the catalog's subscription");
    // Its own endpoints it may serve, and it may call the sellers node.
    assert!(
        Principal::Node(Domain::Catalog)
            .permissions()
            .subscribe
            .contains(&"catalog.>".to_owned())
    );
    // It may not ask the auth node anything: it has no business there.
    let asked = catalog
        .publish("auth.session.login", "{}".into())
        .await
        .is_ok();
    assert!(asked, "the publish leaves the client");
    assert!(
        refusal(&mut errors)
            .await
            .contains("Permissions Violation for Publish to \"auth.session.login\"")
    );
}
