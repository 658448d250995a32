//! Shopping through the pages: a guest fills a cart from the product page,
//! signs in to check out, follows the order; the seller moves it along; and
//! once in a real browser, a card payment on the test payment page.

use bazaar_tests::browser::Browser;
use bazaar_tests::story::Visitor;
use serde_json::{Value, json};

use crate::catalog::{categories, create};
use crate::commerce::{cod_product, with_test_payments};

const PASSWORD: &str = "a long and secret password";

/// Every `href="{prefix}…"` in the page, in order.
fn links(html: &str, prefix: &str) -> Vec<String> {
    let needle = format!("href=\"{prefix}");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + 6..];
            rest[..rest.find('"').expect("closing quote")].to_owned()
        })
        .collect()
}

/// The value of the hidden input `name`.
fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + needle.len();
    html[i..i + html[i..].find('"').expect("closing quote")].to_owned()
}

#[tokio::test]
async fn a_guest_fills_a_cart_signs_in_checks_out_and_follows_the_order() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller_token, _) = p.real_seller_with_shop("Anna's Audio", "electronics").await;
    let amp = create(&p, &seller_token, &cod_product("Tube Amplifier", 40_000, 5)).await;
    let slug = &amp.slug;
    let id = &amp.id;

    // The product page's form puts it in a guest's cart.
    let guest = Visitor::new(&p);
    let html = guest.page(&format!("/products/{slug}")).await;
    assert!(html.contains("action=\"/cart/add\""), "{html}");
    assert!(!html.contains("Cart coming soon"), "{html}");
    let r = guest
        .post("/cart/add", &[("product_id", id), ("quantity", "2")])
        .await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/cart"),
        "{}",
        r.html
    );
    let cart = guest.page("/cart").await;
    assert!(cart.contains("Tube Amplifier"), "{cart}");
    assert!(
        cart.contains("Anna&#x27;s Audio") || cart.contains("Anna&#39;s Audio"),
        "{cart}"
    );
    assert!(cart.contains("value=\"2\""), "{cart}");
    assert!(cart.contains("href=\"/checkout\""), "{cart}");

    // Too many is refused with the reason on the cart page.
    let r = guest
        .post("/cart/add", &[("product_id", id), ("quantity", "500")])
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location.starts_with("/cart?error="), "{}", r.location);

    // Checking out needs an account.
    let r = guest.get("/checkout").await;
    assert_eq!(r.status, 303);
    assert!(r.location.starts_with("/login?next="), "{}", r.location);
    assert!(r.location.contains("checkout"), "{}", r.location);

    // Signed in, the guest cart comes along.
    let buyer_token = p.sign_up_buyer("bea@example.com").await;
    guest.sign_in(&buyer_token);
    let checkout = guest.page("/checkout").await;
    assert!(checkout.contains("Tube Amplifier"), "{checkout}");
    let key = hidden(&checkout, "idempotency_key");
    assert!(key.len() >= 16, "{key}");

    // A missing address comes back with the fields marked and values kept.
    let refused = guest
        .post(
            "/checkout",
            &[
                ("idempotency_key", key.as_str()),
                ("address_id", "new"),
                ("full_name", "Bea Buyer"),
                ("line1", ""),
                ("city", "Berlin"),
                ("postal_code", "10115"),
                ("country", "DE"),
                ("payment", "cod"),
            ],
        )
        .await;
    assert!(
        (400..500).contains(&refused.status),
        "{} {}",
        refused.status,
        refused.html
    );
    assert!(refused.html.contains("error-banner"), "{}", refused.html);
    assert!(
        refused.html.contains("value=\"Berlin\""),
        "{}",
        refused.html
    );
    assert!(
        refused.html.contains("id=\"line1-error\""),
        "{}",
        refused.html
    );

    let key = hidden(&refused.html, "idempotency_key");
    let form = [
        ("idempotency_key", key.as_str()),
        ("address_id", "new"),
        ("full_name", "Bea Buyer"),
        ("line1", "1 Market Street"),
        ("city", "Berlin"),
        ("postal_code", "10115"),
        ("country", "DE"),
        ("payment", "cod"),
    ];
    let placed = guest.post("/checkout", &form).await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    assert!(
        placed.location.starts_with("/checkout/"),
        "{}",
        placed.location
    );
    // The same form sent twice orders once.
    let again = guest.post("/checkout", &form).await;
    assert_eq!(again.location, placed.location);

    let result = guest.page(&placed.location).await;
    assert!(result.contains("your order is placed"), "{result}");
    let orders = links(&result, "/orders/");
    assert_eq!(orders.len(), 1, "{result}");
    let order_path = orders[0].clone();

    let order = guest.page(&order_path).await;
    assert!(order.contains("Tube Amplifier"), "{order}");
    assert!(order.contains("1 Market Street"), "{order}");
    assert!(order.contains("class=\"timeline\""), "{order}");
    assert!(
        order.contains("<li class=\"done\">Ordered <time"),
        "{order}"
    );
    assert!(
        order.contains("action=\"/orders/"),
        "cancel button: {order}"
    );
    let list = guest.page("/orders").await;
    assert!(list.contains(&format!("href=\"{order_path}\"")), "{list}");
    // The cart is empty now.
    assert!(guest.page("/cart").await.contains("Your cart is empty"));

    // The seller finds it and ships it: only the next steps are offered.
    let seller = Visitor::new(&p);
    seller.sign_in(&seller_token);
    let shop_list = seller.page("/seller/orders").await;
    let shop_orders = links(&shop_list, "/seller/orders/");
    assert_eq!(shop_orders.len(), 1, "{shop_list}");
    let shop_order = seller.page(&shop_orders[0]).await;
    assert!(shop_order.contains("value=\"shipped\""), "{shop_order}");
    assert!(!shop_order.contains("value=\"ordered\""), "{shop_order}");
    let r = seller
        .post(
            &format!("{}/status", shop_orders[0]),
            &[("status", "shipped")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let shipped = seller.page(&r.location).await;
    assert!(shipped.contains("Marked shipped"), "{shipped}");
    assert!(!shipped.contains("value=\"shipped\""), "{shipped}");
    let filtered = seller.page("/seller/orders?status=shipped").await;
    assert_eq!(links(&filtered, "/seller/orders/").len(), 1, "{filtered}");
    let none = seller.page("/seller/orders?status=delivered").await;
    assert!(links(&none, "/seller/orders/").is_empty(), "{none}");

    // The buyer sees it shipped, no cancel button, and an unread badge.
    let order = guest.page(&order_path).await;
    assert!(
        order.contains("<li class=\"done\">Shipped <time"),
        "{order}"
    );
    assert!(!order.contains("Cancel order"), "{order}");
    assert!(order.contains("class=\"badge unread\""), "{order}");
    let notes = guest.page("/notifications").await;
    assert!(notes.contains("notification unread"), "{notes}");
    let r = guest.post("/notifications/read", &[]).await;
    assert_eq!(r.status, 303);
    let notes = guest.page("/notifications").await;
    assert!(!notes.contains("class=\"badge unread\""), "{notes}");

    // Strangers: signed out goes to sign in; another buyer gets a 404.
    let stranger = Visitor::new(&p);
    let r = stranger.get(&order_path).await;
    assert_eq!(r.status, 303);
    assert!(r.location.starts_with("/login?next="));
    stranger.sign_in(&p.sign_up_buyer("other@example.com").await);
    assert_eq!(stranger.get(&order_path).await.status, 404);
    assert_eq!(stranger.get("/seller/orders").await.status, 403);
    assert_eq!(stranger.get("/admin/orders").await.status, 403);

    // An admin sees every order, filtered by status.
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(p.token(bazaar_subjects::Role::Admin))
        .json(&json!({ "name": "Ada Admin", "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .expect("request sent");
    assert_eq!(r.status(), 201);
    let session: Value = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a session");
    let admin = Visitor::new(&p);
    admin.sign_in(session["access_token"].as_str().expect("a token"));
    assert!(
        admin
            .page("/admin")
            .await
            .contains("href=\"/admin/orders\"")
    );
    let all = admin.page("/admin/orders").await;
    assert_eq!(all.matches("class=\"order-row\"").count(), 1, "{all}");
    assert!(all.contains("data-status=\"shipped\""), "{all}");
    let none = admin.page("/admin/orders?status=delivered").await;
    assert_eq!(none.matches("class=\"order-row\"").count(), 0, "{none}");
}

#[tokio::test]
async fn a_seller_makes_and_deletes_discount_codes() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (token, _) = p.real_seller_with_shop("Anna's Audio", "electronics").await;
    let seller = Visitor::new(&p);
    seller.sign_in(&token);
    assert!(
        seller
            .page("/seller")
            .await
            .contains("href=\"/seller/coupons\"")
    );
    let empty = seller.page("/seller/coupons").await;
    assert!(empty.contains("No codes yet"), "{empty}");

    // A bad amount is marked beside its field, the code kept.
    let r = seller
        .post(
            "/seller/coupons",
            &[("code", "SPRING10"), ("kind", "percent"), ("amount", "ten")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.html);
    assert!(r.html.contains("id=\"c-amount-error\""), "{}", r.html);
    assert!(r.html.contains("value=\"SPRING10\""), "{}", r.html);

    let r = seller
        .post(
            "/seller/coupons",
            &[("code", "SPRING10"), ("kind", "percent"), ("amount", "10")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let list = seller.page(&r.location).await;
    assert!(list.contains("<code>SPRING10</code>"), "{list}");
    assert!(list.contains("10%"), "{list}");
    let delete = list
        .split("action=\"")
        .find(|s| s.contains("/delete\""))
        .map(|s| s[..s.find('"').expect("closing quote")].to_owned())
        .expect("a delete form");
    let r = seller.post(&delete, &[]).await;
    assert_eq!(r.status, 303);
    assert!(
        seller
            .page("/seller/coupons")
            .await
            .contains("No codes yet")
    );
}

#[tokio::test]
async fn a_wishlist_keeps_products_and_moves_them_to_the_cart() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, _) = p.real_seller_with_shop("Anna's Audio", "electronics").await;
    let lamp = create(&p, &seller, &cod_product("<b>Bold</b> Lamp", 3_000, 5)).await;
    let id = &lamp.id;
    let slug = &lamp.slug;

    let guest = Visitor::new(&p);
    let html = guest.page(&format!("/products/{slug}")).await;
    assert!(html.contains("action=\"/wishlist/add\""), "{html}");
    assert!(guest.page("/wishlist").await.contains("Nothing saved yet"));
    let r = guest.post("/wishlist/add", &[("product_id", id)]).await;
    assert_eq!(
        (r.status, r.location.as_str()),
        (303, "/wishlist?notice=Added%20to%20your%20wishlist.")
    );
    let list = guest.page("/wishlist").await;
    // Titles are text, never markup.
    assert!(list.contains("&#60;b&#62;Bold&#60;/b&#62; Lamp"), "{list}");
    assert!(!list.contains("<b>Bold</b>"), "{list}");

    let r = guest.post(&format!("/wishlist/{id}/move"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.html);
    assert!(r.location.starts_with("/cart"), "{}", r.location);
    let cart = guest.page("/cart").await;
    assert!(cart.contains("&#60;b&#62;Bold&#60;/b&#62; Lamp"), "{cart}");
    assert!(
        cart.contains("class=\"badge\""),
        "the header counts it: {cart}"
    );
    assert!(guest.page("/wishlist").await.contains("Nothing saved yet"));

    // Quantity 0 removes the line.
    let line = links_or_actions(&cart, "/cart/lines/");
    let r = guest.post(&line, &[("quantity", "0")]).await;
    assert_eq!(r.status, 303);
    assert!(guest.page("/cart").await.contains("Your cart is empty"));
}

/// The first form action starting with `prefix`.
fn links_or_actions(html: &str, prefix: &str) -> String {
    let needle = format!("action=\"{prefix}");
    let i = html.find(&needle).expect("a form") + "action=\"".len();
    html[i..i + html[i..].find('"').expect("closing quote")].to_owned()
}

#[tokio::test]
async fn checkout_says_when_the_last_one_went_to_someone_else() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, _) = p.real_seller_with_shop("Anna's Audio", "electronics").await;
    let mut body = cod_product("Last Lamp", 3_000, 5);
    body["stock"] = json!(1);
    let lamp = create(&p, &seller, &body).await;
    let id = &lamp.id;

    let address = [
        ("address_id", "new"),
        ("full_name", "Bea Buyer"),
        ("line1", "1 Market Street"),
        ("city", "Berlin"),
        ("postal_code", "10115"),
        ("country", "DE"),
        ("payment", "cod"),
    ];
    let mut buyers = Vec::new();
    for email in ["bea@example.com", "bo@example.com"] {
        let v = Visitor::new(&p);
        v.sign_in(&p.sign_up_buyer(email).await);
        let r = v.post("/cart/add", &[("product_id", id)]).await;
        assert_eq!(r.location, "/cart");
        let key = hidden(&v.page("/checkout").await, "idempotency_key");
        buyers.push((v, key));
    }
    let (first, first_key) = &buyers[0];
    let mut form = vec![("idempotency_key", first_key.as_str())];
    form.extend(address);
    assert_eq!(first.post("/checkout", &form).await.status, 303);

    let (second, second_key) = &buyers[1];
    let mut form = vec![("idempotency_key", second_key.as_str())];
    form.extend(address);
    let r = second.post("/checkout", &form).await;
    assert_eq!(r.status, 409, "{}", r.html);
    assert!(r.html.contains("Please check your cart"), "{}", r.html);
    assert!(r.html.contains("href=\"/cart\""), "{}", r.html);
}

/// Opens `url` again and again until it contains `text`.
async fn reload_until(b: &Browser, url: &str, text: &str) -> String {
    let mut html = String::new();
    for _ in 0..50 {
        b.goto(url).await;
        html = b.source().await;
        if html.contains(text) {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("never saw {text:?} at {url}: {html}");
}

/// Polls a page until it contains `text`.
async fn wait_for_text(b: &Browser, text: &str) -> String {
    let mut html = String::new();
    for _ in 0..100 {
        html = b.source().await;
        if html.contains(text) {
            return html;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("never saw {text:?} in {html}");
}

#[tokio::test]
async fn in_a_browser_a_buyer_pays_by_card_for_two_shops_and_a_seller_delivers() {
    let p = with_test_payments().await;
    categories(&p).await;
    let (anna, _) = p.real_seller_with_shop("Anna's Audio", "electronics").await;
    let (ben, _) = p.real_seller_with_shop("Ben's Books", "electronics").await;
    let amp = create(&p, &anna, &cod_product("Tube Amplifier", 40_000, 5)).await;
    let book = create(&p, &ben, &cod_product("Poetry Collection", 2_500, 5)).await;
    p.sign_up_buyer("bea@example.com").await;

    let b = Browser::start().await;
    // Shopping first, signing in at checkout.
    for prod in [&amp, &book] {
        b.goto(&p.url(&format!("/products/{}", &prod.slug))).await;
        b.click("form.add-to-cart button[type=submit]").await;
        b.wait_for_path("/cart").await;
    }
    let cart = b.source().await;
    assert!(cart.contains("Tube Amplifier") && cart.contains("Poetry Collection"));
    b.click("a[href='/checkout']").await;
    b.wait_for_path("/login").await;
    b.fill("email", "bea@example.com").await;
    b.fill("password", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_for_path("/checkout").await;

    b.fill("full_name", "Bea Buyer").await;
    b.fill("line1", "1 Market Street").await;
    b.fill("city", "Berlin").await;
    b.fill("postal_code", "10115").await;
    b.fill("country", "DE").await;
    b.click("input[name='payment'][value='card']").await;
    b.click("form[action='/checkout'] button[type=submit]")
        .await;

    // The stand-in payment page: approve.
    wait_for_text(&b, "Test payment").await;
    assert!(b.path().await.starts_with("/pay/test/"));
    b.click("input[value='approve'] + button").await;
    let html = wait_for_text(&b, "your order is placed").await;
    assert!(b.path().await.starts_with("/checkout/"));
    assert_eq!(links(&html, "/orders/").len(), 2, "{html}");
    assert!(html.contains("Audio") && html.contains("Books"), "{html}");
    b.click("header form[action='/logout'] button").await;
    b.wait_for_path("/").await;

    // Anna delivers hers in one go.
    let anna_visitor = Visitor::new(&p);
    anna_visitor.sign_in(&anna);
    let list = anna_visitor.page("/seller/orders").await;
    let mine = links(&list, "/seller/orders/");
    assert_eq!(mine.len(), 1, "{list}");
    let r = anna_visitor
        .post(&format!("{}/status", mine[0]), &[("status", "delivered")])
        .await;
    assert_eq!(r.status, 303, "{}", r.html);
    let delivered = anna_visitor.page(&r.location).await;
    assert!(
        delivered.contains("data-status=\"delivered\""),
        "{delivered}"
    );

    // The buyer sees it delivered.
    b.goto(&p.url("/login?next=/orders")).await;
    b.fill("email", "bea@example.com").await;
    b.fill("password", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_for_path("/orders").await;
    let orders = b.source().await;
    assert!(orders.contains("data-status=\"delivered\""), "{orders}");
    assert!(orders.contains("data-status=\"ordered\""), "{orders}");

    // …and reviews the amplifier from the delivered order's page.
    let row = &orders[orders
        .find("data-status=\"delivered\"")
        .expect("a delivered row")..];
    let delivered_order = links(row, "/orders/")
        .into_iter()
        .next()
        .expect("a link to the delivered order");
    b.goto(&p.url(&delivered_order)).await;
    wait_for_text(&b, "Write a review").await;
    // The first form is the first product's; five stars are preset.
    b.fill("title", "Warm <b>sound</b>").await;
    b.click("form.review-form button[type=submit]").await;
    wait_for_text(&b, "review").await;
    // The page an edge keeps goes when the catalog announces the new
    // rating, a moment after the review is answered: open it until it shows.
    let page = reload_until(
        &b,
        &p.url(&format!("/products/{}", &amp.slug)),
        "Warm &lt;b&gt;sound&lt;/b&gt;",
    )
    .await;
    assert!(!page.contains("Warm <b>sound</b>"), "escaped: {page}");
    b.close().await;
}
