//! What every page shows — the category tree and the site settings — an
//! edge answers from memory, and an admin's change shows on every edge as
//! soon as the admin node announces it.

use std::time::Instant;

use bazaar_subjects::admin::{CategoryList, SiteConfig};
use bazaar_subjects::{Domain, Role};
use bazaar_tests::story::ok_as;
use bazaar_tests::{Options, Platform, eventually};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_admins_change_shows_on_both_edges_within_moments() {
    let p = Platform::spawn().await;
    let second = p.start_edge().await;
    let admin = p.token(Role::Admin);
    let site_at = |base: String| {
        let http = p.http.clone();
        async move {
            let r = http.get(format!("{base}/api/site")).send().await.unwrap();
            ok_as::<SiteConfig>(r).await
        }
    };
    // Both edges have read (and keep) the settings.
    assert_eq!(
        site_at(p.base_url.clone()).await.name,
        site_at(second.clone()).await.name
    );
    let renamed: SiteConfig = ok_as(
        p.send(
            Method::PATCH,
            "/api/site",
            &admin,
            Some(json!({ "name": "Kiosk" })),
        )
        .await,
    )
    .await;
    assert_eq!(renamed.name, "Kiosk");
    // The edge that carried the change shows it at once.
    assert_eq!(site_at(p.base_url.clone()).await.name, "Kiosk");
    // The other one as soon as the change event reaches it.
    let started = Instant::now();
    eventually(
        "the second edge shows the new name",
        || site_at(second.clone()),
        |s| s.name == "Kiosk",
    )
    .await;
    println!(
        "the second edge showed the change after {:?}",
        started.elapsed()
    );

    // A new category too, on both.
    p.create_categories(&[("Garden", &["Tools"])]).await;
    let categories_at = |base: String| {
        let http = p.http.clone();
        async move {
            let r = http
                .get(format!("{base}/api/categories"))
                .send()
                .await
                .unwrap();
            ok_as::<CategoryList>(r).await
        }
    };
    for base in [p.base_url.clone(), second.clone()] {
        eventually(
            "both edges list the new category",
            || categories_at(base.clone()),
            |l| l.categories.iter().any(|c| c.name == "Garden"),
        )
        .await;
    }
}

#[tokio::test]
async fn the_category_tree_is_answered_from_memory_while_the_admin_node_is_away() {
    let p = Platform::spawn_with(Options {
        without: vec![Domain::Admin],
        ..Default::default()
    })
    .await;
    let admin_node = p.start_node(Domain::Admin);
    p.wait_ready().await;
    p.create_categories(&[("Books", &["Poetry"])]).await;
    let first = p.get("/api/categories", None).await;
    assert_eq!(first.status(), 200);
    admin_node.stop().await;
    // Nobody serves admin.* now, yet every page still has its categories.
    let kept = p.get("/api/categories", None).await;
    assert_eq!(kept.status(), 200, "answered from the edge's memory");
    let kept: CategoryList = kept.json().await.unwrap();
    assert!(kept.categories.iter().any(|c| c.name == "Books"));
    // Something only the node can answer is unavailable, as before.
    let r = p.get("/api/categories/books", None).await;
    assert_eq!(r.status(), 503);
}

/// The product page as one edge answers it.
async fn page_at(p: &Platform, base: &str, slug: &str) -> crate::catalog::ProductView {
    let r = p
        .http
        .get(format!("{base}/api/products/{slug}"))
        .send()
        .await
        .unwrap();
    ok_as(r).await
}

#[tokio::test]
async fn a_product_page_kept_by_two_edges_shows_an_edit_and_a_follow_on_both() {
    let p = Platform::spawn().await;
    let second = p.start_edge().await;
    crate::catalog::categories(&p).await;
    let (seller, shop) = p.seller_with_shop("Lamp Works", "electronics").await;
    let body = crate::catalog::product("Desk Lamp", "electronics", 4_000);
    let lamp = crate::catalog::create(&p, &seller, &body).await;

    // A buyer opens the page on both edges, which then keep it; every
    // opening is a view, kept page or not.
    for base in [&p.base_url, &second, &p.base_url, &second] {
        let page = page_at(&p, base, &lamp.slug).await;
        assert_eq!(page.product.price, 4_000);
        assert_eq!(page.shop.expect("the shop's card").followers, 0);
    }
    eventually(
        "the four openings are four views",
        || p.views(),
        |v| v.len() == 4,
    )
    .await;

    // The seller lowers the price: both edges show it as soon as the
    // catalog's change event reaches them.
    let mut edited = body.clone();
    edited["regular_price"] = json!(3_500);
    let r = p
        .send(
            Method::PUT,
            &format!("/api/seller/products/{}", lamp.id),
            &seller,
            Some(edited),
        )
        .await;
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    for base in [&p.base_url, &second] {
        eventually(
            "both edges show the new price",
            || page_at(&p, base, &lamp.slug),
            |page| page.product.price == 3_500,
        )
        .await;
    }
    println!(
        "both edges showed the new price after {:?}",
        started.elapsed()
    );

    // A follow changes the shop card on every page of the shop.
    let buyer = p.token(Role::Buyer);
    let r = p
        .send(
            Method::POST,
            &format!("/api/shops/{}/follow", shop.slug),
            &buyer,
            None,
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    for base in [&p.base_url, &second] {
        eventually(
            "both edges show the new follower",
            || page_at(&p, base, &lamp.slug),
            |page| page.shop.as_ref().is_some_and(|s| s.followers == 1),
        )
        .await;
    }

    // A product taken off sale is gone from both at once.
    let r = p
        .send(
            Method::DELETE,
            &format!("/api/seller/products/{}", lamp.id),
            &seller,
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    for base in [&p.base_url, &second] {
        eventually(
            "both edges say the product is gone",
            || async {
                p.http
                    .get(format!("{base}/api/products/{}", lamp.slug))
                    .send()
                    .await
                    .unwrap()
                    .status()
            },
            |status| *status == 404,
        )
        .await;
    }
}

#[tokio::test]
async fn a_kept_product_page_is_answered_while_the_catalog_node_is_away() {
    let p = Platform::spawn_with(Options {
        without: vec![Domain::Catalog],
        ..Default::default()
    })
    .await;
    let catalog_node = p.start_node(Domain::Catalog);
    p.wait_ready().await;
    crate::catalog::categories(&p).await;
    let (seller, _) = p.seller_with_shop("Lamp Works", "electronics").await;
    let body = crate::catalog::product("Desk Lamp", "electronics", 4_000);
    let lamp = crate::catalog::create(&p, &seller, &body).await;
    let first = page_at(&p, &p.base_url, &lamp.slug).await;
    catalog_node.stop().await;
    // Nobody serves catalog.* now, yet the page a buyer just saw is there.
    let kept = page_at(&p, &p.base_url, &lamp.slug).await;
    assert_eq!(kept.product.id, first.product.id);
    assert_eq!(kept.product.price, 4_000);
    assert_eq!(kept.shop.map(|s| s.name).as_deref(), Some("Lamp Works"));
    // A page nobody opened yet needs the node, as before.
    let r = p.get("/api/products/no-such-lamp", None).await;
    assert_eq!(r.status(), 503);
}
