//! Field values and their order-preserving, prefix-free key encoding.
//!
//! The encoding (docs/FORMAT.md, "Value encoding") is what ordered-index keys
//! are made of: comparing two encodings byte-wise compares the values, and no
//! encoding is a prefix of another, so encodings can be concatenated into
//! tuples (compound keys) and followed by an object id without changing order.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};
use crate::ids::ObjectId;
use crate::reader::Reader;

/// The largest ordered encoding of a value that may go into an index key.
/// A longer value is refused by the engine with a typed error.
pub const MAX_ORDERED_VALUE_LEN: usize = 1024;

/// The deepest nesting of lists, maps and variants a value may have: a
/// scalar is at depth 0, a list of scalars at depth 1. Deeper values are
/// refused by writers and by every decoder (so no input can exhaust the
/// stack).
pub const MAX_DEPTH: usize = 64;

/// A field value.
///
/// Equality and order are those of the index: `-0.0 == 0.0`, every NaN equals
/// every other NaN and sorts after `+inf`; values of different types order by
/// type (`Absent` first), in the order of the variants below.
#[derive(Debug, Clone)]
pub enum Value {
    /// No value (an optional field that is not set).
    Absent,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// An unsigned 64-bit integer.
    U64(u64),
    /// A 64-bit float.
    F64(f64),
    /// A UTF-8 string.
    String(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A reference to another object.
    Ref(ObjectId),
    /// A sequence of values: a `Vec`, a tuple, a tuple struct; `()` is the
    /// empty list.
    List(Vec<Value>),
    /// A map with string keys, or a nested struct (its member names as
    /// keys). Entries are kept sorted by key (byte order) with no key
    /// twice: build one with [`Value::map`].
    Map(Vec<(String, Value)>),
    /// An enum value: the variant's name and its payload (`Absent` for a
    /// unit variant, a `List` for a tuple variant, a `Map` for a struct
    /// variant, the value itself for a newtype variant).
    Variant(Box<(String, Value)>),
}

/// Tag bytes of the ordered encoding, in sort order.
pub(crate) mod tag {
    pub const ABSENT: u8 = 0x01;
    pub const BOOL: u8 = 0x02;
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

/// Ends a list or a map in the ordered encoding; below every value tag and
/// every map-entry marker, so a shorter list sorts first.
pub(crate) const END: u8 = 0x00;
/// Starts each entry of a map in the ordered encoding.
pub(crate) const ENTRY: u8 = 0x01;

/// In strings and bytes, a zero byte is written as `00 FF` and the end as `00 01`.
const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// The one NaN every NaN is stored as.
const CANONICAL_NAN: u64 = 0x7FF8_0000_0000_0000;

fn canonical_f64_bits(f: f64) -> u64 {
    if f.is_nan() {
        CANONICAL_NAN
    } else if f == 0.0 {
        0 // folds -0.0 into +0.0
    } else {
        f.to_bits()
    }
}

/// Maps float bits to an unsigned integer with the same order:
/// negatives have all bits flipped, positives get the sign bit set.
pub(crate) fn f64_order_bits(f: f64) -> u64 {
    let bits = canonical_f64_bits(f);
    if bits & (1 << 63) != 0 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn f64_from_order_bits(ordered: u64) -> f64 {
    let bits = if ordered & (1 << 63) != 0 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Absent => tag::ABSENT,
            Value::Bool(_) => tag::BOOL,
            Value::I64(_) => tag::I64,
            Value::U64(_) => tag::U64,
            Value::F64(_) => tag::F64,
            Value::String(_) => tag::STRING,
            Value::Bytes(_) => tag::BYTES,
            Value::Ref(_) => tag::REF,
            Value::List(_) => tag::LIST,
            Value::Map(_) => tag::MAP,
            Value::Variant(_) => tag::VARIANT,
        }
    }

    /// A map value from entries in any order: sorted by key; `None` when a
    /// key appears twice.
    pub fn map(entries: impl IntoIterator<Item = (String, Value)>) -> Option<Value> {
        let mut entries: Vec<(String, Value)> = entries.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(Value::Map(entries))
    }

