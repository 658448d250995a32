//! Products: SurrealDB for truth, JetStream KV for hot reads.
//!
//! Two caches, both safe against stale data:
//! - a product page is cached under its slug with the row's own revision
//!   (bumped by every write), so a slow reader can never overwrite a newer
//!   copy ([`RevisionCache`]);
//! - the showcase's new arrivals are cached together with the
//!   catalog revision: the sequence number of the `revision` key, which
//!   every write bumps after committing and before answering. An answer
//!   read at an older catalog revision is never served once an edit has
//!   returned.
//!
//! Search, listings and suggestions are the search node's (fed by the
//! `events.catalog.product.changed` every write publishes).

use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::jetstream::object_store::ObjectStore;
use bazaar_outbox::Relay;
use bazaar_runtime::cache::RevisionCache;
use bazaar_runtime::jetstream::{ensure_kv, ensure_stream, publish_event};
use bazaar_runtime::{Caller, NodeContext, NodeError, Request};
use bazaar_schema::{Db, TransactionError, committed, take_rows, transaction_errors};
use bazaar_subjects::admin::{CategoryList, ListCategories};
use bazaar_subjects::catalog::{
    self, FlashSale, ListMyProductsRequest, Product, ProductChange, ProductChanged, ProductInput,
    ProductPage, ProductStatus, ProductSummary, ReservedLine, Showcase,
};
use bazaar_subjects::sellers::{GetMyShop, Shop};
use bazaar_subjects::{Empty, ErrorCode, Validator};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CatalogError;
use crate::validate::{self, ProductDoc};

use bazaar_subjects::catalog::{
    PRODUCT_CACHE_BUCKET as PRODUCT_CACHE, SEARCH_CACHE_BUCKET as SEARCH_CACHE,
};
const REVISION_KEY: &str = "revision";

/// Every field of a product, as the wire type spells it.
pub const PRODUCT_FIELDS: &str = "record::id(id) AS id, slug, shop_id, shop_slug, shop_name, \
    title, description, category, subcategory, tags, brand, colors, sizes, specifications, \
    properties, images, regular_price, sale_price, price, currency, stock, warranty, \
    cash_on_delivery, video_url, status, \
    IF event_starts THEN { starts_at: <string>event_starts, ends_at: <string>event_ends } END AS flash_sale, \
    false AS event_live, rating_avg, rating_count, sales, views, \
    <string>created_at AS created_at, <string>updated_at AS updated_at, \
    IF deleted_at THEN <string>deleted_at END AS deleted_at, \
    IF hidden_at THEN <string>hidden_at END AS hidden_at, shop_hidden, revision, seller";

/// What a result card shows, projected straight from a product row.
pub const SUMMARY_FIELDS: &str = "record::id(id) AS id, slug, title, images[0] AS image, \
    regular_price, sale_price, price, currency, stock > 0 AS in_stock, rating_avg, rating_count, \
    sales, shop_slug, shop_name, category, \
    IF event_starts THEN { starts_at: <string>event_starts, ends_at: <string>event_ends } END AS flash_sale, \
    false AS event_live, <string>created_at AS created_at";

/// A seller's filter on their product titles is cut past this (a search
/// box, not a document).
const MAX_FILTER_CHARS: usize = 200;

/// The fields a seller sets, from the bound `$d` (a [`ProductDoc`]).
const EDITABLE: &str = "title = $d.title, description = $d.description, \
    category = $d.category, subcategory = $d.subcategory, tags = $d.tags, brand = $d.brand, \
    colors = $d.colors, sizes = $d.sizes, specifications = $d.specifications, \
    properties = $d.properties, images = $d.images, regular_price = $d.regular_price, \
    sale_price = $d.sale_price, price = $d.price, currency = $d.currency, stock = $d.stock, \
    warranty = $d.warranty, cash_on_delivery = $d.cash_on_delivery, video_url = $d.video_url, \
    status = $d.status, search_text = $d.search_text, \
    event_starts = IF $d.event_starts THEN <datetime>$d.event_starts END, \
    event_ends = IF $d.event_ends THEN <datetime>$d.event_ends END, \
    updated_at = time::now()";

/// A product row with what only the node sees.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct StoredProduct {
    #[serde(flatten)]
    pub product: Product,
    pub revision: u64,
    pub seller: String,
}

impl StoredProduct {
    /// With `event_live` worked out for this moment.
    pub fn now(mut self) -> Self {
        self.product = with_event_state(self.product, OffsetDateTime::now_utc());
        self
    }
}

