//! The platform test harness: real `nats-server -js` on a free loopback port
//! with a temp store (or three in a JetStream cluster, for failure drills),
//! SurrealDB `mem://`, the nodes in-process, and an HTTP client against a
//! real edge. Everything stops when the [`Platform`] drops,
//! panics included (the nats-server child is killed on drop, the temp dir is
//! removed).

pub mod browser;
pub mod drill;
pub mod oidc;
pub mod prometheus;
pub mod smtp_server;
pub mod socket;
pub mod story;
pub mod stripe;
pub mod surreal;

use std::path::PathBuf;
use std::time::Duration;

use bazaar::bus_setup::BusSetup;
use bazaar::natsd::NatsCluster;
use bazaar::platform;
use bazaar_edge::{EdgeConfig, EdgeState};
use bazaar_runtime::tokens::generate_key_pair;
use bazaar_runtime::{CommonConfig, NodeContext, Shutdown, TokenSigner, TokenVerifier};
use bazaar_subjects::bus::Principal;
use bazaar_subjects::{Domain, Role};
use tokio::task::JoinHandle;

/// One running platform for one test.
pub struct Platform {
    /// One server, or three clustered with [`Options::nats_cluster`].
    pub nats_server: NatsCluster,
    pub ctx: NodeContext,
    /// The database every node of this platform shares.
    pub db: bazaar_schema::Db,
    /// The SurrealDB server behind `db`, with [`Options::surreal_server`].
    pub surreal: Option<surreal::SurrealServer>,
    pub http: reqwest::Client,
    pub base_url: String,
    pub configs: platform::NodeConfigs,
    edge_config: EdgeConfig,
    /// The first edge's own connection: which server it is on.
    edge_nats: async_nats::Client,
    /// The credentials a killed NATS server restarts with.
    bus: BusSetup,
    signer: TokenSigner,
    shutdown: Shutdown,
    nodes: Vec<JoinHandle<Result<(), platform::PlatformError>>>,
    _dir: tempfile::TempDir,
    kept: Vec<tempfile::TempDir>,
}

/// A node copy started by a test, which the test may stop.
pub struct NodeCopy {
    shutdown: Shutdown,
    task: JoinHandle<Result<(), platform::PlatformError>>,
}

/// An edge started by a test ([`Platform::start_edge_copy`]).
pub struct EdgeCopy {
    pub base_url: String,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), bazaar_edge::ServeError>>,
}

impl EdgeCopy {
    /// Stops the edge as a box taken out of service would: it stops
    /// listening, finishes what is in flight and closes its sockets.
    pub async fn stop(self) {
        self.shutdown.cancel();
        // A client that holds its connection open must not hold the drill.
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

impl NodeCopy {
    /// Kills the copy where it stands, as a crash would: nothing in flight
    /// is finished or acknowledged.
    pub fn crash(self) {
        self.task.abort();
    }

    /// Waits (up to 30 s) for a copy that stops by itself, as one that
    /// cannot start does, and gives what it ended with.
    pub async fn ended(self) -> Result<(), platform::PlatformError> {
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the node copy ends by itself")
            .expect("node task panicked")
    }

    /// Stops the copy gracefully and waits until it has drained.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("node task panicked")
            .expect("node failed");
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// Start one copy of every node (else only NATS, database and edge).
    pub nodes: bool,
    pub edge: EdgeConfig,
    /// Node settings; `None`: one-box defaults under the temp data dir.
    pub configs: Option<platform::NodeConfigs>,
    /// Domains whose node the test starts itself ([`Platform::start_node`]).
    pub without: Vec<Domain>,
    /// Three `nats-server`s in a JetStream cluster instead of one, every
    /// stream, bucket and store with 3 replicas, as `scripts/cluster` and
    /// production run: for drills that kill a server.
    pub nats_cluster: bool,
    /// A real SurrealDB server (`bazaar-surreal`, over `ws://`) instead of
    /// embedded `mem://`, as the distributed mode runs: for drills that
    /// restart the database.
    pub surreal_server: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nodes: true,
            edge: EdgeConfig::default(),
            configs: None,
            without: Vec::new(),
            nats_cluster: false,
            surreal_server: false,
        }
    }
}

