//! A `serde::Serializer` that writes a struct straight into the values of a
//! class's fields, by field id, each value checked against its declared type
//! on the way. No JSON or other format in between, so no value is silently
//! changed.
//!
//! The mapping (docs: the typed API in the README) is directed by the
//! declared type where it has a choice, and otherwise by serde's data model:
//!
//! | Rust (serde)                      | stored value                                        |
//! |-----------------------------------|-----------------------------------------------------|
//! | `bool`                            | `Bool`                                              |
//! | `i8`..`i64`, `i128`               | `I64`; into a `u64`/`ref` type range-checked        |
//! | `u8`..`u64`, `u128`               | `U64`; into an `i64` type range-checked; `Ref` in a `ref` type |
//! | `f32`, `f64`                      | `F64` (an `f32` widened; NaN bits and -0.0 kept)    |
//! | `char`, `str`                     | `String`                                            |
//! | bytes (`serde_bytes`)             | `Bytes`                                             |
//! | `Vec<u8>` (a sequence)            | `Bytes` in a `bytes` type, else a `List`            |
//! | `None`                            | `Absent` (a field or member left out)               |
//! | `Some(x)`                         | `x`; `Some(None)` is refused (it would read back as `None`) |
//! | `()`, unit struct                 | `List([])`                                          |
//! | sequence, tuple, tuple struct     | `List`                                              |
//! | map                               | `Map`; keys are strings, chars, integers (decimal) or unit variants (their name) |
//! | struct (nested)                   | `Map` of member name to value, `None` members left out |
//! | unit variant                      | `Variant(name, Absent)`; in a `string` type its name |
//! | newtype / tuple / struct variant  | `Variant(name, value / List / Map)`                 |
//! | newtype struct                    | its value                                           |
//! | `rockhold::Value`                 | the value itself (checked like the dynamic API's)   |
//! | field skipped (`skip_serializing_if`) | `Absent` if optional, else an empty list or map; other types refused |
//!
//! A top-level struct (or string-keyed map) is the object: its fields are
//! the class's fields by name. A value whose shape the declared type does
//! not hold, an integer out of the type's range, an unknown field or member,
//! a missing required one, and a value nested deeper than `MAX_DEPTH` are
//! typed errors naming the class and the path of the value; nothing is
//! written. A value this serializer returns passes `FieldType::check`.

use serde::ser::{self, Impossible, Serialize};

use rockhold_format::{ClassDef, FieldId, FieldType, MemberDef, ObjectId, Value, MAX_DEPTH};

use super::any;
use super::path::{Errors, Path, Step};
use crate::error::{Error, Result};

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::InvalidRequest(msg.to_string())
    }
}

/// The values of `item`, a struct (or a map with string keys) whose fields
/// are fields of `class`, by field id in increasing order. A field given as
/// `None`, or skipped (`skip_serializing_if`) when optional, is there as
/// `Value::Absent` (an update clears it); a required one given as `None` is
/// a `MissingField` error; a skipped required list or map is empty.
pub(crate) fn to_fields<T: Serialize + ?Sized>(
    class: &ClassDef,
    item: &T,
) -> Result<Vec<(FieldId, Value)>> {
    item.serialize(Top { class })
}

/// The value of one top-level field `field` of `class`, checked against
/// its type (`Absent` for `None`, whether or not the field is optional).
#[allow(dead_code)] // for the typed field handles of a later issue
pub(crate) fn to_value<T: Serialize + ?Sized>(
    class: &ClassDef,
    field: &rockhold_format::FieldDef,
    value: &T,
) -> Result<Value> {
    let errors = Errors { class: &class.name };
    let path = Path::field(&field.name);
    value
        .serialize(ValueSer {
            errors: &errors,
            ty: &field.ty,
            path: &path,
            depth: 0,
            absent: true,
        })
        .map_err(|e| errors.at(&path, e))
}

/// The type every value inside an `Any` value has.
static ANY: FieldType = FieldType::Any;

/// The declared type of a present value: an `Optional` says only that the
/// value may be absent.
fn present(mut ty: &FieldType) -> &FieldType {
    while let FieldType::Optional(inner) = ty {
        ty = inner;
    }
    ty
}

// ---------------------------------------------------------------- top level

/// The top level: only a struct or a string-keyed map is an object.
struct Top<'c> {
    class: &'c ClassDef,
}

