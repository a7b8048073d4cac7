//! LRU caches that never answer stale.
//!
//! A writer brackets its commit with an invalidation: before the batch is
//! written the affected keys are removed and marked pending; after it is
//! written they are removed again and unmarked. While a key is pending, the
//! cache neither answers nor accepts it. Every invalidation step moves a
//! generation counter, and a reader only inserts what it read from storage if
//! the generation has not moved since before its read. So:
//! - a hit before the writer's first step is older than the commit (fine);
//! - during the commit, the key is pending: the reader goes to storage;
//! - after the second step, no entry read before the commit can be present:
//!   it was removed, and any later insert of an old read is refused.
//!
//! The unique-lookup cache has a second, independent guard: every entry
//! carries the [`Stamp`] taken before its storage read, and a hit is
//! answered only while its object has not been written since
//! ([`WriteStamps`]: one atomic load, where verifying against the record
//! was a read of storage). Every object write passes through the commit,
//! which stamps the objects it touches, so a missed invalidation of a
//! unique value could not produce a wrong answer either.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;
use rockhold_format::{NamespaceId, ObjectId};

struct State<K: Hash + Eq, V> {
    lru: LruCache<K, V>,
    pending: HashMap<K, usize>,
    generation: u64,
}

pub(crate) struct GuardedLru<K: Hash + Eq, V: Clone> {
    inner: Option<Mutex<State<K, V>>>,
}

/// The generation a reader saw before reading storage.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Generation(u64);

