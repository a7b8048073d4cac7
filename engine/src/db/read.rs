//! The facade: reads at the latest state, snapshots.

use rockhold_format::ObjectId;

use crate::catalog::ClassAt;
use crate::db::Db;
use crate::error::Result;
use crate::read::{
    read_methods, FacetPage, FindAll, FindPage, Object, RangeScan, ScanPage, Snapshot, View,
};
use rockhold_format::Value;

impl Db {
    pub(crate) fn view(&self) -> View<'_> {
        self.inner.view()
    }

    read_methods!();

    /// A consistent snapshot: every read through it sees the database as it
    /// was at this call: records, indexes, and which indexes are ready (a
    /// catalog copy taken with it). It bypasses the caches.
    pub fn snapshot(&self) -> Snapshot<'_> {
        self.inner.snapshot()
    }

    /// The name of the class of an object, or `None` if it does not exist.
    /// Answered from the object → class cache when possible.
    pub fn class_of(&self, namespace: &str, id: ObjectId) -> Result<Option<String>> {
        self.inner.class_of(namespace, id)
    }
}
