//! The stored value encoding (format v2): how a field value is written in an
//! object record, and [`ValueRef`], a value read in place from those bytes.
//!
//! ```text
//! 00  absent            (inside lists, maps and variants only; never a field's value)
//! 01  false
//! 02  true
//! 03  i64               8 bytes little endian
//! 04  u64               8 bytes little endian
//! 05  f64               8 bytes little endian, the raw bits (NaN payloads and -0.0 kept)
//! 06  string            u32 LE length + UTF-8
//! 07  bytes             u32 LE length + bytes
//! 08  ref               u64 LE object id
//! 09  list              u32 LE byte length L of what follows it, then (L bytes:)
//!                       u32 LE count + count elements
//! 0A  map               u32 LE byte length L of what follows it, then (L bytes:)
//!                       u32 LE count + count × (u32 LE key length + key UTF-8 + value);
//!                       keys strictly increasing (byte order)
//! 0B  variant           u32 LE name length + name UTF-8 + one value (the payload)
//! ```
//!
//! The encoding is self-delimiting and prefix-free; lists and maps carry
//! their byte length so that a reader skips them without reading their
//! elements. Unlike the ordered encoding (`value.rs`) it is not canonical
//! for floats: it keeps the exact bits, which an index key does not.
//!
//! Lists, maps and variants nest at most [`MAX_DEPTH`] deep (a list of
//! scalars is at depth 1); every decoder refuses deeper input with an error.

use std::fmt;

use crate::coding::{len_u32, patch_u32, put_str, put_u32, put_u64, put_u8, Input};
use crate::error::{Error, Result};
use crate::ids::ObjectId;
use crate::value::{escape_into, escaped_len, f64_order_bits, tag, Value, END, ENTRY, MAX_DEPTH};

/// Tag bytes of the stored encoding.
mod stag {
    pub const ABSENT: u8 = 0x00;
    pub const FALSE: u8 = 0x01;
    pub const TRUE: u8 = 0x02;
    pub const I64: u8 = 0x03;
    pub const U64: u8 = 0x04;
    pub const F64: u8 = 0x05;
    pub const STRING: u8 = 0x06;
    pub const BYTES: u8 = 0x07;
    pub const REF: u8 = 0x08;
    pub const LIST: u8 = 0x09;
    pub const MAP: u8 = 0x0A;
    pub const VARIANT: u8 = 0x0B;
}

const WHAT: &str = "stored value";

impl Value {
    /// Appends the stored encoding of the value (module docs) to `out`.
    ///
    /// Writes what it is given: a map whose keys are not sorted and
    /// distinct, or a value nested deeper than [`MAX_DEPTH`], is written as
    /// such and refused when read (and by [`crate::Record::encode_checked`]).
    pub fn encode_stored_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Absent => put_u8(out, stag::ABSENT),
            Value::Bool(false) => put_u8(out, stag::FALSE),
            Value::Bool(true) => put_u8(out, stag::TRUE),
            Value::I64(i) => {
                put_u8(out, stag::I64);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::U64(u) => {
                put_u8(out, stag::U64);
                put_u64(out, *u);
            }
            Value::F64(f) => {
                put_u8(out, stag::F64);
                put_u64(out, f.to_bits());
            }
            Value::String(s) => {
                put_u8(out, stag::STRING);
                put_str(out, s);
            }
            Value::Bytes(b) => {
                put_u8(out, stag::BYTES);
                crate::coding::put_bytes(out, b);
            }
            Value::Ref(id) => {
                put_u8(out, stag::REF);
                put_u64(out, id.0);
            }
            Value::List(items) => {
                put_u8(out, stag::LIST);
                let at = out.len();
                put_u32(out, 0);
                put_u32(out, len_u32(items.len()));
                items.iter().for_each(|v| v.encode_stored_into(out));
                let len = len_u32(out.len() - at - 4);
                patch_u32(out, at, len);
            }
            Value::Map(entries) => {
                put_u8(out, stag::MAP);
                let at = out.len();
                put_u32(out, 0);
                put_u32(out, len_u32(entries.len()));
                for (k, v) in entries {
                    put_str(out, k);
                    v.encode_stored_into(out);
                }
                let len = len_u32(out.len() - at - 4);
                patch_u32(out, at, len);
            }
            Value::Variant(v) => {
                put_u8(out, stag::VARIANT);
                put_str(out, &v.0);
                v.1.encode_stored_into(out);
            }
        }
    }

    /// The stored encoding of the value as a new vector.
    pub fn encode_stored(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.encode_stored_into(&mut out);
        out
    }

    /// Decodes `bytes`, which must hold exactly one stored value.
    pub fn decode_stored(bytes: &[u8]) -> Result<Value> {
        Ok(ValueRef::decode(bytes)?.to_value())
    }
}

