//! The index keys a record implies, and the ordered-key limit: "which
//! entries should exist" is decided here, for every caller (through
//! `plan`, or one index at a time for stale-entry checks).

use rockhold_format::{
    ClassDef, ClassId, Family, HashKey, HashSeed, IndexDef, IndexKind, NamespaceId, ObjectId,
    ObjectRecord, OrderedKey, RecordView, Value, ValueRef, MAX_ORDERED_VALUE_LEN,
};

use crate::catalog::schema::paths::{part_values, part_values_in};

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

    /// The hash of an encoded value tuple.
    pub fn hash_bytes(&self, tuple: &[u8]) -> u64 {
        self.seed.hash_bytes(tuple) & self.mask
    }
}

/// One index entry or point key: its family and key bytes.
pub(crate) type Entry = (Family, Vec<u8>);

/// The distinct value tuples (ordered encodings of the parts' values,
/// concatenated) that `index` holds for `record`, sorted. None when a part
/// is absent (or an empty list); one per element of a multi-valued part.
pub(crate) fn index_tuples(
    class: &ClassDef,
    index: &IndexDef,
    record: &ObjectRecord,
) -> Vec<Vec<u8>> {
    tuples(index.parts.iter().map(|part| {
        part_values(&class.fields, record, part)
            .into_iter()
            .map(Value::encode_ordered)
            .collect()
    }))
}

/// `index_tuples` of a record read in place: only the indexed fields are
/// decoded. `Err` when one of them does not decode.
pub(crate) fn index_tuples_in(
    class: &ClassDef,
    index: &IndexDef,
    record: &RecordView<'_>,
) -> rockhold_format::Result<Vec<Vec<u8>>> {
    let mut parts = Vec::with_capacity(index.parts.len());
    for part in &index.parts {
        let values = part_values_in(&class.fields, record, part)?;
        parts.push(values.iter().map(ValueRef::encode_ordered).collect());
    }
    Ok(tuples(parts.into_iter()))
}

/// Every combination of one encoded value per part (in part order),
/// concatenated, sorted and distinct; none when a part has no value.
fn tuples(parts: impl Iterator<Item = Vec<Vec<u8>>>) -> Vec<Vec<u8>> {
    let mut tuples: Vec<Vec<u8>> = vec![Vec::new()];
    for values in parts {
        if values.is_empty() {
            return Vec::new();
        }
        tuples = if values.len() == 1 {
            for t in &mut tuples {
                t.extend_from_slice(&values[0]);
            }
            tuples
        } else {
            let mut next = Vec::with_capacity(tuples.len() * values.len());
            for t in &tuples {
                for v in &values {
                    let mut t = t.clone();
                    t.extend_from_slice(v);
                    next.push(t);
                }
            }
            next
        };
    }
    tuples.sort_unstable();
    tuples.dedup();
    tuples
}

/// The tuple of `values`, one per part, as index keys hold it.
pub(crate) fn encode_tuple(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    values.iter().for_each(|v| v.encode_ordered_into(&mut out));
    out
}

/// The key of object `id`'s entry for `tuple` in a non-unique index.
pub(crate) fn entry_key(
    hasher: &ValueHasher,
    ns: NamespaceId,
    class: ClassId,
    index: &IndexDef,
    tuple: &[u8],
    id: ObjectId,
) -> Entry {
    let (family, mut key) = point_key(hasher, ns, class, index, tuple);
    key.extend_from_slice(&id.0.to_be_bytes());
    (family, key)
}

/// The object id that ends an entry of a non-unique index (its last eight
/// bytes, big endian); `None` for a key too short to hold one.
pub(crate) fn entry_id(key: &[u8]) -> Option<ObjectId> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(ObjectId(u64::from_be_bytes(tail)))
}

/// The key every entry of `tuple` starts with: in a unique index, its
/// point key (the holders in its value); in a non-unique one, the prefix
/// of its holders' entries.
pub(crate) fn point_key(
    hasher: &ValueHasher,
    ns: NamespaceId,
    class: ClassId,
    index: &IndexDef,
    tuple: &[u8],
) -> Entry {
    match index.kind {
        IndexKind::Hash { .. } => (
            Family::Hash,
            HashKey::hash_prefix(ns, class, index.id, hasher.hash_bytes(tuple)),
        ),
        IndexKind::Ordered { .. } => {
            let mut key = OrderedKey::index_prefix(ns, class, index.id);
            key.extend_from_slice(tuple);
            (Family::Ordered, key)
        }
    }
}

/// Every key `index` has for object `id` with record `record`, sorted:
/// entries of a non-unique index, point keys of a unique one. What a stale
/// check compares stored keys with.
pub(crate) fn index_keys(
    hasher: &ValueHasher,
    ns: NamespaceId,
    class: &ClassDef,
    index: &IndexDef,
    record: &ObjectRecord,
    id: ObjectId,
) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = index_tuples(class, index, record)
        .iter()
        .map(|t| {
            if index.is_unique() {
                point_key(hasher, ns, class.id, index, t).1
            } else {
                entry_key(hasher, ns, class.id, index, t, id).1
            }
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The ordered-key limit, in the one place every path applies it: a tuple
/// of an ordered index whose encoding is longer than
/// `MAX_ORDERED_VALUE_LEN` cannot be indexed (`ValueTooLarge`). Writes
/// refuse such a value; an index build that meets one (an index added after
/// the value was written) ends `Failed` naming the object.
pub(crate) fn check_indexable(class: &ClassDef, index: &IndexDef, tuple: &[u8]) -> Result<()> {
    if index.kind.is_ordered() && tuple.len() > MAX_ORDERED_VALUE_LEN {
        return Err(Error::ValueTooLarge {
            class: class.name.clone(),
            field: index.name.clone(),
            len: tuple.len(),
            max: MAX_ORDERED_VALUE_LEN,
        });
    }
    Ok(())
}

/// The value a tuple stands for in messages: the value itself for a
/// one-part index, the list of the parts' values for a compound one.
pub(crate) fn tuple_value(index: &IndexDef, tuple: &[u8]) -> Value {
    match rockhold_format::decode_tuple(tuple) {
        Ok(mut values) if index.parts.len() == 1 && values.len() == 1 => values.remove(0),
        Ok(values) => Value::List(values),
        Err(_) => Value::Bytes(tuple.to_vec()),
    }
}
