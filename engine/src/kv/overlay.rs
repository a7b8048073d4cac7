//! A read view of staged writes over a base store: what a read-write
//! transaction reads, so its reads see its own writes with every read path
//! unchanged (records, unique point keys, hash and ordered entries); and
//! [`Recording`], which notes the key intervals a reader's iterators
//! covered, so a transaction validates what it actually observed.
//!
//! The staged writes are the batches the transaction's operations imply
//! (records and index entries, computed by the same planning code as a
//! commit); each key's last staged write shadows the base. Iterators merge
//! the two in key order, looking the staged writes up in their ordered map
//! at each step: making an iterator copies nothing, so a read costs the
//! same whatever the number of staged writes (it was a copy of every staged
//! key of the range: n reads over n staged inserts were quadratic).

use std::collections::BTreeMap;
use std::ops::Bound;

use parking_lot::Mutex;

use super::{BatchOp, KeyRange, KvIter, KvRead, Space, WriteBatch};
use crate::error::Result;

/// One space's staged writes: `Some(value)` for a put, `None` for a delete.
type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Staged writes by space, then key.
#[derive(Debug, Default, Clone)]
pub(crate) struct Staged {
    writes: [Writes; Space::ALL.len()],
}

impl Staged {
    /// Applies a batch's puts and deletes on top of what is staged; a
    /// range delete tombstones every key of the range in `base` and in the
    /// staged writes.
    pub fn apply(&mut self, base: &dyn KvRead, batch: &WriteBatch) -> Result<()> {
        for op in batch.ops() {
            match op {
                BatchOp::Put(space, key, value) => {
                    self.writes[space.tag() as usize].insert(key.to_vec(), Some(value.to_vec()));
                }
                BatchOp::Delete(space, key) => {
                    self.writes[space.tag() as usize].insert(key.to_vec(), None);
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
                    let writes = &mut self.writes[space.tag() as usize];
                    doomed.extend(
                        writes
                            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
                            .map(|(k, _)| k.clone()),
                    );
                    for k in doomed {
                        writes.insert(k, None);
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
}

/// [`Staged`] writes read over a base store.
pub(crate) struct Overlay<'a> {
    base: &'a dyn KvRead,
    staged: &'a Staged,
}

impl KvRead for Overlay<'_> {
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.staged.writes[space.tag() as usize].get(key) {
            Some(Some(value)) => {
                f(value);
                Ok(true)
            }
            Some(None) => Ok(false),
            None => self.base.get_with(space, key, f),
        }
    }

    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>> {
        let (lower, upper) = (range.lower.clone(), range.upper.clone());
        Ok(Box::new(OverlayIter {
            base: self.base.iter(space, range)?,
            staged: &self.staged.writes[space.tag() as usize],
            lower,
            upper,
            current: None,
        }))
    }
}

struct OverlayIter<'a> {
    base: Box<dyn KvIter + 'a>,
    /// The space's staged writes (read within the iterator's range).
    staged: &'a Writes,
    /// The range: `[lower, upper)`, `upper = None` to the end of the space.
    lower: Vec<u8>,
    upper: Option<Vec<u8>>,
    current: Option<(Vec<u8>, Vec<u8>)>,
}

/// Whether `[lo, hi]` (as bounds) holds no key: `BTreeMap::range` panics
/// on such bounds.
fn empty(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
        (Bound::Included(l), Bound::Included(h)) => l > h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h))
        | (Bound::Excluded(l), Bound::Included(h)) => l >= h,
    }
}