/// One level deeper, or an error past [`MAX_DEPTH`].
fn nested(depth: usize) -> Result<usize> {
    if depth >= MAX_DEPTH {
        Err(Error::malformed(format!(
            "stored value nested deeper than {MAX_DEPTH}"
        )))
    } else {
        Ok(depth + 1)
    }
}

/// Checks the one stored value at the front of `i` completely (structure,
/// lengths, UTF-8, map key order, depth) and consumes it. Allocates nothing.
pub(crate) fn check(i: &mut Input<'_>, depth: usize) -> Result<()> {
    match i.u8()? {
        stag::ABSENT | stag::FALSE | stag::TRUE => {}
        stag::I64 | stag::U64 | stag::F64 | stag::REF => {
            i.take(8)?;
        }
        stag::STRING => {
            i.str()?;
        }
        stag::BYTES => {
            i.bytes()?;
        }
        stag::LIST => {
            let depth = nested(depth)?;
            let mut body = Input::new(i.bytes()?, "stored list");
            let n = body.count(1)?;
            for _ in 0..n {
                check(&mut body, depth)?;
            }
            body.finish()?;
        }
        stag::MAP => {
            let depth = nested(depth)?;
            let mut body = Input::new(i.bytes()?, "stored map");
            let n = body.count(5)?;
            let mut last: Option<&str> = None;
            for _ in 0..n {
                let key = body.str()?;
                if last.is_some_and(|l| l >= key) {
                    return Err(Error::malformed(
                        "stored map: keys out of order or repeated",
                    ));
                }
                last = Some(key);
                check(&mut body, depth)?;
            }
            body.finish()?;
        }
        stag::VARIANT => {
            let depth = nested(depth)?;
            i.str()?;
            check(i, depth)?;
        }
        t => {
            return Err(Error::malformed(format!(
                "{}: stored value tag {t:#04x}",
                i.what()
            )))
        }
    }
    Ok(())
}

/// Reads the value at the front of `i` one level deep: the children of a
/// list, map or variant are left in place. Bounds-checked but not
/// validating: used on bytes [`check`] accepted.
fn read<'a>(i: &mut Input<'a>) -> Result<ValueRef<'a>> {
    Ok(match i.u8()? {
        stag::ABSENT => ValueRef::Absent,
        stag::FALSE => ValueRef::Bool(false),
        stag::TRUE => ValueRef::Bool(true),
        stag::I64 => ValueRef::I64(i.u64()? as i64),
        stag::U64 => ValueRef::U64(i.u64()?),
        stag::F64 => ValueRef::F64(f64::from_bits(i.u64()?)),
        stag::STRING => ValueRef::Str(i.str()?),
        stag::BYTES => ValueRef::Bytes(i.bytes()?),
        stag::REF => ValueRef::Ref(ObjectId(i.u64()?)),
        stag::LIST => {
            let mut body = Input::new(i.bytes()?, "stored list");
            let len = body.u32()? as usize;
            ValueRef::List(ListRef {
                len,
                elements: body.remaining(),
            })
        }
        stag::MAP => {
            let mut body = Input::new(i.bytes()?, "stored map");
            let len = body.u32()? as usize;
            ValueRef::Map(MapRef {
                len,
                entries: body.remaining(),
            })
        }
        stag::VARIANT => {
            let name = i.str()?;
            let start = i.remaining();
            read(i)?;
            let used = start.len() - i.remaining().len();
            ValueRef::Variant(VariantRef {
                name,
                payload: start.get(..used).unwrap_or_default(),
            })
        }
        t => return Err(Error::malformed(format!("stored value tag {t:#04x}"))),
    })
}

