//! Keeping the rollups from the domain events.
//!
//! Three durable consumers (one per events stream: catalog, orders,
//! sellers), shared by every copy of the node, take the events in batches.
//! Each event becomes a [`Fact`] with a key: its stream and sequence
//! (`CATALOG_EVENTS:42`; a batch of views, a fact per day it spans,
//! `CATALOG_EVENTS:42:2026-03-02`), or for an order's lifecycle what
//! happened and the order (`placed:<id>`, `paid:<id>`, `reversed:<id>`), so a redelivered
//! message and an order announced twice both count once, and so does an
//! order cancelled and then refunded.
//!
//! A batch is written in one SurrealDB transaction. First what it depends on
//! is read: which of its keys have an `an_applied` row already (those facts
//! change nothing), the products' shops, the buyers seen before, the shop
//! days' orders so far, the shops opened. The new facts are then folded
//! into one write per row (a shop's day, a product's day, the platform's
//! day, a shop), and the transaction creates each new fact's `an_applied`
//! row (and each new buyer's row) — a `CREATE` that fails if another writer
//! made it meanwhile — checks that the shop days and shops it read are
//! unchanged, and writes the rows. Anything that changed under it makes the
//! whole batch fail and be read and tried again. The batch is acknowledged
//! once committed; a batch that fails is redelivered whole.
//!
//! Days are the UTC day of the event's own time (`at`) when it carries one,
//! else of the time its stream received it: both are kept by the stream, so
//! a rebuild dates every event as the live consumers did.
//!
//! Unique visitors go into a sketch per shop and day, read before the
//! transaction and written in it only if nobody wrote it meanwhile (its
//! `rev`); inserting a visitor twice changes nothing, so sketches need no
//! `an_applied` guard. A view counts its account when signed in, else its
//! visitor cookie.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, Message};
use bazaar_runtime::jetstream::{SharedConsumer, ensure_stream, pull_batch};
use bazaar_runtime::{NodeError, Shutdown};
use bazaar_schema::{Db, TransactionError, retry_transaction, transaction_errors};
use bazaar_subjects::catalog::{
    self, ProductChange, ProductChanged, ProductViewed, ProductsViewed,
};
use bazaar_subjects::orders::{
    self, CartItemAdded, OrderCancelled, OrderEvent, OrderPaid, OrderPlaced, OrderRefunded,
    ReviewChanged, ReviewTarget, WishlistItemAdded,
};
use bazaar_subjects::sellers::{self, ShopChanged, ShopFollowed};
use bazaar_subjects::{Event, Stream};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::sketch::Visitors;

/// The streams the rollups come from, in the order a rebuild reads them
/// (shops and products before the orders that name them).
pub const STREAMS: [Stream; 3] = [sellers::EVENTS, catalog::EVENTS, orders::EVENTS];

const BATCH: usize = 200;
const ATTEMPTS: u32 = 10;
/// What a stale visitor sketch throws: the batch is read and tried again.
const STALE: &str = "an_visitors_stale";

fn durable(stream: &Stream) -> String {
    format!("analytics-{}", stream.name.to_lowercase().replace('_', "-"))
}

/// Why a batch was not written (it is then redelivered).
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    #[error(transparent)]
    Db(Box<surrealdb::Error>),
}

impl From<surrealdb::Error> for RollupError {
    fn from(e: surrealdb::Error) -> Self {
        RollupError::Db(Box::new(e))
    }
}

impl bazaar_schema::Retryable for RollupError {
    fn is_retryable(&self) -> bool {
        match self {
            RollupError::Transaction(e) => {
                e.is_retryable()
                    || e.thrown() == Some(STALE)
                    || matches!(e, TransactionError::Exists(_))
            }
            RollupError::Db(_) => false,
        }
    }
}

/// What one event adds to the rollups.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// Product pages opened (one event's, on one day).
    Views(Vec<View>),
    CartAdd {
        product: String,
        quantity: i64,
    },
    WishlistAdd {
        product: String,
    },
    Placed(OrderEvent),
    Paid(OrderEvent),
    /// Cancelled or refunded.
    Reversed(OrderEvent),
    Review {
        target: ReviewTarget,
        target_id: String,
    },
    Follow {
        shop: String,
        following: bool,
    },
    Shop(ShopChanged),
    Product {
        product: String,
        shop: String,
    },
}

/// A product page opened, by whom when known (the account signed in, else
/// the visitor cookie).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub shop: String,
    pub product: String,
    pub visitor: Option<String>,
}

impl From<ProductViewed> for View {
    fn from(e: ProductViewed) -> Self {
        Self {
            shop: e.shop_id,
            product: e.product_id,
            visitor: e.account_id.or(e.visitor_id),
        }
    }
}

/// One event, read: its key, its day and what it adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub key: String,
    pub day: String,
    pub what: What,
}

/// The month (`YYYY-MM`) of a day (`YYYY-MM-DD`).
pub fn month_of(day: &str) -> &str {
    day.get(..7).unwrap_or(day)
}

