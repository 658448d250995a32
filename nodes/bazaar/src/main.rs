//! `bazaar`: the one binary. `dev` runs the whole platform in one process;
//! `node` and `edge` run one piece each for a cluster.

// glibc's allocator took about a fifth of the edge's CPU answering
// `/healthz` under load (`perf`, release build of 62eca7f: malloc, free
// and malloc_consolidate), and a quarter of an order's CPU went to the
// allocator and memmove on SurrealDB's behalf: mimalloc's thread-local
// free lists suit a process of many small, short-lived allocations on
// many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use bazaar::natsd::NatsServer;
use bazaar::platform::{self, NodeConfigs};
use bazaar_edge::{EdgeConfig, EdgeState};
use bazaar_runtime::tokens::ensure_key_pair;
use bazaar_runtime::{CommonConfig, NodeContext, Shutdown, TokenVerifier, telemetry};
use bazaar_schema::{DatabaseConfig, Db};
use bazaar_subjects::Domain;
use bazaar_subjects::bus::Principal;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bazaar",
    version,
    about = "Bazaar, the multi-vendor marketplace"
)]
struct Cli {
    #[command(flatten)]
    common: CommonConfig,
    #[command(flatten)]
    database: DatabaseConfig,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform in this process (every node and the edge) on
    /// embedded storage, starting a nats-server if none is reachable.
    Dev {
        /// Port the web server listens on (overrides the port of --http-addr).
        #[arg(long, env = "BAZAAR_PORT")]
        port: Option<u16>,
        #[command(flatten)]
        edge: EdgeConfig,
        /// Do not create demo data on first start.
        #[arg(long)]
        no_seed: bool,
        #[command(flatten)]
        nodes: NodeConfigs,
    },
    /// Run the whole platform in this process for production on one box:
    /// as `dev`, but without the development pages (no file mailbox on the
    /// web, no test payment page) and without demo data unless asked; it
    /// refuses to start without a mail transport.
    Serve {
        /// Port the web server listens on (overrides the port of --http-addr).
        #[arg(long, env = "BAZAAR_PORT")]
        port: Option<u16>,
        #[command(flatten)]
        edge: EdgeConfig,
        /// Create the demo shop data on first start.
        #[arg(long)]
        demo_data: bool,
        #[command(flatten)]
        nodes: NodeConfigs,
    },
    /// Run one domain's node (any number of copies may run).
    Node {
        /// auth, catalog, orders, sellers, admin, chat, logs, recommend or mail.
        domain: Domain,
        #[command(flatten)]
        nodes: NodeConfigs,
    },
    /// Run an HTTP edge.
    Edge {
        #[command(flatten)]
        edge: EdgeConfig,
    },
    /// Write the NATS credentials (one nkey seed per identity, kept when
    /// present) and the server configuration with the permissions the
    /// contract gives each identity, then exit.
    NatsSetup {
        /// Directory for `<identity>.nk` and `nats-server.conf`.
        #[arg(long, required_unless_present = "print_permissions")]
        out: Option<std::path::PathBuf>,
        /// A JSON server configuration to add the users to (ports,
        /// JetStream, TLS, cluster), as NixOS writes one.
        #[arg(long)]
        base_config: Option<std::path::PathBuf>,
        /// Print the permissions as a Markdown table instead.
        #[arg(long, conflicts_with_all = ["base_config"])]
        print_permissions: bool,
    },
    /// Apply database migrations, then exit.
    Migrate,
    /// Create demo data if missing (idempotent), then exit; with --products,
    /// add that many synthetic products (with sellers and shops) instead.
    /// On embedded storage it prepares the data dir and starts a nats-server
    /// if none answers, like `dev`.
    Seed {
        /// Add this many synthetic products (every run adds more).
        #[arg(long)]
        products: Option<u64>,
        /// Random seed: the same seed makes the same products (with fresh ids).
        #[arg(long)]
        seed: Option<u64>,
        /// Shops to spread them over (default: one per 500 products, at least 3).
        #[arg(long)]
        shops: Option<u64>,
        /// Products per INSERT statement.
        #[arg(long, default_value_t = bazaar_seed::DEFAULT_BATCH_SIZE)]
        batch_size: usize,
    },
    /// Print the effective configuration (secrets hidden) and check it.
    CheckConfig,
    /// Train the recommender on the interactions since a date (or from a
    /// CSV), evaluate it against popularity and publish it when it is better.
    Retrain {
        #[command(flatten)]
        args: bazaar::retrain::RetrainArgs,
    },
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The analytics rollups.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Empty the rollups and count every event the streams hold again.
    Rebuild {
        /// No progress bars (for logs and scripts).
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account (the first one; later ones can also be added by an admin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Admin")]
        name: String,
        /// Read the password from this file (first line); otherwise it is prompted for.
        #[arg(long)]
        password_file: Option<std::path::PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bazaar_runtime::pages::prefer_small_pages();
    // SurrealDB brings rustls' aws-lc provider and NATS brings ring; pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    telemetry::init_with(Some(cli.common.log_format), cli.common.log_publish_level);
    let common = cli.common;
    let database = cli.database;
    match cli.command {
        Command::Dev {
            port,
            edge,
            no_seed,
            nodes,
        } => {
            one_process(
                common,
                &database,
                edge,
                nodes,
                port,
                Mode::Dev { seed: !no_seed },
            )
            .await
        }
        Command::Serve {
            port,
            edge,
            demo_data,
            nodes,
        } => {
            one_process(
                common,
                &database,
                edge,
                nodes,
                port,
                Mode::Serve { seed: demo_data },
            )
            .await
        }
        Command::Node { domain, nodes } => node(common, &database, domain, nodes).await,
        Command::Edge { edge } => edge_only(common, edge).await,
        Command::NatsSetup {
            out,
            base_config,
            print_permissions,
        } => {
            let Some(out) = out.filter(|_| !print_permissions) else {
                print!("{}", bazaar::bus_setup::permissions_table());
                return Ok(());
            };
            let setup = bazaar::bus_setup::write(&out, base_config.as_deref())?;
            println!(
                "NATS credentials in {} ({} new), server configuration {}",
                setup.dir.display(),
                setup.created.len(),
                setup.server_config().display()
            );
            Ok(())
        }
        Command::Migrate => {
            let db = open_db(&common, &database).await?;
            let applied = bazaar_schema::migrate(&db).await?;
            println!(
                "schema at version {} ({} migration(s) applied)",
                bazaar_schema::latest_version(),
                applied.len()
            );
            Ok(())
        }
        Command::Seed {
            products,
            seed,
            shops,
            batch_size,
        } => {
            let options = products.map(|n| {
                let defaults = bazaar_seed::SeedOptions::new(n);
                bazaar_seed::SeedOptions {
                    seed,
                    shops,
                    batch_size,
                    progress: true,
                    ..defaults
                }
            });
            seed_command(common, &database, options).await
        }
        Command::CheckConfig => check_config(&common, &database).await,
        Command::Retrain { args } => {
            let nats = common
                .bus()
                .connect(Principal::Operator, "bazaar-retrain")
                .await?;
            bazaar::retrain::retrain(&nats, &args).await.map(|_| ())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    name,
                    password_file,
                },
        } => create_admin(&common, &database, email, name, password_file).await,
        Command::Analytics {
            command: AnalyticsCommand::Rebuild { quiet },
        } => {
            let db = open_db(&common, &database).await?;
            bazaar_schema::require_current(&db).await?;
            let nats = common
                .bus()
                .connect(Principal::Operator, "bazaar-analytics")
                .await?;
            let js = async_nats::jetstream::new(nats);
            let applied = bazaar::analytics::rebuild(&db, &js, quiet).await?;
            println!("analytics rebuilt from {applied} events");
            Ok(())
        }
    }
}

async fn open_db(common: &CommonConfig, database: &DatabaseConfig) -> anyhow::Result<Db> {
    let url = database.url(&common.data_dir);
    if url.starts_with("surrealkv://") {
        ensure_writable(&common.data_dir)?;
    }
    bazaar_schema::connect(&url, database.credentials().as_ref())
        .await
        .with_context(|| format!("cannot open the database at {url}"))
}

fn ensure_writable(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the data dir {} (set --data-dir or BAZAAR_DATA_DIR)",
            dir.display()
        )
    })?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").with_context(|| {
        format!(
            "the data dir {} is not writable (set --data-dir or BAZAAR_DATA_DIR)",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Reaches NATS at the configured URL as `principal`; on one box, starts a
/// server when none answers, closed with credentials kept in the data dir.
async fn reach_nats(
    common: &mut CommonConfig,
    may_start: bool,
    principal: Principal,
) -> anyhow::Result<Option<NatsServer>> {
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        common.bus().connect(principal, "bazaar-probe"),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if reachable {
        tracing::info!(url = %common.nats_url, "using the running NATS server");
        return Ok(None);
    }
    if !may_start {
        bail!(
            "cannot reach NATS at {} as `{principal}` (set BAZAAR_NATS_URL and \
             BAZAAR_NATS_CREDENTIALS_DIR, or use `bazaar dev`, which starts one)",
            common.nats_url
        );
    }
    let setup = bazaar::bus_setup::write(&common.data_dir.join("nats-bus"), None)?;
    let server = NatsServer::start(&common.data_dir.join("nats"), &setup).await?;
    tracing::info!(
        url = server.url(),
        credentials = %setup.dir.display(),
        "started nats-server (it stops with bazaar)"
    );
    common.nats_url = server.url().to_owned();
    common.nats_credentials_dir = Some(setup.dir);
    Ok(Some(server))
}

/// NATS, database (migrated in dev), keys and the node context.
async fn connect_platform(
    common: &CommonConfig,
    database: &DatabaseConfig,
    dev: bool,
    principal: Principal,
) -> anyhow::Result<(NodeContext, Db, async_nats::Client)> {
    let db = open_db(common, database).await?;
    if dev {
        bazaar_schema::migrate(&db).await?;
        ensure_key_pair(
            &common.jwt_private_key_file(),
            &common.jwt_public_key_file(),
        )?;
    } else {
        bazaar_schema::require_current(&db).await?;
    }
    let verifier = TokenVerifier::from_file(&common.jwt_public_key_file())?;
    let nats = common
        .bus()
        .connect(principal, &format!("bazaar-{principal}"))
        .await?;
    Ok((
        NodeContext::new(common, principal, nats.clone(), verifier),
        db,
        nats,
    ))
}

/// How the one-process platform runs.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Development: the file mailbox on the web without SMTP, the test
    /// payment page without Stripe, demo data unless `--no-seed`.
    Dev { seed: bool },
    /// Production on one box: none of the development pages, demo data only
    /// when asked, and a mail transport required.
    Serve { seed: bool },
}

