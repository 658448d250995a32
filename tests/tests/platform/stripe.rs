//! Card payments through Stripe, against the local stand-in that speaks
//! Stripe's protocol: sellers connect their accounts, a buyer pays a
//! two-shop cart on the hosted page, webhooks arrive twice, three times and
//! out of order, a forged one is refused, the orders node dies mid-way, and
//! every shop is paid its share exactly once.

use std::time::{Duration, Instant};

use bazaar::platform::NodeConfigs;
use bazaar_edge::EdgeConfig;
use bazaar_runtime::RequestMeta;
use bazaar_subjects::Domain;
use bazaar_subjects::orders::{
    Cart, CheckoutResult, CheckoutStatus, Coupon, Order, OrderList, PaymentNotification,
    PaymentStatus,
};
use bazaar_subjects::sellers::{GetPayoutAccounts, OnboardingLink, PayoutStatus, Shop, ShopIds};
use bazaar_tests::story::{envelope, ok_as};
use bazaar_tests::stripe::{SECRET_KEY, StripeStandIn, WEBHOOK_SECRET};
use bazaar_tests::{Options, Platform};
use reqwest::Method;
use serde_json::json;

use crate::catalog::{stock_of, stock_shows};
use crate::commerce::{add, address, checkout, checkout_state, two_shops};
use crate::storefront::page;

