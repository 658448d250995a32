//! The model as bytes, for the object store: a fixed header (magic, format
//! version, CRC-32 of the body, body length) then a little-endian body
//! (metadata, ids, factors, popularity counts). Loading checks all of it and
//! answers a typed [`ArtifactError`] for anything wrong; it never panics on
//! bad bytes and never allocates more than the bytes it was given.

use linfa::ParamGuard;
use ndarray::Array2;

use crate::interactions::IdMap;
use crate::{AlsModel, AlsParams, ArtifactError, ModelMetadata, Popularity};

/// The first eight bytes of every artifact.
pub const MAGIC: [u8; 8] = *b"BZRALS\r\n";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Magic, version, checksum, body length.
pub const HEADER_LEN: usize = 8 + 4 + 4 + 8;

impl AlsModel {
    /// The artifact format version this build writes.
    pub const FORMAT_VERSION: u32 = FORMAT_VERSION;

    /// Serialises the model (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let m = &self.metadata;
        let p = &m.params;
        let f = p.factors;
        let mut body = Vec::with_capacity(
            64 + 4 * (self.users.len() + self.items.len()) * (f + 3)
                + self
                    .users
                    .ids()
                    .iter()
                    .chain(self.items.ids())
                    .map(String::len)
                    .sum::<usize>(),
        );
        put_u32(&mut body, f as u32);
        body.extend(p.regularization.to_le_bytes());
        body.extend(p.alpha.to_le_bytes());
        put_u32(&mut body, p.iterations as u32);
        put_u32(&mut body, p.cg_steps as u32);
        body.extend(p.seed.to_le_bytes());
        put_u64(&mut body, m.users as u64);
        put_u64(&mut body, m.items as u64);
        put_u64(&mut body, m.interactions as u64);
        body.extend(m.trained_at.to_le_bytes());
        for ids in [self.users.ids(), self.items.ids()] {
            put_u64(&mut body, ids.len() as u64);
            for id in ids {
                put_u32(&mut body, id.len() as u32);
                body.extend(id.as_bytes());
            }
        }
        for v in self.user_factors.iter().chain(self.item_factors.iter()) {
            body.extend(v.to_le_bytes());
        }
        for &c in &self.popularity.counts {
            put_u32(&mut body, c);
        }

        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend(MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        put_u32(&mut out, crc32fast::hash(&body));
        put_u64(&mut out, body.len() as u64);
        out.extend(body);
        out
    }

