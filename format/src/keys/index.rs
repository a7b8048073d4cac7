//! `IH` hash index keys and `IR` ordered index keys (format v2).
//!
//! An index covers a tuple of one or more values (its parts). Non-unique
//! indexes have one key per (value tuple, object), with an empty value;
//! unique indexes have one *point key* per value tuple, answered by a
//! single `Get`, with the holder in the value:
//!
//! - `IH` + ns (u32) + class (u32) + index (u32) + hash64(tuple) (u64) + object id (u64) → empty
//! - `IH` + ns (u32) + class (u32) + index (u32) + hash64(tuple) (u64) → holders
//! - `IR` + ns (u32) + class (u32) + index (u32) + ordered(tuple) + object id (u64) → empty
//! - `IR` + ns (u32) + class (u32) + index (u32) + ordered(tuple) → holder
//!
//! The holders of a unique hash key are the objects whose (distinct) value
//! tuples share the hash: one, except after a hash collision. The value
//! keeps each holder's tuple ([`encode_hash_holders`]), so a reader tells a
//! hit from a collision without reading the record. The holder of a unique ordered key is one
//! object: the key is the value tuple itself. Never a read-modify-write
//! posting list of one value's holders.

use super::{decode_key, Family, Key};
use crate::error::{Error, Result};
use crate::ids::{ClassId, IndexId, NamespaceId, ObjectId};
use crate::reader::Reader;
use crate::value::{decode_tuple, Value};

fn index_prefix(family: Family, ns: NamespaceId, class: ClassId, index: IndexId) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(family.prefix());
    out.extend_from_slice(&ns.0.to_be_bytes());
    out.extend_from_slice(&class.0.to_be_bytes());
    out.extend_from_slice(&index.0.to_be_bytes());
    out
}

/// Bytes of an index key's head after the family prefix: ns, class, index.
const HEAD_LEN: usize = 12;

/// The shape of one index's keys, from its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndexShape {
    /// How many values each key's tuple has (the index's parts).
    pub parts: usize,
    /// Whether entries are point keys (no object id in the key).
    pub unique: bool,
}

/// A hash index entry: object `id` holds a value tuple of index `index`
/// whose keyed hash is `hash`. `id` is `None` for the point key of a unique
/// index, whose value lists the holders ([`encode_holders`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The index.
    pub index: IndexId,
    /// `HashSeed::hash_bytes` of the tuple's ordered encoding.
    pub hash: u64,
    /// The object holding the tuple; `None` in a unique index's point key.
    pub id: Option<ObjectId>,
}

impl HashKey {
    /// The prefix of every entry of one index.
    pub fn index_prefix(ns: NamespaceId, class: ClassId, index: IndexId) -> Vec<u8> {
        index_prefix(Self::FAMILY, ns, class, index)
    }

    /// The prefix of every entry of one index whose tuple hashes to `hash`;
    /// for a unique index, the point key itself.
    pub fn hash_prefix(ns: NamespaceId, class: ClassId, index: IndexId, hash: u64) -> Vec<u8> {
        let mut out = index_prefix(Self::FAMILY, ns, class, index);
        out.extend_from_slice(&hash.to_be_bytes());
        out
    }
}

impl Key for HashKey {
    const FAMILY: Family = Family::Hash;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.extend_from_slice(&self.ns.0.to_be_bytes());
        out.extend_from_slice(&self.class.0.to_be_bytes());
        out.extend_from_slice(&self.index.0.to_be_bytes());
        out.extend_from_slice(&self.hash.to_be_bytes());
        if let Some(id) = self.id {
            out.extend_from_slice(&id.0.to_be_bytes());
        }
    }

    /// A key of 20 bytes after the prefix is a point key, of 28 an entry.
    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            let (ns, class, index) = head(r)?;
            let hash = r.u64()?;
            let id = if r.remaining().is_empty() {
                None
            } else {
                Some(ObjectId(r.u64()?))
            };
            Ok(HashKey {
                ns,
                class,
                index,
                hash,
                id,
            })
        })
    }
}