#[derive(Clone)]
pub struct CatalogStore {
    db: Db,
    nats: async_nats::Client,
    js: async_nats::jetstream::Context,
    /// Product pages by slug: the public `Product` alone, not the row
    /// (`StoredProduct` flattens it, and serde reads a flattened struct by
    /// buffering every field first, which made reading a cached page the
    /// dearest step of a product page). Entries written as whole rows read
    /// as pages too: the fields only the node sees are skipped.
    products: RevisionCache,
    searches: RevisionCache,
    search_kv: kv::Store,
    /// The images bucket, to see who uploaded an image.
    images: ObjectStore,
    timeout: Duration,
    /// Judges the viewers' tokens that views carry.
    verifier: std::sync::Arc<bazaar_runtime::TokenVerifier>,
    /// Publishes the events a seller's writes put in the outbox.
    pub(crate) outbox: Relay,
    /// Checkouts' stock, reserved together when they come together.
    pub(crate) reservations: Reservations,
    /// Products read by id, one read for the look-ups that come together.
    pub(crate) lookups: Lookups,
}

/// `ProductChanged` for every product id in `$announce` as the transaction
/// leaves it (`$change`, `$subject`), written by that transaction (see the
/// outbox); its id is the one a direct publish used: product, revision and
/// change (the purge keeps a product's last revision, so the change is part
/// of it).
macro_rules! products_changed {
    () => {
        concat!(
            "FOR $pid IN $announce {
            LET $p = (SELECT record::id(id) AS product_id, slug, shop_id, images, revision
                FROM ONLY type::record('product', $pid));
            LET $event_id = 'product-' + $p.product_id + '-' + <string>$p.revision + '-' + $change;
            LET $event = { product_id: $p.product_id, slug: $p.slug, shop_id: $p.shop_id, change: $change, images: $p.images };",
            bazaar_outbox::write_one!(),
            "};"
        )
    };
}

pub(crate) const PRODUCTS_CHANGED: &str = products_changed!();

/// [`PRODUCTS_CHANGED`] for the one product `$id`.
pub(crate) const PRODUCT_CHANGED: &str = concat!("LET $announce = [$id];", products_changed!());

/// The `$change` binding of [`PRODUCT_CHANGED`].
pub(crate) fn changed(change: ProductChange) -> (&'static str, serde_json::Value) {
    ("change", serde_json::to_value(change).unwrap_or_default())
}

