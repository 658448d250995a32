//! A node: typed handlers served over the NATS service API.
//!
//! Each node registers as a NATS service named after its domain, in the
//! default queue group, so `$SRV.PING.<domain>` finds every copy and starting
//! another copy spreads the load. Requests arrive on a connection of their own;
//! on shutdown that connection is drained (no new requests, none dropped) while
//! replies to the requests in flight still go out on the shared connection.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::service::ServiceExt;
use async_nats::{HeaderMap, Message};
use bazaar_subjects::bus::Principal;
use bazaar_subjects::system::{EndpointFigures, RecentError};
use bazaar_subjects::{Access, Domain, Endpoint, ErrorEnvelope, Role, headers};
use bytes::Bytes;
use futures::StreamExt;
use tokio_util::task::{AbortOnDropHandle, TaskTracker};
use tracing::Instrument;

use crate::bus::BusAccess;
use crate::config::CommonConfig;
use crate::tokens::TokenVerifier;

/// How long a stopping node waits for its requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Cancelled when the process should stop.
pub type Shutdown = tokio_util::sync::CancellationToken;

/// Everything a node needs from outside, passed in so tests and the
/// all-in-one `bazaar dev` can run many nodes in one process.
#[derive(Clone)]
pub struct NodeContext {
    /// Where the NATS servers are and the credentials (each node opens its
    /// own serving connection).
    pub bus: BusAccess,
    /// Who this context's connection is on the bus.
    pub principal: Principal,
    /// The shared connection: replies, events, calls to other nodes.
    pub nats: async_nats::Client,
    pub jetstream: async_nats::jetstream::Context,
    pub verifier: Arc<TokenVerifier>,
    /// How long calls to other nodes may take.
    pub request_timeout: Duration,
    /// This box's data dir (one-box files: mailbox, keys).
    pub data_dir: std::path::PathBuf,
    /// Writes of one kind a node puts in one transaction at most (see
    /// `bazaar_schema::group`).
    pub group_commit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(
        "cannot connect to NATS at {url}: {source} (is nats-server running? `bazaar dev` starts one)"
    )]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot register the {domain} service with NATS: {source}")]
    Register {
        domain: Domain,
        source: async_nats::Error,
    },
    #[error(transparent)]
    Key(#[from] crate::tokens::KeyError),
    #[error("JetStream set-up failed: {0}")]
    JetStream(String),
    /// JetStream refused to reserve a bucket's cap on its store: the cap
    /// is larger than the room the server has left.
    #[error(
        "JetStream set-up failed: the {bucket} bucket with a cap of {max_bytes} bytes was refused \
         ({reason}); JetStream reserves the cap on its store, so a cap must fit the server's free storage"
    )]
    CapRefused {
        bucket: String,
        max_bytes: u64,
        reason: String,
    },
    /// A node's own settings are unusable (e.g. a malformed URL or address).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl NodeContext {
    /// Connects to NATS and loads the token verifier, the way a node started
    /// on its own does. Nodes that keep tables get their database from
    /// whoever starts them (see `bazaar_schema::connect`).
    pub async fn connect(config: &CommonConfig, principal: Principal) -> Result<Self, NodeError> {
        let nats = config
            .bus()
            .connect(principal, &format!("bazaar-{principal}"))
            .await?;
        let verifier = TokenVerifier::from_file(&config.jwt_public_key_file())?;
        Ok(Self::new(config, principal, nats, verifier))
    }

    /// A context around a connection made as `principal`.
    pub fn new(
        config: &CommonConfig,
        principal: Principal,
        nats: async_nats::Client,
        verifier: TokenVerifier,
    ) -> Self {
        crate::logbus::attach(principal.name(), nats.clone());
        crate::jetstream::set_replicas(config.jetstream_replicas);
        let jetstream = async_nats::jetstream::new(nats.clone());
        // Every node this context serves refuses banned accounts' tokens.
        tokio::spawn(crate::revocation::follow(
            jetstream.clone(),
            verifier.revocations().clone(),
        ));
        Self {
            principal,
            bus: config.bus(),
            jetstream,
            nats,
            verifier: Arc::new(verifier),
            request_timeout: config.request_timeout(),
            data_dir: config.data_dir.clone(),
            group_commit: usize::from(config.group_commit),
        }
    }

    /// This context as `principal`, on a connection of its own unless it is
    /// that identity already: how one process runs several nodes, each with
    /// only its own permissions.
    pub async fn as_principal(&self, principal: Principal) -> Result<Self, NodeError> {
        if self.principal == principal {
            return Ok(self.clone());
        }
        let nats = self
            .bus
            .connect(principal, &format!("bazaar-{principal}"))
            .await?;
        crate::logbus::attach(principal.name(), nats.clone());
        Ok(Self {
            principal,
            jetstream: async_nats::jetstream::new(nats.clone()),
            nats,
            ..self.clone()
        })
    }
}

