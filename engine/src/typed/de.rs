//! A `serde::Deserializer` that reads a struct straight out of a stored
//! record, in place: each field the struct asks for is found by id in the
//! record's directory and read as a [`ValueRef`] borrowing the record's
//! bytes, with no intermediate list of values and no other format in
//! between. Strings and bytes are lent to types that borrow them
//! (`&'de str`, `&'de [u8]`, `Cow`); NaN (its bits), -0.0, `u64::MAX` and
//! `i64::MIN` come back exactly as written.
//!
//! The stored values say what they are; the Rust type decides where it has
//! a choice: an integer is range-checked into the width asked for (an
//! `OutOfRange` error naming the path otherwise), an `f32` is narrowed from
//! its stored `f64` (a finite value beyond `f32`'s range is out of range,
//! NaN keeps its bits), a map key is parsed back into the integer or char
//! asked for, a unit variant may be stored as its name. Absent fields and
//! struct members are left out, so serde's defaults apply (`None` for an
//! `Option`, `#[serde(default)]`).

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use serde::forward_to_deserialize_any;

use rockhold_format::{ClassDef, FieldDef, RecordView, ValueRef};

use super::any;
use super::path::{Errors, Path, Step};
use crate::error::Error;

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::InvalidRequest(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, Error>;

/// Reads a `T` out of `view`, a record of `class` stored under `key` (for
/// the corruption error of a value that does not decode). Absent fields
/// are left out (`None` for an `Option`).
pub(crate) fn from_view<'de, T: de::Deserialize<'de>>(
    class: &ClassDef,
    view: RecordView<'de>,
    key: &[u8],
) -> Result<T> {
    let errors = Errors { class: &class.name };
    T::deserialize(RecordDe {
        class,
        view,
        key,
        errors: &errors,
    })
    .map_err(|e| match e {
        Error::InvalidRequest(why) => Error::Serde {
            class: class.name.clone(),
            what: "the object".into(),
            source: why.into(),
        },
        other => other,
    })
}

/// The record as a struct (or any map-like type) of the class's fields.
struct RecordDe<'a, 'de> {
    class: &'a ClassDef,
    view: RecordView<'de>,
    key: &'a [u8],
    errors: &'a Errors<'a>,
}

impl<'a, 'de> RecordDe<'a, 'de> {
    fn fields<I>(self, names: I) -> RecordFields<'a, 'de, I> {
        RecordFields {
            de: self,
            names,
            value: None,
        }
    }
}

impl<'de> de::Deserializer<'de> for RecordDe<'_, 'de> {
    type Error = Error;

    /// Every field of the class that the record holds.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let fields = self.class.fields.iter();
        visitor.visit_map(self.fields(fields))
    }

    /// The fields the struct has, looked up by id: other fields of the
    /// record are not read at all.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        names: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let class = self.class;
        let fields = names.iter().filter_map(|name| class.field(name));
        visitor.visit_map(self.fields(fields))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map enum identifier
    }
}

/// The present fields among `names`, one (name, value) pair at a time.
struct RecordFields<'a, 'de, I> {
    de: RecordDe<'a, 'de>,
    names: I,
    /// The field whose name was just given, with its value.
    value: Option<(&'a FieldDef, ValueRef<'de>)>,
}

impl<'a, 'de, I: Iterator<Item = &'a FieldDef>> MapAccess<'de> for RecordFields<'a, 'de, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        for field in self.names.by_ref() {
            let value = self
                .de
                .view
                .field(field.id)
                .map_err(|e| Error::corruption(self.de.key, e))?;
            if matches!(value, ValueRef::Absent) {
                continue;
            }
            self.value = Some((field, value));
            return seed
                .deserialize(de::value::StrDeserializer::<Error>::new(&field.name))
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let (field, value) = self
            .value
            .take()
            .ok_or_else(|| Error::InvalidRequest("a value without its field".into()))?;
        let path = Path::field(&field.name);
        let errors = self.de.errors;
        seed.deserialize(ValueDe {
            v: value,
            path: &path,
            errors,
        })
        .map_err(|e| errors.at(&path, e))
    }
}