/// An invalidation in progress; ends (second step) when dropped, whether the
/// commit succeeded or not.
pub(crate) struct Invalidation<'c, K: Hash + Eq + Clone, V: Clone> {
    cache: &'c GuardedLru<K, V>,
    keys: Vec<K>,
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Invalidation<'_, K, V> {
    fn drop(&mut self) {
        // An invalidation of no key (an insert's) neither locks nor moves
        // the generation, so it refuses no concurrent reader's fill.
        if let (Some(m), false) = (&self.cache.inner, self.keys.is_empty()) {
            let mut s = m.lock();
            for k in &self.keys {
                s.lru.pop(k);
                if let Some(n) = s.pending.get_mut(k) {
                    *n -= 1;
                    if *n == 0 {
                        s.pending.remove(k);
                    }
                }
            }
            s.generation += 1;
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> GuardedLru<K, V> {
    /// A cache of `entries` entries; 0 disables it.
    pub fn new(entries: usize) -> Self {
        GuardedLru {
            inner: NonZeroUsize::new(entries).map(|n| {
                Mutex::new(State {
                    lru: LruCache::new(n),
                    pending: HashMap::new(),
                    generation: 0,
                })
            }),
        }
    }

    /// The cached value of `key`, or (a miss) the generation to insert a
    /// storage read under: one lock for both.
    pub fn lookup(&self, key: &K) -> Result<V, Generation> {
        let Some(m) = &self.inner else {
            return Err(Generation(0));
        };
        let mut s = m.lock();
        if !s.pending.contains_key(key) {
            if let Some(v) = s.lru.get(key) {
                return Ok(v.clone());
            }
        }
        Err(Generation(s.generation))
    }

    pub fn generation(&self) -> Generation {
        Generation(self.inner.as_ref().map_or(0, |m| m.lock().generation))
    }

    /// Inserts unless the generation moved since `seen` or the key is pending.
    pub fn insert_if_unchanged(&self, seen: Generation, key: K, value: V) {
        if let Some(m) = &self.inner {
            let mut s = m.lock();
            if s.generation == seen.0 && !s.pending.contains_key(&key) {
                s.lru.put(key, value);
            }
        }
    }

    /// First step of an invalidation: removes `keys` and marks them pending
    /// until the returned guard is dropped (after the commit).
    pub fn begin_invalidation(&self, keys: Vec<K>) -> Invalidation<'_, K, V> {
        if let (Some(m), false) = (&self.inner, keys.is_empty()) {
            let mut s = m.lock();
            for k in &keys {
                s.lru.pop(k);
                *s.pending.entry(k.clone()).or_insert(0) += 1;
            }
            s.generation += 1;
        }
        Invalidation { cache: self, keys }
    }

    /// Empties the cache and moves the generation.
    pub fn clear(&self) {
        if let Some(m) = &self.inner {
            let mut s = m.lock();
            s.lru.clear();
            s.generation += 1;
        }
    }
}

/// The clock value a reader took before reading storage.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp(u64);

/// When each object was last written, by stripe (objects that share a
/// stripe share a stamp: a write to one makes the others' cached entries
/// stale too, which costs a storage read, never a wrong answer).
///
/// A writer stamps its objects before and after its batch is written
/// ([`WriteStamps::writing`]); each stamp is a new clock value. A reader
/// takes [`WriteStamps::now`] before its storage read and keeps it with
/// what it caches; [`WriteStamps::unchanged_since`] then holds only while
/// no write to the object has begun since. A read that saw the state
/// before a commit took its stamp before the commit's second stamp, so the
/// entry is stale once that commit returns; one taken after the commit
/// began is stale from the second stamp on.
pub(crate) struct WriteStamps {
    clock: AtomicU64,
    stripes: Box<[AtomicU64]>,
}

/// Stripes of [`WriteStamps`] (a power of two).
const STAMP_STRIPES: usize = 4096;

impl Default for WriteStamps {
    fn default() -> Self {
        WriteStamps {
            clock: AtomicU64::new(0),
            stripes: (0..STAMP_STRIPES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl WriteStamps {
    fn stripe(&self, ns: NamespaceId, id: ObjectId) -> &AtomicU64 {
        let mixed = (id.0 ^ u64::from(ns.0).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.stripes[(mixed >> (64 - STAMP_STRIPES.trailing_zeros())) as usize]
    }

    /// The clock, taken before a storage read whose result is cached.
    pub fn now(&self) -> Stamp {
        Stamp(self.clock.load(Ordering::SeqCst))
    }

    /// Whether no write to object `id` has begun since `seen`.
    pub fn unchanged_since(&self, ns: NamespaceId, id: ObjectId, seen: Stamp) -> bool {
        self.stripe(ns, id).load(Ordering::SeqCst) <= seen.0
    }

    fn stamp(&self, objects: impl IntoIterator<Item = (NamespaceId, ObjectId)>) {
        let now = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        for (ns, id) in objects {
            self.stripe(ns, id).fetch_max(now, Ordering::SeqCst);
        }
    }

    /// Stamps `objects` now and again when the returned guard is dropped
    /// (after the batch that writes them, whether it succeeded or not).
    pub fn writing<I>(&self, objects: I) -> Writing<'_, I>
    where
        I: Iterator<Item = (NamespaceId, ObjectId)> + Clone,
    {
        self.stamp(objects.clone());
        Writing {
            stamps: self,
            objects,
        }
    }
}

/// A write of some objects in progress (see [`WriteStamps::writing`]).
pub(crate) struct Writing<'s, I: Iterator<Item = (NamespaceId, ObjectId)> + Clone> {
    stamps: &'s WriteStamps,
    objects: I,
}

impl<I: Iterator<Item = (NamespaceId, ObjectId)> + Clone> Drop for Writing<'_, I> {
    fn drop(&mut self) {
        self.stamps.stamp(self.objects.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_stale_once_its_object_is_written() {
        let w = WriteStamps::default();
        let (ns, a, b) = (NamespaceId(1), ObjectId(7), ObjectId(8));
        let before = w.now();
        assert!(w.unchanged_since(ns, a, before));
        let writing = w.writing(std::iter::once((ns, a)));
        // A read that starts while the batch is being written (it may see
        // either state) is stale once the write ends.
        let during = w.now();
        assert!(!w.unchanged_since(ns, a, before));
        assert!(w.unchanged_since(ns, a, during));
        drop(writing);
        assert!(!w.unchanged_since(ns, a, during));
        let after = w.now();
        assert!(w.unchanged_since(ns, a, after));
        // Another object keeps its stamp unless it shares the stripe.
        if !std::ptr::eq(w.stripe(ns, a), w.stripe(ns, b)) {
            assert!(w.unchanged_since(ns, b, before));
        }
    }

    #[test]
    fn a_read_that_straddles_a_commit_is_not_cached() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(8);
        let seen = c.generation();
        // ... the reader reads storage here; a writer commits:
        drop(c.begin_invalidation(vec![1]));
        c.insert_if_unchanged(seen, 1, 100);
        assert!(c.lookup(&1).is_err());
        let seen = c.generation();
        c.insert_if_unchanged(seen, 1, 101);
        assert_eq!(c.lookup(&1).ok(), Some(101));
    }

    #[test]
    fn pending_keys_are_neither_answered_nor_accepted() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(8);
        c.insert_if_unchanged(c.generation(), 1, 1);
        let inv = c.begin_invalidation(vec![1]);
        assert!(c.lookup(&1).is_err());
        c.insert_if_unchanged(c.generation(), 1, 2);
        assert!(c.lookup(&1).is_err());
        drop(inv);
        c.insert_if_unchanged(c.generation(), 1, 3);
        assert_eq!(c.lookup(&1).ok(), Some(3));
    }

    #[test]
    fn an_invalidation_of_no_key_refuses_no_fill() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(8);
        let seen = c.generation();
        drop(c.begin_invalidation(Vec::new()));
        c.insert_if_unchanged(seen, 1, 1);
        assert_eq!(c.lookup(&1).ok(), Some(1));
    }

    #[test]
    fn zero_entries_disables() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(0);
        c.insert_if_unchanged(c.generation(), 1, 1);
        assert!(c.lookup(&1).is_err());
    }
}