impl OverlayIter<'_> {
    fn shadowed(&self, key: &[u8]) -> bool {
        self.staged.contains_key(key)
    }

    /// The staged writes between two bounds, clipped to the range.
    fn staged_between<'s>(
        &'s self,
        from: Bound<&'s [u8]>,
        to: Bound<&'s [u8]>,
    ) -> impl DoubleEndedIterator<Item = (&'s Vec<u8>, &'s Option<Vec<u8>>)> + 's {
        let lo = match from {
            Bound::Included(k) | Bound::Excluded(k) if k >= self.lower.as_slice() => from,
            _ => Bound::Included(self.lower.as_slice()),
        };
        let hi = match (to, self.upper.as_deref()) {
            (Bound::Unbounded, Some(u)) => Bound::Excluded(u),
            (Bound::Included(k) | Bound::Excluded(k), Some(u)) if k >= u => Bound::Excluded(u),
            _ => to,
        };
        let range = (!empty(lo, hi)).then(|| self.staged.range::<[u8], _>((lo, hi)));
        range.into_iter().flatten()
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
        let staged = self
            .staged_between(from, Bound::Unbounded)
            .find_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        let current = match (self.base.key(), staged) {
            (Some(b), Some((s, v))) if s.as_slice() < b => Some((s.clone(), v.clone())),
            (Some(b), _) => Some((b.to_vec(), self.base.value().unwrap_or_default().to_vec())),
            (None, Some((s, v))) => Some((s.clone(), v.clone())),
            (None, None) => None,
        };
        self.current = current;
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
        let to = match to {
            None => Bound::Unbounded,
            Some(k) => Bound::Excluded(k),
        };
        let staged = self
            .staged_between(Bound::Unbounded, to)
            .rev()
            .find_map(|(k, v)| v.as_ref().map(|v| (k, v)));
        let current = match (self.base.key(), staged) {
            (Some(b), Some((s, v))) if s.as_slice() > b => Some((s.clone(), v.clone())),
            (Some(b), _) => Some((b.to_vec(), self.base.value().unwrap_or_default().to_vec())),
            (None, Some((s, v))) => Some((s.clone(), v.clone())),
            (None, None) => None,
        };
        self.current = current;
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

/// A key interval of one space that a reader's iterator covered: every key
/// in it that was there, the reader saw (or passed over as shadowed). The
/// lower end is inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Covered {
    pub space: Space,
    pub lower: Vec<u8>,
    pub upper: Bound<Vec<u8>>,
}

impl Covered {
    /// The interval as an iterator range (an inclusive end `k` is the
    /// exclusive end `k ++ [0]`, the smallest key after it).
    pub fn range(&self) -> KeyRange {
        let upper = match &self.upper {
            Bound::Included(k) => {
                let mut u = k.clone();
                u.push(0);
                Some(u)
            }
            Bound::Excluded(k) => Some(k.clone()),
            Bound::Unbounded => None,
        };
        KeyRange::new(&self.lower, upper)
    }
}

/// A store read through, noting the interval each iterator covers from
/// its seek to where it stopped (to the range's end when it ran off it).
/// Point reads are not noted: their callers note what they read.
pub(crate) struct Recording<'a> {
    base: &'a dyn KvRead,
    log: Mutex<Vec<Covered>>,
}

impl<'a> Recording<'a> {
    pub fn new(base: &'a dyn KvRead) -> Self {
        Recording {
            base,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The intervals covered so far.
    pub fn into_covered(self) -> Vec<Covered> {
        self.log.into_inner()
    }
}

impl KvRead for Recording<'_> {
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.base.get_with(space, key, f)
    }

    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>> {
        Ok(Box::new(RecordingIter {
            it: self.base.iter(space, range.clone())?,
            space,
            range,
            log: &self.log,
            span: None,
        }))
    }
}

struct RecordingIter<'a> {
    it: Box<dyn KvIter + 'a>,
    space: Space,
    range: KeyRange,
    log: &'a Mutex<Vec<Covered>>,
    /// The interval covered since the last seek.
    span: Option<Span>,
}

/// An interval being covered: its lower end (`None`: nothing below the
/// upper end yet) and its upper end.
type Span = (Option<Vec<u8>>, Bound<Vec<u8>>);

impl RecordingIter<'_> {
    fn range_upper(&self) -> Bound<Vec<u8>> {
        match &self.range.upper {
            Some(u) => Bound::Excluded(u.clone()),
            None => Bound::Unbounded,
        }
    }

    /// Notes the interval of the last seek and starts a new one at `lower`
    /// (`None`: at the range's end) ending at `upper`.
    fn start(&mut self, lower: Option<Vec<u8>>, upper: Bound<Vec<u8>>) {
        self.flush();
        self.span = Some((lower, upper));
    }

    /// Extends the interval to where the iterator is now (moving forward
    /// or not): its key, or the range's end it ran off.
    fn observe(&mut self, forward: bool) {
        let end = self.it.key().map(<[u8]>::to_vec);
        let range_upper = self.range_upper();
        let range_lower = self.range.lower.clone();
        let Some((lo, hi)) = self.span.as_mut() else {
            return;
        };
        match end {
            Some(k) => {
                if lo.as_ref().is_none_or(|l| k < *l) {
                    *lo = Some(k.clone());
                }
                *hi = max_upper(std::mem::replace(hi, Bound::Unbounded), Bound::Included(k));
            }
            None if forward => *hi = range_upper,
            None => *lo = Some(range_lower),
        }
    }

    fn flush(&mut self) {
        if let Some((lo, hi)) = self.span.take() {
            let lower = match lo {
                Some(l) => l,
                // Positioned at the end and never moved below it: nothing
                // was seen but the end itself.
                None => match &hi {
                    Bound::Included(k) | Bound::Excluded(k) => k.clone(),
                    Bound::Unbounded => return,
                },
            };
            self.log.lock().push(Covered {
                space: self.space,
                lower,
                upper: hi,
            });
        }
    }
}

