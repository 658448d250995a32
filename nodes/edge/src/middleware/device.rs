//! Device cookies: a client that has signed in to an account before gets
//! past that account's sign-in lockout (OWASP's "device cookies").
//!
//! Ten wrong passwords lock an account's sign-in for everyone for fifteen
//! minutes, which lets anyone lock a victim out. A successful sign-in
//! leaves a `bazaar_device` cookie bound to the account (its id and email)
//! and HMAC'd with a key derived from `BAZAAR_COOKIE_SECRET`; a sign-in
//! that presents one for the email it signs in to is counted against that
//! device's own limit instead of the account's shared one. The per-address
//! limits apply to everyone.

use axum::http::{HeaderMap, HeaderValue};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::extract::cookie_value;
use crate::state::EdgeState;

pub(crate) const DEVICE_COOKIE: &str = "bazaar_device";
/// How long a device is remembered after its last sign-in.
const DEVICE_COOKIE_DAYS: u64 = 365;

/// A device that signed in before, as its cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// A random id: one per browser.
    pub id: String,
    /// The account it signed in to.
    pub account: String,
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length")
}

fn normalized(email: &str) -> String {
    email.trim().to_lowercase()
}

fn tag(key: &[u8; 32], id: &str, account: &str, email: &str) -> Hmac<Sha256> {
    let mut mac = mac(key);
    for part in [id, account, &normalized(email)] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    mac
}

/// An id or account id as cookies carry them: short, and only characters
/// that need no quoting.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':')
}

/// The cookie's value for `device` signed in as `email`.
fn value(key: &[u8; 32], device: &Device, email: &str) -> String {
    let tag = tag(key, &device.id, &device.account, email).finalize();
    format!(
        "{}.{}.{}",
        device.id,
        device.account,
        hex::encode(tag.into_bytes())
    )
}

/// The device a cookie value names, when it was signed for `email`.
fn verify(key: &[u8; 32], raw: &str, email: &str) -> Option<Device> {
    let mut parts = raw.split('.');
    let (id, account, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_token(id) || !is_token(account) {
        return None;
    }
    let sig = hex::decode(sig).ok()?;
    tag(key, id, account, email).verify_slice(&sig).ok()?;
    Some(Device {
        id: id.to_owned(),
        account: account.to_owned(),
    })
}

/// The device the request's cookie proves has signed in as `email` before.
pub(crate) fn of_request(state: &EdgeState, headers: &HeaderMap, email: &str) -> Option<Device> {
    let raw = cookie_value(headers, DEVICE_COOKIE)?;
    verify(&state.inner.device_key, &raw, email)
}

/// The cookie that remembers this device for `account` (signed in as
/// `email`): the same device id when it had one for the account, else a
/// new one.
pub(crate) fn cookie(
    state: &EdgeState,
    known: Option<&Device>,
    account: &str,
    email: &str,
) -> HeaderValue {
    let device = match known {
        Some(d) if d.account == account => d.clone(),
        _ => Device {
            id: uuid::Uuid::new_v4().simple().to_string(),
            account: account.to_owned(),
        },
    };
    let secure = state.secure_attribute();
    let cookie = format!(
        "{DEVICE_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        value(&state.inner.device_key, &device, email),
        DEVICE_COOKIE_DAYS * 86_400
    );
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn device() -> Device {
        Device {
            id: "0123456789abcdef0123456789abcdef".into(),
            account: "0190-abc".into(),
        }
    }

    #[test]
    fn a_cookie_proves_its_device_for_its_email_only() {
        let v = value(&KEY, &device(), "Vera@Example.com ");
        assert_eq!(verify(&KEY, &v, "vera@example.com"), Some(device()));
        assert_eq!(verify(&KEY, &v, "mallory@example.com"), None);
        assert_eq!(verify(&[8; 32], &v, "vera@example.com"), None);
    }

    #[test]
    fn a_cookie_changed_in_any_part_proves_nothing() {
        let v = value(&KEY, &device(), "vera@example.com");
        let other_account = v.replacen("0190-abc", "0190-abd", 1);
        assert_eq!(verify(&KEY, &other_account, "vera@example.com"), None);
        for bad in ["", "a.b", "a.b.c.d", "a b.c.00", "x.y.zz"] {
            assert_eq!(verify(&KEY, bad, "vera@example.com"), None, "{bad:?}");
        }
    }
}
