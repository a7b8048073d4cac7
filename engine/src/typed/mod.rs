//! # The typed API
//!
//! Owns: storing and loading `#[derive(Serialize, Deserialize)]` structs.
//! The typed reads and writes (`insert_typed`, `load_typed` …) sit on the
//! write path's context; the typed handles (`Collection`) are the
//! database's facade (db/collection.rs).
//!
//! May call: `txn` (commits), `read` (records), `catalog`, `kv`, `error`.
//!
//! A struct maps to a class by field name, through serde's data model and
//! this layer's own `Serializer` (`ser`) and `Deserializer` (`de`), with no
//! intermediate format: the whole serde data model (every integer width,
//! `f32`/`f64` with NaN bits and -0.0, `char`, strings, bytes, options,
//! unit, tuples, sequences, maps, nested structs, enums of every variant
//! kind) is written into the class's field values, each checked against its
//! declared [`rockhold_format::FieldType`] on the way, and read back in
//! place from the stored record. The mapping is documented in `ser`. A
//! shape the declared type does not hold, an integer out of range, an
//! unknown or missing field or member, `Some(None)` and nesting deeper than
//! [`rockhold_format::MAX_DEPTH`] are typed errors naming the class and the
//! value's path (`field.member[2]{"key"}::Variant`); nothing is written.

use serde::{de::DeserializeOwned, Serialize};

use rockhold_format::{ClassDef, ClassId, Key as _, NamespaceId, ObjectId, ObjectKey, RecordView};

use crate::error::{Error, Result};
use crate::txn::WriteCtx;
use crate::txn::{ClassIds, FieldValues};

mod any;
pub(crate) mod de;
pub(crate) mod model;
mod path;
pub(crate) mod ser;
#[cfg(test)]
mod tests;

/// Names the object in a read error (the deserializer names the field).
pub(crate) fn reading(id: ObjectId, e: Error) -> Error {
    match e {
        Error::Serde {
            class,
            what,
            source,
        } => Error::Serde {
            class,
            what: format!("object {id}: {what}"),
            source,
        },
        other => other,
    }
}

impl WriteCtx {
    /// Inserts a struct as an object of `class`; returns its id.
    pub(crate) fn insert_typed<T: Serialize>(
        &self,
        namespace: &str,
        class: &str,
        item: &T,
    ) -> Result<ObjectId> {
        let entry = self.catalog.peek().class(namespace, class)?.clone();
        let fields = FieldValues::Ids(ser::to_fields(&entry.def, item)?, entry.clone());
        let ids = ClassIds::of(&entry, class.to_string());
        self.commit_one(|tx| tx.insert_in(ids, fields))
    }

    /// Replaces every field of an object with the struct's values (a field
    /// the struct gives as `None`, or skips with `skip_serializing_if`, is
    /// cleared; fields the struct does not have are kept).
    pub(crate) fn update_typed<T: Serialize>(
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
        let entry = self.catalog.peek().class(namespace, &class)?.clone();
        let fields = FieldValues::Ids(ser::to_fields(&entry.def, item)?, entry.clone());
        // Written only if the object is still of the class serialized for.
        let ids = ClassIds::of(&entry, class);
        self.commit_one(|tx| {
            tx.update_in(ids, id, fields);
            Ok(())
        })
    }

    /// Loads an object as a struct, or `None` if it does not exist.
    pub(crate) fn get_typed<T: DeserializeOwned>(
        &self,
        namespace: &str,
        id: ObjectId,
    ) -> Result<Option<T>> {
        let ns = self.view().namespace(namespace)?;
        self.load_typed(ns, None, id, |_| Ok(()))
    }

    /// Reads object `id` of namespace `ns` as a `T` in place (nothing is
    /// decoded but the fields the struct asks for), after `check` accepts
    /// its class: the one typed point read. With the class expected
    /// (`class`, a collection's), one point read of its record; only a miss
    /// reads the locator, to tell an object of another class (which
    /// `check` refuses) from none.
    pub(crate) fn load_typed<T: DeserializeOwned>(
        &self,
        ns: NamespaceId,
        class: Option<ClassId>,
        id: ObjectId,
        check: impl Fn(&ClassDef) -> Result<()>,
    ) -> Result<Option<T>> {
        let view = self.view();
        let catalog = self.catalog.peek();
        let read = |key: &[u8], record: RecordView<'_>| {
            let entry = catalog.class_of_record(ns, id, record.class())?;
            check(&entry.def)?;
            de::from_view(&entry.def, record, key)
        };
        let found = match class {
            Some(class) => view.with_record_in(ns, class, id, read),
            None => view.with_record(ns, id, read),
        };
        match found.map_err(|e| reading(id, e))? {
            None if class.is_some() => view.with_record(ns, id, read).map_err(|e| reading(id, e)),
            found => Ok(found),
        }
    }

    /// Reads the objects `ids` of class `class` as `T`s in place, in one
    /// batched lookup, in the order asked (`None` where the class holds
    /// none: index hits deleted since), after `check` accepts the class.
    pub(crate) fn load_many_typed<T: DeserializeOwned>(
        &self,
        ns: NamespaceId,
        class: ClassId,
        ids: &[ObjectId],
        check: impl Fn(&ClassDef, ObjectId) -> Result<()>,
    ) -> Result<Vec<Option<T>>> {
        let keys: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| ObjectKey { ns, class, id }.encode())
            .collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let catalog = self.catalog.peek();
        let mut out: Vec<Option<T>> = Vec::with_capacity(ids.len());
        out.resize_with(ids.len(), || None);
        let mut failed = None;
        self.view()
            .kv
            .multi_get_with(crate::kv::Space::Objects, &refs, &mut |i, bytes| {
                if failed.is_some() {
                    return;
                }
                let (id, key) = (ids[i], &keys[i]);
                let read = RecordView::in_class(bytes, class)
                    .map_err(|e| Error::corruption(key, e))
                    .and_then(|record| {
                        let entry = catalog.class_of_record(ns, id, record.class())?;
                        check(&entry.def, id)?;
                        de::from_view(&entry.def, record, key).map_err(|e| reading(id, e))
                    });
                match read {
                    Ok(t) => out[i] = Some(t),
                    Err(e) => failed = Some(e),
                }
            })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}