/// A platform whose nodes call the stand-in as their Stripe, and whose edge
/// checks webhooks with the stand-in's signing secret.
async fn with_stripe(without: Vec<Domain>) -> (Platform, StripeStandIn) {
    let stripe = StripeStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut configs = NodeConfigs::in_data_dir(dir.path());
    configs.mail.serve_mailbox = true;
    configs.stripe.stripe_secret_key = Some(SECRET_KEY.into());
    configs.stripe.stripe_api_base = stripe.base_url();
    let mut p = Platform::spawn_with(Options {
        configs: Some(configs),
        edge: EdgeConfig {
            stripe_webhook_secret: Some(WEBHOOK_SECRET.into()),
            auth_rate_limit_per_minute: 10_000,
            ..Default::default()
        },
        without,
        ..Default::default()
    })
    .await;
    p.keep(dir);
    (p, stripe)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The seller connects Stripe and finishes onboarding; `by_webhook` tells
/// whether Stripe's `account.updated` or the seller's return visit tells us.
async fn connect(p: &Platform, stripe: &StripeStandIn, seller: &str, by_webhook: bool) {
    let payouts = || async {
        let r = p.get("/api/shops/mine/payouts", Some(seller)).await;
        ok_as::<PayoutStatus>(r).await
    };
    assert_eq!(
        payouts().await,
        PayoutStatus {
            stripe_available: true,
            connected: false,
            ready: false
        }
    );
    let (_, dashboard) = page(p, "/seller", Some(seller)).await;
    assert!(dashboard.contains("Connect Stripe"), "{dashboard}");
    let link: OnboardingLink = ok_as(
        p.send(
            Method::POST,
            "/api/shops/mine/payouts/connect",
            seller,
            None,
        )
        .await,
    )
    .await;
    let url = link.url;
    assert!(url.starts_with(&stripe.base_url()), "{url}");
    // A second click opens no second account.
    let _: OnboardingLink = ok_as(
        p.send(
            Method::POST,
            "/api/shops/mine/payouts/connect",
            seller,
            None,
        )
        .await,
    )
    .await;
    let account = url.split('/').nth_back(1).unwrap().to_owned();
    assert_eq!(
        stripe
            .accounts()
            .iter()
            .filter(|a| a["id"] == account.as_str())
            .count(),
        1
    );
    let status = payouts().await;
    assert!(status.connected);
    assert!(!status.ready, "onboarding is not finished");
    let updated = stripe.finish_onboarding(&account);
    if by_webhook {
        assert_eq!(stripe.deliver(&p.base_url, &updated).await, 200);
        // What carts and checkout read (the seller's own status page
        // would ask Stripe itself): only the webhook can have set it.
        let shop: Shop = ok_as(p.get("/api/shops/mine", Some(seller)).await).await;
        let ids = ShopIds { ids: vec![shop.id] };
        eventually("the webhook to mark the account ready", || async {
            let found = bazaar_runtime::call::<GetPayoutAccounts>(
                &p.ctx.nats,
                &RequestMeta::default(),
                &ids,
                Duration::from_secs(5),
            )
            .await
            .unwrap();
            found.shops[0].stripe_account.as_deref() == Some(account.as_str())
        })
        .await;
    } else {
        assert!(payouts().await.ready, "the return visit asks Stripe");
    }
    let (_, dashboard) = page(p, "/seller", Some(seller)).await;
    assert!(
        dashboard.contains("Your Stripe account is connected"),
        "{dashboard}"
    );
}

/// The buyer's orders.
async fn orders_of(p: &Platform, buyer: &str) -> OrderList {
    ok_as(p.get("/api/orders", Some(buyer)).await).await
}

#[tokio::test]
async fn a_two_shop_card_payment_becomes_two_paid_orders_and_two_transfers_exactly_once() {
    let (p, stripe) = with_stripe(Vec::new()).await;
    let (seller_a, seller_b, amp, book) = two_shops(&p).await;
    let buyer = p.sign_up_buyer("carla@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let cart = add(&p, &buyer, &book.id, 2).await;
    assert!(
        cart.shops.iter().all(|s| !s.accepts_card),
        "no shop has connected Stripe yet: {cart:?}"
    );
    let r = checkout(
        &p,
        &buyer,
        "too-early",
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    let said = format!("{} {:?}", e.message, e.fields);
    assert!(said.contains("cash on delivery only"), "{said}");

    connect(&p, &stripe, &seller_a, true).await;
    connect(&p, &stripe, &seller_b, false).await;
    let cart: Cart = ok_as(p.get("/api/cart", Some(&buyer)).await).await;
    assert!(cart.shops.iter().all(|s| s.accepts_card), "{cart:?}");

    let r = checkout(
        &p,
        &buyer,
        "pay-by-card",
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let started: CheckoutResult = ok_as(r).await;
    assert_eq!(started.status, CheckoutStatus::AwaitingPayment);
    let checkout_id = started.checkout_id.clone();
    let pay_url = started.payment_url.as_deref().unwrap_or_default();
    assert!(
        pay_url.starts_with(&stripe.base_url()),
        "the hosted page: {pay_url}"
    );
    // The same key again: the same session, never a second one.
    let again = checkout(
        &p,
        &buyer,
        "pay-by-card",
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    let again: CheckoutResult = ok_as(again).await;
    assert_eq!(again.payment_url, started.payment_url);
    assert_eq!(stripe.sessions().len(), 1);
    let session = stripe.session_for(&checkout_id).unwrap();
    assert_eq!(session["amount_total"], 45_000, "40,000 + 2 × 2,500");
    assert_eq!(session["currency"], "usd");
    // Stock is held while the buyer pays.
    stock_shows(&p, "tube-amplifier", 4).await;

    // Before the buyer pays, a forged "paid" event and a replayed old one
    // change nothing: the checkout still waits (Stripe, asked, says unpaid).
    let mut forged_session = session.clone();
    forged_session["payment_status"] = json!("paid");
    forged_session["payment_intent"] = json!("pi_forged");
    let forged = json!({
        "id": "evt_forged", "object": "event", "type": "checkout.session.completed",
        "data": { "object": forged_session },
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(
        stripe
            .deliver_signed(&p.base_url, &forged, "whsec_someone_else", now)
            .await,
        400
    );
    assert_eq!(
        stripe
            .deliver_signed(&p.base_url, &forged, WEBHOOK_SECRET, now - 3_600)
            .await,
        400
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        checkout_state(&p, &buyer, &checkout_id).await.status,
        CheckoutStatus::AwaitingPayment
    );

    // The buyer pays on Stripe's page.
    let events = stripe.pay(session["id"].as_str().unwrap());
    let completed = &events[0];
    let succeeded = &events[1];
    // Out of order (the payment before the session) and three times over.
    assert_eq!(stripe.deliver(&p.base_url, succeeded).await, 200);
    for _ in 0..3 {
        assert_eq!(stripe.deliver(&p.base_url, completed).await, 200);
    }
    eventually("both shops to be paid", || async {
        stripe.transfers().len() >= 2
    })
    .await;
    let placed = checkout_state(&p, &buyer, &checkout_id).await;
    assert_eq!(placed.status, CheckoutStatus::Placed);
    let orders = &placed.orders;
    assert_eq!(orders.len(), 2, "{placed:?}");
    assert!(
        orders
            .iter()
            .all(|o| o.payment_status == PaymentStatus::Paid)
    );
    let mine = orders_of(&p, &buyer).await;
    assert_eq!(mine.orders.len(), 2, "{mine:?}");

    // Once more, later, as Stripe retries: still two orders and two transfers.
    for e in &events {
        assert_eq!(stripe.deliver(&p.base_url, e).await, 200);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let transfers = stripe.transfers();
    assert_eq!(transfers.len(), 2, "{transfers:?}");
    let mut amounts: Vec<i64> = transfers
        .iter()
        .map(|t| t["amount"].as_i64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(
        amounts,
        vec![4_500, 36_000],
        "each shop gets its total minus the 10% fee"
    );
    assert!(
        transfers
            .iter()
            .all(|t| t["transfer_group"] == checkout_id.as_str())
    );
    let accounts: std::collections::HashSet<_> = transfers
        .iter()
        .map(|t| t["destination"].to_string())
        .collect();
    assert_eq!(accounts.len(), 2, "one transfer to each shop's account");
    assert_eq!(orders_of(&p, &buyer).await.orders.len(), 2);

    // Ben refunds his order: the buyer gets the book money back, Ben's
    // share is reversed, the books return to stock.
    let book_order = orders.iter().find(|o| o.shop_name == "Ben's Books");
    let book_order = book_order.expect("Ben's order").id.clone();
    let refunded: Order = ok_as(
        p.send(
            Method::POST,
            &format!("/api/seller/orders/{book_order}/refund"),
            &seller_b,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(refunded.payment_status, PaymentStatus::Refunded);
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["amount"], 5_000);
    let reversals = stripe.reversals();
    assert_eq!(reversals.len(), 1);
    assert_eq!(reversals[0]["amount"], 4_500);
    stock_shows(&p, "poetry-collection", 10).await;
    // Anna cannot refund Ben's order.
    let r = p
        .send(
            Method::POST,
            &format!("/api/seller/orders/{book_order}/refund"),
            &seller_a,
            None,
        )
        .await;
    assert!(r.status() == 404 || r.status() == 403, "{}", r.status());
    assert_eq!(stripe.refunds().len(), 1);
}

#[tokio::test]
async fn an_orders_node_that_dies_mid_webhook_places_the_orders_once_after_restart() {
    let (p, stripe) = with_stripe(vec![Domain::Orders]).await;
    let first = p.start_node(Domain::Orders);
    p.wait_ready().await;
    let (seller_a, _seller_b, amp, _book) = two_shops(&p).await;
    connect(&p, &stripe, &seller_a, false).await;
    let buyer = p.sign_up_buyer("dana@example.com").await;
    add(&p, &buyer, &amp.id, 2).await;
    let r = checkout(
        &p,
        &buyer,
        "crash-test",
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let started: CheckoutResult = ok_as(r).await;
    let checkout_id = started.checkout_id;
    let session = stripe.session_for(&checkout_id).unwrap();
    let events = stripe.pay(session["id"].as_str().unwrap());

    // Stripe will not answer the orders node's next question (where the
    // payment's charge is, asked after the orders are written and before
    // the shop is paid) until we say so: the node is mid-way.
    stripe.hold("/v1/payment_intents/");
    assert_eq!(stripe.deliver(&p.base_url, &events[0]).await, 200);
    eventually("the orders node to be mid-way", || async {
        stripe
            .calls()
            .iter()
            .any(|c| c.starts_with("GET /v1/payment_intents/"))
    })
    .await;
    first.crash();
    stripe.open_gate();
    // While no orders node runs, Stripe's retries still land in JetStream.
    assert_eq!(stripe.deliver(&p.base_url, &events[1]).await, 200);
    assert_eq!(stripe.deliver(&p.base_url, &events[0]).await, 200);

    let second = p.start_node(Domain::Orders);
    eventually("the shop to be paid after the restart", || async {
        !stripe.transfers().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let placed = checkout_state(&p, &buyer, &checkout_id).await;
    assert_eq!(placed.status, CheckoutStatus::Placed);
    assert_eq!(placed.orders.len(), 1, "{placed:?}");
    let transfers = stripe.transfers();
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert_eq!(transfers[0]["amount"], 72_000, "80,000 minus the 10% fee");
    stock_shows(&p, "tube-amplifier", 3).await;
    second.stop().await;
}

#[tokio::test]
async fn an_unpaid_session_that_expires_gives_the_stock_back_and_a_late_payment_is_refunded() {
    let (p, stripe) = with_stripe(Vec::new()).await;
    let (seller_a, _seller_b, amp, _book) = two_shops(&p).await;
    connect(&p, &stripe, &seller_a, true).await;
    let buyer = p.sign_up_buyer("eli@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let r = checkout(
        &p,
        &buyer,
        "will-expire",
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    let started: CheckoutResult = ok_as(r).await;
    let checkout_id = started.checkout_id;
    stock_shows(&p, "tube-amplifier", 4).await;
    let session_id = stripe.session_for(&checkout_id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        stripe
            .deliver(&p.base_url, &stripe.expire(&session_id))
            .await,
        200
    );
    eventually("the stock to come back", || async {
        stock_of(&p, "tube-amplifier").await == 5
    })
    .await;
    assert_eq!(
        checkout_state(&p, &buyer, &checkout_id).await.status,
        CheckoutStatus::Failed
    );

    // A payment that lands after we gave up (as when our own timeout runs
    // out first) is refunded in full, and no order is made.
    for e in stripe.pay(&session_id) {
        assert_eq!(stripe.deliver(&p.base_url, &e).await, 200);
    }
    eventually("the late payment to be refunded", || async {
        !stripe.refunds().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["amount"], 40_000);
    assert!(orders_of(&p, &buyer).await.orders.is_empty());
    assert!(stripe.transfers().is_empty());
}

/// A buyer checks out Anna's amplifier by card (with `body`), and the
/// Stripe session it opened.
async fn card_checkout(
    p: &Platform,
    stripe: &StripeStandIn,
    buyer: &str,
    body: serde_json::Value,
) -> (String, serde_json::Value) {
    let r = checkout(p, buyer, "frozen", body).await;
    assert_eq!(r.status(), 201);
    let started: CheckoutResult = ok_as(r).await;
    let session = stripe.session_for(&started.checkout_id).unwrap();
    (started.checkout_id, session)
}

#[tokio::test]
async fn a_card_buyer_gets_the_price_they_paid_even_if_the_code_changes_before_the_payment_lands() {
    let (p, stripe) = with_stripe(Vec::new()).await;
    let (seller_a, _seller_b, amp, _book) = two_shops(&p).await;
    connect(&p, &stripe, &seller_a, true).await;
    let coupon = |kind: &str, amount: i64| {
        let body = json!({ "code": "AMP10", "kind": kind, "amount": amount });
        let seller = seller_a.clone();
        let p = &p;
        async move {
            let c: Coupon = ok_as(
                p.send(Method::POST, "/api/seller/coupons", &seller, Some(body))
                    .await,
            )
            .await;
            c
        }
    };
    let ten = coupon("percent", 10).await;
    let buyer = p.sign_up_buyer("fay@example.com").await;
    add(&p, &buyer, &amp.id, 1).await;
    let (checkout_id, session) = card_checkout(
        &p,
        &stripe,
        &buyer,
        json!({ "address": address(), "payment": "card", "coupon": "amp10" }),
    )
    .await;
    assert_eq!(session["amount_total"], 36_000, "40,000 less 10%");
    // While Fay is on Stripe's page, Anna swaps the code for a 50% one.
    let r = p
        .send(
            Method::DELETE,
            &format!("/api/seller/coupons/{}", ten.id),
            &seller_a,
            None,
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    coupon("percent", 50).await;
    for e in stripe.pay(session["id"].as_str().unwrap()) {
        assert_eq!(stripe.deliver(&p.base_url, &e).await, 200);
    }
    eventually("the orders to be placed", || async {
        checkout_state(&p, &buyer, &checkout_id).await.status == CheckoutStatus::Placed
    })
    .await;
    let placed = checkout_state(&p, &buyer, &checkout_id).await;
    assert_eq!(placed.orders.len(), 1);
    let order: Order = ok_as(
        p.get(
            &format!("/api/orders/{}", placed.orders[0].id),
            Some(&buyer),
        )
        .await,
    )
    .await;
    assert_eq!(
        (order.subtotal, order.discount, order.total),
        (40_000, 4_000, 36_000),
        "exactly what Fay paid"
    );
    assert_eq!(order.payment_status, PaymentStatus::Paid);
    assert!(stripe.refunds().is_empty());
}

/// Anna's shop takes cards, and a new buyer (`email`) has checked out her
/// amplifier by card: the platform, the stand-in, the buyer's token, the
/// checkout and its Stripe session (not paid yet).
pub(crate) async fn amplifier_by_card(
    email: &str,
) -> (Platform, StripeStandIn, String, String, serde_json::Value) {
    let (p, stripe) = with_stripe(Vec::new()).await;
    let (seller_a, _seller_b, amp, _book) = two_shops(&p).await;
    connect(&p, &stripe, &seller_a, true).await;
    let buyer = p.sign_up_buyer(email).await;
    add(&p, &buyer, &amp.id, 1).await;
    let (checkout_id, session) = card_checkout(
        &p,
        &stripe,
        &buyer,
        json!({ "address": address(), "payment": "card" }),
    )
    .await;
    (p, stripe, buyer, checkout_id, session)
}

#[tokio::test]
async fn a_payment_of_another_amount_than_the_checkout_total_places_no_order() {
    let (p, stripe, buyer, checkout_id, session) = amplifier_by_card("gus@example.com").await;
    assert_eq!(session["amount_total"], 40_000);
    // The completed session says one cent was charged.
    let mut events = stripe.pay(session["id"].as_str().unwrap());
    events[0]["data"]["object"]["amount_total"] = json!(1);
    assert_eq!(stripe.deliver(&p.base_url, &events[0]).await, 200);
    eventually("the checkout to be refused", || async {
        checkout_state(&p, &buyer, &checkout_id).await.status == CheckoutStatus::Failed
    })
    .await;
    eventually("the payment to be refunded", || async {
        !stripe.refunds().is_empty()
    })
    .await;
    // The payment's own event, arriving after, places nothing either.
    assert_eq!(stripe.deliver(&p.base_url, &events[1]).await, 200);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(orders_of(&p, &buyer).await.orders.is_empty());
    assert_eq!(stripe.refunds().len(), 1);
    assert!(stripe.transfers().is_empty());
    eventually("the stock to come back", || async {
        stock_of(&p, "tube-amplifier").await == 5
    })
    .await;
}

#[tokio::test]
async fn a_payment_queued_on_the_bus_without_stripes_signature_pays_for_nothing() {
    let (p, stripe, buyer, checkout_id, session) = amplifier_by_card("hal@example.com").await;
    // Whoever holds the edge's bus credentials may queue payment jobs (that
    // is how webhooks reach the orders node), but not sign them as Stripe.
    // (Made up: Hal has not paid, and Stripe says so to anyone who asks.)
    let mut paid_looking = session.clone();
    paid_looking["status"] = json!("complete");
    paid_looking["payment_status"] = json!("paid");
    let made_up = json!({
        "id": "evt_made_up", "object": "event", "type": "checkout.session.completed",
        "data": { "object": paid_looking },
    });
    let (edge, _) = p.connect_as(bazaar_subjects::bus::Principal::Edge).await;
    for signature in [None, Some(format!("t=1,v1={}", "00".repeat(32)))] {
        let forged = PaymentNotification {
            event_id: format!("evt_forged_{}", signature.is_some()),
            kind: "checkout.session.completed".into(),
            payload: made_up.to_string(),
            signature,
        };
        bazaar_runtime::jetstream::enqueue_job(
            &async_nats::jetstream::new(edge.clone()),
            &forged,
            &forged.event_id,
        )
        .await
        .expect("the edge may queue payment jobs");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        checkout_state(&p, &buyer, &checkout_id).await.status,
        CheckoutStatus::AwaitingPayment,
        "nothing was paid"
    );
    assert!(orders_of(&p, &buyer).await.orders.is_empty());
    // Hal pays; Stripe's own signed delivery places the order.
    let completed = stripe.pay(session["id"].as_str().unwrap());
    assert_eq!(stripe.deliver(&p.base_url, &completed[0]).await, 200);
    eventually("the orders to be placed", || async {
        checkout_state(&p, &buyer, &checkout_id).await.status == CheckoutStatus::Placed
    })
    .await;
}