/// One stored value, at `path`.
struct ValueDe<'a, 'de> {
    v: ValueRef<'de>,
    path: &'a Path<'a>,
    errors: &'a Errors<'a>,
}

impl<'a, 'de> ValueDe<'a, 'de> {
    fn invalid<V: Visitor<'de>>(&self, visitor: &V) -> Error {
        let unexpected = match self.v {
            ValueRef::Absent => de::Unexpected::Option,
            ValueRef::Bool(b) => de::Unexpected::Bool(b),
            ValueRef::I64(i) => de::Unexpected::Signed(i),
            ValueRef::U64(u) | ValueRef::Ref(rockhold_format::ObjectId(u)) => {
                de::Unexpected::Unsigned(u)
            }
            ValueRef::F64(f) => de::Unexpected::Float(f),
            ValueRef::Str(s) => de::Unexpected::Str(s),
            ValueRef::Bytes(b) => de::Unexpected::Bytes(b),
            ValueRef::List(_) => de::Unexpected::Seq,
            ValueRef::Map(_) => de::Unexpected::Map,
            ValueRef::Variant(_) => de::Unexpected::Enum,
        };
        self.errors
            .at(self.path, de::Error::invalid_type(unexpected, visitor))
    }

    /// The integer stored, if it is one.
    fn integer(&self) -> Option<i128> {
        match self.v {
            ValueRef::I64(i) => Some(i.into()),
            ValueRef::U64(u) | ValueRef::Ref(rockhold_format::ObjectId(u)) => Some(u.into()),
            _ => None,
        }
    }

    fn seq<V: Visitor<'de>, I>(&self, items: I, visitor: V) -> Result<V::Value>
    where
        I: Iterator<Item = ValueRef<'de>>,
    {
        let mut access = SeqDe {
            items,
            index: 0,
            path: self.path,
            errors: self.errors,
        };
        let value = visitor.visit_seq(&mut access)?;
        let rest = access.items.count();
        if rest > 0 {
            return Err(self.errors.at(
                self.path,
                de::Error::invalid_length(access.index + rest, &"fewer elements"),
            ));
        }
        Ok(value)
    }

    fn map<V: Visitor<'de>>(
        &self,
        map: rockhold_format::MapRef<'de>,
        members: bool,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_map(MapDe {
            entries: map.iter(),
            value: None,
            members,
            path: self.path,
            errors: self.errors,
        })
    }
}

/// Every integer width: range-checked into the width asked for.
macro_rules! integers {
    ($($f:ident: $t:ident => $visit:ident),* $(,)?) => {
        $(fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.integer() {
                Some(n) => match $t::try_from(n) {
                    Ok(x) => visitor.$visit(x),
                    Err(_) => Err(self.errors.out_of_range(self.path, n, stringify!($t))),
                },
                None => self.deserialize_any(visitor),
            }
        })*
    };
}

