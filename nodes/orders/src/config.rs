//! The orders node's settings.

/// Money rules and where buyers are sent to pay.
#[derive(Clone, clap::Args)]
pub struct OrdersConfig {
    /// The platform's fee on every order, in basis points (1000 = 10%).
    #[arg(long, env = "BAZAAR_PLATFORM_FEE_BPS", default_value_t = 1000)]
    pub platform_fee_bps: u32,
    /// How long a card checkout may wait for its payment before its stock
    /// is released.
    #[arg(long, env = "BAZAAR_CHECKOUT_TTL_SECS", default_value_t = 1800)]
    pub checkout_ttl_secs: u64,
    /// The public URL of the site (payment pages return here).
    #[arg(
        id = "orders_public_url",
        long = "orders-public-url",
        env = "BAZAAR_PUBLIC_URL",
        default_value = "http://localhost:8080"
    )]
    pub public_url: String,
    /// Offer the built-in test payment page for card payments (one-box dev
    /// mode without Stripe keys only).
    #[arg(skip)]
    pub test_payments: bool,
    /// A fault for failure drills, set only by tests: this copy never
    /// relays its outbox, as a copy killed between its commit and its
    /// publish would not. Its changes go out when another copy relays.
    #[arg(skip)]
    pub dies_before_relaying: bool,
    /// Stripe, when this site takes card payments through it (set from
    /// the shared Stripe settings by whoever starts the node).
    #[arg(skip)]
    pub stripe: Option<bazaar_stripe::Stripe>,
    /// Stripe's webhook signing secret (`whsec_…`), the edge's too: every
    /// queued Stripe event's signature is checked again here, and one that
    /// does not verify changes nothing.
    #[arg(
        id = "orders_stripe_webhook_secret",
        long = "orders-stripe-webhook-secret",
        env = "BAZAAR_STRIPE_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Option<String>,
}

impl OrdersConfig {
    /// Whether card payments go to Stripe.
    pub fn stripe_enabled(&self) -> bool {
        self.stripe.is_some()
    }
}

/// Only whether Stripe is set up is shown.
impl std::fmt::Debug for OrdersConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrdersConfig")
            .field("platform_fee_bps", &self.platform_fee_bps)
            .field("checkout_ttl_secs", &self.checkout_ttl_secs)
            .field("public_url", &self.public_url)
            .field("test_payments", &self.test_payments)
            .field("stripe", &self.stripe.is_some())
            .field(
                "stripe_webhook_secret",
                &self.stripe_webhook_secret.as_ref().map(|_| "(hidden)"),
            )
            .finish()
    }
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            platform_fee_bps: 1000,
            checkout_ttl_secs: 1800,
            public_url: "http://localhost:8080".into(),
            test_payments: false,
            dies_before_relaying: false,
            stripe: None,
            stripe_webhook_secret: None,
        }
    }
}
