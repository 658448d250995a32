//! Who may do what on the NATS bus, derived from this contract.
//!
//! Every process connects as a [`Principal`]: one per node domain, the edge,
//! and the operator's tools. What a principal may publish and subscribe to
//! is computed here from the endpoints, events, jobs, streams and buckets the
//! contract names, and `bazaar nats-setup` writes it into the server's
//! configuration, so the permissions change with the contract and nowhere
//! else. A node of domain D serves D's endpoints, publishes D's events and
//! the jobs it queues, consumes its own streams and buckets, and requests
//! only the endpoints it calls; the edge requests endpoints, queues the
//! webhooks' jobs and keeps its own buckets; nobody but the auth node
//! reaches the auth buckets.

use crate::{Domain, Endpoint, Job, Stream, admin, auth, catalog, chat, logs, mail, orders};
use crate::{console, recommend, search, sellers, system};

/// The edges' per-address request counters.
pub const EDGE_RATE_LIMITS_BUCKET: &str = "edge_rate_limits";

/// Where edges tell each other the hits their general rate limit let
/// through (plain NATS: losing a report only loosens the limit a little).
pub const EDGE_HITS: &str = "edges.hits";

/// A subject a node publishes a socket frame on for one account; edges
/// subscribe to all of them (see `socket::deliver_subject`).
const DELIVER: &str = "deliver.*";

/// The logs domain's endpoints (its other subjects are records).
const LOGS_ENDPOINTS: [&str; 2] = [
    <logs::QueryLogs as Endpoint>::SUBJECT,
    <logs::FollowLogRequest as Endpoint>::SUBJECT,
];

/// The stream of log records, as the grants name it (it takes every
/// identity's `logs.<identity>.*`, see [`log_stream_subjects`]).
pub const LOG_STREAM: Stream = Stream {
    name: logs::STREAM,
    subjects: "logs.<identity>.<level>",
};

/// The subjects the [`LOG_STREAM`] keeps: each identity's records. Not
/// `logs.>`, which also holds the logs node's endpoints: a stream taking a
/// request's subject would answer the request with its acknowledgement.
pub fn log_stream_subjects() -> Vec<String> {
    Principal::all()
        .into_iter()
        .map(|p| format!("{}.{}.*", logs::PREFIX, p.name()))
        .collect()
}

/// One identity on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A node of one domain (every copy shares the identity).
    Node(Domain),
    /// An HTTP edge.
    Edge,
    /// The operator's commands (`bazaar seed`, `bazaar retrain`) and tests:
    /// everything, as root on the box already can.
    Operator,
}

impl Principal {
    /// Every identity a deployment has.
    pub fn all() -> Vec<Principal> {
        Domain::ALL
            .into_iter()
            .map(Principal::Node)
            .chain([Principal::Edge, Principal::Operator])
            .collect()
    }

