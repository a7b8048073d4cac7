//! The facade: typed.

use rockhold_format::ObjectId;
use serde::{de::DeserializeOwned, Serialize};

use crate::db::Db;
use crate::error::Result;

impl Db {
    /// Inserts a struct as an object of `class`; returns its id.
    pub fn insert_typed<T: Serialize>(
        &self,
        namespace: &str,
        class: &str,
        item: &T,
    ) -> Result<ObjectId> {
        self.inner.insert_typed(namespace, class, item)
    }

    /// Replaces every field of an object with the struct's values (a field
    /// the struct gives as `None`, or skips with `skip_serializing_if`, is
    /// cleared; fields the struct does not have are kept).
    pub fn update_typed<T: Serialize>(
        &self,
        namespace: &str,
        id: ObjectId,
        item: &T,
    ) -> Result<()> {
        self.inner.update_typed(namespace, id, item)
    }

    /// Loads an object as a struct, or `None` if it does not exist.
    pub fn get_typed<T: DeserializeOwned>(
        &self,
        namespace: &str,
        id: ObjectId,
    ) -> Result<Option<T>> {
        self.inner.get_typed(namespace, id)
    }
}
