//! The analytics node: rollups of what happens on the platform, and the
//! sellers' and admins' figures read from them.
//!
//! It keeps, from the domain events (see [`rollup`]), one row per shop and
//! day, per product and day and per day for the platform, plus a
//! unique-visitor sketch per shop and day ([`sketch`]). Each event is
//! counted once: its applied row is written in the same transaction as its
//! counts. Two endpoints answer from the rollups alone ([`report`]):
//! a shop's figures ([`GetShopAnalytics`]: a seller gets their own shop,
//! an admin any) and the platform's ([`GetPlatformAnalytics`]: admins). The
//! caller's token and role are checked here, not at the edge.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod report;
pub mod rollup;
pub mod sketch;

use bazaar_runtime::{Caller, Node, NodeContext, NodeError, Request, Shutdown};
use bazaar_schema::Db;
use bazaar_subjects::analytics::{
    AnalyticsRange, GetPlatformAnalytics, GetShopAnalytics, PlatformAnalytics, ShopAnalytics,
};
use bazaar_subjects::{Domain, ErrorEnvelope, Role};

pub use rollup::{Progress, RebuildError, rebuild};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// 400/403/404: as the envelope says.
    #[error("{0:?}")]
    Refused(ErrorEnvelope),
    /// 500: the database failed.
    #[error("database: {0}")]
    Db(Box<surrealdb::Error>),
}

impl From<surrealdb::Error> for AnalyticsError {
    fn from(e: surrealdb::Error) -> Self {
        AnalyticsError::Db(Box::new(e))
    }
}

impl From<ErrorEnvelope> for AnalyticsError {
    fn from(e: ErrorEnvelope) -> Self {
        AnalyticsError::Refused(e)
    }
}

impl From<AnalyticsError> for ErrorEnvelope {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::Refused(envelope) => envelope,
            other => bazaar_runtime::internal(other),
        }
    }
}

/// Serves the analytics domain and keeps its rollups until `shutdown`.
pub async fn run(ctx: NodeContext, db: Db, shutdown: Shutdown) -> Result<(), NodeError> {
    let listeners = rollup::spawn(db.clone(), ctx.jetstream.clone(), shutdown.clone()).await?;
    let served = Node::new(ctx, Domain::Analytics, "analytics rollups")
        .with_state(db)
        .serve::<GetShopAnalytics>(shop)
        .serve::<GetPlatformAnalytics>(platform)
        .run(shutdown)
        .await;
    for l in listeners {
        let _ = l.await;
    }
    served
}

/// Which shop the caller may read: a seller their own (naming another is
/// refused), an admin the one they name.
async fn shop_for(db: &Db, caller: &Caller, asked: Option<&str>) -> Result<String, AnalyticsError> {
    let (Some(me), Some(role)) = (caller.account_id(), caller.role()) else {
        return Err(ErrorEnvelope::unauthorized("sign in to do this").into());
    };
    if let (Role::Admin, Some(shop)) = (role, asked) {
        return Ok(shop.to_owned());
    }
    let own = report::shop_of_owner(db, me).await?;
    match (own, asked) {
        (Some(own), None) => Ok(own),
        (Some(own), Some(asked)) if own == asked => Ok(own),
        (_, Some(_)) => {
            Err(ErrorEnvelope::forbidden("that shop's figures are its seller's").into())
        }
        (None, None) => Err(ErrorEnvelope::not_found("you have no shop yet").into()),
    }
}

async fn shop(db: &Db, req: Request<AnalyticsRange>) -> Result<ShopAnalytics, AnalyticsError> {
    let days = report::Days::check(&req.body)?;
    let shop = shop_for(db, &req.caller, req.body.shop_id.as_deref()).await?;
    report::shop(db, &shop, days).await
}

async fn platform(
    db: &Db,
    req: Request<AnalyticsRange>,
) -> Result<PlatformAnalytics, AnalyticsError> {
    let days = report::Days::check(&req.body)?;
    report::platform(db, days).await
}