/// `bazaar dev` and `bazaar serve`: every node and the edge in this process.
async fn one_process(
    mut common: CommonConfig,
    database: &DatabaseConfig,
    mut edge: EdgeConfig,
    mut nodes: NodeConfigs,
    port: Option<u16>,
    mode: Mode,
) -> anyhow::Result<()> {
    let (seed, dev) = match mode {
        Mode::Dev { seed } => (seed, true),
        Mode::Serve { seed } => (seed, false),
    };
    if !dev && nodes.mail.smtp_url.is_none() && nodes.mail.mailbox_dir.is_none() {
        anyhow::bail!(
            "`bazaar serve` sends real mail: set BAZAAR_SMTP_URL (or, to keep mail as \
             files that are never served, BAZAAR_MAILBOX_DIR)"
        );
    }
    ensure_writable(&common.data_dir)?;
    if let Some(port) = port {
        let host = edge
            .http_addr
            .rsplit_once(':')
            .map_or("127.0.0.1", |(h, _)| h)
            .to_owned();
        edge.http_addr = format!("{host}:{port}");
        if edge.public_url == EdgeConfig::default().public_url {
            edge.public_url = format!("http://localhost:{port}");
        }
    }
    // Bind first: a taken port is the most common mistake, and it is cheap to find out.
    let listener = bazaar_edge::bind(&edge.http_addr).await?;
    let nats_server = reach_nats(&mut common, true, Principal::Operator).await?;
    let (ctx, db, _) = connect_platform(&common, database, true, Principal::Operator).await?;
    if seed {
        platform::seed(&ctx, &db).await?;
    }
    let shutdown = Shutdown::new();
    // Development without SMTP: what would have been mailed is at
    // /dev/mailbox. Development without a payment provider: card payments
    // go through the clearly labelled test payment page, so a purchase can
    // be completed (with a Stripe key set the test page is off). `serve`
    // has neither.
    nodes.mail.serve_mailbox = dev && nodes.mail.smtp_url.is_none();
    nodes.orders.test_payments = dev && !nodes.stripe.enabled();
    edge.test_payments = nodes.orders.test_payments;
    nodes.orders.public_url = edge.public_url.clone();
    nodes.chat.public_url = edge.public_url.clone();
    // One recorder for every node and the edge in this process. `dev`
    // serves it on the edge's /metrics; `serve` on its metrics address.
    let metrics = if dev || common.metrics_addr.is_some() {
        Some(bazaar_runtime::metrics::install(common.metrics_addr)?)
    } else {
        None
    };
    let nodes = platform::spawn_all(&ctx, &db, &nodes, &shutdown);
    let public_url = edge.public_url.clone();
    let nats = common.bus().connect(Principal::Edge, "bazaar-edge").await?;
    let mut state = EdgeState::new(
        nats,
        common.request_timeout(),
        platform::DOMAINS.to_vec(),
        edge,
    );
    if let Some(handle) = metrics.filter(|_| dev) {
        state = state.with_metrics(handle);
    }
    let edge_task = tokio::spawn(bazaar_edge::serve(listener, state, shutdown.clone()));
    println!(
        "Bazaar is running at {public_url}  (API docs: /api-docs, health: /readyz; Ctrl-C stops)"
    );
    // A node that cannot start (or stops) stops the whole box with its
    // error: a platform that looks up but never becomes ready helps no one.
    let mut nodes: futures::stream::FuturesUnordered<_> = nodes
        .into_iter()
        .zip(platform::DOMAINS)
        .map(|(task, domain)| async move {
            let ended = match task.await {
                Ok(ran) => ran.map_err(anyhow::Error::new),
                Err(panicked) => Err(anyhow::Error::new(panicked)),
            };
            (domain, ended)
        })
        .collect();
    let failed = tokio::select! {
        () = wait_for_signal(&shutdown) => None,
        Some((domain, ended)) = futures::StreamExt::next(&mut nodes) => Some(
            ended
                .and_then(|()| Err(anyhow::anyhow!("it stopped on its own")))
                .with_context(|| format!("the {domain} node stopped")),
        ),
    };
    shutdown.cancel();
    let mut result = failed.unwrap_or(Ok(()));
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "stopping Bazaar");
    }
    while let Some((domain, ended)) = futures::StreamExt::next(&mut nodes).await {
        if result.is_ok() {
            result = ended.with_context(|| format!("the {domain} node stopped"));
        }
    }
    let edge_stopped = edge_task.await;
    bazaar_schema::close(db, &database.url(&common.data_dir)).await;
    if let Some(server) = nats_server {
        server.stop().await;
    }
    result?;
    Ok(edge_stopped??)
}