fn head(r: &mut Reader<'_>) -> Result<(NamespaceId, ClassId, IndexId)> {
    Ok((NamespaceId(r.u32()?), ClassId(r.u32()?), IndexId(r.u32()?)))
}

/// An ordered index entry: object `id` holds the value tuple `values` of
/// index `index`. Keys of one index sort by tuple, then by object id. `id`
/// is `None` for the point key of a unique index, whose value is the holder
/// ([`encode_holders`] of one id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderedKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The index.
    pub index: IndexId,
    /// The tuple, stored as the concatenation of its ordered encodings.
    pub values: Vec<Value>,
    /// The object holding the tuple; `None` in a unique index's point key.
    pub id: Option<ObjectId>,
}

impl OrderedKey {
    /// The prefix of every entry of one index.
    pub fn index_prefix(ns: NamespaceId, class: ClassId, index: IndexId) -> Vec<u8> {
        index_prefix(Family::Ordered, ns, class, index)
    }

    /// The prefix of every entry whose tuple starts with `values` (a
    /// leading subset of the parts); with every part given, the entries of
    /// exactly that tuple (for a unique index, its point key).
    pub fn tuple_prefix(
        ns: NamespaceId,
        class: ClassId,
        index: IndexId,
        values: &[Value],
    ) -> Vec<u8> {
        let mut out = index_prefix(Family::Ordered, ns, class, index);
        values.iter().for_each(|v| v.encode_ordered_into(&mut out));
        out
    }

    /// The key's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Self::tuple_prefix(self.ns, self.class, self.index, &self.values);
        if let Some(id) = self.id {
            out.extend_from_slice(&id.0.to_be_bytes());
        }
        out
    }

    /// Decodes the key of an index of this shape. Only canonical
    /// encodings are accepted; a tuple of another length is malformed.
    pub fn decode_as(bytes: &[u8], shape: IndexShape) -> Result<OrderedKey> {
        let raw = RawOrderedKey::decode(bytes)?;
        raw.decode_as(shape)
    }
}

/// An `IR` key split at its head, its tuple (and id) left encoded: what a
/// key can be decoded to without the index's definition, which says how
/// many values the tuple has and whether an id follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawOrderedKey {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The index.
    pub index: IndexId,
    /// The encoded tuple, followed by the object id in a non-unique index.
    pub body: Vec<u8>,
}

impl RawOrderedKey {
    /// Splits an `IR` key.
    pub fn decode(bytes: &[u8]) -> Result<RawOrderedKey> {
        decode_key(bytes, Family::Ordered, |r| {
            let (ns, class, index) = head(r)?;
            Ok(RawOrderedKey {
                ns,
                class,
                index,
                body: r.rest().to_vec(),
            })
        })
    }

    /// The key's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = OrderedKey::index_prefix(self.ns, self.class, self.index);
        out.extend_from_slice(&self.body);
        out
    }

    /// The whole key, decoded with the shape of its index.
    pub fn decode_as(&self, shape: IndexShape) -> Result<OrderedKey> {
        let (tuple, id) = split_body(&self.body, shape)?;
        let values = decode_tuple_of(tuple, shape.parts)?;
        Ok(OrderedKey {
            ns: self.ns,
            class: self.class,
            index: self.index,
            values,
            id,
        })
    }
}

/// A key's body (after the head) split into its encoded tuple and, in a
/// non-unique index, the object id that ends it.
fn split_body(body: &[u8], shape: IndexShape) -> Result<(&[u8], Option<ObjectId>)> {
    if shape.unique {
        return Ok((body, None));
    }
    let split = body.len().checked_sub(8).ok_or(Error::Truncated {
        what: "ordered index key",
    })?;
    let mut id = [0u8; 8];
    id.copy_from_slice(&body[split..]);
    Ok((&body[..split], Some(ObjectId(u64::from_be_bytes(id)))))
}

