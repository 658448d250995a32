//! What `bazaar retrain` publishes and the node loads: the ALS artifact plus
//! what the model alone does not know — co-purchase counts ("customers also
//! bought") and what each account already bought (never recommended back).
//!
//! ```text
//! magic "BZRREC\r\n" | format version u32 | CRC-32 of the rest u32
//! | ALS artifact length u64 | ALS artifact | extras (JSON)
//! ```
//!
//! All integers little-endian. Loading checks magic, version, checksum and
//! lengths, then the ALS artifact's own checks; anything wrong is a
//! [`BundleError`], never a panic.

use std::collections::{HashMap, HashSet};

use bazaar_recommender::{AlsModel, ArtifactError, Interaction, Kind};
use serde::{Deserialize, Serialize};

pub const MAGIC: [u8; 8] = *b"BZRREC\r\n";
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4 + 8;
/// Co-purchased products kept per product.
pub const ALSO_BOUGHT_PER_ITEM: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a recommender bundle (bad magic or too short)")]
    BadMagic,
    #[error("bundle format {0} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u32),
    #[error("bundle checksum mismatch")]
    ChecksumMismatch,
    #[error("bundle lengths do not add up")]
    LengthMismatch,
    #[error("the model inside the bundle: {0}")]
    Model(#[from] ArtifactError),
    #[error("the bundle's extras: {0}")]
    Extras(#[from] serde_json::Error),
}

/// Co-purchases and purchases, keyed by external ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// Per product, the products bought by the same accounts, most often first.
    pub also_bought: HashMap<String, Vec<(String, u32)>>,
    /// Per account, the products it bought.
    pub purchased: HashMap<String, Vec<String>>,
}

impl Extras {
    /// From purchase events: co-purchase counts count the accounts that
    /// bought both products.
    pub fn from_events(events: &[Interaction]) -> Self {
        let mut purchased: HashMap<String, HashSet<String>> = HashMap::new();
        for e in events.iter().filter(|e| e.kind == Kind::Purchase) {
            purchased
                .entry(e.user.clone())
                .or_default()
                .insert(e.item.clone());
        }
        Self::from_purchases(purchased)
    }

    /// From each account's set of bought products.
    pub fn from_purchases(purchased: HashMap<String, HashSet<String>>) -> Self {
        let mut pairs: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for items in purchased.values() {
            for a in items {
                for b in items.iter().filter(|b| *b != a) {
                    *pairs
                        .entry(a.clone())
                        .or_default()
                        .entry(b.clone())
                        .or_default() += 1;
                }
            }
        }
        let also_bought = pairs
            .into_iter()
            .map(|(item, counts)| {
                let mut list: Vec<(String, u32)> = counts.into_iter().collect();
                list.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
                list.truncate(ALSO_BOUGHT_PER_ITEM);
                (item, list)
            })
            .collect();
        let purchased = purchased
            .into_iter()
            .map(|(user, items)| {
                let mut items: Vec<String> = items.into_iter().collect();
                items.sort();
                (user, items)
            })
            .collect();
        Self {
            also_bought,
            purchased,
        }
    }
}

/// A loaded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub model: AlsModel,
    pub extras: Extras,
}

impl Bundle {
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(&self.model.to_bytes(), &self.extras)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
            return Err(BundleError::BadMagic);
        }
        let version =
            u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| BundleError::BadMagic)?);
        if version != FORMAT_VERSION {
            return Err(BundleError::UnsupportedVersion(version));
        }
        let crc = u32::from_le_bytes(
            bytes[12..16]
                .try_into()
                .map_err(|_| BundleError::BadMagic)?,
        );
        if crc32fast::hash(&bytes[16..]) != crc {
            return Err(BundleError::ChecksumMismatch);
        }
        let als_len = u64::from_le_bytes(
            bytes[16..24]
                .try_into()
                .map_err(|_| BundleError::LengthMismatch)?,
        );
        let als_end = usize::try_from(als_len)
            .ok()
            .and_then(|n| HEADER_LEN.checked_add(n))
            .filter(|end| *end <= bytes.len())
            .ok_or(BundleError::LengthMismatch)?;
        let model = AlsModel::from_bytes(&bytes[HEADER_LEN..als_end])?;
        let extras = serde_json::from_slice(&bytes[als_end..])?;
        Ok(Self { model, extras })
    }
}

/// Wraps an ALS artifact and the extras into a bundle's bytes.
pub fn encode(als: &[u8], extras: &Extras) -> Vec<u8> {
    let extras = serde_json::to_vec(extras).unwrap_or_else(|_| b"{}".to_vec());
    let mut rest = Vec::with_capacity(8 + als.len() + extras.len());
    rest.extend_from_slice(&(als.len() as u64).to_le_bytes());
    rest.extend_from_slice(als);
    rest.extend_from_slice(&extras);
    let mut out = Vec::with_capacity(16 + rest.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&rest).to_le_bytes());
    out.extend_from_slice(&rest);
    out
}
