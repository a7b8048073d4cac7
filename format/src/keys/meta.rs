//! `M` keys: `M` + ASCII name.

use super::{decode_key, Family, Key};
use crate::error::{Error, Result};

/// A meta key. The set is closed: an unknown name is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetaKey {
    /// The database format version.
    FormatVersion,
    /// The per-database seed of the index hash.
    HashSeed,
    /// High-water mark of object ids: every id below it may have been used.
    NextObjectId,
    /// High-water mark of namespace ids.
    NextNamespaceId,
    /// High-water mark of class ids.
    NextClassId,
    /// The persistent, monotonic counter task revisions are drawn from.
    NextTaskRevision,
}

impl MetaKey {
    /// Every meta key.
    pub const ALL: [MetaKey; 6] = [
        MetaKey::FormatVersion,
        MetaKey::HashSeed,
        MetaKey::NextObjectId,
        MetaKey::NextNamespaceId,
        MetaKey::NextClassId,
        MetaKey::NextTaskRevision,
    ];

    /// The name written after the prefix.
    pub const fn name(self) -> &'static str {
        match self {
            MetaKey::FormatVersion => "format_version",
            MetaKey::HashSeed => "hash_seed",
            MetaKey::NextObjectId => "next_object_id",
            MetaKey::NextNamespaceId => "next_namespace_id",
            MetaKey::NextClassId => "next_class_id",
            MetaKey::NextTaskRevision => "next_task_revision",
        }
    }
}

impl Key for MetaKey {
    const FAMILY: Family = Family::Meta;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(self.name().as_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            let name = r.rest();
            MetaKey::ALL
                .into_iter()
                .find(|k| k.name().as_bytes() == name)
                .ok_or_else(|| {
                    Error::malformed(format!(
                        "meta key name {:?}",
                        name.escape_ascii().to_string()
                    ))
                })
        })
    }
}