/// How long [`eventually`] keeps reading: the search index shows a write
/// within about a second, other read models fed by events sooner; the rest
/// is slack for a loaded machine.
pub const EVENTUALLY: Duration = Duration::from_secs(10);

/// Reads with `read` until `done` says yes (every 50 ms, at most
/// [`EVENTUALLY`]) and returns what it read, for what a read model shows a
/// moment after the write: a story that writes and then searches waits for
/// the change to show instead of expecting it at once.
pub async fn eventually<T, F, Fut>(what: &str, read: F, done: impl Fn(&T) -> bool) -> T
where
    T: std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let started = std::time::Instant::now();
    loop {
        let found = read().await;
        if done(&found) {
            return found;
        }
        assert!(
            started.elapsed() < EVENTUALLY,
            "{what}: not so after {EVENTUALLY:?}; last read: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl Platform {
    /// NATS, database, every node and an edge.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// A platform as `bazaar dev` runs it: the file mailbox served and the
    /// test payment page on, the sign-up limit raised for stories that sign
    /// many buyers up from one address; `options` for the rest (their
    /// `configs` are replaced, their `edge` gets those two settings).
    pub async fn spawn_like_dev(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut configs = platform::NodeConfigs::in_data_dir(dir.path());
        configs.mail.serve_mailbox = true;
        configs.orders.test_payments = true;
        let edge = EdgeConfig {
            test_payments: true,
            auth_rate_limit_per_minute: 10_000,
            ..options.edge.clone()
        };
        let mut p = Self::spawn_with(Options {
            configs: Some(configs),
            edge,
            ..options
        })
        .await;
        p.keep(dir);
        p
    }

    pub async fn spawn_with(options: Options) -> Self {
        install_crypto();
        // Records always go to the platform's central logs; to the console
        // only when asked.
        bazaar_runtime::telemetry::init_with(
            std::env::var_os("BAZAAR_TEST_LOG")
                .map(|_| bazaar_runtime::telemetry::LogFormat::Pretty),
            tracing::level_filters::LevelFilter::INFO,
        );
        let dir = tempfile::tempdir().expect("temp dir");
        // The bus is closed as in production: every node, the edge and the
        // test itself connect with their own credentials and permissions.
        let bus =
            bazaar::bus_setup::write(&dir.path().join("nats-bus"), None).expect("bus credentials");
        let servers = if options.nats_cluster { 3 } else { 1 };
        let nats_server = NatsCluster::start(&dir.path().join("nats"), &bus, servers)
            .await
            .expect("nats-server starts");
        // Every connection is given every server's URL; async-nats picks
        // one at random, so the nodes' and edges' connections spread over
        // the cluster and move to another server when theirs dies.
        let mut config = CommonConfig::for_nats(&nats_server.url(), dir.path().to_path_buf());
        config.nats_credentials_dir = Some(bus.dir.clone());
        // Every copy lives on every server, so losing one loses nothing.
        // The setting is per process (nextest runs each test in its own).
        config.jetstream_replicas = if options.nats_cluster { 3 } else { 1 };
        let surreal = match options.surreal_server {
            true => Some(surreal::SurrealServer::start(dir.path()).await),
            false => None,
        };
        let db = match &surreal {
            Some(server) => bazaar_schema::connect(&server.url(), Some(&server.credentials)).await,
            None => bazaar_schema::connect("mem://", None).await,
        }
        .expect("database opens");
        bazaar_schema::migrate(&db).await.expect("migrations apply");
        let (private, public) = generate_key_pair().expect("key pair");
        let signer = TokenSigner::from_pem(private.as_bytes()).expect("signer");
        let verifier = TokenVerifier::from_pem(public.as_bytes()).expect("verifier");
        let nats = config
            .bus()
            .connect(Principal::Operator, "bazaar-test")
            .await
            .expect("nats connects");
        let ctx = NodeContext::new(&config, Principal::Operator, nats, verifier);
        let shutdown = Shutdown::new();
        let configs = options.configs.clone().unwrap_or_else(|| {
            let mut c = platform::NodeConfigs::in_data_dir(dir.path());
            // Tests read codes from the file mailbox.
            c.mail.serve_mailbox = true;
            c
        });
        let mut configs = configs;
        configs.auth.signer = Some(signer.clone());
        // JetStream reserves the images bucket's cap on disk when it makes
        // the bucket: stories upload a few small images, so a small cap
        // keeps many platforms at once from needing gigabytes free.
        if configs.catalog.images_max_bytes == bazaar_catalog::maintenance::DEFAULT_IMAGES_MAX_BYTES
        {
            configs.catalog.images_max_bytes = 64 * 1024 * 1024;
        }
        // One secret, read by the edge and the orders node from one setting.
        if configs.orders.stripe_webhook_secret.is_none() {
            configs.orders.stripe_webhook_secret = options.edge.stripe_webhook_secret.clone();
        }
        let nodes = if options.nodes {
            platform::DOMAINS
                .iter()
                .filter(|d| !options.without.contains(d))
                .map(|d| {
                    tokio::spawn(platform::run_node(
                        *d,
                        ctx.clone(),
                        db.clone(),
                        configs.clone(),
                        shutdown.clone(),
                    ))
                })
                .collect()
        } else {
            Vec::new()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("edge binds");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let mut edge = options.edge.clone();
        if edge.public_url == EdgeConfig::default().public_url {
            edge.public_url = base_url.clone();
        }
        let edge_nats = config
            .bus()
            .connect(Principal::Edge, "bazaar-test-edge")
            .await
            .expect("the edge connects");
        let state = EdgeState::new(
            edge_nats.clone(),
            Duration::from_secs(5),
            platform::DOMAINS.to_vec(),
            edge.clone(),
        );
        tokio::spawn(bazaar_edge::serve(listener, state, shutdown.clone()));
        let platform = Self {
            edge_config: edge,
            edge_nats,
            bus,
            nats_server,
            ctx,
            db,
            surreal,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            base_url,
            configs,
            signer,
            shutdown,
            nodes,
            _dir: dir,
            kept: Vec::new(),
        };
        // With nodes left out, the test starts them and then waits.
        if options.nodes && options.without.is_empty() {
            platform.wait_ready().await;
        }
        platform
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Another edge on its own port and NATS connection, as a second box
    /// would run it: its base URL. It stops with the platform.
    pub async fn start_edge(&self) -> String {
        self.start_edge_copy().await.base_url
    }

    /// Another edge (see [`Platform::start_edge`]) that the test may stop
    /// on its own, as a box taken out of service.
    pub async fn start_edge_copy(&self) -> EdgeCopy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("edge binds");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let nats = self
            .ctx
            .bus
            .connect(Principal::Edge, "bazaar-test-edge")
            .await
            .expect("the edge connects");
        let edge = EdgeConfig {
            public_url: base_url.clone(),
            ..self.edge_config.clone()
        };
        let state = EdgeState::new(
            nats,
            Duration::from_secs(5),
            platform::DOMAINS.to_vec(),
            edge,
        );
        // A child of the platform's: it stops with the platform or alone.
        let shutdown = self.shutdown.child_token();
        let task = tokio::spawn(bazaar_edge::serve(listener, state, shutdown.clone()));
        EdgeCopy {
            base_url,
            shutdown,
            task,
        }
    }

    /// Which NATS server (0, 1 or 2 in a cluster) the first edge's
    /// connection is on now: the one whose loss its requests feel.
    pub fn edge_nats_server(&self) -> usize {
        self.nats_server
            .member_on(self.edge_nats.server_info().port)
            .expect("the edge is on one of the platform's servers")
    }

    /// Kills NATS server `i` with SIGKILL (see [`NatsCluster::kill`]).
    pub async fn kill_nats_server(&self, i: usize) {
        self.nats_server.kill(i).await;
    }

    /// Starts a killed NATS server again on its port and store.
    pub async fn restart_nats_server(&self, i: usize) {
        self.nats_server
            .restart(i, &self.bus)
            .await
            .expect("the server starts again");
    }

    /// A connection to this platform's bus as `principal`, with its own
    /// credentials, and what the server refuses it (permission violations),
    /// as the server words them.
    pub async fn connect_as(
        &self,
        principal: Principal,
    ) -> (
        async_nats::Client,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let seed_file = self.ctx.bus.seed_file(principal).expect("credentials");
        let seed = std::fs::read_to_string(seed_file).expect("seed file");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .nkey(seed.trim().to_owned())
            .custom_inbox_prefix(principal.inbox_prefix())
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        let _ = tx.send(e.to_string());
                    }
                }
            })
            .connect(self.ctx.bus.servers())
            .await
            .expect("connects with its credentials");
        (client, rx)
    }

    /// Keeps a temp dir alive as long as the platform.
    pub fn keep(&mut self, dir: tempfile::TempDir) {
        self.kept.push(dir);
    }

    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }

    /// An access token for the account `id` with `role`, valid 15 minutes.
    pub fn token_for(&self, id: &str, role: Role) -> String {
        self.signer.sign(id, role, 900).expect("token signs")
    }

    /// An access token for a made-up account with `role`.
    pub fn token(&self, role: Role) -> String {
        self.signer
            .sign(&format!("account:{}", uuid::Uuid::new_v4()), role, 900)
            .expect("token signs")
    }

    /// Signs a real seller up through the API (email code and all) and
    /// returns their access token: for what needs an account that exists,
    /// such as uploading images.
    pub async fn sign_up_seller(&self, email: &str) -> String {
        self.sign_up("/api/register/seller", email).await
    }

    /// Signs a real buyer up (see [`Platform::sign_up_seller`]).
    pub async fn sign_up_buyer(&self, email: &str) -> String {
        self.sign_up("/api/register/user", email).await
    }

    async fn sign_up(&self, path: &str, email: &str) -> String {
        let name = if path.ends_with("seller") {
            "Sam Seller"
        } else {
            "Bea Buyer"
        };
        let mut body = serde_json::json!({
            "name": name, "email": email, "password": "a long and secret password",
        });
        if path.ends_with("seller") {
            body["phone"] = "+49 30 1234567".into();
            body["country"] = "DE".into();
        }
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("sign-up request");
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
        let code = six_digit_code(&self.last_email(email).await.text).expect("a code in the email");
        let session: serde_json::Value = self
            .http
            .post(self.url("/api/register/verify"))
            .json(&serde_json::json!({ "email": email, "otp": code }))
            .send()
            .await
            .expect("verify request")
            .json()
            .await
            .expect("a session");
        session["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Creates categories (name, subcategory names) as an admin would.
    pub async fn create_categories(&self, categories: &[(&str, &[&str])]) {
        let admin = self.token(Role::Admin);
        for (name, subs) in categories {
            let r = self
                .http
                .post(self.url("/api/categories"))
                .bearer_auth(&admin)
                .json(&serde_json::json!({ "name": name, "subcategories": subs }))
                .send()
                .await
                .expect("category request");
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
    }

    /// Every event of type `E` published so far, read as the contract's type.
    pub async fn events_of<E: bazaar_subjects::Event>(&self) -> Vec<E> {
        self.events(E::SUBJECT)
            .await
            .into_iter()
            .map(|e| serde_json::from_value(e).expect("the event's contract shape"))
            .collect()
    }

    /// Every product view announced so far, batched or one by one.
    pub async fn views(&self) -> Vec<bazaar_subjects::catalog::ProductViewed> {
        use bazaar_subjects::catalog::{ProductViewed, ProductsViewed};
        let mut views: Vec<ProductViewed> = self
            .events_of::<ProductsViewed>()
            .await
            .into_iter()
            .flat_map(|e| e.views)
            .collect();
        views.extend(self.events_of::<ProductViewed>().await);
        views
    }

    /// Every event published on `subject` so far (`events.<domain>.…` lives
    /// in the `<DOMAIN>_EVENTS` stream).
    pub async fn events(&self, subject: &str) -> Vec<serde_json::Value> {
        use futures::StreamExt;
        let domain = subject.split('.').nth(1).unwrap_or_default().to_uppercase();
        // Right after a drill killed a server the JetStream cluster may
        // still be choosing a leader: its API requests time out meanwhile.
        let mut tries = 0;
        let consumer = loop {
            tries += 1;
            let made = async {
                self.ctx
                    .jetstream
                    .get_stream(format!("{domain}_EVENTS"))
                    .await
                    .map_err(|e| e.to_string())?
                    .create_consumer(async_nats::jetstream::consumer::pull::Config {
                        filter_subject: subject.to_owned(),
                        deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())
            };
            match made.await {
                Ok(consumer) => break consumer,
                Err(e) if tries < 10 => {
                    eprintln!("reading {subject}: {e}; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => panic!("a reading consumer on the {domain}_EVENTS stream: {e}"),
            }
        };
        let mut out = Vec::new();
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("a fetch");
        while let Some(Ok(msg)) = batch.next().await {
            out.push(serde_json::from_slice(&msg.payload).expect("an event in JSON"));
        }
        out
    }

    /// A token with exactly these claims, signed with the platform's key.
    pub fn sign_claims(&self, claims: &bazaar_runtime::Claims) -> String {
        self.signer.sign_claims(claims).expect("token signs")
    }

    /// Another copy of a domain's node, sharing the database.
    /// A search copy gets an index dir of its own (see
    /// [`Platform::start_search_copy`] to choose it).
    pub fn start_node(&self, domain: Domain) -> NodeCopy {
        if domain == Domain::Search {
            let dir = self
                .data_dir()
                .join(format!("search-index-{}", uuid::Uuid::new_v4()));
            return self.start_search_copy(&dir);
        }
        self.start_with(domain, self.configs.clone())
    }

    /// Another copy of the search node, keeping its index in `index_dir`
    /// (an empty or missing dir: the copy rebuilds from the database).
    pub fn start_search_copy(&self, index_dir: &std::path::Path) -> NodeCopy {
        let mut configs = self.configs.clone();
        configs.search.search_index_dir = Some(index_dir.to_path_buf());
        self.start_with(Domain::Search, configs)
    }

    /// Another copy of a domain's node with settings of its own (a fault
    /// for a failure drill, say).
    pub fn start_with(&self, domain: Domain, configs: platform::NodeConfigs) -> NodeCopy {
        let shutdown = Shutdown::new();
        let task = tokio::spawn(platform::run_node(
            domain,
            self.ctx.clone(),
            self.db.clone(),
            configs,
            shutdown.clone(),
        ));
        NodeCopy { shutdown, task }
    }

    /// The newest email to `to` in the one-box mailbox (polls up to 10 s).
    pub async fn last_email(&self, to: &str) -> bazaar_subjects::mail::MailboxMessage {
        self.email_about(to, "").await
    }

    /// The newest email to `to` whose subject contains `subject` (polls up
    /// to 10 s): mail goes through a queue, so an email about the latest
    /// step may still be on its way when the step's request has answered.
    pub async fn email_about(
        &self,
        to: &str,
        subject: &str,
    ) -> bazaar_subjects::mail::MailboxMessage {
        for _ in 0..200 {
            if let Some(m) = self
                .mailbox()
                .await
                .into_iter()
                .find(|m| m.to == to && m.subject.contains(subject))
            {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email to {to} with “{subject}” in its subject arrived");
    }

    /// The first email to `to` after `before` of them had arrived (polls up
    /// to 10 s): for flows that send a second email to the same address.
    pub async fn email_after(
        &self,
        to: &str,
        before: usize,
    ) -> bazaar_subjects::mail::MailboxMessage {
        for _ in 0..200 {
            if self.email_count(to).await > before {
                return self.last_email(to).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new email to {to} arrived");
    }

    /// Every email to `to` in the one-box mailbox, newest first.
    pub async fn emails_to(&self, to: &str) -> Vec<bazaar_subjects::mail::MailboxMessage> {
        let mut all = self.mailbox().await;
        all.retain(|m| m.to == to);
        all
    }

    /// How many emails to `to` are in the one-box mailbox.
    pub async fn email_count(&self, to: &str) -> usize {
        self.mailbox().await.iter().filter(|m| m.to == to).count()
    }

    /// Every email in the one-box mailbox, newest first (none while the mail
    /// node does not answer).
    async fn mailbox(&self) -> Vec<bazaar_subjects::mail::MailboxMessage> {
        bazaar_runtime::call::<bazaar_subjects::mail::ListMailbox>(
            &self.ctx.nats,
            &bazaar_runtime::RequestMeta::default(),
            &bazaar_subjects::Empty {},
            Duration::from_secs(5),
        )
        .await
        .map(|m| m.messages)
        .unwrap_or_default()
    }

    /// Waits until `/readyz` says every node answers (30 s at most: a
    /// platform on a debug build of the SurrealDB server starts slowly).
    pub async fn wait_ready(&self) {
        let mut last = String::new();
        for _ in 0..600 {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await {
                if r.status().is_success() {
                    return;
                }
                last = r.text().await.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stopped = self.nodes.iter().filter(|n| n.is_finished()).count();
        panic!("platform never became ready ({stopped} node tasks stopped): {last}");
    }

    /// Every copy of `domain` answering the NATS service API's ping, by id.
    pub async fn node_ids(&self, domain: Domain) -> Vec<String> {
        use futures::StreamExt;
        let nats = &self.ctx.nats;
        let inbox = nats.new_inbox();
        let mut replies = nats.subscribe(inbox.clone()).await.expect("subscribe");
        nats.publish_with_reply(bazaar_subjects::ping_subject(domain), inbox, "".into())
            .await
            .expect("ping");
        let mut ids = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, replies.next()).await {
            if let Ok(p) = serde_json::from_slice::<async_nats::service::PingResponse>(&msg.payload)
            {
                ids.push(p.id);
            }
        }
        ids.sort();
        ids
    }

    /// Stops nodes and edge, waiting for them to drain.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for n in self.nodes.drain(..) {
            let _ = n.await;
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits until the edge at `base` answers `/readyz` with 200 (a minute at
/// most, for a binary just started) and returns what it said.
pub async fn ready_at(http: &reqwest::Client, base: &str) -> serde_json::Value {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return r.json().await.expect("readyz answers JSON");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

/// Stops a `bazaar` process the way an operator does (SIGTERM) and waits
/// for it (20 s at most), so it stops the nats-server it started too; a
/// process dropped with `kill_on_drop` dies by SIGKILL and leaves that
/// server running.
pub async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
}

/// The `bazaar` binary built alongside this test (target/<profile>/bazaar).
pub fn bazaar_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = profile_dir.join("bazaar");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p bazaar`",
        bin.display()
    );
    bin
}

/// The first 6-digit number in a text (the one-time code in our emails).
/// A PNG picture of `w`×`h` pixels, as a camera or phone would upload.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG encodes");
    out.into_inner()
}

pub fn six_digit_code(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// The port of the nats-server that `bazaar dev` started in `data_dir`
/// (read from that server's log).
/// The bus a `bazaar dev` with this data dir started, as its operator
/// credentials reach it.
pub fn dev_bus(data_dir: &std::path::Path) -> bazaar_runtime::BusAccess {
    bazaar_runtime::BusAccess {
        url: format!("nats://127.0.0.1:{}", dev_nats_port(data_dir)),
        credentials_dir: Some(data_dir.join("nats-bus")),
        ca_file: None,
    }
}

pub fn dev_nats_port(data_dir: &std::path::Path) -> u16 {
    let log =
        std::fs::read_to_string(data_dir.join("nats/nats-server.log")).expect("nats-server log");
    log.lines()
        .find_map(|l| {
            l.split("Listening for client connections on 127.0.0.1:")
                .nth(1)
        })
        .and_then(|p| p.trim().parse::<u16>().ok())
        .expect("nats port in its log")
}