/// Who is calling, as established by verifying their token in this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Account {
        id: String,
        role: Role,
        /// The email and name the token carries, if it carries them.
        contact: Option<crate::tokens::TokenContact>,
    },
}

impl Caller {
    pub fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::Account { role, .. } => Some(*role),
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Account { id, .. } => Some(id),
        }
    }

    /// The caller's email and name as their token carries them.
    pub fn contact(&self) -> Option<&crate::tokens::TokenContact> {
        match self {
            Caller::Anonymous => None,
            Caller::Account { contact, .. } => contact.as_ref(),
        }
    }

    /// Refuses callers the access level does not admit: 401 when nobody is
    /// signed in, 403 when the role is not enough.
    pub fn require(&self, access: Access) -> Result<(), ErrorEnvelope> {
        match (access, self) {
            (Access::Public, _) => Ok(()),
            (_, Caller::Anonymous) => Err(ErrorEnvelope::unauthorized("sign in to do this")),
            (access, Caller::Account { role, .. }) if role.may(access) => Ok(()),
            _ => Err(ErrorEnvelope::forbidden("your account may not do this")),
        }
    }
}

/// One decoded request, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Request<T> {
    pub body: T,
    pub caller: Caller,
    pub request_id: String,
    /// The caller's token as it arrived, for calls made on their behalf.
    pub authorization: Option<String>,
}

impl<T> Request<T> {
    /// What a call to another node on this caller's behalf carries: the same
    /// request id and token, so the other node judges the caller itself.
    pub fn onward(&self) -> crate::RequestMeta {
        crate::RequestMeta {
            request_id: self.request_id.clone(),
            authorization: self.authorization.clone(),
        }
    }
}

