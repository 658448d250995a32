//! Access tokens: Ed25519-signed JWTs. The auth node signs; every other node
//! verifies with the public key only.

use std::path::Path;

use bazaar_subjects::{ErrorEnvelope, Role};
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Who the token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    /// Who the account is when the token was signed: a node that only needs
    /// to address the caller (an order's confirmation email) reads it here
    /// instead of asking the auth node. Absent from tokens of older builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<TokenContact>,
}

/// The account's email and name, as signed into its access tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenContact {
    pub email: String,
    pub name: String,
}

const ISSUER: &str = "bazaar";
const AUDIENCE: &str = "bazaar";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path} is not an Ed25519 PEM key: {source}")]
    Parse {
        path: String,
        source: jsonwebtoken::errors::Error,
    },
    #[error("cannot generate a key: {0}")]
    Generate(String),
}

/// Verifies access tokens with the public key.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    /// Banned accounts, whose tokens are refused however valid they look
    /// (see [`crate::revocation`]).
    revoked: crate::revocation::Revocations,
    /// Tokens whose signature was checked, with their claims: one request
    /// passes its caller's token through several nodes, and checking an
    /// Ed25519 signature costs more than the rest of a small request.
    verified: std::sync::Arc<quick_cache::sync::Cache<String, Claims>>,
}

/// Tokens remembered as verified (about 1 KB each with their claims).
const VERIFIED_TOKENS: usize = 8_192;

impl TokenVerifier {
    pub fn from_pem(pem: &[u8]) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECS as u64;
        Ok(Self {
            key: DecodingKey::from_ed_pem(pem)?,
            validation,
            revoked: crate::revocation::Revocations::default(),
            verified: std::sync::Arc::new(quick_cache::sync::Cache::new(VERIFIED_TOKENS)),
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem).map_err(|source| KeyError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// The banned accounts this verifier refuses (kept current by
    /// [`crate::revocation::follow`]).
    pub fn revocations(&self) -> &crate::revocation::Revocations {
        &self.revoked
    }

    /// The claims of a valid token; any flaw (signature, expiry, issuer) is
    /// a 401, and so is the token of a banned account.
    pub fn verify(&self, token: &str) -> Result<Claims, ErrorEnvelope> {
        let claims = match self.verified.get(token) {
            // The same bytes carry the same valid signature; the time
            // passes, so expiry is checked on every use.
            Some(claims) if claims.exp + LEEWAY_SECS >= now_secs() => claims,
            _ => {
                let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
                    .map(|data| data.claims)
                    .map_err(|e| {
                        tracing::debug!(reason = %e, "access token refused");
                        ErrorEnvelope::unauthorized(
                            "your session is invalid or has expired; sign in again",
                        )
                    })?;
                self.verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        if self.revoked.is_banned(&claims.sub) {
            tracing::info!("access token of a banned account refused");
            return Err(ErrorEnvelope::unauthorized(
                "this account has been suspended; contact support",
            ));
        }
        Ok(claims)
    }
}

/// How late a token may still be used, for clocks a little apart.
const LEEWAY_SECS: i64 = 5;

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Signs access tokens with the private key (the auth node, and tests).
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    /// A secret only the holders of the private key know, for keyed hashes
    /// (see [`TokenSigner::derived_key`]).
    secret: [u8; 32],
}

impl TokenSigner {
    pub fn from_pem(pem: &[u8]) -> Result<Self, jsonwebtoken::errors::Error> {
        use sha2::Digest;
        let mut secret = sha2::Sha256::new();
        secret.update(b"bazaar derived secret\0");
        secret.update(pem);
        Ok(Self {
            key: EncodingKey::from_ed_pem(pem)?,
            secret: secret.finalize().into(),
        })
    }

    /// A 32-byte key for one `purpose` (e.g. hashing one-time codes), derived
    /// from the private key: every copy of the auth node derives the same
    /// one, and nobody without the private key can.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret)
            .expect("HMAC takes a key of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(&pem).map_err(|source| KeyError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// A token for `sub` with `role`, valid for `ttl_secs`.
    pub fn sign(
        &self,
        sub: &str,
        role: Role,
        ttl_secs: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign_with_contact(sub, role, None, ttl_secs)
    }

    /// A token for `sub` with `role` that also names the account (see
    /// [`Claims::contact`]), valid for `ttl_secs`.
    pub fn sign_with_contact(
        &self,
        sub: &str,
        role: Role,
        contact: Option<TokenContact>,
        ttl_secs: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.sign_claims(&Claims {
            sub: sub.to_owned(),
            role,
            iat: now,
            exp: now + ttl_secs,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            contact,
        })
    }

    pub fn sign_claims(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.key)
    }
}

/// A fresh Ed25519 key pair as (private PKCS#8 PEM, public SPKI PEM).
pub fn generate_key_pair() -> Result<(String, String), KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Generate(e.to_string()))?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let private = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let public = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok((private.to_string(), public))
}

/// Makes sure a key pair exists at the two paths, creating one (private key
/// readable by the owner only) when neither does. Used by one-box set-ups.
pub fn ensure_key_pair(private: &Path, public: &Path) -> Result<(), KeyError> {
    if private.exists() && public.exists() {
        return Ok(());
    }
    let (private_pem, public_pem) = generate_key_pair()?;
    for (path, pem, mode) in [(private, &private_pem, 0o600), (public, &public_pem, 0o644)] {
        let wrap = |source| KeyError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(wrap)?;
        }
        write_with_mode(path, pem.as_bytes(), mode).map_err(wrap)?;
    }
    Ok(())
}

