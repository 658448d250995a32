//! The ids an edge makes for every request: request ids (UUID v7) and
//! visitor cookies. Their random bits come from the thread's own generator
//! (`rand`'s ChaCha, seeded from the OS), because `uuid` asks the kernel
//! for every id it makes: a system call or two per request, which showed
//! in profiles of pages the edge keeps.

use std::time::{SystemTime, UNIX_EPOCH};

use uuid::{Builder, Uuid};

/// A UUID v7: the time in milliseconds, then random bits.
pub(crate) fn uuid_v7() -> Uuid {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Builder::from_unix_timestamp_millis(millis, &rand::random()).into_uuid()
}

/// 128 random bits as 32 lowercase hex digits.
pub(crate) fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_hex_and_never_repeat() {
        let (a, b) = (uuid_v7(), uuid_v7());
        assert_eq!(a.get_version_num(), 7);
        assert_ne!(a, b);
        assert!(a.get_timestamp().is_some());
        let v = random_hex();
        assert_eq!(v.len(), 32);
        assert!(v.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(v, random_hex());
    }
}
