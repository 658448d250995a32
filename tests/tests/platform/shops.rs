//! Shops, as sellers open and run them and buyers find and follow them.

use std::time::Duration;

use bazaar_subjects::catalog::Product;
use bazaar_subjects::sellers::{
    FollowState, GetShopCard, Shop, ShopCards, ShopChanged, ShopFollowed, ShopId, ShopPage,
};
use bazaar_subjects::{ErrorEnvelope, Role};
use bazaar_tests::Platform;
use bazaar_tests::story::{Visitor, envelope, ok_as};
use serde_json::{Value, json};

async fn categories(p: &Platform) {
    p.create_categories(&[("Books", &[]), ("Home & Garden", &[])])
        .await;
}

fn shop(name: &str) -> Value {
    json!({ "name": name, "category": "books" })
}

async fn open_shop(p: &Platform, token: &str, body: &Value) -> reqwest::Response {
    p.http
        .post(p.url("/api/shops"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A shop's public page, as `token`'s holder (or a stranger) sees it.
async fn shop_page(p: &Platform, slug: &str, token: Option<&str>) -> ShopPage {
    ok_as(p.get(&format!("/api/shops/{slug}"), token).await).await
}

/// The seller's own shop.
async fn my_shop(p: &Platform, token: &str) -> Shop {
    ok_as(p.get("/api/shops/mine", Some(token)).await).await
}

fn fields(e: &ErrorEnvelope) -> Vec<&str> {
    e.fields.iter().map(|f| f.field.as_str()).collect()
}

async fn follow(p: &Platform, token: &str, slug: &str, on: bool) -> reqwest::Response {
    let url = p.url(&format!("/api/shops/{slug}/follow"));
    let r = if on {
        p.http.post(url)
    } else {
        p.http.delete(url)
    };
    r.bearer_auth(token).send().await.unwrap()
}

/// Text as the pages' templates escape it into HTML.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn a_seller_opens_their_one_shop_and_everyone_can_see_it() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let seller = p.token(Role::Seller);
    let body = json!({
        "name": "  Ada's Books ",
        "category": "books",
        "bio": "Second-hand books,\nhand picked.",
        "address": "1 Main St, Berlin",
        "website": "https://ada.example",
        "social_links": [{ "network": "Instagram", "url": "https://instagram.com/ada" }],
        "opening_hours": [
            { "day": "sat", "opens": "10:00", "closes": "14:00" },
            { "day": "mon", "opens": "09:00", "closes": "18:00" }
        ]
    });
    let r = open_shop(&p, &seller, &body).await;
    assert_eq!(r.status(), 201);
    let created: Shop = ok_as(r).await;
    assert_eq!(created.name, "Ada's Books");
    assert_eq!(created.slug, "ada-s-books");
    assert_eq!(created.social_links[0].network, "instagram");
    assert_eq!(created.opening_hours[0].day, "mon", "sorted by day");
    assert_eq!(created.followers, 0);
    assert!(created.created_at.starts_with("20"));

    // The seller finds it as theirs; anyone finds it by its slug.
    assert_eq!(my_shop(&p, &seller).await, created);
    let public = shop_page(&p, "ada-s-books", None).await;
    assert_eq!(public.shop, created);
    assert_eq!(public.following, None, "nobody is signed in");

    // Product pages ask for the card by id, over NATS.
    let card = bazaar_runtime::call::<GetShopCard>(
        &p.ctx.nats,
        &bazaar_runtime::RequestMeta::default(),
        &ShopId {
            id: created.id.clone(),
        },
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(card.slug, "ada-s-books");
    assert_eq!(card.name, "Ada's Books");

    // One shop per seller.
    let r = open_shop(&p, &seller, &shop("Another One")).await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 409);
    assert!(e.message.contains("one shop"), "{}", e.message);
    assert_eq!(
        p.get("/api/shops/another-one", None).await.status(),
        404,
        "nothing was created"
    );

    // The world heard about it.
    let changed = p.events_of::<ShopChanged>().await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].slug, "ada-s-books");
    assert_eq!(changed[0].shop_id, created.id);

    // Someone else's shop is not "mine"; unknown shops are 404.
    let other = p.token(Role::Seller);
    assert_eq!(
        envelope(p.get("/api/shops/mine", Some(&other)).await)
            .await
            .0,
        404
    );
    assert_eq!(
        envelope(p.get("/api/shops/no-such-shop", None).await)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn buyers_and_strangers_cannot_open_shops() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let buyer = p.token(Role::Buyer);
    let (status, _) = envelope(open_shop(&p, &buyer, &shop("Buyer Shop")).await).await;
    assert_eq!(status, 403);
    let (status, _) = envelope(p.get("/api/shops/mine", Some(&buyer)).await).await;
    assert_eq!(status, 403);
    let r = p
        .http
        .post(p.url("/api/shops"))
        .json(&shop("Anonymous Shop"))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 401);
    let top: ShopCards = ok_as(p.get("/api/shops/top", None).await).await;
    assert!(top.shops.is_empty(), "{top:?}");
}

