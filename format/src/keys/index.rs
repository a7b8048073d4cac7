//! `IH` hash index keys and `IR` ordered index keys.
//!
//! - `IH` + ns (u32) + class (u32) + field (u32) + hash64(value) (u64) + object id (u64)
//! - `IR` + ns (u32) + class (u32) + field (u32) + ordered(value) + object id (u64)
//!
//! One key per (value, object): never a read-modify-write posting list.

use super::{decode_key, Family, Key};
use crate::error::{Error, Result};
use crate::ids::{ClassId, FieldId, NamespaceId, ObjectId};
use crate::value::Value;

fn field_prefix(family: Family, ns: NamespaceId, class: ClassId, field: FieldId) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(family.prefix());
    out.extend_from_slice(&ns.0.to_be_bytes());
    out.extend_from_slice(&class.0.to_be_bytes());
    out.extend_from_slice(&field.0.to_be_bytes());
    out
}

/// A hash index entry: object `id` holds a value of field `field` whose
/// keyed hash is `hash`. Empty value. Lookups verify the object's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The indexed field.
    pub field: FieldId,
    /// `HashSeed::hash_value` of the value.
    pub hash: u64,
    /// The object holding the value.
    pub id: ObjectId,
}

impl HashKey {
    /// The prefix of every entry of one index.
    pub fn field_prefix(ns: NamespaceId, class: ClassId, field: FieldId) -> Vec<u8> {
        field_prefix(Self::FAMILY, ns, class, field)
    }

    /// The prefix of every entry of one index whose value hashes to `hash`.
    pub fn hash_prefix(ns: NamespaceId, class: ClassId, field: FieldId, hash: u64) -> Vec<u8> {
        let mut out = field_prefix(Self::FAMILY, ns, class, field);
        out.extend_from_slice(&hash.to_be_bytes());
        out
    }
}

impl Key for HashKey {
    const FAMILY: Family = Family::Hash;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::hash_prefix(
            self.ns, self.class, self.field, self.hash,
        ));
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(HashKey {
                ns: NamespaceId(r.u32()?),
                class: ClassId(r.u32()?),
                field: FieldId(r.u32()?),
                hash: r.u64()?,
                id: ObjectId(r.u64()?),
            })
        })
    }
}

/// An ordered index entry: object `id` holds `value` in field `field`.
/// Empty value. Keys of one index sort by value, then by object id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderedKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The indexed field.
    pub field: FieldId,
    /// The value, stored in its order-preserving encoding.
    pub value: Value,
    /// The object holding the value.
    pub id: ObjectId,
}

impl OrderedKey {
    /// The prefix of every entry of one index.
    pub fn field_prefix(ns: NamespaceId, class: ClassId, field: FieldId) -> Vec<u8> {
        field_prefix(Self::FAMILY, ns, class, field)
    }

    /// The prefix of every entry holding exactly `value`.
    pub fn value_prefix(ns: NamespaceId, class: ClassId, field: FieldId, value: &Value) -> Vec<u8> {
        let mut out = field_prefix(Self::FAMILY, ns, class, field);
        value.encode_ordered_into(&mut out);
        out
    }
}

impl Key for OrderedKey {
    const FAMILY: Family = Family::Ordered;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::value_prefix(
            self.ns,
            self.class,
            self.field,
            &self.value,
        ));
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            let ns = NamespaceId(r.u32()?);
            let class = ClassId(r.u32()?);
            let field = FieldId(r.u32()?);
            let rest = r.remaining();
            let value_len = rest.len().checked_sub(8).ok_or(Error::Truncated {
                what: "ordered index key",
            })?;
            let (value, used) = Value::decode_ordered(&rest[..value_len])?;
            if used != value_len {
                return Err(Error::malformed(
                    "ordered index key: bytes between value and object id",
                ));
            }
            r.advance(value_len);
            Ok(OrderedKey {
                ns,
                class,
                field,
                value,
                id: ObjectId(r.u64()?),
            })
        })
    }
}
