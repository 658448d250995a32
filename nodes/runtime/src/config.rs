//! Typed configuration from the environment, with defaults that run on one box.

use std::path::PathBuf;
use std::time::Duration;

/// What every process (node, edge, dev) reads. Flags override the environment.
/// Where the database is belongs to `bazaar_schema::DatabaseConfig`: the
/// edge never opens it.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonConfig {
    /// NATS server URL(s), comma separated.
    #[arg(
        long,
        global = true,
        env = "BAZAAR_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,

    /// The directory with this deployment's NATS credentials (`<identity>.nk`
    /// nkey seeds, written by `bazaar nats-setup`); none: connect without.
    #[arg(long, global = true, env = "BAZAAR_NATS_CREDENTIALS_DIR")]
    pub nats_credentials_dir: Option<PathBuf>,

    /// CA certificate (PEM) of the NATS servers' TLS; set, TLS is required.
    #[arg(long, global = true, env = "BAZAAR_NATS_CA_FILE")]
    pub nats_ca_file: Option<PathBuf>,

    /// Where Bazaar keeps its files on this box (embedded database, keys, mail).
    #[arg(long, global = true, env = "BAZAAR_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Ed25519 public key (PEM) that verifies access tokens.
    /// Defaults to keys/jwt-ed25519.pub.pem under the data dir.
    #[arg(long, global = true, env = "BAZAAR_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// How long a NATS request may take before it is a timeout, in milliseconds.
    #[arg(
        long,
        global = true,
        env = "BAZAAR_REQUEST_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub request_timeout_ms: u64,

    /// Log format: pretty or json.
    #[arg(
        long,
        global = true,
        env = "BAZAAR_LOG_FORMAT",
        default_value = "pretty"
    )]
    pub log_format: crate::telemetry::LogFormat,

    /// Where this process serves its Prometheus metrics (e.g.
    /// 127.0.0.1:9464); unset: none (`bazaar dev` serves them on the
    /// edge's `/metrics`).
    #[arg(long, global = true, env = "BAZAAR_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The lowest level of the records sent to the central logs (the LOGS
    /// stream): trace, debug, info, warn, error or off.
    #[arg(
        long,
        global = true,
        env = "BAZAAR_LOG_PUBLISH_LEVEL",
        default_value = "info"
    )]
    pub log_publish_level: tracing_subscriber::filter::LevelFilter,

    /// Copies of every stream, KV bucket and Object Store this process
    /// creates: 1 on one NATS server, 3 on a cluster of three. Applies when
    /// it creates them; existing ones keep theirs.
    #[arg(
        long,
        global = true,
        env = "BAZAAR_JETSTREAM_REPLICAS",
        default_value_t = 1,
        value_parser = clap::value_parser!(u8).range(1..=5)
    )]
    pub jetstream_replicas: u8,

    /// Writes of one kind (stock reserved, orders placed) that arrive
    /// together go in one database transaction, up to this many; 1 writes
    /// each alone.
    #[arg(
        long,
        global = true,
        env = "BAZAAR_GROUP_COMMIT",
        default_value_t = 16,
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub group_commit: u16,
}

impl CommonConfig {
    pub fn jwt_public_key_file(&self) -> PathBuf {
        self.jwt_public_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("jwt-ed25519.pub.pem"))
    }

    /// The private key sits beside the public one unless configured.
    pub fn jwt_private_key_file(&self) -> PathBuf {
        std::env::var_os("BAZAAR_JWT_PRIVATE_KEY_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.data_dir.join("keys").join("jwt-ed25519.pem"))
    }

    /// How this process reaches NATS.
    pub fn bus(&self) -> crate::BusAccess {
        crate::BusAccess {
            url: self.nats_url.clone(),
            credentials_dir: self.nats_credentials_dir.clone(),
            ca_file: self.nats_ca_file.clone(),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// A config for tests and embedding: everything default but the NATS
    /// URL and the data dir.
    pub fn for_nats(nats_url: &str, data_dir: PathBuf) -> Self {
        Self {
            nats_url: nats_url.to_owned(),
            nats_credentials_dir: None,
            nats_ca_file: None,
            data_dir,
            jwt_public_key_file: None,
            request_timeout_ms: 10_000,
            log_format: crate::telemetry::LogFormat::Pretty,
            metrics_addr: None,
            log_publish_level: tracing_subscriber::filter::LevelFilter::INFO,
            jetstream_replicas: 1,
            group_commit: 16,
        }
    }
}