#[tokio::test]
async fn slugs_are_unique_and_never_change() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (_, first) = p.seller_with_shop("Corner Shop", "books").await;
    let (second_token, second) = p.seller_with_shop("Corner  Shop!", "books").await;
    let (_, third) = p.seller_with_shop("corner shop", "books").await;
    assert_eq!(first.slug, "corner-shop");
    assert_eq!(second.slug, "corner-shop-2");
    assert_eq!(third.slug, "corner-shop-3");
    // A name that would shadow a fixed path gets a suffix too.
    let (_, top) = p.seller_with_shop("Top", "books").await;
    assert_eq!(top.slug, "top-2");
    let listed: ShopCards = ok_as(p.get("/api/shops/top", None).await).await;
    assert_eq!(listed.shops.len(), 4);

    // Renaming keeps the address; asking for another address is refused.
    let r = p
        .http
        .put(p.url("/api/shops/mine"))
        .bearer_auth(&second_token)
        .json(&json!({ "name": "Renamed", "category": "books" }))
        .send()
        .await
        .unwrap();
    let renamed: Shop = ok_as(r).await;
    assert_eq!(renamed.name, "Renamed");
    assert_eq!(renamed.slug, "corner-shop-2");
    let r = p
        .http
        .patch(p.url("/api/shops/mine"))
        .bearer_auth(&second_token)
        .json(&json!({ "name": "Renamed", "slug": "corner-shop", "category": "books" }))
        .send()
        .await
        .unwrap();
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&e), ["slug"]);
    let public = shop_page(&p, "corner-shop", None).await;
    assert_eq!(
        public.shop.name, "Corner Shop",
        "the first shop is untouched"
    );
}

#[tokio::test]
async fn a_seller_can_only_ever_edit_their_own_shop() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (_, a) = p.seller_with_shop("Alpha Books", "books").await;
    let (b_token, b) = p.seller_with_shop("Beta Books", "books").await;

    // B sends A's slug and id along: the edit still lands on B's own shop.
    let mut edit = shop("Beta Books & More");
    edit["slug"] = json!(b.slug);
    edit["id"] = json!(a.id);
    edit["bio"] = json!("Now with more.");
    let r = p
        .http
        .patch(p.url("/api/shops/mine"))
        .bearer_auth(&b_token)
        .json(&edit)
        .send()
        .await
        .unwrap();
    let edited: Shop = ok_as(r).await;
    assert_eq!(edited.id, b.id);
    assert_eq!(edited.name, "Beta Books & More");
    let alpha = shop_page(&p, "alpha-books", None).await;
    assert_eq!(alpha.shop, a, "A's shop did not change at all");
    let beta = shop_page(&p, "beta-books", None).await;
    assert_eq!(beta.shop.bio, "Now with more.");

    // Asking to move onto A's address is refused, and a seller without a
    // shop has nothing to edit.
    edit["slug"] = json!(a.slug);
    let r = p
        .http
        .patch(p.url("/api/shops/mine"))
        .bearer_auth(&b_token)
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 422);
    let r = p
        .http
        .patch(p.url("/api/shops/mine"))
        .bearer_auth(p.token(Role::Seller))
        .json(&shop("Nobody's"))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 404);
    let r = p
        .http
        .patch(p.url("/api/shops/mine"))
        .bearer_auth(p.token(Role::Buyer))
        .json(&shop("Buyer's"))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 403);
    assert_eq!(shop_page(&p, "alpha-books", None).await.shop, a);
    assert_eq!(p.events_of::<ShopChanged>().await.len(), 3);
}