impl<'de> de::Deserializer<'de> for ValueDe<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.v {
            ValueRef::Absent => visitor.visit_none(),
            ValueRef::Bool(b) => visitor.visit_bool(b),
            ValueRef::I64(i) => visitor.visit_i64(i),
            ValueRef::U64(u) => visitor.visit_u64(u),
            ValueRef::F64(f) => visitor.visit_f64(f),
            ValueRef::Str(s) => visitor.visit_borrowed_str(s),
            // `Vec<u8>` reads a sequence; `serde_bytes` asks for bytes.
            ValueRef::Bytes(b) => self.seq(b.iter().map(|&b| ValueRef::U64(b.into())), visitor),
            ValueRef::Ref(id) => visitor.visit_u64(id.0),
            ValueRef::List(list) => self.seq(list.iter(), visitor),
            ValueRef::Map(map) => self.map(map, false, visitor),
            // As a self-describing format says an enum: a unit variant is
            // its name, another a map of one entry (name: payload).
            ValueRef::Variant(v) if v.payload().is_absent() => visitor.visit_borrowed_str(v.name()),
            ValueRef::Variant(v) => visitor.visit_map(VariantAsMap {
                variant: Some(v),
                path: self.path,
                errors: self.errors,
            }),
        }
    }

    integers!(
        deserialize_i8: i8 => visit_i8,
        deserialize_i16: i16 => visit_i16,
        deserialize_i32: i32 => visit_i32,
        deserialize_i64: i64 => visit_i64,
        deserialize_i128: i128 => visit_i128,
        deserialize_u8: u8 => visit_u8,
        deserialize_u16: u16 => visit_u16,
        deserialize_u32: u32 => visit_u32,
        deserialize_u64: u64 => visit_u64,
        deserialize_u128: u128 => visit_u128,
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.v {
            ValueRef::F64(f) => match narrow(f) {
                Some(x) => visitor.visit_f32(x),
                None => Err(self.errors.out_of_range(self.path, f, "f32")),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.v {
            ValueRef::Absent => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// `()` is the empty list.
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.v {
            ValueRef::List(list) if list.is_empty() => visitor.visit_unit(),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    /// A newtype struct reads its value; a rockhold `Value` reads the
    /// stored value as itself (see `any`).
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == any::VALUE_TOKEN {
            return visitor.visit_newtype_struct(any::TaggedDe::<Error>::new(self.v.to_value()));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.v {
            ValueRef::Bytes(b) => visitor.visit_borrowed_bytes(b),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.v {
            ValueRef::Map(map) => self.map(map, true, visitor),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.v {
            ValueRef::Variant(v) => visitor.visit_enum(VariantDe {
                name: v.name(),
                payload: v.payload(),
                path: self.path,
                errors: self.errors,
            }),
            // A unit variant stored as its name (in a string field).
            ValueRef::Str(s) => visitor.visit_enum(VariantDe {
                name: s,
                payload: ValueRef::Absent,
                path: self.path,
                errors: self.errors,
            }),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool f64 char str string seq tuple tuple_struct map identifier
    }
}

/// A stored `f64` as the `f32` asked for: `None` for a finite value beyond
/// `f32`'s range (it would become an infinity). A NaN written from an `f32`
/// gets its bits back (the inverse of the serializer's widening).
pub(crate) fn narrow(f: f64) -> Option<f32> {
    if f.is_nan() {
        let bits = f.to_bits();
        let sign = (bits >> 63) as u32;
        let payload = ((bits >> 29) & 0x007F_FFFF) as u32;
        // A payload only in the bits an `f32` has not is kept a NaN.
        let payload = if payload == 0 { 0x0040_0000 } else { payload };
        return Some(f32::from_bits(sign << 31 | 0xFF << 23 | payload));
    }
    let x = f as f32;
    (x.is_finite() || f.is_infinite()).then_some(x)
}

/// The elements of a list (or of bytes read as a sequence).
struct SeqDe<'a, I> {
    items: I,
    index: usize,
    path: &'a Path<'a>,
    errors: &'a Errors<'a>,
}

impl<'de, I: Iterator<Item = ValueRef<'de>>> SeqAccess<'de> for SeqDe<'_, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(v) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.then(Step::Index(self.index));
        self.index += 1;
        seed.deserialize(ValueDe {
            v,
            path: &path,
            errors: self.errors,
        })
        .map(Some)
        .map_err(|e| self.errors.at(&path, e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.items.size_hint().1
    }
}

/// The entries of a map or the members of a nested struct.
struct MapDe<'a, 'de> {
    entries: rockhold_format::MapIter<'de>,
    /// The value of the entry whose key was just given.
    value: Option<(&'de str, ValueRef<'de>)>,
    /// Whether the entries are a struct's members (paths say `.name`).
    members: bool,
    path: &'a Path<'a>,
    errors: &'a Errors<'a>,
}

impl<'de> MapAccess<'de> for MapDe<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        let path = self.path.then(self.step(key));
        seed.deserialize(KeyDe {
            key,
            path: &path,
            errors: self.errors,
        })
        .map(Some)
        .map_err(|e| self.errors.at(&path, e))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let (key, v) = self
            .value
            .take()
            .ok_or_else(|| Error::InvalidRequest("a map value without its key".into()))?;
        let path = self.path.then(self.step(key));
        seed.deserialize(ValueDe {
            v,
            path: &path,
            errors: self.errors,
        })
        .map_err(|e| self.errors.at(&path, e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.entries.size_hint().1
    }
}

impl<'de> MapDe<'_, 'de> {
    fn step(&self, key: &'de str) -> Step<'de> {
        if self.members {
            Step::Member(key)
        } else {
            Step::Key(key)
        }
    }
}

/// A map key: a string, parsed back into the integer or char the Rust type
/// asks for, or a unit variant's name.
struct KeyDe<'a, 'de> {
    key: &'de str,
    path: &'a Path<'a>,
    errors: &'a Errors<'a>,
}

macro_rules! parsed_keys {
    ($($f:ident: $t:ident => $visit:ident),* $(,)?) => {
        $(fn $f<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.key.parse::<$t>() {
                Ok(x) => visitor.$visit(x),
                Err(_) => Err(self.errors.serde(
                    self.path,
                    format!("map key {:?} is not a {}", self.key, stringify!($t)),
                )),
            }
        })*
    };
}

impl<'de> de::Deserializer<'de> for KeyDe<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.key)
    }

    parsed_keys!(
        deserialize_i8: i8 => visit_i8,
        deserialize_i16: i16 => visit_i16,
        deserialize_i32: i32 => visit_i32,
        deserialize_i64: i64 => visit_i64,
        deserialize_i128: i128 => visit_i128,
        deserialize_u8: u8 => visit_u8,
        deserialize_u16: u16 => visit_u16,
        deserialize_u32: u32 => visit_u32,
        deserialize_u64: u64 => visit_u64,
        deserialize_u128: u128 => visit_u128,
        deserialize_char: char => visit_char,
    );

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(self.key.into_deserializer())
    }

    forward_to_deserialize_any! {
        bool f32 f64 str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// An enum value: its variant's name and payload.
struct VariantDe<'a, 'de> {
    name: &'de str,
    payload: ValueRef<'de>,
    path: &'a Path<'a>,
    errors: &'a Errors<'a>,
}

impl<'a, 'de> EnumAccess<'de> for VariantDe<'a, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self)> {
        let name = seed
            .deserialize(de::value::BorrowedStrDeserializer::<Error>::new(self.name))
            .map_err(|e| self.errors.at(self.path, e))?;
        Ok((name, self))
    }
}

impl<'de> VariantDe<'_, 'de> {
    /// Reads the payload at its own path (`::Name`).
    fn payload<T>(self, read: impl FnOnce(ValueDe<'_, 'de>) -> Result<T>) -> Result<T> {
        let path = self.path.then(Step::Variant(self.name));
        read(ValueDe {
            v: self.payload,
            path: &path,
            errors: self.errors,
        })
        .map_err(|e| self.errors.at(&path, e))
    }
}

