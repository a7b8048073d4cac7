//! Values of the meta (`M`) and name (`N`) families.
//!
//! Meta value body (coding.rs items):
//!
//! ```text
//! u8 tag  00 FormatVersion: u32 version
//!         01 HashSeed:      u64 k0, u64 k1
//!         02 Counter:       u64 value
//! ```
//!
//! Name entry body: `u32 id`.

use crate::coding::{put_u32, put_u64, put_u8, Input};
use crate::error::{Error, Result};
use crate::frame::{Record, RecordKind};
use crate::hash::HashSeed;

/// The value of a meta key.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        match self {
            MetaValue::FormatVersion(v) => {
                put_u8(out, 0);
                put_u32(out, *v);
            }
            MetaValue::HashSeed(seed) => {
                put_u8(out, 1);
                put_u64(out, seed.k0);
                put_u64(out, seed.k1);
            }
            MetaValue::Counter(c) => {
                put_u8(out, 2);
                put_u64(out, *c);
            }
        }
    }

    fn decode_body(body: &[u8]) -> Result<Self> {
        let mut i = Input::new(body, "meta value");
        let value = match i.u8()? {
            0 => MetaValue::FormatVersion(i.u32()?),
            1 => MetaValue::HashSeed(HashSeed {
                k0: i.u64()?,
                k1: i.u64()?,
            }),
            2 => MetaValue::Counter(i.u64()?),
            t => return Err(Error::malformed(format!("meta value: tag {t:#04x}"))),
        };
        i.finish()?;
        Ok(value)
    }
}

/// The value of a name registry key: the id the name is interned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameEntry {
    /// The interned id (a namespace id or a class id).
    pub id: u32,
}

impl Record for NameEntry {
    const KIND: RecordKind = RecordKind::Name;

    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.id);
    }

    fn decode_body(body: &[u8]) -> Result<Self> {
        let mut i = Input::new(body, "name entry");
        let id = i.u32()?;
        i.finish()?;
        Ok(NameEntry { id })
    }
}
