//! `O` keys (`O` + namespace + object id) and `IF` full-scan keys
//! (`IF` + namespace + class + object id). All integers big-endian.

use super::{decode_key, Family, Key};
use crate::error::Result;
use crate::ids::{ClassId, NamespaceId, ObjectId};

/// The key of an object record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// The object's namespace.
    pub ns: NamespaceId,
    /// The object.
    pub id: ObjectId,
}

impl Key for ObjectKey {
    const FAMILY: Family = Family::Object;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&self.ns.0.to_be_bytes());
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(ObjectKey {
                ns: NamespaceId(r.u32()?),
                id: ObjectId(r.u64()?),
            })
        })
    }
}

/// A full-scan index entry: object `id` belongs to `class`. Empty value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FullScanKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The object.
    pub id: ObjectId,
}

impl FullScanKey {
    /// The prefix of every full-scan entry of a class; entries under it are
    /// in object id order.
    pub fn class_prefix(ns: NamespaceId, class: ClassId) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&ns.0.to_be_bytes());
        out.extend_from_slice(&class.0.to_be_bytes());
        out
    }
}

impl Key for FullScanKey {
    const FAMILY: Family = Family::FullScan;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&Self::class_prefix(self.ns, self.class));
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(FullScanKey {
                ns: NamespaceId(r.u32()?),
                class: ClassId(r.u32()?),
                id: ObjectId(r.u64()?),
            })
        })
    }
}
