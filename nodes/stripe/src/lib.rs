//! Stripe for Bazaar: its settings and the handful of calls the platform
//! makes, through `async-stripe`.
//!
//! Card payments use Stripe Checkout (a hosted payment page, so no Stripe
//! script runs on our pages) and Connect's "separate charges and transfers":
//! the platform charges the buyer once for a whole multi-shop cart, then
//! transfers each shop its order total minus the platform fee. Shops connect
//! an Express account through an account link.
//!
//! Every call that creates something carries an idempotency key derived
//! from our own ids, so a node that dies after Stripe acted but before we
//! recorded it repeats the call and gets the same object back, never a
//! second charge, transfer or refund.
//!
//! Only the API base URL differs in tests (a local stand-in speaking
//! Stripe's protocol); every code path is the production one.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod webhook;

use std::collections::HashMap;
use std::str::FromStr;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData, RetrieveCheckoutSession,
};
use stripe_connect::account::{
    CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesCardPayments,
    CreateAccountCapabilitiesTransfers, CreateAccountType, RetrieveAccount,
};
use stripe_connect::account_link::{CreateAccountLink, CreateAccountLinkType};
use stripe_connect::transfer::CreateTransfer;
use stripe_connect::transfer_reversal::CreateIdTransferReversal;
use stripe_core::refund::CreateRefund;
use stripe_shared::{CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus};
use stripe_types::{Currency, Expandable};

/// Stripe settings, shared by the nodes that call Stripe (orders for
/// payments, transfers and refunds; sellers for connected accounts).
#[derive(Clone, clap::Args)]
pub struct StripeConfig {
    /// Stripe secret API key (unset: no Stripe; card payments only through
    /// the test page in `bazaar dev`).
    #[arg(long, env = "BAZAAR_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// Where the Stripe API is reached (tests point it at a stand-in).
    #[arg(
        long,
        env = "BAZAAR_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
    /// The country new connected (shop) accounts are opened in, ISO 3166-1
    /// alpha-2.
    #[arg(long, env = "BAZAAR_STRIPE_CONNECT_COUNTRY", default_value = "US")]
    pub stripe_connect_country: String,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            stripe_secret_key: None,
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_connect_country: "US".into(),
        }
    }
}

/// Secrets stay out of logs: only whether they are set is shown.
impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field(
                "stripe_secret_key",
                &self.stripe_secret_key.as_ref().map(|_| "(hidden)"),
            )
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_connect_country", &self.stripe_connect_country)
            .finish()
    }
}

impl StripeConfig {
    /// Whether card payments go to Stripe (a secret key is set).
    pub fn enabled(&self) -> bool {
        self.stripe_secret_key
            .as_deref()
            .is_some_and(|k| !k.trim().is_empty())
    }

