//! A read view of staged writes over a base store: what a read-write
//! transaction reads, so its reads see its own writes with every read path
//! unchanged (records, unique point keys, hash and ordered entries).
//!
//! The staged writes are the batches the transaction's operations imply
//! (records and index entries, computed by the same planning code as a
//! commit); each key's last staged write shadows the base. Iterators merge
//! the two in key order. Positioning re-seeks the base for every step:
//! transactions read few keys, and a stateless merge cannot go wrong when
//! the direction changes.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{BatchOp, KeyRange, KvIter, KvRead, Space, WriteBatch};
use crate::error::Result;

/// Staged writes by (space, key): `Some(value)` for a put, `None` for a
/// delete.
#[derive(Debug, Default, Clone)]
pub(crate) struct Staged {
    writes: BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
}

impl Staged {
    /// Applies a batch's puts and deletes on top of what is staged; a
    /// range delete tombstones every key of the range in `base` and in the
    /// staged writes.
    pub fn apply(&mut self, base: &dyn KvRead, batch: &WriteBatch) -> Result<()> {
        for op in batch.ops() {
            match op {
                BatchOp::Put(space, key, value) => {
                    self.writes
                        .insert((space, key.to_vec()), Some(value.to_vec()));
                }
                BatchOp::Delete(space, key) => {
                    self.writes.insert((space, key.to_vec()), None);
                }
                BatchOp::DeleteRange(space, start, end) => {
                    let mut doomed = Vec::new();
                    base.scan(
                        space,
                        KeyRange::new(start, Some(end.to_vec())),
                        &mut |k, _| {
                            doomed.push(k.to_vec());
                            Ok(true)
                        },
                    )?;
                    let lower = (space, start.to_vec());
                    let upper = (space, end.to_vec());
                    doomed.extend(self.writes.range(lower..upper).map(|((_, k), _)| k.clone()));
                    for k in doomed {
                        self.writes.insert((space, k), None);
                    }
                }
            }
        }
        Ok(())
    }

    /// The staged writes over `base`, as a store to read.
    pub fn over<'a>(&'a self, base: &'a dyn KvRead) -> Overlay<'a> {
        Overlay { base, staged: self }
    }

    fn get(&self, space: Space, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        // A borrowed lookup key would need a custom Borrow impl; the copy is
        // one key per read.
        self.writes.get(&(space, key.to_vec()))
    }
}

/// [`Staged`] writes read over a base store.
pub(crate) struct Overlay<'a> {
    base: &'a dyn KvRead,
    staged: &'a Staged,
}

impl KvRead for Overlay<'_> {
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.staged.get(space, key) {
            Some(Some(value)) => {
                f(value);
                Ok(true)
            }
            Some(None) => Ok(false),
            None => self.base.get_with(space, key, f),
        }
    }

    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>> {
        let lower = (space, range.lower.clone());
        let staged: Vec<(Vec<u8>, Option<Vec<u8>>)> = match &range.upper {
            Some(upper) => self
                .staged
                .writes
                .range(lower..(space, upper.clone()))
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect(),
            None => self
                .staged
                .writes
                .range(lower..)
                .take_while(|((s, _), _)| *s == space)
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect(),
        };
        Ok(Box::new(OverlayIter {
            base: self.base.iter(space, range)?,
            staged,
            current: None,
        }))
    }
}

struct OverlayIter<'a> {
    base: Box<dyn KvIter + 'a>,
    /// The staged writes within the iterator's range, in key order.
    staged: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    current: Option<(Vec<u8>, Vec<u8>)>,
}

impl OverlayIter<'_> {
    fn shadowed(&self, key: &[u8]) -> bool {
        self.staged
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .is_ok()
    }

    /// The first visible entry at or after `from` (inclusive or not).
    fn forward(&mut self, from: Bound<&[u8]>) {
        match from {
            Bound::Unbounded => self.base.seek_to_first(),
            Bound::Included(k) | Bound::Excluded(k) => {
                self.base.seek(k);
                if let (Bound::Excluded(k), Some(b)) = (from, self.base.key()) {
                    if b == k {
                        self.base.next();
                    }
                }
            }
        }
        while let Some(b) = self.base.key() {
            if !self.shadowed(b) {
                break;
            }
            self.base.next();
        }
        let start = match from {
            Bound::Unbounded => 0,
            Bound::Included(k) => self.staged.partition_point(|(s, _)| s.as_slice() < k),
            Bound::Excluded(k) => self.staged.partition_point(|(s, _)| s.as_slice() <= k),
        };
        let staged = self.staged[start..]
            .iter()
            .find_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        self.current = match (self.base.key(), staged) {
            (Some(b), Some((s, v))) if s.as_slice() < b => Some((s.clone(), v.clone())),
            (Some(b), _) => Some((b.to_vec(), self.base.value().unwrap_or_default().to_vec())),
            (None, Some((s, v))) => Some((s.clone(), v.clone())),
            (None, None) => None,
        };
    }

    /// The last visible entry before `to` (`None`: the last of the range).
    fn backward(&mut self, to: Option<&[u8]>) {
        match to {
            None => self.base.seek_to_last(),
            Some(k) => {
                self.base.seek(k);
                if self.base.key().is_some() {
                    self.base.prev();
                } else {
                    self.base.seek_to_last();
                    if self.base.key().is_some_and(|b| b >= k) {
                        self.base.prev();
                    }
                }
            }
        }
        while let Some(b) = self.base.key() {
            if !self.shadowed(b) {
                break;
            }
            self.base.prev();
        }
        let end = match to {
            None => self.staged.len(),
            Some(k) => self.staged.partition_point(|(s, _)| s.as_slice() < k),
        };
        let staged = self.staged[..end]
            .iter()
            .rev()
            .find_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        self.current = match (self.base.key(), staged) {
            (Some(b), Some((s, v))) if s.as_slice() > b => Some((s.clone(), v.clone())),
            (Some(b), _) => Some((b.to_vec(), self.base.value().unwrap_or_default().to_vec())),
            (None, Some((s, v))) => Some((s.clone(), v.clone())),
            (None, None) => None,
        };
    }
}

