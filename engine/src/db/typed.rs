//! The facade: typed.

use rockhold_format::{ClassDef, NamespaceId, ObjectId};
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

    /// Reads object `id` of namespace `ns` as a `T` in place (nothing is
    /// decoded but the fields the struct asks for), after `check` accepts
    /// its class: the one typed point read.
    pub(crate) fn load_typed<T: DeserializeOwned>(
        &self,
        ns: NamespaceId,
        id: ObjectId,
        check: impl FnOnce(&ClassDef) -> Result<()>,
    ) -> Result<Option<T>> {
        self.inner.load_typed(ns, id, check)
    }

    /// Reads the objects `ids` of namespace `ns` as `T`s in place, in one
    /// batched lookup, in the order asked (`None` where there is none),
    /// after `check` accepts each one's class.
    pub(crate) fn load_many_typed<T: DeserializeOwned>(
        &self,
        ns: NamespaceId,
        ids: &[ObjectId],
        check: impl Fn(&ClassDef, ObjectId) -> Result<()>,
    ) -> Result<Vec<Option<T>>> {
        self.inner.load_many_typed(ns, ids, check)
    }
}
