//! "Sign in with Google": the OpenID Connect authorization-code flow with
//! PKCE, state and nonce. The id_token is verified against the provider's
//! published keys (JWKS), issuer, audience, expiry and our nonce. The issuer
//! is configurable, so tests run the same code against a local provider.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuthError;

/// Google sign-in settings; disabled unless a client id and secret are set.
#[derive(Clone, Default, clap::Args)]
pub struct GoogleConfig {
    /// OAuth client id from the Google Cloud console.
    #[arg(long, env = "BAZAAR_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    /// OAuth client secret.
    #[arg(long, env = "BAZAAR_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<String>,
    /// The OpenID provider (its discovery document lives under it).
    #[arg(
        long,
        env = "BAZAAR_GOOGLE_ISSUER",
        default_value = "https://accounts.google.com"
    )]
    pub google_issuer: String,
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("client_id", &self.google_client_id)
            .field("issuer", &self.google_issuer)
            .finish_non_exhaustive()
    }
}

/// What the provider's discovery document tells us.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// What we remember between sending the browser away and its return.
#[derive(Serialize, Deserialize)]
struct Pending {
    nonce: String,
    verifier: String,
    redirect_uri: String,
}

#[derive(Deserialize)]
struct TokenReply {
    id_token: String,
}

/// The id_token claims we use.
#[derive(Debug, Deserialize)]
pub struct Identity {
    pub sub: String,
    pub email: String,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

#[derive(Clone)]
pub struct Google {
    client_id: String,
    client_secret: String,
    issuer: String,
    http: reqwest::Client,
    pending: kv::Store,
}

fn random(bytes: usize) -> Result<String, AuthError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

fn http_err(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(format!("google sign-in: {e}"))
}

impl Google {
    /// `None` when Google sign-in is not configured.
    pub async fn open(
        config: &GoogleConfig,
        js: &jetstream::Context,
    ) -> Result<Option<Self>, bazaar_runtime::NodeError> {
        let (Some(id), Some(secret)) = (&config.google_client_id, &config.google_client_secret)
        else {
            return Ok(None);
        };
        let pending = bazaar_runtime::jetstream::ensure_kv(
            js,
            bazaar_subjects::auth::OIDC_PENDING_BUCKET,
            Duration::from_secs(600),
        )
        .await?;
        Ok(Some(Self {
            client_id: id.clone(),
            client_secret: secret.clone(),
            issuer: config.google_issuer.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| bazaar_runtime::NodeError::JetStream(e.to_string()))?,
            pending,
        }))
    }

    async fn discovery(&self) -> Result<Discovery, AuthError> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        self.http
            .get(url)
            .send()
            .await
            .map_err(http_err)?
            .error_for_status()
            .map_err(http_err)?
            .json()
            .await
            .map_err(http_err)
    }

    /// The URL to send the browser to, and the state to bind to it.
    pub async fn start(&self, redirect_uri: &str) -> Result<(String, String), AuthError> {
        let d = self.discovery().await?;
        let state = random(24)?;
        let pending = Pending {
            nonce: random(24)?,
            verifier: random(48)?,
            redirect_uri: redirect_uri.to_owned(),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
        let mut url = url::Url::parse(&d.authorization_endpoint).map_err(http_err)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email profile")
            .append_pair("state", &state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let bytes = serde_json::to_vec(&pending).map_err(http_err)?;
        self.pending
            .put(&state, bytes.into())
            .await
            .map_err(http_err)?;
        Ok((url.to_string(), state))
    }

    /// Exchanges the code and returns the verified identity. The state is
    /// used once: a replayed callback finds nothing.
    pub async fn finish(&self, code: &str, state: &str) -> Result<Identity, AuthError> {
        let refused =
            || AuthError::Google("the sign-in took too long or was already used; try again".into());
        if state.is_empty()
            || !state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(refused());
        }
        let entry = self
            .pending
            .entry(state)
            .await
            .map_err(http_err)?
            .ok_or_else(refused)?;
        if entry.operation != kv::Operation::Put
            || self
                .pending
                .delete_expect_revision(state, Some(entry.revision))
                .await
                .is_err()
        {
            return Err(refused());
        }
        let pending: Pending = serde_json::from_slice(&entry.value).map_err(http_err)?;
        let d = self.discovery().await?;
        let reply = self
            .http
            .post(&d.token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &pending.redirect_uri),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("code_verifier", &pending.verifier),
            ])
            .send()
            .await
            .map_err(http_err)?;
        if !reply.status().is_success() {
            return Err(AuthError::Google(
                "Google did not accept the sign-in; try again".into(),
            ));
        }
        let tokens: TokenReply = reply.json().await.map_err(http_err)?;
        let identity = self.verify(&d, &tokens.id_token).await?;
        if identity.nonce.as_deref() != Some(pending.nonce.as_str()) {
            return Err(AuthError::Google(
                "the sign-in answer was not for this request".into(),
            ));
        }
        if !identity.email_verified {
            return Err(AuthError::Google(
                "your Google email address is not verified".into(),
            ));
        }
        Ok(identity)
    }

    async fn verify(&self, d: &Discovery, id_token: &str) -> Result<Identity, AuthError> {
        let bad = |why: &str| {
            AuthError::Google(format!("the sign-in answer could not be verified ({why})"))
        };
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| bad("header"))?;
        let keys: JwkSet = self
            .http
            .get(&d.jwks_uri)
            .send()
            .await
            .map_err(http_err)?
            .json()
            .await
            .map_err(http_err)?;
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            None => keys.keys.first(),
        }
        .ok_or_else(|| bad("unknown key"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| bad("key"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[d.issuer.as_str()]);
        validation.set_audience(&[self.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Identity>(id_token, &key, &validation)
            .map(|t| t.claims)
            .map_err(|e| {
                tracing::info!(reason = %e, "id_token refused");
                bad("signature or claims")
            })
    }
}
