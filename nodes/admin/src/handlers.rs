//! One async function per endpoint: unpacks the request and asks the store.

use bazaar_runtime::Request;
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

pub(crate) async fn upsert_category(
    s: &AdminStore,
    req: Request<CategoryInput>,
) -> Result<Category, AdminError> {
    s.upsert_category(req.body).await
}

pub(crate) async fn delete_category(
    s: &AdminStore,
    req: Request<CategorySlug>,
) -> Result<Empty, AdminError> {
    s.delete_category(&req.body.slug).await?;
    Ok(Empty {})
}

pub(crate) async fn get_site(s: &AdminStore, _: Request<Empty>) -> Result<SiteConfig, AdminError> {
    s.site().await
}

pub(crate) async fn update_site(
    s: &AdminStore,
    req: Request<SiteConfigUpdate>,
) -> Result<SiteConfig, AdminError> {
    s.update_site(req.body).await
}

pub(crate) async fn system(
    s: &AdminStore,
    _: Request<Empty>,
) -> Result<bazaar_subjects::system::SystemReport, AdminError> {
    s.system_report().await
}