/// Logs an infrastructure failure once, here at the boundary, and gives the
/// client the opaque internal error.
pub fn internal(err: impl std::fmt::Display) -> ErrorEnvelope {
    tracing::error!(error = %err, "internal error");
    ErrorEnvelope::internal()
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Bytes, ErrorEnvelope>> + Send>>;
type Erased = Arc<dyn Fn(Message, Caller, String) -> BoxFuture + Send + Sync>;

struct Route {
    domain: Domain,
    subject: &'static str,
    access: Access,
    handler: Erased,
}

/// Each endpoint's figures since this copy started, by subject. Replies go
/// out on the shared connection (so a stopping node can drain), past the
/// service API's own counters, so the copy counts them here and reports them
/// in each endpoint's `$SRV.STATS` `data`.
#[derive(Clone, Default)]
struct Figures(Arc<Mutex<HashMap<&'static str, EndpointFigures>>>);

impl Figures {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, EndpointFigures>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(
        &self,
        subject: &'static str,
        result: Result<(), &ErrorEnvelope>,
        took: Duration,
        request_id: &str,
    ) {
        let mut all = self.lock();
        let f = all.entry(subject).or_default();
        f.requests += 1;
        f.busy_micros += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        match result {
            Ok(()) => {}
            Err(e) if e.status >= 500 => {
                f.errors += 1;
                f.last_error = Some(RecentError {
                    subject: subject.to_owned(),
                    status: e.status,
                    message: e.message.clone(),
                    request_id: request_id.to_owned(),
                    at: time::OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                });
            }
            Err(_) => f.refused += 1,
        }
    }

    /// What `$SRV.STATS` carries in an endpoint's `data`.
    fn data(&self, subject: &str) -> serde_json::Value {
        let all = self.lock();
        let figures = all.get(subject).cloned().unwrap_or_default();
        serde_json::to_value(figures).unwrap_or_default()
    }
}

/// What [`Node::serve`] takes: an async function of the node's state and one
/// decoded request, such as `async fn create(&self, req: Request<ShopInput>)
/// -> Result<Shop, SellersError>` on the state's type, whose error becomes
/// the wire's envelope. Implemented for every such function; there is
/// nothing to implement by hand.
pub trait Handler<'a, S: 'a, Req, Reply>: Send + Sync + 'static {
    type Error: Into<ErrorEnvelope>;
    type Future: Future<Output = Result<Reply, Self::Error>> + Send + 'a;

    fn call(&self, state: &'a S, req: Request<Req>) -> Self::Future;
}

impl<'a, S, Req, Reply, Err, F, Fut> Handler<'a, S, Req, Reply> for F
where
    S: 'a,
    F: Fn(&'a S, Request<Req>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Reply, Err>> + Send + 'a,
    Err: Into<ErrorEnvelope>,
{
    type Error = Err;
    type Future = Fut;

    fn call(&self, state: &'a S, req: Request<Req>) -> Fut {
        self(state, req)
    }
}

/// A node under construction: a domain, the state its handlers share and
/// its typed handlers, registered as a flat list:
///
/// ```ignore
/// Node::new(ctx, Domain::Sellers, "shops")
///     .with_state(store)
///     .serve::<CreateShop>(SellersStore::create)
///     .serve::<GetShop>(SellersStore::page)
///     .run(shutdown)
///     .await
/// ```
pub struct Node<S = ()> {
    ctx: NodeContext,
    domain: Domain,
    quiet: bool,
    description: String,
    state: Arc<S>,
    routes: Vec<Route>,
}

impl Node {
    pub fn new(ctx: NodeContext, domain: Domain, description: impl Into<String>) -> Self {
        Self {
            ctx,
            domain,
            quiet: false,
            description: description.into(),
            state: Arc::new(()),
            routes: Vec::new(),
        }
    }
}

impl<S: Send + Sync + 'static> Node<S> {
    /// The state every handler served from here on is given by reference.
    pub fn with_state<T: Send + Sync + 'static>(self, state: T) -> Node<T> {
        Node {
            ctx: self.ctx,
            domain: self.domain,
            quiet: self.quiet,
            description: self.description,
            state: Arc::new(state),
            routes: self.routes,
        }
    }

    /// Records a request it answered at `debug`, not `info` (refusals stay
    /// `info`): for the logs node, whose every answer would otherwise be a
    /// new record, and a live tail would show its own polls.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Serves endpoint `E` with `handler`, an async function of the state
    /// and the request (see [`Handler`]). Decoding, access checks (from
    /// `E::ACCESS`, enforced here in the node) and encoding are done for it.
    pub fn serve<E: Endpoint>(
        mut self,
        handler: impl for<'a> Handler<'a, S, E::Request, E::Reply>,
    ) -> Self {
        assert_eq!(
            E::DOMAIN,
            self.domain,
            "{} is not a {} subject",
            E::SUBJECT,
            self.domain
        );
        let handler = Arc::new(handler);
        let state = self.state.clone();
        let erased: Erased = Arc::new(move |msg: Message, caller: Caller, request_id: String| {
            let handler = handler.clone();
            let state = state.clone();
            Box::pin(async move {
                let body = decode::<E::Request>(&msg.payload)?;
                let authorization = header(&msg, headers::AUTHORIZATION)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
                let request = Request {
                    body,
                    caller,
                    request_id,
                    authorization,
                };
                let reply = handler.call(&state, request).await.map_err(Into::into)?;
                serde_json::to_vec(&reply)
                    .map(Bytes::from)
                    .map_err(internal)
            })
        });
        self.routes.push(Route {
            domain: E::DOMAIN,
            subject: E::SUBJECT,
            access: E::ACCESS,
            handler: erased,
        });
        self
    }

    /// Serves until `shutdown`, then drains: stops taking requests, finishes
    /// the ones in flight and flushes their replies.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), NodeError> {
        let domain = self.domain;
        let serving = self
            .ctx
            .bus
            .connect(Principal::Node(domain), &format!("bazaar-{domain}-serving"))
            .await?;
        let figures = Figures::default();
        let reported = figures.clone();
        let service = serving
            .service_builder()
            .description(self.description.clone())
            .stats_handler(move |_, stats| reported.data(&stats.subject))
            .start(domain.name(), crate::VERSION)
            .await
            .map_err(|source| NodeError::Register { domain, source })?;
        let tracker = TaskTracker::new();
        let mut loops = Vec::new();
        let endpoints = self.routes.len();
        for route in self.routes {
            let mut endpoint = service
                .endpoint(route.subject)
                .await
                .map_err(|source| NodeError::Register { domain, source })?;
            let ctx = self.ctx.clone();
            let tracker = tracker.clone();
            let figures = figures.clone();
            let route = Arc::new(route);
            let quiet = self.quiet;
            // Aborted with this future: a node killed where it stands
            // stops answering at once, as a crashed process would.
            loops.push(AbortOnDropHandle::new(tokio::spawn(async move {
                while let Some(request) = endpoint.next().await {
                    let ctx = ctx.clone();
                    let route = route.clone();
                    tracker.spawn(serve_one(
                        ctx,
                        route,
                        figures.clone(),
                        request.message,
                        quiet,
                    ));
                }
            })));
        }
        tracing::info!(%domain, endpoints, "node serving");
        shutdown.cancelled().await;
        tracing::info!(%domain, "node draining");
        let drain = async {
            if let Err(e) = serving.drain().await {
                tracing::warn!(%domain, error = %e, "drain failed");
            }
            for l in loops {
                let _ = l.await;
            }
            tracker.close();
            tracker.wait().await;
            let _ = self.ctx.nats.flush().await;
        };
        // With NATS gone there is nothing to drain into; don't hang on it.
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            tracing::warn!(%domain, "drain did not finish in {DRAIN_TIMEOUT:?}; stopping anyway");
        }
        drop(service);
        tracing::info!(%domain, "node stopped");
        Ok(())
    }
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, ErrorEnvelope> {
    let payload: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    serde_json::from_slice(payload)
        .map_err(|e| ErrorEnvelope::bad_request(format!("the request body is not valid: {e}")))
}