/// An `IR` key of an index of a known shape, borrowed from its bytes: what
/// a range scan reads of each entry without copying the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderedKeyRef<'a> {
    /// The namespace.
    pub ns: NamespaceId,
    /// The class.
    pub class: ClassId,
    /// The index.
    pub index: IndexId,
    /// The encoded value tuple (not checked here: [`decode_tuple_value`]).
    pub tuple: &'a [u8],
    /// The object holding the tuple; `None` in a unique index's point key.
    pub id: Option<ObjectId>,
}

impl<'a> OrderedKeyRef<'a> {
    /// Splits an `IR` key of an index of this shape.
    pub fn split(bytes: &'a [u8], shape: IndexShape) -> Result<OrderedKeyRef<'a>> {
        let rest = bytes
            .strip_prefix(Family::Ordered.prefix())
            .ok_or(Error::WrongFamily {
                expected: Family::Ordered,
            })?;
        let mut r = Reader::new(rest, Family::Ordered.name());
        let (ns, class, index) = head(&mut r)?;
        let (tuple, id) = split_body(r.rest(), shape)?;
        Ok(OrderedKeyRef {
            ns,
            class,
            index,
            tuple,
            id,
        })
    }

    /// The tuple's value as a range scan reports it (see
    /// [`decode_tuple_value`]).
    pub fn value(&self, shape: IndexShape) -> Result<Value> {
        decode_tuple_value(self.tuple, shape.parts)
    }
}

/// An encoded tuple of `parts` values as one value: the value itself for
/// one part (no list is built), a list of them for more. A tuple of
/// another length is malformed.
pub fn decode_tuple_value(tuple: &[u8], parts: usize) -> Result<Value> {
    if parts != 1 {
        return decode_tuple_of(tuple, parts).map(Value::List);
    }
    if tuple.is_empty() {
        return Err(tuple_mismatch("0", parts));
    }
    let mut r = Reader::new(tuple, "ordered tuple");
    let value = crate::value::decode_ordered_one(&mut r)?;
    if !r.remaining().is_empty() {
        return Err(tuple_mismatch("more than 1", parts));
    }
    Ok(value)
}

/// An encoded tuple that must hold `parts` values, decoded.
fn decode_tuple_of(tuple: &[u8], parts: usize) -> Result<Vec<Value>> {
    let values = decode_tuple(tuple)?;
    if values.len() != parts {
        return Err(tuple_mismatch(&values.len().to_string(), parts));
    }
    Ok(values)
}

/// A tuple of `found` values in a key of an index of `parts`.
fn tuple_mismatch(found: &str, parts: usize) -> Error {
    Error::malformed(format!(
        "ordered index key: a tuple of {found} value(s) where the index has {parts}"
    ))
}

/// Bytes of an `IH` key up to and including the hash: its point key length.
pub const HASH_POINT_KEY_LEN: usize = 2 + HEAD_LEN + 8;

/// Appends the value of a unique entry in its bare form: the holders'
/// ids, each a u64 BE, sorted and distinct (one for an ordered index,
/// whose key is the tuple itself).
pub fn encode_holders(ids: &[ObjectId], out: &mut Vec<u8>) {
    ids.iter()
        .for_each(|id| out.extend_from_slice(&id.0.to_be_bytes()));
}

/// Decodes the value of a unique entry, in either form: its holders' ids
/// (at least one, sorted, distinct).
pub fn decode_holders(bytes: &[u8]) -> Result<Vec<ObjectId>> {
    Ok(decode_hash_holders(bytes)?
        .into_iter()
        .map(|h| h.id)
        .collect())
}

/// The longest encoded tuple a unique hash point value keeps beside its
/// holder (the ordered index's limit on a key's tuple): a longer one is
/// left out, and a reader verifies that holder on its record.
pub const MAX_HELD_TUPLE: usize = 1024;

/// The first eight bytes of a unique hash point value that keeps tuples: an
/// id of `u64::MAX` followed by more bytes, which no bare value can be (its
/// ids ascend, and none follows `u64::MAX`).
const TUPLES_TAG: [u8; 8] = [0xFF; 8];

/// The length field of a holder whose tuple is left out.
const NO_TUPLE: u32 = u32::MAX;

/// One holder of a unique hash point key: the object, and the encoded tuple
/// it holds when the value keeps it (`None`: a tuple over
/// [`MAX_HELD_TUPLE`], or a value written in the bare form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder<'a> {
    /// The holding object.
    pub id: ObjectId,
    /// Its tuple's ordered encoding (whose hash is the key's), if kept.
    pub tuple: Option<&'a [u8]>,
}

