//! A synthetic catalog for demos and benchmarks: seller accounts with one
//! shop each, and products spread over the site's categories with titles and
//! descriptions built from real words ("Waterproof Leather Hiking Boots"),
//! brands, colors, sizes, prices (some on sale), stock, skewed sales, views
//! and ratings, dates over the last year and a few live flash sales; and,
//! given the images bucket, a picture each (see [`pictures`]).
//!
//! Every product goes through [`validate::validate`], the same checks and
//! normalisation a seller's product gets, so seeded rows look exactly like
//! real ones (`price`, `search_text`, lowercased colors and tags …). Rows are
//! written in batches with one `INSERT INTO product $rows` per batch, while
//! the next batch is generated on another thread.
//!
//! Content is reproducible with a fixed seed; ids and slugs are fresh on
//! every run, so running it twice adds more products instead of failing.
//! The caller must announce the load afterwards (`bazaar seed` publishes
//! `events.catalog.products.loaded`, on which the search nodes rebuild
//! their indexes), or search does not see the new products.
//!
//! Seeded sellers and shops go straight into the auth and sellers tables,
//! which is why this lives in a crate of its own rather than in a node.

mod error;
pub mod pictures;
mod vocab;

pub use error::SeedError;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use async_nats::jetstream::object_store::{ObjectMetadata, ObjectStore};
use bazaar_schema::{Db, take_rows};
use bazaar_subjects::admin::{Category, CategoryList};
use bazaar_subjects::catalog::{FlashSale, KeyValue, ProductInput, ProductStatus};
use futures::{StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use surrealdb::types::{Datetime, RecordId, SurrealValue, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use bazaar_catalog::store::base_slug;
use bazaar_catalog::validate;
use pictures::{Picture, PictureKey, Shape};
use vocab::{Kind, Style, Theme};

/// Rows per `INSERT` statement (measured fastest on surrealkv; see docs/benchmarks.md).
pub const DEFAULT_BATCH_SIZE: usize = 1000;
/// Products per shop when the number of shops is not given.
pub const PRODUCTS_PER_SHOP: u64 = 500;
/// The fewest shops a seeded catalog has.
pub const MIN_SHOPS: u64 = 3;
/// The most products one run makes (the slug suffix has room for this many).
pub const MAX_PRODUCTS: u64 = 1 << 24;
/// Pictures stored at once.
const PICTURE_PUTS: usize = 32;
/// Cover colours for products that come in no colour (books, mostly).
const PLAIN_COLORS: &[&str] = &[
    "navy",
    "burgundy",
    "forest green",
    "mustard",
    "teal",
    "plum",
    "coral",
    "charcoal",
];

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub products: u64,
    /// Fixes the content (not the ids): the same seed makes the same catalog.
    pub seed: Option<u64>,
    pub batch_size: usize,
    /// Defaults to one shop per [`PRODUCTS_PER_SHOP`], at least [`MIN_SHOPS`].
    pub shops: Option<u64>,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

impl SeedOptions {
    pub fn new(products: u64) -> Self {
        Self {
            products,
            seed: None,
            batch_size: DEFAULT_BATCH_SIZE,
            shops: None,
            progress: false,
        }
    }

    fn shop_count(&self) -> u64 {
        self.shops
            .unwrap_or(self.products / PRODUCTS_PER_SHOP)
            .max(MIN_SHOPS)
    }
}

/// What a run made.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub products: u64,
    /// Of which buyers can see (the rest are drafts).
    pub live: u64,
    pub flash_sales: u64,
    pub shops: u64,
    /// The seed the content came from (pass it again to get the same content).
    pub seed: u64,
    pub elapsed: Duration,
}

impl SeedReport {
    pub fn products_per_second(&self) -> f64 {
        self.products as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Whether the catalog has no products at all (live, draft or in the bin).
pub async fn catalog_is_empty(db: &Db) -> Result<bool, SeedError> {
    let mut res = db
        .query("SELECT VALUE record::id(id) FROM product LIMIT 1")
        .await?
        .check()?;
    let ids: Vec<String> = take_rows(&mut res, 0)?;
    Ok(ids.is_empty())
}

/// Every word titles are made of, lowercased, for load generators that
/// want searches that find something.
pub fn search_words() -> Vec<&'static str> {
    let mut words = BTreeSet::new();
    for kind in vocab::KINDS.iter().chain([&vocab::GENERIC]) {
        let phrases = kind
            .nouns
            .iter()
            .map(|n| n.0)
            .chain(kind.adjectives.iter().copied())
            .chain(kind.materials.iter().copied())
            .chain(kind.brands.iter().copied());
        for phrase in phrases {
            for word in phrase.split([' ', '-']) {
                if word.len() >= 3 && word.chars().all(char::is_alphabetic) {
                    words.insert(word);
                }
            }
        }
    }
    words.into_iter().collect()
}

/// Noun phrases ("hiking boots", "dutch oven"): multi-word searches.
pub fn search_phrases() -> Vec<&'static str> {
    vocab::KINDS
        .iter()
        .flat_map(|k| k.nouns.iter().map(|n| n.0))
        .filter(|n| n.contains(' '))
        .collect()
}

/// Seeds `options.products` products (and their sellers and shops) into
/// `db`, whose categories must exist already. With `pictures` (the
/// [`IMAGES_BUCKET`](bazaar_subjects::catalog::IMAGES_BUCKET) store), every product gets a picture of the bounded set
/// (see [`pictures`]), stored the way uploads are; without, none.
pub async fn seed_catalog(
    db: &Db,
    pictures: Option<&ObjectStore>,
    options: &SeedOptions,
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    if options.products > MAX_PRODUCTS {
        return Err(SeedError::Refused(format!(
            "at most {MAX_PRODUCTS} products per run"
        )));
    }
    let categories = load_categories(db).await?;
    if categories.categories.is_empty() {
        return Err(SeedError::Refused(
            "there are no categories to put products in: seed the categories first".into(),
        ));
    }
    let seed = options.seed.unwrap_or_else(rand::random);
    let mut generator = Generator::new(seed, categories, OffsetDateTime::now_utc());
    if pictures.is_some() {
        generator.draw_pictures();
    }
    let shops = generator.make_shops(options.shop_count());
    insert_sellers(db, &shops, generator.now).await?;

    let generator = load_products(db, pictures, options, generator).await?;
    update_shop_stats(db, &generator.shops).await?;
    Ok(SeedReport {
        products: options.products,
        live: generator.live,
        flash_sales: generator.flash_sales,
        shops: generator.shops.len() as u64,
        seed,
        elapsed: started.elapsed(),
    })
}

/// Products to insert, with the pictures they are the first to use.
struct Batch {
    rows: Vec<Value>,
    pictures: Vec<PictureKey>,
}

/// Generates and inserts the products, a batch at a time.
async fn load_products(
    db: &Db,
    pictures: Option<&ObjectStore>,
    options: &SeedOptions,
    mut generator: Generator,
) -> Result<Generator, SeedError> {
    let bar = progress_bar(options);
    let batch_size = options.batch_size.max(1);
    let total = options.products;
    // Generating (and validating) runs beside the inserts, one batch ahead.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Batch, SeedError>>(2);
    let worker = std::thread::spawn(move || {
        let mut made = 0;
        while made < total {
            let n = (total - made).min(batch_size as u64);
            let mut rows = Ok(Vec::with_capacity(n as usize));
            for _ in 0..n {
                match (generator.product(), &mut rows) {
                    (Ok(row), Ok(rows)) => rows.push(row),
                    (Err(e), _) => {
                        rows = Err(e);
                        break;
                    }
                    (Ok(_), Err(_)) => break,
                }
            }
            made += n;
            let batch = rows.map(|rows| Batch {
                rows,
                pictures: generator.new_pictures(),
            });
            if tx.blocking_send(batch).is_err() {
                break;
            }
        }
        generator
    });
    let mut inserted = 0u64;
    let mut failure = None;
    while let Some(batch) = rx.recv().await {
        let result = match batch {
            Ok(batch) => {
                let n = batch.rows.len() as u64;
                // The pictures are drawn and stored while the rows go in.
                let (drawn, inserted) = tokio::join!(
                    draw_and_store(pictures, batch.pictures),
                    insert(db, "product", batch.rows)
                );
                drawn.and(inserted).map(|()| n)
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(n) => {
                inserted += n;
                if let Some(bar) = &bar {
                    bar.set_position(inserted);
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(rx);
    let generator = worker
        .join()
        .map_err(|_| SeedError::Failed("the product generator panicked".into()))?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    debug_assert_eq!(inserted, options.products);
    Ok(generator)
}

/// Draws `keys` (on the blocking pool) and stores them in `store`.
async fn draw_and_store(
    store: Option<&ObjectStore>,
    keys: Vec<PictureKey>,
) -> Result<(), SeedError> {
    let Some(store) = store.filter(|_| !keys.is_empty()) else {
        return Ok(());
    };
    let drawn = tokio::task::spawn_blocking(move || pictures::draw_all(&keys))
        .await
        .map_err(|_| SeedError::Failed("drawing the pictures panicked".into()))?
        .map_err(|e| SeedError::Pictures(e.to_string()))?;
    store_pictures(store, drawn).await
}

/// Stores pictures as the edge stores an upload: the picture under its id,
/// again under `{id}.thumb` as its thumbnail, each with its content type. A
/// put waits for the server's acknowledgements, so many go at once.
async fn store_pictures(store: &ObjectStore, pictures: Vec<Picture>) -> Result<(), SeedError> {
    let objects = pictures.into_iter().flat_map(|picture| {
        [
            (format!("{}.thumb", picture.id), picture.bytes.clone()),
            (picture.id, picture.bytes),
        ]
    });
    futures::stream::iter(objects)
        .map(|(name, body)| async move {
            let meta = ObjectMetadata {
                name,
                description: Some(pictures::CONTENT_TYPE.to_owned()),
                ..Default::default()
            };
            store
                .put(meta, &mut std::io::Cursor::new(body))
                .await
                .map(|_| ())
                .map_err(|e| SeedError::Pictures(e.to_string()))
        })
        .buffer_unordered(PICTURE_PUTS)
        .try_collect()
        .await
}

fn progress_bar(options: &SeedOptions) -> Option<indicatif::ProgressBar> {
    options.progress.then(|| {
        styled_bar(
            options.products,
            "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} products, {per_sec}, ETA {eta}",
        )
    })
}

/// A ticking bar of `len` steps drawn with `template`.
fn styled_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

async fn load_categories(db: &Db) -> Result<CategoryList, SeedError> {
    let mut res = db
        .query("SELECT slug, name, position, subcategories FROM category ORDER BY position, name")
        .await?
        .check()?;
    Ok(CategoryList {
        categories: take_rows::<Category>(&mut res, 0)?,
    })
}

async fn insert(db: &Db, table: &str, rows: Vec<Value>) -> Result<(), SeedError> {
    db.query(format!("INSERT INTO {table} $rows RETURN NONE"))
        .bind(("rows", rows))
        .await?
        .check()?;
    Ok(())
}

async fn insert_sellers(db: &Db, shops: &[SeedShop], now: OffsetDateTime) -> Result<(), SeedError> {
    for chunk in shops.chunks(DEFAULT_BATCH_SIZE) {
        let accounts = chunk
            .iter()
            .map(|s| {
                row(
                    "account",
                    &s.owner,
                    json!({
                        "email": s.email,
                        "name": s.owner_name,
                        "role": "seller",
                    }),
                    &[("created_at", s.created_at)],
                )
            })
            .collect();
        insert(db, "account", accounts).await?;
        let shops = chunk
            .iter()
            .map(|s| {
                row(
                    "shop",
                    &s.id,
                    json!({
                        "owner": s.owner,
                        "slug": s.slug,
                        "name": s.name,
                        "bio": s.bio,
                        "address": s.address,
                        "category": s.category,
                        "followers": s.followers,
                    }),
                    &[("created_at", s.created_at), ("updated_at", now)],
                )
            })
            .collect();
        insert(db, "shop", shops).await?;
    }
    Ok(())
}

/// Shops' sales and ratings, from the products they were given.
async fn update_shop_stats(db: &Db, shops: &[SeedShop]) -> Result<(), SeedError> {
    for chunk in shops.chunks(DEFAULT_BATCH_SIZE) {
        let stats: Vec<serde_json::Value> = chunk
            .iter()
            .map(|s| {
                let avg = if s.rating_count > 0 {
                    (s.rating_sum / s.rating_count as f64 * 10.0).round() / 10.0
                } else {
                    0.0
                };
                json!({ "id": s.id, "sales": s.sales, "rating_avg": avg, "rating_count": s.rating_count })
            })
            .collect();
        db.query(
            "FOR $s IN $stats {
                UPDATE type::record('shop', $s.id) SET sales = $s.sales,
                    rating_avg = $s.rating_avg, rating_count = $s.rating_count RETURN NONE;
             }",
        )
        .bind(("stats", stats))
        .await?
        .check()?;
    }
    Ok(())
}

/// A record for `INSERT`: the JSON fields, the id and the datetimes (which
/// JSON cannot carry).
fn row(
    table: &str,
    id: &str,
    fields: serde_json::Value,
    times: &[(&str, OffsetDateTime)],
) -> Value {
    let mut value = fields.into_value();
    if let Value::Object(object) = &mut value {
        object.insert("id", RecordId::new(table.to_owned(), id.to_owned()));
        for (name, at) in times {
            object.insert(*name, datetime(*at));
        }
    }
    value
}

fn datetime(at: OffsetDateTime) -> Value {
    at.format(&Rfc3339)
        .ok()
        .and_then(|s| s.parse::<Datetime>().ok())
        .map_or(Value::None, Value::Datetime)
}

/// A seller and their shop, with what its products add up to.
#[derive(Debug, Clone)]
struct SeedShop {
    id: String,
    slug: String,
    name: String,
    bio: String,
    address: String,
    category: String,
    followers: i64,
    owner: String,
    owner_name: String,
    email: String,
    created_at: OffsetDateTime,
    sales: i64,
    rating_sum: f64,
    rating_count: i64,
}

/// A category of the site with the words its products are made of.
struct Plan {
    slug: String,
    theme: &'static Theme,
    /// Subcategory slug (none when the category has none) and its words.
    subs: Vec<(Option<String>, &'static Kind)>,
}

struct Generator {
    rng: StdRng,
    now: OffsetDateTime,
    /// Makes this run's slugs differ from every other run's.
    nonce: u64,
    categories: CategoryList,
    plans: Vec<Plan>,
    shops: Vec<SeedShop>,
    /// Cumulative shop weights: a few big shops, many small ones.
    shop_weights: Vec<f64>,
    made: u64,
    live: u64,
    flash_sales: u64,
    /// The pictures given so far and those not yet drawn (none: no pictures).
    pictures: Option<(HashSet<PictureKey>, Vec<PictureKey>)>,
}

impl Generator {
    fn new(seed: u64, categories: CategoryList, now: OffsetDateTime) -> Self {
        let plans = categories
            .categories
            .iter()
            .map(|c| {
                let theme = vocab::THEMES
                    .iter()
                    .find(|t| t.category == c.slug)
                    .unwrap_or(&vocab::GENERIC_THEME);
                let fallback = vocab::KINDS
                    .iter()
                    .find(|k| k.category == c.slug)
                    .unwrap_or(&vocab::GENERIC);
                let kind_of = |sub: &str| {
                    vocab::KINDS
                        .iter()
                        .find(|k| k.category == c.slug && k.subcategory == sub)
                        .unwrap_or(fallback)
                };
                let subs = if c.subcategories.is_empty() {
                    vec![(None, fallback)]
                } else {
                    c.subcategories
                        .iter()
                        .map(|s| (Some(s.slug.clone()), kind_of(&s.slug)))
                        .collect()
                };
                Plan {
                    slug: c.slug.clone(),
                    theme,
                    subs,
                }
            })
            .collect();
        Self {
            rng: StdRng::seed_from_u64(seed),
            now,
            nonce: u64::from(uuid::Uuid::new_v4().as_u128() as u32) & 0xff_ffff,
            categories,
            plans,
            shops: Vec::new(),
            shop_weights: Vec::new(),
            made: 0,
            live: 0,
            flash_sales: 0,
            pictures: None,
        }
    }

    /// Gives every product a picture from now on.
    fn draw_pictures(&mut self) {
        self.pictures = Some((HashSet::new(), Vec::new()));
    }

    /// The picture for product `index`: its silhouette, its first colour (a
    /// cover colour when it has none) and one of the variants.
    fn picture(&mut self, index: u64, kind: &Kind, colors: &[String]) -> Option<String> {
        let (drawn, pending) = self.pictures.as_mut()?;
        let color = match colors.first() {
            Some(c) => c.to_lowercase(),
            None => PLAIN_COLORS[(index % PLAIN_COLORS.len() as u64) as usize].to_owned(),
        };
        let key = PictureKey {
            shape: Shape::for_subcategory(kind.subcategory),
            color,
            variant: (index % u64::from(pictures::VARIANTS)) as u8,
        };
        let id = key.id();
        if drawn.insert(key.clone()) {
            pending.push(key);
        }
        Some(id)
    }

    /// The pictures products were given for the first time since the last call.
    fn new_pictures(&mut self) -> Vec<PictureKey> {
        self.pictures
            .as_mut()
            .map(|(_, pending)| std::mem::take(pending))
            .unwrap_or_default()
    }

    /// A short suffix unique to this run and `index`: 48 bits, scrambled
    /// (bijectively, so never twice) and written in base 36.
    fn suffix(&self, index: u64) -> String {
        const BITS: u32 = 48;
        const MASK: u64 = (1 << BITS) - 1;
        let mut x = (self.nonce << 24 | (index & 0xff_ffff)) & MASK;
        for _ in 0..3 {
            x ^= x >> (BITS / 2);
            x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & MASK;
        }
        let mut digits = Vec::new();
        for _ in 0..10 {
            let d = (x % 36) as u8;
            digits.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
            x /= 36;
        }
        digits.reverse();
        String::from_utf8(digits).unwrap_or_default()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.rng).unwrap_or(&items[0])
    }

    /// Pareto-distributed: most values near `min`, a long tail.
    fn pareto(&mut self, min: f64, alpha: f64) -> f64 {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        min / u.powf(1.0 / alpha)
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random();
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn days_ago(&mut self, max_days: f64, skew: f64) -> OffsetDateTime {
        let u: f64 = self.rng.random();
        let secs = (u.powf(skew) * max_days * 86_400.0) as i64;
        self.now - time::Duration::seconds(secs)
    }

    fn make_shops(&mut self, count: u64) -> Vec<SeedShop> {
        let offset = self.rng.random_range(0..self.plans.len());
        for i in 0..count {
            let plan = &self.plans[(offset + i as usize) % self.plans.len()];
            let (category, theme) = (plan.slug.clone(), plan.theme);
            let name = format!(
                "{} {}",
                self.pick(vocab::SHOP_PREFIXES),
                self.pick(theme.shop_words)
            );
            let first = self.pick(vocab::FIRST_NAMES);
            let owner_name = format!("{first} {}", self.pick(vocab::LAST_NAMES));
            let suffix = self.suffix(i);
            let since = 2026 - self.rng.random_range(1..12);
            let bio = format!(
                "{first} opened {name} in {since}. {}",
                self.pick(theme.closings)
            );
            let address = format!(
                "{} {}, {}",
                self.rng.random_range(1..240),
                self.pick(vocab::STREETS),
                self.pick(vocab::CITIES)
            );
            let followers = self.pareto(5.0, 1.1).min(250_000.0) as i64;
            let created_at = self.days_ago(730.0, 1.0);
            self.shops.push(SeedShop {
                id: uuid::Uuid::now_v7().simple().to_string(),
                slug: format!("{}-{suffix}", base_slug(&name)),
                name,
                bio,
                address,
                category,
                followers,
                owner: uuid::Uuid::now_v7().to_string(),
                owner_name,
                email: format!("seller-{suffix}@example.com"),
                created_at,
                sales: 0,
                rating_sum: 0.0,
                rating_count: 0,
            });
        }
        let mut sum = 0.0;
        self.shop_weights = (0..self.shops.len())
            .map(|i| {
                sum += 1.0 / ((i + 1) as f64).powf(0.8);
                sum
            })
            .collect();
        self.shops.clone()
    }

    fn pick_shop(&mut self) -> usize {
        let total = self.shop_weights.last().copied().unwrap_or(1.0);
        let x = self.rng.random_range(0.0..total);
        self.shop_weights
            .partition_point(|w| *w <= x)
            .min(self.shops.len() - 1)
    }

    /// Regular price in minor units: log-uniform in the noun's range, with
    /// shop-like endings (.99, .95, .49, .00).
    fn price(&mut self, lo: i64, hi: i64) -> i64 {
        let (lo, hi) = (lo.max(1) as f64, hi.max(lo + 1) as f64);
        let whole = (lo.ln() + self.rng.random::<f64>() * (hi.ln() - lo.ln()))
            .exp()
            .round() as i64;
        let ending = self.pick(&[-1i64, -1, -1, -5, 0, -51]);
        (whole * 100 + ending).max(99)
    }

    /// One product row, ready for `INSERT`.
    fn product(&mut self) -> Result<Value, SeedError> {
        let index = self.made;
        self.made += 1;
        let shop_index = self.pick_shop();
        let shop_category = self.shops[shop_index].category.clone();
        let plan_index = if self.rng.random_bool(0.75) {
            self.plans
                .iter()
                .position(|p| p.slug == shop_category)
                .unwrap_or(0)
        } else {
            self.rng.random_range(0..self.plans.len())
        };
        let (category, theme) = {
            let plan = &self.plans[plan_index];
            (plan.slug.clone(), plan.theme)
        };
        let sub_index = self.rng.random_range(0..self.plans[plan_index].subs.len());
        let (subcategory, kind) = self.plans[plan_index].subs[sub_index].clone();
        let (noun, lo, hi) = self.pick(kind.nouns);
        let mut input = match kind.style {
            Style::Goods => self.goods(kind, theme, noun),
            Style::Book => self.book(kind, theme, noun),
        };
        input.category = category;
        input.subcategory = subcategory;
        input.regular_price = self.price(lo, hi);
        if self.rng.random_bool(0.2) {
            input.sale_price = Some(self.sale_price(input.regular_price));
        }
        input.stock = if self.rng.random_bool(0.08) {
            0
        } else {
            self.pareto(2.0, 0.9).min(5_000.0) as i64
        };
        input.cash_on_delivery = self.rng.random_bool(0.3);
        input.status = if self.rng.random_bool(0.02) {
            ProductStatus::Draft
        } else {
            ProductStatus::Active
        };
        let total = self.shops.len().max(1) as f64 * PRODUCTS_PER_SHOP as f64;
        let live_flash = (3.0 / total).max(0.003);
        let roll: f64 = self.rng.random();
        if roll < live_flash + 0.001 {
            let (starts, ends) = if roll < live_flash {
                let starts = self.now - minutes(self.rng.random_range(10..36 * 60));
                (
                    starts,
                    self.now + minutes(self.rng.random_range(120..72 * 60)),
                )
            } else {
                let starts = self.now + minutes(self.rng.random_range(6 * 60..5 * 24 * 60));
                (
                    starts,
                    starts + minutes(self.rng.random_range(12 * 60..3 * 24 * 60)),
                )
            };
            let sale = input
                .sale_price
                .unwrap_or_else(|| self.sale_price(input.regular_price));
            input.sale_price = Some(sale);
            input.flash_sale = Some(FlashSale {
                starts_at: starts.format(&Rfc3339).unwrap_or_default(),
                ends_at: ends.format(&Rfc3339).unwrap_or_default(),
            });
            self.flash_sales += 1;
        }
        if let Some(id) = self.picture(index, kind, &input.colors) {
            input.images = vec![id];
        }
        let doc = validate::validate(&input, &self.categories, self.now)?;
        let live = doc.status == "active";
        let sales = if !live || self.rng.random_bool(0.3) {
            0
        } else {
            self.pareto(1.0, 1.15).min(50_000.0) as i64
        };
        let views = sales * self.rng.random_range(10..60) + self.pareto(3.0, 1.2).min(1e6) as i64;
        let rating_count = if sales == 0 {
            0
        } else {
            (sales as f64 * self.rng.random_range(0.05..0.35)).round() as i64
        };
        let rating_avg = if rating_count == 0 {
            0.0
        } else {
            (self.normal(4.25, 0.5).clamp(1.0, 5.0) * 10.0).round() / 10.0
        };
        let created_at = self.days_ago(365.0, 1.4);
        let age = (self.now - created_at).whole_seconds().max(1);
        let updated_at = created_at + time::Duration::seconds(self.rng.random_range(0..age));
        let (starts, ends) = (
            doc.event_starts.as_deref().and_then(parse_time),
            doc.event_ends.as_deref().and_then(parse_time),
        );
        let slug = format!("{}-{}", base_slug(&doc.title), self.suffix(index));
        let shop = &mut self.shops[shop_index];
        shop.sales += sales;
        shop.rating_sum += rating_avg * rating_count as f64;
        shop.rating_count += rating_count;
        let mut fields = serde_json::to_value(&doc)?;
        if let Some(object) = fields.as_object_mut() {
            object.remove("event_starts");
            object.remove("event_ends");
            object.extend([
                ("seller".to_owned(), json!(shop.owner)),
                ("shop_id".to_owned(), json!(shop.id)),
                ("shop_slug".to_owned(), json!(shop.slug)),
                ("shop_name".to_owned(), json!(shop.name)),
                ("slug".to_owned(), json!(slug)),
                ("live".to_owned(), json!(live)),
                ("revision".to_owned(), json!(1)),
                ("sales".to_owned(), json!(sales)),
                ("views".to_owned(), json!(views)),
                ("rating_avg".to_owned(), json!(rating_avg)),
                ("rating_count".to_owned(), json!(rating_count)),
            ]);
        }
        let mut times = vec![("created_at", created_at), ("updated_at", updated_at)];
        if let (Some(s), Some(e)) = (starts, ends) {
            times.extend([("event_starts", s), ("event_ends", e)]);
        }
        if live {
            self.live += 1;
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        Ok(row("product", &id, fields, &times))
    }

    fn sale_price(&mut self, regular: i64) -> i64 {
        let cut = (regular as f64 * self.rng.random_range(0.55..0.9)) as i64;
        let rounded = if cut >= 200 { cut / 100 * 100 - 1 } else { cut };
        rounded.clamp(1, (regular - 1).max(1))
    }

    fn goods(&mut self, kind: &Kind, theme: &Theme, noun: &str) -> ProductInput {
        let adjective = self.pick(kind.adjectives);
        let material = (!kind.materials.is_empty()).then(|| self.pick(kind.materials));
        let brand = self
            .rng
            .random_bool(0.85)
            .then(|| self.pick(kind.brands).to_owned());
        let title = match (self.rng.random_range(0..10), material, &brand) {
            (0..=3, Some(m), _) => format!("{adjective} {m} {noun}"),
            (4..=5, _, Some(b)) => format!("{b} {adjective} {noun}"),
            (6, _, Some(b)) => format!("{b} {noun} {}", self.model()),
            (7, _, _) => {
                let other = self.pick(kind.adjectives);
                if other == adjective {
                    format!("{adjective} {noun}")
                } else {
                    format!("{adjective} {other} {noun}")
                }
            }
            _ => format!("{adjective} {noun}"),
        };
        let colors: Vec<String> = if kind.colors.is_empty() || self.rng.random_bool(0.15) {
            Vec::new()
        } else {
            let n = self.rng.random_range(1..=4.min(kind.colors.len()));
            kind.colors
                .choose_multiple(&mut self.rng, n)
                .map(|c| (*c).to_owned())
                .collect()
        };
        let sizes = self.sizes(kind);
        let usage = self.pick(theme.uses);
        let features: Vec<&str> = theme
            .features
            .choose_multiple(&mut self.rng, 3)
            .copied()
            .collect();
        let opening = match (self.rng.random_range(0..3), material) {
            (0, Some(m)) => format!(
                "This {} {} is made from {}, ready for {usage}.",
                adjective.to_lowercase(),
                noun.to_lowercase(),
                m.to_lowercase()
            ),
            (1, _) => format!(
                "A {} take on the classic {}, designed for {usage}.",
                adjective.to_lowercase(),
                noun.to_lowercase()
            ),
            _ => format!(
                "Meet the {title}: {}.",
                features
                    .first()
                    .copied()
                    .unwrap_or("made to last")
                    .to_lowercase()
            ),
        };
        let mut description = format!("<p>{opening}</p><ul>");
        for f in &features {
            description.push_str(&format!("<li>{f}</li>"));
        }
        description.push_str("</ul>");
        if !colors.is_empty() {
            description.push_str(&format!("<p>Available in {}.</p>", list(&colors)));
        }
        description.push_str(&format!("<p>{}</p>", self.pick(theme.closings)));
        let mut tags = vec![noun.to_lowercase(), adjective.to_lowercase()];
        if let Some(m) = material {
            tags.push(m.to_lowercase());
        }
        tags.push(usage.to_owned());
        ProductInput {
            title,
            description,
            tags,
            brand,
            colors,
            sizes,
            specifications: self.specs(kind),
            warranty: kind
                .warranty
                .filter(|_| self.rng.random_bool(0.7))
                .map(str::to_owned),
            ..Default::default()
        }
    }

    fn book(&mut self, kind: &Kind, theme: &Theme, noun: &str) -> ProductInput {
        let adjective = self.pick(kind.adjectives);
        let title = match (kind.subcategory, self.rng.random_range(0..3)) {
            ("non-fiction", 0) => format!("The {adjective} Guide to {noun}"),
            ("non-fiction", 1) => format!("{noun} for Beginners"),
            ("non-fiction", _) => format!("The Art of {noun}"),
            ("children", 0) => format!("The {adjective} {noun}"),
            ("children", 1) => format!("{adjective} {noun} Goes to School"),
            ("children", _) => format!("Where Is {adjective} {noun}?"),
            (_, 0) => format!("The {adjective} {noun}"),
            (_, 1) => {
                let other = self.pick(kind.nouns).0;
                format!("The {noun} of the {adjective} {other}")
            }
            (_, _) => format!("A {adjective} {noun}"),
        };
        let author = format!(
            "{} {} {}",
            self.pick(vocab::FIRST_NAMES),
            self.pick(vocab::AUTHOR_INITIALS),
            self.pick(vocab::LAST_NAMES)
        );
        let usage = self.pick(theme.uses);
        let feature = self.pick(theme.features);
        let description = format!(
            "<p><em>{title}</em> by {author}: a {} book about {}, perfect for {usage}.</p><p>{feature}.</p><p>{}</p>",
            adjective.to_lowercase(),
            noun.to_lowercase(),
            self.pick(theme.closings)
        );
        ProductInput {
            title,
            description,
            tags: vec![
                kind.subcategory.to_owned(),
                noun.to_lowercase(),
                usage.to_owned(),
            ],
            brand: Some(self.pick(kind.brands).to_owned()),
            specifications: self.specs(kind),
            properties: vec![KeyValue {
                key: "Author".into(),
                value: author,
            }],
            ..Default::default()
        }
    }

    fn model(&mut self) -> String {
        let series = self.pick(&["X", "Pro", "Air", "S", "Max", "Go"]);
        format!("{series} {}", self.rng.random_range(2..20))
    }

    fn sizes(&mut self, kind: &Kind) -> Vec<String> {
        if kind.sizes.is_empty() || self.rng.random_bool(0.2) {
            return Vec::new();
        }
        let start = self.rng.random_range(0..kind.sizes.len());
        let len = self.rng.random_range(1..=kind.sizes.len() - start);
        kind.sizes[start..start + len]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    fn specs(&mut self, kind: &Kind) -> Vec<KeyValue> {
        let mut specs = Vec::new();
        for (key, values) in kind.specs {
            if self.rng.random_bool(0.8) {
                specs.push(KeyValue {
                    key: (*key).to_owned(),
                    value: self.pick(values).to_owned(),
                });
            }
        }
        specs
    }
}

fn minutes(n: i64) -> time::Duration {
    time::Duration::minutes(n)
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// "a, b and c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test should stop right there
mod tests {
    use super::*;
    use bazaar_catalog::store::{PRODUCT_FIELDS, StoredProduct};
    use bazaar_search::{ProductDoc, SearchIndex};
    use bazaar_subjects::catalog::SearchProducts;
    use std::collections::HashSet;

    /// Three of the demo categories and one these word lists do not know.
    async fn db_with_categories() -> Db {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        let categories = json!([
            { "slug": "electronics", "name": "Electronics", "position": 0,
              "subcategories": [{ "slug": "phones", "name": "Phones" }, { "slug": "audio", "name": "Audio" }] },
            { "slug": "fashion", "name": "Fashion", "position": 1,
              "subcategories": [{ "slug": "shoes", "name": "Shoes" }, { "slug": "women", "name": "Women" }] },
            { "slug": "books", "name": "Books", "position": 2,
              "subcategories": [{ "slug": "fiction", "name": "Fiction" }, { "slug": "children", "name": "Children" }] },
            { "slug": "pets", "name": "Pets", "position": 3, "subcategories": [] },
        ]);
        db.query("FOR $c IN $categories { CREATE type::record('category', $c.slug) CONTENT $c; }")
            .bind(("categories", categories))
            .await
            .unwrap()
            .check()
            .unwrap();
        db
    }

    /// A search index of every product in `db`, as a search node builds
    /// it from the database.
    async fn search_index(db: &Db, dir: &std::path::Path) -> SearchIndex {
        let mut res = db
            .query(format!("SELECT {PRODUCT_FIELDS} FROM product"))
            .await
            .unwrap()
            .check()
            .unwrap();
        let rows: Vec<StoredProduct> = take_rows(&mut res, 0).unwrap();
        let index = SearchIndex::open_or_create(dir).unwrap();
        for row in &rows {
            index.upsert(&ProductDoc::from(&row.product)).unwrap();
        }
        index.commit_if_dirty().unwrap();
        index
    }

    #[derive(serde::Deserialize, Debug)]
    struct Row {
        slug: String,
        title: String,
        shop_slug: String,
        price: i64,
        regular_price: i64,
        sale_price: Option<i64>,
        live: bool,
        category: String,
        revision: i64,
        search_text: String,
        event_ends: Option<String>,
    }

    async fn rows(db: &Db) -> Vec<Row> {
        let mut res = db
            .query(
                "SELECT slug, title, shop_slug, price, regular_price, sale_price, live, category,
                    revision, search_text, <string>event_ends AS event_ends FROM product",
            )
            .await
            .unwrap()
            .check()
            .unwrap();
        take_rows(&mut res, 0).unwrap()
    }

    #[tokio::test]
    async fn a_seeded_catalog_is_consistent_and_every_product_can_be_found() {
        let db = db_with_categories().await;
        assert!(catalog_is_empty(&db).await.unwrap());
        let mut options = SeedOptions::new(300);
        options.seed = Some(7);
        options.batch_size = 128;
        let report = seed_catalog(&db, None, &options).await.unwrap();
        assert_eq!(report.products, 300);
        assert_eq!(report.shops, MIN_SHOPS);
        assert!(!catalog_is_empty(&db).await.unwrap());

        let products = rows(&db).await;
        assert_eq!(products.len(), 300);
        let mut counts = db
            .query(
                "SELECT count() AS n FROM shop GROUP ALL;
                 SELECT count() AS n FROM account WHERE role = 'seller' GROUP ALL;",
            )
            .await
            .unwrap();
        let shops: Vec<serde_json::Value> = take_rows(&mut counts, 0).unwrap();
        let sellers: Vec<serde_json::Value> = take_rows(&mut counts, 1).unwrap();
        assert_eq!(shops[0]["n"], 3);
        assert_eq!(sellers[0]["n"], 3);
        assert_eq!(
            products.iter().filter(|p| p.live).count() as u64,
            report.live
        );

        let slugs: HashSet<&str> = products.iter().map(|p| p.slug.as_str()).collect();
        assert_eq!(slugs.len(), products.len(), "slugs are unique");
        let categories: HashSet<&str> = products.iter().map(|p| p.category.as_str()).collect();
        assert!(
            categories.contains("pets"),
            "unknown categories get products too"
        );
        assert!(categories.len() >= 3, "{categories:?}");
        let mut on_sale = 0;
        for p in &products {
            assert_eq!(p.revision, 1);
            match p.sale_price {
                Some(sale) => {
                    on_sale += 1;
                    assert!(sale > 0 && sale <= p.regular_price, "{p:?}");
                    assert_eq!(p.price, sale, "{p:?}");
                }
                None => assert_eq!(p.price, p.regular_price, "{p:?}"),
            }
            assert!(p.search_text.starts_with(&p.title), "{p:?}");
        }
        assert!(
            (20..=120).contains(&on_sale),
            "about a fifth on sale: {on_sale}"
        );
        let live_events = products
            .iter()
            .filter(|p| {
                p.event_ends
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|e| e > OffsetDateTime::now_utc())
            })
            .count();
        assert!(live_events >= 1, "a few flash sales");

        // Every live product is found by a word of its title (narrowed to
        // its shop and price so it is on the first page).
        let dir = tempfile::tempdir().unwrap();
        let index = search_index(&db, dir.path()).await;
        for p in products.iter().filter(|p| p.live) {
            let word = p
                .title
                .split([' ', '-', '?', '\''])
                .rfind(|w| w.len() >= 3)
                .unwrap_or(&p.title);
            let found = index
                .search(&SearchProducts {
                    q: Some(word.to_owned()),
                    shop: Some(p.shop_slug.clone()),
                    min_price: Some(p.price),
                    max_price: Some(p.price),
                    page_size: Some(60),
                    ..Default::default()
                })
                .unwrap();
            assert!(
                found.items.iter().any(|i| i.slug == p.slug),
                "`{word}` does not find {:?} ({} results)",
                p.title,
                found.total
            );
        }

        // Browsing sees all live products; a second run adds, never clashes.
        let all = index.search(&SearchProducts::default()).unwrap();
        assert_eq!(all.total as u64, report.live);
        let again = seed_catalog(&db, None, &options).await.unwrap();
        assert_eq!(again.products, 300);
        assert_eq!(rows(&db).await.len(), 600);
    }

    #[test]
    fn the_same_seed_makes_the_same_content_and_fresh_slugs() {
        let categories = CategoryList {
            categories: vec![Category {
                slug: "home-garden".into(),
                name: "Home & Garden".into(),
                position: 0,
                subcategories: vec![bazaar_subjects::admin::Subcategory {
                    slug: "kitchen".into(),
                    name: "Kitchen".into(),
                }],
            }],
        };
        let now = OffsetDateTime::now_utc();
        let titles = |g: &mut Generator| -> Vec<(String, String)> {
            g.make_shops(3);
            (0..50)
                .map(|_| {
                    let Value::Object(o) = g.product().map_err(|e| e.to_string()).unwrap() else {
                        panic!("a product is an object");
                    };
                    let text = |k: &str| match o.get(k) {
                        Some(Value::String(s)) => s.clone(),
                        other => panic!("{k}: {other:?}"),
                    };
                    (text("title"), text("slug"))
                })
                .collect()
        };
        let a = titles(&mut Generator::new(1, categories.clone(), now));
        let b = titles(&mut Generator::new(1, categories, now));
        let same_titles = a.iter().zip(&b).all(|(x, y)| x.0 == y.0);
        assert!(same_titles, "{a:?} vs {b:?}");
        assert!(a.iter().zip(&b).any(|(x, y)| x.1 != y.1));
        assert!(a.iter().all(|(t, _)| t.split(' ').count() >= 2), "{a:?}");
    }

    #[test]
    fn products_share_a_bounded_set_of_pictures_each_drawn_once() {
        let categories: CategoryList = serde_json::from_value(json!({ "categories": [
            { "slug": "fashion", "name": "Fashion", "position": 0,
              "subcategories": [{ "slug": "shoes", "name": "Shoes" }, { "slug": "women", "name": "Women" }] },
            { "slug": "books", "name": "Books", "position": 1,
              "subcategories": [{ "slug": "fiction", "name": "Fiction" }] },
            { "slug": "pets", "name": "Pets", "position": 2, "subcategories": [] },
        ]}))
        .unwrap();
        let mut g = Generator::new(5, categories, OffsetDateTime::now_utc());
        g.draw_pictures();
        g.make_shops(3);
        let mut given = Vec::new();
        let mut drawn = HashSet::new();
        for batch in 0..4 {
            for _ in 0..500 {
                let Value::Object(o) = g.product().map_err(|e| e.to_string()).unwrap() else {
                    panic!("a product is an object");
                };
                let Some(Value::Array(images)) = o.get("images") else {
                    panic!("images: {:?}", o.get("images"));
                };
                let [Value::String(id)] = images.as_slice() else {
                    panic!("one picture: {images:?}");
                };
                given.push(id.clone());
            }
            let pictures = g.new_pictures();
            if batch > 0 {
                assert!(pictures.len() < 100, "later batches mostly reuse");
            }
            for key in pictures {
                assert!(drawn.insert(key.id()), "{key:?} drawn twice");
            }
        }
        let distinct: HashSet<&String> = given.iter().collect();
        assert_eq!(distinct.len(), drawn.len(), "every picture given is drawn");
        assert!(distinct.iter().all(|id| drawn.contains(*id)));
        assert!(
            (30..400).contains(&distinct.len()),
            "{} pictures for 2000 products",
            distinct.len()
        );
    }

    #[test]
    fn suffixes_never_repeat_within_a_run() {
        let g = Generator::new(
            1,
            CategoryList {
                categories: Vec::new(),
            },
            OffsetDateTime::now_utc(),
        );
        let suffixes: HashSet<String> = (0..100_000).map(|i| g.suffix(i)).collect();
        assert_eq!(suffixes.len(), 100_000);
        assert!(suffixes.iter().all(|s| s.len() == 10));
    }

    #[test]
    fn search_words_are_plain_words() {
        let words = search_words();
        assert!(words.len() > 200, "{}", words.len());
        assert!(words.contains(&"Leather") && words.contains(&"Boots"));
        assert!(search_phrases().contains(&"Hiking Boots"));
    }
}
