//! `Value`'s serde form: a newtype struct named [`VALUE_TOKEN`] around the
//! externally tagged enum `Value` (`{"U64": 5}` in JSON, as serde's derive
//! wrote it before). Other formats see through the newtype struct; the
//! engine's typed (de)serializer recognises the name and stores a `Value`
//! as itself (`Value::U64(5)` is the stored `u64` 5, not a variant `U64`),
//! the trick `serde_json::value::RawValue` plays.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use crate::ids::ObjectId;
use crate::value::Value;

/// The newtype-struct name a [`Value`] serializes under; not for use
/// outside rockhold's own (de)serializers.
#[doc(hidden)]
pub const VALUE_TOKEN: &str = "$rockhold::private::Value";

/// The name of the tagged enum inside the newtype struct.
const ENUM: &str = "Value";

/// The variants of the tagged form, in `Value`'s order.
#[doc(hidden)]
pub const VALUE_VARIANTS: &[&str] = &[
    "Absent", "Bool", "I64", "U64", "F64", "String", "Bytes", "Ref", "List", "Map", "Variant",
];

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(VALUE_TOKEN, &Tagged(self))
    }
}

/// A value as the tagged enum (what `#[derive(Serialize)]` on `Value` wrote).
struct Tagged<'a>(&'a Value);

impl Serialize for Tagged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Absent => s.serialize_unit_variant(ENUM, 0, "Absent"),
            Value::Bool(b) => s.serialize_newtype_variant(ENUM, 1, "Bool", b),
            Value::I64(i) => s.serialize_newtype_variant(ENUM, 2, "I64", i),
            Value::U64(u) => s.serialize_newtype_variant(ENUM, 3, "U64", u),
            Value::F64(f) => s.serialize_newtype_variant(ENUM, 4, "F64", f),
            Value::String(v) => s.serialize_newtype_variant(ENUM, 5, "String", v),
            Value::Bytes(b) => s.serialize_newtype_variant(ENUM, 6, "Bytes", b),
            Value::Ref(r) => s.serialize_newtype_variant(ENUM, 7, "Ref", r),
            Value::List(items) => s.serialize_newtype_variant(ENUM, 8, "List", items),
            Value::Map(entries) => s.serialize_newtype_variant(ENUM, 9, "Map", entries),
            Value::Variant(v) => s.serialize_newtype_variant(ENUM, 10, "Variant", &**v),
        }
    }
}

/// The tagged form, read.
#[derive(serde::Deserialize)]
#[serde(rename = "Value")]
enum Owned {
    Absent,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    String(String),
    Bytes(Vec<u8>),
    Ref(ObjectId),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    Variant(Box<(String, Value)>),
}

impl From<Owned> for Value {
    fn from(o: Owned) -> Value {
        match o {
            Owned::Absent => Value::Absent,
            Owned::Bool(b) => Value::Bool(b),
            Owned::I64(i) => Value::I64(i),
            Owned::U64(u) => Value::U64(u),
            Owned::F64(f) => Value::F64(f),
            Owned::String(s) => Value::String(s),
            Owned::Bytes(b) => Value::Bytes(b),
            Owned::Ref(r) => Value::Ref(r),
            Owned::List(items) => Value::List(items),
            Owned::Map(entries) => Value::Map(entries),
            Owned::Variant(v) => Value::Variant(v),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a rockhold value")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Owned::deserialize(d).map(Value::from)
            }
            // Formats that give the enum (or its map form) without the
            // newtype struct around it.
            fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
                Owned::deserialize(de::value::EnumAccessDeserializer::new(data)).map(Value::from)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
                Owned::deserialize(de::value::MapAccessDeserializer::new(map)).map(Value::from)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Owned::deserialize(de::value::StrDeserializer::<E>::new(v)).map(Value::from)
            }
        }
        d.deserialize_newtype_struct(VALUE_TOKEN, Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Other formats see what `#[derive(Serialize, Deserialize)]` on
    /// `Value` gave them (the newtype struct is transparent to them), and
    /// read it back equal.
    #[test]
    fn other_formats_keep_the_tagged_form() {
        let v = Value::map([
            ("a".to_string(), Value::U64(5)),
            (
                "b".to_string(),
                Value::List(vec![
                    Value::Absent,
                    Value::Bytes(vec![0, 255]),
                    Value::Ref(ObjectId(9)),
                    Value::variant("V", Value::I64(-1)),
                ]),
            ),
        ])
        .expect("sorted");
        let json = serde_json::to_string(&Value::U64(5)).expect("json");
        assert_eq!(json, r#"{"U64":5}"#);
        let text = serde_json::to_string(&v).expect("json");
        let back: Value = serde_json::from_str(&text).expect("read back");
        assert_eq!(back, v);
        assert_eq!(
            serde_json::from_str::<Value>(r#""Absent""#).expect("unit variant"),
            Value::Absent
        );
    }
}
