//! Chat stories: a buyer asks a shop, the seller answers, over sockets on
//! two edges; receipts, typing, presence, reconnects, slow clients, blocks,
//! reminders, and everyone who must not read or write being refused.

use std::time::Duration;

use bazaar::platform::NodeConfigs;
use bazaar_subjects::Role;
use bazaar_subjects::catalog::Product;
use bazaar_subjects::chat::{
    Conversation, Conversations, Cursor, ListMessages, Message, MessageBody, MessageInput,
    MessageSent, Messages, ResponseTime, ShopRef, Side,
};
use bazaar_subjects::sellers::Shop;
use bazaar_subjects::socket::{ClientFrame, ServerFrame, deliver_subject};
use bazaar_tests::browser::Browser;
use bazaar_tests::socket::Socket;
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::{Options, Platform, eventually};
use reqwest::Method;
use serde_json::{Value, json};

use crate::catalog::{categories, create};
use crate::commerce::{add, address, checkout, cod_product};

/// A platform whose chat node has these settings.
async fn with_chat(settings: impl FnOnce(&mut bazaar_chat::ChatConfig)) -> Platform {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    settings(&mut configs.chat);
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        ..Default::default()
    })
    .await;
    p.keep(dir);
    p
}

/// A page's HTML as the holder of `token` sees it.
async fn html_of(p: &Platform, path: &str, token: &str) -> String {
    p.get(path, Some(token)).await.text().await.unwrap()
}

/// A shop run by a seller who really signed up, one product in it, and a
/// buyer who really signed up: (seller, buyer, shop, product).
pub(crate) async fn shop_and_buyer(p: &Platform) -> (String, String, Shop, Product) {
    categories(p).await;
    let (seller, shop) = p.real_seller_with_shop("Anna Audio", "electronics").await;
    let item = create(p, &seller, &cod_product("Tube Amplifier", 40_000, 5)).await;
    let buyer = p.sign_up_buyer("bea@example.com").await;
    (seller, buyer, shop, item)
}

pub(crate) async fn start(
    p: &Platform,
    buyer: &str,
    shop: &Shop,
    item: Option<&Product>,
) -> Conversation {
    let mut body = json!({ "shop_slug": shop.slug });
    if let Some(item) = item {
        body["product_id"] = json!(item.id);
    }
    ok_as(
        p.send(Method::POST, "/api/conversations", buyer, Some(body))
            .await,
    )
    .await
}

async fn post_text(p: &Platform, token: &str, conversation: &str, text: &str) -> reqwest::Response {
    p.send(
        Method::POST,
        &format!("/api/conversations/{conversation}/messages"),
        token,
        Some(json!({
            "client_id": uuid::Uuid::new_v4().to_string(),
            "body": { "kind": "text", "text": text },
        })),
    )
    .await
}

fn text_of(m: &Message) -> &str {
    match &m.body {
        Some(MessageBody::Text { text }) => text,
        other => panic!("not a text message: {other:?}"),
    }
}

fn send_frame(conversation: &str, id: &str, text: &str) -> ClientFrame {
    ClientFrame::Send {
        conversation: conversation.to_owned(),
        client_id: id.to_owned(),
        body: MessageInput::Text { text: text.into() },
    }
}