/// `bazaar seed`: on embedded storage (one box) the data dir, schema, keys
/// and a nats-server are set up as `dev` does; elsewhere the schema must be
/// current and NATS reachable.
async fn seed_command(
    mut common: CommonConfig,
    database: &DatabaseConfig,
    products: Option<bazaar_seed::SeedOptions>,
) -> anyhow::Result<()> {
    let url = database.url(&common.data_dir);
    let one_box = url.starts_with("surrealkv://") || url.starts_with("mem://");
    if one_box {
        ensure_writable(&common.data_dir)?;
    }
    let nats_server = reach_nats(&mut common, one_box, Principal::Operator).await?;
    let result = async {
        let (ctx, db, nats) =
            connect_platform(&common, database, one_box, Principal::Operator).await?;
        let seeded = match products {
            None => platform::seed(&ctx, &db).await.map_err(anyhow::Error::from),
            Some(options) => seed_products(&ctx, &db, &options).await,
        };
        bazaar_schema::close(db, &url).await;
        seeded?;
        // Everything published is with the server before it may stop.
        nats.flush().await?;
        nats.drain().await?;
        anyhow::Ok(())
    }
    .await;
    if let Some(server) = nats_server {
        server.stop().await;
    }
    result
}

async fn seed_products(
    ctx: &NodeContext,
    db: &Db,
    options: &bazaar_seed::SeedOptions,
) -> anyhow::Result<()> {
    platform::seed_categories(ctx, db).await?;
    let report = platform::seed_products(ctx, db, options).await?;
    let secs = report.elapsed.as_secs_f64();
    println!(
        "seeded {} products ({} live, {} flash sales) in {} new shops in {secs:.1} s: {:.0} products/s (seed {})",
        report.products,
        report.live,
        report.flash_sales,
        report.shops,
        report.products_per_second(),
        report.seed
    );
    Ok(())
}