/// A value read in place from its stored encoding, borrowing the bytes.
///
/// Obtained from [`crate::RecordView::field`] or [`ValueRef::decode`], both
/// of which validate the whole value first; the children of a list, map or
/// variant are then read on demand, without a `Result`.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    /// No value.
    Absent,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// An unsigned 64-bit integer.
    U64(u64),
    /// A 64-bit float, with its stored bits.
    F64(f64),
    /// A string.
    Str(&'a str),
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// A reference to another object.
    Ref(ObjectId),
    /// A list.
    List(ListRef<'a>),
    /// A map with string keys (a nested struct, too).
    Map(MapRef<'a>),
    /// An enum value.
    Variant(VariantRef<'a>),
}

impl<'a> ValueRef<'a> {
    /// Validates `bytes`, which must hold exactly one stored value, and
    /// reads it in place.
    pub fn decode(bytes: &'a [u8]) -> Result<ValueRef<'a>> {
        let mut i = Input::new(bytes, WHAT);
        check(&mut i, 0)?;
        i.finish()?;
        read(&mut Input::new(bytes, WHAT))
    }

    /// The value as an owned [`Value`] (float bits kept).
    pub fn to_value(&self) -> Value {
        match *self {
            ValueRef::Absent => Value::Absent,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::I64(i) => Value::I64(i),
            ValueRef::U64(u) => Value::U64(u),
            ValueRef::F64(f) => Value::F64(f),
            ValueRef::Str(s) => Value::String(s.to_owned()),
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::Ref(id) => Value::Ref(id),
            ValueRef::List(l) => Value::List(l.iter().map(|v| v.to_value()).collect()),
            ValueRef::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
            ValueRef::Variant(v) => Value::variant(v.name, v.payload().to_value()),
        }
    }

    /// A short name of the value's type, as [`Value::type_name`] says it.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Absent => "absent",
            ValueRef::Bool(_) => "bool",
            ValueRef::I64(_) => "i64",
            ValueRef::U64(_) => "u64",
            ValueRef::F64(_) => "f64",
            ValueRef::Str(_) => "string",
            ValueRef::Bytes(_) => "bytes",
            ValueRef::Ref(_) => "ref",
            ValueRef::List(_) => "list",
            ValueRef::Map(_) => "map",
            ValueRef::Variant(_) => "variant",
        }
    }

    /// Whether the value is `Absent`.
    pub fn is_absent(&self) -> bool {
        matches!(self, ValueRef::Absent)
    }

    /// Whether the value is a scalar (not a list, map or variant).
    pub fn is_scalar(&self) -> bool {
        !matches!(
            self,
            ValueRef::List(_) | ValueRef::Map(_) | ValueRef::Variant(_)
        )
    }

    /// The value of map entry `key` (`None` for a missing key or a value
    /// that is not a map).
    pub fn get(&self, key: &str) -> Option<ValueRef<'a>> {
        match self {
            ValueRef::Map(m) => m.get(key),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            ValueRef::Absent => tag::ABSENT,
            ValueRef::Bool(_) => tag::BOOL,
            ValueRef::I64(_) => tag::I64,
            ValueRef::U64(_) => tag::U64,
            ValueRef::F64(_) => tag::F64,
            ValueRef::Str(_) => tag::STRING,
            ValueRef::Bytes(_) => tag::BYTES,
            ValueRef::Ref(_) => tag::REF,
            ValueRef::List(_) => tag::LIST,
            ValueRef::Map(_) => tag::MAP,
            ValueRef::Variant(_) => tag::VARIANT,
        }
    }

    /// Appends the order-preserving encoding of the value: the same bytes
    /// as [`Value::encode_ordered_into`] of [`ValueRef::to_value`], without
    /// building the owned value.
    pub fn encode_ordered_into(&self, out: &mut Vec<u8>) {
        out.push(self.rank());
        match *self {
            ValueRef::Absent => {}
            ValueRef::Bool(b) => out.push(u8::from(b)),
            ValueRef::I64(i) => out.extend_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes()),
            ValueRef::U64(u) => out.extend_from_slice(&u.to_be_bytes()),
            ValueRef::F64(f) => out.extend_from_slice(&f64_order_bits(f).to_be_bytes()),
            ValueRef::Str(s) => escape_into(s.as_bytes(), out, true),
            ValueRef::Bytes(b) => escape_into(b, out, true),
            ValueRef::Ref(id) => out.extend_from_slice(&id.0.to_be_bytes()),
            ValueRef::List(l) => {
                l.iter().for_each(|v| v.encode_ordered_into(out));
                out.push(END);
            }
            ValueRef::Map(m) => {
                for (k, v) in m.iter() {
                    out.push(ENTRY);
                    escape_into(k.as_bytes(), out, true);
                    v.encode_ordered_into(out);
                }
                out.push(END);
            }
            ValueRef::Variant(v) => {
                escape_into(v.name.as_bytes(), out, true);
                v.payload().encode_ordered_into(out);
            }
        }
    }

    /// The order-preserving encoding of the value as a new vector.
    pub fn encode_ordered(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        self.encode_ordered_into(&mut out);
        out
    }

    /// The length of [`ValueRef::encode_ordered`], computed without
    /// encoding (what [`crate::MAX_ORDERED_VALUE_LEN`] is checked on).
    pub fn ordered_len(&self) -> usize {
        1 + match *self {
            ValueRef::Absent => 0,
            ValueRef::Bool(_) => 1,
            ValueRef::I64(_) | ValueRef::U64(_) | ValueRef::F64(_) | ValueRef::Ref(_) => 8,
            ValueRef::Str(s) => escaped_len(s.as_bytes()),
            ValueRef::Bytes(b) => escaped_len(b),
            ValueRef::List(l) => l.iter().map(|v| v.ordered_len()).sum::<usize>() + 1,
            ValueRef::Map(m) => {
                m.iter()
                    .map(|(k, v)| 1 + escaped_len(k.as_bytes()) + v.ordered_len())
                    .sum::<usize>()
                    + 1
            }
            ValueRef::Variant(v) => escaped_len(v.name.as_bytes()) + v.payload().ordered_len(),
        }
    }
}

impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_value().fmt(f)
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Value {
        v.to_value()
    }
}

/// A stored list, read in place; its elements were validated with it.
#[derive(Clone, Copy)]
pub struct ListRef<'a> {
    len: usize,
    elements: &'a [u8],
}

impl<'a> ListRef<'a> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements, in order.
    pub fn iter(&self) -> ListIter<'a> {
        ListIter {
            left: self.len,
            input: Input::new(self.elements, "stored list"),
        }
    }

    /// Element `index`, if the list is that long.
    pub fn get(&self, index: usize) -> Option<ValueRef<'a>> {
        self.iter().nth(index)
    }
}

impl fmt::Debug for ListRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for ListRef<'a> {
    type Item = ValueRef<'a>;
    type IntoIter = ListIter<'a>;

    fn into_iter(self) -> ListIter<'a> {
        self.iter()
    }
}

/// The elements of a [`ListRef`].
#[derive(Debug, Clone)]
pub struct ListIter<'a> {
    left: usize,
    input: Input<'a>,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<ValueRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The list was validated: a read cannot fail. Should it, the
        // iteration ends rather than panicking.
        let v = read(&mut self.input).ok();
        if v.is_none() {
            self.left = 0;
        }
        v
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// A stored map, read in place; its entries were validated with it and
/// are in increasing key order.
#[derive(Clone, Copy)]
pub struct MapRef<'a> {
    len: usize,
    entries: &'a [u8],
}

