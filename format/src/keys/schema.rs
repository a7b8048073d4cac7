//! `C` keys: `C` + namespace (u32 BE) + class (u32 BE).

use super::{decode_key, Family, Key};
use crate::error::Result;
use crate::ids::{ClassId, NamespaceId};

/// The key of a class definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClassKey {
    /// The class's namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
}

impl Key for ClassKey {
    const FAMILY: Family = Family::Class;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&self.ns.0.to_be_bytes());
        out.extend_from_slice(&self.class.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(ClassKey {
                ns: NamespaceId(r.u32()?),
                class: ClassId(r.u32()?),
            })
        })
    }
}