#[tokio::test]
async fn bad_shops_are_refused_field_by_field() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let seller = p.token(Role::Seller);
    let r = open_shop(
        &p,
        &seller,
        &json!({
            "name": "",
            "category": "no-such-category",
            "website": "javascript:alert(1)",
            "opening_hours": [
                { "day": "mon", "opens": "18:00", "closes": "09:00" },
                { "day": "someday", "opens": "09:00", "closes": "17:00" },
                { "day": "tue", "opens": "9am", "closes": "5pm" }
            ],
            "social_links": [{ "network": "", "url": "not a url" }],
            "avatar_image": "../../etc/passwd"
        }),
    )
    .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&e),
        [
            "name",
            "website",
            "category",
            "avatar_image",
            "social_links",
            "social_links",
            "opening_hours",
            "opening_hours",
            "opening_hours"
        ]
    );
    let message = |field: &str| {
        e.fields
            .iter()
            .filter(|f| f.field == field)
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert!(message("category").contains("no such category"));
    assert!(message("website").contains("http"));
    let hours = message("opening_hours");
    assert!(
        hours.contains("Monday: the shop must open before it closes"),
        "{hours}"
    );
    assert!(hours.contains("`someday` is not a day"), "{hours}");
    assert!(hours.contains("Tuesday: write times as HH:MM"), "{hours}");
    assert_eq!(
        envelope(p.get("/api/shops/mine", Some(&seller)).await)
            .await
            .0,
        404,
        "nothing was created"
    );

    // Too long, too many: limits are named too.
    let r = open_shop(
        &p,
        &seller,
        &json!({
            "name": "n".repeat(81),
            "category": "books",
            "bio": "b".repeat(2001),
            "social_links": vec![json!({ "network": "x", "url": "https://x.com/a" }); 11],
        }),
    )
    .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&e), ["name", "bio", "social_links"]);
    // Not JSON at all is a 400, in the same envelope.
    let r = p
        .http
        .post(p.url("/api/shops"))
        .bearer_auth(&seller)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 400);
}

// Several worker threads, so racing requests really do race in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn following_is_idempotent_and_counted_once() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (_, s) = p.seller_with_shop("Followed Books", "books").await;
    let slug = s.slug.as_str();
    let buyer = p.token(Role::Buyer);

    let first: FollowState = ok_as(follow(&p, &buyer, slug, true).await).await;
    let again: FollowState = ok_as(follow(&p, &buyer, slug, true).await).await;
    assert_eq!(
        first,
        FollowState {
            following: true,
            followers: 1
        }
    );
    assert_eq!(again, first, "following twice counts once");
    let page = shop_page(&p, slug, Some(&buyer)).await;
    assert_eq!(page.following, Some(true));
    assert_eq!(page.shop.followers, 1);
    let stranger = p.token(Role::Buyer);
    let page = shop_page(&p, slug, Some(&stranger)).await;
    assert_eq!(page.following, Some(false));
    let page = shop_page(&p, slug, None).await;
    assert_eq!(page.following, None, "nobody is signed in");

    let gone: FollowState = ok_as(follow(&p, &buyer, slug, false).await).await;
    let gone_again: FollowState = ok_as(follow(&p, &buyer, slug, false).await).await;
    assert_eq!(
        gone,
        FollowState {
            following: false,
            followers: 0
        }
    );
    assert_eq!(gone_again, gone);
    let page = shop_page(&p, slug, Some(&buyer)).await;
    assert_eq!(page.following, Some(false));

    // Only real changes are events: one follow, one unfollow.
    let followed = p.events_of::<ShopFollowed>().await;
    let states: Vec<_> = followed.iter().map(|e| e.following).collect();
    assert_eq!(states, [true, false]);
    assert_eq!(followed[0].shop_id, s.id);

    // Nobody follows a shop that does not exist; signing in comes first.
    assert_eq!(
        envelope(follow(&p, &buyer, "no-such-shop", true).await)
            .await
            .0,
        404
    );
    let r = p
        .http
        .post(p.url(&format!("/api/shops/{slug}/follow")))
        .send()
        .await
        .unwrap();
    assert_eq!(envelope(r).await.0, 401);

    // Racing requests: one person clicking many times counts once, many
    // people at once count once each.
    let clicks = (0..12).map(|_| follow(&p, &buyer, slug, true));
    for r in futures::future::join_all(clicks).await {
        assert_eq!(r.status(), 200);
    }
    let crowd: Vec<String> = (0..12).map(|_| p.token(Role::Buyer)).collect();
    let follows = crowd.iter().map(|t| follow(&p, t, slug, true));
    for r in futures::future::join_all(follows).await {
        assert_eq!(r.status(), 200);
    }
    assert_eq!(shop_page(&p, slug, None).await.shop.followers, 13);
    let unfollows = crowd.iter().map(|t| follow(&p, t, slug, false));
    futures::future::join_all(unfollows).await;
    let mut res =
        p.db.query("SELECT VALUE count() FROM follow WHERE shop = $shop GROUP ALL")
            .bind(("shop", s.id.clone()))
            .await
            .unwrap();
    let rows: Vec<i64> = res.take(0).unwrap();
    assert_eq!(shop_page(&p, slug, None).await.shop.followers, 1);
    assert_eq!(rows, [1], "the count matches the rows");
}

