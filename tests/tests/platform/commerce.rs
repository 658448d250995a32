//! Commerce stories: carts, codes, checkout exactly once, orders through
//! delivery, cancellations and refunds that give stock back.

use std::time::Duration;

use bazaar::platform::NodeConfigs;
use bazaar_edge::EdgeConfig;
use bazaar_subjects::catalog::Product;
use bazaar_subjects::orders::{
    Cart, CheckoutResult, CheckoutStatus, Coupon, Coupons, Notifications, Order, OrderList,
    OrderPlaced, OrderStatus, PaymentStatus, Wishlist,
};
use bazaar_subjects::{Domain, Role};
use bazaar_tests::story::{envelope, ok_as, ok_json};
use bazaar_tests::{Options, Platform, eventually};
use serde_json::{Value, json};

use crate::catalog::{categories, create, product, stock_shows};

/// A platform with the one-box test payment page on, as `bazaar dev` runs.
pub(crate) async fn with_test_payments() -> Platform {
    Platform::spawn_like_dev(Options::default()).await
}

pub(crate) fn address() -> Value {
    json!({
        "full_name": "Bea Buyer", "line1": "1 Market Street", "city": "Berlin",
        "postal_code": "10115", "country": "de",
    })
}

pub(crate) async fn add(p: &Platform, token: &str, product_id: &str, quantity: i64) -> Cart {
    ok_as(
        p.send(
            reqwest::Method::POST,
            "/api/cart/items",
            token,
            Some(json!({ "product_id": product_id, "quantity": quantity })),
        )
        .await,
    )
    .await
}