#[cfg(unix)]
fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_with_mode(path: &Path, bytes: &[u8], _mode: u32) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TokenSigner, TokenVerifier) {
        let (private, public) = generate_key_pair().unwrap();
        (
            TokenSigner::from_pem(private.as_bytes()).unwrap(),
            TokenVerifier::from_pem(public.as_bytes()).unwrap(),
        )
    }

    #[test]
    fn a_signed_token_verifies_with_its_public_key() {
        let (signer, verifier) = pair();
        let token = signer.sign("user:1", Role::Seller, 60).unwrap();
        let claims = verifier.verify(&token).unwrap();
        assert_eq!(claims.sub, "user:1");
        assert_eq!(claims.role, Role::Seller);
    }

    #[test]
    fn a_token_names_its_account_when_signed_with_a_contact() {
        let (signer, verifier) = pair();
        let contact = TokenContact {
            email: "ada@example.com".into(),
            name: "Ada".into(),
        };
        let token = signer
            .sign_with_contact("user:1", Role::Buyer, Some(contact.clone()), 60)
            .unwrap();
        let caller = crate::Caller::holding(&verifier, Some(&token)).unwrap();
        assert_eq!(caller.contact(), Some(&contact));
        // A token without one (signed by an older build) still verifies.
        let bare = signer.sign("user:1", Role::Buyer, 60).unwrap();
        let caller = crate::Caller::holding(&verifier, Some(&bare)).unwrap();
        assert_eq!(
            (caller.account_id(), caller.contact()),
            (Some("user:1"), None)
        );
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_401() {
        let (signer, verifier) = pair();
        let (other, _) = pair();
        let token = signer.sign("user:1", Role::Buyer, 60).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // Claim to be an admin without re-signing.
        parts[1] = parts[1].replacen('e', "f", 1);
        let tampered = parts.join(".");
        let expired = signer.sign("user:1", Role::Buyer, -3600).unwrap();
        let foreign = other.sign("user:1", Role::Admin, 60).unwrap();
        for bad in [
            tampered.as_str(),
            expired.as_str(),
            foreign.as_str(),
            "garbage",
        ] {
            assert_eq!(verifier.verify(bad).unwrap_err().status, 401, "{bad}");
        }
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_ban_still_applies() {
        let (signer, verifier) = pair();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: "a1".into(),
            role: Role::Buyer,
            iat: now - 60,
            exp: now + 1,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            contact: None,
        };
        let token = signer.sign_claims(&claims).unwrap();
        assert_eq!(verifier.verify(&token).unwrap(), claims);
        // Remembered now: the second use skips the signature check.
        assert_eq!(verifier.verify(&token).unwrap(), claims);
        verifier
            .revocations()
            .set("a1", Some("2026-12-07T12:00:00Z".into()));
        assert_eq!(verifier.verify(&token).unwrap_err().status, 401);
        verifier.revocations().set("a1", None);
        // Past its expiry and the leeway, the remembered token is refused.
        std::thread::sleep(std::time::Duration::from_secs(
            (LEEWAY_SECS + 2).unsigned_abs(),
        ));
        assert_eq!(verifier.verify(&token).unwrap_err().status, 401);
    }

    #[test]
    fn a_banned_accounts_tokens_are_refused_until_the_ban_is_lifted() {
        let (signer, verifier) = pair();
        let token = signer.sign("a1", Role::Buyer, 60).unwrap();
        verifier
            .revocations()
            .set("a1", Some("2026-12-06T19:00:00Z".into()));
        assert_eq!(verifier.verify(&token).unwrap_err().status, 401);
        let other = signer.sign("a2", Role::Buyer, 60).unwrap();
        assert!(verifier.verify(&other).is_ok());
        verifier.revocations().set("a1", None);
        assert!(verifier.verify(&token).is_ok());
    }

    #[test]
    fn key_pairs_are_made_once_with_a_private_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("keys/k.pem");
        let public = dir.path().join("keys/k.pub.pem");
        ensure_key_pair(&private, &public).unwrap();
        let first = std::fs::read(&private).unwrap();
        ensure_key_pair(&private, &public).unwrap();
        assert_eq!(first, std::fs::read(&private).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        TokenVerifier::from_file(&public).unwrap();
        TokenSigner::from_file(&private).unwrap();
    }
}