impl<'a> MapRef<'a> {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries, in increasing key order.
    pub fn iter(&self) -> MapIter<'a> {
        MapIter {
            left: self.len,
            input: Input::new(self.entries, "stored map"),
        }
    }

    /// The value of entry `key`.
    pub fn get(&self, key: &str) -> Option<ValueRef<'a>> {
        for (k, v) in self.iter() {
            match k.cmp(key) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some(v),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

impl fmt::Debug for MapRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for MapRef<'a> {
    type Item = (&'a str, ValueRef<'a>);
    type IntoIter = MapIter<'a>;

    fn into_iter(self) -> MapIter<'a> {
        self.iter()
    }
}

/// The entries of a [`MapRef`].
#[derive(Debug, Clone)]
pub struct MapIter<'a> {
    left: usize,
    input: Input<'a>,
}

impl<'a> Iterator for MapIter<'a> {
    type Item = (&'a str, ValueRef<'a>);

    fn next(&mut self) -> Option<(&'a str, ValueRef<'a>)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated with the map: cannot fail (if it did, iteration ends).
        let entry = self
            .input
            .str()
            .and_then(|k| Ok((k, read(&mut self.input)?)))
            .ok();
        if entry.is_none() {
            self.left = 0;
        }
        entry
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// A stored enum value, read in place.
#[derive(Clone, Copy)]
pub struct VariantRef<'a> {
    name: &'a str,
    payload: &'a [u8],
}

impl<'a> VariantRef<'a> {
    /// The variant's name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The payload (`Absent` for a unit variant).
    pub fn payload(&self) -> ValueRef<'a> {
        // Validated with the variant: cannot fail.
        read(&mut Input::new(self.payload, WHAT)).unwrap_or(ValueRef::Absent)
    }
}