impl Top<'_> {
    fn not_an_object(&self, found: &str) -> Error {
        Error::Serde {
            class: self.class.name.clone(),
            what: "the typed object".into(),
            source: format!("a typed object must serialize as a struct or a map, not {found}")
                .into(),
        }
    }
}

macro_rules! refuse {
    ($found:literal: $($f:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $f(self, $(_: $arg),*) -> Result<Self::Ok> {
            Err(self.not_an_object($found))
        })*
    };
}

impl<'c> ser::Serializer for Top<'c> {
    type Ok = Vec<(FieldId, Value)>;
    type Error = Error;
    type SerializeSeq = Impossible<Self::Ok, Error>;
    type SerializeTuple = Impossible<Self::Ok, Error>;
    type SerializeTupleStruct = Impossible<Self::Ok, Error>;
    type SerializeTupleVariant = Impossible<Self::Ok, Error>;
    type SerializeMap = Fields<'c>;
    type SerializeStruct = Fields<'c>;
    type SerializeStructVariant = Impossible<Self::Ok, Error>;

    refuse!("a scalar":
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
    );
    refuse!("nothing": serialize_none(), serialize_unit(), serialize_unit_struct(&'static str));
    refuse!("an enum": serialize_unit_variant(&'static str, u32, &'static str));

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok> {
        value.serialize(self)
    }
    /// A newtype struct is its value; a rockhold `Value::Map` is an object
    /// of its entries.
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Self::Ok> {
        if name == any::VALUE_TOKEN {
            let v = any::capture(value, 0).map_err(|e| Error::Serde {
                class: self.class.name.clone(),
                what: "the typed object".into(),
                source: e.0.into(),
            })?;
            let Value::Map(entries) = v else {
                return Err(self.not_an_object(v.type_name()));
            };
            let mut fields = Fields::new(self.class, entries.len());
            for (name, value) in &entries {
                fields.push(name, value)?;
            }
            return fields.finish();
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok> {
        Err(self.not_an_object("an enum"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(self.not_an_object("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(self.not_an_object("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(self.not_an_object("a tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(self.not_an_object("an enum"))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(Fields::new(self.class, len.unwrap_or(0)))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeStruct> {
        Ok(Fields::new(self.class, len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(self.not_an_object("an enum"))
    }
}

/// The fields of the object being written.
struct Fields<'c> {
    class: &'c ClassDef,
    errors: Errors<'c>,
    out: Vec<(FieldId, Value)>,
    /// A map's key, waiting for its value.
    key: Option<String>,
}

impl<'c> Fields<'c> {
    fn new(class: &'c ClassDef, len: usize) -> Self {
        Fields {
            class,
            errors: Errors { class: &class.name },
            out: Vec::with_capacity(len),
            key: None,
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<()> {
        let field = self.class.field(name).ok_or_else(|| Error::UnknownField {
            class: self.class.name.clone(),
            field: name.to_string(),
        })?;
        let path = Path::field(&field.name);
        let value = value
            .serialize(ValueSer {
                errors: &self.errors,
                ty: &field.ty,
                path: &path,
                depth: 0,
                absent: true,
            })
            .map_err(|e| self.errors.at(&path, e))?;
        if matches!(value, Value::Absent) && !field.optional {
            return Err(self.errors.missing(&path));
        }
        self.out.push((field.id, value));
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<(FieldId, Value)>> {
        self.out.sort_by_key(|(id, _)| *id);
        if let Some(w) = self.out.windows(2).find(|w| w[0].0 == w[1].0) {
            let name = self
                .class
                .field_by_id(w[0].0)
                .map_or_else(String::new, |f| f.name.clone());
            return Err(Error::DuplicateName {
                kind: "field",
                name,
            });
        }
        Ok(self.out)
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = Vec<(FieldId, Value)>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.push(key, v)
    }
    /// A field `#[serde(skip_serializing_if)]` left out has no value: an
    /// update clears it, never keeps the old one (see [`skipped`]).
    fn skip_field(&mut self, key: &'static str) -> Result<()> {
        // A name the class lacks holds nothing to clear.
        let Some(field) = self.class.field(key) else {
            return Ok(());
        };
        let path = Path::field(&field.name);
        let value = skipped(&self.errors, &path, &field.ty, field.optional)?;
        self.out.push((field.id, value));
        Ok(())
    }
    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

impl ser::SerializeMap for Fields<'_> {
    type Ok = Vec<(FieldId, Value)>;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let name = key.serialize(KeySer).map_err(|found| Error::Serde {
            class: self.class.name.clone(),
            what: "the typed object".into(),
            source: format!("a field name must be a string, not {found}").into(),
        })?;
        self.key = Some(name);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::InvalidRequest("a map value without its key".into()))?;
        self.push(&key, v)
    }
    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

/// The value of a field or struct member (at `path`, of type `ty`) that
/// the struct's `Serialize` skipped (`#[serde(skip_serializing_if)]`): the
/// whole value is being written, so a skipped one is not kept from before.
/// An optional one is absent; a required list or map is empty (what
/// `skip_serializing_if = "Vec::is_empty"` left out); any other required
/// one cannot be stored without a value and is refused, naming it.
fn skipped(errors: &Errors<'_>, path: &Path<'_>, ty: &FieldType, optional: bool) -> Result<Value> {
    if optional {
        return Ok(Value::Absent);
    }
    match present(ty) {
        FieldType::List(_) => Ok(Value::List(Vec::new())),
        FieldType::Map(_) => Ok(Value::Map(Vec::new())),
        other => Err(errors.serde(
            path,
            format!(
                "skipped by the struct's Serialize (skip_serializing_if), but it is a required \
                 {} with no empty value to store: make it an Option",
                other.name()
            ),
        )),
    }
}

// ------------------------------------------------------------------- values

/// One value, at `path`, checked against its declared type `ty`.
#[derive(Clone, Copy)]
struct ValueSer<'a> {
    errors: &'a Errors<'a>,
    /// The declared type (`Any`: whatever serde's data model says).
    ty: &'a FieldType,
    path: &'a Path<'a>,
    /// How many lists, maps and variants enclose the value.
    depth: usize,
    /// Whether `None` may be written here as `Absent` whatever `ty` says
    /// (a field or struct member, whose owner decides; a `Some`'s content,
    /// which refuses it).
    absent: bool,
}

impl<'a> ValueSer<'a> {
    fn ty(&self) -> &'a FieldType {
        present(self.ty)
    }

    fn wrong(&self, found: &'static str) -> Error {
        self.errors.wrong(self.path, self.ty(), found)
    }

    /// A container of `levels` nested containers (1, or 2 for a tuple or
    /// struct variant) at this value's place; its contents are at
    /// `depth + levels`.
    fn enter(&self, levels: usize) -> Result<()> {
        if self.depth + levels > MAX_DEPTH {
            Err(self.errors.too_deep(self.path, self.depth + levels))
        } else {
            Ok(())
        }
    }

    fn signed(self, i: i64) -> Result<Value> {
        match self.ty() {
            FieldType::I64 | FieldType::Any => Ok(Value::I64(i)),
            FieldType::U64 => u64::try_from(i)
                .map(Value::U64)
                .map_err(|_| self.errors.out_of_range(self.path, i, "u64")),
            FieldType::Ref => u64::try_from(i)
                .map(|u| Value::Ref(ObjectId(u)))
                .map_err(|_| self.errors.out_of_range(self.path, i, "ref")),
            _ => Err(self.wrong("integer")),
        }
    }

    fn unsigned(self, u: u64) -> Result<Value> {
        match self.ty() {
            FieldType::U64 | FieldType::Any => Ok(Value::U64(u)),
            FieldType::Ref => Ok(Value::Ref(ObjectId(u))),
            FieldType::I64 => i64::try_from(u)
                .map(Value::I64)
                .map_err(|_| self.errors.out_of_range(self.path, u, "i64")),
            _ => Err(self.wrong("integer")),
        }
    }

    /// A 128-bit integer: stored when it fits the declared type's 64 bits.
    fn wide(self, v: i128) -> Result<Value> {
        match self.ty() {
            FieldType::I64 => i64::try_from(v)
                .map(Value::I64)
                .map_err(|_| self.errors.out_of_range(self.path, v, "i64")),
            FieldType::U64 | FieldType::Ref => u64::try_from(v)
                .map_err(|_| {
                    let name = if *self.ty() == FieldType::U64 {
                        "u64"
                    } else {
                        "ref"
                    };
                    self.errors.out_of_range(self.path, v, name)
                })
                .and_then(|u| self.unsigned(u)),
            FieldType::Any => match (i64::try_from(v), u64::try_from(v)) {
                (Ok(i), _) => Ok(Value::I64(i)),
                (_, Ok(u)) => Ok(Value::U64(u)),
                _ => Err(self.errors.out_of_range(self.path, v, "a 64-bit integer")),
            },
            _ => Err(self.wrong("integer")),
        }
    }

    fn float(self, f: f64) -> Result<Value> {
        match self.ty() {
            FieldType::F64 | FieldType::Any => Ok(Value::F64(f)),
            _ => Err(self.wrong("float")),
        }
    }

    fn string(self, s: &str, found: &'static str) -> Result<Value> {
        match self.ty() {
            FieldType::String | FieldType::Any => Ok(Value::String(s.to_owned())),
            _ => Err(self.wrong(found)),
        }
    }

    /// A rockhold `Value` given for this value (`tagged`: its tagged form,
    /// see `any`): stored as itself, checked against the declared type
    /// and the depth limit like a value of the dynamic API.
    fn given_value<T: Serialize + ?Sized>(self, tagged: &T) -> Result<Value> {
        let v = any::capture(tagged, self.depth).map_err(|e| {
            if e.1 == any::Deep::TooDeep {
                self.errors.too_deep(self.path, MAX_DEPTH + 1)
            } else {
                self.errors.serde(self.path, e.0)
            }
        })?;
        if matches!(v, Value::Absent) {
            return ser::Serializer::serialize_none(self);
        }
        let depth = self.depth + v.depth();
        if depth > MAX_DEPTH {
            return Err(self.errors.too_deep(self.path, depth));
        }
        self.ty().check(&v).map_err(|m| Error::WrongType {
            class: self.errors.class.to_string(),
            field: self.path.root().to_string(),
            path: self.path.below() + &m.path,
            expected: m.expected,
            found: m.found,
        })?;
        Ok(v)
    }

    /// `()` and unit structs: the empty list.
    fn unit(self) -> Result<Value> {
        match self.ty() {
            FieldType::List(_) | FieldType::Any => {}
            FieldType::Tuple(types) if types.is_empty() => {}
            _ => return Err(self.wrong("unit")),
        }
        self.enter(1)?;
        Ok(Value::List(Vec::new()))
    }

    /// The declared payload type of variant `name` (`None`: a unit
    /// variant), or the error for an enum value where none is declared.
    fn variant(&self, name: &str, found: &'static str) -> Result<Option<&'a FieldType>> {
        match self.ty() {
            FieldType::Any => Ok(Some(&ANY)),
            FieldType::Enum(variants) => match variants.iter().find(|v| v.name == name) {
                Some(v) => Ok(v.payload.as_ref()),
                None => Err(self.errors.serde(
                    self.path,
                    format!(
                        "{name:?} is not a variant of the declared enum ({})",
                        variants
                            .iter()
                            .map(|v| v.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            },
            _ => Err(self.wrong(found)),
        }
    }

    /// The payload type of a variant with data (`found` says which kind),
    /// refusing a variant declared without one.
    fn payload(&self, name: &str, found: &'static str) -> Result<&'a FieldType> {
        self.variant(name, found)?.ok_or_else(|| {
            self.errors.serde(
                self.path,
                format!("variant {name} is declared without data, given {found}"),
            )
        })
    }

    /// The elements of a list-shaped value of type `ty` (a seq, tuple, or a
    /// tuple variant's payload), or `None` when `ty` holds no list.
    fn elements(ty: &'a FieldType) -> Option<Elements<'a>> {
        match present(ty) {
            FieldType::List(inner) => Some(Elements::List(inner)),
            FieldType::Tuple(types) => Some(Elements::Tuple(types)),
            FieldType::Any => Some(Elements::List(&ANY)),
            _ => None,
        }
    }

    /// The entries of a map-shaped value of type `ty`, or `None`.
    fn entries(ty: &'a FieldType) -> Option<Entries<'a>> {
        match present(ty) {
            FieldType::Struct(members) => Some(Entries::Struct(members)),
            FieldType::Map(inner) => Some(Entries::Map(inner)),
            FieldType::Any => Some(Entries::Map(&ANY)),
            _ => None,
        }
    }

    fn seq(self, ty: &'a FieldType, len: usize, variant: Option<&'static str>) -> Seq<'a> {
        let path = match variant {
            Some(name) => self.path.then(Step::Variant(name)),
            None => *self.path,
        };
        Seq {
            errors: self.errors,
            elements: Self::elements(ty).unwrap_or(Elements::List(&ANY)),
            path,
            depth: self.depth + 1 + usize::from(variant.is_some()),
            items: Vec::with_capacity(len.min(4096)),
            variant,
        }
    }

    fn map(
        self,
        ty: &'a FieldType,
        len: usize,
        named: bool,
        variant: Option<&'static str>,
    ) -> MapSer<'a> {
        let path = match variant {
            Some(name) => self.path.then(Step::Variant(name)),
            None => *self.path,
        };
        MapSer {
            errors: self.errors,
            entries: Self::entries(ty).unwrap_or(Entries::Map(&ANY)),
            path,
            depth: self.depth + 1 + usize::from(variant.is_some()),
            named,
            out: Vec::with_capacity(len.min(4096)),
            key: None,
            variant,
        }
    }
}

/// Every integer width widens into `signed` or `unsigned` (which check the
/// declared range).
macro_rules! integers {
    ($($f:ident($t:ty) => $via:ident),* $(,)?) => {
        $(fn $f(self, v: $t) -> Result<Value> {
            self.$via(v.into())
        })*
    };
}

impl<'a> ser::Serializer for ValueSer<'a> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = MapSer<'a>;
    type SerializeStructVariant = MapSer<'a>;

    fn serialize_bool(self, b: bool) -> Result<Value> {
        match self.ty() {
            FieldType::Bool | FieldType::Any => Ok(Value::Bool(b)),
            _ => Err(self.wrong("bool")),
        }
    }
    integers!(
        serialize_i8(i8) => signed,
        serialize_i16(i16) => signed,
        serialize_i32(i32) => signed,
        serialize_i64(i64) => signed,
        serialize_u8(u8) => unsigned,
        serialize_u16(u16) => unsigned,
        serialize_u32(u32) => unsigned,
        serialize_u64(u64) => unsigned,
    );
    fn serialize_i128(self, v: i128) -> Result<Value> {
        self.wide(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Value> {
        let ty = self.ty();
        match i128::try_from(v) {
            Ok(v) => self.wide(v),
            Err(_)
                if matches!(
                    ty,
                    FieldType::I64 | FieldType::U64 | FieldType::Ref | FieldType::Any
                ) =>
            {
                let name = match ty {
                    FieldType::Any => "a 64-bit integer".to_string(),
                    other => other.name(),
                };
                Err(self.errors.out_of_range(self.path, v, name))
            }
            Err(_) => Err(self.wrong("integer")),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        self.float(widen(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        self.string(v.encode_utf8(&mut [0; 4]), "char")
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        self.string(v, "string")
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        match self.ty() {
            FieldType::Bytes | FieldType::Any => Ok(Value::Bytes(v.to_vec())),
            // Bytes into a list of integers: the list of their values.
            FieldType::List(inner)
                if matches!(
                    present(inner),
                    FieldType::U64 | FieldType::I64 | FieldType::Any
                ) =>
            {
                self.enter(1)?;
                let signed = matches!(present(inner), FieldType::I64);
                Ok(Value::List(
                    v.iter()
                        .map(|&b| {
                            if signed {
                                Value::I64(b.into())
                            } else {
                                Value::U64(b.into())
                            }
                        })
                        .collect(),
                ))
            }
            _ => Err(self.wrong("bytes")),
        }
    }
    fn serialize_none(self) -> Result<Value> {
        if self.absent || matches!(self.ty, FieldType::Optional(_) | FieldType::Any) {
            Ok(Value::Absent)
        } else {
            Err(self.wrong("none"))
        }
    }
    /// `Some(x)` is `x`; `Some(None)` (an `Option<Option<T>>`) is refused:
    /// it would be stored as absent and read back as `None`.
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value> {
        let inner = ValueSer {
            ty: self.ty(),
            absent: true,
            ..self
        };
        match value.serialize(inner)? {
            Value::Absent => Err(self.errors.serde(
                self.path,
                "Some(None) cannot be stored: it would read back as None \
                 (an Option<Option<_>> holds at most one level of None)",
            )),
            v => Ok(v),
        }
    }
    fn serialize_unit(self) -> Result<Value> {
        self.unit()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        self.unit()
    }
    /// In a string type, a unit variant is its name; otherwise a variant
    /// without payload.
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value> {
        if matches!(self.ty(), FieldType::String) {
            return Ok(Value::String(variant.to_owned()));
        }
        if let Some(payload) = self.variant(variant, "enum variant")? {
            if !matches!(payload, FieldType::Any | FieldType::Optional(_)) {
                return Err(self.errors.serde(
                    self.path,
                    format!("variant {variant} is declared with data, given a unit variant"),
                ));
            }
        }
        self.enter(1)?;
        Ok(Value::variant(variant, Value::Absent))
    }
    /// A newtype struct is its value; a rockhold `Value` is stored as
    /// itself (see `any`).
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value> {
        if name == any::VALUE_TOKEN {
            return self.given_value(value);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value> {
        let ty = self.payload(variant, "enum variant with data")?;
        self.enter(1)?;
        let path = self.path.then(Step::Variant(variant));
        let payload = child(self.errors, value, ty, &path, self.depth + 1, false)?;
        Ok(Value::variant(variant, payload))
    }
    /// A sequence: a list, or the bytes of a bytes type (`Vec<u8>`).
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a>> {
        if matches!(self.ty(), FieldType::Bytes) {
            return Ok(Seq {
                errors: self.errors,
                elements: Elements::Bytes(Vec::with_capacity(len.unwrap_or(0).min(1 << 20))),
                path: *self.path,
                depth: self.depth,
                items: Vec::new(),
                variant: None,
            });
        }
        if Self::elements(self.ty).is_none() {
            return Err(self.wrong("list"));
        }
        self.enter(1)?;
        Ok(self.seq(self.ty, len.unwrap_or(0), None))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>> {
        if Self::elements(self.ty).is_none() {
            return Err(self.wrong("tuple"));
        }
        self.enter(1)?;
        Ok(self.seq(self.ty, len, None))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a>> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'a>> {
        let ty = self.payload(variant, "tuple variant")?;
        if Self::elements(ty).is_none() {
            let path = self.path.then(Step::Variant(variant));
            return Err(self.errors.wrong(&path, present(ty), "tuple"));
        }
        self.enter(2)?;
        Ok(self.seq(ty, len, Some(variant)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer<'a>> {
        if Self::entries(self.ty).is_none() {
            return Err(self.wrong("map"));
        }
        self.enter(1)?;
        Ok(self.map(self.ty, len.unwrap_or(0), false, None))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapSer<'a>> {
        if Self::entries(self.ty).is_none() {
            return Err(self.wrong("nested struct"));
        }
        self.enter(1)?;
        Ok(self.map(self.ty, len, true, None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapSer<'a>> {
        let ty = self.payload(variant, "struct variant")?;
        if Self::entries(ty).is_none() {
            let path = self.path.then(Step::Variant(variant));
            return Err(self.errors.wrong(&path, present(ty), "nested struct"));
        }
        self.enter(2)?;
        Ok(self.map(ty, len, true, Some(variant)))
    }
}

/// An `f32` as the `f64` it is stored as: exact for every number; a NaN
/// keeps its sign and payload bit for bit (a cast need not).
pub(crate) fn widen(f: f32) -> f64 {
    if f.is_nan() {
        let bits = f.to_bits();
        let sign = u64::from(bits >> 31);
        let payload = u64::from(bits & 0x007F_FFFF);
        f64::from_bits(sign << 63 | 0x7FF << 52 | payload << 29)
    } else {
        f64::from(f)
    }
}

// ---------------------------------------------------------- lists and maps

/// What the elements of a list being written are.
enum Elements<'a> {
    /// All of one type.
    List(&'a FieldType),
    /// Of these types, in order (exactly as many).
    Tuple(&'a [FieldType]),
    /// Bytes of a bytes type, collected.
    Bytes(Vec<u8>),
}

/// A list being written (a sequence, tuple, tuple struct, the payload of a
/// tuple variant, or the bytes of `Vec<u8>` into a bytes type).
pub(crate) struct Seq<'a> {
    errors: &'a Errors<'a>,
    elements: Elements<'a>,
    /// The list's own path.
    path: Path<'a>,
    /// The depth of the elements.
    depth: usize,
    items: Vec<Value>,
    /// The tuple variant whose payload this list is.
    variant: Option<&'static str>,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let errors = self.errors;
        match &mut self.elements {
            Elements::Bytes(bytes) => {
                let path = self.path.then(Step::Index(bytes.len()));
                let byte = value
                    .serialize(ValueSer {
                        errors,
                        ty: &ANY,
                        path: &path,
                        depth: self.depth,
                        absent: false,
                    })
                    .map_err(|e| errors.at(&path, e))?;
                let b = match byte {
                    Value::U64(u) => {
                        u8::try_from(u).map_err(|_| errors.out_of_range(&path, u, "u8"))
                    }
                    Value::I64(i) => {
                        u8::try_from(i).map_err(|_| errors.out_of_range(&path, i, "u8"))
                    }
                    other => Err(errors.wrong(&path, &FieldType::Bytes, other.type_name())),
                }?;
                bytes.push(b);
                Ok(())
            }
            Elements::List(ty) => {
                let ty: &FieldType = ty;
                let path = self.path.then(Step::Index(self.items.len()));
                let v = child(errors, value, ty, &path, self.depth, false)?;
                self.items.push(v);
                Ok(())
            }
            Elements::Tuple(types) => {
                let i = self.items.len();
                let path = self.path.then(Step::Index(i));
                let Some(ty) = types.get(i) else {
                    return Err(errors.serde(
                        &self.path,
                        format!(
                            "a tuple of {} elements is declared, given more",
                            types.len()
                        ),
                    ));
                };
                let v = child(errors, value, ty, &path, self.depth, false)?;
                self.items.push(v);
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<Value> {
        let list = match self.elements {
            Elements::Bytes(bytes) => return Ok(Value::Bytes(bytes)),
            Elements::Tuple(types) if types.len() != self.items.len() => {
                return Err(self.errors.serde(
                    &self.path,
                    format!(
                        "a tuple of {} elements is declared, given {}",
                        types.len(),
                        self.items.len()
                    ),
                ))
            }
            _ => Value::List(self.items),
        };
        Ok(match self.variant {
            Some(name) => Value::variant(name, list),
            None => list,
        })
    }
}

/// The value of a child at `path`, of type `ty`, at `depth`.
fn child<T: Serialize + ?Sized>(
    errors: &Errors<'_>,
    value: &T,
    ty: &FieldType,
    path: &Path<'_>,
    depth: usize,
    absent: bool,
) -> Result<Value> {
    value
        .serialize(ValueSer {
            errors,
            ty,
            path,
            depth,
            absent,
        })
        .map_err(|e| errors.at(path, e))
}

macro_rules! seq_impl {
    ($($trait:ident :: $f:ident),*) => {
        $(impl ser::$trait for Seq<'_> {
            type Ok = Value;
            type Error = Error;
            fn $f<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }
            fn end(self) -> Result<Value> {
                self.finish()
            }
        })*
    };
}

seq_impl!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// What the entries of a map being written are.
enum Entries<'a> {
    /// The members of a struct type.
    Struct(&'a [MemberDef]),
    /// Any keys, values of one type.
    Map(&'a FieldType),
}

/// A map being written (a map, a nested struct, the payload of a struct
/// variant).
pub(crate) struct MapSer<'a> {
    errors: &'a Errors<'a>,
    entries: Entries<'a>,
    /// The map's own path.
    path: Path<'a>,
    /// The depth of the values.
    depth: usize,
    /// Whether the entries are a struct's members (`None` ones left out).
    named: bool,
    out: Vec<(String, Value)>,
    /// A map's key, waiting for its value.
    key: Option<String>,
    /// The struct variant whose payload this map is.
    variant: Option<&'static str>,
}

impl MapSer<'_> {
    fn entry<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<()> {
        let errors = self.errors;
        let (ty, member) = match self.entries {
            Entries::Struct(members) => {
                let path = self.path.then(Step::Member(&key));
                match members.iter().find(|m| m.name == key) {
                    Some(m) => (&m.ty, Some(m)),
                    None => return Err(errors.unknown_member(&path)),
                }
            }
            Entries::Map(ty) => (ty, None),
        };
        let step = if self.named || member.is_some() {
            Step::Member(&key)
        } else {
            Step::Key(&key)
        };
        let path = self.path.then(step);
        let absent = self.named || member.is_some();
        let v = child(errors, value, ty, &path, self.depth, absent)?;
        if matches!(v, Value::Absent) {
            if member.is_some_and(|m| !m.optional) {
                return Err(errors.missing(&path));
            }
            if absent {
                return Ok(()); // a `None` member is left out
            }
        }
        self.out.push((key, v));
        Ok(())
    }

    /// A struct member the struct's `Serialize` skipped: left out when
    /// optional, empty when a list or map, refused otherwise (see
    /// [`skipped`]).
    fn skip(&mut self, key: &str) -> Result<()> {
        let Entries::Struct(members) = self.entries else {
            return Ok(()); // into a map or `Any`: a key left out
        };
        let Some(m) = members.iter().find(|m| m.name == key) else {
            return Ok(());
        };
        let path = self.path.then(Step::Member(key));
        match skipped(self.errors, &path, &m.ty, m.optional)? {
            Value::Absent => {}
            empty => self.out.push((key.to_owned(), empty)),
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Value> {
        self.out.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = self.out.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(self
                .errors
                .serde(&self.path, format!("key {:?} is given twice", w[0].0)));
        }
        if let Entries::Struct(members) = self.entries {
            for m in members.iter().filter(|m| !m.optional) {
                if self
                    .out
                    .binary_search_by(|(k, _)| k.as_str().cmp(&m.name))
                    .is_err()
                {
                    return Err(self.errors.missing(&self.path.then(Step::Member(&m.name))));
                }
            }
        }
        let map = Value::Map(self.out);
        Ok(match self.variant {
            Some(name) => Value::variant(name, map),
            None => map,
        })
    }
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let key = key.serialize(KeySer).map_err(|found| {
            self.errors.serde(
                &self.path,
                format!("map keys must be strings, chars, integers or unit variants, not {found}"),
            )
        })?;
        self.key = Some(key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::InvalidRequest("a map value without its key".into()))?;
        self.entry(key, value)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

macro_rules! struct_impl {
    ($($trait:ident),*) => {
        $(impl ser::$trait for MapSer<'_> {
            type Ok = Value;
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                self.entry(key.to_owned(), value)
            }
            fn skip_field(&mut self, key: &'static str) -> Result<()> {
                self.skip(key)
            }
            fn end(self) -> Result<Value> {
                self.finish()
            }
        })*
    };
}

struct_impl!(SerializeStruct, SerializeStructVariant);

// --------------------------------------------------------------- map keys

/// A map key as the string it is stored as: a string, a char, an integer
/// in decimal, a unit variant's name. The error is what was given instead.
struct KeySer;

/// What a key was instead of a string (the error of [`KeySer`]).
#[derive(Debug)]
pub(crate) struct NotAKey(String);

impl std::fmt::Display for NotAKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotAKey {}

impl ser::Error for NotAKey {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        NotAKey(msg.to_string())
    }
}

macro_rules! decimal_keys {
    ($($f:ident($t:ty)),* $(,)?) => {
        $(fn $f(self, v: $t) -> std::result::Result<String, NotAKey> {
            Ok(v.to_string())
        })*
    };
}

macro_rules! not_keys {
    ($($f:ident($($arg:ty),*) => $what:literal),* $(,)?) => {
        $(fn $f(self, $(_: $arg),*) -> std::result::Result<String, NotAKey> {
            Err(NotAKey($what.into()))
        })*
    };
}

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = NotAKey;
    type SerializeSeq = Impossible<String, NotAKey>;
    type SerializeTuple = Impossible<String, NotAKey>;
    type SerializeTupleStruct = Impossible<String, NotAKey>;
    type SerializeTupleVariant = Impossible<String, NotAKey>;
    type SerializeMap = Impossible<String, NotAKey>;
    type SerializeStruct = Impossible<String, NotAKey>;
    type SerializeStructVariant = Impossible<String, NotAKey>;

    decimal_keys!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
    );
    not_keys!(
        serialize_bool(bool) => "a bool",
        serialize_f32(f32) => "a float",
        serialize_f64(f64) => "a float",
        serialize_bytes(&[u8]) => "bytes",
        serialize_none() => "None",
        serialize_unit() => "()",
        serialize_unit_struct(&'static str) => "a unit struct",
    );
    fn serialize_str(self, v: &str) -> std::result::Result<String, NotAKey> {
        Ok(v.to_owned())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> std::result::Result<String, NotAKey> {
        Err(NotAKey("an option".into()))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> std::result::Result<String, NotAKey> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> std::result::Result<String, NotAKey> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<String, NotAKey> {
        Err(NotAKey("an enum variant with data".into()))
    }
    fn serialize_seq(self, _: Option<usize>) -> std::result::Result<Self::SerializeSeq, NotAKey> {
        Err(NotAKey("a sequence".into()))
    }
    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, NotAKey> {
        Err(NotAKey("a tuple".into()))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, NotAKey> {
        Err(NotAKey("a tuple struct".into()))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, NotAKey> {
        Err(NotAKey("an enum variant with data".into()))
    }
    fn serialize_map(self, _: Option<usize>) -> std::result::Result<Self::SerializeMap, NotAKey> {
        Err(NotAKey("a map".into()))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, NotAKey> {
        Err(NotAKey("a struct".into()))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, NotAKey> {
        Err(NotAKey("an enum variant with data".into()))
    }
}
