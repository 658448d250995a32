//! The admin domain: site configuration and the category tree.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Access, Domain, Empty, Endpoint, Event, Stream};

/// Every admin event: `events.admin.>`.
/// The admin node's key-value cache (categories, site settings).
pub const CACHE_BUCKET: &str = "admin_cache";

pub const EVENTS: Stream = Stream {
    name: "ADMIN_EVENTS",
    subjects: "events.admin.>",
};

/// A top-level category with its subcategories, as shoppers browse them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    /// URL-safe identifier, e.g. `home-garden`.
    pub slug: String,
    pub name: String,
    /// Display order, lowest first.
    pub position: i64,
    pub subcategories: Vec<Subcategory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Subcategory {
    pub slug: String,
    pub name: String,
}

/// All categories, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategoryList {
    pub categories: Vec<Category>,
}

/// Create or replace a category. The slug is derived from the name when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategoryInput {
    /// Lowercase letters, digits and single dashes, at most 64; derived
    /// from the name when absent.
    #[serde(default)]
    #[schema(pattern = r"^\s*[a-z0-9]+(-[a-z0-9]+)*\s*$")]
    pub slug: Option<String>,
    /// 1–80 characters once trimmed.
    #[schema(max_length = 80, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000)]
    pub position: Option<i64>,
    /// Subcategory names (at most 100); their slugs are derived.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub subcategories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CategorySlug {
    pub slug: String,
}

/// The site-wide look: name, tagline, logo and banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteConfig {
    pub name: String,
    pub tagline: String,
    /// Image URL, or absent for the built-in placeholder.
    pub logo_url: Option<String>,
    pub banner_url: Option<String>,
    /// Bumped on every change; caches compare it.
    pub revision: u64,
}

/// A partial update: absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteConfigUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tagline: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub banner_url: Option<String>,
}

/// `admin.categories.list`: every category, public, served from cache.
pub struct ListCategories;
impl Endpoint for ListCategories {
    const SUBJECT: &'static str = "admin.categories.list";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Public;
    type Request = Empty;
    type Reply = CategoryList;
}

/// `admin.category.get`: one category by slug, or `not_found`.
pub struct GetCategory;
impl Endpoint for GetCategory {
    const SUBJECT: &'static str = "admin.category.get";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Public;
    type Request = CategorySlug;
    type Reply = Category;
}

/// `admin.category.upsert`: admins create or replace a category.
pub struct UpsertCategory;
impl Endpoint for UpsertCategory {
    const SUBJECT: &'static str = "admin.category.upsert";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Admin;
    type Request = CategoryInput;
    type Reply = Category;
}

/// `admin.category.delete`: admins remove a category.
pub struct DeleteCategory;
impl Endpoint for DeleteCategory {
    const SUBJECT: &'static str = "admin.category.delete";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Admin;
    type Request = CategorySlug;
    type Reply = Empty;
}

/// `admin.site.get`: the site configuration, public.
pub struct GetSite;
impl Endpoint for GetSite {
    const SUBJECT: &'static str = "admin.site.get";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Public;
    type Request = Empty;
    type Reply = SiteConfig;
}

/// `admin.site.update`: admins change the site configuration.
pub struct UpdateSite;
impl Endpoint for UpdateSite {
    const SUBJECT: &'static str = "admin.site.update";
    const DOMAIN: Domain = Domain::Admin;
    const ACCESS: Access = Access::Admin;
    type Request = SiteConfigUpdate;
    type Reply = SiteConfig;
}

/// What happened to a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryChange {
    Upserted,
    Deleted,
}

/// `events.admin.category.changed`: a category was created, replaced or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryChanged {
    pub slug: String,
    pub change: CategoryChange,
    /// The category tree's revision after the change.
    pub revision: u64,
}
impl Event for CategoryChanged {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.admin.category.changed";
}

/// `events.admin.site.updated`: the site configuration changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteUpdated {
    pub revision: u64,
}
impl Event for SiteUpdated {
    const STREAM: Stream = EVENTS;
    const SUBJECT: &'static str = "events.admin.site.updated";
}
