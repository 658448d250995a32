//! Scheduled work: purge products 24 hours in the bin (and their images),
//! and end flash sales whose window has passed.
//!
//! Every copy of the catalog node runs the timer, but only the holder of a
//! lease does the work: a key in a JetStream KV bucket whose entries expire
//! after a short while (see `bazaar_runtime::lease`). `create` succeeds for exactly one copy while the key
//! is absent; the holder renews it with a compare-and-set on its revision
//! before each round, so a copy that lost the lease (paused, partitioned)
//! finds out before it acts. The work itself is safe to overlap too (a
//! product is read and deleted in one transaction; events carry dedupe ids),
//! so even a lease lost mid-round does no double work.

use std::time::Duration;

use bazaar_runtime::Shutdown;
use bazaar_runtime::jetstream::ensure_object_store;
use bazaar_runtime::lease::Lease;
use bazaar_schema::take_rows;
use bazaar_subjects::catalog::{ProductChange, ProductChanged};

use crate::CatalogError;
use crate::store::{CatalogStore, PRODUCT_FIELDS, PRODUCTS_CHANGED, StoredProduct, changed};

use bazaar_subjects::catalog::LEASES_BUCKET as LEASE_BUCKET;
/// Products purged per round (the next round takes the rest).
const PURGE_BATCH: i64 = 500;

/// When and how often the scheduled work runs.
#[derive(Debug, Clone, clap::Args)]
pub struct CatalogConfig {
    /// How long a deleted product stays in the bin before it is purged.
    #[arg(
        long,
        env = "BAZAAR_CATALOG_PURGE_AFTER_SECS",
        default_value_t = 86_400
    )]
    pub purge_after_secs: u64,
    /// How often the scheduled work runs (on whichever copy holds the lease).
    #[arg(long, env = "BAZAAR_CATALOG_MAINTENANCE_SECS", default_value_t = 60)]
    pub maintenance_interval_secs: u64,
    /// The most the images bucket (every uploaded image and thumbnail) may
    /// hold, in bytes; 0 for no cap. Uploads are refused once it is full.
    #[arg(
        long,
        env = "BAZAAR_IMAGES_MAX_BYTES",
        default_value_t = DEFAULT_IMAGES_MAX_BYTES
    )]
    pub images_max_bytes: u64,
}

/// 1 GiB: thousands of photos. JetStream reserves the cap on its store when
/// the bucket is made, so the default must fit a small box's free disk; a
/// shop that outgrows it raises the cap.
pub const DEFAULT_IMAGES_MAX_BYTES: u64 = 1024 * 1024 * 1024;

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            purge_after_secs: 86_400,
            maintenance_interval_secs: 60,
            images_max_bytes: DEFAULT_IMAGES_MAX_BYTES,
        }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub purged: usize,
    pub images_deleted: usize,
    pub events_ended: usize,
}

/// Runs rounds until `shutdown`, doing the work only while holding the lease.
pub async fn run(store: CatalogStore, config: CatalogConfig, holder: String, shutdown: Shutdown) {
    let mut lease = match Lease::new(store.jetstream(), LEASE_BUCKET, holder).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "catalog maintenance cannot start");
            return;
        }
    };
    let interval = Duration::from_secs(config.maintenance_interval_secs.max(1));
    loop {
        if lease.acquire().await {
            match round(&store, &config).await {
                Ok(r) if r != Round::default() => tracing::info!(
                    purged = r.purged,
                    images_deleted = r.images_deleted,
                    events_ended = r.events_ended,
                    "catalog maintenance"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "catalog maintenance round failed"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    lease.release().await;
}

/// One round of every scheduled job.
pub async fn round(store: &CatalogStore, config: &CatalogConfig) -> Result<Round, CatalogError> {
    let mut done = Round::default();
    // Purge: what is due is read, announced (see the outbox) and deleted in
    // one transaction, so two overlapping rounds cannot both purge a
    // product, and a crash cannot purge one unannounced.
    let mut res = store
        .db()
        .query(format!(
            "BEGIN TRANSACTION;
             LET $rows = (SELECT {PRODUCT_FIELDS} FROM product
                WHERE deleted_at != NONE AND deleted_at < time::now() - <duration>$age LIMIT $batch);
             LET $announce = $rows.id;
             {PRODUCTS_CHANGED}
             FOR $r IN $rows {{ DELETE type::record('product', $r.id) RETURN NONE; }};
             $rows;
             COMMIT TRANSACTION;"
        ))
        .bind(("age", format!("{}s", config.purge_after_secs)))
        .bind(("batch", PURGE_BATCH))
        .bind(changed(ProductChange::Purged))
        .bind(("subject", <ProductChanged as bazaar_subjects::Event>::SUBJECT))
        .await?
        .check()?;
    let purged: Vec<StoredProduct> = take_rows(&mut res, 5)?;
    let images = if purged.is_empty() {
        None
    } else {
        ensure_object_store(store.jetstream(), bazaar_subjects::catalog::IMAGES_BUCKET)
            .await
            .ok()
    };
    for p in &purged {
        for image in &p.product.images {
            // Only an image nothing shows any more: the same image may be
            // another product's, a shop's logo, a review's or a chat's.
            let still_used = crate::images::in_use(store.db(), image).await?;
            if let (false, Some(bucket)) = (still_used, &images) {
                // The thumbnail first: an original without one is re-servable,
                // a thumbnail without an original is garbage.
                let _ = bucket.delete(format!("{image}.thumb")).await;
                if bucket.delete(image).await.is_ok() {
                    done.images_deleted += 1;
                }
            }
        }
        store.cache_product(p).await;
    }
    if !purged.is_empty() {
        store.bump_revision().await;
        store.outbox.written();
    }
    done.purged = purged.len();

    // End flash sales whose window has passed, announcing each (see the
    // outbox) in the same transaction.
    let mut res = store
        .db()
        .query(format!(
            "BEGIN TRANSACTION;
             LET $announce = (UPDATE product SET event_starts = NONE, event_ends = NONE, revision += 1
               WHERE event_ends != NONE AND event_ends <= time::now()
               RETURN VALUE record::id(id));
             {PRODUCTS_CHANGED}
             $announce;
             COMMIT TRANSACTION;"
        ))
        .bind(changed(ProductChange::Updated))
        .bind(("subject", <ProductChanged as bazaar_subjects::Event>::SUBJECT))
        .await?
        .check()?;
    let ended: Vec<String> = res.take(3)?;
    for id in &ended {
        if let Some(p) = store.load_by_id(id).await? {
            store.after_write(&p).await;
        }
    }
    done.events_ended = ended.len();
    Ok(done)
}
