//! Striped locks that serialize writers who could conflict, and only them.
//!
//! Two tables: one for objects being updated or deleted, one for
//! (class, field, value hash) of unique values being written. A writer takes
//! all of its object stripes, then all of its value stripes, each list sorted
//! and deduplicated, and holds them until its batch has committed. Every
//! writer acquires in that one global order, so no cycle (deadlock) can form.
//! Two different keys may share a stripe: that costs a little parallelism,
//! never correctness.

use std::hash::{BuildHasher, Hash};

use parking_lot::{Mutex, MutexGuard};
use rockhold_format::{ClassId, FieldId, NamespaceId, ObjectId};

pub(crate) struct LockTable {
    objects: Vec<Mutex<()>>,
    values: Vec<Mutex<()>>,
    hasher: std::collections::hash_map::RandomState,
}

/// The guards of one writer; dropping it releases everything.
pub(crate) struct HeldLocks<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl LockTable {
    pub fn new(stripes: usize) -> Self {
        let make = || {
            (0..stripes.max(1))
                .map(|_| Mutex::new(()))
                .collect::<Vec<_>>()
        };
        LockTable {
            objects: make(),
            values: make(),
            hasher: Default::default(),
        }
    }

    fn stripe(&self, key: impl Hash, n: usize) -> usize {
        (self.hasher.hash_one(key) % n as u64) as usize
    }

    pub fn object_stripe(&self, ns: NamespaceId, id: ObjectId) -> usize {
        self.stripe((ns, id), self.objects.len())
    }

    pub fn value_stripe(&self, class: ClassId, field: FieldId, hash: u64) -> usize {
        self.stripe((class, field, hash), self.values.len())
    }

    /// Takes the given stripes in the global order: objects, then values.
    pub fn lock(&self, mut objects: Vec<usize>, mut values: Vec<usize>) -> HeldLocks<'_> {
        objects.sort_unstable();
        objects.dedup();
        values.sort_unstable();
        values.dedup();
        let mut guards = Vec::with_capacity(objects.len() + values.len());
        guards.extend(objects.into_iter().map(|i| self.objects[i].lock()));
        guards.extend(values.into_iter().map(|i| self.values[i].lock()));
        HeldLocks { _guards: guards }
    }

    /// Takes object stripes only (used first, before values are known).
    pub fn lock_objects(&self, objects: Vec<usize>) -> HeldLocks<'_> {
        self.lock(objects, Vec::new())
    }

    /// Takes value stripes only; the caller already holds its object stripes.
    pub fn lock_values(&self, values: Vec<usize>) -> HeldLocks<'_> {
        self.lock(Vec::new(), values)
    }
}
