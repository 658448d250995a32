//! Comparator implementations for key ordering.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::{InternalKey, InternalKeyKind, INTERNAL_KEY_SEQ_NUM_MAX, INTERNAL_KEY_TIMESTAMP_MAX};

/// A trait for comparing keys in a key-value store.
///
/// This trait defines methods for comparing keys, generating separator keys,
/// generating successor keys, and retrieving the name of the comparator.
pub trait Comparator: Send + Sync {
	/// Compares two keys `a` and `b`.
	fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;

	/// Generates a separator key between two keys `from` and `to`.
	///
	/// This method should return a key that is greater than or equal to `from`
	/// and less than `to`. It is used to optimize the storage layout by
	/// finding a midpoint key.
	fn separator(&self, from: &[u8], to: &[u8]) -> Vec<u8>;

	/// Generates the successor key of a given key.
	///
	/// This method should return a key that is lexicographically greater than
	/// the given key. It is used to find the next key in the key space.
	fn successor(&self, key: &[u8]) -> Vec<u8>;

	/// Retrieves the name of the comparator.
	fn name(&self) -> &str;
}

/// A bytewise comparator that compares keys lexicographically.
#[derive(Default, Clone, Copy)]
pub struct BytewiseComparator {}

impl BytewiseComparator {}

impl Comparator for BytewiseComparator {
	#[inline]
	fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
		a.cmp(b)
	}

	#[inline]
	fn name(&self) -> &'static str {
		"leveldb.BytewiseComparator"
	}

	#[inline]
	/// Generates a separator key between two byte slices `a` (start) and `b`
	/// (limit).
	///
	/// 1. Find the common prefix
	/// 2. If one string is a prefix of the other, return unchanged
	/// 3. At first differing byte, try to increment and truncate
	/// 4. If that would exceed limit, scan forward for a non-0xFF byte to increment
	/// 5. If no shortening possible, return unchanged
	fn separator(&self, a: &[u8], b: &[u8]) -> Vec<u8> {
		let min_length = std::cmp::min(a.len(), b.len());
		let mut diff_index = 0;

		// Find length of common prefix
		while diff_index < min_length && a[diff_index] == b[diff_index] {
			diff_index += 1;
		}

		if diff_index >= min_length {
			// Do not shorten if one string is a prefix of the other
			return a.to_vec();
		}

		let start_byte = a[diff_index];
		let limit_byte = b[diff_index];

		if start_byte >= limit_byte {
			// Cannot shorten since limit is smaller than start or start is
			// already the shortest possible.
			return a.to_vec();
		}

		// start_byte < limit_byte
		if diff_index < b.len() - 1 || start_byte + 1 < limit_byte {
			// Safe to increment and truncate
			let mut result = Vec::from(&a[..=diff_index]);
			result[diff_index] += 1;
			debug_assert!(self.compare(&result, b) == Ordering::Less);
			return result;
		}

		// Incrementing the current byte would make start >= limit.
		// Skip this byte and find the first non-0xFF byte in start to increment.
		diff_index += 1;

		while diff_index < a.len() {
			if a[diff_index] < 0xff {
				let mut result = Vec::from(&a[..=diff_index]);
				result[diff_index] += 1;
				debug_assert!(self.compare(&result, b) == Ordering::Less);
				return result;
			}
			diff_index += 1;
		}

		// Could not shorten, return original
		a.to_vec()
	}

	#[inline]
	/// Generates the successor key of a given byte slice `key`.
	///
	/// Find the first non-0xFF byte, increment it, and truncate.
	/// If all bytes are 0xFF, leave it unchanged.
	fn successor(&self, key: &[u8]) -> Vec<u8> {
		let mut result = key.to_vec();
		for i in 0..key.len() {
			if key[i] != 0xff {
				result[i] += 1;
				result.resize(i + 1, 0);
				return result;
			}
		}
		// All bytes are 0xFF - leave unchanged
		result
	}
}

#[derive(Clone)]
pub struct InternalKeyComparator {
	user_comparator: Arc<dyn Comparator>,
}

impl InternalKeyComparator {
	pub fn new(user_comparator: Arc<dyn Comparator>) -> Self {
		Self {
			user_comparator,
		}
	}
}