#[tokio::test]
async fn top_shops_rank_by_sales_then_rating_then_followers() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let mut ids = Vec::new();
    for name in ["Quiet", "Loved", "Rated", "Busy"] {
        let (_, s) = p.seller_with_shop(name, "books").await;
        ids.push(s.id);
    }
    // Orders and reviews belong to other nodes; set their results directly.
    for (id, sales, rating) in [
        (&ids[0], 0_i64, 0.0_f64),
        (&ids[1], 5, 3.0),
        (&ids[2], 5, 4.5),
        (&ids[3], 40, 2.0),
    ] {
        p.db
            .query("UPDATE type::record('shop', $id) SET sales = $sales, rating_avg = $rating, rating_count = 3")
            .bind(("id", id.clone()))
            .bind(("sales", sales))
            .bind(("rating", rating))
            .await
            .unwrap()
            .check()
            .unwrap();
    }
    // Between equals, followers decide: Loved gets a follower over Quiet's none,
    // but ranks below Rated, whose rating is higher at the same sales.
    let (_, tie) = p.seller_with_shop("Tied", "books").await;
    for slug in ["loved", "tied", "tied"] {
        let _: FollowState = ok_as(follow(&p, &p.token(Role::Buyer), slug, true).await).await;
    }
    p.db.query("UPDATE type::record('shop', $id) SET sales = 5, rating_avg = 3.0")
        .bind(("id", tie.id))
        .await
        .unwrap()
        .check()
        .unwrap();

    let top: ShopCards = ok_as(p.get("/api/shops/top", None).await).await;
    let order: Vec<_> = top.shops.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["Busy", "Rated", "Tied", "Loved", "Quiet"]);
    assert_eq!(top.shops[0].sales, 40);
    assert_eq!(top.shops[1].rating_avg, 4.5);
    assert_eq!(top.shops[2].followers, 2);

    let two: ShopCards = ok_as(p.get("/api/shops/top?limit=2", None).await).await;
    assert_eq!(two.shops.len(), 2);
    for bad in ["0", "51", "ten", "-1"] {
        let (status, e) = envelope(p.get(&format!("/api/shops/top?limit={bad}"), None).await).await;
        assert_eq!(status, 422, "limit={bad}");
        assert_eq!(fields(&e), ["limit"]);
    }
}

