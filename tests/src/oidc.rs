//! A local stand-in for Google's OpenID provider, speaking the real protocol:
//! a discovery document, an authorization endpoint (the "user" consents at
//! once), a token endpoint that checks the client secret and PKCE, and a JWKS
//! with the key that signs real id_tokens. Only the issuer URL differs from
//! production.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePublicKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "bazaar-test-client";
pub const CLIENT_SECRET: &str = "bazaar-test-secret";

/// The Google account the stand-in signs people in as.
#[derive(Debug, Clone)]
pub struct GoogleUser {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    user: GoogleUser,
}

struct Inner {
    issuer: String,
    key: EncodingKey,
    jwk: serde_json::Value,
    user: Mutex<GoogleUser>,
    grants: Mutex<HashMap<String, Grant>>,
    /// Nonce to put in id_tokens instead of the real one (to test refusal).
    wrong_nonce: Mutex<bool>,
}

#[derive(Clone)]
pub struct OidcProvider {
    inner: Arc<Inner>,
}

impl OidcProvider {
    pub async fn start(user: GoogleUser) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let (private, public) = bazaar_runtime::tokens::generate_key_pair().expect("keys");
        let verifying =
            ed25519_dalek::VerifyingKey::from_public_key_pem(&public).expect("public key");
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "test-key-1",
            "x": URL_SAFE_NO_PAD.encode(verifying.to_bytes()),
        });
        let provider = Self {
            inner: Arc::new(Inner {
                issuer,
                key: EncodingKey::from_ed_pem(private.as_bytes()).expect("signing key"),
                jwk,
                user: Mutex::new(user),
                grants: Mutex::new(HashMap::new()),
                wrong_nonce: Mutex::new(false),
            }),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(provider.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        provider
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn set_user(&self, user: GoogleUser) {
        *self.inner.user.lock().expect("lock") = user;
    }

    pub fn sign_wrong_nonce(&self, on: bool) {
        *self.inner.wrong_nonce.lock().expect("lock") = on;
    }

    /// Auth-node settings that use this provider.
    pub fn google_config(&self) -> bazaar_auth::GoogleConfig {
        bazaar_auth::GoogleConfig {
            google_client_id: Some(CLIENT_ID.into()),
            google_client_secret: Some(CLIENT_SECRET.into()),
            google_issuer: self.issuer().to_owned(),
        }
    }
}

async fn discovery(State(p): State<OidcProvider>) -> Json<serde_json::Value> {
    let i = &p.inner.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn authorize(
    State(p): State<OidcProvider>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID
        || get("response_type") != "code"
        || get("code_challenge_method") != "S256"
    {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "bad authorization request",
        )
            .into_response();
    }
    let code = format!("code-{}", uuid::Uuid::new_v4());
    let user = p.inner.user.lock().expect("lock").clone();
    p.inner.grants.lock().expect("lock").insert(
        code.clone(),
        Grant {
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
            user,
        },
    );
    let mut back = url::Url::parse(&get("redirect_uri")).expect("redirect uri");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    Redirect::to(back.as_str()).into_response()
}

async fn token(State(p): State<OidcProvider>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let bad = |why: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant", "error_description": why })),
        )
            .into_response()
    };
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return bad("client");
    }
    let Some(grant) = p.inner.grants.lock().expect("lock").remove(&get("code")) else {
        return bad("code");
    };
    if URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes())) != grant.challenge {
        return bad("pkce");
    }
    if get("redirect_uri") != grant.redirect_uri {
        return bad("redirect_uri");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let nonce = if *p.inner.wrong_nonce.lock().expect("lock") {
        "not-yours".to_owned()
    } else {
        grant.nonce
    };
    let claims = json!({
        "iss": p.inner.issuer, "aud": CLIENT_ID, "sub": grant.user.sub, "email": grant.user.email,
        "email_verified": grant.user.email_verified, "name": grant.user.name, "nonce": nonce,
        "iat": now, "exp": now + 600,
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("test-key-1".into());
    let id_token = jsonwebtoken::encode(&header, &claims, &p.inner.key).expect("sign");
    Json(json!({ "access_token": "opaque", "token_type": "Bearer", "expires_in": 3600, "id_token": id_token })).into_response()
}

async fn jwks(State(p): State<OidcProvider>) -> Json<serde_json::Value> {
    Json(json!({ "keys": [p.inner.jwk] }))
}
