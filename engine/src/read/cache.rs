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
//! The unique-lookup read path also verifies each hit against the object
//! record, so even a missed invalidation could not produce a wrong answer.

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroUsize;

use lru::LruCache;
use parking_lot::Mutex;

struct State<K: Hash + Eq, V> {
    lru: LruCache<K, V>,
    pending: HashMap<K, usize>,
    generation: u64,
}

pub(crate) struct GuardedLru<K: Hash + Eq, V: Clone> {
    inner: Option<Mutex<State<K, V>>>,
}

/// The generation a reader saw before reading storage.
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

/// An invalidation in progress; ends (second step) when dropped, whether the
/// commit succeeded or not.
pub(crate) struct Invalidation<'c, K: Hash + Eq + Clone, V: Clone> {
    cache: &'c GuardedLru<K, V>,
    keys: Vec<K>,
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Invalidation<'_, K, V> {
    fn drop(&mut self) {
        if let Some(m) = &self.cache.inner {
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

    pub fn get(&self, key: &K) -> Option<V> {
        let mut s = self.inner.as_ref()?.lock();
        if s.pending.contains_key(key) {
            return None;
        }
        s.lru.get(key).cloned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_straddles_a_commit_is_not_cached() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(8);
        let seen = c.generation();
        // ... the reader reads storage here; a writer commits:
        drop(c.begin_invalidation(vec![1]));
        c.insert_if_unchanged(seen, 1, 100);
        assert_eq!(c.get(&1), None);
        let seen = c.generation();
        c.insert_if_unchanged(seen, 1, 101);
        assert_eq!(c.get(&1), Some(101));
    }

    #[test]
    fn pending_keys_are_neither_answered_nor_accepted() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(8);
        c.insert_if_unchanged(c.generation(), 1, 1);
        let inv = c.begin_invalidation(vec![1]);
        assert_eq!(c.get(&1), None);
        c.insert_if_unchanged(c.generation(), 1, 2);
        assert_eq!(c.get(&1), None);
        drop(inv);
        c.insert_if_unchanged(c.generation(), 1, 3);
        assert_eq!(c.get(&1), Some(3));
    }

    #[test]
    fn zero_entries_disables() {
        let c: GuardedLru<u32, u32> = GuardedLru::new(0);
        c.insert_if_unchanged(c.generation(), 1, 1);
        assert_eq!(c.get(&1), None);
    }
}