    /// An enum value: variant `name` with `payload`.
    pub fn variant(name: impl Into<String>, payload: Value) -> Value {
        Value::Variant(Box::new((name.into(), payload)))
    }

    /// The value of map entry `key` (`None` for a missing key or a value
    /// that is not a map).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .binary_search_by(|(k, _)| k.as_str().cmp(key))
                .ok()
                .map(|i| &entries[i].1),
            _ => None,
        }
    }

    /// How deeply lists, maps and variants nest in the value (0 for a
    /// scalar); compare with [`MAX_DEPTH`].
    pub fn depth(&self) -> usize {
        match self {
            Value::List(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Map(entries) => 1 + entries.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            Value::Variant(v) => 1 + v.1.depth(),
            _ => 0,
        }
    }

    /// Whether the value is a scalar (not a list, map or variant).
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::List(_) | Value::Map(_) | Value::Variant(_))
    }

    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Absent => "absent",
            Value::Bool(_) => "bool",
            Value::I64(_) => "i64",
            Value::U64(_) => "u64",
            Value::F64(_) => "f64",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Ref(_) => "ref",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Variant(_) => "variant",
        }
    }

    /// Appends the order-preserving encoding of the value to `out`.
    pub fn encode_ordered_into(&self, out: &mut Vec<u8>) {
        out.push(self.rank());
        match self {
            Value::Absent => {}
            Value::Bool(b) => out.push(u8::from(*b)),
            Value::I64(i) => out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes()),
            Value::U64(u) => out.extend_from_slice(&u.to_be_bytes()),
            Value::F64(f) => out.extend_from_slice(&f64_order_bits(*f).to_be_bytes()),
            Value::String(s) => escape_into(s.as_bytes(), out, true),
            Value::Bytes(b) => escape_into(b, out, true),
            Value::Ref(id) => out.extend_from_slice(&id.0.to_be_bytes()),
            Value::List(items) => {
                items.iter().for_each(|v| v.encode_ordered_into(out));
                out.push(END);
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    out.push(ENTRY);
                    escape_into(k.as_bytes(), out, true);
                    v.encode_ordered_into(out);
                }
                out.push(END);
            }
            Value::Variant(v) => {
                escape_into(v.0.as_bytes(), out, true);
                v.1.encode_ordered_into(out);
            }
        }
    }

    /// The length of [`Value::encode_ordered`], computed without encoding:
    /// what the ordered-key limit ([`MAX_ORDERED_VALUE_LEN`]) is checked on.
    pub fn ordered_len(&self) -> usize {
        1 + match self {
            Value::Absent => 0,
            Value::Bool(_) => 1,
            Value::I64(_) | Value::U64(_) | Value::F64(_) | Value::Ref(_) => 8,
            Value::String(s) => escaped_len(s.as_bytes()),
            Value::Bytes(b) => escaped_len(b),
            Value::List(items) => items.iter().map(Value::ordered_len).sum::<usize>() + 1,
            Value::Map(entries) => {
                entries
                    .iter()
                    .map(|(k, v)| 1 + escaped_len(k.as_bytes()) + v.ordered_len())
                    .sum::<usize>()
                    + 1
            }
            Value::Variant(v) => escaped_len(v.0.as_bytes()) + v.1.ordered_len(),
        }
    }

    /// The order-preserving encoding of the value.
    pub fn encode_ordered(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        self.encode_ordered_into(&mut out);
        out
    }

    /// Decodes one value from the front of `bytes`; returns it and the number
    /// of bytes it took. Only canonical encodings are accepted, so a decoded
    /// value always re-encodes to the same bytes.
    pub fn decode_ordered(bytes: &[u8]) -> Result<(Value, usize)> {
        let mut r = Reader::new(bytes, "ordered value");
        let value = decode_one(&mut r, 0)?;
        Ok((value, bytes.len() - r.remaining().len()))
    }

    /// The encoding of every string (or bytes value) that starts with
    /// `self`, without the terminator: a key-prefix for prefix scans.
    /// `None` for types other than string and bytes.
    pub fn ordered_prefix(&self) -> Option<Vec<u8>> {
        let mut out = vec![self.rank()];
        match self {
            Value::String(s) => escape_into(s.as_bytes(), &mut out, false),
            Value::Bytes(b) => escape_into(b, &mut out, false),
            _ => return None,
        }
        Some(out)
    }
}