    /// Loads a model written by [`AlsModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArtifactError> {
        if bytes.len() < HEADER_LEN {
            // A short prefix of something else is still "not ours".
            if !MAGIC.starts_with(&bytes[..bytes.len().min(MAGIC.len())]) {
                return Err(ArtifactError::BadMagic);
            }
            return Err(ArtifactError::TooShort {
                len: bytes.len(),
                header: HEADER_LEN,
            });
        }
        let mut header = Reader::new(&bytes[..HEADER_LEN]);
        if header.take(8)? != MAGIC {
            return Err(ArtifactError::BadMagic);
        }
        let version = header.u32()?;
        if version != FORMAT_VERSION {
            return Err(ArtifactError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let checksum = header.u32()?;
        let len = header.u64()?;
        let body = &bytes[HEADER_LEN..];
        if body.len() as u64 != len {
            return Err(ArtifactError::LengthMismatch {
                expected: len,
                found: body.len() as u64,
            });
        }
        let found = crc32fast::hash(body);
        if found != checksum {
            return Err(ArtifactError::ChecksumMismatch {
                expected: checksum,
                found,
            });
        }
        read_body(body)
    }
}

fn read_body(body: &[u8]) -> Result<AlsModel, ArtifactError> {
    let mut r = Reader::new(body);
    let factors = r.u32()? as usize;
    let params = AlsParams::new()
        .factors(factors)
        .regularization(r.f32()?)
        .alpha(r.f32()?)
        .iterations(r.u32()? as usize)
        .cg_steps(r.u32()? as usize)
        .seed(r.u64()?)
        .check()
        .map_err(|_| ArtifactError::Malformed("invalid hyperparameters"))?;
    let users = r.len()?;
    let items = r.len()?;
    let interactions = r.len()?;
    let trained_at = r.u64()? as i64;
    let user_ids = r.ids()?;
    let item_ids = r.ids()?;
    if user_ids.len() != users || item_ids.len() != items {
        return Err(ArtifactError::Malformed(
            "id counts do not match the metadata",
        ));
    }
    let user_factors = r.matrix(users, factors)?;
    let item_factors = r.matrix(items, factors)?;
    let counts = (0..items).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
    if !r.is_done() {
        return Err(ArtifactError::Malformed("trailing bytes after the model"));
    }
    let (users_map, items_map) = (IdMap::from_ids(user_ids), IdMap::from_ids(item_ids));
    if users_map.len() != users || items_map.len() != items {
        return Err(ArtifactError::Malformed("duplicate ids"));
    }
    let metadata = ModelMetadata {
        params,
        users,
        items,
        interactions,
        trained_at,
    };
    let popularity = Popularity::from_counts(items_map.clone(), counts);
    AlsModel::from_parts(
        users_map,
        items_map,
        user_factors,
        item_factors,
        popularity,
        metadata,
    )
    .map_err(ArtifactError::Malformed)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend(v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend(v.to_le_bytes());
}

/// Bounds-checked little-endian reads.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        if n > self.buf.len() {
            return Err(ArtifactError::Malformed("body ends early"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ArtifactError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, ArtifactError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, ArtifactError> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32(&mut self) -> Result<f32, ArtifactError> {
        self.array().map(f32::from_le_bytes)
    }

    /// A count, refused if it could not fit in the bytes left (each counted
    /// thing takes at least 4 bytes), so corrupt counts never allocate.
    fn len(&mut self) -> Result<usize, ArtifactError> {
        let n = self.u64()?;
        if n > (self.buf.len() / 4) as u64 {
            return Err(ArtifactError::Malformed("count larger than the artifact"));
        }
        Ok(n as usize)
    }

    fn ids(&mut self) -> Result<Vec<String>, ArtifactError> {
        let n = self.len()?;
        (0..n)
            .map(|_| {
                let len = self.u32()? as usize;
                let bytes = self.take(len)?;
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| ArtifactError::Malformed("an id is not UTF-8"))
            })
            .collect()
    }

    fn matrix(&mut self, rows: usize, cols: usize) -> Result<Array2<f32>, ArtifactError> {
        let n = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(4))
            .ok_or(ArtifactError::Malformed("factor matrix too large"))?;
        let bytes = self.take(n)?;
        let data = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Array2::from_shape_vec((rows, cols), data)
            .map_err(|_| ArtifactError::Malformed("factor matrix shape"))
    }

    fn is_done(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use linfa::prelude::*;

    use super::*;
    use crate::{Interactions, RecommenderError};

    fn model() -> AlsModel {
        let data =
            Interactions::from_csv("a,x,1\nb,x,9\nc,x,1\na,y,5\nb,y,1\na,z,30\nc,é,2\n".as_bytes())
                .expect("csv");
        AlsParams::new()
            .factors(4)
            .iterations(3)
            .fit(&DatasetBase::new(data, ()))
            .expect("fit")
    }

    #[test]
    fn round_trip_gives_the_same_model() {
        let model = model();
        let back = AlsModel::from_bytes(&model.to_bytes()).expect("load");
        assert_eq!(back, model);
        assert_eq!(back.version(), model.version());
        let none = HashSet::<String>::new();
        assert_eq!(
            back.recommend("a", 3, &none),
            model.recommend("a", 3, &none)
        );
        assert_eq!(back.similar_items("x", 2), model.similar_items("x", 2));
        assert_eq!(back.popularity().count("x"), 3);
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = model().to_bytes();
        for len in 0..bytes.len() {
            let err = AlsModel::from_bytes(&bytes[..len]).expect_err("truncated");
            assert!(
                matches!(
                    err,
                    ArtifactError::TooShort { .. } | ArtifactError::LengthMismatch { .. }
                ),
                "{len}: {err}"
            );
        }
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let bytes = model().to_bytes();
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(
                AlsModel::from_bytes(&bad).is_err(),
                "flip at {at} was accepted"
            );
        }
    }

    #[test]
    fn other_versions_and_other_files_are_refused() {
        let mut bytes = model().to_bytes();
        bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            AlsModel::from_bytes(&bytes),
            Err(ArtifactError::UnsupportedVersion {
                found: 2,
                supported: FORMAT_VERSION
            })
        );
        assert_eq!(
            AlsModel::from_bytes(b"{\"json\": true}"),
            Err(ArtifactError::BadMagic)
        );
        assert_eq!(
            AlsModel::from_bytes(b""),
            Err(ArtifactError::TooShort {
                len: 0,
                header: HEADER_LEN
            })
        );
        let err: RecommenderError = ArtifactError::BadMagic.into();
        assert!(
            err.to_string()
                .contains("not a Bazaar recommender artifact")
        );
    }

    #[test]
    fn a_consistent_but_nonsensical_body_is_malformed() {
        // A valid header around a body that lies about its counts.
        let body = 7u32.to_le_bytes();
        let mut bytes = MAGIC.to_vec();
        bytes.extend(FORMAT_VERSION.to_le_bytes());
        bytes.extend(crc32fast::hash(&body).to_le_bytes());
        bytes.extend((body.len() as u64).to_le_bytes());
        bytes.extend(body);
        assert!(matches!(
            AlsModel::from_bytes(&bytes),
            Err(ArtifactError::Malformed(_))
        ));
    }
}