    /// The identity's name: a domain's name, `edge` or `operator`. Its
    /// credentials file is `<name>.nk`.
    pub fn name(self) -> &'static str {
        match self {
            Principal::Node(d) => d.name(),
            Principal::Edge => "edge",
            Principal::Operator => "operator",
        }
    }

    /// Where this identity publishes its own log records (`logs.<name>.>`).
    pub const fn log_records(self) -> &'static str {
        match self {
            Principal::Node(d) => match d {
                Domain::Auth => "logs.auth.>",
                Domain::Catalog => "logs.catalog.>",
                Domain::Search => "logs.search.>",
                Domain::Orders => "logs.orders.>",
                Domain::Sellers => "logs.sellers.>",
                Domain::Admin => "logs.admin.>",
                Domain::Chat => "logs.chat.>",
                Domain::Logs => "logs.logs.>",
                Domain::Recommend => "logs.recommend.>",
                Domain::Mail => "logs.mail.>",
                Domain::Analytics => "logs.analytics.>",
            },
            Principal::Edge => "logs.edge.>",
            Principal::Operator => "logs.operator.>",
        }
    }

    /// Where replies to this identity's requests arrive. Each identity has
    /// its own, so no one else may subscribe to its replies.
    pub fn inbox_prefix(self) -> String {
        format!("_INBOX_{}", self.name())
    }

    /// What the server lets this identity do.
    pub fn permissions(self) -> Permissions {
        let inbox = format!("{}.>", self.inbox_prefix());
        match self {
            Principal::Operator => Permissions {
                publish: vec![">".into()],
                subscribe: vec![">".into()],
                allow_responses: true,
            },
            Principal::Edge => {
                let grants = edge_grants();
                // Every domain's endpoints; of the logs domain's subjects
                // only the endpoints, so no edge can forge another's records.
                let mut publish: Vec<String> = Domain::ALL
                    .iter()
                    .filter(|d| **d != Domain::Logs)
                    .map(|d| format!("{}.>", d))
                    .collect();
                publish.extend(LOGS_ENDPOINTS.iter().map(|s| (*s).to_owned()));
                publish.push("$SRV.>".into());
                publish.extend(grants.jetstream());
                Permissions {
                    publish,
                    subscribe: std::iter::once(inbox)
                        .chain(edge_listens().into_iter().map(str::to_owned))
                        .collect(),
                    allow_responses: false,
                }
            }
            Principal::Node(domain) => {
                let grants = node_grants(domain);
                let mut publish = grants.jetstream();
                publish.extend(watch_bucket(console::REVOKED_BUCKET));
                publish.extend(grants.calls.iter().map(|s| (*s).to_owned()));
                // Replies go out on the node's shared connection (its serving
                // connection drains at shutdown), so it may publish into the
                // inboxes of exactly those who may call it.
                publish.extend(
                    Principal::all()
                        .into_iter()
                        .filter(|caller| caller.may_call(domain))
                        .map(|caller| format!("{}.>", caller.inbox_prefix())),
                );
                Permissions {
                    publish,
                    subscribe: vec![format!("{}.>", domain.name()), "$SRV.>".into(), inbox],
                    allow_responses: true,
                }
            }
        }
    }
}

impl Principal {
    /// What it uses, by name; `None` for the operator, who may do anything.
    pub fn grants(self) -> Option<Grants> {
        match self {
            Principal::Node(d) => Some(node_grants(d)),
            Principal::Edge => Some(edge_grants()),
            Principal::Operator => None,
        }
    }

    /// Whether this identity may request any of `domain`'s endpoints.
    fn may_call(self, domain: Domain) -> bool {
        let prefix = format!("{}.", domain.name());
        match self {
            Principal::Operator | Principal::Edge => true,
            Principal::Node(d) => node_grants(d).calls.iter().any(|s| s.starts_with(&prefix)),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Principal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Principal::all()
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown bus identity `{s}`"))
    }
}

/// Subjects an identity may publish to and subscribe to (NATS wildcards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
    /// May answer requests sent to it (nodes serve; edges only ask).
    pub allow_responses: bool,
}

/// What one identity uses, named by the contract.
#[derive(Debug, Default)]
pub struct Grants {
    /// Endpoint subjects it requests.
    pub calls: Vec<&'static str>,
    /// Subjects it publishes on besides requests: its events, the jobs it
    /// queues, socket frames.
    pub publishes: Vec<&'static str>,
    /// Streams it reads (durable or ephemeral consumers) or creates.
    pub reads: Vec<Stream>,
    /// Work queues it only adds jobs to (and creates when missing).
    pub queues_to: Vec<Stream>,
    /// Key-value buckets it keeps.
    pub kv: Vec<&'static str>,
    /// Object Store buckets it keeps.
    pub objects: Vec<&'static str>,
}

fn subject<E: Endpoint>() -> &'static str {
    E::SUBJECT
}

fn job<J: Job>() -> &'static str {
    J::SUBJECT
}