impl CatalogStore {
    pub async fn open(ctx: &NodeContext, db: Db) -> Result<Self, NodeError> {
        ensure_stream(&ctx.jetstream, catalog::EVENTS).await?;
        let products = ensure_kv(&ctx.jetstream, PRODUCT_CACHE, Duration::from_secs(3600)).await?;
        let search_kv = ensure_kv(&ctx.jetstream, SEARCH_CACHE, Duration::from_secs(600)).await?;
        let images = bazaar_runtime::jetstream::ensure_object_store(
            &ctx.jetstream,
            bazaar_subjects::catalog::IMAGES_BUCKET,
        )
        .await?;
        Ok(Self {
            outbox: Relay::for_node(ctx, db.clone()),
            reservations: reservations(db.clone(), ctx.group_commit),
            lookups: lookups(db.clone(), ctx.group_commit),
            db,
            nats: ctx.nats.clone(),
            js: ctx.jetstream.clone(),
            products: RevisionCache::new(products),
            searches: RevisionCache::new(search_kv.clone()),
            search_kv,
            images,
            timeout: ctx.request_timeout,
            verifier: ctx.verifier.clone(),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn verifier(&self) -> &bazaar_runtime::TokenVerifier {
        &self.verifier
    }

    pub fn jetstream(&self) -> &async_nats::jetstream::Context {
        &self.js
    }

    /// The caller's shop, asked of the sellers node on the caller's behalf.
    async fn my_shop<T>(&self, req: &Request<T>) -> Result<Shop, CatalogError> {
        bazaar_runtime::call::<GetMyShop>(&self.nats, &req.onward(), &Empty {}, self.timeout)
            .await
            .map_err(|e| match e.code {
                ErrorCode::NotFound => CatalogError::NoShop,
                _ => CatalogError::Upstream(e),
            })
    }

    async fn categories<T>(&self, req: &Request<T>) -> Result<CategoryList, CatalogError> {
        bazaar_runtime::call::<ListCategories>(&self.nats, &req.onward(), &Empty {}, self.timeout)
            .await
            .map_err(CatalogError::Upstream)
    }

    /// Refuses images the seller may not put on a product: each must be
    /// one they uploaded, their shop's logo or banner, or one the product
    /// shows already (`kept`). The shop is asked for only when needed.
    async fn check_images<T>(
        &self,
        req: &Request<T>,
        seller: &str,
        images: &[String],
        kept: &[String],
        shop: Option<&Shop>,
    ) -> Result<(), CatalogError> {
        let mut shop_images = shop.map(crate::images::of_shop);
        for image in images {
            if kept.contains(image)
                || crate::images::uploader(&self.images, image)
                    .await
                    .as_deref()
                    == Some(seller)
            {
                continue;
            }
            if shop_images.is_none() {
                shop_images = Some(match self.my_shop(req).await {
                    Ok(shop) => crate::images::of_shop(&shop),
                    Err(CatalogError::NoShop) => Vec::new(),
                    Err(e) => return Err(e),
                });
            }
            if !shop_images.as_ref().is_some_and(|s| s.contains(image)) {
                return Err(crate::images::not_yours());
            }
        }
        Ok(())
    }

    fn seller(caller: &Caller) -> Result<String, CatalogError> {
        caller
            .account_id()
            .map(str::to_owned)
            .ok_or_else(|| CatalogError::Conflict("sign in as a seller".into()))
    }

    pub async fn create(&self, req: &Request<ProductInput>) -> Result<Product, CatalogError> {
        let seller = Self::seller(&req.caller)?;
        let shop = self.my_shop(req).await?;
        let categories = self.categories(req).await?;
        let doc = validate::validate(&req.body, &categories, OffsetDateTime::now_utc())?;
        self.check_images(req, &seller, &doc.images, &[], Some(&shop))
            .await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let base = base_slug(&doc.title);
        let mut attempt = 0;
        loop {
            let slug = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6])
            };
            let result = self
                .db
                .query(format!(
                    "BEGIN TRANSACTION;
                     CREATE type::record('product', $id) SET seller = $seller, shop_id = $shop_id,
                        shop_slug = $shop_slug, shop_name = $shop_name, slug = $slug,
                        shop_hidden = $shop_hidden, live = $d.status = 'active' AND !$shop_hidden,
                        {EDITABLE} RETURN NONE;
                     {PRODUCT_CHANGED}
                     COMMIT TRANSACTION;"
                ))
                .bind(changed(ProductChange::Created))
                .bind((
                    "subject",
                    <ProductChanged as bazaar_subjects::Event>::SUBJECT,
                ))
                .bind(("id", id.clone()))
                .bind(("seller", seller.clone()))
                .bind(("shop_id", shop.id.clone()))
                .bind(("shop_slug", shop.slug.clone()))
                .bind(("shop_name", shop.name.clone()))
                .bind(("shop_hidden", shop.hidden_at.is_some()))
                .bind(("slug", slug))
                .bind(("d", serde_json::to_value(&doc)?))
                .await;
            match transaction_errors(result) {
                Ok(()) => break,
                // The slug is taken: try another.
                Err(TransactionError::Unique { .. }) if attempt < 4 => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
        let stored = self
            .load_by_id(&id)
            .await?
            .ok_or(CatalogError::NoSuchProduct(id))?;
        self.after_write(&stored).await;
        Ok(stored.product)
    }

    /// One of the caller's products, in whatever state (404 for anyone else's).
    pub async fn mine(&self, caller: &Caller, id: &str) -> Result<StoredProduct, CatalogError> {
        let seller = Self::seller(caller)?;
        match self.load_by_id(id).await? {
            Some(p) if p.seller == seller => Ok(p),
            _ => Err(CatalogError::NoSuchProduct(id.to_owned())),
        }
    }

    pub async fn update(
        &self,
        req: &Request<catalog::UpdateProduct>,
    ) -> Result<Product, CatalogError> {
        let current = self.mine(&req.caller, &req.body.id).await?;
        if current.product.deleted_at.is_some() {
            return Err(CatalogError::Conflict(
                "this product is in the bin: restore it before editing".into(),
            ));
        }
        let categories = self.categories(req).await?;
        let doc: ProductDoc =
            validate::validate(&req.body.product, &categories, OffsetDateTime::now_utc())?;
        self.check_images(
            req,
            &current.seller,
            &doc.images,
            &current.product.images,
            None,
        )
        .await?;
        let result = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 UPDATE type::record('product', $id) SET {EDITABLE},
                    live = $d.status = 'active' AND deleted_at = NONE AND hidden_at = NONE AND !shop_hidden, revision += 1
                 WHERE seller = $seller RETURN NONE;
                 {PRODUCT_CHANGED}
                 COMMIT TRANSACTION;"
            ))
            .bind(changed(ProductChange::Updated))
            .bind(("subject", <ProductChanged as bazaar_subjects::Event>::SUBJECT))
            .bind(("id", req.body.id.clone()))
            .bind(("seller", current.seller.clone()))
            .bind(("d", serde_json::to_value(&doc)?))
            .await;
        transaction_errors(result)?;
        let stored = self
            .load_by_id(&req.body.id)
            .await?
            .ok_or_else(|| CatalogError::NoSuchProduct(req.body.id.clone()))?;
        self.after_write(&stored).await;
        Ok(stored.product)
    }