fn header<'a>(msg: &'a Message, name: &str) -> Option<&'a str> {
    msg.headers.as_ref()?.get(name).map(|v| v.as_str())
}

async fn serve_one(
    ctx: NodeContext,
    route: Arc<Route>,
    figures: Figures,
    msg: Message,
    quiet: bool,
) {
    let request_id = header(&msg, headers::REQUEST_ID)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span = tracing::info_span!(
        "request",
        domain = route.domain.name(),
        subject = route.subject,
        request_id = %request_id
    );
    async move {
        let started = std::time::Instant::now();
        let admitted = authenticate(&ctx, &msg)
            .and_then(|caller| caller.require(route.access).map(|()| caller));
        let anonymous = matches!(admitted, Ok(Caller::Anonymous));
        let result = match admitted {
            Ok(caller) => (route.handler)(msg.clone(), caller, request_id.clone()).await,
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        let status = result.as_ref().map_or_else(|e| e.status, |_| 200);
        figures.count(
            route.subject,
            result.as_ref().map(|_| ()),
            took,
            &request_id,
        );
        crate::metrics::nats_request(crate::metrics::Side::Served, route.subject, status, started);
        let Some(reply) = msg.reply.clone() else {
            tracing::debug!("request without a reply subject");
            return;
        };
        let mut out = HeaderMap::new();
        out.insert(headers::REQUEST_ID, request_id.as_str());
        let payload = match result {
            Ok(bytes) => {
                let elapsed_ms = started.elapsed().as_millis() as u64;
                // As the edge does for a signed-out read: a request answered
                // for no one's token (a visitor browsing, or a node's own
                // call) is most of the traffic and no one's action; the
                // metrics still count it, and the edge's or the calling
                // node's record of the same request id says it at `info`.
                if quiet || anonymous {
                    tracing::debug!(elapsed_ms, "handled");
                } else {
                    tracing::info!(elapsed_ms, "handled");
                }
                bytes
            }
            Err(envelope) => {
                tracing::info!(status = envelope.status, code = ?envelope.code, "refused");
                out.insert(headers::SERVICE_ERROR, envelope.message.as_str());
                out.insert(
                    headers::SERVICE_ERROR_CODE,
                    envelope.status.to_string().as_str(),
                );
                let envelope = envelope.with_request_id(Some(request_id.clone()));
                serde_json::to_vec(&envelope)
                    .map(Bytes::from)
                    .unwrap_or_default()
            }
        };
        if let Err(e) = ctx.nats.publish_with_headers(reply, out, payload).await {
            tracing::warn!(error = %e, "reply not sent");
        }
    }
    .instrument(span)
    .await
}

fn authenticate(ctx: &NodeContext, msg: &Message) -> Result<Caller, ErrorEnvelope> {
    Caller::holding(&ctx.verifier, header(msg, headers::AUTHORIZATION))
}

impl Caller {
    /// Who holds `token` (anonymous without one): how a node judges every
    /// caller, also for tokens carried inside a request's body.
    pub fn holding(verifier: &TokenVerifier, token: Option<&str>) -> Result<Self, ErrorEnvelope> {
        match token {
            None | Some("") => Ok(Caller::Anonymous),
            Some(token) => {
                let claims = verifier.verify(token)?;
                Ok(Caller::Account {
                    id: claims.sub,
                    role: claims.role,
                    contact: claims.contact,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_counts_its_answers_refusals_and_failures() {
        let figures = Figures::default();
        let took = Duration::from_millis(3);
        let subject = "admin.category.get";
        figures.count(subject, Ok(()), took, "r1");
        figures.count(
            subject,
            Err(&ErrorEnvelope::not_found("no such")),
            took,
            "r2",
        );
        figures.count(subject, Err(&ErrorEnvelope::internal()), took, "r3");
        let data: EndpointFigures = serde_json::from_value(figures.data(subject)).unwrap();
        assert_eq!((data.requests, data.refused, data.errors), (3, 1, 1));
        assert_eq!(data.busy_micros, 9_000);
        let last = data.last_error.unwrap();
        assert_eq!((last.status, last.request_id.as_str()), (500, "r3"));
        assert_eq!(last.subject, subject);
        // A subject not asked yet reports zeros.
        let none: EndpointFigures = serde_json::from_value(figures.data("admin.site.get")).unwrap();
        assert_eq!(none, EndpointFigures::default());
    }

    #[test]
    fn access_is_checked_by_role() {
        let buyer = Caller::Account {
            id: "a".into(),
            role: Role::Buyer,
            contact: None,
        };
        let admin = Caller::Account {
            id: "b".into(),
            role: Role::Admin,
            contact: None,
        };
        assert_eq!(
            Caller::Anonymous.require(Access::Admin).unwrap_err().status,
            401
        );
        assert_eq!(buyer.require(Access::Admin).unwrap_err().status, 403);
        assert_eq!(buyer.require(Access::Seller).unwrap_err().status, 403);
        assert!(buyer.require(Access::Account).is_ok());
        assert!(admin.require(Access::Seller).is_ok());
        assert!(Caller::Anonymous.require(Access::Public).is_ok());
    }

    #[test]
    fn bad_bodies_are_400_and_empty_bodies_are_empty_objects() {
        assert_eq!(
            decode::<bazaar_subjects::Empty>(b"").unwrap(),
            bazaar_subjects::Empty {}
        );
        assert_eq!(
            decode::<bazaar_subjects::admin::CategorySlug>(b"{")
                .unwrap_err()
                .status,
            400
        );
    }
}
