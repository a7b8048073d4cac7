//! Values of the meta (`M`) and name (`N`) families.

use serde::{Deserialize, Serialize};

use crate::frame::{Record, RecordKind};
use crate::hash::HashSeed;

/// The value of a meta key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaValue {
    /// The database format version (`M format_version`).
    FormatVersion(u32),
    /// The per-database seed of the index hash (`M hash_seed`).
    HashSeed(HashSeed),
    /// A high-water mark or counter (`M next_*`).
    Counter(u64),
}

impl Record for MetaValue {
    const KIND: RecordKind = RecordKind::Meta;

    fn encode_body(&self, out: &mut Vec<u8>) {
        crate::frame::bincode_body_into(self, out);
    }

    fn decode_body(body: &[u8]) -> crate::Result<Self> {
        crate::frame::bincode_body_decode(Self::KIND, body)
    }
}

/// The value of a name registry key: the id the name is interned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameEntry {
    /// The interned id (a namespace id or a class id).
    pub id: u32,
}

impl Record for NameEntry {
    const KIND: RecordKind = RecordKind::Name;

    fn encode_body(&self, out: &mut Vec<u8>) {
        crate::frame::bincode_body_into(self, out);
    }

    fn decode_body(body: &[u8]) -> crate::Result<Self> {
        crate::frame::bincode_body_decode(Self::KIND, body)
    }
}