    /// Into the bin (idempotent); the purge job removes it a day later.
    pub async fn delete(&self, caller: &Caller, id: &str) -> Result<Product, CatalogError> {
        let current = self.mine(caller, id).await?;
        if current.product.deleted_at.is_some() {
            return Ok(current.product);
        }
        let result = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 UPDATE type::record('product', $id)
                    SET deleted_at = time::now(), live = false, revision += 1, updated_at = time::now()
                 WHERE seller = $seller AND deleted_at = NONE RETURN NONE;
                 {PRODUCT_CHANGED}
                 COMMIT TRANSACTION;"
            ))
            .bind(changed(ProductChange::Deleted))
            .bind(("subject", <ProductChanged as bazaar_subjects::Event>::SUBJECT))
            .bind(("id", id.to_owned()))
            .bind(("seller", current.seller.clone()))
            .await;
        transaction_errors(result)?;
        let stored = self
            .load_by_id(id)
            .await?
            .ok_or_else(|| CatalogError::NoSuchProduct(id.to_owned()))?;
        self.after_write(&stored).await;
        Ok(stored.product)
    }

    pub async fn restore(&self, caller: &Caller, id: &str) -> Result<Product, CatalogError> {
        let current = self.mine(caller, id).await?;
        if current.product.deleted_at.is_none() {
            return Ok(current.product);
        }
        let result = self
            .db
            .query(format!(
                "BEGIN TRANSACTION;
                 UPDATE type::record('product', $id)
                    SET deleted_at = NONE, live = status = 'active' AND hidden_at = NONE AND !shop_hidden, revision += 1, updated_at = time::now()
                 WHERE seller = $seller RETURN NONE;
                 {PRODUCT_CHANGED}
                 COMMIT TRANSACTION;"
            ))
            .bind(changed(ProductChange::Restored))
            .bind(("subject", <ProductChanged as bazaar_subjects::Event>::SUBJECT))
            .bind(("id", id.to_owned()))
            .bind(("seller", current.seller.clone()))
            .await;
        transaction_errors(result)?;
        let stored = self
            .load_by_id(id)
            .await?
            .ok_or_else(|| CatalogError::NoSuchProduct(id.to_owned()))?;
        self.after_write(&stored).await;
        Ok(stored.product)
    }

    pub async fn list_mine(
        &self,
        caller: &Caller,
        req: &ListMyProductsRequest,
    ) -> Result<ProductPage, CatalogError> {
        let seller = Self::seller(caller)?;
        let page = req.page.unwrap_or(1);
        let page_size = req.page_size.unwrap_or(20);
        let order = match req.sort.as_deref().unwrap_or("newest") {
            "newest" => Some("created_at DESC"),
            "oldest" => Some("created_at ASC"),
            "title" => Some("title ASC"),
            "price_asc" => Some("price ASC"),
            "price_desc" => Some("price DESC"),
            "stock" => Some("stock ASC"),
            "sales" => Some("sales DESC"),
            _ => None,
        };
        let mut v = Validator::default();
        v.check((1..=10_000).contains(&page), "page", "pages start at 1")
            .check(
                (1..=100).contains(&page_size),
                "page_size",
                "a page holds 1 to 100 products",
            )
            .check(
                order.is_some(),
                "sort",
                "sort by newest, oldest, title, price_asc, price_desc, stock or sales",
            );
        v.finish().map_err(CatalogError::Invalid)?;
        let mut cond = vec!["seller = $seller"];
        cond.push(if req.deleted {
            "deleted_at != NONE"
        } else {
            "deleted_at = NONE"
        });
        if req.status.is_some() {
            cond.push("status = $status");
        }
        let q = title_filter(req.q.as_deref());
        if q.is_some() {
            cond.push("string::contains(string::lowercase(title), $q)");
        }
        let cond = cond.join(" AND ");
        let mut res = self
            .db
            .query(format!(
                "SELECT {PRODUCT_FIELDS} FROM product WHERE {cond} ORDER BY {} LIMIT $limit START $start;
                 SELECT count() AS total FROM product WHERE {cond} GROUP ALL;",
                order.unwrap_or("created_at DESC")
            ))
            .bind(("seller", seller))
            .bind((
                "status",
                match req.status {
                    Some(ProductStatus::Draft) => "draft",
                    _ => "active",
                },
            ))
            .bind(("q", q))
            .bind(("limit", page_size))
            .bind(("start", (page - 1) * page_size))
            .await?
            .check()?;
        let rows: Vec<StoredProduct> = take_rows(&mut res, 0)?;
        let total = take_rows::<serde_json::Value>(&mut res, 1)?
            .first()
            .and_then(|t| t["total"].as_i64())
            .unwrap_or(0);
        let now = OffsetDateTime::now_utc();
        Ok(ProductPage {
            items: rows
                .into_iter()
                .map(|r| with_event_state(r.product, now))
                .collect(),
            total,
            page,
            page_size,
            pages: u32::try_from((total + i64::from(page_size) - 1) / i64::from(page_size))
                .unwrap_or(u32::MAX),
        })
    }

    pub async fn load_by_id(&self, id: &str) -> Result<Option<StoredProduct>, CatalogError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {PRODUCT_FIELDS} FROM type::record('product', $id)"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .next()
            .map(StoredProduct::now))
    }

    async fn load_by_slug(&self, slug: &str) -> Result<Option<StoredProduct>, CatalogError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {PRODUCT_FIELDS} FROM product WHERE slug = $slug LIMIT 1"
            ))
            .bind(("slug", slug.to_owned()))
            .await?
            .check()?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .next()
            .map(StoredProduct::now))
    }

    /// A live product's page, from the cache when it has it.
    pub async fn get_public(&self, slug: &str) -> Result<Product, CatalogError> {
        let slug = slug.trim();
        let key = product_key(slug).ok_or_else(|| CatalogError::NoSuchProduct(slug.to_owned()))?;
        let product = match self.products.get::<Product>(&key).await {
            Some(product) => product,
            None => {
                let p = self
                    .load_by_slug(slug)
                    .await?
                    .ok_or_else(|| CatalogError::NoSuchProduct(slug.to_owned()))?;
                self.products.put(&key, p.revision, &p.product).await;
                p.product
            }
        };
        if !product.shown_to_buyers() {
            return Err(CatalogError::NoSuchProduct(slug.to_owned()));
        }
        Ok(with_event_state(product, OffsetDateTime::now_utc()))
    }

    /// The catalog revision: bumped (after commit) by every write.
    async fn revision(&self) -> u64 {
        match self.search_kv.entry(REVISION_KEY).await {
            Ok(Some(entry)) => entry.revision,
            Ok(None) => 0,
            Err(e) => {
                tracing::warn!(error = %e, "catalog revision unreadable");
                u64::MAX
            }
        }
    }

    /// Runs `compute` unless the search cache holds its answer at the current
    /// catalog revision.
    async fn cached<T, F, Fut>(&self, key: String, compute: F) -> Result<T, CatalogError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, CatalogError>>,
    {
        let revision = self.revision().await;
        if revision != u64::MAX
            && let Some((held, value)) = self.searches.get_with_revision::<T>(&key).await
            && held == revision
        {
            return Ok(value);
        }
        let value = compute().await?;
        if revision != u64::MAX {
            self.searches.put(&key, revision, &value).await;
        }
        Ok(value)
    }

    pub async fn showcase(&self) -> Result<Showcase, CatalogError> {
        let new_arrivals = self
            .cached("showcase.new".to_owned(), || async {
                let mut res = self
                    .db
                    .query(format!(
                        "SELECT {SUMMARY_FIELDS} FROM product WHERE live = true ORDER BY created_at DESC LIMIT 12"
                    ))
                    .await?
                    .check()?;
                Ok::<_, CatalogError>(take_rows::<ProductSummary>(&mut res, 0)?)
            })
            .await?;
        // The index on the sale's end, named: left to itself the planner
        // walks every live product (`product_live_category_created`) and sorts, a
        // tenth of a second at 10,000 products on every home page; the
        // end's index reads only the sales not yet over, in order.
        let mut res = self
            .db
            .query(format!(
                "SELECT {SUMMARY_FIELDS}, event_ends FROM product WITH INDEX product_event_ends
                   WHERE event_ends > time::now() AND event_starts <= time::now() AND live = true
                   ORDER BY event_ends ASC LIMIT 12"
            ))
            .await?
            .check()?;
        let mut events: Vec<ProductSummary> = take_rows(&mut res, 0)?;
        let now = OffsetDateTime::now_utc();
        for item in &mut events {
            item.event_live = true;
        }
        let new_arrivals = new_arrivals
            .into_iter()
            .map(|mut item| {
                item.event_live = is_live(item.flash_sale.as_ref(), now);
                item
            })
            .collect();
        Ok(Showcase {
            events,
            new_arrivals,
        })
    }

    /// After a committed write: refresh the product's cache entry, move the
    /// catalog revision on (invalidating cached searches), tell listeners.
    ///
    /// For changes that are safe without the outbox: those the listeners
    /// make from an event (a redelivered event announces again, under the
    /// same id) and stock moves, which stay off the outbox to keep the
    /// checkout's transaction short (a crash between the commit and this
    /// publish leaves the search index's stock of those products behind
    /// until their next change).
    pub async fn after_change(&self, stored: &StoredProduct, change: ProductChange) {
        self.cache_product(stored).await;
        self.bump_revision().await;
        let event = ProductChanged {
            product_id: stored.product.id.clone(),
            slug: stored.product.slug.clone(),
            shop_id: stored.product.shop_id.clone(),
            change,
            images: stored.product.images.clone(),
        };
        // The purge keeps the row's last revision, so the change is part of the id.
        let dedupe = format!(
            "product-{}-{}-{change:?}",
            stored.product.id, stored.revision
        );
        if let Err(e) = publish_event(&self.js, &event, &dedupe).await {
            tracing::warn!(error = %e, "product event not published");
        }
    }

    /// After a committed write whose `ProductChanged` went into the outbox
    /// with it: refresh the cache entry and the catalog revision, and send
    /// the event now.
    pub(crate) async fn after_write(&self, stored: &StoredProduct) {
        self.cache_product(stored).await;
        self.bump_revision().await;
        self.outbox.sent().await;
    }

    /// Puts a product's current row in the page cache (a newer one wins).
    pub async fn cache_product(&self, stored: &StoredProduct) {
        if let Some(key) = product_key(&stored.product.slug) {
            self.products
                .put(&key, stored.revision, &stored.product)
                .await;
        }
    }

    pub async fn bump_revision(&self) {
        if let Err(e) = self.search_kv.put(REVISION_KEY, "bump".into()).await {
            // Without the bump cached searches could go stale: drop them all.
            tracing::error!(error = %e, "catalog revision not bumped; purging the search cache");
            if let Ok(mut keys) = self.search_kv.keys().await {
                use futures::StreamExt;
                while let Some(Ok(k)) = keys.next().await {
                    let _ = self.search_kv.purge(&k).await;
                }
            }
        }
    }
}