pub(crate) async fn checkout(
    p: &Platform,
    token: &str,
    key: &str,
    body: Value,
) -> reqwest::Response {
    p.http
        .post(p.url("/api/checkout"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A checkout as its buyer sees it now.
pub(crate) async fn checkout_state(p: &Platform, token: &str, id: &str) -> CheckoutResult {
    let path = format!("/api/checkouts/{id}");
    ok_as(p.get(&path, Some(token)).await).await
}

/// Checks the buyer's cart out to pay on delivery, under idempotency `key`.
pub(crate) async fn place_cod(p: &Platform, buyer: &str, key: &str) -> CheckoutResult {
    let body = json!({ "address": address(), "payment": "cod" });
    let r = checkout(p, buyer, key, body).await;
    assert_eq!(r.status(), 201);
    ok_as(r).await
}

pub(crate) fn cod_product(title: &str, price: i64, stock: i64) -> Value {
    let mut b = product(title, "electronics", price);
    b["cash_on_delivery"] = json!(true);
    b["stock"] = json!(stock);
    b
}

/// Two shops with a product each: (seller a, seller b, product a, product b).
pub(crate) async fn two_shops(p: &Platform) -> (String, String, Product, Product) {
    categories(p).await;
    let (a, _) = p.seller_with_shop("Anna's Audio", "electronics").await;
    let (b, _) = p.seller_with_shop("Ben's Books", "electronics").await;
    let pa = create(p, &a, &cod_product("Tube Amplifier", 40_000, 5)).await;
    let pb = create(p, &b, &cod_product("Poetry Collection", 2_500, 10)).await;
    (a, b, pa, pb)
}

#[tokio::test]
async fn a_two_shop_cart_becomes_one_order_per_shop_with_discount_and_fee() {
    let p = with_test_payments().await;
    let (seller_a, seller_b, amp, book) = two_shops(&p).await;
    // Anna offers 10% off; Ben's code cannot be used on Anna's items.
    let code: Coupon = ok_as(
        p.send(
            reqwest::Method::POST,
            "/api/seller/coupons",
            &seller_a,
            Some(json!({ "code": "amp10", "kind": "percent", "amount": 10 })),
        )
        .await,
    )
    .await;
    assert_eq!(code.code, "AMP10");
    ok_json(
        p.send(
            reqwest::Method::POST,
            "/api/seller/coupons",
            &seller_b,
            Some(
                json!({ "code": "BOOKS5", "kind": "fixed", "amount": 500, "min_subtotal": 100000 }),
            ),
        )
        .await,
    )
    .await;

    let buyer = p.sign_up_buyer("bea@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let cart = add(&p, &buyer, &book.id, 2).await;
    assert_eq!(cart.shops.len(), 2);
    assert_eq!(cart.total, 45_000);
    let r = p
        .send(
            reqwest::Method::POST,
            "/api/cart/coupon",
            &buyer,
            Some(json!({ "code": "BOOKS5" })),
        )
        .await;
    assert_eq!(r.status(), 422);
    let (_, e) = envelope(r).await;
    assert!(e.fields[0].message.contains("at least"), "{e:?}");
    let r = p
        .send(
            reqwest::Method::POST,
            "/api/cart/coupon",
            &buyer,
            Some(json!({ "code": "NOPE" })),
        )
        .await;
    assert_eq!(r.status(), 422);
    let cart: Cart = ok_as(
        p.send(
            reqwest::Method::POST,
            "/api/cart/coupon",
            &buyer,
            Some(json!({ "code": "amp10" })),
        )
        .await,
    )
    .await;
    assert_eq!(cart.discount, 4_000);
    assert_eq!(cart.total, 41_000);

    let r = checkout(
        &p,
        &buyer,
        "first-try",
        json!({ "address": address(), "payment": "cod" }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let placed: CheckoutResult = ok_as(r).await;
    assert_eq!(placed.status, CheckoutStatus::Placed);
    assert_eq!(placed.orders.len(), 2);
    let order_of = |shop: &str| placed.orders.iter().find(|o| o.shop_name == shop).unwrap();
    let (amp_order, book_order) = (order_of("Anna's Audio"), order_of("Ben's Books"));
    assert_eq!(amp_order.total, 36_000);
    assert_eq!(book_order.total, 5_000);

    let detail: Order = ok_as(
        p.send(
            reqwest::Method::GET,
            &format!("/api/orders/{}", amp_order.id),
            &buyer,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(detail.subtotal, 40_000);
    assert_eq!(detail.discount, 4_000);
    assert_eq!(detail.platform_fee, 3_600);
    assert_eq!(detail.payout, 32_400);
    assert_eq!(detail.payment_status, PaymentStatus::Pending);
    assert_eq!(detail.address.country, "DE");
    assert_eq!(detail.timeline[0].status, OrderStatus::Ordered);

    // Stock was taken, the cart is empty, the code counted once.
    stock_shows(&p, "tube-amplifier", 4).await;
    stock_shows(&p, "poetry-collection", 8).await;
    let cart: Cart = ok_as(
        p.send(reqwest::Method::GET, "/api/cart", &buyer, None)
            .await,
    )
    .await;
    assert!(cart.lines.is_empty());
    let codes: Coupons = ok_as(
        p.send(reqwest::Method::GET, "/api/seller/coupons", &seller_a, None)
            .await,
    )
    .await;
    assert_eq!(codes.coupons[0].used, 1);

    // The buyer got a confirmation per order; the sellers were notified.
    p.email_about("bea@example.com", "is confirmed").await;
    let note: Notifications = ok_as(
        p.send(reqwest::Method::GET, "/api/notifications", &seller_a, None)
            .await,
    )
    .await;
    assert_eq!(note.unread, 1);
    assert!(note.notifications[0].title.starts_with("New order"));
    let placed_events = p.events("events.orders.order.placed").await;
    assert_eq!(placed_events.len(), 2);
}

#[tokio::test]
async fn the_same_idempotency_key_never_orders_twice() {
    let p = with_test_payments().await;
    let (_, _, amp, _) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("rita@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let body = json!({ "address": address(), "payment": "cod" });
    // Three tries at once and one later, all with the same key.
    let tries =
        futures::future::join_all((0..3).map(|_| checkout(&p, &buyer, "k-1", body.clone()))).await;
    let mut ids = Vec::new();
    for r in tries {
        let status = r.status();
        assert_eq!(status, 201);
        let v: CheckoutResult = ok_as(r).await;
        ids.push(v.checkout_id);
    }
    let again: CheckoutResult = ok_as(checkout(&p, &buyer, "k-1", body.clone()).await).await;
    ids.push(again.checkout_id);
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let mine: OrderList = ok_as(
        p.send(reqwest::Method::GET, "/api/orders", &buyer, None)
            .await,
    )
    .await;
    assert_eq!(mine.total, 1);
    stock_shows(&p, "tube-amplifier", 4).await;
    // The key with another body is refused; no key at all is explained.
    let r = checkout(
        &p,
        &buyer,
        "k-1",
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    assert_eq!(r.status(), 409);
    let r = p
        .http
        .post(p.url("/api/checkout"))
        .bearer_auth(&buyer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // An empty cart cannot be checked out.
    let r = checkout(&p, &buyer, "k-2", body).await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn nobody_sees_or_moves_orders_that_are_not_theirs() {
    let p = with_test_payments().await;
    let (seller_a, seller_b, amp, _) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("owner@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let placed = place_cod(&p, &buyer, "x").await;
    let id = placed.orders[0].id.clone();

    let stranger = p.sign_up_buyer("stranger@example.com").await;
    let r = p
        .send(
            reqwest::Method::GET,
            &format!("/api/orders/{id}"),
            &stranger,
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = p
        .send(
            reqwest::Method::POST,
            &format!("/api/orders/{id}/cancel"),
            &stranger,
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let theirs: OrderList = ok_as(
        p.send(reqwest::Method::GET, "/api/orders", &stranger, None)
            .await,
    )
    .await;
    assert_eq!(theirs.total, 0);
    // Ben's shop did not sell it: he cannot see or move it.
    let r = p
        .send(
            reqwest::Method::GET,
            &format!("/api/seller/orders/{id}"),
            &seller_b,
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = p
        .send(
            reqwest::Method::POST,
            &format!("/api/seller/orders/{id}/status"),
            &seller_b,
            Some(json!({ "status": "shipped" })),
        )
        .await;
    assert_eq!(r.status(), 404);
    // Buyers are not sellers; only admins see every order.
    let r = p
        .send(reqwest::Method::GET, "/api/seller/orders", &buyer, None)
        .await;
    assert_eq!(r.status(), 403);
    let r = p
        .send(reqwest::Method::GET, "/api/admin/orders", &seller_a, None)
        .await;
    assert_eq!(r.status(), 403);
    let all: OrderList = ok_as(
        p.send(
            reqwest::Method::GET,
            "/api/admin/orders",
            &p.token(Role::Admin),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(all.total, 1);
    let r = p.http.get(p.url("/api/orders")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Makes the orders' event stream refuse (`full`) or take new events: a
/// JetStream that cannot store what the orders node announces.
async fn orders_events_full(p: &Platform, full: bool) {
    use async_nats::jetstream::stream::DiscardPolicy;
    let mut stream = p.ctx.jetstream.get_stream("ORDERS_EVENTS").await.unwrap();
    let info = stream.info().await.unwrap();
    let mut config = info.config.clone();
    let held = i64::try_from(info.state.messages).unwrap();
    (config.max_messages, config.discard) = if full {
        (held, DiscardPolicy::New)
    } else {
        (-1, DiscardPolicy::Old)
    };
    p.ctx.jetstream.update_stream(config).await.unwrap();
}

#[tokio::test]
async fn an_order_placed_while_its_events_cannot_be_stored_is_announced_and_confirmed_once_they_can()
 {
    let p = with_test_payments().await;
    let (_, _, amp, _) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("patient@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    // The stream is made full at what it holds: once the cart add is in it
    // (a limit of no messages would be no limit at all).
    eventually(
        "the cart add to be announced",
        || async {
            p.events_of::<bazaar_subjects::orders::CartItemAdded>()
                .await
                .len()
        },
        |n| *n >= 1,
    )
    .await;
    orders_events_full(&p, true).await;

    // The order is placed; its event waits with it.
    let placed = place_cod(&p, &buyer, "while-full").await;
    let id = placed.orders[0].id.clone();
    let announced = || async {
        p.events_of::<OrderPlaced>()
            .await
            .into_iter()
            .filter(|e| e.0.order_id == id)
            .count()
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(announced().await, 0, "the stream is full");

    // Once JetStream takes events again, everything goes out, once.
    orders_events_full(&p, false).await;
    p.email_about("patient@example.com", "is confirmed").await;
    eventually("the order to be announced", announced, |n| *n >= 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(announced().await, 1);
    let confirmations = p.emails_to("patient@example.com").await;
    assert_eq!(
        confirmations
            .iter()
            .filter(|m| m.subject.contains("confirmed"))
            .count(),
        1
    );
    let mine: OrderList = ok_as(
        p.send(reqwest::Method::GET, "/api/orders", &buyer, None)
            .await,
    )
    .await;
    assert_eq!(mine.total, 1);
}

#[tokio::test]
async fn an_orders_copy_killed_between_its_commit_and_its_publish_loses_no_event_or_email() {
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        without: vec![Domain::Orders],
        edge: EdgeConfig {
            auth_rate_limit_per_minute: 10_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    p.keep(dir);
    let mut dying = p.configs.clone();
    dying.orders.dies_before_relaying = true;
    let first = p.start_with(Domain::Orders, dying);
    p.wait_ready().await;
    let (_, _, amp, _) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("kept@example.com").await;
    add(&p, &buyer, &amp.id, 2).await;
    let placed = place_cod(&p, &buyer, "before-the-kill").await;
    let id = placed.orders[0].id.clone();
    let announced = || async {
        p.events_of::<OrderPlaced>()
            .await
            .into_iter()
            .filter(|e| e.0.order_id == id)
            .count()
    };

    // The orders are written, and the copy dies before it publishes. Its
    // event waits for an orders copy (only orders may publish it); the email
    // may already have gone through another node allowed to queue mail.
    first.crash();
    assert_eq!(announced().await, 0);

    // The next copy sends what the first one wrote, once.
    let second = p.start_node(Domain::Orders);
    p.email_about("kept@example.com", "is confirmed").await;
    eventually("the order to be announced", announced, |n| *n >= 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(announced().await, 1);
    let confirmations = p.emails_to("kept@example.com").await;
    assert_eq!(
        confirmations
            .iter()
            .filter(|m| m.subject.contains("confirmed"))
            .count(),
        1
    );
    stock_shows(&p, "tube-amplifier", 3).await;
    second.stop().await;
}

#[tokio::test]
async fn a_cash_on_delivery_order_moves_forward_to_delivered() {
    let p = with_test_payments().await;
    let (seller_a, _, amp, _) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("cod@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let placed = place_cod(&p, &buyer, "cod").await;
    let id = placed.orders[0].id.clone();
    let status = |s: &'static str| {
        let (p, seller, id) = (&p, seller_a.clone(), id.clone());
        async move {
            p.send(
                reqwest::Method::POST,
                &format!("/api/seller/orders/{id}/status"),
                &seller,
                Some(json!({ "status": s })),
            )
            .await
        }
    };
    assert_eq!(status("packed").await.status(), 200);
    assert_eq!(status("ordered").await.status(), 409, "never backwards");
    assert_eq!(status("packed").await.status(), 409, "never twice");
    assert_eq!(
        status("out_for_delivery").await.status(),
        200,
        "steps may be skipped forward"
    );
    let r = status("cancelled").await;
    assert_eq!(r.status(), 409);
    // Shipped: too late for the buyer to cancel.
    let r = p
        .send(
            reqwest::Method::POST,
            &format!("/api/orders/{id}/cancel"),
            &buyer,
            None,
        )
        .await;
    assert_eq!(r.status(), 409);
    let delivered: Order = ok_as(status("delivered").await).await;
    assert_eq!(delivered.status, OrderStatus::Delivered);
    assert_eq!(
        delivered.payment_status,
        PaymentStatus::Paid,
        "cash collected at the door"
    );
    let steps: Vec<OrderStatus> = delivered.timeline.iter().map(|t| t.status).collect();
    assert_eq!(steps, OrderStatus::FLOW);
    p.email_about("cod@example.com", "Delivered").await;
    let notes: Notifications = ok_as(
        p.send(reqwest::Method::GET, "/api/notifications", &buyer, None)
            .await,
    )
    .await;
    assert!(notes.unread >= 4);
    let read: Notifications = ok_as(
        p.send(
            reqwest::Method::POST,
            "/api/notifications/read",
            &buyer,
            Some(json!({})),
        )
        .await,
    )
    .await;
    assert_eq!(read.unread, 0);
    assert_eq!(
        p.events("events.orders.order.status_changed").await.len(),
        3
    );
}

#[tokio::test]
async fn cancelling_and_refunding_give_the_stock_back_once() {
    let p = with_test_payments().await;
    let (seller_a, seller_b, amp, book) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("undo@example.com").await;
    add(&p, &buyer, &amp.id, 2).await;
    add(&p, &buyer, &book.id, 3).await;
    let placed = place_cod(&p, &buyer, "undo").await;
    stock_shows(&p, "tube-amplifier", 3).await;
    stock_shows(&p, "poetry-collection", 7).await;
    let order_of = |shop: &str| {
        let order = placed.orders.iter().find(|o| o.shop_name == shop);
        order.expect("an order of the shop").id.clone()
    };
    // The buyer cancels Anna's order: only its items come back, once.
    let amp_order = order_of("Anna's Audio");
    for _ in 0..2 {
        let r: Order = ok_as(
            p.send(
                reqwest::Method::POST,
                &format!("/api/orders/{amp_order}/cancel"),
                &buyer,
                None,
            )
            .await,
        )
        .await;
        assert_eq!(r.status, OrderStatus::Cancelled);
    }
    stock_shows(&p, "tube-amplifier", 5).await;
    stock_shows(&p, "poetry-collection", 7).await;
    // Ben delivers (cash collected), then refunds: the books come back.
    let book_order = order_of("Ben's Books");
    ok_json(
        p.send(
            reqwest::Method::POST,
            &format!("/api/seller/orders/{book_order}/status"),
            &seller_b,
            Some(json!({ "status": "delivered" })),
        )
        .await,
    )
    .await;
    let refunded: Order = ok_as(
        p.send(
            reqwest::Method::POST,
            &format!("/api/seller/orders/{book_order}/refund"),
            &seller_b,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(refunded.status, OrderStatus::Refunded);
    assert_eq!(refunded.payment_status, PaymentStatus::Refunded);
    stock_shows(&p, "poetry-collection", 10).await;
    let r = p
        .send(
            reqwest::Method::POST,
            &format!("/api/seller/orders/{book_order}/refund"),
            &seller_a,
            None,
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(p.events("events.orders.order.cancelled").await.len(), 1);
    assert_eq!(p.events("events.orders.order.refunded").await.len(), 1);
}

#[tokio::test]
async fn a_card_payment_on_the_test_page_places_the_orders_once() {
    let p = with_test_payments().await;
    let (_, _, amp, book) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("card@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    add(&p, &buyer, &book.id, 1).await;
    let started: CheckoutResult = checkout(
        &p,
        &buyer,
        "card-1",
        json!({ "address": address(), "payment": "card" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        started.status,
        CheckoutStatus::AwaitingPayment,
        "{started:?}"
    );
    assert!(started.orders.is_empty());
    let id = started.checkout_id.clone();
    let url = started.payment_url.as_deref().unwrap_or_default();
    assert!(url.ends_with(&format!("/pay/test/{id}")), "{url}");
    // The stock is held while the buyer pays.
    stock_shows(&p, "tube-amplifier", 4).await;
    let page = p
        .http
        .get(p.url(&format!("/pay/test/{id}")))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("no money moves"));
    // Approved twice (a double click, a retried webhook): one set of orders.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..2 {
        let r = no_redirects
            .post(p.url(&format!("/pay/test/{id}")))
            .form(&[("decision", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
    }
    let mut placed = started;
    for _ in 0..100 {
        placed = checkout_state(&p, &buyer, &id).await;
        if placed.status == CheckoutStatus::Placed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(placed.status, CheckoutStatus::Placed);
    assert_eq!(placed.orders.len(), 2);
    assert!(
        placed
            .orders
            .iter()
            .all(|o| o.payment_status == PaymentStatus::Paid)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mine: OrderList = ok_as(
        p.send(reqwest::Method::GET, "/api/orders", &buyer, None)
            .await,
    )
    .await;
    assert_eq!(mine.total, 2);
    stock_shows(&p, "tube-amplifier", 4).await;
    assert_eq!(p.events("events.orders.order.paid").await.len(), 2);

    // A declined payment fails the checkout and gives its stock back.
    add(&p, &buyer, &amp.id, 2).await;
    let started: CheckoutResult = checkout(
        &p,
        &buyer,
        "card-2",
        json!({ "address": address(), "payment": "card" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = started.checkout_id;
    stock_shows(&p, "tube-amplifier", 2).await;
    no_redirects
        .post(p.url(&format!("/pay/test/{id}")))
        .form(&[("decision", "decline")])
        .send()
        .await
        .unwrap();
    let mut status = CheckoutStatus::AwaitingPayment;
    for _ in 0..100 {
        status = checkout_state(&p, &buyer, &id).await.status;
        if status == CheckoutStatus::Failed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, CheckoutStatus::Failed);
    stock_shows(&p, "tube-amplifier", 4).await;
}

#[tokio::test]
async fn a_guest_cart_follows_the_buyer_into_their_account_and_says_what_changed() {
    let p = with_test_payments().await;
    let (seller_a, _, amp, book) = two_shops(&p).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = browser
        .post(p.url("/api/cart/items"))
        .json(&json!({ "product_id": amp.id, "quantity": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let guest: Cart = ok_as(browser.get(p.url("/api/cart")).send().await.unwrap()).await;
    assert_eq!(guest.item_count, 2);
    // A forged cookie is a fresh, empty cart.
    let forged = p
        .http
        .get(p.url("/api/cart"))
        .header("cookie", "bazaar_cart=0123456789abcdef0123456789abcdef.00")
        .send()
        .await
        .unwrap();
    let forged: Cart = ok_as(forged).await;
    assert_eq!(forged.item_count, 0);

    // The seller raises the price meanwhile.
    let mut edit = cod_product("Tube Amplifier", 45_000, 5);
    edit["cash_on_delivery"] = json!(true);
    ok_json(
        p.send(
            reqwest::Method::PUT,
            &format!("/api/seller/products/{}", amp.id),
            &seller_a,
            Some(edit),
        )
        .await,
    )
    .await;

    // Signed in, the same browser's cart is the account's, merged.
    let token = p.sign_up_buyer("guest@example.com").await;
    let account_cart = add(&p, &token, &book.id, 1).await;
    assert_eq!(account_cart.item_count, 1);
    let cart_of_browser = || async {
        let r = browser.get(p.url("/api/cart")).bearer_auth(&token);
        ok_as::<Cart>(r.send().await.unwrap()).await
    };
    let merged = cart_of_browser().await;
    assert_eq!(merged.item_count, 3, "{merged:?}");
    assert!(
        merged
            .notices
            .iter()
            .any(|n| n.message.contains("$400.00 to $450.00")),
        "{merged:?}"
    );
    // Seen once, the notice is not repeated; checkout goes through.
    let again = cart_of_browser().await;
    assert!(again.notices.is_empty(), "{again:?}");
    assert_eq!(again.total, 92_500);
    // Asking for more than there is lowers the quantity, with a notice.
    let line = again.lines.iter().find(|l| l.product_id == amp.id);
    let line = line.expect("the amplifier's line").line_id.clone();
    let r = p
        .send(
            reqwest::Method::PATCH,
            &format!("/api/cart/items/{line}"),
            &token,
            Some(json!({ "quantity": 9 })),
        )
        .await;
    let lowered: Cart = ok_as(r).await;
    assert!(lowered.notices[0].message.contains("only 5"), "{lowered:?}");
    let wish: Wishlist = ok_as(
        p.send(
            reqwest::Method::POST,
            "/api/wishlist",
            &token,
            Some(json!({ "product_id": book.id })),
        )
        .await,
    )
    .await;
    assert_eq!(wish.items[0].title, "Poetry Collection");
    assert_eq!(wish.items[0].price().to_string(), "$25.00");
    let wish: Wishlist = ok_as(
        p.send(
            reqwest::Method::DELETE,
            &format!("/api/wishlist/{}", book.id),
            &token,
            None,
        )
        .await,
    )
    .await;
    assert!(wish.items.is_empty());
}

#[tokio::test]
async fn twenty_buyers_checking_out_the_last_five_units_get_five_orders() {
    let p = with_test_payments().await;
    let (seller_a, seller_b, amp, _) = two_shops(&p).await;
    let mut buyers = Vec::new();
    for i in 0..20 {
        let token = p.sign_up_buyer(&format!("racer{i}@example.com")).await;
        add(&p, &token, &amp.id, 1).await;
        buyers.push(token);
    }
    // A code of Ben's does nothing for a cart of Anna's amplifier, and says
    // no more than a code that does not exist would.
    ok_json(
        p.send(
            reqwest::Method::POST,
            "/api/seller/coupons",
            &seller_b,
            Some(json!({ "code": "BEN", "kind": "percent", "amount": 50 })),
        )
        .await,
    )
    .await;
    let r = p
        .send(
            reqwest::Method::POST,
            "/api/cart/coupon",
            &buyers[0],
            Some(json!({ "code": "BEN" })),
        )
        .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    assert!(
        e.fields[0]
            .message
            .contains("does not apply to the items in your cart"),
        "{e:?}"
    );
    let r = checkout(
        &p,
        &buyers[0],
        "with-ben",
        json!({ "address": address(), "payment": "cod", "coupon": "BEN" }),
    )
    .await;
    assert_eq!(r.status(), 422);

    let attempts = buyers.iter().enumerate().map(|(i, token)| {
        let p = &p;
        async move {
            checkout(
                p,
                token,
                &format!("race-{i}"),
                json!({ "address": address(), "payment": "cod" }),
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let won = statuses.iter().filter(|s| s.as_u16() == 201).count();
    let lost = statuses.iter().filter(|s| s.as_u16() == 409).count();
    assert_eq!((won, lost), (5, 15), "{statuses:?}");
    stock_shows(&p, "tube-amplifier", 0).await;
    let shop: OrderList = ok_as(
        p.send(reqwest::Method::GET, "/api/seller/orders", &seller_a, None)
            .await,
    )
    .await;
    assert_eq!(shop.total, 5);
    // A buyer who lost keeps their cart, now saying what happened.
    let loser = statuses.iter().position(|s| s.as_u16() == 409).unwrap();
    let cart = ok_as::<Cart>(p.get("/api/cart", Some(&buyers[loser])).await).await;
    assert_eq!(cart.lines.len(), 1, "{cart:?}");
    assert!(!cart.lines[0].available);
    assert!(cart.notices[0].message.contains("out of stock"), "{cart:?}");
}
