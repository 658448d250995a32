//! Unique visitors: a HyperLogLog++ sketch (the `hyperloglogplus` crate)
//! per shop and day, stored as JSON.
//!
//! A visitor id is hashed with SHA-256 here and its first 64 bits go into
//! the sketch as they are (the sketch's hasher passes a `u64` through), so
//! a stored sketch reads the same in every build. Inserting a visitor twice
//! changes nothing, so a sketch needs no guard against redelivered events;
//! sketches of several days merge into the range's distinct count.

use std::hash::{BuildHasher, Hasher};

use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// 2^12 registers: about 1.6 % standard error, a few KiB when dense.
const PRECISION: u8 = 12;

/// Builds hashers that take a `u64` as its own hash.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct PassThrough;

#[derive(Debug, Default)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher::default()
    }
}

/// The distinct visitors of one shop on one day (or merged, of a range).
#[derive(Clone, Serialize, Deserialize)]
pub struct Visitors(HyperLogLogPlus<u64, PassThrough>);

impl Default for Visitors {
    fn default() -> Self {
        Self::new()
    }
}

impl Visitors {
    pub fn new() -> Self {
        #[allow(clippy::expect_used)]
        let sketch = HyperLogLogPlus::new(PRECISION, PassThrough)
            .expect("12 is a precision HyperLogLog++ takes");
        Self(sketch)
    }

    /// A stored sketch; an unreadable one counts as empty.
    pub fn from_json(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn insert(&mut self, visitor: &str) {
        let digest = Sha256::digest(visitor.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        self.0.insert(&u64::from_le_bytes(first));
    }

    pub fn merge(&mut self, other: &Visitors) {
        // Both sides have the same precision and hasher, which is all a
        // merge checks.
        let _ = self.0.merge(&other.0);
    }

    pub fn count(&mut self) -> i64 {
        self.0.count().round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_visitors_and_survives_json() {
        let mut v = Visitors::new();
        for i in 0..1000 {
            v.insert(&format!("visitor-{}", i % 250));
        }
        assert_eq!(v.count(), 250);
        let mut back = Visitors::from_json(&v.to_json());
        assert_eq!(back.count(), 250);
        let mut other = Visitors::new();
        for i in 200..400 {
            other.insert(&format!("visitor-{i}"));
        }
        back.merge(&other);
        let merged = back.count();
        assert!((395..=405).contains(&merged), "{merged}");
    }
}
