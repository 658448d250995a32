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
