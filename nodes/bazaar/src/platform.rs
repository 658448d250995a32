//! Which nodes exist, and starting them.

use bazaar_runtime::{NodeContext, NodeError, Shutdown};
use bazaar_schema::Db;
use bazaar_seed::{SeedOptions, SeedReport};
use bazaar_subjects::Domain;
use bazaar_subjects::bus::Principal;
use futures::future::BoxFuture;
use tracing::Instrument;

/// The domains whose nodes this build contains, in start order. The edge's
/// `/readyz` waits for all of them.
pub const DOMAINS: &[Domain] = &[
    Domain::Admin,
    Domain::Auth,
    Domain::Mail,
    Domain::Sellers,
    Domain::Catalog,
    Domain::Search,
    Domain::Orders,
    Domain::Chat,
    Domain::Recommend,
    Domain::Logs,
    Domain::Analytics,
];

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("the {0} node is not part of this build yet (available: {list})", list = available())]
    NotBuilt(Domain),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("seeding demo data failed: {0}")]
    Seed(#[from] bazaar_admin::AdminError),
    #[error("seeding the catalog failed: {0}")]
    SeedCatalog(#[from] bazaar_seed::SeedError),
    #[error("Stripe settings: {0}")]
    Stripe(#[from] bazaar_stripe::Error),
}

fn available() -> String {
    DOMAINS
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each node's own settings (from flags or the environment).
#[derive(Debug, Clone, clap::Args)]
pub struct NodeConfigs {
    #[command(flatten)]
    pub mail: bazaar_mail::MailConfig,
    #[command(flatten)]
    pub auth: bazaar_auth::AuthConfig,
    #[command(flatten)]
    pub catalog: bazaar_catalog::CatalogConfig,
    #[command(flatten)]
    pub search: bazaar_search::SearchConfig,
    #[command(flatten)]
    pub orders: bazaar_orders::OrdersConfig,
    #[command(flatten)]
    pub stripe: bazaar_stripe::StripeConfig,
    #[command(flatten)]
    pub chat: bazaar_chat::ChatConfig,
    #[command(flatten)]
    pub logs: bazaar_logs::LogsConfig,
}

impl NodeConfigs {
    /// One-box defaults under `data_dir`.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            mail: bazaar_mail::MailConfig::in_data_dir(data_dir),
            auth: bazaar_auth::AuthConfig::default(),
            catalog: bazaar_catalog::CatalogConfig::default(),
            search: bazaar_search::SearchConfig::default(),
            orders: bazaar_orders::OrdersConfig::default(),
            stripe: bazaar_stripe::StripeConfig::default(),
            chat: bazaar_chat::ChatConfig::default(),
            logs: bazaar_logs::LogsConfig::default(),
        }
    }
}

/// Runs one domain's node until `shutdown`, connected to the bus as that
/// domain (whoever `ctx` is); the nodes that keep tables keep them in `db`.
pub fn run_node(
    domain: Domain,
    ctx: NodeContext,
    db: Db,
    configs: NodeConfigs,
    shutdown: Shutdown,
) -> BoxFuture<'static, Result<(), PlatformError>> {
    // What a node records outside a request's span is still its own.
    let span = tracing::info_span!("node", domain = domain.name());
    Box::pin(
        async move {
            let ctx = ctx.as_principal(Principal::Node(domain)).await?;
            run_as_node(domain, ctx, db, configs, shutdown).await
        }
        .instrument(span),
    )
}

