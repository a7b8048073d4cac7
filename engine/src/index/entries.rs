//! The index keys a record implies, and the ordered-key limit: "which
//! entries should exist" is decided here, for every caller (through
//! `plan`, or one field at a time for stale-entry checks).

use rockhold_format::{
    ClassDef, Family, FieldDef, FullScanKey, HashKey, HashSeed, IndexKind, Key, NamespaceId,
    ObjectId, OrderedKey, Value, MAX_ORDERED_VALUE_LEN,
};

use crate::error::{Error, Result};

/// The hash of values in `IH` keys: SipHash-1-3 keyed by the database's
/// seed (rockhold_format), in the one place every path computes it. A test
/// build may keep only some low bits (`Options::test_hash_bits`) to force
/// collisions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueHasher {
    seed: HashSeed,
    mask: u64,
}

impl ValueHasher {
    /// The hasher of a database with this seed; `bits` keeps only that many
    /// low bits of each hash (64: all).
    pub fn new(seed: HashSeed, bits: u32) -> ValueHasher {
        ValueHasher {
            seed,
            mask: u64::MAX.checked_shr(64 - bits.min(64)).unwrap_or(0),
        }
    }

    /// The hash of `value`.
    pub fn hash_value(&self, value: &Value) -> u64 {
        self.seed.hash_value(value) & self.mask
    }
}

/// One index entry: its family and key bytes (index values are empty).
pub(crate) type Entry = (Family, Vec<u8>);

/// The entry of `field` for `value`; `None` for absent values, which are not
/// indexed, and for fields without an index.
pub(crate) fn field_entry(
    seed: &ValueHasher,
    ns: NamespaceId,
    class: &ClassDef,
    field: &FieldDef,
    value: &Value,
    id: ObjectId,
) -> Option<Entry> {
    if matches!(value, Value::Absent) {
        return None;
    }
    match field.index {
        IndexKind::None => None,
        IndexKind::Hash { .. } => Some((
            Family::Hash,
            HashKey {
                ns,
                class: class.id,
                field: field.id,
                hash: seed.hash_value(value),
                id,
            }
            .encode(),
        )),
        IndexKind::Ordered { .. } => Some((
            Family::Ordered,
            OrderedKey {
                ns,
                class: class.id,
                field: field.id,
                value: value.clone(),
                id,
            }
            .encode(),
        )),
    }
}

/// The ordered-key limit, in the one place every path applies it: a value
/// of an ordered-indexed field whose ordered encoding is longer than
/// `MAX_ORDERED_VALUE_LEN` cannot be indexed (`ValueTooLarge`). Writes
/// refuse such a value; an index build that meets one (a field that became
/// ordered after the value was written) ends `Failed` naming the object.
pub(crate) fn check_indexable(class: &ClassDef, field: &FieldDef, value: &Value) -> Result<()> {
    if matches!(field.index, IndexKind::Ordered { .. }) {
        let len = value.ordered_len();
        if len > MAX_ORDERED_VALUE_LEN {
            return Err(Error::ValueTooLarge {
                class: class.name.clone(),
                field: field.name.clone(),
                len,
                max: MAX_ORDERED_VALUE_LEN,
            });
        }
    }
    Ok(())
}

/// The full-scan entry of an object.
pub(crate) fn full_scan_entry(ns: NamespaceId, class: &ClassDef, id: ObjectId) -> Entry {
    (
        Family::FullScan,
        FullScanKey {
            ns,
            class: class.id,
            id,
        }
        .encode(),
    )
}
