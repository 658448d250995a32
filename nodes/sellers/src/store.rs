//! The sellers domain's data: shops and follows in SurrealDB.
//!
//! Reads go straight to the database (indexed look-ups by owner, slug and
//! follow pair): a shop's follower count, sales and rating change all the
//! time, so a cache would have to be invalidated by every follow and order
//! and is not worth the risk of showing stale numbers.

use std::time::Duration;

use bazaar_outbox::{Outgoing, Relay, WRITE_ONE};
use bazaar_runtime::jetstream::ensure_stream;
use bazaar_runtime::{Caller, NodeContext, NodeError, Request};
use bazaar_schema::{
    Db, TransactionError, committed, retry_transaction, take_rows, transaction_errors,
};
use bazaar_subjects::admin::{CategorySlug, GetCategory};
use bazaar_subjects::sellers::{
    self, FollowState, Shop, ShopCard, ShopCards, ShopChanged, ShopFollowed, ShopInput, ShopOwner,
    ShopPage, TopShopsRequest,
};
use bazaar_subjects::{ErrorCode, ErrorEnvelope, Validator};
use serde::Deserialize;

use crate::validate::{self, ValidShop};

/// Every field of a shop as the wire spells it, plus its owner.
pub(crate) const SHOP_FIELDS: &str = "record::id(id) AS id, owner, slug, name, bio, address, \
    opening_hours, website, social_links, category, avatar_image, banner_image, \
    followers, sales, rating_avg, rating_count, <string>created_at AS created_at, \
    IF hidden_at THEN <string>hidden_at END AS hidden_at, hidden_reason";

/// A shop's card; `created_at` is there because results are ordered by it.
const CARD_FIELDS: &str = "record::id(id) AS id, slug, name, avatar_image, followers, \
    sales, rating_avg, rating_count, created_at";

/// The fields a seller sets, from the bound `$d` (a [`ValidShop`]).
const EDITABLE: &str = "name = $d.name, bio = $d.bio, address = $d.address, \
    opening_hours = $d.opening_hours, website = $d.website, social_links = $d.social_links, \
    category = $d.category, avatar_image = $d.avatar_image, banner_image = $d.banner_image";

/// Slugs that would collide with fixed paths under `/api/shops/` and `/shops/`.
const RESERVED_SLUGS: &[&str] = &["mine", "top", "new", "follow", "search"];

/// How often a write that lost a race with another is tried in all.
const ATTEMPTS: u32 = 10;

