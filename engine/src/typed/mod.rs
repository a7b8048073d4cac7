//! # Layer 6: the typed API
//!
//! Owns: storing and loading `#[derive(Serialize, Deserialize)]` structs.
//! May call: `Db`'s methods, and `read` for records.
//!
//! A struct maps to a class by field name, through serde's data model and
//! this layer's own `Serializer` (`ser`) and `Deserializer` (`de`), with no
//! intermediate format: each struct field must be a field of the class;
//! bools, every integer width (range-checked into the field's `i64`/`u64`),
//! `f32`/`f64` (NaN and the infinities included), `char` and strings, bytes
//! (`Vec<u8>`), `ObjectId` (references), unit enum variants (stored as their
//! name in a string field) and `Option` (absent) map to the class's field
//! types. A shape no field type holds (nested structs, lists, maps, enums
//! with data) is a typed error naming the class and field, never a silent
//! change.

use serde::{de::DeserializeOwned, Serialize};

use rockhold_format::{ClassDef, ObjectId, ObjectRecord};

use crate::db::Db;
use crate::error::{Error, Result};

mod de;
mod ser;

/// Builds a `T` from a record of `class`; absent fields are `None`.
fn from_record<T: DeserializeOwned>(
    class: &ClassDef,
    id: ObjectId,
    record: &ObjectRecord,
) -> Result<T> {
    T::deserialize(de::RecordDe { class, record }).map_err(|e| match e {
        Error::InvalidRequest(why) => Error::Serde {
            class: class.name.clone(),
            what: format!("object {id} does not fit the type"),
            source: why.into(),
        },
        other => other,
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
        self.insert(namespace, class, ser::to_fields(&def, item)?)
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
        self.update(namespace, id, ser::to_fields(&def, item)?)
    }

    /// Loads an object as a struct, or `None` if it does not exist.
    pub fn get_typed<T: DeserializeOwned>(
        &self,
        namespace: &str,
        id: ObjectId,
    ) -> Result<Option<T>> {
        let view = self.view();
        let ns = view.namespace(namespace)?;
        let Some(record) = view.record(ns, id)? else {
            return Ok(None);
        };
        let catalog = self.inner.catalog.peek();
        let entry = catalog.class_of_record(ns, id, &record)?;
        from_record(&entry.def, id, &record).map(Some)
    }
}