/// A node's grants. Its own events stream is always among them.
fn node_grants(domain: Domain) -> Grants {
    let mut g = match domain {
        Domain::Auth => Grants {
            publishes: vec![job::<mail::SendEmail>()],
            queues_to: vec![mail::JOBS],
            kv: vec![
                auth::CODES_BUCKET,
                auth::CODE_SENDS_BUCKET,
                auth::OIDC_PENDING_BUCKET,
                console::REVOKED_BUCKET,
            ],
            ..Grants::default()
        },
        Domain::Admin => Grants {
            // The system page: every node's service info and stats, every
            // stream's and consumer's state.
            calls: system::INSPECT.to_vec(),
            kv: vec![admin::CACHE_BUCKET],
            ..Grants::default()
        },
        Domain::Mail => Grants {
            reads: vec![mail::JOBS],
            ..Grants::default()
        },
        Domain::Catalog => Grants {
            calls: vec![
                subject::<sellers::GetMyShop>(),
                subject::<admin::ListCategories>(),
            ],
            reads: vec![sellers::EVENTS, orders::EVENTS],
            kv: vec![
                catalog::PRODUCT_CACHE_BUCKET,
                catalog::SEARCH_CACHE_BUCKET,
                catalog::LEASES_BUCKET,
            ],
            objects: vec![catalog::IMAGES_BUCKET],
            ..Grants::default()
        },
        Domain::Search => Grants {
            reads: vec![catalog::EVENTS],
            ..Grants::default()
        },
        Domain::Sellers => Grants {
            calls: vec![subject::<admin::GetCategory>()],
            reads: vec![orders::EVENTS, sellers::JOBS],
            ..Grants::default()
        },
        Domain::Orders => Grants {
            calls: vec![
                subject::<auth::GetMe>(),
                subject::<auth::ListAddresses>(),
                subject::<catalog::GetProductsByIds>(),
                subject::<catalog::ReserveStock>(),
                subject::<catalog::ReleaseStock>(),
                subject::<catalog::RestockItems>(),
                subject::<sellers::GetMyShop>(),
                subject::<sellers::GetPayoutAccounts>(),
                subject::<sellers::GetShopCard>(),
            ],
            publishes: vec![job::<mail::SendEmail>(), DELIVER],
            reads: vec![orders::JOBS],
            queues_to: vec![mail::JOBS],
            kv: vec![orders::LEASES_BUCKET],
            ..Grants::default()
        },
        Domain::Chat => Grants {
            calls: vec![
                subject::<auth::GetMe>(),
                subject::<auth::GetContact>(),
                subject::<catalog::GetProductsByIds>(),
                subject::<sellers::GetShopOwner>(),
            ],
            publishes: vec![job::<mail::SendEmail>(), DELIVER],
            queues_to: vec![mail::JOBS],
            kv: vec![chat::PRESENCE_BUCKET],
            objects: vec![catalog::IMAGES_BUCKET],
            ..Grants::default()
        },
        Domain::Recommend => Grants {
            calls: vec![
                subject::<catalog::GetProductsByIds>(),
                subject::<search::SearchCatalog>(),
            ],
            kv: vec![recommend::MODEL_POINTER_BUCKET],
            objects: vec![recommend::MODELS_BUCKET],
            ..Grants::default()
        },
        // It keeps its rollups from the other domains' events.
        Domain::Analytics => Grants {
            reads: vec![catalog::EVENTS, orders::EVENTS, sellers::EVENTS],
            ..Grants::default()
        },
        // It reads the records and keeps the stream's limits current.
        Domain::Logs => Grants {
            reads: vec![LOG_STREAM],
            ..Grants::default()
        },
    };
    g.publishes.push(Principal::Node(domain).log_records());
    if let Some(events) = own_events(domain) {
        g.publishes.push(events.subjects);
        g.reads.push(events);
    }
    g
}

/// A domain's own events stream, for the domains that have one.
fn own_events(domain: Domain) -> Option<Stream> {
    match domain {
        Domain::Admin => Some(admin::EVENTS),
        Domain::Catalog => Some(catalog::EVENTS),
        Domain::Chat => Some(chat::EVENTS),
        Domain::Orders => Some(orders::EVENTS),
        Domain::Sellers => Some(sellers::EVENTS),
        Domain::Auth
        | Domain::Search
        | Domain::Logs
        | Domain::Recommend
        | Domain::Mail
        | Domain::Analytics => None,
    }
}

/// What an edge subscribes to besides its inbox: sockets' frames, the
/// other edges' rate-limit hits, and the events that change what it keeps
/// in memory (the category tree and site settings, product pages and shop
/// cards).
pub fn edge_listens() -> Vec<&'static str> {
    vec![
        "deliver.>",
        EDGE_HITS,
        admin::EVENTS.subjects,
        <catalog::ProductChanged as crate::Event>::SUBJECT,
        <sellers::ShopChanged as crate::Event>::SUBJECT,
        <sellers::ShopFollowed as crate::Event>::SUBJECT,
    ]
}

fn edge_grants() -> Grants {
    Grants {
        publishes: vec![
            job::<orders::PaymentNotification>(),
            job::<sellers::StripeAccountChanged>(),
            EDGE_HITS,
            Principal::Edge.log_records(),
        ],
        queues_to: vec![orders::JOBS, sellers::JOBS],
        kv: vec![EDGE_RATE_LIMITS_BUCKET, chat::PRESENCE_BUCKET],
        objects: vec![catalog::IMAGES_BUCKET],
        ..Grants::default()
    }
}

