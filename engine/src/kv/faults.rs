//! Storage failures injected by countdown, as a wrapper backend (redb's
//! fuzzers wrap their `StorageBackend` the same way): [`FaultyKv`] wraps
//! any [`Kv`] and lets a budget of mutating operations (batch writes,
//! sorted-run writes, ingests) through; every later one fails with an I/O
//! error before it reaches the wrapped store, so it changes nothing. Reads,
//! `discard`, `close` and the capabilities are forwarded untouched.
//!
//! [`FaultyStore`] is the public face (`rockhold::testing`, behind the
//! `testing` feature): a [`MemStore`] with a countdown, opened with
//! `Db::open_faulty` or migrated with `Db::migrate_faulty`.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::mem::MemKv;
use super::{Backups, Follower, Kv, KvRead, Maintenance, MemStore, SortedRun, Space, WriteBatch};
use crate::error::{Error, Result};

/// Countdown of injected failures: `None` never fails.
#[derive(Debug, Default)]
struct Faults {
    /// Mutating operations that succeed before every later one fails.
    writes_left: Option<u64>,
    /// Failures injected so far.
    injected: u64,
}

/// The countdown, shared by a [`FaultyStore`], its clones and the stores
/// opened from them.
type Countdown = Arc<Mutex<Faults>>;

/// Counts down one mutating operation: `Err` once the countdown is spent.
fn may_write(faults: &Countdown) -> Result<()> {
    let mut faults = faults.lock();
    match &mut faults.writes_left {
        None => Ok(()),
        Some(0) => {
            faults.injected += 1;
            Err(Error::Io {
                path: None,
                source: Box::new(std::io::Error::other("injected storage failure")),
            })
        }
        Some(n) => {
            *n -= 1;
            Ok(())
        }
    }
}

/// A store whose writes and ingests fail once its countdown is spent.
pub(crate) struct FaultyKv<K> {
    inner: K,
    faults: Countdown,
}

impl<K: Kv> Kv for FaultyKv<K> {
    fn latest(&self) -> &dyn KvRead {
        self.inner.latest()
    }

    fn snapshot(&self) -> Box<dyn KvRead + '_> {
        self.inner.snapshot()
    }

    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()> {
        may_write(&self.faults)?;
        self.inner.write(batch, sync)
    }

    fn write_sorted_run(
        &self,
        space: Space,
        name: &str,
        entries: &mut dyn Iterator<Item = (&[u8], &[u8])>,
    ) -> Result<SortedRun> {
        may_write(&self.faults)?;
        self.inner.write_sorted_run(space, name, entries)
    }

    fn ingest(&self, space: Space, runs: &[SortedRun]) -> Result<()> {
        may_write(&self.faults)?;
        self.inner.ingest(space, runs)
    }

    fn discard(&self, runs: &[SortedRun]) {
        self.inner.discard(runs);
    }

    fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }

    fn path(&self) -> Option<&Path> {
        self.inner.path()
    }

    fn close(&self) -> Result<()> {
        self.inner.close()
    }

    fn maintenance(&self) -> Option<&dyn Maintenance> {
        self.inner.maintenance()
    }

    fn backups(&self) -> Option<&dyn Backups> {
        self.inner.backups()
    }

    fn follower(&self) -> Option<&dyn Follower> {
        self.inner.follower()
    }
}

/// A [`MemStore`] that injects storage failures on demand: after
/// [`FaultyStore::fail_after`]`(n)`, the next `n` mutating storage
/// operations (batch writes, sorted-run writes, ingests) of the database
/// opened on it succeed, and every later one fails with
/// [`Error::Io`] and changes nothing, until
/// [`FaultyStore::clear_failure`].
///
/// Open the database with `Db::open_faulty` (or migrate it with
/// `Db::migrate_faulty`). Like a `MemStore`, it outlives the database, and
/// clones share the store and the countdown. Available with the `testing`
/// feature.
///
/// ```
/// use rockhold::testing::FaultyStore;
/// use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, Options};
///
/// let store = FaultyStore::default();
/// let db = Db::open_faulty(&store, Options::default())?;
/// store.fail_after(0);
/// let refused = db.create_class("default", &ClassSpec::new("note")
///     .field(FieldSpec::new("title", FieldType::String)));
/// assert!(matches!(refused, Err(Error::Io { .. })));
/// assert_eq!(store.injected_failures(), 1);
/// store.clear_failure();
/// # Ok::<(), rockhold::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct FaultyStore {
    store: MemStore,
    faults: Countdown,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let faults = self.faults.lock();
        f.debug_struct("FaultyStore")
            .field("store", &self.store)
            .field("writes_left", &faults.writes_left)
            .field("injected", &faults.injected)
            .finish()
    }
}