    /// The client, when Stripe is configured.
    pub fn connect(&self) -> Result<Option<Stripe>, Error> {
        let Some(key) = self.stripe_secret_key.as_deref().filter(|_| self.enabled()) else {
            return Ok(None);
        };
        let client = ClientBuilder::new(key.trim())
            .url(self.stripe_api_base.trim_end_matches('/'))
            .build()?;
        Ok(Some(Stripe {
            client,
            connect_country: self.stripe_connect_country.clone(),
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Stripe answered with an error (a 4xx: our request was refused).
    #[error("Stripe refused the request: {0}")]
    Refused(String),
    /// Stripe could not be reached or answered oddly; worth retrying.
    #[error("Stripe is unreachable: {0}")]
    Unavailable(String),
    #[error("bad amount or currency: {0}")]
    Invalid(String),
}

impl Error {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

impl From<StripeError> for Error {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(errors, status)
                if (400..500).contains(&status) && status != 429 =>
            {
                Error::Refused(
                    errors
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("status {status}")),
                )
            }
            other => Error::Unavailable(other.to_string()),
        }
    }
}

/// A connected Stripe client.
#[derive(Clone)]
pub struct Stripe {
    client: Client,
    connect_country: String,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe").finish_non_exhaustive()
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, Error> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| Error::Invalid(format!("idempotency key: {e}")))
}

fn currency(code: &str) -> Result<Currency, Error> {
    Currency::from_str(&code.to_ascii_lowercase())
        .map_err(|_| Error::Invalid(format!("unknown currency {code}")))
}

fn expandable_id<T: stripe_types::Object>(e: &Expandable<T>) -> String
where
    T::Id: ToString,
{
    e.id().to_string()
}

/// One line on the hosted payment page.
#[derive(Debug, Clone)]
pub struct PaymentLine {
    pub name: String,
    /// Minor units.
    pub amount: i64,
}

/// A hosted payment page for one checkout.
#[derive(Debug, Clone)]
pub struct NewCheckoutSession<'a> {
    /// Our checkout id: the session's `client_reference_id`, the payment's
    /// `checkout_id` metadata and its transfer group.
    pub checkout_id: &'a str,
    pub currency: &'a str,
    pub lines: Vec<PaymentLine>,
    pub customer_email: Option<&'a str>,
    pub success_url: String,
    pub cancel_url: String,
    /// Unix seconds; Stripe allows 30 minutes to 24 hours from now.
    pub expires_at: Option<i64>,
}

/// What we keep of a Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub id: String,
    pub url: Option<String>,
    pub checkout_id: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub payment_intent: Option<String>,
    pub amount_total: Option<i64>,
}

impl From<stripe_shared::CheckoutSession> for SessionState {
    fn from(s: stripe_shared::CheckoutSession) -> Self {
        let status = match s.status {
            Some(CheckoutSessionStatus::Open) => "open",
            Some(CheckoutSessionStatus::Complete) => "complete",
            Some(CheckoutSessionStatus::Expired) => "expired",
            _ => "unknown",
        };
        let payment_status = match s.payment_status {
            CheckoutSessionPaymentStatus::Paid => "paid",
            CheckoutSessionPaymentStatus::Unpaid => "unpaid",
            CheckoutSessionPaymentStatus::NoPaymentRequired => "no_payment_required",
            _ => "unknown",
        };
        Self {
            id: s.id.to_string(),
            url: s.url,
            checkout_id: s.client_reference_id,
            status: status.into(),
            payment_status: payment_status.into(),
            payment_intent: s.payment_intent.as_ref().map(expandable_id),
            amount_total: s.amount_total,
        }
    }
}

/// A connected account's state, as a shop's payout settings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub id: String,
    /// Onboarding finished and Stripe lets it receive transfers and payouts.
    pub ready: bool,
    pub details_submitted: bool,
}

impl Stripe {
    /// Opens the hosted payment page for a checkout (once per checkout).
    pub async fn create_checkout_session(
        &self,
        s: NewCheckoutSession<'_>,
    ) -> Result<SessionState, Error> {
        let cur = currency(s.currency)?;
        let lines: Vec<CreateCheckoutSessionLineItems> = s
            .lines
            .iter()
            .map(|l| {
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(cur.clone());
                price.product_data = Some(ProductData::new(l.name.clone()));
                price.unit_amount = Some(l.amount);
                let mut item = CreateCheckoutSessionLineItems::new();
                item.price_data = Some(price);
                item.quantity = Some(1);
                item
            })
            .collect();
        let metadata = HashMap::from([("checkout_id".to_owned(), s.checkout_id.to_owned())]);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        intent.transfer_group = Some(s.checkout_id.to_owned());
        let mut req = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .client_reference_id(s.checkout_id)
            .line_items(lines)
            .metadata(metadata)
            .payment_intent_data(intent)
            .success_url(s.success_url)
            .cancel_url(s.cancel_url);
        if let Some(email) = s.customer_email {
            req = req.customer_email(email);
        }
        if let Some(at) = s.expires_at {
            req = req.expires_at(at);
        }
        let session = req
            .customize()
            .request_strategy(idempotent(&format!("checkout-session-{}", s.checkout_id))?)
            .send(&self.client)
            .await?;
        Ok(session.into())
    }

