//! The admin domain's data: SurrealDB for truth, KV for the cache.

use bazaar_outbox::{Relay, WRITE_ONE};
use bazaar_runtime::cache::RevisionCache;
use bazaar_runtime::jetstream::{ensure_kv, ensure_stream};
use bazaar_runtime::{NodeContext, NodeError};
use bazaar_schema::audit::{self, Audit};
use bazaar_schema::{Db, take_rows};
use bazaar_subjects::admin::{
    self, Category, CategoryChanged, CategoryInput, CategoryList, SiteConfig, SiteConfigUpdate,
    SiteUpdated, Subcategory,
};
use bazaar_subjects::{ErrorEnvelope, Validator};
use serde::Deserialize;

use bazaar_subjects::admin::CACHE_BUCKET;
const CATEGORIES_KEY: &str = "categories";
const SITE_KEY: &str = "site";

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 404: no category with that slug.
    #[error("no category `{0}`")]
    NoSuchCategory(String),
    /// 422: invalid input, per field.
    #[error("invalid input")]
    Invalid(ErrorEnvelope),
    /// 404: no report with that id.
    #[error("no such report")]
    NoSuchReport,
    /// 409: the report is resolved already.
    #[error("report resolved already")]
    ReportResolved,
    /// 500: a write did not commit.
    #[error(transparent)]
    Write(#[from] bazaar_schema::TransactionError),
    /// 500: the database failed.
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
    /// 500: the database answered in an unexpected shape.
    #[error(transparent)]
    Schema(#[from] bazaar_schema::SchemaError),
    /// 500: the system report could not be gathered.
    #[error(transparent)]
    Inspect(#[from] crate::system::InspectError),
}

impl From<AdminError> for ErrorEnvelope {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NoSuchCategory(slug) => {
                ErrorEnvelope::not_found(format!("there is no category `{slug}`"))
            }
            AdminError::Invalid(envelope) => envelope,
            AdminError::NoSuchReport => ErrorEnvelope::not_found("there is no such report"),
            AdminError::ReportResolved => {
                ErrorEnvelope::conflict("this report is resolved already")
            }
            other => bazaar_runtime::internal(other),
        }
    }
}

#[derive(Clone)]
pub struct AdminStore {
    db: Db,
    cache: RevisionCache,
    inspector: crate::system::Inspector,
    /// Publishes the events written with each change.
    pub(crate) outbox: Relay,
}

#[derive(Deserialize)]
struct SiteRow {
    name: String,
    tagline: String,
    logo_url: Option<String>,
    banner_url: Option<String>,
    revision: u64,
}

/// `CategoryChanged` (`$change`, `$slug`), written by the transaction that
/// changes a category, after it has moved the tree's revision on (see the
/// outbox).
const CATEGORY_CHANGED: &str = concat!(
    "LET $rev = (SELECT VALUE value FROM ONLY revision:categories);
    LET $event_id = 'category-' + <string>$rev;
    LET $event = { slug: $slug, change: $change, revision: $rev };",
    bazaar_outbox::write_one!()
);

