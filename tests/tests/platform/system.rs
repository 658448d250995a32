//! An admin watches the running system: which nodes answer and how many
//! copies of each, what each subject serves, and what JetStream holds; a
//! buyer sees none of it.

use bazaar_runtime::RequestMeta;
use bazaar_subjects::system::{GetSystem, SystemReport};
use bazaar_subjects::{Domain, Empty, Role};
use bazaar_tests::story::{Visitor, envelope, ok_as};
use bazaar_tests::{Platform, eventually};

async fn report(p: &Platform, token: &str) -> SystemReport {
    ok_as(p.get("/api/admin/system", Some(token)).await).await
}

fn copies(report: &SystemReport, domain: Domain) -> usize {
    report
        .nodes
        .iter()
        .find(|n| n.domain == domain.name())
        .map_or(0, |n| n.copies)
}

#[tokio::test]
async fn an_admin_sees_every_node_and_a_second_copy_when_it_starts() {
    let p = Platform::spawn().await;
    let admin = p.token(Role::Admin);

    // Every node of the platform answers, one copy each, with its version.
    let first = eventually(
        "every node in the report",
        || report(&p, &admin),
        |r| bazaar::platform::DOMAINS.iter().all(|d| copies(r, *d) == 1),
    )
    .await;
    for node in &first.nodes {
        assert!(!node.description.is_empty(), "{node:?}");
        for copy in &node.instances {
            assert_eq!(copy.version, bazaar_runtime::VERSION);
        }
    }
    // JetStream's streams are there, the mail queue with its consumer.
    let mail = first
        .streams
        .iter()
        .find(|s| s.name == "MAIL_JOBS")
        .expect("the mail queue in the report");
    assert!(
        mail.consumers.iter().any(|c| c.name == "mail-sender"),
        "{mail:?}"
    );

    // A shopper looks at a category; the admin node's subject counts it.
    p.create_categories(&[("Books", &["Fiction"])]).await;
    let r = p.get("/api/categories/books", None).await;
    assert_eq!(r.status(), 200);
    let counted = eventually(
        "the category look-up counted",
        || report(&p, &admin),
        |r| {
            r.subjects
                .iter()
                .any(|s| s.subject == "admin.category.get" && s.requests >= 1)
        },
    )
    .await;
    let get = counted
        .subjects
        .iter()
        .find(|s| s.subject == "admin.category.get")
        .expect("the subject");
    assert_eq!(get.domain, "admin");
    assert_eq!(get.errors, 0);
    assert!(get.requests_per_sec > 0.0, "{get:?}");

    // A second catalog copy starts: the report shows two.
    let second = p.start_node(Domain::Catalog);
    let two = eventually(
        "two catalog copies",
        || report(&p, &admin),
        |r| copies(r, Domain::Catalog) == 2,
    )
    .await;
    let catalog = two
        .nodes
        .iter()
        .find(|n| n.domain == "catalog")
        .expect("catalog");
    assert_ne!(catalog.instances[0].id, catalog.instances[1].id);

    // The page shows the same, to an admin signed in with a browser.
    let (_, admin_token) = p.account("Ada Admin", Role::Admin).await;
    let visitor = Visitor::new(&p);
    visitor.sign_in(&admin_token);
    let html = visitor.page("/admin/system").await;
    assert!(
        html.contains(r#"data-domain="catalog" data-copies="2""#),
        "{html}"
    );
    assert!(html.contains(r#"data-domain="mail" data-copies="1""#));
    assert!(html.contains(r#"data-stream="MAIL_JOBS""#));
    assert!(html.contains("admin.category.get"));
    second.stop().await;
}

#[tokio::test]
async fn a_buyer_is_refused_the_system_report_by_the_admin_node_itself() {
    let p = Platform::spawn().await;
    let buyer = p.token(Role::Buyer);

    let (status, e) = envelope(p.get("/api/admin/system", Some(&buyer)).await).await;
    assert_eq!(status, 403, "{e:?}");
    let (status, _) = envelope(p.get("/api/admin/system", None).await).await;
    assert_eq!(status, 401);

    // Straight to the admin node over the bus, as the edge: the node refuses.
    let (edge, _) = p.connect_as(bazaar_subjects::bus::Principal::Edge).await;
    let meta = RequestMeta {
        request_id: "system-by-a-buyer".into(),
        authorization: Some(buyer.clone()),
    };
    let refused = bazaar_runtime::call::<GetSystem>(
        &edge,
        &meta,
        &Empty {},
        std::time::Duration::from_secs(5),
    )
    .await
    .expect_err("a buyer is refused");
    assert_eq!(refused.status, 403);

    // The page refuses a signed-in buyer too.
    let (_, buyer_token) = p.account("Bea Buyer", Role::Buyer).await;
    let visitor = Visitor::new(&p);
    visitor.sign_in(&buyer_token);
    let page = visitor.get("/admin/system").await;
    assert_eq!(page.status, 403);
    assert!(!page.html.contains("MAIL_JOBS"));
}

#[tokio::test]
async fn a_failed_request_shows_among_the_recent_errors_with_a_link_to_its_logs() {
    // The catalog node is not running: the orders node cannot price a cart.
    let p = Platform::spawn_with(bazaar_tests::Options {
        without: vec![Domain::Catalog],
        ..Default::default()
    })
    .await;
    let admin = p.token(Role::Admin);
    eventually(
        "the orders and admin nodes answering",
        || async { p.node_ids(Domain::Orders).await.len() + p.node_ids(Domain::Admin).await.len() },
        |n| *n == 2,
    )
    .await;

    // A buyer puts something in their cart and is told to try again.
    let buyer = p.token(Role::Buyer);
    let r = p
        .send(
            reqwest::Method::POST,
            "/api/cart/items",
            &buyer,
            Some(serde_json::json!({ "product_id": "0193a5b8c3d47e2f9a1b2c3d4e5f6071" })),
        )
        .await;
    let (status, e) = envelope(r).await;
    assert_eq!(status, 503, "{e:?}");
    let request_id = e.request_id.expect("the failure names its request");

    // The admin sees it, with the subject, the status and the request id.
    let seen = eventually(
        "the failure in the report",
        || report(&p, &admin),
        |r| r.recent_errors.iter().any(|e| e.request_id == request_id),
    )
    .await;
    let failure = seen
        .recent_errors
        .iter()
        .find(|e| e.request_id == request_id)
        .expect("the failure");
    assert_eq!(failure.subject, "orders.cart.add");
    assert_eq!(failure.status, 503);
    let add = seen
        .subjects
        .iter()
        .find(|s| s.subject == "orders.cart.add")
        .expect("the subject");
    assert_eq!(add.errors, 1);
    assert!((add.error_rate - 1.0).abs() < f64::EPSILON, "{add:?}");
    assert_eq!(copies(&seen, Domain::Catalog), 0);

    // On the page, the failure links to its request's logs.
    let (_, admin_token) = p.account("Ada Admin", Role::Admin).await;
    let visitor = Visitor::new(&p);
    visitor.sign_in(&admin_token);
    let html = visitor.page("/admin/system").await;
    assert!(
        html.contains(&format!(
            r#"<a href="/admin/logs?request_id={request_id}">"#
        )),
        "{html}"
    );
}
