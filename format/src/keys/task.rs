//! `IT` keys: `IT` + namespace (u32) + class (u32) + index (u32); index 0
//! (`IndexId::WHOLE_CLASS`) is a task for every index of the class.

use super::{decode_key, Family, Key};
use crate::error::Result;
use crate::ids::{ClassId, IndexId, NamespaceId};

/// The key of a reindex task record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The index that is built, or `IndexId::WHOLE_CLASS`.
    pub index: IndexId,
}

impl Key for TaskKey {
    const FAMILY: Family = Family::Task;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&self.ns.0.to_be_bytes());
        out.extend_from_slice(&self.class.0.to_be_bytes());
        out.extend_from_slice(&self.index.0.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            Ok(TaskKey {
                ns: NamespaceId(r.u32()?),
                class: ClassId(r.u32()?),
                index: IndexId(r.u32()?),
            })
        })
    }
}