pub const DEFAULT_TOP: u32 = 10;
pub const MAX_TOP: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum SellersError {
    /// 404: the caller has not opened a shop yet.
    #[error("the caller has no shop")]
    NoShop,
    /// 404: no shop with that slug or id.
    #[error("no such shop")]
    NoSuchShop,
    /// 409: a seller runs exactly one shop.
    #[error("the caller has a shop already")]
    HasShop,
    /// 401: only reachable if an endpoint's access level were loosened.
    #[error("not signed in")]
    SignedOut,
    /// 422: invalid input, per field.
    #[error("invalid input")]
    Invalid(ErrorEnvelope),
    /// Another node's answer, passed on as it came.
    #[error("{}", .0.message)]
    Upstream(ErrorEnvelope),
    /// 500: the database failed (boxed: the database's errors are large).
    #[error(transparent)]
    Db(Box<surrealdb::Error>),
    /// 500: the database answered in an unexpected shape.
    #[error(transparent)]
    Schema(Box<bazaar_schema::SchemaError>),
    /// 500: a write did not commit for a reason we do not retry.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// 409: the shop is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
    /// 409: this site takes no card payments (no Stripe key).
    #[error("Stripe is not set up")]
    PaymentsOff,
    /// Stripe refused (409) or could not be reached (503).
    #[error(transparent)]
    Stripe(#[from] bazaar_stripe::Error),
}

impl From<surrealdb::Error> for SellersError {
    fn from(e: surrealdb::Error) -> Self {
        SellersError::Db(Box::new(e))
    }
}

impl bazaar_schema::Retryable for SellersError {
    fn is_retryable(&self) -> bool {
        matches!(self, SellersError::Transaction(e) if e.is_retryable())
    }
}

impl From<bazaar_schema::SchemaError> for SellersError {
    fn from(e: bazaar_schema::SchemaError) -> Self {
        SellersError::Schema(Box::new(e))
    }
}

impl From<SellersError> for ErrorEnvelope {
    fn from(e: SellersError) -> Self {
        match e {
            SellersError::NoShop => {
                ErrorEnvelope::not_found("you have not opened your shop yet: create it first")
            }
            SellersError::NoSuchShop => ErrorEnvelope::not_found("there is no such shop"),
            SellersError::HasShop => ErrorEnvelope::conflict(
                "you have a shop already: each seller runs one shop, edit it instead",
            ),
            SellersError::SignedOut => ErrorEnvelope::unauthorized("sign in to do this"),
            SellersError::Conflict(why) => ErrorEnvelope::conflict(why),
            SellersError::Invalid(envelope) | SellersError::Upstream(envelope) => envelope,
            SellersError::PaymentsOff => ErrorEnvelope::conflict(
                "this site does not take card payments, so there is nothing to connect",
            ),
            SellersError::Stripe(e) if e.is_transient() => {
                tracing::warn!(error = %e, "stripe unavailable");
                ErrorEnvelope::new(
                    bazaar_subjects::ErrorCode::Unavailable,
                    "Stripe cannot be reached right now; try again in a minute",
                )
            }
            SellersError::Stripe(e) => {
                tracing::warn!(error = %e, "stripe refused");
                ErrorEnvelope::conflict(format!("{e}"))
            }
            other => bazaar_runtime::internal(other),
        }
    }
}

impl From<serde_json::Error> for SellersError {
    fn from(e: serde_json::Error) -> Self {
        SellersError::from(bazaar_schema::SchemaError::from(e))
    }
}

/// A shop row with what only this node sees.
#[derive(Debug, Deserialize)]
pub(crate) struct ShopRow {
    #[serde(flatten)]
    pub(crate) shop: Shop,
    pub(crate) owner: String,
}

/// What a follow or unfollow transaction reports.
#[derive(Debug, Deserialize)]
struct FollowOutcome {
    shop: Option<String>,
    changed: bool,
    followers: Option<i64>,
}

/// What the sellers node needs beyond the shared context.
#[derive(Clone, Debug, Default)]
pub struct SellersConfig {
    /// The site's public URL (Stripe onboarding returns here).
    pub public_url: String,
    /// Stripe, when this site takes card payments.
    pub stripe: Option<bazaar_stripe::Stripe>,
}

#[derive(Clone)]
pub struct SellersStore {
    pub(crate) config: SellersConfig,
    pub(crate) db: Db,
    nats: async_nats::Client,
    /// Publishes the events written with each change.
    pub(crate) outbox: Relay,
    timeout: Duration,
}

pub(crate) fn owner(caller: &Caller) -> Result<String, SellersError> {
    caller
        .account_id()
        .map(str::to_owned)
        .ok_or(SellersError::SignedOut)
}

/// A write that met a unique index while racing another request for the
/// same thing: for that write, the same as a conflict (trying again finds
/// the other's work).
fn raced_on(index: &str, e: TransactionError) -> TransactionError {
    match e {
        TransactionError::Unique { index: i, message } if i == index => {
            TransactionError::Conflict(message)
        }
        other => other,
    }
}

impl SellersStore {
    /// Sets up the event stream (idempotently).
    pub async fn open(ctx: &NodeContext, db: Db, config: SellersConfig) -> Result<Self, NodeError> {
        ensure_stream(&ctx.jetstream, sellers::EVENTS).await?;
        Ok(Self {
            config,
            outbox: Relay::for_node(ctx, db.clone()),
            db,
            nats: ctx.nats.clone(),
            timeout: ctx.request_timeout,
        })
    }

    /// Whether the category exists, asked of the admin node on the caller's behalf.
    async fn category_exists<T>(&self, req: &Request<T>, slug: &str) -> Result<bool, SellersError> {
        let slug = slug.trim();
        if !validate::is_slug(slug) {
            return Ok(false);
        }
        let body = CategorySlug {
            slug: slug.to_owned(),
        };
        match bazaar_runtime::call::<GetCategory>(&self.nats, &req.onward(), &body, self.timeout)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code == ErrorCode::NotFound => Ok(false),
            Err(e) => Err(SellersError::Upstream(e)),
        }
    }

    async fn validated(&self, req: &Request<ShopInput>) -> Result<ValidShop, SellersError> {
        let exists = self.category_exists(req, &req.body.category).await?;
        validate::validate_shop(req.body.clone(), exists).map_err(SellersError::Invalid)
    }

    async fn row_where(
        &self,
        condition: &str,
        value: String,
    ) -> Result<Option<ShopRow>, SellersError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {SHOP_FIELDS} FROM shop WHERE {condition} = $value"
            ))
            .bind(("value", value))
            .await?
            .check()?;
        Ok(take_rows::<ShopRow>(&mut res, 0)?.into_iter().next())
    }

    pub(crate) async fn row_by_owner(&self, owner: &str) -> Result<Option<ShopRow>, SellersError> {
        self.row_where("owner", owner.to_owned()).await
    }

    /// The caller's shop.
    pub async fn mine(&self, caller: &Caller) -> Result<Shop, SellersError> {
        let owner = owner(caller)?;
        self.row_by_owner(&owner)
            .await?
            .map(|r| r.shop)
            .ok_or(SellersError::NoShop)
    }

    /// Opens the caller's one shop under a fresh slug derived from its name.
    pub async fn create(&self, req: &Request<ShopInput>) -> Result<Shop, SellersError> {
        let owner = owner(&req.caller)?;
        if self.row_by_owner(&owner).await?.is_some() {
            return Err(SellersError::HasShop);
        }
        let shop = self.validated(req).await?;
        let base = shop.slug_base();
        let id = uuid::Uuid::now_v7().simple().to_string();
        let doc = serde_json::to_value(&shop)?;
        let opened = retry_transaction(ATTEMPTS, || async {
            let slug = self.free_slug(&base).await?;
            let event = ShopChanged {
                shop_id: id.clone(),
                slug: slug.clone(),
                name: shop.name.clone(),
                owner_id: owner.clone(),
                hidden: false,
            };
            let outbox = bazaar_outbox::bind(&[Outgoing::event(
                &event,
                &format!("shop-{}", uuid::Uuid::now_v7().simple()),
            )]);
            let result = self
                .db
                .query(format!(
                    "BEGIN TRANSACTION;
                     CREATE type::record('shop', $id) SET owner = $owner, slug = $slug, {EDITABLE} RETURN NONE;
                     {}
                     COMMIT TRANSACTION;",
                    bazaar_outbox::WRITE
                ))
                .bind(("id", id.clone()))
                .bind(("owner", owner.clone()))
                .bind(("slug", slug))
                .bind(("d", doc.clone()))
                .bind(("outbox", outbox))
                .await;
            match transaction_errors(result) {
                Ok(()) => Ok(()),
                // Two creates by one seller at once: the index keeps one.
                Err(e) if e.unique_index() == Some("shop_owner") => Err(SellersError::HasShop),
                // Another shop took the slug in between: pick again.
                Err(e) => Err(raced_on("shop_slug", e).into()),
            }
        });
        opened.await?;
        let row = self
            .row_by_owner(&owner)
            .await?
            .ok_or(SellersError::NoShop)?;
        tracing::info!(shop = %row.shop.id, slug = %row.shop.slug, "shop opened");
        self.outbox.sent().await;
        Ok(row.shop)
    }

    /// The first of `base`, `base-2`, `base-3` … that no shop uses (and no
    /// fixed path needs); a random suffix when the first fifty are all taken.
    async fn free_slug(&self, base: &str) -> Result<String, SellersError> {
        let candidates: Vec<String> = std::iter::once(base.to_owned())
            .chain((2..=50).map(|n| format!("{base}-{n}")))
            .collect();
        let mut res = self
            .db
            .query("SELECT VALUE slug FROM shop WHERE slug IN $candidates")
            .bind(("candidates", candidates.clone()))
            .await?
            .check()?;
        let taken: Vec<String> = res.take(0)?;
        Ok(candidates
            .into_iter()
            .find(|c| !taken.contains(c) && !RESERVED_SLUGS.contains(&c.as_str()))
            .unwrap_or_else(|| {
                format!("{base}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
            }))
    }

    /// Replaces the caller's shop's details; its slug stays as it is.
    pub async fn update(&self, req: &Request<ShopInput>) -> Result<Shop, SellersError> {
        let owner = owner(&req.caller)?;
        let current = self
            .row_by_owner(&owner)
            .await?
            .ok_or(SellersError::NoShop)?;
        let shop = self.validated(req).await?;
        if shop.slug.as_ref().is_some_and(|s| *s != current.shop.slug) {
            let mut v = Validator::default();
            v.check(
                false,
                "slug",
                "a shop's address never changes: leave the slug out or send the current one",
            );
            v.finish().map_err(SellersError::Invalid)?;
        }
        let doc = serde_json::to_value(&shop)?;
        let edited = retry_transaction(ATTEMPTS, || async {
            let result = self
                .db
                .query(format!(
                    "BEGIN TRANSACTION;
                     UPDATE shop SET {EDITABLE}, updated_at = time::now() WHERE owner = $owner RETURN NONE;
                     -- `ShopChanged`, written with the edit (see the outbox).
                     LET $changed = (SELECT record::id(id) AS shop_id, slug, name, owner AS owner_id,
                         hidden_at != NONE AS hidden FROM shop WHERE owner = $owner)[0];
                     IF $changed != NONE {{
                         LET $event = $changed;
                         {WRITE_ONE}
                     }};
                     SELECT {SHOP_FIELDS} FROM shop WHERE owner = $owner;
                     COMMIT TRANSACTION;"
                ))
                .bind(("owner", owner.clone()))
                .bind(("d", doc.clone()))
                .bind(("event_id", format!("shop-{}", uuid::Uuid::now_v7().simple())))
                .bind(("subject", <ShopChanged as bazaar_subjects::Event>::SUBJECT))
                .await;
            let mut res = committed(result)?;
            let last = bazaar_schema::before_commit(&res);
            Ok::<_, SellersError>(take_rows::<ShopRow>(&mut res, last)?.into_iter().next())
        });
        let row = edited.await?.ok_or(SellersError::NoShop)?;
        self.outbox.sent().await;
        Ok(row.shop)
    }

    /// A public shop page; `following` says whether a signed-in caller follows it.
    /// A hidden shop is there only for its owner and admins.
    pub async fn page(&self, caller: &Caller, slug: &str) -> Result<ShopPage, SellersError> {
        let row = self
            .row_where("slug", slug.to_owned())
            .await?
            .ok_or(SellersError::NoSuchShop)?;
        let insider = caller.account_id() == Some(row.owner.as_str())
            || caller.role() == Some(bazaar_subjects::Role::Admin);
        if row.shop.hidden_at.is_some() && !insider {
            return Err(SellersError::NoSuchShop);
        }
        let shop = row.shop;
        let following = match caller.account_id() {
            None => None,
            Some(account) => {
                let mut res = self
                    .db
                    .query("SELECT VALUE id FROM follow WHERE account = $account AND shop = $shop LIMIT 1")
                    .bind(("account", account.to_owned()))
                    .bind(("shop", shop.id.clone()))
                    .await?
                    .check()?;
                let rows: Vec<serde_json::Value> = res.take(0)?;
                Some(!rows.is_empty())
            }
        };
        Ok(ShopPage { shop, following })
    }

    pub async fn owner(&self, slug: &str) -> Result<ShopOwner, SellersError> {
        let row = self
            .row_where("slug", slug.to_owned())
            .await?
            .ok_or(SellersError::NoSuchShop)?;
        Ok(ShopOwner {
            id: row.shop.id,
            slug: row.shop.slug,
            name: row.shop.name,
            owner: row.owner,
        })
    }

    pub async fn card(&self, id: &str) -> Result<ShopCard, SellersError> {
        let mut res = self
            .db
            .query(format!(
                "SELECT {CARD_FIELDS} FROM type::record('shop', $id) WHERE hidden_at = NONE"
            ))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        take_rows::<ShopCard>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(SellersError::NoSuchShop)
    }

    /// The best shops: most sales, then best rated, then most followed.
    pub async fn top(&self, req: &TopShopsRequest) -> Result<ShopCards, SellersError> {
        let limit = req.limit.unwrap_or(DEFAULT_TOP);
        let mut v = Validator::default();
        v.check(
            (1..=MAX_TOP).contains(&limit),
            "limit",
            "ask for between 1 and 50 shops",
        );
        v.finish().map_err(SellersError::Invalid)?;
        let mut res = self
            .db
            .query(format!(
                "SELECT {CARD_FIELDS} FROM shop WHERE hidden_at = NONE
                 ORDER BY sales DESC, rating_avg DESC, followers DESC, created_at ASC
                 LIMIT $limit"
            ))
            .bind(("limit", i64::from(limit)))
            .await?
            .check()?;
        Ok(ShopCards {
            shops: take_rows(&mut res, 0)?,
        })
    }

    /// Follows (or unfollows) a shop by slug. Idempotent: the unique follow
    /// pair holds at most one row per account and shop, and the shop's
    /// follower count moves in the same transaction, only when a row was
    /// actually added or removed. Racing requests conflict and are retried,
    /// and then find the work done.
    pub async fn follow(
        &self,
        caller: &Caller,
        slug: &str,
        follow: bool,
    ) -> Result<FollowState, SellersError> {
        let account = owner(caller)?;
        let change = if follow {
            "LET $changed = IF $shop != NONE AND array::len($had) = 0 {
                 CREATE type::record('follow', $id) SET account = $account, shop = $shop RETURN NONE;
                 UPDATE type::record('shop', $shop) SET followers += 1 RETURN NONE;
                 true
             } ELSE { false };"
        } else {
            "LET $changed = IF $shop != NONE AND array::len($had) > 0 {
                 DELETE follow WHERE account = $account AND shop = $shop RETURN NONE;
                 UPDATE type::record('shop', $shop) SET followers -= array::len($had) RETURN NONE;
                 true
             } ELSE { false };"
        };
        let sql = format!(
            "BEGIN TRANSACTION;
             LET $shop = (SELECT VALUE record::id(id) FROM shop WHERE slug = $slug)[0];
             LET $had = IF $shop != NONE {{ SELECT VALUE id FROM follow WHERE account = $account AND shop = $shop }} ELSE {{ [] }};
             {change}
             {{ shop: $shop, changed: $changed, followers: IF $shop != NONE {{ (SELECT VALUE followers FROM type::record('shop', $shop))[0] }} }};
             -- `ShopFollowed`, written with the follow (see the outbox).
             IF $changed {{
                 LET $event = {{ shop_id: $shop, account_id: $account, following: $following }};
                 {WRITE_ONE}
             }};
             COMMIT TRANSACTION;"
        );
        let followed = retry_transaction(ATTEMPTS, || async {
            let result = self
                .db
                .query(sql.as_str())
                .bind(("slug", slug.to_owned()))
                .bind(("account", account.clone()))
                .bind(("id", uuid::Uuid::now_v7().simple().to_string()))
                .bind((
                    "event_id",
                    format!("follow-{}", uuid::Uuid::now_v7().simple()),
                ))
                .bind(("subject", <ShopFollowed as bazaar_subjects::Event>::SUBJECT))
                .bind(("following", follow))
                .await;
            let mut res = committed(result).map_err(|e| raced_on("follow_pair", e))?;
            // 0 BEGIN, 1-3 LETs, 4 the outcome.
            let outcome: Option<serde_json::Value> = res.take(4)?;
            Ok::<_, SellersError>(serde_json::from_value::<FollowOutcome>(
                outcome.unwrap_or_default(),
            )?)
        });
        let outcome = followed.await?;
        outcome.shop.ok_or(SellersError::NoSuchShop)?;
        if outcome.changed {
            self.outbox.sent().await;
        }
        Ok(FollowState {
            following: follow,
            followers: outcome.followers.unwrap_or(0),
        })
    }
}