/// An order's items per category (those without one left out): what was
/// paid for them and their units.
fn per_category(o: &OrderEvent) -> BTreeMap<&str, (i64, i64)> {
    let mut out: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for item in &o.items {
        if let Some(c) = item.category_id.as_deref() {
            let e = out.entry(c).or_default();
            e.0 += item.revenue;
            e.1 += item.quantity;
        }
    }
    out
}

/// The UTC day of an RFC 3339 time.
pub fn day_of(at: OffsetDateTime) -> String {
    let d = at.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn day_from(at: Option<&str>, received: OffsetDateTime) -> String {
    at.and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .map_or_else(|| day_of(received), day_of)
}

/// Reads one message of `stream` (its sequence `seq`, received at
/// `received`) into a fact; `None` for events the rollups ignore.
pub fn read_facts(
    stream: &str,
    seq: u64,
    received: OffsetDateTime,
    subject: &str,
    payload: &[u8],
) -> Vec<Fact> {
    if subject == ProductsViewed::SUBJECT {
        return views_by_day(stream, seq, received, payload);
    }
    read_fact(stream, seq, received, subject, payload)
        .into_iter()
        .collect()
}

/// A batch of views, as a fact per day it spans (keyed by the event and
/// the day, so the batch counts once).
fn views_by_day(stream: &str, seq: u64, received: OffsetDateTime, payload: &[u8]) -> Vec<Fact> {
    let Ok(e) = serde_json::from_slice::<ProductsViewed>(payload) else {
        return Vec::new();
    };
    let mut days: BTreeMap<String, Vec<View>> = BTreeMap::new();
    for v in e.views {
        days.entry(day_from(Some(&v.at), received))
            .or_default()
            .push(v.into());
    }
    days.into_iter()
        .map(|(day, views)| Fact {
            key: format!("{stream}:{seq}:{day}"),
            day,
            what: What::Views(views),
        })
        .collect()
}

/// An event other than a batch of views, as its fact.
fn read_fact(
    stream: &str,
    seq: u64,
    received: OffsetDateTime,
    subject: &str,
    payload: &[u8],
) -> Option<Fact> {
    let seq_key = || format!("{stream}:{seq}");
    let order = |what: &str, make: fn(OrderEvent) -> What| {
        let e: OrderEvent = serde_json::from_slice(payload).ok()?;
        Some(Fact {
            key: format!("{what}:{}", e.order_id),
            day: day_from(e.at.as_deref(), received),
            what: make(e),
        })
    };
    match subject {
        s if s == ProductViewed::SUBJECT => {
            let e: ProductViewed = serde_json::from_slice(payload).ok()?;
            Some(Fact {
                key: seq_key(),
                day: day_from(Some(&e.at), received),
                what: What::Views(vec![e.into()]),
            })
        }
        s if s == ProductChanged::SUBJECT => {
            let e: ProductChanged = serde_json::from_slice(payload).ok()?;
            matches!(
                e.change,
                ProductChange::Created | ProductChange::Updated | ProductChange::Restored
            )
            .then(|| Fact {
                key: seq_key(),
                day: day_of(received),
                what: What::Product {
                    product: e.product_id,
                    shop: e.shop_id,
                },
            })
        }
        s if s == CartItemAdded::SUBJECT => {
            let e: CartItemAdded = serde_json::from_slice(payload).ok()?;
            Some(Fact {
                key: seq_key(),
                day: day_from(Some(&e.at), received),
                what: What::CartAdd {
                    product: e.product_id,
                    quantity: e.quantity,
                },
            })
        }
        s if s == WishlistItemAdded::SUBJECT => {
            let e: WishlistItemAdded = serde_json::from_slice(payload).ok()?;
            Some(Fact {
                key: seq_key(),
                day: day_from(Some(&e.at), received),
                what: What::WishlistAdd {
                    product: e.product_id,
                },
            })
        }
        s if s == OrderPlaced::SUBJECT => order("placed", What::Placed),
        s if s == OrderPaid::SUBJECT => order("paid", What::Paid),
        s if s == OrderCancelled::SUBJECT || s == OrderRefunded::SUBJECT => {
            order("reversed", What::Reversed)
        }
        s if s == ReviewChanged::SUBJECT => {
            let e: ReviewChanged = serde_json::from_slice(payload).ok()?;
            // Only a write by an author is a review; a recount announces none.
            e.author_id.as_ref()?;
            Some(Fact {
                key: seq_key(),
                day: day_of(received),
                what: What::Review {
                    target: e.target,
                    target_id: e.target_id,
                },
            })
        }
        s if s == ShopFollowed::SUBJECT => {
            let e: ShopFollowed = serde_json::from_slice(payload).ok()?;
            Some(Fact {
                key: seq_key(),
                day: day_of(received),
                what: What::Follow {
                    shop: e.shop_id,
                    following: e.following,
                },
            })
        }
        s if s == ShopChanged::SUBJECT => {
            let e: ShopChanged = serde_json::from_slice(payload).ok()?;
            Some(Fact {
                key: seq_key(),
                day: day_of(received),
                what: What::Shop(e),
            })
        }
        _ => None,
    }
}

/// A JetStream message as its facts.
pub fn facts_of(msg: &Message) -> Vec<Fact> {
    let Ok(info) = msg.info() else {
        return Vec::new();
    };
    let received = info.published;
    read_facts(
        info.stream,
        info.stream_sequence,
        received,
        msg.subject.as_str(),
        &msg.payload,
    )
}

/// One transaction's statements and the values they are bound to.
#[derive(Default)]
struct Script {
    sql: String,
    vars: Map<String, Value>,
}

impl Script {
    /// Binds a value and gives its `$name`.
    fn var(&mut self, v: impl Into<Value>) -> String {
        let name = format!("v{}", self.vars.len());
        self.vars.insert(name.clone(), v.into());
        format!("${name}")
    }

    fn line(&mut self, s: &str) {
        self.sql.push_str(s);
        self.sql.push('\n');
    }
}

/// What the rollups hold already, as far as a batch needs to know.
#[derive(Default)]
struct Known {
    applied: HashSet<String>,
    product_shop: HashMap<String, String>,
    buyers: HashSet<String>,
    /// Orders placed per `(shop, day)`.
    placed: HashMap<(String, String), i64>,
    opened: HashSet<String>,
}

const KNOWN: &str = "
    SELECT VALUE record::id(id) FROM $applied.map(|$k| type::record('an_applied', $k));
    SELECT record::id(id) AS id, shop FROM $products.map(|$k| type::record('an_product', $k));
    SELECT VALUE record::id(id) FROM $buyers.map(|$k| type::record('an_buyer', $k));
    SELECT shop, day, placed FROM $shop_days.map(|$k| type::record('an_shop_day', $k));
    SELECT VALUE record::id(id) FROM $shops.map(|$k| type::record('an_shop', $k)) WHERE opened != NONE;
";

impl Known {
    async fn read(db: &Db, facts: &[&Fact]) -> Result<Self, RollupError> {
        let mut products = BTreeSet::new();
        let mut buyers = BTreeSet::new();
        let mut shop_days = BTreeSet::new();
        let mut shops = BTreeSet::new();
        for f in facts {
            match &f.what {
                What::CartAdd { product, .. } | What::WishlistAdd { product } => {
                    products.insert(product.clone());
                }
                What::Review {
                    target: ReviewTarget::Product,
                    target_id,
                } => {
                    products.insert(target_id.clone());
                }
                What::Placed(o) => {
                    buyers.insert(o.buyer_id.clone());
                    shop_days.insert((o.shop_id.clone(), f.day.clone()));
                }
                What::Shop(s) => {
                    shops.insert(s.shop_id.clone());
                }
                _ => {}
            }
        }
        let keys: Vec<String> = facts.iter().map(|f| f.key.clone()).collect();
        let shop_days: Vec<Value> = shop_days
            .into_iter()
            .map(|(s, d)| Value::Array(vec![s.into(), d.into()]))
            .collect();
        let mut r = db
            .query(KNOWN)
            .bind(("applied", keys))
            .bind(("products", products.into_iter().collect::<Vec<_>>()))
            .bind(("buyers", buyers.into_iter().collect::<Vec<_>>()))
            .bind(("shop_days", shop_days))
            .bind(("shops", shops.into_iter().collect::<Vec<_>>()))
            .await?
            .check()?;
        let applied: Vec<String> = r.take(0)?;
        let products: Vec<Value> = r.take(1)?;
        let buyers: Vec<String> = r.take(2)?;
        let placed: Vec<Value> = r.take(3)?;
        let opened: Vec<String> = r.take(4)?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            applied: applied.into_iter().collect(),
            product_shop: products
                .iter()
                .filter_map(|p| Some((text(p, "id")?, text(p, "shop")?)))
                .collect(),
            buyers: buyers.into_iter().collect(),
            placed: placed
                .iter()
                .filter_map(|r| {
                    Some((
                        (text(r, "shop")?, text(r, "day")?),
                        r.get("placed").and_then(Value::as_i64).unwrap_or(0),
                    ))
                })
                .collect(),
            opened: opened.into_iter().collect(),
        })
    }
}

