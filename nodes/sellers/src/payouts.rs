//! Card payouts: a shop's connected Stripe account (Connect Express).
//!
//! A seller starts onboarding from the dashboard: the shop's account is
//! opened once (Stripe's idempotency key is the shop id, so two clicks or a
//! crash between Stripe's answer and our write still give one account) and
//! a fresh onboarding link is returned. Whether the shop can be paid is
//! Stripe's to say: `account.updated` webhooks (verified by the edge, queued
//! on `SELLERS_JOBS`) and the seller's own status page ask Stripe for the
//! account's current state, so webhooks arriving late, twice or out of
//! order all end in the same answer.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use bazaar_runtime::jetstream::{SharedConsumer, next_message};
use bazaar_runtime::{Caller, NodeError, Shutdown};
use bazaar_schema::take_rows;
use bazaar_subjects::Job;
use bazaar_subjects::sellers::{
    self, OnboardingLink, PayoutStatus, ShopIds, ShopPayoutAccount, ShopPayoutAccounts,
    StripeAccountChanged,
};
use serde::Deserialize;

use crate::store::{SellersError, SellersStore, owner};

const CONSUMER: &str = "sellers-stripe-accounts";
/// The most shops one cart can ask about.
const MAX_IDS: usize = 100;

#[derive(Debug, Deserialize)]
struct PayoutRow {
    id: String,
    stripe_account: Option<String>,
    #[serde(default)]
    stripe_ready: bool,
}

impl SellersStore {
    async fn payout_row(&self, caller: &Caller) -> Result<PayoutRow, SellersError> {
        let owner = owner(caller)?;
        let mut res = self
            .db
            .query(
                "SELECT record::id(id) AS id, stripe_account, stripe_ready FROM shop WHERE owner = $owner",
            )
            .bind(("owner", owner))
            .await?
            .check()?;
        take_rows::<PayoutRow>(&mut res, 0)?
            .into_iter()
            .next()
            .ok_or(SellersError::NoShop)
    }

    fn stripe(&self) -> Result<&bazaar_stripe::Stripe, SellersError> {
        self.config.stripe.as_ref().ok_or(SellersError::PaymentsOff)
    }

    /// Opens the caller's shop's Stripe account (once) and a fresh
    /// onboarding link for it.
    pub async fn connect_payouts(&self, caller: &Caller) -> Result<OnboardingLink, SellersError> {
        let stripe = self.stripe()?;
        let row = self.payout_row(caller).await?;
        let account = match row.stripe_account {
            Some(a) => a,
            None => {
                let a = stripe.create_account(&row.id, None).await?;
                // Same key, same account: a racing request writes the same id.
                self.db
                    .query(
                        "UPDATE type::record('shop', $id) SET stripe_account = $a, updated_at = time::now()
                           WHERE stripe_account = NONE RETURN NONE",
                    )
                    .bind(("id", row.id.clone()))
                    .bind(("a", a.clone()))
                    .await?
                    .check()?;
                tracing::info!(shop = %row.id, account = %a, "stripe account opened");
                a
            }
        };
        let base = self.config.public_url.trim_end_matches('/');
        let url = stripe
            .account_link(
                &account,
                format!("{base}/seller/payouts/connect"),
                format!("{base}/seller/payouts"),
            )
            .await?;
        Ok(OnboardingLink { url })
    }

    /// The caller's shop's card-payment state; asks Stripe while it is not
    /// ready yet (the seller may just have come back from onboarding).
    pub async fn payout_status(&self, caller: &Caller) -> Result<PayoutStatus, SellersError> {
        let row = self.payout_row(caller).await?;
        let mut ready = row.stripe_ready;
        if let (Some(account), false, Some(_)) =
            (&row.stripe_account, ready, self.config.stripe.as_ref())
        {
            ready = self.sync_account(account).await?;
        }
        Ok(PayoutStatus {
            stripe_available: self.config.stripe.is_some(),
            connected: row.stripe_account.is_some(),
            ready: ready && self.config.stripe.is_some(),
        })
    }

    /// Which of these shops can be paid by card, and into which account.
    pub async fn payout_accounts(&self, req: &ShopIds) -> Result<ShopPayoutAccounts, SellersError> {
        if req.ids.len() > MAX_IDS {
            return Err(SellersError::Invalid(
                bazaar_subjects::ErrorEnvelope::bad_request(format!(
                    "ask about at most {MAX_IDS} shops at once"
                )),
            ));
        }
        let ids: Vec<String> = req
            .ids
            .iter()
            .filter(|id| {
                !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .cloned()
            .collect();
        let mut res = self
            .db
            .query(
                "SELECT record::id(id) AS id, stripe_account, stripe_ready
                   FROM array::map($ids, |$i| type::record('shop', $i))",
            )
            .bind(("ids", ids))
            .await?
            .check()?;
        let rows: Vec<PayoutRow> = take_rows(&mut res, 0)?;
        let on = self.config.stripe.is_some();
        Ok(ShopPayoutAccounts {
            shops: rows
                .into_iter()
                .map(|r| ShopPayoutAccount {
                    shop_id: r.id,
                    stripe_account: r.stripe_account.filter(|_| r.stripe_ready && on),
                })
                .collect(),
        })
    }

    /// Records what Stripe says about a connected account now; returns
    /// whether it is ready.
    pub async fn sync_account(&self, account: &str) -> Result<bool, SellersError> {
        let state = self.stripe()?.account(account).await?;
        self.db
            .query(
                "UPDATE shop SET stripe_ready = $ready, stripe_checked_at = time::now()
                   WHERE stripe_account = $a RETURN NONE",
            )
            .bind(("a", account.to_owned()))
            .bind(("ready", state.ready))
            .await?
            .check()?;
        tracing::info!(
            account,
            ready = state.ready,
            "stripe account state recorded"
        );
        Ok(state.ready)
    }
}

/// Applies `account.updated` notifications until `shutdown`.
pub async fn run_account_jobs(
    store: SellersStore,
    js: async_nats::jetstream::Context,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let stream = bazaar_runtime::jetstream::ensure_work_queue(&js, sellers::JOBS).await?;
    let consumer = SharedConsumer::new(CONSUMER, StripeAccountChanged::SUBJECT)
        .description("every sellers node copy records Stripe account changes")
        .max_deliver(50)
        .open(&stream)
        .await?;
    while let Some(msg) = next_message(&consumer, &shutdown, "Stripe account changes").await {
        let Ok(job) = serde_json::from_slice::<StripeAccountChanged>(&msg.payload) else {
            tracing::error!("unreadable Stripe account change; dropped");
            let _ = msg.ack_with(AckKind::Term).await;
            continue;
        };
        match store.sync_account(&job.account_id).await {
            Ok(_) => {
                let _ = msg.double_ack().await;
            }
            Err(SellersError::PaymentsOff) => {
                tracing::warn!(event = %job.event_id, "a Stripe account change arrived but Stripe is not set up; ignored");
                let _ = msg.ack_with(AckKind::Term).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, event = %job.event_id, "Stripe account change not recorded yet; it will be redelivered");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                    .await;
            }
        }
    }
    Ok(())
}
