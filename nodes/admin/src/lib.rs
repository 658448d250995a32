//! The admin node: the site configuration, the category tree, and the
//! system report (which nodes run, their traffic, JetStream's state).
//!
//! Reads are public and served from a JetStream KV cache; writes are for
//! admins (checked here, by the runtime, from the endpoint's access level),
//! go to SurrealDB in one transaction with a revision bump, refresh the cache
//! and publish an `events.admin.*` event.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod audit;
mod handlers;
mod reports;
mod store;
mod system;

pub use store::{AdminError, AdminStore};

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::admin::{
    DeleteCategory, GetCategory, GetSite, ListCategories, UpdateSite, UpsertCategory,
};
use bazaar_subjects::system::GetSystem;

/// Serves the admin domain until `shutdown`.
pub async fn run(ctx: NodeContext, db: Db, shutdown: Shutdown) -> Result<(), NodeError> {
    let store = AdminStore::open(&ctx, db).await?;
    let _outbox = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
        store.outbox.clone().run(shutdown.clone()),
    ));
    Node::new(ctx, Domain::Admin, "site configuration and categories")
        .with_state(store)
        .serve::<ListCategories>(handlers::list_categories)
        .serve::<GetCategory>(handlers::get_category)
        .serve::<UpsertCategory>(handlers::upsert_category)
        .serve::<DeleteCategory>(handlers::delete_category)
        .serve::<GetSite>(handlers::get_site)
        .serve::<UpdateSite>(handlers::update_site)
        .serve::<GetSystem>(handlers::system)
        .serve::<bazaar_subjects::console::SearchAudit>(audit::search)
        .serve::<bazaar_subjects::console::FileReportEndpoint>(reports::file)
        .serve::<bazaar_subjects::console::ListReports>(reports::list)
        .serve::<bazaar_subjects::console::ResolveReportEndpoint>(reports::resolve)
        .run(shutdown)
        .await
}

/// The demo categories `bazaar seed` creates on an empty site.
pub const DEMO_CATEGORIES: &[(&str, &[&str])] = &[
    ("Electronics", &["Phones", "Laptops", "Audio", "Cameras"]),
    ("Fashion", &["Women", "Men", "Shoes", "Accessories"]),
    (
        "Home & Garden",
        &["Kitchen", "Furniture", "Garden", "Decor"],
    ),
    ("Sports & Outdoors", &["Fitness", "Camping", "Cycling"]),
    ("Books", &["Fiction", "Non-fiction", "Children"]),
    ("Beauty", &["Skincare", "Makeup", "Fragrance"]),
];

/// Creates the demo categories when there are none; does nothing otherwise.
pub async fn seed(store: &AdminStore) -> Result<usize, AdminError> {
    if !store.categories().await?.categories.is_empty() {
        return Ok(0);
    }
    for (position, (name, subs)) in DEMO_CATEGORIES.iter().enumerate() {
        store
            .upsert_category(bazaar_subjects::admin::CategoryInput {
                slug: None,
                name: (*name).to_owned(),
                position: Some(position as i64),
                subcategories: subs.iter().map(|s| (*s).to_owned()).collect(),
            })
            .await?;
    }
    Ok(DEMO_CATEGORIES.len())
}
