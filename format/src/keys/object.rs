//! `O` keys (`O` + namespace + class + object id: records clustered by
//! class) and `L` locator keys (`L` + namespace + object id, whose value is
//! the object's class). All integers big-endian.

use super::{decode_key, Family, Key};
use crate::error::{Error, Result};
use crate::ids::{ClassId, NamespaceId, ObjectId};

/// The key of an object record. The records of one class are one key range
/// ([`ObjectKey::class_prefix`]), in object id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// The object's namespace.
    pub ns: NamespaceId,
    /// The object's class.
    pub class: ClassId,
    /// The object.
    pub id: ObjectId,
}

/// Length of an object key: `O` + ns + class + object.
pub const OBJECT_KEY_LEN: usize = 1 + 4 + 4 + 8;

impl ObjectKey {
    /// The prefix of every record of a class; the records under it are in
    /// object id order.
    pub fn class_prefix(ns: NamespaceId, class: ClassId) -> Vec<u8> {
        let mut out = Vec::with_capacity(OBJECT_KEY_LEN);
        Self::class_prefix_into(ns, class, &mut out);
        out
    }

    /// Appends [`ObjectKey::class_prefix`] to `out`.
    pub fn class_prefix_into(ns: NamespaceId, class: ClassId, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&ns.0.to_be_bytes());
        out.extend_from_slice(&class.0.to_be_bytes());
    }

    /// The object id of an object key (checked to be one): the last eight
    /// bytes, as a class scan reads them without decoding the rest.
    pub fn id_of(key: &[u8]) -> Result<ObjectId> {
        Ok(ObjectKey::decode(key)?.id)
    }
}

impl Key for ObjectKey {
    const FAMILY: Family = Family::Object;

    fn encode_into(&self, out: &mut Vec<u8>) {
        Self::class_prefix_into(self.ns, self.class, out);
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(ObjectKey {
                ns: NamespaceId(r.u32()?),
                class: ClassId(r.u32()?),
                id: ObjectId(r.u64()?),
            })
        })
    }
}

/// The locator of an object: which class holds object `id`, for a read by
/// id alone. Its value is the class id, a u32 BE ([`encode_locator`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocatorKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The object.
    pub id: ObjectId,
}

impl Key for LocatorKey {
    const FAMILY: Family = Family::Locator;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&self.ns.0.to_be_bytes());
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(LocatorKey {
                ns: NamespaceId(r.u32()?),
                id: ObjectId(r.u64()?),
            })
        })
    }
}

/// The value of a locator key: the object's class id, u32 BE.
pub fn encode_locator(class: ClassId) -> [u8; 4] {
    class.0.to_be_bytes()
}

/// Reads a locator key's value: exactly four bytes, the class id.
pub fn decode_locator(value: &[u8]) -> Result<ClassId> {
    let bytes: [u8; 4] = value
        .try_into()
        .map_err(|_| Error::malformed("locator: a class id of 4 bytes"))?;
    Ok(ClassId(u32::from_be_bytes(bytes)))
}