impl AdminStore {
    /// Sets up the event stream and cache bucket (idempotently).
    pub async fn open(ctx: &NodeContext, db: Db) -> Result<Self, NodeError> {
        ensure_stream(&ctx.jetstream, admin::EVENTS).await?;
        let kv = ensure_kv(&ctx.jetstream, CACHE_BUCKET, std::time::Duration::ZERO).await?;
        Ok(Self {
            outbox: Relay::for_node(ctx, db.clone()),
            db,
            cache: RevisionCache::new(kv),
            inspector: crate::system::Inspector::new(ctx.nats.clone(), ctx.jetstream.clone()),
        })
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Which nodes run, their traffic and failures, and JetStream's state.
    pub async fn system_report(&self) -> Result<bazaar_subjects::system::SystemReport, AdminError> {
        Ok(self.inspector.report().await?)
    }

    /// Every category in display order, from the cache when it has them.
    pub async fn categories(&self) -> Result<CategoryList, AdminError> {
        if let Some(list) = self.cache.get::<CategoryList>(CATEGORIES_KEY).await {
            return Ok(list);
        }
        let (revision, list) = self.load_categories().await?;
        self.cache.put(CATEGORIES_KEY, revision, &list).await;
        Ok(list)
    }

    pub async fn category(&self, slug: &str) -> Result<Category, AdminError> {
        self.categories()
            .await?
            .categories
            .into_iter()
            .find(|c| c.slug == slug)
            .ok_or_else(|| AdminError::NoSuchCategory(slug.to_owned()))
    }

    /// Reads the revision and the list in one transaction (revision first, so
    /// the list is never older than the revision it is cached under).
    async fn load_categories(&self) -> Result<(u64, CategoryList), AdminError> {
        let mut res = self
            .db
            // No RETURN inside a transaction: it would end the block early.
            .query(
                "BEGIN TRANSACTION;
                 revision:categories.value ?? 0;
                 SELECT slug, name, position, subcategories FROM category ORDER BY position, name;
                 COMMIT TRANSACTION;",
            )
            .await?
            .check()?;
        // Statement 0 is BEGIN.
        let revision: Option<i64> = res.take(1)?;
        let categories: Vec<Category> = take_rows(&mut res, 2)?;
        Ok((revision.unwrap_or(0) as u64, CategoryList { categories }))
    }

    pub async fn upsert_category(&self, input: CategoryInput) -> Result<Category, AdminError> {
        self.upsert_category_as(input, None).await
    }

    /// Creates or replaces a category; with `audit`, the admin's action is
    /// recorded in the same transaction, with the category before and after.
    pub async fn upsert_category_as(
        &self,
        input: CategoryInput,
        audit: Option<&Audit>,
    ) -> Result<Category, AdminError> {
        let category = validate_category(input)?;
        let record = if audit.is_some() { audit::RECORD } else { "" };
        let mut res = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 LET $before = (SELECT slug, name, position, subcategories FROM type::record('category', $slug))[0];
                 LET $position = $given ?? (SELECT VALUE position FROM ONLY type::record('category', $slug)) ?? (count(SELECT * FROM category));
                 UPSERT type::record('category', $slug) CONTENT {{ slug: $slug, name: $name, position: $position, subcategories: $subs }} RETURN NONE;
                 UPSERT revision:categories SET value = (value ?? 0) + 1 RETURN NONE;
                 SELECT slug, name, position, subcategories FROM ONLY type::record('category', $slug);
                 LET $after = (SELECT slug, name, position, subcategories FROM type::record('category', $slug))[0];
                 {record}
                 {CATEGORY_CHANGED}
                 COMMIT TRANSACTION;",
            ))
            .bind(audit_binding(audit))
            .bind(("change", "upserted"))
            .bind(("subject", <CategoryChanged as bazaar_subjects::Event>::SUBJECT))
            .bind(("slug", category.slug.clone()))
            .bind(("name", category.name.clone()))
            .bind(("given", category.position))
            .bind(("subs", serde_json::to_value(&category.subcategories).unwrap_or_default()))
            .await?
            .check()?;
        // Statement 0 is BEGIN, then two LETs and two UPSERTs.
        let stored: Option<serde_json::Value> = res.take(5)?;
        let stored: Category = serde_json::from_value(stored.unwrap_or_default())
            .map_err(bazaar_schema::SchemaError::from)?;
        self.after_category_change().await?;
        Ok(stored)
    }

    pub async fn delete_category(&self, slug: &str) -> Result<(), AdminError> {
        self.delete_category_as(slug, None).await
    }

    /// Deletes a category; with `audit`, recorded in the same transaction.
    pub async fn delete_category_as(
        &self,
        slug: &str,
        audit: Option<&Audit>,
    ) -> Result<(), AdminError> {
        let record = if audit.is_some() { audit::RECORD } else { "" };
        let mut res = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 LET $gone = DELETE type::record('category', $slug) RETURN BEFORE;
                 IF array::len($gone) > 0 {{ UPSERT revision:categories SET value = (value ?? 0) + 1 RETURN NONE; }};
                 array::len($gone);
                 LET $before = (SELECT slug, name, position, subcategories FROM $gone)[0];
                 LET $after = NONE;
                 IF array::len($gone) > 0 {{ {record} }};
                 IF array::len($gone) > 0 {{ {CATEGORY_CHANGED} }};
                 COMMIT TRANSACTION;",
            ))
            .bind(audit_binding(audit))
            .bind(("change", "deleted"))
            .bind(("subject", <CategoryChanged as bazaar_subjects::Event>::SUBJECT))
            .bind(("slug", slug.to_owned()))
            .await?
            .check()?;
        let deleted: Option<i64> = res.take(3)?;
        if deleted.unwrap_or(0) == 0 {
            return Err(AdminError::NoSuchCategory(slug.to_owned()));
        }
        self.after_category_change().await
    }

    /// Refreshes the cache from the database; the change's event went into
    /// the outbox with it.
    async fn after_category_change(&self) -> Result<(), AdminError> {
        let (revision, list) = self.load_categories().await?;
        self.cache.put(CATEGORIES_KEY, revision, &list).await;
        self.outbox.sent().await;
        Ok(())
    }

    pub async fn site(&self) -> Result<SiteConfig, AdminError> {
        if let Some(site) = self.cache.get::<SiteConfig>(SITE_KEY).await {
            return Ok(site);
        }
        let site = self.load_site().await?;
        self.cache.put(SITE_KEY, site.revision, &site).await;
        Ok(site)
    }

    async fn load_site(&self) -> Result<SiteConfig, AdminError> {
        let mut res = self
            .db
            .query("SELECT name, tagline, logo_url, banner_url, revision FROM site:main")
            .await?
            .check()?;
        let row = take_rows::<SiteRow>(&mut res, 0)?.into_iter().next();
        Ok(row.map_or_else(default_site, |r| SiteConfig {
            name: r.name,
            tagline: r.tagline,
            logo_url: r.logo_url,
            banner_url: r.banner_url,
            revision: r.revision,
        }))
    }

    pub async fn update_site(&self, update: SiteConfigUpdate) -> Result<SiteConfig, AdminError> {
        self.update_site_as(update, None).await
    }

    /// Changes the site settings; with `audit`, recorded in the same
    /// transaction, with the settings before and after.
    pub async fn update_site_as(
        &self,
        update: SiteConfigUpdate,
        audit: Option<&Audit>,
    ) -> Result<SiteConfig, AdminError> {
        let update = validate_site(update)?;
        let defaults = default_site();
        let record = if audit.is_some() { audit::RECORD } else { "" };
        let mut res = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 LET $before = (SELECT name, tagline, logo_url, banner_url, revision FROM site:main)[0];
                 UPSERT site:main SET
                    name = $name ?? name ?? $default_name,
                    tagline = $tagline ?? tagline ?? $default_tagline,
                    logo_url = IF $logo_url = '' THEN NONE ELSE $logo_url ?? logo_url END,
                    banner_url = IF $banner_url = '' THEN NONE ELSE $banner_url ?? banner_url END,
                    revision = (revision ?? 0) + 1
                 RETURN name, tagline, logo_url, banner_url, revision;
                 LET $after = (SELECT name, tagline, logo_url, banner_url, revision FROM site:main)[0];
                 {record}
                 -- `SiteUpdated`, written with the change (see the outbox).
                 LET $event_id = 'site-' + <string>$after.revision;
                 LET $event = {{ revision: $after.revision }};
                 {WRITE_ONE}
                 COMMIT TRANSACTION;",
            ))
            .bind(audit_binding(audit))
            .bind(("subject", <SiteUpdated as bazaar_subjects::Event>::SUBJECT))
            .bind(("name", update.name))
            .bind(("tagline", update.tagline))
            .bind(("logo_url", update.logo_url))
            .bind(("banner_url", update.banner_url))
            .bind(("default_name", defaults.name))
            .bind(("default_tagline", defaults.tagline))
            .await?
            .check()?;
        // Statement 0 is BEGIN, 1 the LET.
        let row = take_rows::<SiteRow>(&mut res, 2)?
            .into_iter()
            .next()
            .ok_or_else(|| AdminError::Invalid(ErrorEnvelope::internal()))?;
        let site = SiteConfig {
            name: row.name,
            tagline: row.tagline,
            logo_url: row.logo_url,
            banner_url: row.banner_url,
            revision: row.revision,
        };
        self.cache.put(SITE_KEY, site.revision, &site).await;
        self.outbox.sent().await;
        Ok(site)
    }
}