/// Whether a flash sale is running at `now`.
pub fn is_live(sale: Option<&FlashSale>, now: OffsetDateTime) -> bool {
    let Some(sale) = sale else { return false };
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
    matches!(
        (parse(&sale.starts_at), parse(&sale.ends_at)),
        (Some(s), Some(e)) if s <= now && now < e
    )
}

fn with_event_state(mut p: Product, now: OffsetDateTime) -> Product {
    p.event_live = is_live(p.flash_sale.as_ref(), now);
    p
}

/// The cache key of a product page; `None` for slugs no product can have.
fn product_key(slug: &str) -> Option<String> {
    let ok = !slug.is_empty()
        && slug.len() <= 120
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| format!("p.{slug}"))
}

/// A seller's filter on their own product titles: control characters and
/// runs of spaces folded, lowercased; `None` when nothing is left to match.
fn title_filter(q: Option<&str>) -> Option<String> {
    let cleaned: String = q?
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_FILTER_CHARS)
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    words
        .chars()
        .any(char::is_alphanumeric)
        .then(|| words.to_lowercase())
}

/// A readable, URL-safe slug from a title (a suffix is added on collision).
pub fn base_slug(title: &str) -> String {
    let mut slug = slug::slugify(title);
    if slug.len() > 80 {
        slug.truncate(80);
        slug = slug.trim_end_matches('-').to_owned();
    }
    if slug.is_empty() {
        slug = "product".to_owned();
    }
    slug
}

