//! A [`Value`] inside a typed struct (an `Any` field, or any field a
//! `Value` is given for) is stored as itself: `Value::U64(5)` is the stored
//! `u64` 5, found by `find_all(.., &Value::U64(5))` like the dynamic API's.
//!
//! `Value` serializes as a newtype struct named [`VALUE_TOKEN`] around its
//! externally tagged enum form (format crate, `value_serde.rs`); the
//! serializer, on that name, rebuilds the value from the tagged form
//! ([`capture`]) instead of storing the tagging, and the deserializer, on
//! that name, hands the stored value back in the tagged form
//! ([`TaggedDe`]).

use serde::de::{self, DeserializeSeed, EnumAccess, IntoDeserializer, VariantAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde::ser::{self, Impossible, Serialize};

use rockhold_format::{ObjectId, Value, MAX_DEPTH};

pub(crate) use rockhold_format::VALUE_TOKEN;

/// Why a `Value` could not be captured (a message; the caller names the path).
#[derive(Debug)]
pub(crate) struct NotAValue(pub(crate) String, pub(crate) Deep);

/// Whether a [`NotAValue`] is the depth limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deep {
    No,
    TooDeep,
}

impl std::fmt::Display for NotAValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotAValue {}

impl ser::Error for NotAValue {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        NotAValue(msg.to_string(), Deep::No)
    }
}

type CResult<T> = std::result::Result<T, NotAValue>;

fn too_deep() -> NotAValue {
    NotAValue(
        format!("the value nests more than {MAX_DEPTH} levels of lists, maps and variants"),
        Deep::TooDeep,
    )
}

/// The `Value` whose tagged form `tagged` serializes, `depth` levels
/// inside the stored value (deeper than [`MAX_DEPTH`] is refused before
/// the stack is at risk).
pub(crate) fn capture<T: Serialize + ?Sized>(tagged: &T, depth: usize) -> CResult<Value> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    tagged.serialize(Tag { depth })
}

/// The tagged enum of one `Value`.
struct Tag {
    depth: usize,
}

fn not_a_value(found: &str) -> NotAValue {
    NotAValue(
        format!("a rockhold Value serialized as {found}, not as its tagged form"),
        Deep::No,
    )
}

macro_rules! refuse_tag {
    ($($f:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $f(self, $(_: $arg),*) -> CResult<Value> {
            Err(not_a_value("another type"))
        })*
    };
}

impl ser::Serializer for Tag {
    type Ok = Value;
    type Error = NotAValue;
    type SerializeSeq = Impossible<Value, NotAValue>;
    type SerializeTuple = Impossible<Value, NotAValue>;
    type SerializeTupleStruct = Impossible<Value, NotAValue>;
    type SerializeTupleVariant = Impossible<Value, NotAValue>;
    type SerializeMap = Impossible<Value, NotAValue>;
    type SerializeStruct = Impossible<Value, NotAValue>;
    type SerializeStructVariant = Impossible<Value, NotAValue>;