#[tokio::test]
async fn the_public_shop_page_shows_the_shop_escaped_with_its_products() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let seller = p.token(Role::Seller);
    let r = open_shop(
        &p,
        &seller,
        &json!({
            "name": "<script>alert(1)</script> Books",
            "category": "books",
            "bio": "Rare & <b>bold</b> books",
            "address": "1 Main St",
            "website": "https://books.example/?a=1&b=\"2\"",
            "social_links": [{ "network": "mastodon", "url": "https://social.example/@books" }],
            "opening_hours": [{ "day": "wed", "opens": "09:30", "closes": "17:00" }]
        }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Shop = ok_as(r).await;
    let slug = created.slug;
    assert_eq!(slug, "script-alert-1-script-books");

    // A product from the shop, through the catalog.
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .json(&json!({ "title": "Moby <i>Dick</i>", "category": "books",
                       "regular_price": 1250, "currency": "EUR", "stock": 3, "status": "active" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let product: Product = ok_as(r).await;
    // The shop page lists its products from search, which shows a new
    // product within moments.
    crate::catalog::search_until(
        &p,
        &format!("shop={slug}"),
        "the new product listed under its shop",
        |found| found.total == 1,
    )
    .await;

    let r = p
        .http
        .get(p.url(&format!("/shops/{slug}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)</script>"), "{html}");
    assert!(
        html.contains(&format!(
            "<h1>{}</h1>",
            escaped("<script>alert(1)</script> Books")
        )),
        "{html}"
    );
    assert!(html.contains(&escaped("Rare & <b>bold</b> books")));
    assert!(!html.contains("<b>bold</b>"));
    assert!(html.contains("Wednesday"));
    assert!(html.contains("09:30–17:00"));
    assert!(html.contains("href=\"https://social.example/@books\""));
    assert!(html.contains("0 followers"));
    assert!(
        html.contains(&format!("href=\"/login?next=/shops/{slug}\"")),
        "signed-out visitors are asked to sign in to follow"
    );
    assert!(html.contains(&escaped("Moby <i>Dick</i>")), "{html}");
    assert!(html.contains("€12.50"));
    assert!(html.contains(&format!("href=\"/products/{}\"", product.slug)));

    // Unknown shops get the friendly 404 page.
    let r = p
        .http
        .get(p.url("/shops/no-such-shop"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Page not found") && html.contains("no such shop"),
        "{html}"
    );
}

#[tokio::test]
async fn a_buyer_follows_from_the_shop_page_without_javascript() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (_, s) = p.seller_with_shop("Page Books", "books").await;
    let slug = s.slug.as_str();
    let shop_path = format!("/shops/{slug}");
    let buyer = Visitor::new(&p);
    buyer.sign_in(&p.token(Role::Buyer));
    let html = buyer.page(&shop_path).await;
    assert!(
        html.contains(&format!("action=\"/shops/{slug}/follow\"")),
        "{html}"
    );

    let r = buyer.post(&format!("/shops/{slug}/follow"), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, shop_path);
    let html = buyer.page(&shop_path).await;
    assert!(html.contains(&format!("action=\"/shops/{slug}/unfollow\"")));
    assert!(html.contains("1 follower"));

    // Another site cannot make the buyer unfollow.
    let r = buyer
        .post_from(
            "https://evil.example",
            &format!("/shops/{slug}/unfollow"),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(shop_page(&p, slug, None).await.shop.followers, 1);

    // Signed out, following means signing in first.
    let r = Visitor::new(&p)
        .post(&format!("/shops/{slug}/follow"), &[])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, format!("/login?next=/shops/{slug}"));
}

#[tokio::test]
async fn a_seller_opens_and_edits_their_shop_with_the_form_without_javascript() {
    let p = Platform::spawn().await;
    categories(&p).await;
    // Signed out: sign in first. A buyer: a friendly refusal.
    let r = Visitor::new(&p).get("/seller/shop").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/login?next=/seller/shop");
    let buyer = Visitor::new(&p);
    buyer.sign_in(&p.token(Role::Buyer));
    let r = buyer.get("/seller/shop").await;
    assert_eq!(r.status, 403);
    assert!(r.html.contains("Shops are for sellers"));

    let token = p.sign_up_seller("sam@shop.test").await;
    let seller = Visitor::new(&p);
    seller.sign_in(&token);
    let html = seller.page("/seller/shop").await;
    assert!(html.contains("Open your shop"));
    assert!(
        html.contains("Sam Seller"),
        "the header knows who is signed in"
    );
    assert!(
        html.contains(&format!(
            "<option value=\"home-garden\">{}</option>",
            escaped("Home & Garden")
        )),
        "{html}"
    );
    assert!(html.contains("enctype=\"multipart/form-data\""));

    let post = |form: reqwest::multipart::Form| seller.post_multipart("/seller/shop", form);
    let text = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                f.text(k.to_string(), v.to_string())
            })
    };

    // A mistake comes back marked, with what was typed still there.
    let r = post(
        text(&[
            ("name", "Sam's <Shed>"),
            ("category", "home-garden"),
            ("website", "not a website"),
            ("opens_mon_1", "17:00"),
            ("closes_mon_1", "09:00"),
        ])
        .part(
            "avatar_file",
            reqwest::multipart::Part::bytes(Vec::new()).file_name(""),
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    let html = r.html;
    assert!(html.contains("Please correct the marked fields."));
    assert!(html.contains("use a full web address"), "{html}");
    assert!(html.contains("Monday: the shop must open before it closes"));
    assert!(
        html.contains(&format!("value=\"{}\"", escaped("Sam's <Shed>"))),
        "{html}"
    );
    assert!(html.contains("value=\"not a website\""));
    assert!(html.contains("<option value=\"home-garden\" selected>"));
    assert_eq!(
        envelope(p.get("/api/shops/mine", Some(&token)).await)
            .await
            .0,
        404
    );

    // Filled in right, with an avatar: the shop opens.
    let r = post(
        text(&[
            ("name", "Sam's <Shed>"),
            ("category", "home-garden"),
            ("bio", "Tools & seeds"),
            ("website", "https://shed.example"),
            ("opens_mon_1", "09:00"),
            ("closes_mon_1", "12:00"),
            ("opens_mon_2", "13:00"),
            ("closes_mon_2", "17:00"),
            ("network_0", "instagram"),
            ("url_0", "https://instagram.com/shed"),
            ("network_1", ""),
            ("url_1", ""),
        ])
        .part(
            "avatar_file",
            reqwest::multipart::Part::bytes(bazaar_tests::png(400, 400)).file_name("me.png"),
        ),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/seller/shop?opened=1");
    let shop = my_shop(&p, &token).await;
    assert_eq!(shop.name, "Sam's <Shed>");
    assert_eq!(shop.slug, "sam-s-shed");
    assert_eq!(shop.opening_hours.len(), 2);
    assert_eq!(shop.social_links[0].url, "https://instagram.com/shed");
    let avatar = shop.avatar_image.expect("an avatar");
    let r = p
        .http
        .get(p.url(&format!("/images/{avatar}?size=thumb")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the avatar was stored like any upload");

    // Now the same address shows the settings, filled in.
    let html = seller.page("/seller/shop?opened=1").await;
    assert!(html.contains("Your shop is open!"));
    assert!(html.contains("href=\"/shops/sam-s-shed\""));
    assert!(html.contains(&format!("name=\"avatar_image\" value=\"{avatar}\"")));
    assert!(
        html.contains("name=\"opens_mon_2\" type=\"time\" value=\"13:00\""),
        "{html}"
    );

    // Saving again without a new file keeps the avatar; a bad file is refused.
    let r = post(
        text(&[
            ("name", "Sam's Shed"),
            ("category", "books"),
            ("avatar_image", &avatar),
        ])
        .part(
            "banner_file",
            reqwest::multipart::Part::bytes(b"<html>not an image</html>".to_vec())
                .file_name("banner.png"),
        ),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.html.contains("this is not an image"));
    let r = post(text(&[
        ("name", "Sam's Shed"),
        ("category", "books"),
        ("avatar_image", &avatar),
    ]))
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/seller/shop?saved=1");
    let shop = my_shop(&p, &token).await;
    assert_eq!(shop.name, "Sam's Shed");
    assert_eq!(shop.slug, "sam-s-shed", "the address stays");
    assert_eq!(shop.category, "books");
    assert_eq!(shop.avatar_image.as_deref(), Some(avatar.as_str()));
    assert!(shop.opening_hours.is_empty());

    // Another site cannot post the form with the seller's cookies.
    let r = seller
        .post_multipart_from(
            "https://evil.example",
            "/seller/shop",
            text(&[("name", "Hijacked"), ("category", "books")]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(my_shop(&p, &token).await.name, "Sam's Shed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_openings_keep_one_shop_per_seller_and_one_slug_per_shop() {
    let p = Platform::spawn().await;
    categories(&p).await;
    // One seller double-submits: one shop, one 409.
    let seller = p.token(Role::Seller);
    let hasty = shop("Hasty Books");
    let tries = (0..4).map(|_| open_shop(&p, &seller, &hasty));
    let mut statuses: Vec<u16> = futures::future::join_all(tries)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);

    // Many sellers pick the same name at once: each gets a shop of their own.
    let sellers: Vec<String> = (0..6).map(|_| p.token(Role::Seller)).collect();
    let same = shop("Same Name");
    let opens = sellers.iter().map(|t| open_shop(&p, t, &same));
    let mut slugs = Vec::new();
    for r in futures::future::join_all(opens).await {
        assert_eq!(r.status(), 201);
        let s: Shop = ok_as(r).await;
        slugs.push(s.slug);
    }
    slugs.sort();
    assert_eq!(
        slugs,
        [
            "same-name",
            "same-name-2",
            "same-name-3",
            "same-name-4",
            "same-name-5",
            "same-name-6"
        ]
    );
}