impl<'de> VariantAccess<'de> for VariantDe<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.payload {
            ValueRef::Absent => Ok(()),
            _ => self.payload(|v| {
                Err(de::Error::invalid_type(
                    de::Unexpected::Other(v.v.type_name()),
                    &"a unit variant",
                ))
            }),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        self.payload(|v| seed.deserialize(v))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.payload(|v| match v.v {
            ValueRef::List(list) => v.seq(list.iter(), visitor),
            _ => Err(v.invalid(&visitor)),
        })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.payload(|v| match v.v {
            ValueRef::Map(map) => v.map(map, true, visitor),
            _ => Err(v.invalid(&visitor)),
        })
    }
}

/// An enum value with data as a self-describing format shows it to
/// `deserialize_any`: a map of one entry, name to payload.
struct VariantAsMap<'a, 'de> {
    variant: Option<rockhold_format::VariantRef<'de>>,
    path: &'a Path<'a>,
    errors: &'a Errors<'a>,
}

impl<'de> MapAccess<'de> for VariantAsMap<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.variant {
            Some(v) => seed
                .deserialize(de::value::BorrowedStrDeserializer::<Error>::new(v.name()))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let v = self
            .variant
            .take()
            .ok_or_else(|| Error::InvalidRequest("a map value without its key".into()))?;
        let path = self.path.then(Step::Variant(v.name()));
        seed.deserialize(ValueDe {
            v: v.payload(),
            path: &path,
            errors: self.errors,
        })
        .map_err(|e| self.errors.at(&path, e))
    }
}
