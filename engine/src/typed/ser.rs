//! A `serde::Serializer` that turns a struct straight into the values of a
//! class's fields: each field of the struct must be a field of the class,
//! and each value must fit the field's declared type. No JSON in between, so
//! no value is silently changed: NaN and the infinities stay floats, every
//! integer width is range-checked into the field's `i64`/`u64`, and a shape
//! the class cannot hold (a nested struct, a list other than bytes, an
//! enum with data) is a typed error naming the class and field.

use serde::ser::{self, Impossible, Serialize};

use rockhold_format::{ClassDef, FieldDef, FieldType, ObjectId, Value};

use crate::error::{Error, Result};

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::InvalidRequest(msg.to_string())
    }
}

/// The named values of `item`, a struct (or a map with string keys) whose
/// fields are fields of `class`.
pub(crate) fn to_fields<T: Serialize + ?Sized>(
    class: &ClassDef,
    item: &T,
) -> Result<Vec<(String, Value)>> {
    item.serialize(Top { class })
}

/// The top level: only a struct or a string-keyed map is an object.
struct Top<'c> {
    class: &'c ClassDef,
}

fn not_an_object() -> Error {
    Error::InvalidRequest("a typed object must serialize as a struct".into())
}

macro_rules! refuse {
    ($($f:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $f(self, $(_: $arg),*) -> Result<Self::Ok> {
            Err(not_an_object())
        })*
    };
}

impl<'c> ser::Serializer for Top<'c> {
    type Ok = Vec<(String, Value)>;
    type Error = Error;
    type SerializeSeq = Impossible<Self::Ok, Error>;
    type SerializeTuple = Impossible<Self::Ok, Error>;
    type SerializeTupleStruct = Impossible<Self::Ok, Error>;
    type SerializeTupleVariant = Impossible<Self::Ok, Error>;
    type SerializeMap = Fields<'c>;
    type SerializeStruct = Fields<'c>;
    type SerializeStructVariant = Impossible<Self::Ok, Error>;

    refuse!(
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
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Self::Ok> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok> {
        Err(not_an_object())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(not_an_object())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(not_an_object())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(not_an_object())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(not_an_object())
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
        Err(not_an_object())
    }
}

/// The fields of the object being written.
struct Fields<'c> {
    class: &'c ClassDef,
    out: Vec<(String, Value)>,
    /// A map's key, waiting for its value.
    key: Option<String>,
}

impl<'c> Fields<'c> {
    fn new(class: &'c ClassDef, len: usize) -> Self {
        Fields {
            class,
            out: Vec::with_capacity(len),
            key: None,
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<()> {
        let field = self.class.field(name).ok_or_else(|| Error::UnknownField {
            class: self.class.name.clone(),
            field: name.to_string(),
        })?;
        let value = value.serialize(FieldValue {
            class: self.class,
            field,
        })?;
        self.out.push((name.to_string(), value));
        Ok(())
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = Vec<(String, Value)>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.push(key, v)
    }
    fn end(self) -> Result<Self::Ok> {
        Ok(self.out)
    }
}

impl ser::SerializeMap for Fields<'_> {
    type Ok = Vec<(String, Value)>;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        match key
            .serialize(FieldValue {
                class: self.class,
                field: &KEY,
            })
            .map_err(|_| not_an_object())?
        {
            Value::String(name) => {
                self.key = Some(name);
                Ok(())
            }
            _ => Err(not_an_object()),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(not_an_object)?;
        self.push(&key, v)
    }
    fn end(self) -> Result<Self::Ok> {
        Ok(self.out)
    }
}

/// The pseudo-field a map's keys are serialized as: a string.
static KEY: FieldDef = FieldDef {
    id: rockhold_format::FieldId(0),
    name: String::new(),
    ty: FieldType::String,
    optional: false,
};

/// One field's value, checked against the field's type.
#[derive(Clone, Copy)]
struct FieldValue<'c> {
    class: &'c ClassDef,
    field: &'c FieldDef,
}

