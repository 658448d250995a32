use crate::CompressionType;

/// CompressionSelector handles level-aware compression type selection.
#[derive(Debug, Clone)]
pub struct CompressionSelector {
	per_level_compression: Vec<CompressionType>,
}

impl CompressionSelector {
	/// Create a new CompressionSelector with per-level compression settings.
	pub fn new(per_level: Vec<CompressionType>) -> Self {
		Self {
			per_level_compression: per_level,
		}
	}

	/// Select compression type for a given level.
	///
	/// # Arguments
	/// * `level` - The level number (0 = L0, 1 = L1, etc.)
	///
	/// # Returns
	/// The compression type to use for the given level
	pub fn select_compression(&self, level: u8) -> CompressionType {
		if self.per_level_compression.is_empty() {
			return CompressionType::None;
		}

		let idx = level as usize;
		if idx < self.per_level_compression.len() {
			self.per_level_compression[idx]
		} else {
			// Use last configured compression for higher levels
			*self.per_level_compression.last().unwrap_or(&CompressionType::None)
		}
	}
}