impl KvIter for OverlayIter<'_> {
    fn seek(&mut self, key: &[u8]) {
        self.forward(Bound::Included(key));
    }

    fn seek_to_first(&mut self) {
        self.forward(Bound::Unbounded);
    }

    fn seek_to_last(&mut self) {
        self.backward(None);
    }

    fn next(&mut self) {
        if let Some((cur, _)) = self.current.take() {
            self.forward(Bound::Excluded(&cur));
        }
    }

    fn prev(&mut self) {
        if let Some((cur, _)) = self.current.take() {
            self.backward(Some(&cur));
        }
    }

    fn key(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(k, _)| k.as_slice())
    }

    fn value(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(_, v)| v.as_slice())
    }

    fn status(&self) -> Result<()> {
        self.base.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::mem::MemStore;
    use crate::kv::Kv;
    use proptest::prelude::*;
    use std::collections::BTreeMap as Model;

    fn keys(it: &mut dyn KvIter, reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        if reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            out.push((k.to_vec(), v.to_vec()));
            if reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        out
    }

    proptest! {
        /// The overlay reads exactly like the base with the staged writes
        /// applied: point reads, forward and reverse iteration, seeks, and
        /// a direction change mid-way. (Checked to fail by letting a staged
        /// delete not shadow the base in `forward`.)
        #[test]
        fn reads_like_the_base_with_the_writes_applied(
            base in proptest::collection::btree_map(proptest::collection::vec(0u8..4, 0..3), any::<u8>(), 0..12),
            writes in proptest::collection::vec((proptest::collection::vec(0u8..4, 0..3), proptest::option::of(any::<u8>())), 0..12),
            seek in proptest::collection::vec(0u8..4, 0..3),
        ) {
            let store = MemStore::new();
            let kv = store.open().expect("open");
            let mut b = WriteBatch::new();
            for (k, v) in &base {
                b.put_in(Space::Ordered, k, &[*v]);
            }
            kv.write(&b, false).expect("write");
            let mut staged_batch = WriteBatch::new();
            let mut model: Model<Vec<u8>, Vec<u8>> = base.iter().map(|(k, v)| (k.clone(), vec![*v])).collect();
            for (k, v) in &writes {
                match v {
                    Some(v) => { staged_batch.put_in(Space::Ordered, k, &[*v]); model.insert(k.clone(), vec![*v]); }
                    None => { staged_batch.delete(rockhold_format::Family::Ordered, k); model.remove(k); }
                }
            }
            let mut staged = Staged::default();
            staged.apply(kv.latest(), &staged_batch).expect("apply");
            let ov = staged.over(kv.latest());
            let want: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
            let mut it = ov.iter(Space::Ordered, KeyRange::new(&[], None)).expect("iter");
            prop_assert_eq!(keys(&mut *it, false), want.clone());
            let mut rev = want.clone();
            rev.reverse();
            prop_assert_eq!(keys(&mut *it, true), rev);
            for (k, v) in &model {
                prop_assert_eq!((&ov as &dyn KvRead).get(Space::Ordered, k).expect("get"), Some(v.clone()));
            }
            it.seek(&seek);
            let at = model.range(seek.clone()..).next().map(|(k, _)| k.clone());
            prop_assert_eq!(it.key().map(<[u8]>::to_vec), at.clone());
            if at.is_some() {
                it.prev();
                let before = model.range(..seek.clone()).next_back().map(|(k, _)| k.clone());
                prop_assert_eq!(it.key().map(<[u8]>::to_vec), before);
            }
            // Another space is untouched.
            let mut other = ov.iter(Space::Hash, KeyRange::new(&[], None)).expect("iter");
            prop_assert!(keys(&mut *other, false).is_empty());
        }
    }
}