// Stock reservations and look-ups by id, written together when they come
// together (see `bazaar_schema::group`); `crate::stock` uses them.

/// A reservation in one transaction: each decrement only happens where the
/// product is for sale and enough stock remains, and anything short throws,
/// undoing the whole transaction (every line). The reservation's lines are
/// the products as the transaction sold them (price, title, seller …), and
/// the products are read back after it, for the page cache and the index.
/// `RETURN_LINES` ends the reservation's `CREATE`.
static RESERVE_BODY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    "FOR $l IN $plan {
        LET $taken = UPDATE type::record('product', $l.product_id)
            SET stock -= $l.quantity, revision += 1, updated_at = time::now()
            WHERE live = true AND stock >= $l.quantity
            RETURN VALUE id;
        IF array::len($taken) = 0 { THROW 'short:' + $l.product_id; };
    };
    LET $after = SELECT PRODUCT_FIELDS FROM array::map($ids, |$i| type::record('product', $i));
    CREATE type::record('stock_reservation', $rid) SET owner = $owner, release_hash = $release_hash,
        lines = (SELECT id AS product_id, slug, title, images[0] AS image, shop_id, shop_name,
                    seller, price AS unit_price, currency, $quantities[id] AS quantity,
                    cash_on_delivery, IF category != '' THEN category END AS category
                 FROM $after)
        RETURN_LINES;"
        .replace("PRODUCT_FIELDS", PRODUCT_FIELDS)
});

