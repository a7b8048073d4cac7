//! Every key family of the single RocksDB keyspace, as named prefix constants
//! and typed key structs. Integers in keys are big-endian, so byte order is
//! numeric order. The byte-level layout is specified in docs/FORMAT.md.

mod generation;
mod index;
mod meta;
mod names;
mod object;
mod schema;
mod task;

pub use generation::GenerationKey;
pub use index::{
    decode_hash_holders, decode_holders, decode_tuple_value, encode_hash_holders, encode_holders,
    HashKey, Holder, IndexShape, OrderedKey, OrderedKeyRef, RawOrderedKey, HASH_POINT_KEY_LEN,
    MAX_HELD_TUPLE,
};
pub use meta::MetaKey;
pub use names::{check_name, NameKey, NameKind, MAX_NAME_LEN};
pub use object::{decode_locator, encode_locator, LocatorKey, ObjectKey, OBJECT_KEY_LEN};
pub use schema::ClassKey;
pub use task::TaskKey;

use crate::error::{Error, Result};
use crate::reader::Reader;

/// Prefix of meta keys: format version, hash seed, high-water marks.
pub const META_PREFIX: &[u8] = b"M";
/// Prefix of the name registry (namespace and class names → ids).
pub const NAME_PREFIX: &[u8] = b"N";
/// Prefix of class definitions.
pub const CLASS_PREFIX: &[u8] = b"C";
/// Prefix of object records.
pub const OBJECT_PREFIX: &[u8] = b"O";
/// Prefix of hash index entries.
pub const HASH_INDEX_PREFIX: &[u8] = b"IH";
/// Prefix of ordered index entries.
pub const ORDERED_INDEX_PREFIX: &[u8] = b"IR";
/// Prefix of reindex task records.
pub const TASK_PREFIX: &[u8] = b"IT";
/// Prefix of the object locators (object id → class).
pub const LOCATOR_PREFIX: &[u8] = b"L";
/// Prefix of the generation markers (one per column family).
pub const GENERATION_PREFIX: &[u8] = b"G";

/// A key family: what a key is, told by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Family {
    /// `M`: meta.
    Meta,
    /// `N`: name registry.
    Name,
    /// `C`: class definitions.
    Class,
    /// `O`: object records, clustered by class.
    Object,
    /// `L`: object locators (object id → class).
    Locator,
    /// `IH`: hash index.
    Hash,
    /// `IR`: ordered index.
    Ordered,
    /// `IT`: reindex tasks.
    Task,
    /// `G`: generation markers, one in every column family.
    Generation,
}

impl Family {
    /// Every family, in key order.
    pub const ALL: [Family; 9] = [
        Family::Class,
        Family::Generation,
        Family::Hash,
        Family::Ordered,
        Family::Task,
        Family::Locator,
        Family::Meta,
        Family::Name,
        Family::Object,
    ];

