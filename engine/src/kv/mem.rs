//! The in-memory backend: an ordered map per space, multi-versioned so that
//! snapshots and iterators read one consistent state. (Storage failures are
//! injected by a wrapper, `kv::faults`, not here.)
//!
//! Every key keeps its versions `(sequence, value or tombstone)` in
//! ascending sequence order. A write batch takes the next sequence number
//! and applies whole under the write lock; a reader at sequence `s` sees the
//! newest version at or below `s`. Versions no live snapshot or iterator can
//! see are pruned when their key is written again.
//!
//! A [`MemStore`] outlives the databases opened on it: dropping or closing
//! a `Db` and opening the store again is a restart (every committed batch is
//! there, as if synced).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::{
    BatchOp, DamagedFile, KeyRange, Kv, KvIter, KvRead, Maintenance, SortedRun, Space, WriteBatch,
};
use crate::error::{Error, Result};

type Value = Arc<[u8]>;
/// Versions of one key, ascending by sequence; `None` is a deletion.
type Versions = Vec<(u64, Option<Value>)>;

#[derive(Default)]
struct State {
    /// The sequence number of the last applied batch.
    seq: u64,
    spaces: [BTreeMap<Vec<u8>, Versions>; 6],
    /// Live snapshots and iterators: sequence number → how many.
    readers: BTreeMap<u64, usize>,
}

impl State {
    fn visible(versions: &Versions, at: u64) -> Option<&Value> {
        versions
            .iter()
            .rev()
            .find(|(seq, _)| *seq <= at)
            .and_then(|(_, v)| v.as_ref())
    }

    /// Adds a version of `key` at the current sequence number, pruning the
    /// versions no reader can see any more.
    fn set(&mut self, space: Space, key: &[u8], value: Option<Value>) {
        let oldest_reader = self.readers.keys().next().copied();
        let seq = self.seq;
        let map = &mut self.spaces[space as usize];
        let versions = map.entry(key.to_vec()).or_default();
        if versions.last().is_some_and(|(s, _)| *s == seq) {
            versions.pop(); // a later op of the same batch wins
        }
        versions.push((seq, value));
        // Keep every version newer than the oldest reader, and the newest
        // one at or below it (what that reader sees).
        let keep_from = match oldest_reader {
            None => versions.len() - 1,
            Some(r) => versions.iter().rposition(|(s, _)| *s <= r).unwrap_or(0),
        };
        versions.drain(..keep_from);
        if versions.len() == 1 && versions[0].1.is_none() && oldest_reader.is_none() {
            map.remove(key);
        }
    }

    fn apply(&mut self, op: BatchOp<'_>) {
        match op {
            BatchOp::Put(space, key, value) => self.set(space, key, Some(Arc::from(value))),
            BatchOp::Delete(space, key) => self.set(space, key, None),
            // An empty or inverted range deletes nothing (RocksDB's rule;
            // BTreeMap::range would panic on it).
            BatchOp::DeleteRange(_, start, end) if start >= end => {}
            BatchOp::DeleteRange(space, start, end) => {
                let seq = self.seq;
                let doomed: Vec<Vec<u8>> = self.spaces[space as usize]
                    .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
                    .filter(|(_, v)| State::visible(v, seq).is_some())
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in doomed {
                    self.set(space, &key, None);
                }
            }
        }
    }
}

struct Shared {
    state: RwLock<State>,
    /// Whether a `Db` has the store open (one at a time, like a directory lock).
    held: AtomicBool,
}

/// Storage in memory for a database: a test double of the RocksDB backend
/// with the same guarantees (atomic batches, snapshots, ingestion).
///
/// Open it with `Db::open_memory`. The store outlives the database: open it
/// again after `close` (or a drop) to restart. Clones share the store. To
/// inject storage failures, wrap it in a `rockhold::testing::FaultyStore`
/// (the `testing` feature).
///
/// ```
/// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options, Value};
///
/// let store = MemStore::new();
/// let db = Db::open_memory(&store, Options::default())?;
/// db.create_class("default", &ClassSpec::new("note")
///     .field(FieldSpec::new("title", FieldType::String)))?;
/// let id = db.insert("default", "note", [("title", Value::from("hello"))])?;
/// db.close()?;
///
/// let db = Db::open_memory(&store, Options::default())?; // a restart
/// assert!(db.get("default", id)?.is_some());
/// # Ok::<(), rockhold::Error>(())
/// ```
#[derive(Clone)]
pub struct MemStore {
    shared: Arc<Shared>,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore::new()
    }
}