    /// A Checkout Session as Stripe has it now.
    pub async fn checkout_session(&self, id: &str) -> Result<SessionState, Error> {
        let session = RetrieveCheckoutSession::new(id).send(&self.client).await?;
        Ok(session.into())
    }

    /// Opens an Express account for a shop (once per shop).
    pub async fn create_account(
        &self,
        shop_id: &str,
        email: Option<&str>,
    ) -> Result<String, Error> {
        let mut caps = CreateAccountCapabilities::new();
        caps.card_payments = Some(CreateAccountCapabilitiesCardPayments {
            requested: Some(true),
        });
        caps.transfers = Some(CreateAccountCapabilitiesTransfers {
            requested: Some(true),
        });
        let mut req = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .country(self.connect_country.clone())
            .capabilities(caps)
            .metadata(HashMap::from([("shop_id".to_owned(), shop_id.to_owned())]));
        if let Some(email) = email {
            req = req.email(email);
        }
        let account = req
            .customize()
            .request_strategy(idempotent(&format!("account-{shop_id}"))?)
            .send(&self.client)
            .await?;
        Ok(account.id.to_string())
    }

    /// A connected account as Stripe has it now.
    pub async fn account(&self, id: &str) -> Result<AccountState, Error> {
        let a = RetrieveAccount::new(id).send(&self.client).await?;
        let details_submitted = a.details_submitted.unwrap_or(false);
        Ok(AccountState {
            id: a.id.to_string(),
            ready: details_submitted
                && a.charges_enabled.unwrap_or(false)
                && a.payouts_enabled.unwrap_or(false),
            details_submitted,
        })
    }

    /// A one-time onboarding link for a connected account.
    pub async fn account_link(
        &self,
        account: &str,
        refresh_url: String,
        return_url: String,
    ) -> Result<String, Error> {
        let link = CreateAccountLink::new(account, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(&self.client)
            .await?;
        Ok(link.url)
    }

    /// Pays a shop its share of a charge (once per `key`).
    pub async fn transfer(
        &self,
        key: &str,
        amount: i64,
        currency_code: &str,
        destination: &str,
        transfer_group: &str,
        source_charge: Option<&str>,
    ) -> Result<String, Error> {
        let mut req = CreateTransfer::new(currency(currency_code)?, destination)
            .amount(amount)
            .transfer_group(transfer_group);
        if let Some(charge) = source_charge {
            req = req.source_transaction(charge);
        }
        let t = req
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await?;
        Ok(t.id.to_string())
    }

    /// Takes part of a transfer back from a shop (once per `key`).
    pub async fn reverse_transfer(
        &self,
        key: &str,
        transfer: &str,
        amount: i64,
    ) -> Result<String, Error> {
        let r = CreateIdTransferReversal::new(transfer)
            .amount(amount)
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await?;
        Ok(r.id.to_string())
    }

    /// Gives a buyer money back from a payment (once per `key`).
    pub async fn refund(
        &self,
        key: &str,
        payment_intent: &str,
        amount: i64,
    ) -> Result<String, Error> {
        let r = CreateRefund::new()
            .payment_intent(payment_intent)
            .amount(amount)
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await?;
        Ok(r.id.to_string())
    }

    /// The charge behind a payment (transfers are tied to it so they wait
    /// for its funds).
    pub async fn latest_charge(&self, payment_intent: &str) -> Result<Option<String>, Error> {
        let pi = stripe_core::payment_intent::RetrievePaymentIntent::new(payment_intent)
            .send(&self.client)
            .await?;
        Ok(pi.latest_charge.as_ref().map(expandable_id))
    }
}