async fn node(
    mut common: CommonConfig,
    database: &DatabaseConfig,
    domain: Domain,
    nodes: NodeConfigs,
) -> anyhow::Result<()> {
    let principal = Principal::Node(domain);
    reach_nats(&mut common, false, principal).await?;
    let (ctx, db, _nats) = connect_platform(&common, database, false, principal).await?;
    if let Some(addr) = common.metrics_addr {
        bazaar_runtime::metrics::install(Some(addr))?;
    }
    let shutdown = Shutdown::new();
    let task = tokio::spawn(platform::run_node(domain, ctx, db, nodes, shutdown.clone()));
    tokio::select! {
        res = task => return Ok(res??),
        () = wait_for_signal(&shutdown) => {}
    }
    Ok(())
}

async fn edge_only(mut common: CommonConfig, edge: EdgeConfig) -> anyhow::Result<()> {
    reach_nats(&mut common, false, Principal::Edge).await?;
    let listener = bazaar_edge::bind(&edge.http_addr).await?;
    if let Some(addr) = common.metrics_addr {
        bazaar_runtime::metrics::install(Some(addr))?;
    }
    let nats = common.bus().connect(Principal::Edge, "bazaar-edge").await?;
    let shutdown = Shutdown::new();
    let state = EdgeState::new(
        nats,
        common.request_timeout(),
        platform::DOMAINS.to_vec(),
        edge,
    );
    let task = tokio::spawn(bazaar_edge::serve(listener, state, shutdown.clone()));
    wait_for_signal(&shutdown).await;
    shutdown.cancel();
    Ok(task.await??)
}