fn run_as_node(
    domain: Domain,
    ctx: NodeContext,
    db: Db,
    configs: NodeConfigs,
    shutdown: Shutdown,
) -> BoxFuture<'static, Result<(), PlatformError>> {
    match domain {
        Domain::Admin => Box::pin(async move { Ok(bazaar_admin::run(ctx, db, shutdown).await?) }),
        Domain::Mail => {
            Box::pin(async move { Ok(bazaar_mail::run(ctx, configs.mail, shutdown).await?) })
        }
        Domain::Auth => {
            Box::pin(async move { Ok(bazaar_auth::run(ctx, db, configs.auth, shutdown).await?) })
        }
        Domain::Sellers => Box::pin(async move {
            let config = bazaar_sellers::SellersConfig {
                public_url: configs.orders.public_url.clone(),
                stripe: configs.stripe.connect()?,
            };
            Ok(bazaar_sellers::run(ctx, db, config, shutdown).await?)
        }),
        Domain::Catalog => {
            Box::pin(
                async move { Ok(bazaar_catalog::run(ctx, db, configs.catalog, shutdown).await?) },
            )
        }
        Domain::Search => {
            Box::pin(
                async move { Ok(bazaar_search::run(ctx, db, configs.search, shutdown).await?) },
            )
        }
        Domain::Orders => Box::pin(async move {
            let mut config = configs.orders;
            config.stripe = configs.stripe.connect()?;
            Ok(bazaar_orders::run(ctx, db, config, shutdown).await?)
        }),
        Domain::Chat => {
            Box::pin(async move { Ok(bazaar_chat::run(ctx, db, configs.chat, shutdown).await?) })
        }
        Domain::Recommend => {
            Box::pin(async move { Ok(bazaar_recommend::run(ctx, shutdown).await?) })
        }
        Domain::Logs => {
            Box::pin(async move { Ok(bazaar_logs::run(ctx, configs.logs, shutdown).await?) })
        }
        Domain::Analytics => {
            Box::pin(async move { Ok(bazaar_analytics::run(ctx, db, shutdown).await?) })
        }
    }
}

/// Starts every node of this build as a task; each ends at `shutdown`.
pub fn spawn_all(
    ctx: &NodeContext,
    db: &Db,
    configs: &NodeConfigs,
    shutdown: &Shutdown,
) -> Vec<tokio::task::JoinHandle<Result<(), PlatformError>>> {
    DOMAINS
        .iter()
        .map(|d| {
            tokio::spawn(run_node(
                *d,
                ctx.clone(),
                db.clone(),
                configs.clone(),
                shutdown.clone(),
            ))
        })
        .collect()
}

/// Products in the demo catalog a fresh site starts with.
pub const DEMO_PRODUCTS: u64 = 200;
/// The demo catalog is the same on every fresh site.
pub const DEMO_SEED: u64 = 2024;

/// Demo data for a fresh site, idempotent: safe to run at every start. The
/// categories when there are none, then a small demo catalog (a few shops,
/// [`DEMO_PRODUCTS`] products) when there are no products at all.
pub async fn seed(ctx: &NodeContext, db: &Db) -> Result<(), PlatformError> {
    seed_categories(ctx, db).await?;
    if bazaar_seed::catalog_is_empty(db).await? {
        let mut options = SeedOptions::new(DEMO_PRODUCTS);
        options.seed = Some(DEMO_SEED);
        let report = seed_products(ctx, db, &options).await?;
        tracing::info!(
            products = report.products,
            shops = report.shops,
            "demo catalog created"
        );
    }
    Ok(())
}

/// The demo categories, when there are none.
pub async fn seed_categories(ctx: &NodeContext, db: &Db) -> Result<(), PlatformError> {
    let admin = bazaar_admin::AdminStore::open(ctx, db.clone()).await?;
    match bazaar_admin::seed(&admin).await? {
        0 => tracing::info!("demo categories already present"),
        n => tracing::info!(categories = n, "demo categories created"),
    }
    Ok(())
}

/// A synthetic catalog of `options.products` products (with their sellers
/// and shops, and pictures in the images bucket) on top of whatever is there;
/// the categories must exist. Moves the catalog revision on afterwards, so no
/// cached showcase hides them, and announces the load so the search nodes
/// rebuild their indexes.
pub async fn seed_products(
    ctx: &NodeContext,
    db: &Db,
    options: &SeedOptions,
) -> Result<SeedReport, PlatformError> {
    let pictures = bazaar_runtime::jetstream::ensure_object_store(
        &ctx.jetstream,
        bazaar_subjects::catalog::IMAGES_BUCKET,
    )
    .await?;
    let report = bazaar_seed::seed_catalog(db, Some(&pictures), options).await?;
    let store = bazaar_catalog::CatalogStore::open(ctx, db.clone()).await?;
    store.bump_revision().await;
    // The products went straight into the database: tell the search nodes
    // to rebuild their indexes from it.
    let loaded = bazaar_subjects::catalog::ProductsLoaded {
        products: report.products,
        at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    bazaar_runtime::jetstream::ensure_stream(&ctx.jetstream, bazaar_subjects::catalog::EVENTS)
        .await?;
    let dedupe = format!("products-loaded-{}", uuid::Uuid::now_v7());
    bazaar_runtime::jetstream::publish_event(&ctx.jetstream, &loaded, &dedupe)
        .await
        .map_err(|e| NodeError::JetStream(format!("products loaded: {e}")))?;
    Ok(report)
}