    refuse_tag!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> CResult<Value> {
        Err(not_a_value("an option"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> CResult<Value> {
        match variant {
            "Absent" => Ok(Value::Absent),
            other => Err(NotAValue(
                format!("unknown Value variant {other:?}"),
                Deep::No,
            )),
        }
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> CResult<Value> {
        Err(not_a_value("a newtype struct"))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        payload: &T,
    ) -> CResult<Value> {
        let inner = payload.serialize(Plain { depth: self.depth })?;
        let wrong = |what: &str| NotAValue(format!("Value::{variant} holding {what}"), Deep::No);
        Ok(match (variant, inner) {
            ("Bool", v @ Value::Bool(_))
            | ("I64", v @ Value::I64(_))
            | ("U64", v @ Value::U64(_))
            | ("F64", v @ Value::F64(_))
            | ("String", v @ Value::String(_)) => v,
            ("Ref", Value::U64(u)) => Value::Ref(ObjectId(u)),
            ("Bytes", Value::List(items)) => Value::Bytes(
                items
                    .into_iter()
                    .map(|b| match b {
                        Value::U64(u) => u8::try_from(u).map_err(|_| wrong("a non-byte")),
                        _ => Err(wrong("a non-byte")),
                    })
                    .collect::<CResult<Vec<u8>>>()?,
            ),
            ("Bytes", Value::Bytes(b)) => Value::Bytes(b),
            ("List", Value::List(items)) => Value::List(items),
            ("Map", Value::List(entries)) => Value::Map(
                entries
                    .into_iter()
                    .map(|e| pair(e).ok_or_else(|| wrong("an entry that is not a pair")))
                    .collect::<CResult<Vec<_>>>()?,
            ),
            ("Variant", pair_value) => {
                let (name, payload) =
                    pair(pair_value).ok_or_else(|| wrong("something other than a pair"))?;
                Value::variant(name, payload)
            }
            (_, other) => return Err(wrong(other.type_name())),
        })
    }
    fn serialize_seq(self, _: Option<usize>) -> CResult<Self::SerializeSeq> {
        Err(not_a_value("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> CResult<Self::SerializeTuple> {
        Err(not_a_value("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> CResult<Self::SerializeTupleStruct> {
        Err(not_a_value("a tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> CResult<Self::SerializeTupleVariant> {
        Err(not_a_value("a tuple variant"))
    }
    fn serialize_map(self, _: Option<usize>) -> CResult<Self::SerializeMap> {
        Err(not_a_value("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> CResult<Self::SerializeStruct> {
        Err(not_a_value("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> CResult<Self::SerializeStructVariant> {
        Err(not_a_value("a struct variant"))
    }
}

/// A `(String, Value)` pair as [`Plain`] gives it: a list of the two.
fn pair(v: Value) -> Option<(String, Value)> {
    match v {
        Value::List(items) if items.len() == 2 => {
            let mut it = items.into_iter();
            match (it.next(), it.next()) {
                (Some(Value::String(k)), Some(v)) => Some((k, v)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The payloads of the tagged form: scalars, sequences of values and of
/// pairs, and nested `Value`s (captured again, one level deeper).
struct Plain {
    depth: usize,
}

macro_rules! plain_ints {
    ($($f:ident($t:ty) => $v:ident),* $(,)?) => {
        $(fn $f(self, v: $t) -> CResult<Value> {
            Ok(Value::$v(v.into()))
        })*
    };
}

impl ser::Serializer for Plain {
    type Ok = Value;
    type Error = NotAValue;
    type SerializeSeq = PlainSeq;
    type SerializeTuple = PlainSeq;
    type SerializeTupleStruct = Impossible<Value, NotAValue>;
    type SerializeTupleVariant = Impossible<Value, NotAValue>;
    type SerializeMap = Impossible<Value, NotAValue>;
    type SerializeStruct = Impossible<Value, NotAValue>;
    type SerializeStructVariant = Impossible<Value, NotAValue>;

    fn serialize_bool(self, v: bool) -> CResult<Value> {
        Ok(Value::Bool(v))
    }
    plain_ints!(
        serialize_i8(i8) => I64,
        serialize_i16(i16) => I64,
        serialize_i32(i32) => I64,
        serialize_i64(i64) => I64,
        serialize_u8(u8) => U64,
        serialize_u16(u16) => U64,
        serialize_u32(u32) => U64,
        serialize_u64(u64) => U64,
    );
    fn serialize_f32(self, v: f32) -> CResult<Value> {
        Ok(Value::F64(super::ser::widen(v)))
    }
    fn serialize_f64(self, v: f64) -> CResult<Value> {
        Ok(Value::F64(v))
    }
    fn serialize_char(self, v: char) -> CResult<Value> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> CResult<Value> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> CResult<Value> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> CResult<Value> {
        Err(not_a_value("an option"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> CResult<Value> {
        Err(not_a_value("an option"))
    }
    fn serialize_unit(self) -> CResult<Value> {
        Err(not_a_value("unit"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> CResult<Value> {
        Err(not_a_value("unit"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> CResult<Value> {
        Err(not_a_value("an enum"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> CResult<Value> {
        if name == VALUE_TOKEN {
            capture(value, self.depth + 1)
        } else {
            value.serialize(self) // `ObjectId` and other transparent ids
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> CResult<Value> {
        Err(not_a_value("an enum"))
    }
    fn serialize_seq(self, len: Option<usize>) -> CResult<PlainSeq> {
        Ok(PlainSeq {
            depth: self.depth,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
        })
    }
    fn serialize_tuple(self, len: usize) -> CResult<PlainSeq> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> CResult<Self::SerializeTupleStruct> {
        Err(not_a_value("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> CResult<Self::SerializeTupleVariant> {
        Err(not_a_value("an enum"))
    }
    fn serialize_map(self, _: Option<usize>) -> CResult<Self::SerializeMap> {
        Err(not_a_value("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> CResult<Self::SerializeStruct> {
        Err(not_a_value("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> CResult<Self::SerializeStructVariant> {
        Err(not_a_value("an enum"))
    }
}

/// A sequence or tuple of the tagged form's payload, as a list.
struct PlainSeq {
    depth: usize,
    items: Vec<Value>,
}

impl ser::SerializeSeq for PlainSeq {
    type Ok = Value;
    type Error = NotAValue;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> CResult<()> {
        self.items
            .push(value.serialize(Plain { depth: self.depth })?);
        Ok(())
    }
    fn end(self) -> CResult<Value> {
        Ok(Value::List(self.items))
    }
}

impl ser::SerializeTuple for PlainSeq {
    type Ok = Value;
    type Error = NotAValue;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> CResult<()> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> CResult<Value> {
        ser::SerializeSeq::end(self)
    }
}

// ------------------------------------------------------------ reading back

/// A stored value, read into a `Value` field: the tagged form of `Value`
/// (what `Value`'s `Deserialize` asks for inside its newtype struct).
pub(crate) struct TaggedDe<E> {
    pub(crate) value: Value,
    pub(crate) _error: std::marker::PhantomData<E>,
}

impl<E> TaggedDe<E> {
    pub(crate) fn new(value: Value) -> Self {
        TaggedDe {
            value,
            _error: std::marker::PhantomData,
        }
    }
}

impl<'de, E: de::Error> de::Deserializer<'de> for TaggedDe<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_enum(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, E: de::Error> EnumAccess<'de> for TaggedDe<E> {
    type Error = E;
    type Variant = Payload<E>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Payload<E>), E> {
        let name = match &self.value {
            Value::Absent => "Absent",
            Value::Bool(_) => "Bool",
            Value::I64(_) => "I64",
            Value::U64(_) => "U64",
            Value::F64(_) => "F64",
            Value::String(_) => "String",
            Value::Bytes(_) => "Bytes",
            Value::Ref(_) => "Ref",
            Value::List(_) => "List",
            Value::Map(_) => "Map",
            Value::Variant(_) => "Variant",
        };
        let tag = seed.deserialize(de::value::StrDeserializer::<E>::new(name))?;
        Ok((tag, Payload(self)))
    }
}

/// The payload of one variant of the tagged form.
pub(crate) struct Payload<E>(TaggedDe<E>);

impl<'de, E: de::Error> VariantAccess<'de> for Payload<E> {
    type Error = E;

    fn unit_variant(self) -> Result<(), E> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, E> {
        match self.0.value {
            Value::Absent => Err(de::Error::custom("Value::Absent has no payload")),
            Value::Bool(b) => seed.deserialize(b.into_deserializer()),
            Value::I64(i) => seed.deserialize(i.into_deserializer()),
            Value::U64(u) | Value::Ref(ObjectId(u)) => seed.deserialize(u.into_deserializer()),
            Value::F64(f) => seed.deserialize(f.into_deserializer()),
            Value::String(s) => seed.deserialize(s.into_deserializer()),
            Value::Bytes(b) => seed.deserialize(de::value::SeqDeserializer::new(b.into_iter())),
            Value::List(items) => seed.deserialize(de::value::SeqDeserializer::new(
                items.into_iter().map(Nested::<E>::new),
            )),
            Value::Map(entries) => seed.deserialize(de::value::SeqDeserializer::new(
                entries.into_iter().map(PairDe::<E>::new),
            )),
            Value::Variant(v) => seed.deserialize(PairDe::<E>::new(*v)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, E> {
        Err(de::Error::custom("a Value variant is a newtype variant"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, E> {
        Err(de::Error::custom("a Value variant is a newtype variant"))
    }
}

/// A nested `Value` (an element, an entry's value): its newtype struct.
pub(crate) struct Nested<E>(TaggedDe<E>);

impl<E> Nested<E> {
    fn new(value: Value) -> Self {
        Nested(TaggedDe::new(value))
    }
}

impl<'de, E: de::Error> IntoDeserializer<'de, E> for Nested<E> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de, E: de::Error> de::Deserializer<'de> for Nested<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self.0)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// A `(String, Value)` pair: a map entry, a variant.
pub(crate) struct PairDe<E> {
    key: Option<String>,
    value: Option<Value>,
    _error: std::marker::PhantomData<E>,
}

impl<E> PairDe<E> {
    fn new((key, value): (String, Value)) -> Self {
        PairDe {
            key: Some(key),
            value: Some(value),
            _error: std::marker::PhantomData,
        }
    }
}

impl<'de, E: de::Error> IntoDeserializer<'de, E> for PairDe<E> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de, E: de::Error> de::Deserializer<'de> for PairDe<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_seq(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, E: de::Error> de::SeqAccess<'de> for PairDe<E> {
    type Error = E;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, E> {
        if let Some(key) = self.key.take() {
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
        match self.value.take() {
            Some(v) => seed.deserialize(Nested::<E>::new(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(usize::from(self.key.is_some()) + usize::from(self.value.is_some()))
    }
}
