//! The storefront, seller dashboard and admin pages, as buyers, sellers and
//! strangers meet them over HTTP (and once in a real browser).

use std::time::Duration;

use bazaar_subjects::Role;
use bazaar_tests::browser::Browser;
use bazaar_tests::{Platform, six_digit_code};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

async fn categories(p: &Platform) {
    p.create_categories(&[
        ("Electronics", &["Audio", "Lighting"]),
        ("Fashion", &["Shoes"]),
    ])
    .await;
}

async fn create(p: &Platform, token: &str, body: Value) -> Value {
    let r = p
        .http
        .post(p.url("/api/seller/products"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn product(title: &str, category: &str, price: i64) -> Value {
    json!({
        "title": title,
        "description": format!("<p>The {title}.</p>"),
        "category": category,
        "regular_price": price,
        "stock": 10,
    })
}

/// A page's status and HTML.
pub(crate) async fn page(p: &Platform, path: &str, token: Option<&str>) -> (u16, String) {
    let mut r = no_redirects().get(p.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A browser-like client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Signs an account up with the emailed code; returns its access token.
async fn sign_up(p: &Platform, role: Role, name: &str, email: &str) -> String {
    let (path, body) = match role {
        Role::Seller => (
            "/api/register/seller",
            json!({ "name": name, "email": email, "password": PASSWORD,
                    "phone": "+49 30 1234567", "country": "DE" }),
        ),
        _ => (
            "/api/register/user",
            json!({ "name": name, "email": email, "password": PASSWORD }),
        ),
    };
    let r = p.http.post(p.url(path)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let code = six_digit_code(&p.last_email(email).await.text).unwrap();
    let session: Value = p
        .http
        .post(p.url("/api/register/verify"))
        .json(&json!({ "email": email, "otp": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_home_page_shows_categories_new_arrivals_and_top_shops() {
    let p = Platform::spawn().await;

    // An empty shop says so, section by section.
    let (status, html) = page(&p, "/", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("No categories yet"), "{html}");
    assert!(html.contains("No products yet"), "{html}");
    assert!(html.contains("No flash sales right now"), "{html}");

    categories(&p).await;
    let seller = p.seller_with_shop("Lamp House", "electronics").await.0;
    create(
        &p,
        &seller,
        product("Brass desk lamp", "electronics", 12999),
    )
    .await;

    let (status, html) = page(&p, "/", None).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"href="/products?category=electronics""#),
        "{html}"
    );
    assert!(html.contains(">Electronics<"));
    assert!(html.contains("Lighting"));
    assert!(html.contains("Brass desk lamp"), "new arrivals: {html}");
    assert!(html.contains("$129.99"));
    assert!(
        html.contains(r#"href="/shops/lamp-house""#),
        "top shops: {html}"
    );
    // Every page has the search box.
    assert!(html.contains(r#"action="/products""#));
}

#[tokio::test]
async fn the_listing_filters_by_category_and_words_and_its_links_keep_the_filters() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let seller = p.seller_with_shop("Bright Things", "electronics").await.0;
    for n in 1..=26 {
        create(
            &p,
            &seller,
            product(&format!("Desk lamp {n}"), "electronics", 1000 + n),
        )
        .await;
    }
    create(&p, &seller, product("Lamp-print shoes", "fashion", 5000)).await;
    create(&p, &seller, product("Headphones", "electronics", 9000)).await;
    // Listings come from search, which shows new products within moments;
    // the last one listed means every one before it is too.
    crate::catalog::search_finds(&p, "q=headphones", &["Headphones"]).await;

    let (status, html) = page(&p, "/products?q=lamp&category=electronics", None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("26 products"), "{html}");
    assert!(html.contains("Desk lamp"));
    assert!(!html.contains("Lamp-print shoes"), "another category");
    assert!(!html.contains("Headphones"), "does not match the words");
    assert!(html.contains("<mark>"), "matches are highlighted: {html}");
    // What was asked for stays in the form…
    assert!(
        html.contains(r#"name="q" type="search" value="lamp""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<option value="electronics" selected>"#),
        "{html}"
    );
    // …and in the pagination links.
    assert!(
        html.contains(r#"href="/products?q=lamp&#38;category=electronics&#38;page=2""#),
        "{html}"
    );
    let (status, html) = page(&p, "/products?q=lamp&category=electronics&page=2", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("page 2 of 2"), "{html}");
    assert!(html.contains(r#"rel="prev""#));

    // Prices are typed in whole units.
    let (_, html) = page(
        &p,
        "/products?category=electronics&max=10.05&sort=price_asc",
        None,
    )
    .await;
    assert!(html.contains("5 products"), "{html}");
    assert!(html.contains(r#"name="max" inputmode="decimal" value="10.05""#));
    assert!(html.contains(r#"<option value="price_asc" selected>"#));

    // Nothing found: say so, and offer a way out.
    let (status, html) = page(&p, "/products?q=zeppelin", None).await;
    assert_eq!(status, 200);
    assert!(html.contains("No products match “zeppelin”"), "{html}");
    assert!(html.contains(r#"<a href="/products">Clear all filters</a>"#));

    // Bad filters are explained on the page, not crashed on.
    let (status, html) = page(&p, "/products?min=cheap", None).await;
    assert_eq!(status, 422);
    assert!(html.contains("enter an amount like 12.50"), "{html}");
    let (status, html) = page(&p, "/products?min=50&max=10", None).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("the lowest price must not be above the highest"),
        "{html}"
    );
    assert!(html.contains(r#"value="50""#), "kept: {html}");
}

#[tokio::test]
async fn a_product_page_shows_the_product_with_its_description_sanitized() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let seller = p.seller_with_shop("Safe Shop", "electronics").await.0;
    let created = create(
        &p,
        &seller,
        json!({
            "title": "<img src=x onerror=alert(1)> Lamp",
            "description": "<p>Warm <b>light</b>.</p><script>alert(2)</script><img src=x onerror=alert(3)>",
            "category": "electronics",
            "subcategory": "lighting",
            "colors": ["red", "blue"],
            "sizes": ["S"],
            "specifications": [{ "key": "Weight", "value": "1.2 kg" }],
            "warranty": "2 years",
            "cash_on_delivery": true,
            "regular_price": 12999,
            "sale_price": 9999,
            "stock": 3,
        }),
    )
    .await;
    let slug = created["slug"].as_str().unwrap();
    let (status, html) = page(&p, &format!("/products/{slug}"), None).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62; Lamp"),
        "the title is escaped: {html}"
    );
    assert!(!html.contains("<img src=x onerror"));
    assert!(!html.contains("onerror=alert(3)"), "sanitized");
    assert!(html.contains("<p>Warm <b>light</b>.</p>"), "{html}");
    assert!(!html.contains("<script>alert(2)"));
    assert!(!html.contains("alert(2)"));
    assert!(html.contains("$99.99"));
    assert!(html.contains("$129.99</s>"), "the regular price is struck");
    assert!(html.contains("Only 3 left"));
    assert!(html.contains(r#"type="radio" name="color" value="red""#));
    assert!(html.contains(r#"type="radio" name="size" value="S""#));
    assert!(html.contains("<th scope=\"row\">Weight</th><td>1.2 kg</td>"));
    assert!(html.contains("Cash on delivery"));
    assert!(html.contains("Warranty: 2 years"));
    assert!(html.contains(r#"action="/cart/add""#), "{html}");
    assert!(html.contains(r#"href="/shops/safe-shop""#), "{html}");
    assert!(html.contains(">Lighting<"), "breadcrumbs");

    let (status, html) = page(&p, "/products/no-such-thing", None).await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"), "{html}");
}

#[tokio::test]
async fn seller_pages_send_strangers_to_sign_in_and_refuse_buyers() {
    let p = Platform::spawn().await;
    for path in [
        "/seller",
        "/seller/products",
        "/seller/products/new",
        "/admin",
    ] {
        let (status, _) = page(&p, path, None).await;
        assert_eq!(status, 303, "{path}");
        let r = no_redirects().get(p.url(path)).send().await.unwrap();
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("/login?next=%2F"), "{path} → {to}");
    }
    let buyer = p.token(Role::Buyer);
    for path in ["/seller", "/seller/products", "/seller/products/new"] {
        let (status, html) = page(&p, path, Some(&buyer)).await;
        assert_eq!(status, 403, "{path}: {html}");
        assert!(html.contains("for sellers"), "{html}");
    }
    let r = no_redirects()
        .post(p.url("/seller/products/new"))
        .bearer_auth(&buyer)
        .multipart(reqwest::multipart::Form::new().text("title", "Sneaky"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The admin page is for admins: a signed-in buyer is refused too.
    let real_buyer = sign_up(&p, Role::Buyer, "Bea", "bea@example.com").await;
    let (status, html) = page(&p, "/admin", Some(&real_buyer)).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("Admins only"));
    assert!(!html.contains(r#"href="/seller">Seller dashboard"#));

    // A seller sees the dashboard, told to open the shop first.
    let seller = p.token(Role::Seller);
    let (status, html) = page(&p, "/seller", Some(&seller)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Create your shop first"), "{html}");
}

#[tokio::test]
async fn the_product_form_puts_errors_beside_fields_and_saves_with_photos() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let form = |pairs: &[(&str, &str)]| {
        let mut f = reqwest::multipart::Form::new();
        for (k, v) in pairs {
            f = f.text((*k).to_owned(), (*v).to_owned());
        }
        f
    };
    let post = |token: String, path: &'static str, f: reqwest::multipart::Form| {
        let url = p.url(path);
        async move {
            let r = no_redirects()
                .post(url)
                .bearer_auth(token)
                .multipart(f)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (status, location, r.text().await.unwrap())
        }
    };

    // Without a shop, the form says what to do first.
    let shopless = p.token(Role::Seller);
    let (status, html) = page(&p, "/seller/products/new", Some(&shopless)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Create your shop first"));
    let valid = [
        ("title", "Reading lamp"),
        ("category", "electronics"),
        ("regular_price", "49.50"),
        ("stock", "4"),
        ("currency", "USD"),
    ];
    let (status, _, html) = post(shopless, "/seller/products/new", form(&valid)).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("Create your shop first"), "{html}");
    assert!(html.contains(r#"value="Reading lamp""#), "kept: {html}");

    // A real account: photos are stored as their uploader's.
    let seller = p.real_seller_with_shop("Form Shop", "electronics").await.0;
    // What the edge cannot read is named at once, with what was typed kept.
    let (status, _, html) = post(
        seller.clone(),
        "/seller/products/new",
        form(&[
            ("title", "Reading lamp"),
            ("brand", "Lumo"),
            ("regular_price", "cheap"),
            ("stock", "4"),
            ("specifications", "no colon"),
        ]),
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="regular_price-error""#), "{html}");
    assert!(html.contains("enter an amount like 12.50"));
    assert!(html.contains(r#"id="specifications-error""#));
    assert!(html.contains(r#"value="cheap""#));
    assert!(html.contains(r#"value="Lumo""#));

    // What the catalog refuses comes back beside the fields too.
    let (status, _, html) = post(
        seller.clone(),
        "/seller/products/new",
        form(&[
            ("title", ""),
            ("category", "no-such-category"),
            ("brand", "Lumo"),
            ("regular_price", "10"),
            ("sale_price", "20"),
            ("stock", "4"),
        ]),
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(r#"id="title-error""#), "{html}");
    assert!(html.contains("a product needs a title"));
    assert!(html.contains(r#"id="category-error""#));
    assert!(html.contains(r#"id="sale_price-error""#));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(html.contains(r#"value="Lumo""#));
    assert!(html.contains("Please correct the marked fields."));

    // A good form with two photos (one not an image) keeps the good one.
    let photos = |f: reqwest::multipart::Form| {
        f.part(
            "files",
            reqwest::multipart::Part::bytes(bazaar_tests::png(40, 30)).file_name("lamp.png"),
        )
        .part(
            "files",
            reqwest::multipart::Part::bytes(b"not an image".to_vec()).file_name("notes.txt"),
        )
    };
    let (status, _, html) =
        post(seller.clone(), "/seller/products/new", photos(form(&valid))).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("notes.txt: this is not an image"), "{html}");
    let kept: Vec<&str> = html
        .match_indices(r#"type="hidden" name="images" value=""#)
        .map(|(i, m)| &html[i + m.len()..i + m.len() + 32])
        .collect();
    assert_eq!(kept.len(), 1, "the good photo was stored: {html}");
    let image = kept[0].to_owned();

    let mut fields: Vec<(&str, &str)> = valid.to_vec();
    fields.push(("images", &image));
    fields.push(("colors", "red, blue"));
    fields.push(("specifications", "Weight: 1 kg\nHeight: 40 cm"));
    fields.push(("flash_start", "2020-01-01T00:00"));
    fields.push(("flash_end", "2099-01-01T00:00"));
    let (status, _, html) = post(seller.clone(), "/seller/products/new", form(&fields)).await;
    assert_eq!(status, 422, "a flash sale needs a sale price: {html}");
    assert!(html.contains(r#"id="flash_sale-error""#) || html.contains(r#"id="sale_price-error""#));
    fields.retain(|(k, _)| !k.starts_with("flash_"));
    let (status, location, html) =
        post(seller.clone(), "/seller/products/new", form(&fields)).await;
    assert_eq!(status, 303, "{html}");
    assert_eq!(location.as_deref(), Some("/seller/products?notice=created"));

    let (status, html) = page(&p, "/seller/products?notice=created", Some(&seller)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Product created."));
    assert!(html.contains("Reading lamp"));
    assert!(html.contains("$49.50"));
    assert!(html.contains(&format!("/images/{image}?size=thumb")));

    // Its edit form holds what was saved, prices in whole units.
    let mine: Value = p
        .http
        .get(p.url("/api/seller/products"))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = mine["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, html) = page(&p, &format!("/seller/products/{id}/edit"), Some(&seller)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"value="49.50""#), "{html}");
    assert!(html.contains("Weight: 1 kg\nHeight: 40 cm"));
    assert!(html.contains(r#"value="red, blue""#));

    // Delete to the bin, and restore.
    let r = no_redirects()
        .post(p.url(&format!("/seller/products/{id}/delete")))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&p, "/seller/products?deleted=1", Some(&seller)).await;
    assert!(html.contains("Reading lamp"));
    assert!(html.contains(&format!("/seller/products/{id}/restore")));
    let r = no_redirects()
        .post(p.url(&format!("/seller/products/{id}/restore")))
        .bearer_auth(&seller)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&p, "/seller/products", Some(&seller)).await;
    assert!(html.contains("Reading lamp"));
}

#[tokio::test]
async fn a_seller_lists_a_product_with_a_photo_and_a_buyer_finds_it_in_a_browser() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let seller_token = sign_up(&p, Role::Seller, "Sam Seller", "sam@example.com").await;
    p.open_shop(&seller_token, "Sam's Lamps", "electronics")
        .await;
    sign_up(&p, Role::Buyer, "Bo Buyer", "bo@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("lamp.png");
    std::fs::write(&photo, bazaar_tests::png(200, 150)).unwrap();

    let b = Browser::start().await;
    b.goto(&p.url("/login?next=/seller/products/new")).await;
    b.fill("email", "sam@example.com").await;
    b.fill("password", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_for_path("/seller/products/new").await;

    b.fill("title", "Copper floor lamp").await;
    b.client
        .find(fantoccini::Locator::Css("select[name='category']"))
        .await
        .unwrap()
        .select_by_value("electronics")
        .await
        .unwrap();
    b.fill("regular_price", "89.90").await;
    b.fill("stock", "5").await;
    b.client
        .find(fantoccini::Locator::Css("input[name='files']"))
        .await
        .unwrap()
        .send_keys(&photo.display().to_string())
        .await
        .unwrap();
    b.click("form[action='/seller/products/new'] button[type=submit]")
        .await;
    b.wait_for_path("/seller/products").await;
    assert!(b.text(".notice").await.contains("Product created"));
    b.click("header form[action='/logout'] button").await;
    b.wait_for_path("/").await;

    // A buyer signs in, searches, narrows to the category and opens it.
    b.goto(&p.url("/login")).await;
    b.fill("email", "bo@example.com").await;
    b.fill("password", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_for_path("/").await;
    // The search box suggests titles as one types (progressive enhancement).
    b.fill("q", "copp").await;
    let mut suggested = String::new();
    for _ in 0..100 {
        suggested = b
            .client
            .execute(
                "return Array.from(document.querySelectorAll('#site-suggestions option')) \
                 .map(o => o.value).join('|');",
                vec![],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if !suggested.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(suggested, "Copper floor lamp");
    b.fill("q", "copper lamp").await;
    b.click("form.site-search button[type=submit]").await;
    b.wait_for_path("/products").await;
    assert!(
        b.text(".product-card .title")
            .await
            .contains("Copper floor lamp")
    );
    b.client
        .find(fantoccini::Locator::Css("#f-category"))
        .await
        .unwrap()
        .select_by_value("electronics")
        .await
        .unwrap();
    b.click("#filters button[type=submit]").await;
    for _ in 0..100 {
        let url = b.client.current_url().await.unwrap();
        if url
            .query()
            .unwrap_or_default()
            .contains("category=electronics")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = b.client.current_url().await.unwrap();
    let query = url.query().unwrap_or_default().to_owned();
    assert!(query.contains("category=electronics"), "{query}");
    assert!(query.contains("q=copper"), "the words are kept: {query}");
    b.click(".product-card a").await;
    for _ in 0..100 {
        if b.path().await.starts_with("/products/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.text("h1").await, "Copper floor lamp");
    assert!(b.text(".buy-box .price").await.contains("$89.90"));
    let mut width = 0;
    for _ in 0..100 {
        width = b
            .client
            .execute(
                "const img = document.querySelector('img.main-image'); \
                 return img && img.complete ? img.naturalWidth : 0;",
                vec![],
            )
            .await
            .unwrap()
            .as_i64()
            .unwrap_or(0);
        if width > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(width, 200, "the photo is shown");
    b.close().await;
}

#[tokio::test]
async fn an_admin_runs_the_categories_and_the_site_look_from_the_admin_page() {
    let p = Platform::spawn().await;
    let r = p
        .http
        .post(p.url("/api/admins"))
        .bearer_auth(p.token(Role::Admin))
        .json(&json!({ "name": "Ada Admin", "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let session: Value = p
        .http
        .post(p.url("/api/login"))
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = session["access_token"].as_str().unwrap().to_owned();
    let (status, html) = page(&p, "/admin", Some(&admin)).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(r#"href="/admin">Admin</a>"#),
        "header link: {html}"
    );
    assert!(html.contains("No categories yet"));

    let post_form = |path: &str, fields: &[(&str, &str)]| {
        no_redirects()
            .post(p.url(path))
            .bearer_auth(&admin)
            .form(fields)
            .send()
    };
    // A refused category keeps what was typed, with the error beside it.
    let r = post_form(
        "/admin/categories",
        &[("name", ""), ("subcategories", "Lamps\nDesks")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="new-name-error""#), "{html}");
    assert!(html.contains("Lamps\nDesks</textarea>"), "{html}");

    let r = post_form(
        "/admin/categories",
        &[
            ("name", "Home Office"),
            ("position", "2"),
            ("subcategories", "Lamps\nDesks"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&p, "/admin?notice=category-created", Some(&admin)).await;
    assert!(html.contains("Category created."));
    assert!(
        html.contains(r#"action="/admin/categories/home-office""#),
        "{html}"
    );

    // Edit: rename and change the subcategories.
    let r = post_form(
        "/admin/categories/home-office",
        &[
            ("name", "Home Office"),
            ("position", "1"),
            ("subcategories", "Lamps\nChairs"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let list: Value = p
        .http
        .get(p.url("/api/categories"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["categories"][0]["position"], 1);
    assert_eq!(list["categories"][0]["subcategories"][1]["name"], "Chairs");

    // Deleting asks first.
    let (status, html) = page(&p, "/admin/categories/home-office/delete", Some(&admin)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Delete “Home Office”?"), "{html}");
    let r = post_form("/admin/categories/home-office/delete", &[])
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, html) = page(&p, "/admin", Some(&admin)).await;
    assert!(!html.contains("/admin/categories/home-office"));

    // The site's name, tagline and logo.
    let form = reqwest::multipart::Form::new()
        .text("name", "Lamp Market")
        .text("tagline", "Light for everyone")
        .part(
            "logo_file",
            reqwest::multipart::Part::bytes(bazaar_tests::png(64, 64)).file_name("logo.png"),
        );
    let r = no_redirects()
        .post(p.url("/admin/site"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let site: Value = p
        .http
        .get(p.url("/api/site"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(site["name"], "Lamp Market");
    let logo = site["logo_url"].as_str().unwrap().to_owned();
    assert!(logo.starts_with("/images/"), "{logo}");
    let (_, html) = page(&p, "/", None).await;
    assert!(html.contains("Lamp Market"));
    assert!(html.contains("Light for everyone"));
    assert!(html.contains(&format!(r#"src="{logo}""#)));
    let r = p.http.get(p.url(&logo)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A refused upload says why, beside the field.
    let form = reqwest::multipart::Form::new()
        .text("name", "Lamp Market")
        .part(
            "banner_file",
            reqwest::multipart::Part::bytes(b"nope".to_vec()).file_name("banner.png"),
        );
    let r = no_redirects()
        .post(p.url("/admin/site"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="banner-file-error""#), "{html}");
}