/// The next message frame on a socket, skipping everything else.
async fn next_message(s: &mut Socket) -> Message {
    s.until(|f| match f {
        ServerFrame::Message { message } => Some(message),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_buyer_and_a_seller_on_two_edges_talk_live() {
    let p = Platform::spawn().await;
    let (seller, buyer, shop, item) = shop_and_buyer(&p).await;
    let edge_b = p.start_edge().await;
    let mut buyer_socket = Socket::open(&p.base_url, &buyer).await;
    let mut seller_socket = Socket::open(&edge_b, &seller).await;

    // The buyer asks from the product page: the product is the context,
    // and asking again reuses the conversation.
    let c = start(&p, &buyer, &shop, Some(&item)).await;
    assert_eq!(c.side, Side::Buyer);
    assert_eq!(c.shop_name, "Anna Audio");
    assert_eq!(c.product.as_ref().unwrap().title, "Tube Amplifier");
    assert_eq!(start(&p, &buyer, &shop, None).await.id, c.id);

    // Three messages from edge A arrive on edge B in order.
    for (i, text) in ["Hello!", "Does it ship to Berlin?", "And is it new?"]
        .iter()
        .enumerate()
    {
        buyer_socket
            .send(&send_frame(&c.id, &format!("q{i}"), text))
            .await;
        let sent = buyer_socket
            .until(|f| match f {
                ServerFrame::Sent { client_id, message } => Some((client_id, message)),
                _ => None,
            })
            .await;
        assert_eq!(sent.0, format!("q{i}"));
        assert_eq!(sent.1.seq, i as i64 + 1);
    }
    for (seq, text) in [
        (1, "Hello!"),
        (2, "Does it ship to Berlin?"),
        (3, "And is it new?"),
    ] {
        let m = next_message(&mut seller_socket).await;
        assert_eq!((m.seq, text_of(&m)), (seq, text));
        assert_eq!(m.author_name, "Bea Buyer");
        assert_eq!(m.author_side, Side::Buyer);
    }

    // The seller's inbox counts three unread; they are typing (not stored),
    // they read (the buyer gets the receipt), they answer.
    let inbox: Conversations = ok_as(
        p.send(Method::GET, "/api/conversations?side=seller", &seller, None)
            .await,
    )
    .await;
    assert_eq!(inbox.conversations.len(), 1);
    assert_eq!(inbox.conversations[0].unread, 3);
    assert_eq!(inbox.unread, 3);
    seller_socket
        .send(&ClientFrame::Typing {
            conversation: c.id.clone(),
        })
        .await;
    let typing = buyer_socket
        .until(|f| match f {
            ServerFrame::Typing { name, .. } => Some(name),
            _ => None,
        })
        .await;
    assert_eq!(typing, "Anna Audio");
    seller_socket
        .send(&ClientFrame::Read {
            conversation: c.id.clone(),
            seq: 3,
        })
        .await;
    let seen = buyer_socket
        .until(|f| match f {
            ServerFrame::Read { seq, .. } => Some(seq),
            _ => None,
        })
        .await;
    assert_eq!(seen, 3);
    let r = post_text(&p, &seller, &c.id, "Yes, brand new, ships tomorrow.").await;
    assert_eq!(r.status(), 201);
    let answer = next_message(&mut buyer_socket).await;
    assert_eq!(answer.seq, 4);
    assert_eq!(answer.author_name, "Anna Audio");

    // Each message was announced once, with its sequence and side.
    let announced = eventually(
        "four messages announced",
        || p.events_of::<MessageSent>(),
        |events| events.len() >= 4,
    )
    .await;
    let sides: Vec<(i64, Side)> = announced
        .iter()
        .filter(|e| e.conversation == c.id)
        .map(|e| (e.seq, e.author_side))
        .collect();
    assert_eq!(
        sides,
        [
            (1, Side::Buyer),
            (2, Side::Buyer),
            (3, Side::Buyer),
            (4, Side::Seller)
        ]
    );

    // The history holds the four messages and nothing of the typing.
    let history: Messages = ok_as(
        p.send(
            Method::GET,
            &format!("/api/conversations/{}/messages", c.id),
            &buyer,
            None,
        )
        .await,
    )
    .await;
    let seqs: Vec<i64> = history.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // Writing counts as having read: the seller has seen all four.
    assert_eq!(history.conversation.their_read_seq, 4);
    assert!(history.conversation.presence.as_ref().unwrap().online);
    assert_eq!(history.conversation.unread, 1);

    // The buyer places an order: the seller's socket hears of it at once.
    add(&p, &buyer, &item.id, 1).await;
    let r = checkout(
        &p,
        &buyer,
        "chat-order",
        json!({ "address": address(), "payment": "cod" }),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let title = seller_socket
        .until(|f| match f {
            ServerFrame::Notification { title, .. } if title.starts_with("New order") => {
                Some(title)
            }
            _ => None,
        })
        .await;
    assert!(title.starts_with("New order"), "{title}");

    // The shop page's answer time counts this conversation.
    let time: ResponseTime = bazaar_runtime::call::<bazaar_subjects::chat::GetResponseTime>(
        &p.ctx.nats,
        &Default::default(),
        &ShopRef {
            shop_id: c.shop_id.clone(),
        },
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(time.answered, 1);
    assert!(time.average_secs.is_some());

    // The seller leaves: the buyer sees them go offline.
    seller_socket.close().await;
    let online = buyer_socket
        .until(|f| match f {
            ServerFrame::Presence { online, .. } => Some(online),
            _ => None,
        })
        .await;
    assert!(!online);
}

#[tokio::test]
async fn nobody_outside_a_conversation_reads_or_writes_it() {
    let p = Platform::spawn().await;
    let (_seller, buyer, shop, _) = shop_and_buyer(&p).await;
    let c = start(&p, &buyer, &shop, None).await;
    assert_eq!(
        post_text(&p, &buyer, &c.id, "private question")
            .await
            .status(),
        201
    );

    let stranger = p.token(Role::Buyer);
    let r = p
        .send(
            Method::GET,
            &format!("/api/conversations/{}/messages", c.id),
            &stranger,
            None,
        )
        .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 403, "{e:?}");
    assert_eq!(post_text(&p, &stranger, &c.id, "hi").await.status(), 403);
    let inbox: Conversations = ok_as(
        p.send(Method::GET, "/api/conversations", &stranger, None)
            .await,
    )
    .await;
    assert!(inbox.conversations.is_empty());

    // Straight over NATS, past the edge, the chat node refuses too.
    let over_nats = |authorization: Option<String>| {
        let meta = bazaar_runtime::RequestMeta {
            request_id: "outsider".into(),
            authorization,
        };
        let request = ListMessages {
            conversation: c.id.clone(),
            before: None,
            after: None,
            limit: None,
        };
        let nats = p.ctx.nats.clone();
        async move {
            bazaar_runtime::call::<bazaar_subjects::chat::ListChatMessages>(
                &nats,
                &meta,
                &request,
                Duration::from_secs(5),
            )
            .await
            .unwrap_err()
        }
    };
    let refused = over_nats(Some(stranger.clone())).await;
    assert_eq!(refused.status, 403);
    let anonymous = over_nats(None).await;
    assert_eq!(anonymous.status, 401);
    // A stranger's socket hears nothing of it.
    let stranger_account = p.sign_up_buyer("eve@example.com").await;
    let mut eve = Socket::open(&p.base_url, &stranger_account).await;
    assert_eq!(
        post_text(&p, &buyer, &c.id, "still private").await.status(),
        201
    );
    assert!(eve.drain(Duration::from_millis(500)).await.is_empty());

    // An admin reads every conversation, and writes only after joining.
    let admin = p.token(Role::Admin);
    let all: Conversations = ok_as(
        p.send(Method::GET, "/api/conversations?all=true", &admin, None)
            .await,
    )
    .await;
    assert!(all.conversations.iter().any(|x| x.id == c.id));
    let r = p
        .send(
            Method::GET,
            &format!("/api/conversations/{}/messages", c.id),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        post_text(&p, &admin, &c.id, "Hello from support")
            .await
            .status(),
        403
    );
    let joined: Conversation = ok_as(
        p.send(
            Method::POST,
            &format!("/api/conversations/{}/join", c.id),
            &admin,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(joined.admins.len(), 1);
    let r = post_text(&p, &admin, &c.id, "Hello from support").await;
    let m: Message = ok_as(r).await;
    assert_eq!(m.author_side, Side::Admin);
    // Listing everything is for admins only.
    let r = p
        .send(Method::GET, "/api/conversations?all=true", &buyer, None)
        .await;
    assert_eq!(r.status(), 403);
    let r = p
        .send(Method::GET, "/api/admin/chat-reports", &buyer, None)
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_reconnecting_client_gets_exactly_what_it_missed() {
    let p = Platform::spawn().await;
    let (seller, buyer, shop, _) = shop_and_buyer(&p).await;
    let c = start(&p, &buyer, &shop, None).await;
    let mut socket = Socket::open(&p.base_url, &buyer).await;
    for text in ["one", "two"] {
        assert_eq!(post_text(&p, &seller, &c.id, text).await.status(), 201);
    }
    let seen: Vec<i64> = [
        next_message(&mut socket).await.seq,
        next_message(&mut socket).await.seq,
    ]
    .into();
    assert_eq!(seen, [1, 2]);
    socket.close().await;

    // While the buyer is away the seller writes twice more.
    for text in ["three", "four"] {
        assert_eq!(post_text(&p, &seller, &c.id, text).await.status(), 201);
    }
    // Back, on another edge, with the last sequence it holds.
    let edge_b = p.start_edge().await;
    let mut socket = Socket::open(&edge_b, &buyer).await;
    socket
        .send(&ClientFrame::Resume {
            cursors: vec![Cursor {
                conversation: c.id.clone(),
                seq: 2,
            }],
        })
        .await;
    let missed = socket
        .until(|f| match f {
            ServerFrame::Missed { messages } => Some(messages),
            _ => None,
        })
        .await;
    let texts: Vec<&str> = missed.iter().map(text_of).collect();
    assert_eq!(texts, ["three", "four"]);
    // A cursor into someone else's conversation is refused, not answered.
    let other = p.sign_up_buyer("other@example.com").await;
    let mut other_socket = Socket::open(&p.base_url, &other).await;
    other_socket
        .send(&ClientFrame::Resume {
            cursors: vec![Cursor {
                conversation: c.id.clone(),
                seq: 0,
            }],
        })
        .await;
    let status = other_socket
        .until(|f| match f {
            ServerFrame::Error { status, .. } => Some(status),
            ServerFrame::Missed { .. } => panic!("an outsider caught up"),
            _ => None,
        })
        .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_cut_off_and_the_others_keep_receiving() {
    let p = Platform::spawn().await;
    let fast_token = p.sign_up_buyer("fast@example.com").await;
    let slow_token = p.sign_up_buyer("slow@example.com").await;
    let mut fast = Socket::open(&p.base_url, &fast_token).await;
    let mut slow = Socket::open(&p.base_url, &slow_token).await;
    let me = |token: &str| {
        let payload = token.split('.').nth(1).unwrap().to_owned();
        use base64::Engine;
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["sub"].as_str().unwrap().to_owned()
    };
    let (fast_id, slow_id) = (me(&fast_token), me(&slow_token));

    // A flood of large notifications to both: the fast reader keeps up, the
    // slow one never reads.
    let big = "x".repeat(16 * 1024);
    let frame = serde_json::to_vec(&ServerFrame::Notification {
        title: "Flood".into(),
        body: big,
        link: None,
    })
    .unwrap();
    let flood = 3_000;
    let (progress, mut read_so_far) = tokio::sync::watch::channel(0usize);
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < flood {
            if let ServerFrame::Notification { .. } = fast.next().await {
                got += 1;
                progress.send_replace(got);
            }
        }
        (fast, got)
    });
    // In batches well under the send queue: the fast reader is never more
    // than one batch behind, whatever the machine's speed.
    for batch in 0..flood / 100 {
        for _ in 0..100 {
            for id in [&fast_id, &slow_id] {
                p.ctx
                    .nats
                    .publish(deliver_subject(id), frame.clone().into())
                    .await
                    .unwrap();
            }
        }
        p.ctx.nats.flush().await.unwrap();
        let sent = (batch + 1) * 100;
        read_so_far
            .wait_for(|n| *n >= sent)
            .await
            .expect("the fast reader keeps reading");
    }
    let (mut fast, got) = reader.await.unwrap();
    assert_eq!(got, flood);
    let closed = slow.closed().await;
    let (code, reason) = closed.expect("a close frame with a reason");
    assert_eq!(code, 1008);
    assert!(reason.contains("too slow"), "{reason}");
    // The fast one is still connected and answered.
    fast.send(&ClientFrame::Ping {}).await;
    fast.until(|f| matches!(f, ServerFrame::Pong {}).then_some(()))
        .await;
}

#[tokio::test]
async fn bad_frames_get_an_error_frame_and_the_socket_stays_open() {
    let p = Platform::spawn().await;
    let (_seller, buyer, shop, _) = shop_and_buyer(&p).await;
    let c = start(&p, &buyer, &shop, None).await;
    let mut socket = Socket::open(&p.base_url, &buyer).await;
    let error = |f: ServerFrame| match f {
        ServerFrame::Error {
            client_id,
            status,
            message,
        } => Some((client_id, status, message)),
        _ => None,
    };

    socket.send_raw("this is not JSON").await;
    let (_, status, message) = socket.until(error).await;
    assert_eq!(status, 400);
    assert!(message.contains("unreadable"), "{message}");
    socket.send_raw(r#"{"type":"launch_rockets"}"#).await;
    assert_eq!(socket.until(error).await.1, 400);
    socket
        .send_raw(&format!(
            r#"{{"type":"ping","pad":"{}"}}"#,
            "x".repeat(40_000)
        ))
        .await;
    assert_eq!(socket.until(error).await.1, 413);
    socket
        .send(&send_frame(&c.id, "too-long", &"é".repeat(4_001)))
        .await;
    let (client_id, status, _) = socket.until(error).await;
    assert_eq!((client_id.as_deref(), status), (Some("too-long"), 422));
    socket
        .send(&send_frame("not-a-conversation", "nowhere", "hi"))
        .await;
    assert_eq!(socket.until(error).await.1, 404);

    // Still open, still working.
    socket
        .send(&send_frame(&c.id, "fine", "A fine question"))
        .await;
    let sent = socket
        .until(|f| match f {
            ServerFrame::Sent { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(text_of(&sent), "A fine question");
    // The same send again stores nothing new.
    socket
        .send(&send_frame(&c.id, "fine", "A fine question"))
        .await;
    let again = socket
        .until(|f| match f {
            ServerFrame::Sent { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(again.seq, sent.seq);

    // A signed-out caller and a foreign page cannot open a socket.
    assert_eq!(
        Socket::try_open(&p.base_url, "not-a-token", None)
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        Socket::try_open(&p.base_url, &buyer, Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert!(
        Socket::try_open(&p.base_url, &buyer, Some(&p.base_url))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn blocks_edits_images_and_the_rate_limit() {
    let p = with_chat(|chat| chat.messages_per_10s = 5).await;
    let (seller, buyer, shop, item) = shop_and_buyer(&p).await;
    let c = start(&p, &buyer, &shop, None).await;
    let first: Message = ok_as(post_text(&p, &buyer, &c.id, "Is it red?").await).await;

    // The author edits (within five minutes); nobody else can.
    let edited: Message = ok_as(
        p.send(
            Method::PATCH,
            &format!("/api/conversations/{}/messages/{}", c.id, first.seq),
            &buyer,
            Some(json!({ "text": "Is it blue?" })),
        )
        .await,
    )
    .await;
    assert_eq!(text_of(&edited), "Is it blue?");
    assert!(edited.edited_at.is_some());
    let r = p
        .send(
            Method::PATCH,
            &format!("/api/conversations/{}/messages/{}", c.id, first.seq),
            &seller,
            Some(json!({ "text": "hacked" })),
        )
        .await;
    assert_eq!(r.status(), 403);

    // A product card, an own picture; someone else's picture is refused.
    let card: Message = ok_as(
        p.send(
            Method::POST,
            &format!("/api/conversations/{}/messages", c.id),
            &seller,
            Some(json!({ "client_id": "card", "body": { "kind": "product", "product_id": item.id } })),
        )
        .await,
    )
    .await;
    assert!(
        matches!(card.body, Some(MessageBody::Product { ref product }) if product.title == "Tube Amplifier")
    );
    let sellers_picture = crate::catalog::upload(&p, &seller).await;
    let image_msg = |image: &str, id: &str| json!({ "client_id": id, "body": { "kind": "image", "image": image } });
    let path = format!("/api/conversations/{}/messages", c.id);
    let r = p
        .send(
            Method::POST,
            &path,
            &buyer,
            Some(image_msg(&sellers_picture, "i1")),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = p
        .send(
            Method::POST,
            &path,
            &seller,
            Some(image_msg(&sellers_picture, "i2")),
        )
        .await;
    assert_eq!(r.status(), 201);

    // The author deletes: the message stays as a tombstone.
    let deleted: Message = ok_as(
        p.send(
            Method::DELETE,
            &format!("/api/conversations/{}/messages/{}", c.id, first.seq),
            &buyer,
            None,
        )
        .await,
    )
    .await;
    assert!(deleted.deleted && deleted.body.is_none());

    // The seller blocks: no new messages either way, and only they lift it.
    let blocked: Conversation = ok_as(
        p.send(
            Method::PUT,
            &format!("/api/conversations/{}/block", c.id),
            &seller,
            Some(json!({ "on": true })),
        )
        .await,
    )
    .await;
    assert_eq!(blocked.blocked_by, Some(Side::Seller));
    assert_eq!(post_text(&p, &buyer, &c.id, "hello?").await.status(), 403);
    assert_eq!(post_text(&p, &seller, &c.id, "bye").await.status(), 403);
    let still: Conversation = ok_as(
        p.send(
            Method::PUT,
            &format!("/api/conversations/{}/block", c.id),
            &buyer,
            Some(json!({ "on": false })),
        )
        .await,
    )
    .await;
    assert_eq!(still.blocked_by, Some(Side::Seller));
    p.send(
        Method::PUT,
        &format!("/api/conversations/{}/block", c.id),
        &seller,
        Some(json!({ "on": false })),
    )
    .await;

    // The buyer reports it; admins see the report.
    let r = p
        .send(
            Method::POST,
            &format!("/api/conversations/{}/report", c.id),
            &buyer,
            Some(json!({ "reason": "asked me to pay outside the site" })),
        )
        .await;
    assert_eq!(r.status(), 201);
    let reports: bazaar_subjects::chat::Reports = ok_as(
        p.send(
            Method::GET,
            "/api/admin/chat-reports",
            &p.token(Role::Admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(reports.reports.len(), 1);
    assert_eq!(reports.reports[0].conversation, c.id);

    // Five messages in ten seconds, then a 429 saying how long to wait.
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(
            post_text(&p, &buyer, &c.id, &format!("message {i}"))
                .await
                .status(),
        );
    }
    assert!(
        statuses.contains(&reqwest::StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let r = post_text(&p, &buyer, &c.id, "one more").await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 429);
    assert!(e.retry_after_secs.is_some());
}

#[tokio::test]
async fn an_unread_message_brings_an_offline_seller_one_reminder_email() {
    let p = with_chat(|chat| {
        chat.reminder_after_secs = 1;
        chat.reminder_tick_ms = 200;
    })
    .await;
    let (_seller, buyer, shop, _) = shop_and_buyer(&p).await;
    let c = start(&p, &buyer, &shop, None).await;
    assert_eq!(
        post_text(&p, &buyer, &c.id, "Are you open on Sunday?")
            .await
            .status(),
        201
    );
    let email = p
        .email_about("anna-audio@example.com", "New message from Bea Buyer")
        .await;
    assert!(
        email.text.contains("Are you open on Sunday?"),
        "{}",
        email.text
    );
    assert!(email.text.contains(&format!("/seller/messages/{}", c.id)));

    // Another unread message within the hour sends no second email.
    assert_eq!(post_text(&p, &buyer, &c.id, "Hello?").await.status(), 201);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        p.email_count("anna-audio@example.com").await,
        2,
        "sign-up code and one reminder"
    );
}

#[tokio::test]
async fn in_two_browsers_on_two_edges_a_buyer_asks_and_the_seller_answers_live() {
    let p = Platform::spawn().await;
    let (_seller, _buyer, _shop, item) = shop_and_buyer(&p).await;
    let edge_b = p.start_edge().await;
    let password = "a long and secret password";
    let buyer = Browser::start().await;
    let seller = Browser::start().await;
    buyer
        .sign_in(&p.base_url, "bea@example.com", password)
        .await;
    seller
        .sign_in(&edge_b, "anna-audio@example.com", password)
        .await;

    // The buyer asks from the product page.
    buyer
        .goto(&p.url(&format!("/products/{}", item.slug)))
        .await;
    buyer.click("form.ask-seller button[type=submit]").await;
    buyer.wait_for_text("About <a href=").await;
    let conversation = buyer.path().await;
    let id = conversation.trim_start_matches("/messages/").to_owned();
    wait_until_live(&buyer).await;
    buyer
        .type_into("textarea[name=text]", "Does it come with <b>valves</b>?")
        .await;
    buyer.click("form[data-send] button[type=submit]").await;
    buyer.wait_for_text("valves").await;

    // The seller finds it in the shop inbox, escaped as typed.
    seller.goto(&format!("{edge_b}/seller/messages")).await;
    let inbox = seller.wait_for_text("Bea Buyer").await;
    assert!(
        inbox.contains("valves") && !inbox.contains("<b>valves"),
        "{inbox}"
    );
    seller.goto(&format!("{edge_b}/seller/messages/{id}")).await;
    wait_until_live(&seller).await;

    // Both pages stay where they are (no reload) while messages arrive.
    for b in [&buyer, &seller] {
        b.client
            .execute("window.stillHere = true", vec![])
            .await
            .unwrap();
    }
    seller
        .type_into("textarea[name=text]", "Yes, a matched set of four.")
        .await;
    seller.click("form[data-send] button[type=submit]").await;
    buyer.wait_for_text("a matched set of four").await;
    buyer
        .type_into("textarea[name=text]", "Wonderful, ordering now")
        .await;
    buyer.click("form[data-send] button[type=submit]").await;
    seller.wait_for_text("ordering now").await;
    for b in [&buyer, &seller] {
        let kept = b
            .client
            .execute("return window.stillHere === true", vec![])
            .await
            .unwrap();
        assert_eq!(kept, serde_json::Value::Bool(true), "the page reloaded");
    }
    // What the buyer typed is text on the seller's page, never markup.
    let bold = seller
        .client
        .execute(
            "return document.querySelectorAll('.messages b').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bold, json!(0));
    buyer.close().await;
    seller.close().await;
}

/// Waits until the page's script has its socket open.
async fn wait_until_live(b: &Browser) {
    for _ in 0..100 {
        let live = b
            .client
            .execute("return document.documentElement.dataset.live || ''", vec![])
            .await
            .unwrap();
        if live == json!("on") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never went live");
}

#[tokio::test]
async fn without_javascript_the_forms_post_and_the_inboxes_count_unread() {
    let p = Platform::spawn().await;
    let (seller, buyer, shop, item) = shop_and_buyer(&p).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // "Ask the seller" is a form: it lands on the conversation page.
    let r = no_redirects
        .post(p.url("/messages/start"))
        .bearer_auth(&buyer)
        .form(&[
            ("shop_slug", shop.slug.as_str()),
            ("product_id", item.id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(page.starts_with("/messages/"), "{page}");
    let html = html_of(&p, &page, &buyer).await;
    assert!(html.contains("No messages yet"), "{html}");
    assert!(html.contains("Tube Amplifier"));

    // The message form posts and comes back to the message.
    let r = no_redirects
        .post(p.url(&page))
        .bearer_auth(&buyer)
        .form(&[
            ("client_id", "form-1"),
            ("text", "Is <i>this</i> still available?"),
            ("back", page.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], format!("{page}#m1").as_str());
    // An empty message comes back with why.
    let r = no_redirects
        .post(p.url(&page))
        .bearer_auth(&buyer)
        .form(&[
            ("client_id", "form-2"),
            ("text", "   "),
            ("back", page.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"].to_str().unwrap().contains("error="));

    // The shop inbox shows one unread, escaped; reading it clears the count.
    let inbox = html_of(&p, "/seller/messages", &seller).await;
    assert!(inbox.contains("Bea Buyer"), "{inbox}");
    assert!(inbox.contains("aria-label=\"1 unread\""), "{inbox}");
    assert!(
        inbox.contains("&lt;i&gt;this&lt;/i&gt;") || inbox.contains("&#60;i&#62;this"),
        "{inbox}"
    );
    let id = page.trim_start_matches("/messages/");
    let html = html_of(&p, &format!("/seller/messages/{id}"), &seller).await;
    assert!(html.contains("still available?"));
    assert!(!html.contains("<i>this</i>"));
    let inbox = html_of(&p, "/seller/messages", &seller).await;
    assert!(!inbox.contains("1 unread"), "{inbox}");
    // The buyer's and the admins' inboxes list it too, each from its side.
    let mine = html_of(&p, "/messages", &buyer).await;
    assert!(
        mine.contains("<h1>Messages") && mine.contains("Anna Audio"),
        "{mine}"
    );
    let (_, admin) = p.account("Ada Admin", Role::Admin).await;
    let all = html_of(&p, "/admin/messages", &admin).await;
    assert!(
        all.contains("All conversations") && all.contains("Bea Buyer ↔ Anna Audio"),
        "{all}"
    );
    // A stranger gets the friendly refusal page, not the conversation.
    let stranger = p.sign_up_buyer("eve@example.com").await;
    let r = p.get(&page, Some(&stranger)).await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("still available"));
}