/// The length of [`escape_into`]'s output with the terminator.
pub(crate) fn escaped_len(bytes: &[u8]) -> usize {
    bytes.len() + bytes.iter().filter(|&&c| c == ESCAPE).count() + 2
}

pub(crate) fn escape_into(bytes: &[u8], out: &mut Vec<u8>, terminate: bool) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    if terminate {
        out.extend_from_slice(&[ESCAPE, TERMINATOR]);
    }
}

fn unescape(r: &mut Reader<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let rest = r.remaining();
        let Some(zero) = rest.iter().position(|&b| b == ESCAPE) else {
            return Err(Error::Truncated {
                what: "escaped string or bytes",
            });
        };
        out.extend_from_slice(&rest[..zero]);
        r.advance(zero + 1);
        match r.u8()? {
            ESCAPED_ZERO => out.push(0),
            TERMINATOR => return Ok(out),
            other => {
                return Err(Error::malformed(format!(
                    "escape sequence 00 {other:02x} in ordered value"
                )))
            }
        }
    }
}

fn decode_string(r: &mut Reader<'_>) -> Result<String> {
    String::from_utf8(unescape(r)?).map_err(|_| Error::malformed("string is not UTF-8"))
}

fn decode_one(r: &mut Reader<'_>, depth: usize) -> Result<Value> {
    let t = r.u8()?;
    let nested = |depth: usize| {
        if depth >= MAX_DEPTH {
            Err(Error::malformed(format!(
                "ordered value nested deeper than {MAX_DEPTH}"
            )))
        } else {
            Ok(depth + 1)
        }
    };
    Ok(match t {
        tag::ABSENT => Value::Absent,
        tag::BOOL => match r.u8()? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(Error::malformed(format!("bool byte {b:#04x}"))),
        },
        tag::I64 => Value::I64((r.u64()? ^ (1 << 63)) as i64),
        tag::U64 => Value::U64(r.u64()?),
        tag::F64 => {
            let ordered = r.u64()?;
            let f = f64_from_order_bits(ordered);
            if f64_order_bits(f) != ordered {
                return Err(Error::malformed(
                    "non-canonical float (-0.0 or NaN payload)",
                ));
            }
            Value::F64(f)
        }
        tag::STRING => Value::String(decode_string(r)?),
        tag::BYTES => Value::Bytes(unescape(r)?),
        tag::REF => Value::Ref(ObjectId(r.u64()?)),
        tag::LIST => {
            let depth = nested(depth)?;
            let mut items = Vec::new();
            while r.remaining().first() != Some(&END) {
                items.push(decode_one(r, depth)?);
            }
            r.advance(1);
            Value::List(items)
        }
        tag::MAP => {
            let depth = nested(depth)?;
            let mut entries: Vec<(String, Value)> = Vec::new();
            loop {
                match r.u8()? {
                    END => break,
                    ENTRY => {}
                    b => return Err(Error::malformed(format!("map entry marker {b:#04x}"))),
                }
                let key = decode_string(r)?;
                if entries.last().is_some_and(|(last, _)| *last >= key) {
                    return Err(Error::malformed("map keys out of order or repeated"));
                }
                entries.push((key, decode_one(r, depth)?));
            }
            Value::Map(entries)
        }
        tag::VARIANT => {
            let depth = nested(depth)?;
            let name = decode_string(r)?;
            Value::variant(name, decode_one(r, depth)?)
        }
        other => return Err(Error::malformed(format!("value tag {other:#04x}"))),
    })
}

/// Appends the encodings of `values` one after another: tuples order
/// element-wise, because each encoding is prefix-free.
pub fn encode_tuple_into(values: &[Value], out: &mut Vec<u8>) {
    for v in values {
        v.encode_ordered_into(out);
    }
}

/// One value of an ordered tuple, read from `r` (see [`decode_tuple`]).
pub(crate) fn decode_ordered_one(r: &mut Reader<'_>) -> Result<Value> {
    decode_one(r, 0)
}

