//! Which nodes exist, and starting them.

use bazaar_runtime::{NodeContext, NodeError, Shutdown};
use bazaar_subjects::Domain;
use futures::future::BoxFuture;

/// The domains whose nodes this build contains, in start order. The edge's
/// `/readyz` waits for all of them.
pub const DOMAINS: &[Domain] = &[
    Domain::Admin,
    Domain::Auth,
    Domain::Mail,
    Domain::Sellers,
    Domain::Catalog,
];

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("the {0} node is not part of this build yet (available: {list})", list = available())]
    NotBuilt(Domain),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("seeding demo data failed: {0}")]
    Seed(#[from] bazaar_admin::AdminError),
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
}

impl NodeConfigs {
    /// One-box defaults under `data_dir`.
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            mail: bazaar_mail::MailConfig::in_data_dir(data_dir),
            auth: bazaar_auth::AuthConfig::default(),
            catalog: bazaar_catalog::CatalogConfig::default(),
        }
    }
}

/// Runs one domain's node until `shutdown`.
pub fn run_node(
    domain: Domain,
    ctx: NodeContext,
    configs: NodeConfigs,
    shutdown: Shutdown,
) -> BoxFuture<'static, Result<(), PlatformError>> {
    match domain {
        Domain::Admin => Box::pin(async move { Ok(bazaar_admin::run(ctx, shutdown).await?) }),
        Domain::Mail => {
            Box::pin(async move { Ok(bazaar_mail::run(ctx, configs.mail, shutdown).await?) })
        }
        Domain::Auth => {
            Box::pin(async move { Ok(bazaar_auth::run(ctx, configs.auth, shutdown).await?) })
        }
        Domain::Sellers => Box::pin(async move { Ok(bazaar_sellers::run(ctx, shutdown).await?) }),
        Domain::Catalog => {
            Box::pin(async move { Ok(bazaar_catalog::run(ctx, configs.catalog, shutdown).await?) })
        }
        other => Box::pin(async move { Err(PlatformError::NotBuilt(other)) }),
    }
}

/// Starts every node of this build as a task; each ends at `shutdown`.
pub fn spawn_all(
    ctx: &NodeContext,
    configs: &NodeConfigs,
    shutdown: &Shutdown,
) -> Vec<tokio::task::JoinHandle<Result<(), PlatformError>>> {
    DOMAINS
        .iter()
        .map(|d| tokio::spawn(run_node(*d, ctx.clone(), configs.clone(), shutdown.clone())))
        .collect()
}

/// Demo data for a fresh site, idempotent: safe to run at every start.
pub async fn seed(ctx: &NodeContext) -> Result<(), PlatformError> {
    let admin = bazaar_admin::AdminStore::open(ctx).await?;
    match bazaar_admin::seed(&admin).await? {
        0 => tracing::info!("demo data already present"),
        n => tracing::info!(categories = n, "demo data created"),
    }
    Ok(())
}