impl FieldValue<'_> {
    fn wrong(self, found: &'static str) -> Error {
        Error::WrongType {
            class: self.class.name.clone(),
            field: self.field.name.clone(),
            path: String::new(),
            expected: self.field.ty.name(),
            found: found.to_string(),
        }
    }

    fn out_of_range(self, value: impl std::fmt::Display) -> Error {
        Error::OutOfRange {
            class: self.class.name.clone(),
            field: self.field.name.clone(),
            value: value.to_string(),
            expected: self.field.ty.name(),
        }
    }

    fn signed(self, i: i64) -> Result<Value> {
        match self.field.ty {
            FieldType::I64 => Ok(Value::I64(i)),
            FieldType::U64 => u64::try_from(i)
                .map(Value::U64)
                .map_err(|_| self.out_of_range(i)),
            FieldType::Ref => u64::try_from(i)
                .map(|u| Value::Ref(ObjectId(u)))
                .map_err(|_| self.out_of_range(i)),
            _ => Err(self.wrong("integer")),
        }
    }

    fn unsigned(self, u: u64) -> Result<Value> {
        match self.field.ty {
            FieldType::U64 => Ok(Value::U64(u)),
            FieldType::Ref => Ok(Value::Ref(ObjectId(u))),
            FieldType::I64 => i64::try_from(u)
                .map(Value::I64)
                .map_err(|_| self.out_of_range(u)),
            _ => Err(self.wrong("integer")),
        }
    }

    fn float(self, f: f64) -> Result<Value> {
        match self.field.ty {
            FieldType::F64 => Ok(Value::F64(f)),
            _ => Err(self.wrong("float")),
        }
    }

    fn string(self, s: String) -> Result<Value> {
        match self.field.ty {
            FieldType::String => Ok(Value::String(s)),
            _ => Err(self.wrong("string")),
        }
    }
}

/// Every integer width widens into `signed` or `unsigned` (which check the
/// field's range), every float into `float`.
macro_rules! numbers {
    ($($f:ident($t:ty) => $via:ident),* $(,)?) => {
        $(fn $f(self, v: $t) -> Result<Value> {
            self.$via(v.into())
        })*
    };
}

impl ser::Serializer for FieldValue<'_> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Bytes<Self>;
    type SerializeTuple = Impossible<Value, Error>;
    type SerializeTupleStruct = Impossible<Value, Error>;
    type SerializeTupleVariant = Impossible<Value, Error>;
    type SerializeMap = Impossible<Value, Error>;
    type SerializeStruct = Impossible<Value, Error>;
    type SerializeStructVariant = Impossible<Value, Error>;

    fn serialize_bool(self, b: bool) -> Result<Value> {
        match self.field.ty {
            FieldType::Bool => Ok(Value::Bool(b)),
            _ => Err(self.wrong("bool")),
        }
    }
    numbers!(
        serialize_i8(i8) => signed,
        serialize_i16(i16) => signed,
        serialize_i32(i32) => signed,
        serialize_i64(i64) => signed,
        serialize_u8(u8) => unsigned,
        serialize_u16(u16) => unsigned,
        serialize_u32(u32) => unsigned,
        serialize_u64(u64) => unsigned,
        serialize_f32(f32) => float,
        serialize_f64(f64) => float,
    );
    fn serialize_char(self, v: char) -> Result<Value> {
        self.string(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        self.string(v.to_string())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        match self.field.ty {
            FieldType::Bytes => Ok(Value::Bytes(v.to_vec())),
            _ => Err(self.wrong("bytes")),
        }
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::Absent)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Err(self.wrong("unit"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        Err(self.wrong("unit"))
    }
    /// A unit variant is stored as its name (an enum of names in a string field).
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value> {
        self.string(variant.to_string())
            .map_err(|_| self.wrong("enum variant"))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Value> {
        Err(self.wrong("enum variant with data"))
    }
    /// A sequence is accepted as the bytes of a bytes field (`Vec<u8>`).
    fn serialize_seq(self, len: Option<usize>) -> Result<Bytes<Self>> {
        match self.field.ty {
            FieldType::Bytes => Ok(Bytes {
                to: self,
                bytes: Vec::with_capacity(len.unwrap_or(0)),
            }),
            _ => Err(self.wrong("list")),
        }
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(self.wrong("tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(self.wrong("tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(self.wrong("enum variant with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(self.wrong("map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(self.wrong("nested struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(self.wrong("enum variant with data"))
    }
}

/// The elements of a sequence written to a bytes field: each must be a `u8`.
pub(crate) struct Bytes<F> {
    to: F,
    bytes: Vec<u8>,
}

impl ser::SerializeSeq for Bytes<FieldValue<'_>> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let byte = FieldValue {
            class: self.to.class,
            field: &BYTE,
        };
        match v.serialize(byte).map_err(|_| self.to.wrong("list"))? {
            Value::U64(b) => {
                let b = u8::try_from(b).map_err(|_| self.to.out_of_range(b))?;
                self.bytes.push(b);
                Ok(())
            }
            _ => Err(self.to.wrong("list")),
        }
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Bytes(self.bytes))
    }
}

/// The pseudo-field a byte of a bytes field is serialized as: an unsigned
/// integer (range-checked to `u8` by the caller).
static BYTE: FieldDef = FieldDef {
    id: rockhold_format::FieldId(0),
    name: String::new(),
    ty: FieldType::U64,
    optional: false,
};