impl std::fmt::Debug for MemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.read();
        f.debug_struct("MemStore")
            .field("seq", &state.seq)
            .field(
                "keys",
                &state.spaces.iter().map(BTreeMap::len).sum::<usize>(),
            )
            .finish()
    }
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore {
            shared: Arc::new(Shared {
                state: RwLock::new(State::default()),
                held: AtomicBool::new(false),
            }),
        }
    }

    /// Takes the store for one open database: `Locked` while another holds it.
    pub(crate) fn open(&self) -> Result<MemKv> {
        if self.shared.held.swap(true, Ordering::SeqCst) {
            return Err(Error::Locked {
                path: "(in-memory store)".into(),
            });
        }
        Ok(MemKv {
            shared: self.shared.clone(),
            latest: MemReader {
                shared: self.shared.clone(),
                pin: None,
            },
        })
    }
}

/// An open in-memory store (holds the store until dropped).
pub(crate) struct MemKv {
    shared: Arc<Shared>,
    latest: MemReader,
}

impl Drop for MemKv {
    fn drop(&mut self) {
        self.shared.held.store(false, Ordering::SeqCst);
    }
}

/// A registered reader at `seq`: versions it sees are kept until it drops.
struct Pin {
    shared: Arc<Shared>,
    seq: u64,
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut state = self.shared.state.write();
        if let Some(n) = state.readers.get_mut(&self.seq) {
            *n -= 1;
            if *n == 0 {
                state.readers.remove(&self.seq);
            }
        }
    }
}

impl Pin {
    /// Another registration at the same sequence number (an iterator of a
    /// snapshot keeps the versions it sees even if the snapshot drops first).
    fn again(&self) -> Pin {
        *self
            .shared
            .state
            .write()
            .readers
            .entry(self.seq)
            .or_default() += 1;
        Pin {
            shared: self.shared.clone(),
            seq: self.seq,
        }
    }
}

/// Reads of the store: at the latest state (`pin: None`), or at a pinned
/// sequence number (a snapshot).
struct MemReader {
    shared: Arc<Shared>,
    pin: Option<Pin>,
}

impl MemReader {
    /// The sequence number reads see (`u64::MAX`: the newest version).
    fn at(&self) -> u64 {
        self.pin.as_ref().map_or(u64::MAX, |p| p.seq)
    }

    fn get_into(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> bool {
        let state = self.shared.state.read();
        match state.spaces[space as usize]
            .get(key)
            .and_then(|v| State::visible(v, self.at()))
        {
            Some(v) => {
                f(v);
                true
            }
            None => false,
        }
    }
}

impl KvRead for MemReader {
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        Ok(self.get_into(space, key, f))
    }

    /// The iterator sees the state as of its creation: the snapshot's, or
    /// the latest one pinned now.
    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>> {
        let pin = match &self.pin {
            Some(pin) => pin.again(),
            None => pin_now(&self.shared),
        };
        Ok(Box::new(MemIter {
            shared: self.shared.clone(),
            at: pin.seq,
            _pin: pin,
            space,
            range,
            current: None,
        }))
    }
}

/// Registers a reader at the current sequence number.
fn pin_now(shared: &Arc<Shared>) -> Pin {
    let mut state = shared.state.write();
    let seq = state.seq;
    *state.readers.entry(seq).or_default() += 1;
    Pin {
        shared: shared.clone(),
        seq,
    }
}

/// An iterator over one state of the store: each step looks the next
/// visible key up again (the map may change meanwhile; the versions it sees
/// are kept by its pin).
struct MemIter {
    shared: Arc<Shared>,
    at: u64,
    _pin: Pin,
    space: Space,
    range: KeyRange,
    current: Option<(Vec<u8>, Value)>,
}

