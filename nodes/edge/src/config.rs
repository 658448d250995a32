//! Edge settings, from flags or the environment.

/// How the edge listens and guards itself.
#[derive(Clone, clap::Args)]
pub struct EdgeConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "BAZAAR_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,

    /// The URL people reach this site at (links in emails, cookies).
    #[arg(
        long,
        env = "BAZAAR_PUBLIC_URL",
        default_value = "http://localhost:8080"
    )]
    pub public_url: String,

    /// Origins allowed to call the API from browsers (comma separated); empty: same origin only.
    #[arg(
        long,
        env = "BAZAAR_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_origins: Vec<String>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "BAZAAR_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Longest an HTTP request may take, in milliseconds.
    #[arg(long, env = "BAZAAR_HTTP_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_timeout_ms: u64,

    /// API requests per minute per client IP.
    #[arg(long, env = "BAZAAR_RATE_LIMIT_PER_MINUTE", default_value_t = 1200)]
    pub rate_limit_per_minute: u32,

    /// Sign-in, sign-up, code and reset requests per minute per client IP.
    #[arg(long, env = "BAZAAR_AUTH_RATE_LIMIT_PER_MINUTE", default_value_t = 30)]
    pub auth_rate_limit_per_minute: u32,

    /// Sign-in, sign-up, code and reset attempts per account (email) per 15 minutes.
    #[arg(
        long,
        env = "BAZAAR_ACCOUNT_RATE_LIMIT_PER_15MIN",
        default_value_t = 10
    )]
    pub account_rate_limit_per_15min: u32,

    /// Product pages an edge keeps in memory at most (the least used go
    /// first); 0 keeps none, so every page is read from the catalog node.
    #[arg(long, env = "BAZAAR_EDGE_KEPT_PAGES", default_value_t = 20_000)]
    pub kept_pages: usize,

    /// Take the client IP from the last X-Forwarded-For entry, the one your
    /// proxy appends (only behind a proxy you run).
    #[arg(long, env = "BAZAAR_TRUST_FORWARDED", default_value_t = false)]
    pub trust_forwarded: bool,

    /// Show "Sign in with Google" (on when the auth node has a Google client id).
    #[arg(skip = std::env::var_os("BAZAAR_GOOGLE_CLIENT_ID").is_some())]
    pub google_sign_in: bool,

    /// Signs guest cart cookies; every edge of a site needs the same one
    /// (unset: a random key per process, so guest carts last until restart).
    #[arg(long, env = "BAZAAR_COOKIE_SECRET", hide_env_values = true)]
    pub cookie_secret: Option<String>,

    /// Serve the built-in test payment page (one-box `bazaar dev` without
    /// a payment provider only).
    #[arg(skip)]
    pub test_payments: bool,

    /// Stripe webhook signing secret (`whsec_…`); unset: Stripe webhooks
    /// are refused.
    #[arg(long, env = "BAZAAR_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,
}

/// Secrets stay out of logs: only whether they are set is shown.
impl std::fmt::Debug for EdgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeConfig")
            .field("http_addr", &self.http_addr)
            .field("public_url", &self.public_url)
            .field("cors_origins", &self.cors_origins)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("http_timeout_ms", &self.http_timeout_ms)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field(
                "auth_rate_limit_per_minute",
                &self.auth_rate_limit_per_minute,
            )
            .field(
                "account_rate_limit_per_15min",
                &self.account_rate_limit_per_15min,
            )
            .field("kept_pages", &self.kept_pages)
            .field("trust_forwarded", &self.trust_forwarded)
            .field("google_sign_in", &self.google_sign_in)
            .field(
                "cookie_secret",
                &self.cookie_secret.as_ref().map(|_| "(hidden)"),
            )
            .field("test_payments", &self.test_payments)
            .field(
                "stripe_webhook_secret",
                &self.stripe_webhook_secret.as_ref().map(|_| "(hidden)"),
            )
            .finish()
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            http_addr: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            cors_origins: Vec::new(),
            body_limit_bytes: 1024 * 1024,
            http_timeout_ms: 30_000,
            rate_limit_per_minute: 1200,
            auth_rate_limit_per_minute: 30,
            account_rate_limit_per_15min: 10,
            kept_pages: 20_000,
            trust_forwarded: false,
            google_sign_in: std::env::var_os("BAZAAR_GOOGLE_CLIENT_ID").is_some(),
            cookie_secret: None,
            test_payments: false,
            stripe_webhook_secret: None,
        }
    }
}
