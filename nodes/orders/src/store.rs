//! The orders node's shared handle: database, NATS, settings, and the few
//! helpers every part uses.

use std::time::Duration;

use bazaar_outbox::{Outgoing, Relay};
use bazaar_runtime::jetstream::{ensure_stream, ensure_work_queue};
use bazaar_runtime::{Caller, NodeContext, NodeError, RequestMeta};
use bazaar_schema::Db;
use bazaar_subjects::mail::{Email, SendEmail};
use bazaar_subjects::orders::is_guest_id;
use bazaar_subjects::socket::{ServerFrame, deliver_subject};
use bazaar_subjects::{Endpoint, mail, orders};

use crate::{OrdersConfig, OrdersError};

#[derive(Clone)]
pub struct OrdersStore {
    pub(crate) db: Db,
    pub(crate) nats: async_nats::Client,
    pub(crate) config: OrdersConfig,
    /// Publishes the events and jobs written with each change.
    pub(crate) outbox: Relay,
    /// Checkouts' orders, placed together when they come together.
    pub(crate) placements: crate::placement::Placements,
    /// Checkouts opened together when they come together.
    pub(crate) openings: crate::placement::Openings,
    timeout: Duration,
}

impl OrdersStore {
    pub async fn open(ctx: &NodeContext, db: Db, config: OrdersConfig) -> Result<Self, NodeError> {
        ensure_stream(&ctx.jetstream, orders::EVENTS).await?;
        ensure_work_queue(&ctx.jetstream, orders::JOBS).await?;
        ensure_work_queue(&ctx.jetstream, mail::JOBS).await?;
        let db_for_outbox = db.clone();
        let dead = config.dies_before_relaying;
        Ok(Self {
            placements: crate::placement::start(db.clone(), ctx.group_commit),
            openings: crate::placement::openings(db.clone(), ctx.group_commit),
            db,
            nats: ctx.nats.clone(),
            config,
            outbox: if dead {
                Relay::for_node(ctx, db_for_outbox).dead()
            } else {
                Relay::for_node(ctx, db_for_outbox)
            },
            timeout: ctx.request_timeout,
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Calls another node (on the given caller's behalf).
    pub(crate) async fn call<E: Endpoint>(
        &self,
        meta: &RequestMeta,
        body: &E::Request,
    ) -> Result<E::Reply, OrdersError> {
        bazaar_runtime::call::<E>(&self.nats, meta, body, self.timeout)
            .await
            .map_err(OrdersError::Upstream)
    }

    /// An email for the mail node's queue, to write with the change it tells
    /// about (deduplicated by `id`).
    pub(crate) fn email_job(id: String, to: &str, email: Email) -> Outgoing {
        let job = SendEmail {
            id,
            to: to.to_owned(),
            email,
        };
        Outgoing::job(&job, &job.id)
    }

    /// Stores an in-app notification for an account.
    pub(crate) async fn notify(
        &self,
        account: &str,
        title: String,
        body: String,
        link: Option<String>,
    ) {
        let title_body_link = ServerFrame::Notification {
            title: title.clone(),
            body: body.clone(),
            link: link.clone(),
        };
        let r = self
            .db
            .query("CREATE notification SET account = $account, title = $title, body = $body, link = $link RETURN NONE")
            .bind(("account", account.to_owned()))
            .bind(("title", title))
            .bind(("body", body))
            .bind(("link", link))
            .await
            .and_then(|r| r.check());
        if let Err(e) = r {
            tracing::warn!(error = %e, "notification not stored");
            return;
        }
        self.push(account, title_body_link).await;
    }

    /// Tells the account's open sockets, on whichever edge, about a new
    /// in-app notification, so its badge updates without a reload. Nothing
    /// is lost when no socket listens: the notification is stored.
    pub(crate) async fn push(&self, account: &str, frame: ServerFrame) {
        let payload = match serde_json::to_vec(&frame) {
            Ok(p) => p,
            Err(_) => return,
        };
        if let Err(e) = self
            .nats
            .publish(deliver_subject(account), payload.into())
            .await
        {
            tracing::warn!(error = %e, "live notification not sent");
        }
    }
}

/// The caller's account id, or 401-like refusal for anonymous callers.
pub(crate) fn account(caller: &Caller) -> Result<String, OrdersError> {
    caller
        .account_id()
        .map(str::to_owned)
        .ok_or_else(|| OrdersError::Forbidden("sign in first".into()))
}

/// Whose cart: the signed-in account, else the guest id from the edge.
pub(crate) fn owner_key(caller: &Caller, guest_id: Option<&str>) -> Result<String, OrdersError> {
    if let Some(id) = caller.account_id() {
        return Ok(format!("a:{id}"));
    }
    match guest_id {
        Some(g) if is_guest_id(g) => Ok(format!("g:{g}")),
        Some(_) => Err(OrdersError::BadRequest(
            "that guest cart id is not valid".into(),
        )),
        None => Err(OrdersError::BadRequest(
            "no cart: sign in, or send the guest cart id".into(),
        )),
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