impl FaultyStore {
    /// `store` with a countdown, not armed: nothing fails until
    /// [`FaultyStore::fail_after`]. The store stays shared with `store`'s
    /// clones (a database opened on those sees no failures).
    pub fn new(store: MemStore) -> FaultyStore {
        FaultyStore {
            store,
            faults: Countdown::default(),
        }
    }

    /// The wrapped store.
    pub fn store(&self) -> &MemStore {
        &self.store
    }

    /// Lets `writes` more mutating storage operations (batch writes, run
    /// writes, ingests) succeed; every later one fails with an I/O error
    /// and changes nothing, until [`FaultyStore::clear_failure`].
    pub fn fail_after(&self, writes: u64) {
        self.faults.lock().writes_left = Some(writes);
    }

    /// Stops injecting failures.
    pub fn clear_failure(&self) {
        self.faults.lock().writes_left = None;
    }

    /// How many operations failed by injection so far.
    pub fn injected_failures(&self) -> u64 {
        self.faults.lock().injected
    }

    /// Takes the store for one open database (`Locked` while another
    /// holds it), with this countdown.
    pub(crate) fn open(&self) -> Result<FaultyKv<MemKv>> {
        Ok(FaultyKv {
            inner: self.store.open()?,
            faults: self.faults.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KeyRange;
    use rockhold_format::Family;

    fn keys(kv: &dyn Kv) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        kv.latest()
            .scan(Space::Objects, KeyRange::prefix(b"O"), &mut |k, _| {
                out.push(k.to_vec());
                Ok(true)
            })
            .expect("scan");
        out
    }

    #[test]
    fn an_injected_failure_writes_nothing() {
        let store = FaultyStore::default();
        let kv = store.open().expect("open");
        store.fail_after(1);
        let mut b = WriteBatch::new();
        b.put(Family::Object, b"Oa", b"1");
        kv.write(&b, false).expect("write");
        let mut b = WriteBatch::new();
        b.put(Family::Object, b"Ob", b"2");
        b.put(Family::Object, b"Oc", b"3");
        assert!(matches!(kv.write(&b, false), Err(Error::Io { .. })));
        assert_eq!(keys(&kv), vec![b"Oa".to_vec()]);
        assert_eq!(store.injected_failures(), 1);
        store.clear_failure();
        kv.write(&b, false).expect("write after clearing");
        assert_eq!(keys(&kv).len(), 3);
    }

    #[test]
    fn runs_and_ingests_count_down_too_and_fail_without_a_change() {
        let store = FaultyStore::default();
        let kv = store.open().expect("open");
        let entries = [(b"Oa".to_vec(), b"1".to_vec())];
        let mut it = entries.iter().map(|(k, v)| (&k[..], &v[..]));
        store.fail_after(1);
        let run = kv
            .write_sorted_run(Space::Objects, "r", &mut it)
            .expect("the run is within the budget");
        assert!(matches!(
            kv.ingest(Space::Objects, std::slice::from_ref(&run)),
            Err(Error::Io { .. })
        ));
        assert!(keys(&kv).is_empty());
        let mut again = entries.iter().map(|(k, v)| (&k[..], &v[..]));
        assert!(matches!(
            kv.write_sorted_run(Space::Objects, "r2", &mut again),
            Err(Error::Io { .. })
        ));
        assert_eq!(store.injected_failures(), 2);
        store.clear_failure();
        kv.ingest(Space::Objects, &[run]).expect("ingest");
        assert_eq!(keys(&kv), vec![b"Oa".to_vec()]);
    }

    #[test]
    fn capabilities_are_the_wrapped_stores() {
        let store = FaultyStore::default();
        let kv = store.open().expect("open");
        assert!(kv.maintenance().is_some());
        assert!(kv.backups().is_none());
        assert!(kv.follower().is_none());
        // One database at a time, through the wrapper or not.
        assert!(matches!(store.store().open(), Err(Error::Locked { .. })));
    }
}