impl Grants {
    /// The publish permissions for its events, jobs, streams and buckets,
    /// in JetStream's API subjects.
    fn jetstream(&self) -> Vec<String> {
        let mut out: Vec<String> = vec!["$JS.API.INFO".into()];
        out.extend(self.publishes.iter().map(|s| (*s).to_owned()));
        for s in &self.queues_to {
            out.push(format!("$JS.API.STREAM.INFO.{}", s.name));
            out.push(format!("$JS.API.STREAM.CREATE.{}", s.name));
        }
        for s in &self.reads {
            out.extend(read_stream(s.name));
            if s.name == LOG_STREAM.name {
                out.push(format!("$JS.API.STREAM.UPDATE.{}", s.name));
            }
        }
        for bucket in &self.kv {
            out.push(format!("$KV.{bucket}.>"));
            out.extend(keep_stream(&format!("KV_{bucket}")));
        }
        for bucket in &self.objects {
            out.push(format!("$O.{bucket}.>"));
            out.extend(keep_stream(&format!("OBJ_{bucket}")));
        }
        out
    }
}

/// Reading a stream: creating it when missing, looking messages up, and
/// consuming it with durable or ephemeral consumers (never deleting or
/// purging it).
fn read_stream(stream: &str) -> Vec<String> {
    [
        "$JS.API.STREAM.INFO.{s}",
        "$JS.API.STREAM.CREATE.{s}",
        "$JS.API.STREAM.MSG.GET.{s}",
        "$JS.API.DIRECT.GET.{s}",
        "$JS.API.DIRECT.GET.{s}.>",
        "$JS.API.CONSUMER.CREATE.{s}",
        "$JS.API.CONSUMER.CREATE.{s}.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.{s}.>",
        "$JS.API.CONSUMER.INFO.{s}.>",
        "$JS.API.CONSUMER.DELETE.{s}.>",
        "$JS.API.CONSUMER.MSG.NEXT.{s}.>",
        "$JS.ACK.{s}.>",
        "$JS.FC.{s}.>",
    ]
    .iter()
    .map(|p| p.replace("{s}", stream))
    .collect()
}

/// Watching a bucket someone else keeps: its stream's info, ordered
/// consumers over it and their flow control; never a write. Every node
/// watches the banned accounts this way (see `console::REVOKED_BUCKET`).
fn watch_bucket(bucket: &str) -> Vec<String> {
    let stream = format!("KV_{bucket}");
    read_stream(&stream)
        .into_iter()
        .filter(|s| !s.starts_with("$JS.API.STREAM.CREATE.") && !s.starts_with("$JS.ACK."))
        .collect()
}

