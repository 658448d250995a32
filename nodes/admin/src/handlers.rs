//! One async function per endpoint: unpacks the request and asks the store.

use bazaar_runtime::Request;
use bazaar_schema::audit::Audit;
use bazaar_subjects::Empty;
use bazaar_subjects::admin::{
    Category, CategoryInput, CategoryList, CategorySlug, SiteConfig, SiteConfigUpdate,
};

use crate::{AdminError, AdminStore};

pub(crate) async fn list_categories(
    s: &AdminStore,
    _: Request<Empty>,
) -> Result<CategoryList, AdminError> {
    s.categories().await
}

pub(crate) async fn get_category(
    s: &AdminStore,
    req: Request<CategorySlug>,
) -> Result<Category, AdminError> {
    s.category(&req.body.slug).await
}

/// The audit record of an admin's request (the runtime let only admins in).
fn audit<T>(req: &Request<T>, action: &str, target_kind: &str, target: &str) -> Audit {
    Audit::new(
        req.caller.account_id().unwrap_or_default(),
        action,
        target_kind,
        target,
        &req.request_id,
    )
}

pub(crate) async fn upsert_category(
    s: &AdminStore,
    req: Request<CategoryInput>,
) -> Result<Category, AdminError> {
    // The slug the store derives when none is given, as the target.
    let target = req
        .body
        .slug
        .clone()
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| slug::slugify(req.body.name.trim()));
    let record = audit(&req, "category.upsert", "category", &target);
    s.upsert_category_as(req.body, Some(&record)).await
}

pub(crate) async fn delete_category(
    s: &AdminStore,
    req: Request<CategorySlug>,
) -> Result<Empty, AdminError> {
    let record = audit(&req, "category.delete", "category", &req.body.slug);
    s.delete_category_as(&req.body.slug, Some(&record)).await?;
    Ok(Empty {})
}

pub(crate) async fn get_site(s: &AdminStore, _: Request<Empty>) -> Result<SiteConfig, AdminError> {
    s.site().await
}

pub(crate) async fn update_site(
    s: &AdminStore,
    req: Request<SiteConfigUpdate>,
) -> Result<SiteConfig, AdminError> {
    let record = audit(&req, "site.update", "site", "main");
    s.update_site_as(req.body, Some(&record)).await
}

pub(crate) async fn system(
    s: &AdminStore,
    _: Request<Empty>,
) -> Result<bazaar_subjects::system::SystemReport, AdminError> {
    s.system_report().await
}