/// One reservation alone: its lines, then the products as it left them.
pub(crate) static RESERVE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "BEGIN TRANSACTION; {} $after; COMMIT TRANSACTION;",
        RESERVE_BODY.replace("RETURN_LINES", "RETURN VALUE lines")
    )
});

/// What one reservation reads: the variables of [`RESERVE_BODY`].
const RESERVE_VARIABLES: [&str; 6] = ["plan", "quantities", "rid", "owner", "release_hash", "ids"];

/// Reservations made at the same moment, in one transaction: every
/// reservation's lines by id, then every product they took from.
static RESERVE_BATCH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    bazaar_schema::group::batch_sql(
        &RESERVE_BODY.replace("RETURN_LINES", "RETURN NONE"),
        &RESERVE_VARIABLES,
        &format!(
            "SELECT record::id(id) AS id, lines FROM array::map($rids, |$i| type::record('stock_reservation', $i));
             SELECT {PRODUCT_FIELDS} FROM array::map($all_ids, |$i| type::record('product', $i));"
        ),
    )
});

/// A reservation's lines and the products it took from, as it left them.
pub(crate) type Reserved = Result<(Vec<ReservedLine>, Vec<StoredProduct>), CatalogError>;

/// Reservations waiting to be written together.
pub(crate) type Reservations = bazaar_schema::group::GroupCommit<serde_json::Value, Reserved>;

/// Starts the reservation group of this node copy (`max_batch` 1 writes
/// each reservation alone).
pub(crate) fn reservations(db: bazaar_schema::Db, max_batch: usize) -> Reservations {
    bazaar_schema::group::GroupCommit::on_db(
        "stock reserved",
        db,
        max_batch,
        |db, batch| async move { write_reservations(&db, batch).await },
    )
}

/// Writes reservations (each an object of [`RESERVE_VARIABLES`]): together
/// when there are several and none is short, else each on its own, once
/// (the caller retries a collision).
async fn write_reservations(
    db: &bazaar_schema::Db,
    batch: Vec<serde_json::Value>,
) -> Vec<Reserved> {
    bazaar_schema::group::together_or_alone(
        "stock reserved",
        &batch,
        || reserve_together(db, &batch),
        |r| reserve_alone(db, r),
    )
    .await
}

