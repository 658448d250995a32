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
