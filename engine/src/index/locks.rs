//! Striped locks that serialize writers who could conflict, and only them.
//!
//! Two tables: one for objects being updated or deleted, one for
//! (class, index, tuple hash) of unique values being written. A writer takes
//! all of its object stripes, then all of its value stripes, each list sorted
//! and deduplicated, and holds them until its batch has committed. Every
//! writer acquires in that one global order, so no cycle (deadlock) can form.
//! Two different keys may share a stripe: that costs a little parallelism,
//! never correctness.
//!
//! The whole lock order of the engine, outermost first:
//! 1. the catalog gate (`CatalogCell::pin`, shared, for object writers and
//!    build chunks; exclusive for catalog changes and a bulk build's ingest);
//! 2. the range-validation lock (`ranges`): exclusive for a read-write
//!    transaction that read index ranges, from its validation to its
//!    write; shared for every other object commit, so no write lands
//!    between such a validation and its write (see txn/reads.rs);
//! 3. object stripes (`lock_objects`), all at once (a transaction's read
//!    objects with the ones it writes);
//! 4. value stripes (`lock_values`), all at once (with the unique keys a
//!    transaction read);
//! 5. short internal mutexes (the id allocator, the build log, caches),
//!    never held while taking any of the above.

use std::hash::{BuildHasher, Hash};

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use rockhold_format::{ClassId, IndexId, NamespaceId, ObjectId};

pub(crate) struct LockTable {
    objects: Vec<Mutex<()>>,
    values: Vec<Mutex<()>>,
    ranges: RwLock<()>,
    hasher: std::collections::hash_map::RandomState,
}

/// The range-validation lock as one commit holds it; dropping it releases it.
pub(crate) enum RangeGuard<'a> {
    Exclusive(#[expect(dead_code, reason = "held for its drop")] RwLockWriteGuard<'a, ()>),
    Shared(#[expect(dead_code, reason = "held for its drop")] RwLockReadGuard<'a, ()>),
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
            ranges: RwLock::new(()),
            hasher: Default::default(),
        }
    }

    fn stripe(&self, key: impl Hash, n: usize) -> usize {
        (self.hasher.hash_one(key) % n as u64) as usize
    }

    /// Takes the range-validation lock: exclusively for a read-write
    /// transaction that read index ranges (it validates and writes alone),
    /// shared for every other object commit (they run in parallel, but
    /// never between such a validation and its write; see txn/reads.rs).
    pub fn ranges(&self, exclusive: bool) -> RangeGuard<'_> {
        if exclusive {
            RangeGuard::Exclusive(self.ranges.write())
        } else {
            RangeGuard::Shared(self.ranges.read())
        }
    }

    /// Takes the stripes of these objects (a writer's first step, before
    /// it reads their records).
    pub fn lock_objects(
        &self,
        objects: impl IntoIterator<Item = (NamespaceId, ObjectId)>,
    ) -> HeldLocks<'_> {
        let n = self.objects.len();
        let mut stripes: Vec<usize> = objects.into_iter().map(|o| self.stripe(o, n)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        HeldLocks {
            _guards: stripes
                .into_iter()
                .map(|i| self.objects[i].lock())
                .collect(),
        }
    }

    /// Takes the stripes of these unique values (class, index, tuple hash);
    /// the caller already holds its object stripes, and takes no other
    /// object stripe while it holds these.
    pub fn lock_values(
        &self,
        values: impl IntoIterator<Item = (ClassId, IndexId, u64)>,
    ) -> HeldLocks<'_> {
        let n = self.values.len();
        let mut stripes: Vec<usize> = values.into_iter().map(|v| self.stripe(v, n)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        HeldLocks {
            _guards: stripes.into_iter().map(|i| self.values[i].lock()).collect(),
        }
    }
}
