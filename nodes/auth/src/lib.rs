//! The auth node: accounts, one-time codes, sessions, profiles and addresses.
//!
//! Sign-up codes and reset codes live hashed in JetStream KV with a 5-minute
//! lifetime; accounts, refresh tokens and addresses live in SurrealDB. Access
//! tokens are Ed25519 JWTs signed here with the private key; every other node
//! verifies them with the public key only.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod codes;
mod console;
mod error;
mod google;
mod passwords;
mod service;
mod validate;

pub use error::AuthError;
pub use google::GoogleConfig;
pub use service::{AuthService, create_admin};

use std::path::PathBuf;

use bazaar_runtime::{Node, NodeContext, NodeError, Shutdown, TokenSigner};
use bazaar_schema::Db;
use bazaar_subjects::Domain;
use bazaar_subjects::auth::*;

/// The auth node's own settings.
#[derive(Clone, clap::Args)]
pub struct AuthConfig {
    /// Ed25519 private key (PKCS#8 PEM) that signs access tokens.
    /// Defaults to keys/jwt-ed25519.pem under the data dir.
    #[arg(long, env = "BAZAAR_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,

    /// A signer handed in directly (tests, embedding); wins over the file.
    #[arg(skip)]
    pub signer: Option<TokenSigner>,

    #[command(flatten)]
    pub google: GoogleConfig,

    /// The longest a session lives however often it is refreshed, in
    /// seconds (its refresh tokens rotate within it).
    #[arg(long, env = "BAZAAR_SESSION_MAX_AGE_SECS", default_value_t = SESSION_MAX_AGE_SECS)]
    pub session_max_age_secs: u64,
}

/// Thirty days.
pub const SESSION_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_private_key_file: None,
            signer: None,
            google: GoogleConfig::default(),
            session_max_age_secs: SESSION_MAX_AGE_SECS,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_private_key_file", &self.jwt_private_key_file)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    fn signer(&self, ctx: &NodeContext) -> Result<TokenSigner, NodeError> {
        if let Some(s) = &self.signer {
            return Ok(s.clone());
        }
        let path = self
            .jwt_private_key_file
            .clone()
            .unwrap_or_else(|| ctx.data_dir.join("keys").join("jwt-ed25519.pem"));
        Ok(TokenSigner::from_file(&path)?)
    }
}

/// Serves the auth domain until `shutdown`.
pub async fn run(
    ctx: NodeContext,
    db: Db,
    config: AuthConfig,
    shutdown: Shutdown,
) -> Result<(), NodeError> {
    let svc = AuthService::open(&ctx, db, config.signer(&ctx)?, &config.google)
        .await?
        .with_session_max_age(config.session_max_age_secs);
    svc.reconcile_bans()
        .await
        .map_err(|e| NodeError::JetStream(format!("putting the bans in their bucket: {e}")))?;
    Node::new(
        ctx,
        Domain::Auth,
        "accounts, codes, sessions, profiles and addresses",
    )
    .with_state(svc)
    .serve::<StartRegistration>(AuthService::start_registration)
    .serve::<VerifyRegistration>(AuthService::verify_registration)
    .serve::<ResendCode>(AuthService::resend_code)
    .serve::<Login>(AuthService::login)
    .serve::<Refresh>(AuthService::refresh)
    .serve::<Logout>(AuthService::logout)
    .serve::<ForgotPassword>(AuthService::forgot_password)
    .serve::<ResetPassword>(AuthService::reset_password)
    .serve::<ChangePassword>(AuthService::change_password)
    .serve::<GetMe>(AuthService::me)
    .serve::<GetContact>(AuthService::contact)
    .serve::<UpdateMe>(AuthService::update_me)
    .serve::<ListAddresses>(AuthService::list_addresses)
    .serve::<CreateAddress>(AuthService::create_address)
    .serve::<UpdateAddress>(AuthService::update_address)
    .serve::<DeleteAddress>(AuthService::delete_address)
    .serve::<AddAdmin>(AuthService::add_admin)
    .serve::<StartGoogleSignIn>(AuthService::start_google)
    .serve::<FinishGoogleSignIn>(AuthService::finish_google)
    .serve::<bazaar_subjects::console::SearchAccounts>(AuthService::search_accounts)
    .serve::<bazaar_subjects::console::GetAccount>(AuthService::get_account)
    .serve::<bazaar_subjects::console::BanAccount>(AuthService::ban_account)
    .serve::<bazaar_subjects::console::UnbanAccount>(AuthService::unban_account)
    .serve::<bazaar_subjects::console::PromoteAccount>(AuthService::promote_account)
    .run(shutdown)
    .await
}