/// Keeping a bucket's stream: everything reading does, plus updating its
/// settings and purging (a deleted object's chunks go by purge).
fn keep_stream(stream: &str) -> Vec<String> {
    let mut out = read_stream(stream);
    out.push(format!("$JS.API.STREAM.UPDATE.{stream}"));
    out.push(format!("$JS.API.STREAM.PURGE.{stream}"));
    out.push(format!("$JS.API.STREAM.MSG.DELETE.{stream}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(patterns: &[String], subject: &str) -> bool {
        patterns.iter().any(|p| matches(p, subject))
    }

    /// NATS wildcard matching: `*` one token, `>` the rest.
    fn matches(pattern: &str, subject: &str) -> bool {
        let mut s = subject.split('.');
        for p in pattern.split('.') {
            match (p, s.next()) {
                (">", Some(_)) => return true,
                ("*", Some(_)) => {}
                (p, Some(t)) if p == t => {}
                _ => return false,
            }
        }
        s.next().is_none()
    }

    #[test]
    fn only_the_auth_node_reaches_the_auth_buckets() {
        for p in Principal::all() {
            let perms = p.permissions();
            let reaches = allows(&perms.publish, "$KV.auth_codes.x")
                || allows(
                    &perms.publish,
                    "$JS.API.DIRECT.GET.KV_auth_codes.$KV.auth_codes.x",
                );
            let expected = matches!(p, Principal::Node(Domain::Auth) | Principal::Operator);
            assert_eq!(reaches, expected, "{p}");
        }
    }

    #[test]
    fn a_node_serves_only_its_own_domain() {
        let catalog = Principal::Node(Domain::Catalog).permissions();
        assert!(allows(&catalog.subscribe, "catalog.product.get"));
        assert!(!allows(&catalog.subscribe, "orders.checkout.place"));
        assert!(!allows(&catalog.subscribe, "auth.session.login"));
        assert!(!allows(&catalog.publish, "events.orders.order.placed"));
        assert!(allows(&catalog.publish, "events.catalog.product.changed"));
    }

    #[test]
    fn the_edge_asks_and_never_listens_to_requests() {
        let edge = Principal::Edge.permissions();
        assert!(allows(&edge.publish, "auth.session.login"));
        assert!(!allows(&edge.subscribe, "auth.session.login"));
        assert!(!allows(&edge.subscribe, "_INBOX_auth.x"));
        assert!(!allows(&edge.publish, "events.orders.order.placed"));
        assert!(!allows(&edge.publish, "jobs.mail.send"));
        assert!(!allows(
            &edge.publish,
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS_JOBS.orders"
        ));
        assert!(!edge.allow_responses);
    }

    #[test]
    fn a_node_answers_only_those_who_may_ask_it() {
        let auth = Principal::Node(Domain::Auth).permissions();
        assert!(allows(&auth.publish, "_INBOX_edge.abc.def"));
        assert!(allows(&auth.publish, "_INBOX_orders.abc"));
        assert!(!allows(&auth.publish, "_INBOX_search.abc"));
        let search = Principal::Node(Domain::Search).permissions();
        assert!(allows(&search.publish, "_INBOX_recommend.abc"));
        assert!(!allows(&search.publish, "_INBOX_orders.abc"));
    }

    #[test]
    fn only_the_admin_node_inspects_the_system() {
        let admin = Principal::Node(Domain::Admin).permissions();
        assert!(allows(&admin.publish, "$SRV.STATS"));
        assert!(allows(
            &admin.publish,
            "$JS.API.CONSUMER.INFO.MAIL_JOBS.mail"
        ));
        assert!(!allows(&admin.publish, "$JS.API.STREAM.DELETE.MAIL_JOBS"));
        let catalog = Principal::Node(Domain::Catalog).permissions();
        assert!(!allows(&catalog.publish, "$SRV.STATS"));
        assert!(!allows(&catalog.publish, "$JS.API.STREAM.INFO.MAIL_JOBS"));
    }

    #[test]
    fn each_publishes_only_its_own_log_records() {
        for p in Principal::all() {
            let perms = p.permissions();
            for other in Principal::all() {
                let subject = format!("logs.{}.info", other.name());
                let expected = other == p || p == Principal::Operator;
                assert_eq!(
                    allows(&perms.publish, &subject),
                    expected,
                    "{p} → {subject}"
                );
            }
        }
        let edge = Principal::Edge.permissions();
        assert!(allows(&edge.publish, "logs.records.query"));
        assert!(allows(&edge.publish, "logs.request.follow"));
        let logs = Principal::Node(Domain::Logs).permissions();
        assert!(allows(&logs.publish, "$JS.API.CONSUMER.CREATE.LOGS"));
        assert!(allows(&logs.publish, "$JS.API.STREAM.UPDATE.LOGS"));
        assert!(!allows(&edge.publish, "$JS.API.CONSUMER.CREATE.LOGS"));
    }

    #[test]
    fn the_log_stream_takes_no_endpoint() {
        let subjects = log_stream_subjects();
        for endpoint in LOGS_ENDPOINTS {
            assert!(!allows(&subjects, endpoint), "{endpoint}");
        }
        assert!(allows(&subjects, "logs.edge.info"));
        assert!(allows(&subjects, "logs.auth.error"));
    }

    #[test]
    fn every_node_watches_the_banned_accounts_and_only_auth_writes_them() {
        for d in Domain::ALL {
            let perms = Principal::Node(d).permissions();
            assert!(
                allows(
                    &perms.publish,
                    "$JS.API.CONSUMER.CREATE.KV_revoked_accounts.x.$KV.revoked_accounts.>"
                ),
                "{d}"
            );
            assert!(allows(
                &perms.publish,
                "$JS.API.STREAM.INFO.KV_revoked_accounts"
            ));
            assert_eq!(
                allows(&perms.publish, "$KV.revoked_accounts.a"),
                d == Domain::Auth,
                "{d}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Principal::all() {
            assert_eq!(p.name().parse::<Principal>(), Ok(p));
        }
    }
}