impl MemIter {
    fn find(&mut self, from: Bound<&[u8]>, to: Bound<&[u8]>, backwards: bool) {
        // BTreeMap::range panics on an inverted range: it is empty here.
        let empty = match (from, to) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a > b || (a == b && !matches!((from, to), (Bound::Included(_), Bound::Included(_))))
            }
            _ => false,
        };
        if empty {
            self.current = None;
            return;
        }
        let state = self.shared.state.read();
        let map = &state.spaces[self.space as usize];
        let mut range = map.range::<[u8], _>((from, to));
        let at = self.at;
        let mut visible = |(k, v): (&Vec<u8>, &Versions)| {
            State::visible(v, at).map(|value| (k.clone(), value.clone()))
        };
        self.current = if backwards {
            range.rev().find_map(&mut visible)
        } else {
            range.find_map(&mut visible)
        };
    }
}

impl MemIter {
    /// The range's bounds, owned (the map is looked up again at each step).
    fn bounds(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        (self.range.lower.clone(), self.range.upper.clone())
    }
}

fn excluded(upper: &Option<Vec<u8>>) -> Bound<&[u8]> {
    upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded)
}

impl KvIter for MemIter {
    fn seek(&mut self, key: &[u8]) {
        let (lower, upper) = self.bounds();
        let from = key.max(lower.as_slice());
        self.find(Bound::Included(from), excluded(&upper), false);
    }

    fn seek_to_first(&mut self) {
        let (lower, upper) = self.bounds();
        self.find(Bound::Included(&lower), excluded(&upper), false);
    }

    fn seek_to_last(&mut self) {
        let (lower, upper) = self.bounds();
        self.find(Bound::Included(&lower), excluded(&upper), true);
    }

    fn next(&mut self) {
        if let Some((cur, _)) = self.current.take() {
            let (_, upper) = self.bounds();
            self.find(Bound::Excluded(&cur), excluded(&upper), false);
        }
    }

    fn prev(&mut self) {
        if let Some((cur, _)) = self.current.take() {
            let (lower, _) = self.bounds();
            self.find(Bound::Included(&lower), Bound::Excluded(&cur), true);
        }
    }

    fn key(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(k, _)| k.as_slice())
    }

    fn value(&self) -> Option<&[u8]> {
        self.current.as_ref().map(|(_, v)| &**v)
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}

impl Kv for MemKv {
    fn latest(&self) -> &dyn KvRead {
        &self.latest
    }

    fn snapshot(&self) -> Box<dyn KvRead + '_> {
        Box::new(MemReader {
            shared: self.shared.clone(),
            pin: Some(pin_now(&self.shared)),
        })
    }

    fn write(&self, batch: &WriteBatch, _sync: bool) -> Result<()> {
        let mut state = self.shared.state.write();
        state.seq += 1;
        for op in batch.ops() {
            state.apply(op);
        }
        Ok(())
    }

    fn write_sorted_run(
        &self,
        space: Space,
        _name: &str,
        entries: &mut dyn Iterator<Item = (&[u8], &[u8])>,
    ) -> Result<SortedRun> {
        Ok(SortedRun::Memory(
            space,
            entries.map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
        ))
    }

    fn ingest(&self, space: Space, runs: &[SortedRun]) -> Result<()> {
        let mut state = self.shared.state.write();
        state.seq += 1;
        for run in runs {
            match run {
                SortedRun::Memory(s, entries) if *s == space => {
                    for (key, value) in entries {
                        state.set(space, key, Some(Arc::from(&value[..])));
                    }
                }
                other => {
                    return Err(Error::Inconsistent(format!(
                        "the in-memory store cannot ingest {other:?} into {}",
                        space.name()
                    )))
                }
            }
        }
        Ok(())
    }

    fn discard(&self, _runs: &[SortedRun]) {}

    fn is_read_only(&self) -> bool {
        false
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn close(&self) -> Result<()> {
        Ok(())
    }

    /// Properties (the exact key count only), a no-op compaction, no files.
    fn maintenance(&self) -> Option<&dyn Maintenance> {
        Some(self)
    }

    // No backups or checkpoints of an in-memory store; not a follower.
}

