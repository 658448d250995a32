//! A real SurrealDB server (`bazaar-surreal`, built from
//! `cluster/surreal-server`) on a free loopback port with its store in a
//! temp dir, as `scripts/cluster` runs it: for drills that restart the
//! database under load. The platform's nodes reach it over `ws://`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bazaar_schema::Credentials;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// The server binary: `BAZAAR_SURREAL_BIN`, else where `scripts/test` and
/// `scripts/cluster` build it.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("BAZAAR_SURREAL_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("BAZAAR_SURREAL_TARGET").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/bazaar-surreal-target")
        },
        PathBuf::from,
    );
    target.join("debug/bazaar-surreal")
}

pub struct SurrealServer {
    bin: PathBuf,
    store: PathBuf,
    port: u16,
    pub credentials: Credentials,
    child: Mutex<Option<Child>>,
}

impl SurrealServer {
    /// Starts a server with its store under `dir` and waits until it answers.
    pub async fn start(dir: &Path) -> Self {
        let bin = binary();
        assert!(
            bin.is_file(),
            "{} is missing: build it with `CARGO_TARGET_DIR=~/.cache/bazaar-surreal-target \
             cargo build --manifest-path cluster/surreal-server/Cargo.toml` (scripts/test does)",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Self {
            bin,
            store: dir.join("surrealdb"),
            port,
            credentials: Credentials {
                username: "root".into(),
                password: uuid::Uuid::now_v7().simple().to_string(),
            },
            child: Mutex::new(None),
        };
        server.launch().await;
        server
    }

    /// `ws://127.0.0.1:PORT`, for `bazaar_schema::connect`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    async fn launch(&self) {
        let child = Command::new(&self.bin)
            .args(["start", "--bind", &format!("127.0.0.1:{}", self.port)])
            .args(["--user", &self.credentials.username])
            .args(["--pass", &self.credentials.password])
            .arg(format!("surrealkv://{}", self.store.display()))
            .env("SURREAL_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("bazaar-surreal starts");
        *self.child.lock().await = Some(child);
        let health = format!("http://127.0.0.1:{}/health", self.port);
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(&health).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SurrealDB server did not answer on port {}", self.port);
    }

    /// Stops the server as an operator restarting it does (SIGTERM, and
    /// waits for it to exit), then starts it again on the same port and
    /// store; how long the database was away.
    pub async fn restart(&self) -> Duration {
        let started = std::time::Instant::now();
        if let Some(mut child) = self.child.lock().await.take() {
            crate::terminate(&mut child).await;
        }
        self.launch().await;
        started.elapsed()
    }
}