impl Comparator for InternalKeyComparator {
	fn name(&self) -> &'static str {
		"surrealkv.InternalKeyComparator"
	}

	fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
		let user_key_a = InternalKey::user_key_from_encoded(a);
		let user_key_b = InternalKey::user_key_from_encoded(b);

		match self.user_comparator.compare(user_key_a, user_key_b) {
			Ordering::Equal => {
				// Compare seq_num in descending order (higher = more recent)
				let seq_a = InternalKey::seq_num_from_encoded(a);
				let seq_b = InternalKey::seq_num_from_encoded(b);
				seq_b.cmp(&seq_a)
			}
			ord => ord,
		}
	}

	/// Generates a separator key between two internal keys.
	///
	/// 1. Extract user keys and compute a separator
	/// 2. If separator is same length or shorter AND logically larger, use max seq_num
	/// 3. Otherwise return the original key unchanged
	fn separator(&self, a: &[u8], b: &[u8]) -> Vec<u8> {
		if a == b {
			return a.to_vec();
		}

		// Decode keys using InternalKey
		let key_a = InternalKey::decode(a);
		let key_b = InternalKey::decode(b);

		// If user keys are different, compute a separator for user keys
		if self.user_comparator.compare(key_a.user_key.as_ref(), key_b.user_key.as_ref())
			!= Ordering::Equal
		{
			let sep =
				self.user_comparator.separator(key_a.user_key.as_ref(), key_b.user_key.as_ref());

			// Use MAX_SEQUENCE_NUMBER when separator is same length or shorter AND
			// logically larger
			if sep.len() <= key_a.user_key.len()
				&& self.user_comparator.compare(key_a.user_key.as_ref(), &sep) == Ordering::Less
			{
				let result = InternalKey::new(
					sep,
					INTERNAL_KEY_SEQ_NUM_MAX,
					InternalKeyKind::Separator,
					INTERNAL_KEY_TIMESTAMP_MAX,
				);
				return result.encode();
			}
		}

		// Fallback: Return original key unchanged
		a.to_vec()
	}

	/// Generates a successor key for an internal key.
	fn successor(&self, key: &[u8]) -> Vec<u8> {
		let internal_key = InternalKey::decode(key);
		let user_key_succ = self.user_comparator.successor(internal_key.user_key.as_ref());

		// If successor is same length or shorter AND logically larger, use max seq_num
		if user_key_succ.len() <= internal_key.user_key.len()
			&& self.user_comparator.compare(internal_key.user_key.as_ref(), &user_key_succ)
				== Ordering::Less
		{
			let result = InternalKey::new(
				user_key_succ,
				INTERNAL_KEY_SEQ_NUM_MAX,
				InternalKeyKind::Separator,
				INTERNAL_KEY_TIMESTAMP_MAX,
			);
			return result.encode();
		}

		// Fallback: Return original key unchanged
		key.to_vec()
	}
}

/// A comparator that compares internal keys first by user key, then by
/// timestamp This is used for versioned queries where we want to order by user
/// key and timestamp
#[derive(Clone)]
pub struct TimestampComparator {
	user_comparator: Arc<dyn Comparator>,
}

impl TimestampComparator {
	pub fn new(user_comparator: Arc<dyn Comparator>) -> Self {
		Self {
			user_comparator,
		}
	}
}

impl Comparator for TimestampComparator {
	fn name(&self) -> &'static str {
		"surrealkv.TimestampComparator"
	}

	fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
		// Decode internal keys using InternalKey
		let key_a = InternalKey::decode(a);
		let key_b = InternalKey::decode(b);
		// Use the timestamp-based comparison method
		key_a.cmp_by_timestamp(&key_b)
	}

	/// Generates a separator key between two internal keys.
	///
	/// 1. Extract user keys and compute a separator
	/// 2. If separator is same length or shorter AND logically larger, use max seq_num/timestamp
	/// 3. Otherwise return the original key unchanged
	fn separator(&self, a: &[u8], b: &[u8]) -> Vec<u8> {
		if a == b {
			return a.to_vec();
		}

		// Decode keys using InternalKey
		let key_a = InternalKey::decode(a);
		let key_b = InternalKey::decode(b);

		// If user keys are different, compute a separator for user keys
		if self.user_comparator.compare(key_a.user_key.as_ref(), key_b.user_key.as_ref())
			!= Ordering::Equal
		{
			let sep =
				self.user_comparator.separator(key_a.user_key.as_ref(), key_b.user_key.as_ref());

			// Use MAX_TIMESTAMP when separator is same length or shorter AND logically
			// larger
			if sep.len() <= key_a.user_key.len()
				&& self.user_comparator.compare(key_a.user_key.as_ref(), &sep) == Ordering::Less
			{
				let result = InternalKey::new(
					sep,
					INTERNAL_KEY_SEQ_NUM_MAX,
					InternalKeyKind::Separator,
					INTERNAL_KEY_TIMESTAMP_MAX,
				);
				return result.encode();
			}
		}

		// Fallback: Return original key unchanged
		a.to_vec()
	}

	/// Generates a successor key for an internal key.
	fn successor(&self, key: &[u8]) -> Vec<u8> {
		let internal_key = InternalKey::decode(key);
		let user_key_succ = self.user_comparator.successor(internal_key.user_key.as_ref());

		// If successor is same length or shorter AND logically larger, use max
		// seq_num/timestamp
		if user_key_succ.len() <= internal_key.user_key.len()
			&& self.user_comparator.compare(internal_key.user_key.as_ref(), &user_key_succ)
				== Ordering::Less
		{
			let result = InternalKey::new(
				user_key_succ,
				INTERNAL_KEY_SEQ_NUM_MAX,
				InternalKeyKind::Separator,
				INTERNAL_KEY_TIMESTAMP_MAX,
			);
			return result.encode();
		}

		// Fallback: Return original key unchanged
		key.to_vec()
	}
}