/// `$audit` for [`audit::RECORD`], or nothing to record.
fn audit_binding(audit: Option<&Audit>) -> (&'static str, serde_json::Value) {
    audit.map_or(("audit", serde_json::Value::Null), Audit::bind)
}

fn default_site() -> SiteConfig {
    SiteConfig {
        name: "Bazaar".into(),
        tagline: "Everything, from everyone".into(),
        logo_url: None,
        banner_url: None,
        revision: 0,
    }
}

struct ValidCategory {
    slug: String,
    name: String,
    position: Option<i64>,
    subcategories: Vec<Subcategory>,
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn validate_category(input: CategoryInput) -> Result<ValidCategory, AdminError> {
    let name = input.name.trim().to_owned();
    let slug = input
        .slug
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| slug::slugify(&name));
    let subcategories: Vec<Subcategory> = input
        .subcategories
        .iter()
        .map(|n| Subcategory {
            slug: slug::slugify(n.trim()),
            name: n.trim().to_owned(),
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut v = Validator::default();
    v.check(!name.is_empty(), "name", "a category needs a name")
        .check(
            name.chars().count() <= 80,
            "name",
            "keep the name to 80 characters",
        )
        .check(
            is_slug(&slug),
            "slug",
            "use lowercase letters, digits and single dashes (at most 64)",
        )
        .check(
            input.position.is_none_or(|p| (0..=10_000).contains(&p)),
            "position",
            "position must be between 0 and 10000",
        )
        .check(
            subcategories.len() <= 100,
            "subcategories",
            "at most 100 subcategories",
        )
        .check(
            subcategories
                .iter()
                .all(|s| !s.name.is_empty() && s.name.chars().count() <= 80 && is_slug(&s.slug)),
            "subcategories",
            "every subcategory needs a name of 1 to 80 characters with letters or digits",
        )
        .check(
            subcategories.iter().all(|s| seen.insert(s.slug.clone())),
            "subcategories",
            "subcategory names must differ",
        );
    v.finish().map_err(AdminError::Invalid)?;
    Ok(ValidCategory {
        slug,
        name,
        position: input.position,
        subcategories,
    })
}

fn validate_site(update: SiteConfigUpdate) -> Result<SiteConfigUpdate, AdminError> {
    let name = update.name.map(|n| n.trim().to_owned());
    let tagline = update.tagline.map(|t| t.trim().to_owned());
    let url_ok = |u: &Option<String>| {
        u.as_deref().is_none_or(|u| {
            u.is_empty()
                || ((u.starts_with('/') || u.starts_with("https://") || u.starts_with("http://"))
                    && u.len() <= 2048)
        })
    };
    let mut v = Validator::default();
    v.check(
        name.as_deref()
            .is_none_or(|n| !n.is_empty() && n.chars().count() <= 80),
        "name",
        "the site name needs 1 to 80 characters",
    )
    .check(
        tagline.as_deref().is_none_or(|t| t.chars().count() <= 200),
        "tagline",
        "keep the tagline to 200 characters",
    )
    .check(
        url_ok(&update.logo_url),
        "logo_url",
        "use a path starting with / or an http(s) URL",
    )
    .check(
        url_ok(&update.banner_url),
        "banner_url",
        "use a path starting with / or an http(s) URL",
    );
    v.finish().map_err(AdminError::Invalid)?;
    Ok(SiteConfigUpdate {
        name,
        tagline,
        logo_url: update.logo_url,
        banner_url: update.banner_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_derived_and_checked() {
        let c = validate_category(CategoryInput {
            slug: None,
            name: "  Home & Garden ".into(),
            position: None,
            subcategories: vec!["Kitchen Tools".into()],
        })
        .map_err(|_| ())
        .unwrap();
        assert_eq!(c.slug, "home-garden");
        assert_eq!(c.name, "Home & Garden");
        assert_eq!(c.subcategories[0].slug, "kitchen-tools");
        for bad in ["", "Upper", "a--b", "-a", "a b", "é"] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn bad_categories_name_every_bad_field() {
        let Err(AdminError::Invalid(e)) = validate_category(CategoryInput {
            slug: Some("Bad Slug".into()),
            name: " ".into(),
            position: Some(-1),
            subcategories: vec!["A".into(), "a".into()],
        }) else {
            panic!("accepted");
        };
        let fields: Vec<_> = e.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "slug", "position", "subcategories"]);
    }
}