/// Decodes a whole byte string as a tuple of ordered values.
pub fn decode_tuple(bytes: &[u8]) -> Result<Vec<Value>> {
    let mut r = Reader::new(bytes, "ordered tuple");
    let mut out = Vec::new();
    while !r.remaining().is_empty() {
        out.push(decode_one(&mut r, 0)?);
    }
    Ok(out)
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Absent, Value::Absent) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::I64(a), Value::I64(b)) => a.cmp(b),
            (Value::U64(a), Value::U64(b)) => a.cmp(b),
            (Value::F64(a), Value::F64(b)) => match (a.is_nan(), b.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // -0.0 == 0.0 under partial_cmp, which is total without NaN.
                (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            },
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Ref(a), Value::Ref(b)) => a.cmp(b),
            (Value::List(a), Value::List(b)) => a.cmp(b),
            // Keys compare as escaped strings do: byte-wise, which is
            // `str`'s order.
            (Value::Map(a), Value::Map(b)) => a.cmp(b),
            (Value::Variant(a), Value::Variant(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with Eq: equal values have equal encodings.
        self.encode_ordered().hash(state);
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Absent => f.write_str("absent"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::I64(i) => write!(f, "{i}"),
            Value::U64(u) => write!(f, "{u}"),
            Value::F64(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Value::Ref(id) => write!(f, "@{id}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Variant(v) => match &v.1 {
                Value::Absent => write!(f, "{}", v.0),
                payload => write!(f, "{}({payload})", v.0),
            },
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v.into()) }
        }
    )*};
}
value_from!(bool => Bool, i64 => I64, i32 => I64, u64 => U64, u32 => U64, f64 => F64,
    String => String, &str => String, Vec<u8> => Bytes, ObjectId => Ref);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Absent, Into::into)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any value, scalars and nested lists, maps and variants (up to a few
    /// levels deep), with the corner cases the encodings must get right
    /// drawn often.
    pub(crate) fn any_value() -> impl Strategy<Value = Value> {
        let key = || proptest::string::string_regex("[ab\u{0}é]{0,3}").expect("valid regex");
        any_scalar().prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                proptest::collection::btree_map(key(), inner.clone(), 0..4)
                    .prop_map(|m| Value::Map(m.into_iter().collect())),
                (key(), inner).prop_map(|(name, payload)| Value::variant(name, payload)),
            ]
        })
    }

    /// Any scalar value (and `Absent`), corner cases drawn often.
    pub(crate) fn any_scalar() -> impl Strategy<Value = Value> {
        let float = prop_oneof![
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::from_bits(0x7FF0_0000_0000_0001)), // signalling NaN
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            Just(f64::MAX),
            Just(f64::MIN),
        ];
        // Small alphabets make prefixes and embedded zeros common.
        let text = proptest::string::string_regex("[ab\u{0}\u{ff}é]{0,6}").expect("valid regex");
        let bytes = proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1), Just(0xFF), any::<u8>()],
            0..6,
        );
        prop_oneof![
            Just(Value::Absent),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![
                any::<i64>(),
                Just(i64::MIN),
                Just(i64::MAX),
                Just(0),
                Just(-1)
            ]
            .prop_map(Value::I64),
            prop_oneof![any::<u64>(), Just(0), Just(u64::MAX)].prop_map(Value::U64),
            float.prop_map(Value::F64),
            text.prop_map(Value::String),
            bytes.prop_map(Value::Bytes),
            any::<u64>().prop_map(|i| Value::Ref(ObjectId(i))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn order_is_preserved(a in any_value(), b in any_value()) {
            prop_assert_eq!(a.cmp(&b), a.encode_ordered().cmp(&b.encode_ordered()),
                "{} vs {}", a, b);
        }

        #[test]
        fn tuple_order_is_preserved(
            a in proptest::collection::vec(any_value(), 0..4),
            b in proptest::collection::vec(any_value(), 0..4),
        ) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            encode_tuple_into(&a, &mut ea);
            encode_tuple_into(&b, &mut eb);
            prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
        }

        #[test]
        fn value_followed_by_id_keeps_order(a in any_value(), b in any_value(),
                                            ia in any::<u64>(), ib in any::<u64>()) {
            // What an IR key is: value then object id.
            let mut ea = a.encode_ordered();
            ea.extend_from_slice(&ia.to_be_bytes());
            let mut eb = b.encode_ordered();
            eb.extend_from_slice(&ib.to_be_bytes());
            prop_assert_eq!(a.cmp(&b).then(ia.cmp(&ib)), ea.cmp(&eb));
        }

        #[test]
        fn round_trip(v in any_value()) {
            let enc = v.encode_ordered();
            let (back, used) = Value::decode_ordered(&enc).expect("decodes");
            prop_assert_eq!(used, enc.len());
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(back.encode_ordered(), enc);
        }

        #[test]
        fn tuple_round_trip(vs in proptest::collection::vec(any_value(), 0..5)) {
            let mut enc = Vec::new();
            encode_tuple_into(&vs, &mut enc);
            prop_assert_eq!(decode_tuple(&enc).expect("decodes"), vs);
        }

        #[test]
        fn every_truncation_fails(v in any_value()) {
            let enc = v.encode_ordered();
            for len in 0..enc.len() {
                prop_assert!(Value::decode_ordered(&enc[..len]).is_err(), "len {}", len);
            }
        }

        #[test]
        fn ordered_len_is_the_length_of_the_encoding(v in any_value()) {
            prop_assert_eq!(v.ordered_len(), v.encode_ordered().len());
        }

        #[test]
        fn prefix_encoding_is_a_key_prefix(s in "[ab\u{0}]{0,4}", t in "[ab\u{0}]{0,4}") {
            let whole = format!("{s}{t}");
            let prefix = Value::String(s).ordered_prefix().expect("string has a prefix");
            prop_assert!(Value::String(whole).encode_ordered().starts_with(&prefix));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            if let Ok((v, used)) = Value::decode_ordered(&bytes) {
                prop_assert_eq!(v.encode_ordered(), bytes[..used].to_vec());
            }
        }
    }

    #[test]
    fn floats_are_canonicalised() {
        assert_eq!(
            Value::F64(-0.0).encode_ordered(),
            Value::F64(0.0).encode_ordered()
        );
        assert_eq!(
            Value::F64(f64::NAN).encode_ordered(),
            Value::F64(-f64::NAN).encode_ordered()
        );
        assert!(Value::F64(f64::INFINITY).encode_ordered() < Value::F64(f64::NAN).encode_ordered());
        // The -0.0 bit pattern is not a canonical encoding.
        let mut neg_zero = vec![tag::F64];
        neg_zero.extend_from_slice(&(!(-0.0f64).to_bits()).to_be_bytes());
        assert!(matches!(
            Value::decode_ordered(&neg_zero),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn embedded_zero_and_prefix_strings() {
        let e = |s: &str| Value::String(s.into()).encode_ordered();
        assert_eq!(e("a\0b"), [tag::STRING, b'a', 0, 0xFF, b'b', 0, 1]);
        assert!(e("a") < e("a\0"));
        assert!(e("a\0") < e("a\u{1}"));
        assert!(e("") < e("a"));
    }

    #[test]
    fn ordered_len_is_the_encoded_length() {
        for v in [
            Value::Absent,
            Value::Bool(true),
            Value::I64(-3),
            Value::U64(3),
            Value::F64(1.5),
            Value::Ref(ObjectId(9)),
            Value::String("a\0b\0".into()),
            Value::Bytes(vec![0, 0, 1]),
            Value::String(String::new()),
        ] {
            assert_eq!(v.ordered_len(), v.encode_ordered().len(), "{v:?}");
        }
    }

    #[test]
    fn bad_escape_and_bad_tag_are_malformed() {
        assert!(matches!(
            Value::decode_ordered(&[tag::STRING, b'a', 0, 7]),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            Value::decode_ordered(&[0x42]),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            Value::decode_ordered(&[tag::BOOL, 2]),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            Value::decode_ordered(&[tag::STRING, 0xC3, 0, 1]),
            Err(Error::Malformed(_))
        ));
    }
}