/// One row's write: its id, the fields to set and the counts to add.
type RowWrite = (Value, Map<String, Value>, BTreeMap<&'static str, i64>);

/// The rows a batch changes, by table and id.
#[derive(Default)]
struct Rows {
    rows: BTreeMap<(&'static str, String), RowWrite>,
}

impl Rows {
    fn row(&mut self, table: &'static str, id: Value) -> &mut RowWrite {
        self.rows
            .entry((table, id.to_string()))
            .or_insert_with(|| (id, Map::new(), BTreeMap::new()))
    }

    fn bump(
        &mut self,
        table: &'static str,
        id: Value,
        set: &[(&str, Value)],
        adds: &[(&'static str, i64)],
    ) {
        let (_, fields, counts) = self.row(table, id);
        for (f, v) in set {
            fields.insert((*f).to_owned(), v.clone());
        }
        for (f, by) in adds {
            *counts.entry(*f).or_default() += by;
        }
    }

    /// Adds to a shop's day and to its month.
    fn shop_day(&mut self, shop: &str, day: &str, adds: &[(&'static str, i64)]) {
        self.bump(
            "an_shop_day",
            json!([shop, day]),
            &[("shop", json!(shop)), ("day", json!(day))],
            adds,
        );
        let month = month_of(day);
        self.bump(
            "an_shop_month",
            json!([shop, month]),
            &[("shop", json!(shop)), ("month", json!(month))],
            adds,
        );
    }

    /// Adds to a product's day and, once its shop is known, to the shop's
    /// rows of the product's day and month (what a shop's report reads, by
    /// a range of ids).
    fn product_day(
        &mut self,
        product: &str,
        shop: Option<&str>,
        day: &str,
        adds: &[(&'static str, i64)],
    ) {
        let mut set = vec![("product", json!(product)), ("day", json!(day))];
        if let Some(shop) = shop {
            set.push(("shop", json!(shop)));
        }
        self.bump("an_product_day", json!([product, day]), &set, adds);
        let Some(shop) = shop else {
            return;
        };
        let month = month_of(day);
        for (table, field, at) in [
            ("an_shop_product_day", "day", day),
            ("an_product_month", "month", month),
        ] {
            self.bump(
                table,
                json!([shop, at, product]),
                &[
                    ("shop", json!(shop)),
                    (field, json!(at)),
                    ("product", json!(product)),
                ],
                adds,
            );
        }
    }

    fn category_day(
        &mut self,
        category: &str,
        day: &str,
        set: &[(&str, Value)],
        adds: &[(&'static str, i64)],
    ) {
        let mut fields = vec![("category", json!(category)), ("day", json!(day))];
        fields.extend(set.iter().cloned());
        self.bump("an_category_day", json!([category, day]), &fields, adds);
    }

    fn platform(&mut self, day: &str, set: &[(&str, Value)], adds: &[(&'static str, i64)]) {
        let mut fields = vec![("day", json!(day))];
        fields.extend(set.iter().cloned());
        self.bump("an_platform_day", json!(day), &fields, adds);
    }
}

/// What a batch writes: the `an_applied` rows of its new facts, the guards
/// that what it read is still so, and its folded counts.
#[derive(Default)]
struct Plan {
    applied: Vec<(String, String)>,
    new_buyers: Vec<(String, String)>,
    /// `(shop, day, orders placed when read)`.
    placed_guards: Vec<(String, String, i64)>,
    opened_guards: Vec<String>,
    rows: Rows,
}

fn plan(facts: &[&Fact], mut known: Known) -> Plan {
    let mut p = Plan::default();
    let mut guarded_days = HashSet::new();
    for f in facts {
        if known.applied.contains(&f.key) {
            continue;
        }
        known.applied.insert(f.key.clone());
        p.applied.push((f.key.clone(), f.day.clone()));
        let day = f.day.as_str();
        let rows = &mut p.rows;
        match &f.what {
            What::Views(views) => {
                // A batch holds many views of few pages: each row is
                // bumped once with its count.
                let mut per_product: BTreeMap<(&str, &str), i64> = BTreeMap::new();
                let mut per_shop: BTreeMap<&str, i64> = BTreeMap::new();
                for View { shop, product, .. } in views {
                    *per_product.entry((shop, product)).or_default() += 1;
                    *per_shop.entry(shop).or_default() += 1;
                }
                for ((shop, product), n) in per_product {
                    rows.product_day(product, Some(shop), day, &[("views", n)]);
                    rows.bump("an_product", json!(product), &[("shop", json!(shop))], &[]);
                    known
                        .product_shop
                        .insert(product.to_owned(), shop.to_owned());
                }
                for (shop, n) in per_shop {
                    rows.shop_day(shop, day, &[("views", n)]);
                }
                rows.platform(day, &[], &[("views", views.len() as i64)]);
            }
            What::Product { product, shop } => {
                rows.bump("an_product", json!(product), &[("shop", json!(shop))], &[]);
                known.product_shop.insert(product.clone(), shop.clone());
            }
            What::CartAdd { product, quantity } => {
                let adds = [("cart_adds", 1), ("cart_units", *quantity)];
                let shop = known.product_shop.get(product).cloned();
                rows.product_day(product, shop.as_deref(), day, &adds);
                if let Some(shop) = shop {
                    rows.shop_day(&shop, day, &adds);
                }
            }
            What::WishlistAdd { product } => {
                let shop = known.product_shop.get(product).cloned();
                rows.product_day(product, shop.as_deref(), day, &[("wishlist_adds", 1)]);
                if let Some(shop) = shop {
                    rows.shop_day(&shop, day, &[("wishlist_adds", 1)]);
                }
            }
            What::Placed(o) => {
                let units: i64 = o.items.iter().map(|i| i.quantity).sum();
                let key = (o.shop_id.clone(), f.day.clone());
                let before = known.placed.get(&key).copied().unwrap_or(0);
                if guarded_days.insert(key.clone()) {
                    p.placed_guards.push((key.0.clone(), key.1.clone(), before));
                }
                if before == 0 {
                    rows.platform(day, &[], &[("active_shops", 1)]);
                }
                known.placed.insert(key, before + 1);
                rows.shop_day(
                    &o.shop_id,
                    day,
                    &[
                        ("placed", 1),
                        ("placed_total", o.total),
                        ("units", units),
                        ("fees", o.platform_fee),
                    ],
                );
                for item in &o.items {
                    rows.product_day(
                        &item.product_id,
                        Some(&o.shop_id),
                        day,
                        &[
                            ("orders", 1),
                            ("units", item.quantity),
                            ("revenue", item.revenue),
                        ],
                    );
                }
                let currency = json!(o.currency.to_string());
                for (category, (revenue, units)) in per_category(o) {
                    rows.category_day(
                        category,
                        day,
                        &[("currency", currency.clone())],
                        &[("placed", 1), ("placed_total", revenue), ("units", units)],
                    );
                }
                rows.platform(
                    day,
                    &[("currency", currency.clone())],
                    &[
                        ("placed", 1),
                        ("placed_total", o.total),
                        ("fees", o.platform_fee),
                    ],
                );
                rows.bump("an_shop", json!(o.shop_id), &[("currency", currency)], &[]);
                if known.buyers.insert(o.buyer_id.clone()) {
                    p.new_buyers.push((o.buyer_id.clone(), f.day.clone()));
                    rows.platform(day, &[], &[("new_buyers", 1)]);
                }
            }
            What::Paid(o) => {
                rows.shop_day(&o.shop_id, day, &[("paid", 1), ("paid_total", o.total)]);
                rows.platform(day, &[], &[("paid", 1)]);
            }
            What::Reversed(o) => {
                let adds = [
                    ("cancelled", 1),
                    ("cancelled_total", o.total),
                    ("cancelled_fees", o.platform_fee),
                ];
                rows.shop_day(&o.shop_id, day, &adds);
                rows.platform(day, &[], &adds);
                for item in &o.items {
                    rows.product_day(
                        &item.product_id,
                        Some(&o.shop_id),
                        day,
                        &[("cancelled_revenue", item.revenue)],
                    );
                }
                for (category, (revenue, _)) in per_category(o) {
                    rows.category_day(
                        category,
                        day,
                        &[],
                        &[("cancelled", 1), ("cancelled_total", revenue)],
                    );
                }
            }
            What::Review { target, target_id } => match target {
                ReviewTarget::Shop => rows.shop_day(target_id, day, &[("reviews", 1)]),
                ReviewTarget::Product => {
                    if let Some(shop) = known.product_shop.get(target_id).cloned() {
                        rows.shop_day(&shop, day, &[("reviews", 1)]);
                    }
                }
            },
            What::Follow { shop, following } => {
                let field = if *following { "follows" } else { "unfollows" };
                rows.shop_day(shop, day, &[(field, 1)]);
                let net = if *following { 1 } else { -1 };
                rows.bump("an_shop", json!(shop), &[], &[("followers", net)]);
            }
            What::Shop(s) => {
                if known.opened.insert(s.shop_id.clone()) {
                    p.opened_guards.push(s.shop_id.clone());
                    rows.bump("an_shop", json!(s.shop_id), &[("opened", json!(day))], &[]);
                    rows.platform(day, &[], &[("new_sellers", 1)]);
                }
                rows.bump(
                    "an_shop",
                    json!(s.shop_id),
                    &[
                        ("owner", json!(s.owner_id)),
                        ("name", json!(s.name)),
                        ("slug", json!(s.slug)),
                    ],
                    &[],
                );
            }
        }
    }
    p
}

impl Plan {
    fn write(self, script: &mut Script) {
        // Facts another writer applied meanwhile, or buyers it counted,
        // make these fail (the batch is read and tried again).
        for (key, day) in self.applied {
            let (k, d) = (script.var(key), script.var(day));
            script.line(&format!(
                "CREATE type::record('an_applied', {k}) SET day = {d} RETURN NONE;"
            ));
        }
        for (buyer, day) in self.new_buyers {
            let (b, d) = (script.var(buyer), script.var(day));
            script.line(&format!(
                "CREATE type::record('an_buyer', {b}) SET day = {d} RETURN NONE;"
            ));
        }
        for (shop, day, before) in self.placed_guards {
            let (s, d, n) = (script.var(shop), script.var(day), script.var(before));
            script.line(&format!(
                "IF ((SELECT VALUE placed FROM type::record('an_shop_day', [{s}, {d}]))[0] ?? 0) != {n} {{ THROW '{STALE}'; }};"
            ));
        }
        for shop in self.opened_guards {
            let s = script.var(shop);
            script.line(&format!(
                "IF (SELECT VALUE opened FROM type::record('an_shop', {s}))[0] != NONE {{ THROW '{STALE}'; }};"
            ));
        }
        for ((table, _), (id, fields, counts)) in self.rows.rows {
            let id = script.var(id);
            let mut set: Vec<String> = Vec::new();
            for (f, v) in fields {
                let v = script.var(v);
                set.push(format!("{f} = {v}"));
            }
            for (f, by) in counts {
                let by = script.var(by);
                set.push(format!("{f} = ({f} ?? 0) + {by}"));
            }
            if set.is_empty() {
                continue;
            }
            script.line(&format!(
                "UPSERT type::record('{table}', {id}) SET {} RETURN NONE;",
                set.join(", ")
            ));
        }
    }
}

/// Writes a batch of facts, each at most once, and their visitors.
pub async fn apply(db: &Db, facts: &[Fact]) -> Result<(), RollupError> {
    if facts.is_empty() {
        return Ok(());
    }
    retry_transaction(ATTEMPTS, || async { apply_once(db, facts).await }).await
}

/// Reads what the batch depends on, folds its new facts into one write per
/// row, and writes them with their `an_applied` rows and the guards that
/// what was read still holds, in one transaction.
async fn apply_once(db: &Db, facts: &[Fact]) -> Result<(), RollupError> {
    let mut keys = HashSet::new();
    let facts: Vec<&Fact> = facts
        .iter()
        .filter(|f| keys.insert(f.key.as_str()))
        .collect();
    let known = Known::read(db, &facts).await?;
    let mut script = Script::default();
    script.line("BEGIN TRANSACTION;");
    for period in [Period::Day, Period::Month] {
        write_sketches(db, &mut script, period, &facts).await?;
    }
    plan(&facts, known).write(&mut script);
    script.line("COMMIT TRANSACTION;");
    let Script { sql, vars } = script;
    let result = db.query(sql).bind(Value::Object(vars)).await;
    transaction_errors(result)?;
    Ok(())
}

/// What a visitor sketch covers: a shop's day (`an_visitors`, whose count
/// the shop's day keeps too) or its month (`an_visitors_month`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day,
    Month,
}

impl Period {
    fn table(self) -> &'static str {
        match self {
            Period::Day => "an_visitors",
            Period::Month => "an_visitors_month",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    fn of(self, day: &str) -> &str {
        match self {
            Period::Day => day,
            Period::Month => month_of(day),
        }
    }
}

/// Adds the batch's visitors to the sketches of their shops' days (or
/// months): each sketch is read, its visitors added, and written back in
/// the transaction only if its revision is still the one read.
async fn write_sketches(
    db: &Db,
    script: &mut Script,
    period: Period,
    facts: &[&Fact],
) -> Result<(), RollupError> {
    let mut visitors: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for f in facts {
        let What::Views(views) = &f.what else {
            continue;
        };
        for view in views {
            if let Some(v) = &view.visitor {
                visitors
                    .entry((view.shop.clone(), period.of(&f.day).to_owned()))
                    .or_default()
                    .push(v);
            }
        }
    }
    let mut stored = read_sketches(db, period, visitors.keys()).await?;
    let (table, field) = (period.table(), period.field());
    for (key, ids) in &visitors {
        let (mut sketch, rev) = stored.remove(key).unwrap_or_default();
        for id in ids {
            sketch.insert(id);
        }
        let count = sketch.count();
        let shop_v = script.var(key.0.clone());
        let at_v = script.var(key.1.clone());
        let rev_v = script.var(rev);
        let json_v = script.var(sketch.to_json());
        script.line(&format!(
            "IF ((SELECT VALUE rev FROM type::record('{table}', [{shop_v}, {at_v}]))[0] ?? 0) != {rev_v} {{ THROW '{STALE}'; }};"
        ));
        script.line(&format!(
            "UPSERT type::record('{table}', [{shop_v}, {at_v}]) SET shop = {shop_v}, {field} = {at_v}, sketch = {json_v}, rev = {rev_v} + 1 RETURN NONE;"
        ));
        if period == Period::Day {
            let count_v = script.var(count);
            script.line(&format!(
                "UPSERT type::record('an_shop_day', [{shop_v}, {at_v}]) SET shop = {shop_v}, day = {at_v}, visitors = {count_v} RETURN NONE;"
            ));
        }
    }
    Ok(())
}

/// The stored sketches of these shop days (or months) and their revisions
/// (one without a row is absent: an empty sketch at revision 0).
async fn read_sketches(
    db: &Db,
    period: Period,
    keys: impl Iterator<Item = &(String, String)>,
) -> Result<HashMap<(String, String), (Visitors, i64)>, RollupError> {
    let ids: Vec<Value> = keys.map(|(s, d)| json!([s, d])).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let (table, field) = (period.table(), period.field());
    let mut r = db
        .query(format!(
            "SELECT shop, {field} AS at, sketch, rev FROM $ids.map(|$k| type::record('{table}', $k))"
        ))
        .bind(("ids", ids))
        .await?
        .check()?;
    let rows: Vec<Value> = r.take(0)?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(rows
        .iter()
        .filter_map(|row| {
            let sketch = row
                .get("sketch")
                .and_then(Value::as_str)
                .map(Visitors::from_json)
                .unwrap_or_default();
            let rev = row.get("rev").and_then(Value::as_i64).unwrap_or(0);
            Some(((text(row, "shop")?, text(row, "at")?), (sketch, rev)))
        })
        .collect())
}

/// Opens the durable consumers and starts a listener on each; they end at
/// `shutdown`.
pub async fn spawn(
    db: Db,
    js: jetstream::Context,
    shutdown: Shutdown,
) -> Result<Vec<tokio::task::JoinHandle<()>>, NodeError> {
    let mut tasks = Vec::new();
    for s in STREAMS {
        let stream = ensure_stream(&js, s).await?;
        let name = durable(&s);
        let consumer = SharedConsumer::new(&name, s.subjects)
            .description("analytics rollups")
            .open(&stream)
            .await?;
        tasks.push(tokio::spawn(listen(consumer, db.clone(), shutdown.clone())));
    }
    Ok(tasks)
}

/// Pulls batches until `shutdown`: each is written in one transaction,
/// then acknowledged; a batch that fails is left for redelivery.
async fn listen(consumer: PullConsumer, db: Db, shutdown: Shutdown) {
    loop {
        let pulled = tokio::select! {
            () = shutdown.cancelled() => return,
            pulled = pull_batch(&consumer, BATCH) => pulled,
        };
        let failed = match pulled {
            Ok(batch) if batch.is_empty() => false,
            Ok(batch) => {
                let facts: Vec<Fact> = batch.iter().flat_map(facts_of).collect();
                match apply(&db, &facts).await {
                    Ok(()) => {
                        for msg in &batch {
                            if let Err(e) = msg.ack().await {
                                tracing::warn!(error = %e, "ack lost; the event will be applied again (and change nothing)");
                            }
                        }
                        false
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, events = batch.len(), "events not applied; they will be redelivered");
                        true
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot pull events; trying again");
                true
            }
        };
        if failed {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }
}

/// How far a rebuild has come.
pub trait Progress {
    /// A stream of `total` messages starts.
    fn stream(&self, name: &str, total: u64);
    /// `n` more messages of it were read.
    fn advance(&self, n: u64);
}

/// Empties the rollups and applies every event the streams hold again, in
/// batches. The live consumers may go on meanwhile: an event they apply
/// first is skipped here by its `an_applied` row, and the other way round.
pub async fn rebuild(
    db: &Db,
    js: &jetstream::Context,
    progress: &dyn Progress,
) -> Result<u64, RebuildError> {
    db.query(
        "DELETE an_applied; DELETE an_shop_day; DELETE an_product_day; DELETE an_platform_day;
         DELETE an_visitors; DELETE an_shop; DELETE an_product; DELETE an_buyer;
         DELETE an_category_day; DELETE an_shop_month; DELETE an_product_month;
         DELETE an_shop_product_day; DELETE an_visitors_month;",
    )
    .await?
    .check()?;
    let mut applied = 0;
    for s in STREAMS {
        let mut stream = ensure_stream(js, s)
            .await
            .map_err(|e| RebuildError::Stream(e.to_string()))?;
        let info = stream
            .info()
            .await
            .map_err(|e| RebuildError::Stream(e.to_string()))?;
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        progress.stream(s.name, info.state.messages);
        if info.state.messages == 0 {
            continue;
        }
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: first,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| RebuildError::Stream(e.to_string()))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| RebuildError::Stream(e.to_string()))?;
        let mut facts = Vec::new();
        let mut read = 0;
        while let Some(msg) = messages.next().await {
            let msg = msg.map_err(|e| RebuildError::Stream(e.to_string()))?;
            let seq = msg.info().map(|i| i.stream_sequence).unwrap_or(last);
            facts.extend(facts_of(&msg));
            read += 1;
            if facts.len() >= BATCH || seq >= last {
                apply(db, &facts).await?;
                applied += facts.len() as u64;
                facts.clear();
                progress.advance(read);
                read = 0;
            }
            if seq >= last {
                break;
            }
        }
    }
    Ok(applied)
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("reading the events: {0}")]
    Stream(String),
    #[error(transparent)]
    Rollup(#[from] RollupError),
    #[error(transparent)]
    Db(#[from] surrealdb::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_subjects::Currency;
    use bazaar_subjects::orders::{OrderEventItem, OrderStatus, PaymentStatus};

    fn order(id: &str) -> OrderEvent {
        OrderEvent {
            order_id: id.into(),
            number: "N1".into(),
            buyer_id: "b1".into(),
            shop_id: "s1".into(),
            status: OrderStatus::Ordered,
            payment_status: PaymentStatus::Pending,
            total: 2500,
            currency: Currency::EUR,
            product_ids: vec!["p1".into()],
            items: vec![OrderEventItem {
                product_id: "p1".into(),
                quantity: 2,
                revenue: 2500,
                category_id: Some("home".into()),
            }],
            platform_fee: 250,
            at: Some("2026-03-02T10:00:00Z".into()),
        }
    }

    #[test]
    fn a_batch_of_views_is_a_fact_per_day_it_spans() {
        let view = |product: &str, at: &str, account: Option<&str>| ProductViewed {
            product_id: product.into(),
            shop_id: "s1".into(),
            account_id: account.map(Into::into),
            at: at.into(),
            visitor_id: Some("v1".into()),
        };
        let batch = ProductsViewed {
            views: vec![
                view("p1", "2026-03-01T23:59:59.9Z", None),
                view("p2", "2026-03-02T00:00:00.1Z", Some("a1")),
                view("p1", "2026-03-02T00:00:00.2Z", None),
            ],
        };
        let payload = serde_json::to_vec(&batch).unwrap();
        let received = OffsetDateTime::now_utc();
        let facts = read_facts(
            "CATALOG_EVENTS",
            9,
            received,
            ProductsViewed::SUBJECT,
            &payload,
        );
        let keys: Vec<&str> = facts.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["CATALOG_EVENTS:9:2026-03-01", "CATALOG_EVENTS:9:2026-03-02"]
        );
        let What::Views(second) = &facts[1].what else {
            panic!("views");
        };
        let who: Vec<Option<&str>> = second.iter().map(|v| v.visitor.as_deref()).collect();
        assert_eq!(who, [Some("a1"), Some("v1")]);
        let one = serde_json::to_vec(&batch.views[0]).unwrap();
        let old = read_facts("CATALOG_EVENTS", 3, received, ProductViewed::SUBJECT, &one);
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].key, "CATALOG_EVENTS:3");
    }

    #[tokio::test]
    async fn each_fact_counts_once() {
        let db = bazaar_schema::connect("mem://", None).await.unwrap();
        bazaar_schema::migrate(&db).await.unwrap();
        let view = |seq: u64, visitor: &str| Fact {
            key: format!("CATALOG_EVENTS:{seq}"),
            day: "2026-03-02".into(),
            what: What::Views(vec![View {
                shop: "s1".into(),
                product: "p1".into(),
                visitor: Some(visitor.into()),
            }]),
        };
        let placed = Fact {
            key: "placed:o1".into(),
            day: "2026-03-02".into(),
            what: What::Placed(order("o1")),
        };
        let cart = Fact {
            key: "ORDERS_EVENTS:7".into(),
            day: "2026-03-02".into(),
            what: What::CartAdd {
                product: "p1".into(),
                quantity: 3,
            },
        };
        let batch = vec![
            view(1, "a"),
            view(2, "b"),
            view(2, "b"),
            cart,
            placed.clone(),
        ];
        apply(&db, &batch).await.unwrap();
        apply(&db, &batch).await.unwrap();
        apply(&db, &[placed]).await.unwrap();
        let mut r = db.query("SELECT * OMIT id FROM an_shop_day").await.unwrap();
        let rows: Vec<Value> = r.take(0).unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        assert_eq!(row["views"], 2, "{row}");
        assert_eq!(row["visitors"], 2, "{row}");
        assert_eq!(row["cart_adds"], 1, "{row}");
        assert_eq!(row["placed"], 1, "{row}");
        assert_eq!(row["placed_total"], 2500, "{row}");
        assert_eq!(row["units"], 2, "{row}");
        let mut r = db
            .query("SELECT * OMIT id FROM an_platform_day")
            .await
            .unwrap();
        let rows: Vec<Value> = r.take(0).unwrap();
        assert_eq!(rows[0]["new_buyers"], 1, "{rows:?}");
        assert_eq!(rows[0]["active_shops"], 1, "{rows:?}");
        assert_eq!(rows[0]["fees"], 250, "{rows:?}");

        let days = crate::report::Days::check(&bazaar_subjects::analytics::AnalyticsRange {
            from: "2026-03-01".into(),
            to: "2026-03-07".into(),
            shop_id: None,
        })
        .unwrap();
        let shop = crate::report::shop(&db, "s1", days).await.unwrap();
        assert_eq!(shop.current.revenue, 2500);
        assert_eq!(shop.current.unique_visitors, 2);
        assert_eq!(shop.currency, Currency::EUR);
        assert_eq!(shop.days.len(), 7);
        assert_eq!(shop.top_products[0].units, 2);
        assert_eq!(shop.top_products[0].revenue, 2500);
        let platform = crate::report::platform(&db, days).await.unwrap();
        assert_eq!(platform.current.gmv, 2500);
        assert_eq!(platform.current.active_shops, 1);
        assert_eq!(platform.top_shops[0].shop_id, "s1");
        assert_eq!(platform.top_categories[0].category_id, "home");
        assert_eq!(platform.top_categories[0].gmv, 2500);
    }
}