async fn reserve_together(
    db: &bazaar_schema::Db,
    batch: &[serde_json::Value],
) -> Result<Vec<(Vec<ReservedLine>, Vec<StoredProduct>)>, CatalogError> {
    #[derive(Deserialize)]
    struct Made {
        id: String,
        lines: Vec<ReservedLine>,
    }
    let rids: Vec<&serde_json::Value> = batch.iter().map(|r| &r["rid"]).collect();
    let mut all_ids: Vec<&str> = batch
        .iter()
        .filter_map(|r| r["ids"].as_array())
        .flatten()
        .filter_map(|i| i.as_str())
        .collect();
    all_ids.sort_unstable();
    all_ids.dedup();
    let result = db
        .query(RESERVE_BATCH_SQL.as_str())
        .bind(("writes", serde_json::Value::Array(batch.to_vec())))
        .bind(("rids", serde_json::json!(rids)))
        .bind(("all_ids", serde_json::json!(all_ids)))
        .await;
    let mut res = committed(result)?;
    let last = bazaar_schema::before_commit(&res);
    let mut made: Vec<Made> = take_rows(&mut res, last - 1)?;
    let after: Vec<StoredProduct> = take_rows(&mut res, last)?;
    Ok(batch
        .iter()
        .map(|r| {
            let rid = r["rid"].as_str().unwrap_or_default();
            let lines = made
                .iter_mut()
                .find(|m| m.id == rid)
                .map(|m| std::mem::take(&mut m.lines))
                .unwrap_or_default();
            let ids: Vec<&str> = r["ids"]
                .as_array()
                .map(|ids| ids.iter().filter_map(|i| i.as_str()).collect())
                .unwrap_or_default();
            let mine = after
                .iter()
                .filter(|p| ids.contains(&p.product.id.as_str()))
                .cloned()
                .collect();
            (lines, mine)
        })
        .collect())
}

async fn reserve_alone(db: &bazaar_schema::Db, reservation: &serde_json::Value) -> Reserved {
    let result = db
        .query(RESERVE_SQL.as_str())
        .bind(reservation.clone())
        .await;
    let mut res = committed(result)?;
    let last = bazaar_schema::before_commit(&res);
    let lines: Vec<Vec<ReservedLine>> = take_rows(&mut res, last - 1)?;
    let after: Vec<StoredProduct> = take_rows(&mut res, last)?;
    Ok((lines.into_iter().next().unwrap_or_default(), after))
}

/// Products by id for several look-ups at once: each gets its own ids'
/// products, in its order.
pub(crate) type Lookups =
    bazaar_schema::group::GroupCommit<Vec<String>, Result<Vec<StoredProduct>, CatalogError>>;

/// Starts this node copy's look-up group: one read for the look-ups that
/// arrive together.
pub(crate) fn lookups(db: bazaar_schema::Db, max_batch: usize) -> Lookups {
    bazaar_schema::group::GroupCommit::on_db(
        "products read",
        db,
        max_batch,
        |db, batch| async move { read_products(&db, batch).await },
    )
}

async fn read_products(
    db: &bazaar_schema::Db,
    batch: Vec<Vec<String>>,
) -> Vec<Result<Vec<StoredProduct>, CatalogError>> {
    let mut all: Vec<&String> = batch.iter().flatten().filter(|i| is_id(i)).collect();
    all.sort_unstable();
    all.dedup();
    match products_by_id(db, &all).await {
        Ok(rows) => {
            let by_id: std::collections::HashMap<&str, &StoredProduct> =
                rows.iter().map(|r| (r.product.id.as_str(), r)).collect();
            batch
                .iter()
                .map(|ids| {
                    Ok(ids
                        .iter()
                        .filter_map(|id| by_id.get(id.as_str()))
                        .map(|r| (*r).clone().now())
                        .collect())
                })
                .collect()
        }
        Err(e) => {
            let why = e.to_string();
            tracing::warn!(error = %why, "products not read");
            batch
                .iter()
                .map(|_| {
                    Err(CatalogError::Upstream(bazaar_subjects::ErrorEnvelope::new(
                        bazaar_subjects::ErrorCode::Unavailable,
                        "products cannot be read right now; please try again",
                    )))
                })
                .collect()
        }
    }
}

/// An id as products have them: letters and digits, at most 64.
pub(crate) fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The products with these ids, as stored; ids of products that do not
/// exist give no row.
pub(crate) async fn products_by_id(
    db: &Db,
    ids: &[&String],
) -> Result<Vec<StoredProduct>, CatalogError> {
    let mut res = db
        .query(format!(
            "SELECT {PRODUCT_FIELDS} FROM array::map($ids, |$i| type::record('product', $i)) WHERE id != NONE"
        ))
        .bind(("ids", serde_json::to_value(ids)?))
        .await?
        .check()?;
    Ok(take_rows(&mut res, 0)?)
}