    /// The key prefix of the family.
    pub const fn prefix(self) -> &'static [u8] {
        match self {
            Family::Meta => META_PREFIX,
            Family::Name => NAME_PREFIX,
            Family::Class => CLASS_PREFIX,
            Family::Object => OBJECT_PREFIX,
            Family::Locator => LOCATOR_PREFIX,
            Family::Hash => HASH_INDEX_PREFIX,
            Family::Ordered => ORDERED_INDEX_PREFIX,
            Family::Task => TASK_PREFIX,
            Family::Generation => GENERATION_PREFIX,
        }
    }

    /// A short lower-case name (`meta`, `name`, `class`, `object`, `locator`,
    /// `hash`, `ordered`, `task`, `generation`).
    pub const fn name(self) -> &'static str {
        match self {
            Family::Meta => "meta",
            Family::Name => "name",
            Family::Class => "class",
            Family::Object => "object",
            Family::Locator => "locator",
            Family::Hash => "hash",
            Family::Ordered => "ordered",
            Family::Task => "task",
            Family::Generation => "generation",
        }
    }

    /// The family a key belongs to, from its prefix.
    pub fn of(key: &[u8]) -> Option<Family> {
        Family::ALL
            .into_iter()
            .find(|f| key.starts_with(f.prefix()))
    }

    /// The prefix of every key of this family in namespace `ns`, for the
    /// families whose keys start with the namespace id (class, object,
    /// locator, hash, ordered and task). `None` for meta, names and
    /// generation markers.
    pub fn namespace_prefix(self, ns: crate::NamespaceId) -> Option<Vec<u8>> {
        match self {
            Family::Meta | Family::Name | Family::Generation => None,
            _ => {
                let mut out = self.prefix().to_vec();
                out.extend_from_slice(&ns.0.to_be_bytes());
                Some(out)
            }
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed key of one family.
pub trait Key: Sized {
    /// The family of this key type.
    const FAMILY: Family;

    /// Appends the key's bytes to `out`.
    fn encode_into(&self, out: &mut Vec<u8>);

    /// The key's bytes.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.encode_into(&mut out);
        out
    }

    /// Decodes a key of this family; `WrongFamily` if the prefix differs.
    fn decode(bytes: &[u8]) -> Result<Self>;
}

/// Strips the family prefix, runs `body` on the rest and checks that it
/// consumed every byte: the shared frame of every `Key::decode`.
fn decode_key<T>(
    bytes: &[u8],
    family: Family,
    body: impl FnOnce(&mut Reader<'_>) -> Result<T>,
) -> Result<T> {
    let rest = bytes
        .strip_prefix(family.prefix())
        .ok_or(Error::WrongFamily { expected: family })?;
    let mut r = Reader::new(rest, family.name());
    let key = body(&mut r)?;
    r.finish()?;
    Ok(key)
}

/// The smallest byte string greater than every string that starts with
/// `prefix`: the exclusive upper bound of a prefix range. `None` when there is
/// none (empty prefix or all `0xFF`), meaning "to the end of the keyspace".
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Any key, decoded by its family: what `rockhold dump` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnyKey {
    /// A meta key.
    Meta(MetaKey),
    /// A name registry key.
    Name(NameKey),
    /// A class definition key.
    Class(ClassKey),
    /// An object key.
    Object(ObjectKey),
    /// An object locator key.
    Locator(LocatorKey),
    /// A hash index key.
    Hash(HashKey),
    /// An ordered index key, its tuple left encoded (decoding it takes the
    /// index's shape: [`RawOrderedKey::decode_as`]).
    Ordered(RawOrderedKey),
    /// A task key.
    Task(TaskKey),
    /// A generation marker.
    Generation(GenerationKey),
}

impl AnyKey {
    /// Decodes any key by its prefix.
    pub fn decode(bytes: &[u8]) -> Result<AnyKey> {
        let family =
            Family::of(bytes).ok_or_else(|| Error::malformed("key: no known family prefix"))?;
        Ok(match family {
            Family::Meta => AnyKey::Meta(MetaKey::decode(bytes)?),
            Family::Name => AnyKey::Name(NameKey::decode(bytes)?),
            Family::Class => AnyKey::Class(ClassKey::decode(bytes)?),
            Family::Object => AnyKey::Object(ObjectKey::decode(bytes)?),
            Family::Locator => AnyKey::Locator(LocatorKey::decode(bytes)?),
            Family::Hash => AnyKey::Hash(HashKey::decode(bytes)?),
            Family::Ordered => AnyKey::Ordered(RawOrderedKey::decode(bytes)?),
            Family::Task => AnyKey::Task(TaskKey::decode(bytes)?),
            Family::Generation => AnyKey::Generation(GenerationKey::decode(bytes)?),
        })
    }

    /// The key's family.
    pub fn family(&self) -> Family {
        match self {
            AnyKey::Meta(_) => Family::Meta,
            AnyKey::Name(_) => Family::Name,
            AnyKey::Class(_) => Family::Class,
            AnyKey::Object(_) => Family::Object,
            AnyKey::Locator(_) => Family::Locator,
            AnyKey::Hash(_) => Family::Hash,
            AnyKey::Ordered(_) => Family::Ordered,
            AnyKey::Task(_) => Family::Task,
            AnyKey::Generation(_) => Family::Generation,
        }
    }

    /// The key's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            AnyKey::Meta(k) => k.encode(),
            AnyKey::Name(k) => k.encode(),
            AnyKey::Class(k) => k.encode(),
            AnyKey::Object(k) => k.encode(),
            AnyKey::Locator(k) => k.encode(),
            AnyKey::Hash(k) => k.encode(),
            AnyKey::Ordered(k) => k.encode(),
            AnyKey::Task(k) => k.encode(),
            AnyKey::Generation(k) => k.encode(),
        }
    }
}

#[cfg(test)]
mod tests;