/// Appends the value of a unique hash point key: each holder (sorted and
/// distinct by id; any cloneable iterator, so a caller's own holders need
/// no copy) with its tuple, so a lookup compares the tuple without
/// reading the record. The bare form ([`encode_holders`]) when no holder
/// keeps one; otherwise [`TUPLES_TAG`], the number of holders (u32 BE),
/// then per holder its id (u64 BE), the tuple's length (u32 BE; `u32::MAX`
/// when left out) and the tuple.
/// A tuple over [`MAX_HELD_TUPLE`] bytes is left out here, as the decoder
/// refuses one.
pub fn encode_hash_holders<'t, I>(holders: I, out: &mut Vec<u8>)
where
    I: IntoIterator<Item = Holder<'t>>,
    I::IntoIter: Clone + ExactSizeIterator,
{
    fn kept<'t>(h: &Holder<'t>) -> Option<&'t [u8]> {
        h.tuple.filter(|t| t.len() <= MAX_HELD_TUPLE)
    }
    let holders = holders.into_iter();
    if holders.clone().all(|h| kept(&h).is_none()) {
        holders.for_each(|h| out.extend_from_slice(&h.id.0.to_be_bytes()));
        return;
    }
    out.extend_from_slice(&TUPLES_TAG);
    // Holders are ids of distinct objects: fewer than u32::MAX in any value.
    out.extend_from_slice(&(holders.len() as u32).to_be_bytes());
    for h in holders {
        out.extend_from_slice(&h.id.0.to_be_bytes());
        match kept(&h) {
            Some(t) => {
                // At most MAX_HELD_TUPLE: fits in a u32.
                out.extend_from_slice(&(t.len() as u32).to_be_bytes());
                out.extend_from_slice(t);
            }
            None => out.extend_from_slice(&NO_TUPLE.to_be_bytes()),
        }
    }
}

/// Decodes the value of a unique entry in either form
/// ([`encode_hash_holders`]): at least one holder, sorted and distinct by
/// id, tuples borrowed from `bytes`.
pub fn decode_hash_holders(bytes: &[u8]) -> Result<Vec<Holder<'_>>> {
    let malformed = |what: String| Error::malformed(format!("unique index entry value: {what}"));
    let holders = if bytes.len() > 8 && bytes[..8] == TUPLES_TAG {
        let mut r = Reader::new(&bytes[8..], "unique hash point value");
        let count = r.u32()?;
        if count == 0 {
            return Err(malformed("no holder".into()));
        }
        let mut holders = Vec::with_capacity(count.min(64) as usize);
        for _ in 0..count {
            let id = ObjectId(r.u64()?);
            let len = r.u32()?;
            let tuple = match len {
                NO_TUPLE => None,
                n if n as usize <= MAX_HELD_TUPLE => Some(r.take(n as usize)?),
                n => {
                    return Err(malformed(format!(
                        "a held tuple of {n} bytes (at most {MAX_HELD_TUPLE})"
                    )))
                }
            };
            holders.push(Holder { id, tuple });
        }
        r.finish()?;
        holders
    } else {
        if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
            return Err(malformed(format!(
                "{} bytes (a non-empty multiple of 8 expected)",
                bytes.len()
            )));
        }
        bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                Holder {
                    id: ObjectId(u64::from_be_bytes(b)),
                    tuple: None,
                }
            })
            .collect()
    };
    if holders.windows(2).any(|w| w[0].id >= w[1].id) {
        return Err(malformed("holders are not sorted and distinct".into()));
    }
    Ok(holders)
}
