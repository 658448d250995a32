//! Moderation, as an admin hides a product that breaks the rules and the
//! storefront, search and the product page follow.

use bazaar_subjects::Role;
use bazaar_subjects::catalog::Product;
use bazaar_subjects::console::AuditPage;
use bazaar_tests::story::ok_as;
use bazaar_tests::{Platform, eventually};
use reqwest::Method;
use serde_json::json;

use crate::catalog::{categories, create, product};

async fn search_titles(p: &Platform, q: &str) -> Vec<String> {
    let r: serde_json::Value = ok_as(p.get(&format!("/api/products?q={q}"), None).await).await;
    r["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn page_status(p: &Platform, slug: &str) -> u16 {
    p.get(&format!("/products/{slug}"), None)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_hidden_product_leaves_the_storefront_and_search_and_comes_back_when_restored() {
    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Gadget Hut", "electronics").await;
    let made: Product = create(
        &p,
        &seller,
        &product("Counterfeit Headphones", "electronics", 4_999),
    )
    .await;
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;
    eventually(
        "search finds the product",
        || search_titles(&p, "counterfeit"),
        |t| t == &["Counterfeit Headphones"],
    )
    .await;
    assert_eq!(page_status(&p, &made.slug).await, 200);

    // Only admins may hide it.
    let r = p
        .send(
            Method::POST,
            &format!("/api/admin/products/{}/hide", made.id),
            &seller,
            Some(json!({ "reason": "mine" })),
        )
        .await;
    assert_eq!(r.status(), 403);

    let hidden: Product = ok_as(
        p.send(
            Method::POST,
            &format!("/api/admin/products/{}/hide", made.id),
            &admin,
            Some(json!({ "reason": "counterfeit goods" })),
        )
        .await,
    )
    .await;
    assert!(hidden.hidden_at.is_some());
    eventually(
        "search no longer finds it",
        || search_titles(&p, "counterfeit"),
        |t| t.is_empty(),
    )
    .await;
    eventually(
        "its page is gone",
        || page_status(&p, &made.slug),
        |s| *s == 404,
    )
    .await;
    let api = p.get(&format!("/api/products/{}", made.slug), None).await;
    assert_eq!(api.status(), 404);
    // Hiding twice is refused.
    let r = p
        .send(
            Method::POST,
            &format!("/api/admin/products/{}/hide", made.id),
            &admin,
            Some(json!({ "reason": "again" })),
        )
        .await;
    assert_eq!(r.status(), 409);

    let restored: Product = ok_as(
        p.send(
            Method::POST,
            &format!("/api/admin/products/{}/restore", made.id),
            &admin,
            Some(json!({ "reason": "the seller proved it genuine" })),
        )
        .await,
    )
    .await;
    assert!(restored.hidden_at.is_none());
    eventually(
        "search finds it again",
        || search_titles(&p, "counterfeit"),
        |t| t == &["Counterfeit Headphones"],
    )
    .await;
    eventually(
        "its page is back",
        || page_status(&p, &made.slug),
        |s| *s == 200,
    )
    .await;

    // Both actions are in the audit log once, with before and after.
    let log: AuditPage = ok_as(
        p.get(
            &format!("/api/admin/audit?target={}", made.id),
            Some(&admin),
        )
        .await,
    )
    .await;
    let mut actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["product.hide", "product.restore"]);
    for e in &log.entries {
        assert_eq!(e.admin, admin_id);
        assert!(e.before.is_some() && e.after.is_some());
    }
}

#[tokio::test]
async fn a_buyers_report_reaches_the_queue_and_an_admin_resolves_it() {
    use bazaar_subjects::console::{ReportEntry, ReportList};
    let p = Platform::spawn().await;
    let (_, buyer) = p.account("Bea Buyer", Role::Buyer).await;
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;

    // Signed out, nobody reports; a buyer does.
    let body = json!({ "kind": "product", "target": "p123", "reason": "fake brand logo" });
    let r = p
        .http
        .post(p.url("/api/reports"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = p
        .send(Method::POST, "/api/reports", &buyer, Some(body))
        .await;
    assert_eq!(r.status(), 201);
    let filed: ReportEntry = ok_as(r).await;
    assert_eq!(filed.status, "open");

    // Only admins see the queue.
    assert_eq!(
        p.get("/api/admin/reports", Some(&buyer)).await.status(),
        403
    );
    let open: ReportList = ok_as(p.get("/api/admin/reports", Some(&admin)).await).await;
    assert_eq!(open.reports.len(), 1);
    assert_eq!(open.reports[0].reason, "fake brand logo");

    // The admin works through it on the page.
    let visitor = bazaar_tests::story::Visitor::new(&p);
    visitor.sign_in(&admin);
    let page = visitor.page("/admin/reports").await;
    assert!(page.contains("fake brand logo"), "{page}");
    let path = format!("/admin/reports/{}/resolve", filed.id);
    let empty = visitor.post(&path, &[("resolution", " ")]).await;
    assert_eq!(empty.status, 422);
    let done = visitor
        .post(&path, &[("resolution", "the product was hidden")])
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let page = visitor.page("/admin/reports").await;
    assert!(page.contains("No open report"), "{page}");
    let resolved: ReportList = ok_as(
        p.get("/api/admin/reports?status=resolved", Some(&admin))
            .await,
    )
    .await;
    assert_eq!(resolved.reports.len(), 1);
    assert_eq!(
        resolved.reports[0].resolved_by.as_deref(),
        Some(admin_id.as_str())
    );
    let again = p
        .send(
            Method::POST,
            &format!("/api/admin/reports/{}/resolve", filed.id),
            &admin,
            Some(json!({ "resolution": "twice" })),
        )
        .await;
    assert_eq!(again.status(), 409);

    let log: AuditPage = ok_as(
        p.get(
            &format!("/api/admin/audit?target={}", filed.id),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(log.total, 1);
    assert_eq!(log.entries[0].action, "report.resolve");
    assert!(
        log.entries[0]
            .after
            .as_deref()
            .unwrap()
            .contains("resolved")
    );
}

/// The actions the audit log holds on `target`, sorted; each by `admin`.
async fn audited(p: &Platform, admin: &str, admin_id: &str, target: &str) -> Vec<String> {
    let log: AuditPage = ok_as(
        p.get(&format!("/api/admin/audit?target={target}"), Some(admin))
            .await,
    )
    .await;
    for e in &log.entries {
        assert_eq!(e.admin, admin_id);
        assert!(e.before.is_some() && e.after.is_some(), "{e:?}");
    }
    let mut actions: Vec<String> = log.entries.into_iter().map(|e| e.action).collect();
    actions.sort_unstable();
    actions
}

#[tokio::test]
async fn a_hidden_review_leaves_its_page_and_the_rating_and_the_authors_account_page_shows_it() {
    use crate::commerce::{cod_product, with_test_payments};
    use crate::reviews::{deliver, order, review};
    use bazaar_subjects::orders::{Review, Reviews};

    let p = with_test_payments().await;
    categories(&p).await;
    let (seller, _) = p.seller_with_shop("Rita's Records", "electronics").await;
    let item = create(&p, &seller, &cod_product("Belt Turntable", 4_000, 10)).await;
    let (spammer_id, spammer) = p.account("Sid Spammer", Role::Buyer).await;
    let (_, fan) = p.account("Fay Fan", Role::Buyer).await;
    for (token, key) in [(&spammer, "spam"), (&fan, "fan")] {
        let id = order(&p, token, &item.id, 1, key).await;
        deliver(&p, &seller, &id).await;
    }
    let about = |rating: i64, title: &str| json!({ "target": "product", "target_id": item.id, "rating": rating, "title": title });
    let spam: Review =
        ok_as(review(&p, &spammer, about(1, "Cheap watches at spam.example")).await).await;
    let _: Review = ok_as(review(&p, &fan, about(5, "Lovely warm sound")).await).await;
    let reviews_path = format!("/api/products/{}/reviews", item.slug);
    let listed: Reviews = ok_as(p.get(&reviews_path, None).await).await;
    assert_eq!((listed.count, listed.average), (2, 3.0));

    // Only admins hide reviews.
    let hide = format!("/api/admin/reviews/{}/hide", spam.id);
    let r = p
        .send(
            Method::POST,
            &hide,
            &seller,
            Some(json!({ "reason": "bad for me" })),
        )
        .await;
    assert_eq!(r.status(), 403);
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;
    let r = p
        .send(Method::POST, &hide, &admin, Some(json!({ "reason": " " })))
        .await;
    assert_eq!(r.status(), 422);
    let hidden: Review = ok_as(
        p.send(
            Method::POST,
            &hide,
            &admin,
            Some(json!({ "reason": "spam link" })),
        )
        .await,
    )
    .await;
    assert!(hidden.hidden_at.is_some());
    assert_eq!(hidden.hidden_reason.as_deref(), Some("spam link"));
    let r = p
        .send(
            Method::POST,
            &hide,
            &admin,
            Some(json!({ "reason": "again" })),
        )
        .await;
    assert_eq!(r.status(), 409);

    // Buyers see the other review only, and the rating without the hidden one.
    let listed: Reviews = ok_as(p.get(&reviews_path, None).await).await;
    assert_eq!((listed.count, listed.average), (1, 5.0));
    assert_eq!(listed.reviews[0].title, "Lovely warm sound");
    eventually(
        "the product's rating follows",
        || async {
            let r = p.get(&format!("/api/products/{}", item.slug), None).await;
            ok_as::<serde_json::Value>(r).await["product"]["rating_avg"].as_f64()
        },
        |avg| *avg == Some(5.0),
    )
    .await;

    // The author's account page: their order and their reviews, the hidden
    // one marked, with the form that shows it again.
    let visitor = bazaar_tests::story::Visitor::new(&p);
    visitor.sign_in(&admin);
    let account_page = format!("/admin/accounts/{spammer_id}");
    let page = visitor.page(&account_page).await;
    assert!(page.contains("data-orders=\"1\""), "{page}");
    assert!(page.contains("Rita&#39;s Records"), "{page}");
    assert!(page.contains("Cheap watches at spam.example"), "{page}");
    assert!(
        page.contains(&format!("data-review=\"{}\" data-hidden=\"true\"", spam.id)),
        "{page}"
    );
    assert!(page.contains("No shop."), "{page}");
    let restored = visitor
        .post(
            "/admin/moderation",
            &[
                ("kind", "review"),
                ("target", &spam.id),
                ("reason", "the link is gone"),
                ("action", "restore"),
                ("back", &account_page),
            ],
        )
        .await;
    assert_eq!(restored.status, 303, "{}", restored.html);
    assert_eq!(restored.location, format!("{account_page}?notice=restored"));
    let listed: Reviews = ok_as(p.get(&reviews_path, None).await).await;
    assert_eq!((listed.count, listed.average), (2, 3.0));

    assert_eq!(
        audited(&p, &admin, &admin_id, &spam.id).await,
        ["review.hide", "review.restore"]
    );
}

#[tokio::test]
async fn a_hidden_shop_takes_its_page_and_its_products_away_from_buyers_until_restored() {
    use bazaar_subjects::sellers::{OwnedShop, Shop};

    let p = Platform::spawn().await;
    categories(&p).await;
    let (seller_id, seller) = p.account("Sly Seller", Role::Seller).await;
    let shop = p.open_shop(&seller, "Knockoff Corner", "electronics").await;
    let made: Product = create(
        &p,
        &seller,
        &product("Replica Earbuds", "electronics", 1_999),
    )
    .await;
    let (_, buyer) = p.account("Bea Buyer", Role::Buyer).await;
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;
    eventually(
        "search finds the product",
        || search_titles(&p, "replica"),
        |t| t == &["Replica Earbuds"],
    )
    .await;
    let shop_api = format!("/api/shops/{}", shop.slug);
    assert_eq!(p.get(&shop_api, None).await.status(), 200);

    let hide = format!("/api/admin/shops/{}/hide", shop.id);
    let r = p
        .send(
            Method::POST,
            &hide,
            &buyer,
            Some(json!({ "reason": "fakes" })),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = p
        .send(
            Method::POST,
            "/api/admin/shops/no-such-shop/hide",
            &admin,
            Some(json!({ "reason": "fakes" })),
        )
        .await;
    assert_eq!(r.status(), 404);
    let hidden: Shop = ok_as(
        p.send(
            Method::POST,
            &hide,
            &admin,
            Some(json!({ "reason": "sells fakes" })),
        )
        .await,
    )
    .await;
    assert!(hidden.hidden_at.is_some());

    // Buyers: no shop page, no products in search, no product page.
    assert_eq!(p.get(&shop_api, None).await.status(), 404);
    assert_eq!(p.get(&shop_api, Some(&buyer)).await.status(), 404);
    assert_eq!(
        p.get(&format!("/shops/{}", shop.slug), None).await.status(),
        404
    );
    eventually(
        "search no longer finds its product",
        || search_titles(&p, "replica"),
        |t| t.is_empty(),
    )
    .await;
    eventually(
        "its product's page is gone",
        || page_status(&p, &made.slug),
        |s| *s == 404,
    )
    .await;
    // Its owner and admins still see it, marked.
    assert_eq!(p.get(&shop_api, Some(&seller)).await.status(), 200);
    let owned: OwnedShop = ok_as(
        p.get(
            &format!("/api/admin/accounts/{seller_id}/shop"),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(
        owned.shop.and_then(|s| s.hidden_reason).as_deref(),
        Some("sells fakes")
    );
    let visitor = bazaar_tests::story::Visitor::new(&p);
    visitor.sign_in(&admin);
    let account_page = format!("/admin/accounts/{seller_id}");
    let page = visitor.page(&account_page).await;
    assert!(page.contains("Knockoff Corner"), "{page}");
    assert!(page.contains("<strong>Hidden</strong>"), "{page}");

    // Restored from the account page, everything comes back.
    let restored = visitor
        .post(
            "/admin/moderation",
            &[
                ("kind", "shop"),
                ("target", &shop.id),
                ("reason", "the seller removed the fakes"),
                ("action", "restore"),
                ("back", &account_page),
            ],
        )
        .await;
    assert_eq!(restored.status, 303, "{}", restored.html);
    assert_eq!(p.get(&shop_api, None).await.status(), 200);
    eventually(
        "search finds its product again",
        || search_titles(&p, "replica"),
        |t| t == &["Replica Earbuds"],
    )
    .await;
    eventually(
        "its product's page is back",
        || page_status(&p, &made.slug),
        |s| *s == 200,
    )
    .await;
    // A product the seller adds while the shop is hidden is hidden with it.
    let r = p
        .send(
            Method::POST,
            &hide,
            &admin,
            Some(json!({ "reason": "fakes again" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    let later: Product = create(&p, &seller, &product("Replica Watch", "electronics", 2_999)).await;
    assert!(later.shop_hidden);
    assert_eq!(page_status(&p, &later.slug).await, 404);

    assert_eq!(
        audited(&p, &admin, &admin_id, &shop.id).await,
        ["shop.hide", "shop.hide", "shop.restore"]
    );
}

#[tokio::test]
async fn a_chat_report_is_resolved_from_the_queue_once() {
    use bazaar_subjects::chat::{Report, Reports};

    let p = Platform::spawn().await;
    let (_, buyer, shop, _) = crate::chat::shop_and_buyer(&p).await;
    let c = crate::chat::start(&p, &buyer, &shop, None).await;
    let filed: Report = ok_as(
        p.send(
            Method::POST,
            &format!("/api/conversations/{}/report", c.id),
            &buyer,
            Some(json!({ "reason": "asks me to pay outside the site" })),
        )
        .await,
    )
    .await;
    assert_eq!(filed.status, "open");
    let (admin_id, admin) = p.account("Ada Admin", Role::Admin).await;

    // Buyers may not resolve it.
    let resolve = format!("/api/admin/chat-reports/{}/resolve", filed.id);
    let r = p
        .send(
            Method::POST,
            &resolve,
            &buyer,
            Some(json!({ "resolution": "fine" })),
        )
        .await;
    assert_eq!(r.status(), 403);

    // The admin sees it in the one queue and resolves it there.
    let visitor = bazaar_tests::story::Visitor::new(&p);
    visitor.sign_in(&admin);
    let page = visitor.page("/admin/reports").await;
    assert!(page.contains("asks me to pay outside the site"), "{page}");
    let path = format!("/admin/chat-reports/{}/resolve", filed.id);
    let empty = visitor.post(&path, &[("resolution", "")]).await;
    assert_eq!(empty.status, 422);
    let done = visitor
        .post(&path, &[("resolution", "warned the seller")])
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let page = visitor.page("/admin/reports").await;
    assert!(page.contains("No open chat report."), "{page}");
    let page = visitor.page("/admin/reports?status=resolved").await;
    assert!(page.contains("warned the seller"), "{page}");

    let open: Reports = ok_as(p.get("/api/admin/chat-reports", Some(&admin)).await).await;
    assert!(open.reports.is_empty(), "{open:?}");
    let resolved: Reports = ok_as(
        p.get("/api/admin/chat-reports?status=resolved", Some(&admin))
            .await,
    )
    .await;
    assert_eq!(resolved.reports.len(), 1);
    assert_eq!(
        resolved.reports[0].resolved_by.as_deref(),
        Some(admin_id.as_str())
    );
    let r = p
        .send(
            Method::POST,
            &resolve,
            &admin,
            Some(json!({ "resolution": "twice" })),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        audited(&p, &admin, &admin_id, &filed.id).await,
        ["chat_report.resolve"]
    );
}
