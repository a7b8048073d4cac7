//! # Layer 6: the typed API
//!
//! Owns: storing and loading `#[derive(Serialize, Deserialize)]` structs.
//! May call: the public `Db` methods only (it is a layer over them).
//!
//! A struct maps to a class by field name through serde's data model
//! (via `serde_json::Value`, a well-kept crate, instead of a hand-written
//! serializer): each struct field must be a field of the class; integers,
//! floats, strings, bools, `Vec<u8>` (bytes), `ObjectId` (references) and
//! `Option` (absent) map to the class's field types. Non-finite floats are not
//! representable on this path.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Number, Value as Json};

use rockhold_format::{ClassDef, FieldType, ObjectId, Value};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::read::Object;

fn bad(class: &ClassDef, field: &str, ty: FieldType, found: &Json) -> Error {
    let found = match found {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    };
    Error::WrongType {
        class: class.name.clone(),
        field: field.to_string(),
        expected: ty.name(),
        found,
    }
}

fn json_to_value(class: &ClassDef, field: &str, json: &Json) -> Result<Value> {
    let f = class.field(field).ok_or_else(|| Error::UnknownField {
        class: class.name.clone(),
        field: field.to_string(),
    })?;
    let v = match (f.ty, json) {
        (_, Json::Null) => Some(Value::Absent),
        (FieldType::Bool, Json::Bool(b)) => Some(Value::Bool(*b)),
        (FieldType::I64, Json::Number(n)) => n.as_i64().map(Value::I64),
        (FieldType::U64, Json::Number(n)) => n.as_u64().map(Value::U64),
        (FieldType::Ref, Json::Number(n)) => n.as_u64().map(|i| Value::Ref(ObjectId(i))),
        (FieldType::F64, Json::Number(n)) => n.as_f64().map(Value::F64),
        (FieldType::String, Json::String(s)) => Some(Value::String(s.clone())),
        (FieldType::Bytes, Json::Array(items)) => items
            .iter()
            .map(|i| i.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(Value::Bytes),
        _ => None,
    };
    v.ok_or_else(|| bad(class, field, f.ty, json))
}

fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Absent => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(i) => Json::Number((*i).into()),
        Value::U64(u) => Json::Number((*u).into()),
        Value::F64(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::Array(b.iter().map(|x| Json::Number((*x).into())).collect()),
        Value::Ref(id) => Json::Number(id.0.into()),
    }
}

fn to_fields<T: Serialize>(class: &ClassDef, item: &T) -> Result<Vec<(String, Value)>> {
    let json = serde_json::to_value(item).map_err(|e| Error::Serde {
        class: class.name.clone(),
        what: "the value does not serialize".into(),
        source: e,
    })?;
    let Json::Object(map) = json else {
        return Err(Error::InvalidRequest(
            "a typed object must serialize as a struct".into(),
        ));
    };
    map.iter()
        .map(|(k, v)| Ok((k.clone(), json_to_value(class, k, v)?)))
        .collect()
}

/// Builds a `T` from an object's fields; absent fields become `null` (`None`).
pub(crate) fn from_object<T: DeserializeOwned>(class: &ClassDef, object: &Object) -> Result<T> {
    let mut map = Map::new();
    for f in &class.fields {
        map.insert(
            f.name.clone(),
            object.get(&f.name).map_or(Json::Null, value_to_json),
        );
    }
    serde_json::from_value(Json::Object(map)).map_err(|e| Error::Serde {
        class: class.name.clone(),
        what: format!("object {} does not fit the type", object.id),
        source: e,
    })
}

impl Db {
    /// Inserts a struct as an object of `class`; returns its id.
    pub fn insert_typed<T: Serialize>(
        &self,
        namespace: &str,
        class: &str,
        item: &T,
    ) -> Result<ObjectId> {
        let def = self.class(namespace, class)?;
        self.insert(namespace, class, to_fields(&def, item)?)
    }

    /// Replaces every field of an object with the struct's values.
    pub fn update_typed<T: Serialize>(
        &self,
        namespace: &str,
        id: ObjectId,
        item: &T,
    ) -> Result<()> {
        let Some(class) = self.class_of(namespace, id)? else {
            return Err(Error::UnknownObject {
                namespace: namespace.to_string(),
                id,
            });
        };
        let def = self.class(namespace, &class)?;
        self.update(namespace, id, to_fields(&def, item)?)
    }

    /// Loads an object as a struct, or `None` if it does not exist.
    pub fn get_typed<T: DeserializeOwned>(
        &self,
        namespace: &str,
        id: ObjectId,
    ) -> Result<Option<T>> {
        let Some(object) = self.get(namespace, id)? else {
            return Ok(None);
        };
        let def = self.class(namespace, &object.class)?;
        from_object(&def, &object).map(Some)
    }
}