impl Maintenance for MemKv {
    fn property(&self, space: Space, name: &str) -> Result<Option<u64>> {
        Ok(match name {
            "rocksdb.estimate-num-keys" => {
                Some(self.shared.state.read().spaces[space as usize].len() as u64)
            }
            _ => None,
        })
    }

    fn compact(&self) -> Result<()> {
        Ok(())
    }

    fn damaged_files(&self) -> Result<Vec<DamagedFile>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rockhold_format::Family;

    fn put(kv: &MemKv, key: &[u8], value: &[u8]) {
        let mut b = WriteBatch::new();
        b.put(Family::Object, key, value);
        kv.write(&b, false).expect("write");
    }

    fn keys(r: &dyn KvRead, range: KeyRange) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        r.scan(Space::Objects, range, &mut |k, _| {
            out.push(k.to_vec());
            Ok(true)
        })
        .expect("scan");
        out
    }

    #[test]
    fn a_snapshot_keeps_seeing_its_state() {
        let store = MemStore::new();
        let kv = store.open().expect("open");
        put(&kv, b"Oa", b"1");
        let snap = kv.snapshot();
        put(&kv, b"Oa", b"2");
        put(&kv, b"Ob", b"3");
        assert_eq!(
            snap.get(Space::Objects, b"Oa").expect("get"),
            Some(b"1".to_vec())
        );
        assert_eq!(snap.get(Space::Objects, b"Ob").expect("get"), None);
        assert_eq!(
            kv.latest().get(Space::Objects, b"Oa").expect("get"),
            Some(b"2".to_vec())
        );
        let mut b = WriteBatch::new();
        b.delete_prefix(Family::Object, b"O");
        kv.write(&b, false).expect("delete range");
        assert_eq!(
            keys(kv.latest(), KeyRange::prefix(b"O")),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(keys(&*snap, KeyRange::prefix(b"O")), vec![b"Oa".to_vec()]);
    }

    #[test]
    fn iterators_walk_both_ways_within_their_range() {
        let store = MemStore::new();
        let kv = store.open().expect("open");
        for k in [&b"Oa"[..], b"Ob", b"Oc", b"Od"] {
            put(&kv, k, b"");
        }
        let mut it = kv
            .latest()
            .iter(Space::Objects, KeyRange::new(b"Ob", Some(b"Od".to_vec())))
            .expect("iter");
        it.seek_to_last();
        assert_eq!(it.key(), Some(&b"Oc"[..]));
        it.prev();
        assert_eq!(it.key(), Some(&b"Ob"[..]));
        it.prev();
        assert_eq!(it.key(), None);
        it.seek(b"Oa");
        assert_eq!(it.key(), Some(&b"Ob"[..]));
        it.seek(b"Oz"); // past the range: nothing, no panic
        assert_eq!(it.key(), None);
        it.next();
        it.next();
        assert_eq!(it.key(), None);
    }

    #[test]
    fn one_database_at_a_time_and_the_data_survives_a_reopen() {
        let store = MemStore::new();
        let kv = store.open().expect("open");
        assert!(matches!(store.open(), Err(Error::Locked { .. })));
        put(&kv, b"Oa", b"1");
        drop(kv);
        let kv = store.open().expect("reopen");
        assert_eq!(
            kv.latest().get(Space::Objects, b"Oa").expect("get"),
            Some(b"1".to_vec())
        );
    }

    #[test]
    fn old_versions_are_pruned_once_no_reader_needs_them() {
        let store = MemStore::new();
        let kv = store.open().expect("open");
        for i in 0..100u8 {
            put(&kv, b"Oa", &[i]);
        }
        let versions = store.shared.state.read().spaces[Space::Objects as usize]
            .get(&b"Oa"[..])
            .map(Vec::len);
        assert_eq!(versions, Some(1));
    }
}