impl fmt::Debug for VariantRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VariantRef")
            .field(&self.name)
            .field(&self.payload())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::tests::any_value;
    use proptest::prelude::*;

    /// The stored bytes compare bit for bit (Value's `==` is the index's
    /// equality, under which NaNs are equal and -0.0 == 0.0).
    fn same_bits(a: &Value, b: &Value) -> bool {
        a.encode_stored() == b.encode_stored()
    }

    fn nest(depth: usize) -> Value {
        let mut v = Value::U64(1);
        for _ in 0..depth {
            v = Value::List(vec![v]);
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn round_trip_is_bit_exact(v in any_value()) {
            let enc = v.encode_stored();
            let back = Value::decode_stored(&enc).expect("decodes");
            prop_assert!(same_bits(&back, &v), "{:?} vs {:?}", back, v);
            prop_assert_eq!(back.encode_stored(), enc);
        }

        #[test]
        fn borrowed_ordered_encoding_is_the_owned_one(v in any_value()) {
            let enc = v.encode_stored();
            let r = ValueRef::decode(&enc).expect("decodes");
            prop_assert_eq!(r.encode_ordered(), v.encode_ordered());
            prop_assert_eq!(r.ordered_len(), v.ordered_len());
            prop_assert_eq!(r.type_name(), v.type_name());
            prop_assert_eq!(r.to_string(), v.to_string());
        }

        #[test]
        fn map_get_finds_every_key(v in any_value()) {
            if let Value::Map(entries) = &v {
                let enc = v.encode_stored();
                let r = ValueRef::decode(&enc).expect("decodes");
                for (k, val) in entries {
                    let got = r.get(k).expect("present").to_value();
                    prop_assert!(same_bits(&got, val));
                }
                let missing = "\u{10FFFF}never";
                prop_assert!(r.get(missing).is_none());
            }
        }

        #[test]
        fn every_truncation_fails(v in any_value()) {
            let enc = v.encode_stored();
            for len in 0..enc.len() {
                prop_assert!(ValueRef::decode(&enc[..len]).is_err(), "len {}", len);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            if let Ok(v) = ValueRef::decode(&bytes) {
                prop_assert_eq!(v.to_value().encode_stored(), bytes);
            }
        }

        #[test]
        fn single_byte_damage_never_panics(v in any_value(), at in any::<prop::sample::Index>(),
                                            byte in any::<u8>()) {
            let mut enc = v.encode_stored();
            let i = at.index(enc.len());
            enc[i] = byte;
            if let Ok(r) = ValueRef::decode(&enc) {
                let _ = r.encode_ordered();
                let back = r.to_value();
                prop_assert_eq!(back.encode_stored(), enc.clone());
            }
        }
    }

    #[test]
    fn documented_bytes() {
        let hex = |v: Value| v.encode_stored();
        assert_eq!(hex(Value::Absent), [0x00]);
        assert_eq!(hex(Value::Bool(true)), [0x02]);
        assert_eq!(
            hex(Value::I64(-2)),
            [0x03, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(hex(Value::from("ab")), [0x06, 2, 0, 0, 0, b'a', b'b']);
        assert_eq!(
            hex(Value::List(vec![Value::Bool(false), Value::Absent])),
            [0x09, 6, 0, 0, 0, 2, 0, 0, 0, 0x01, 0x00]
        );
        assert_eq!(
            hex(Value::map([("k".to_string(), Value::Bool(true))]).expect("map")),
            [0x0A, 10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'k', 0x02]
        );
        assert_eq!(
            hex(Value::variant("V", Value::Absent)),
            [0x0B, 1, 0, 0, 0, b'V', 0x00]
        );
    }

    #[test]
    fn depth_limit() {
        assert!(Value::decode_stored(&nest(MAX_DEPTH).encode_stored()).is_ok());
        assert!(matches!(
            Value::decode_stored(&nest(MAX_DEPTH + 1).encode_stored()),
            Err(Error::Malformed(_))
        ));
        let mut deep = Value::Absent;
        for _ in 0..=MAX_DEPTH {
            deep = Value::variant("v", deep);
        }
        assert!(Value::decode_stored(&deep.encode_stored()).is_err());
        // A long run of variant headers is refused by depth, not by the stack.
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            bytes.extend_from_slice(&[0x0B, 0, 0, 0, 0]);
        }
        bytes.push(0);
        assert!(Value::decode_stored(&bytes).is_err());
    }

    #[test]
    fn bad_structure_is_malformed() {
        // Map keys out of order, repeated.
        let unsorted = Value::Map(vec![
            ("b".into(), Value::Absent),
            ("a".into(), Value::Absent),
        ]);
        assert!(Value::decode_stored(&unsorted.encode_stored()).is_err());
        let repeated = Value::Map(vec![
            ("a".into(), Value::Absent),
            ("a".into(), Value::Absent),
        ]);
        assert!(Value::decode_stored(&repeated.encode_stored()).is_err());
        // A list whose byte length covers less or more than its elements.
        let mut short = Value::List(vec![Value::U64(1)]).encode_stored();
        short[1] -= 1;
        assert!(Value::decode_stored(&short).is_err());
        let mut long = Value::List(vec![Value::Bool(true)]).encode_stored();
        long[1] += 1;
        long.push(0);
        assert!(Value::decode_stored(&long).is_err());
        // A count larger than the body.
        assert!(Value::decode_stored(&[0x09, 4, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        // Unknown tag, bad UTF-8, trailing bytes.
        assert!(Value::decode_stored(&[0x0C]).is_err());
        assert!(Value::decode_stored(&[0x06, 1, 0, 0, 0, 0xFF]).is_err());
        assert!(Value::decode_stored(&[0x01, 0x01]).is_err());
        assert!(Value::decode_stored(&[]).is_err());
    }

    #[test]
    fn special_floats_and_extremes_keep_their_bits() {
        for v in [
            Value::F64(f64::from_bits(0x7FF0_0000_0000_0001)),
            Value::F64(f64::from_bits(0xFFF8_0000_0000_1234)),
            Value::F64(-0.0),
            Value::U64(u64::MAX),
            Value::I64(i64::MIN),
        ] {
            let nested = Value::List(vec![v.clone()]);
            for v in [v, nested] {
                let back = Value::decode_stored(&v.encode_stored()).expect("decodes");
                assert!(same_bits(&back, &v), "{v:?}");
            }
        }
    }
}