async fn check_config(common: &CommonConfig, database: &DatabaseConfig) -> anyhow::Result<()> {
    println!("nats url:        {}", common.nats_url);
    println!(
        "nats identity:   {}",
        common.nats_credentials_dir.as_ref().map_or(
            "none (an open server)".to_owned(),
            |d| format!("nkey seeds in {}", d.display())
        )
    );
    println!("data dir:        {}", common.data_dir.display());
    println!("database url:    {}", database.url(&common.data_dir));
    println!(
        "database auth:   {}",
        if database.database_password.is_some() {
            "user + password (hidden)"
        } else {
            "none"
        }
    );
    println!(
        "jwt public key:  {}",
        common.jwt_public_key_file().display()
    );
    println!("request timeout: {:?}", common.request_timeout());
    println!(
        "metrics:         {}",
        common.metrics_addr.map_or(
            "not served (bazaar dev: /metrics on the edge)".to_owned(),
            |a| { format!("http://{a}/metrics") }
        )
    );
    let db = open_db(common, database).await?;
    let version = bazaar_schema::current_version(&db).await?;
    println!(
        "schema version:  {version} (this build: {})",
        bazaar_schema::latest_version()
    );
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM, or for `shutdown` to be cancelled elsewhere.
async fn wait_for_signal(shutdown: &Shutdown) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C: stopping"),
        () = term => tracing::info!("SIGTERM: stopping"),
        () = shutdown.cancelled() => {}
    }
}

async fn create_admin(
    common: &CommonConfig,
    database: &DatabaseConfig,
    email: String,
    name: String,
    password_file: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let password = match password_file {
        Some(path) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => {
            let first = rpassword::prompt_password("Password for the new admin: ")?;
            let again = rpassword::prompt_password("Again: ")?;
            if first != again {
                bail!("the two passwords differ");
            }
            first
        }
    };
    let db = open_db(common, database).await?;
    bazaar_schema::migrate(&db).await?;
    let input = bazaar_subjects::auth::CreateAdmin {
        name,
        email,
        password,
    };
    match bazaar_auth::create_admin(&db, input).await {
        Ok(account) => {
            println!("admin {} created ({})", account.email, account.id);
            Ok(())
        }
        Err(e) => {
            let envelope = bazaar_subjects::ErrorEnvelope::from(e);
            let fields: Vec<String> = envelope
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect();
            bail!("{} {}", envelope.message, fields.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clap checks its definitions only when a command runs; two settings
    /// with one name would otherwise surface as a panic at start-up.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
