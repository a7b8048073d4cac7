//! Index maintenance: the index keys a record implies, and what changes
//! between two versions of a record. The write path and the verifier both use
//! these functions, so "which entries should exist" is decided in one place.

use std::collections::BTreeSet;

use rockhold_format::{
    ClassDef, Family, FieldDef, FullScanKey, HashKey, HashSeed, IndexKind, Key, NamespaceId,
    ObjectId, ObjectRecord, OrderedKey, Value, MAX_ORDERED_VALUE_LEN,
};

use crate::error::{Error, Result};

/// One index entry: its family and key bytes (index values are empty).
pub(crate) type Entry = (Family, Vec<u8>);

/// The entry of `field` for `value`; `None` for absent values, which are not
/// indexed, and for fields without an index.
pub(crate) fn field_entry(
    seed: &HashSeed,
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

/// `check_indexable` on every ordered field of a record about to be
/// written (an untouched value of a field made ordered later counts too).
pub(crate) fn check_record_indexable(class: &ClassDef, record: &ObjectRecord) -> Result<()> {
    class
        .fields
        .iter()
        .filter(|f| matches!(f.index, IndexKind::Ordered { .. }))
        .try_for_each(|f| check_indexable(class, f, record.value(f.id)))
}

/// Every value-index entry (`IH`, `IR`) of a record, without the full-scan entry.
pub(crate) fn value_entries(
    seed: &HashSeed,
    ns: NamespaceId,
    class: &ClassDef,
    id: ObjectId,
    record: &ObjectRecord,
) -> BTreeSet<Entry> {
    class
        .fields
        .iter()
        .filter_map(|f| field_entry(seed, ns, class, f, record.value(f.id), id))
        .collect()
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

/// Every index entry (full-scan included) of a record.
pub(crate) fn all_entries(
    seed: &HashSeed,
    ns: NamespaceId,
    class: &ClassDef,
    id: ObjectId,
    record: &ObjectRecord,
) -> BTreeSet<Entry> {
    let mut out = value_entries(seed, ns, class, id, record);
    out.insert(full_scan_entry(ns, class, id));
    out
}

/// What a change from `old` to `new` must delete and put.
pub(crate) struct EntryDiff {
    pub delete: Vec<Entry>,
    pub put: Vec<Entry>,
}

pub(crate) fn diff(old: &BTreeSet<Entry>, new: &BTreeSet<Entry>) -> EntryDiff {
    EntryDiff {
        delete: old.difference(new).cloned().collect(),
        put: new.difference(old).cloned().collect(),
    }
}
