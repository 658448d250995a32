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
    /// Stripe secret API key (unset: no Stripe; card payments only through
    /// the test page in `bazaar dev`).
    #[arg(long, env = "BAZAAR_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    /// Stripe webhook signing secret (`whsec_…`).
    #[arg(
        id = "orders_stripe_webhook_secret",
        long = "orders-stripe-webhook-secret",
        env = "BAZAAR_STRIPE_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub stripe_webhook_secret: Option<String>,
    /// Where the Stripe API is reached (tests point it at a stand-in).
    #[arg(
        long,
        env = "BAZAAR_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
}

impl OrdersConfig {
    /// Whether card payments go to Stripe (a secret key is set).
    pub fn stripe_enabled(&self) -> bool {
        self.stripe_secret_key
            .as_deref()
            .is_some_and(|k| !k.is_empty())
    }
}

/// Secrets stay out of logs: only whether they are set is shown.
impl std::fmt::Debug for OrdersConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrdersConfig")
            .field("platform_fee_bps", &self.platform_fee_bps)
            .field("checkout_ttl_secs", &self.checkout_ttl_secs)
            .field("public_url", &self.public_url)
            .field("test_payments", &self.test_payments)
            .field(
                "stripe_secret_key",
                &self.stripe_secret_key.as_ref().map(|_| "(hidden)"),
            )
            .field(
                "stripe_webhook_secret",
                &self.stripe_webhook_secret.as_ref().map(|_| "(hidden)"),
            )
            .field("stripe_api_base", &self.stripe_api_base)
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
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: "https://api.stripe.com".into(),
        }
    }
}