/// The larger of two upper ends.
fn max_upper(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (a, b) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => Bound::Unbounded,
        (Bound::Included(x), Bound::Included(y)) => Bound::Included(x.max(y)),
        (Bound::Excluded(x), Bound::Excluded(y)) => Bound::Excluded(x.max(y)),
        (Bound::Included(i), Bound::Excluded(e)) | (Bound::Excluded(e), Bound::Included(i)) => {
            if i >= e {
                Bound::Included(i)
            } else {
                Bound::Excluded(e)
            }
        }
    }
}

impl Drop for RecordingIter<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl KvIter for RecordingIter<'_> {
    fn seek(&mut self, key: &[u8]) {
        self.start(Some(key.to_vec()), Bound::Included(key.to_vec()));
        self.it.seek(key);
        self.observe(true);
    }

    fn seek_to_first(&mut self) {
        let lower = self.range.lower.clone();
        self.start(Some(lower.clone()), Bound::Included(lower));
        self.it.seek_to_first();
        self.observe(true);
    }

    fn seek_to_last(&mut self) {
        let upper = self.range_upper();
        self.start(None, upper);
        self.it.seek_to_last();
        self.observe(false);
    }

    fn next(&mut self) {
        self.it.next();
        self.observe(true);
    }

    fn prev(&mut self) {
        self.it.prev();
        self.observe(false);
    }

    fn key(&self) -> Option<&[u8]> {
        self.it.key()
    }

    fn value(&self) -> Option<&[u8]> {
        self.it.value()
    }

    fn status(&self) -> Result<()> {
        self.it.status()
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

    fn inside(c: &Covered, k: &[u8]) -> bool {
        k >= c.lower.as_slice()
            && match &c.upper {
                Bound::Included(u) => k <= u.as_slice(),
                Bound::Excluded(u) => k < u.as_slice(),
                Bound::Unbounded => true,
            }
    }

    proptest! {
        /// A recorded walk covers every key between where it was seeked
        /// and where it stopped, and to the range's end when it ran off it:
        /// what a transaction's limited scan observed (the keys it passed
        /// over included). Checked to fail by not extending the interval to
        /// the range's end in `observe`.
        #[test]
        fn a_recorded_walk_covers_what_it_passed(
            keys in proptest::collection::btree_set(proptest::collection::vec(0u8..4, 1..3), 0..12),
            seek in proptest::collection::vec(0u8..4, 0..3),
            steps in 0usize..6,
            reverse in any::<bool>(),
        ) {
            let store = MemStore::new();
            let kv = store.open().expect("open");
            let mut b = WriteBatch::new();
            for k in &keys {
                b.put_in(Space::Ordered, k, &[]);
            }
            kv.write(&b, false).expect("write");
            let rec = Recording::new(kv.latest());
            let mut passed = Vec::new();
            let mut ran_off = false;
            {
                let mut it = rec.iter(Space::Ordered, KeyRange::new(&[], None)).expect("iter");
                if reverse { it.seek_to_last() } else { it.seek(&seek) }
                for _ in 0..=steps {
                    match it.key() {
                        Some(k) => passed.push(k.to_vec()),
                        None => { ran_off = true; break; }
                    }
                    if reverse { it.prev() } else { it.next() }
                }
                if it.key().is_none() {
                    ran_off = true;
                }
            }
            let covered = rec.into_covered();
            prop_assert_eq!(covered.len(), 1);
            let c = &covered[0];
            let (lo, hi) = if reverse {
                (if ran_off { Vec::new() } else { passed.last().cloned().unwrap_or_default() }, None)
            } else {
                (seek.clone(), if ran_off { None } else { passed.last().cloned() })
            };
            for k in &keys {
                let between = k >= &lo && hi.as_ref().is_none_or(|h| k <= h);
                if between {
                    prop_assert!(inside(c, k), "{:?} between {:?} and {:?}, not in {:?}", k, lo, hi, c);
                }
            }
        }
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
