//! # The storage seam
//!
//! Owns: the `Kv` trait and its capability traits (the only way the engine
//! touches stored bytes), the keyspaces keys are grouped in,
//! backend-neutral write batches, the backend configuration (`Config`),
//! backup metadata (`BackupInfo`), and the backends: `rocks` (RocksDB,
//! behind the default `rocksdb` feature; the only code of the engine that
//! names a RocksDB type), `mem` (an ordered in-memory map with snapshots,
//! for unit tests, the model test and the engine fuzz target) and, with the
//! `testing` feature, `faults` (a wrapper of any backend that fails its
//! writes after a countdown).
//!
//! Nothing here knows about classes, indexes or transactions: a backend
//! stores opaque keys and values, writes batches atomically, and reads at
//! the latest state or at a snapshot. Nothing here reads the engine's
//! options either: a backend is opened with a [`Config`], which the engine
//! builds from its options.
//!
//! May call: `error` (and `rockhold_format`: key prefixes, counters).
//!
//! The seam is split by capability, like TiKV's `engine_traits`: a core
//! trait every backend implements, and capability traits a backend offers
//! through an accessor of the core trait (`None`: it lacks it; the caller
//! then answers with a typed error, or with what the operation means on
//! such a store, as documented at each call).
//!
//! [`Kv`], the core, which every backend keeps (the engine's invariants
//! rest on it):
//! - a [`WriteBatch`] is applied whole or not at all, and is visible to
//!   every read that starts after `write` returns; a failed `write`
//!   changed nothing;
//! - a snapshot ([`Kv::snapshot`]) sees exactly the batches written before
//!   it was taken, however long it lives;
//! - [`Kv::ingest`] adds sorted runs of keys in one step, shadowing older
//!   versions of the same keys, and is atomic like a batch;
//! - iterators ([`KvRead::iter`]) see one consistent state: the snapshot's,
//!   or the latest state as of their creation;
//! - a read-only store ([`Kv::is_read_only`]) refuses every write;
//!   [`Kv::close`] makes every write so far durable.
//!
//! The capabilities ([`Kv::maintenance`], [`Kv::backups`],
//! [`Kv::follower`]):
//! - [`Maintenance`]: integer properties of a space (`None` for one the
//!   backend does not know), a full compaction that changes no key's value
//!   and lets reads and writes go on, and the list of the store's files
//!   that are missing or short (empty for a store without files);
//! - [`Backups`]: an incremental backup or a checkpoint, each one
//!   consistent cut of the store (no ingest half in it) taken while reads
//!   and writes go on; a checkpoint opens as the store it copies;
//! - [`Follower`]: a read-only store following a primary that another
//!   process writes moves, on `catch_up`, to one consistent cut of the
//!   primary's state (it never shows a batch without the ones before it).
//!   Only followers have it: on any other store there is nothing to catch
//!   up with.
//!
//! What the engine does when a capability is missing: `Db::compact` answers
//! `Unsupported`, `Db::rocksdb_property` answers `None`, `verify` checks no
//! files, `Db::create_backup` and `Db::checkpoint` answer `Unsupported`,
//! `Db::catch_up` does nothing (the store is not a follower).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rockhold_format::Family;

use crate::error::Result;

mod batch;
pub(crate) mod dirlock;
#[cfg(any(test, feature = "testing"))]
pub(crate) mod faults;
pub(crate) mod generation;
pub(crate) mod mem;
pub(crate) mod overlay;
#[cfg(feature = "rocksdb")]
pub(crate) mod rocks;

pub(crate) use batch::{BatchOp, WriteBatch};
pub use mem::MemStore;

/// A keyspace of the store: the key families are grouped in five (a RocksDB
/// column family each), so that records and each index kind have their own
/// memtables and files. One [`WriteBatch`] spans them atomically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Space {
    /// Meta, names, classes (`M`, `N`, `C`).
    Catalog = 0,
    /// Object records and their locators (`O`, `L`).
    Objects = 1,
    /// Hash index entries (`IH`).
    Hash = 2,
    /// Ordered index entries (`IR`).
    Ordered = 3,
    /// Reindex tasks (`IT`).
    Tasks = 4,
}

/// The RocksDB column family names, in `Space` order (a space's tag is its
/// index here, and the `cf` of its generation marker).
pub const COLUMN_FAMILIES: [&str; 5] =
    ["default", "objects", "index_hash", "index_ordered", "tasks"];

impl Space {
    /// Every space, in tag order.
    pub(crate) const ALL: [Space; 5] = [
        Space::Catalog,
        Space::Objects,
        Space::Hash,
        Space::Ordered,
        Space::Tasks,
    ];

    /// The space that holds the keys of a family. Generation markers are
    /// in every space; asked for one, this answers the catalog's.
    pub(crate) fn of(family: Family) -> Space {
        match family {
            Family::Object | Family::Locator => Space::Objects,
            Family::Hash => Space::Hash,
            Family::Ordered => Space::Ordered,
            Family::Task => Space::Tasks,
            _ => Space::Catalog,
        }
    }

    /// Its tag: its index in [`Space::ALL`].
    pub(crate) fn tag(self) -> u8 {
        self as u8
    }

    /// Its column family name.
    pub(crate) fn name(self) -> &'static str {
        COLUMN_FAMILIES[self as usize]
    }
}

/// The RocksDB column family that holds the keys of a family.
pub fn column_family(family: Family) -> &'static str {
    Space::of(family).name()
}

/// Length of an `IH` key up to and including the value hash: `IH` + ns +
/// class + field + hash. Lookups of one value seek this prefix; the RocksDB
/// backend builds prefix bloom filters on it.
pub(crate) const HASH_LOOKUP_PREFIX_LEN: usize = 2 + 4 + 4 + 4 + 8;

/// The keys an iterator may visit: `[lower, upper)`, `upper = None` running
/// to the end of the space. With `same_prefix`, the iterator only needs to
/// be correct for keys sharing `lower`'s first [`HASH_LOOKUP_PREFIX_LEN`]
/// bytes (a backend may use prefix filters); every other iterator is in
/// total key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub lower: Vec<u8>,
    pub upper: Option<Vec<u8>>,
    pub same_prefix: bool,
}

impl KeyRange {
    /// `[lower, upper)`.
    pub(crate) fn new(lower: &[u8], upper: Option<Vec<u8>>) -> KeyRange {
        KeyRange {
            lower: lower.to_vec(),
            upper,
            same_prefix: false,
        }
    }

    /// Every key starting with `prefix`.
    pub(crate) fn prefix(prefix: &[u8]) -> KeyRange {
        KeyRange::new(prefix, rockhold_format::prefix_successor(prefix))
    }

    /// Every key starting with `prefix`, a hash-lookup prefix
    /// ([`HASH_LOOKUP_PREFIX_LEN`] bytes of an `IH` key).
    pub(crate) fn hash_lookup(prefix: &[u8]) -> KeyRange {
        KeyRange {
            same_prefix: prefix.len() == HASH_LOOKUP_PREFIX_LEN,
            ..KeyRange::prefix(prefix)
        }
    }
}

/// A cursor over one [`KeyRange`] of one space, in key order. Positioned
/// nowhere until a `seek*`; `key`/`value` are `None` once it runs off the
/// range (or on an error, which `status` then returns).
pub(crate) trait KvIter {
    /// Moves to the first key at or after `key` (within the range).
    fn seek(&mut self, key: &[u8]);
    /// Moves to the first key of the range.
    fn seek_to_first(&mut self);
    /// Moves to the last key of the range.
    fn seek_to_last(&mut self);
    /// Moves to the next key.
    fn next(&mut self);
    /// Moves to the previous key.
    fn prev(&mut self);
    /// The current key.
    fn key(&self) -> Option<&[u8]>;
    /// The current value.
    fn value(&self) -> Option<&[u8]>;
    /// The error that stopped the iterator, if any.
    fn status(&self) -> Result<()>;
}

/// A visitor of (key, value) pairs: `Ok(false)` stops the walk.
pub(crate) type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'f;

/// Reads at one point: the latest state (a [`Kv`]) or a snapshot.
pub(crate) trait KvRead: Send + Sync {
    /// Calls `f` with the value of `key`, borrowed from the backend (a
    /// pinned block on RocksDB: no copy), and returns whether the key
    /// exists (`f` is called only if it does).
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool>;

    /// Calls `f(i, value)` for every `keys[i]` that exists, borrowed as in
    /// `get_with`; one batched lookup on RocksDB (by default, one
    /// `get_with` per key).
    fn multi_get_with(
        &self,
        space: Space,
        keys: &[&[u8]],
        f: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<()> {
        for (i, key) in keys.iter().enumerate() {
            self.get_with(space, key, &mut |v| f(i, v))?;
        }
        Ok(())
    }

    /// An iterator over `range` of `space`.
    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>>;
}

impl dyn KvRead + '_ {
    /// The value of `key`, copied.
    pub(crate) fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut out = None;
        self.get_with(space, key, &mut |v| out = Some(v.to_vec()))?;
        Ok(out)
    }

    /// Calls `f` on every (key, value) of `range`, in key order, while it
    /// returns `Ok(true)`.
    pub(crate) fn scan(&self, space: Space, range: KeyRange, f: &mut Visit<'_>) -> Result<()> {
        let mut it = self.iter(space, range)?;
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !f(k, v)? {
                break;
            }
            it.next();
        }
        it.status()
    }
}

/// A run of sorted keys written for [`Kv::ingest`] (an SST file on RocksDB).
#[derive(Debug)]
pub(crate) enum SortedRun {
    /// A file the backend wrote.
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    File(PathBuf),
    /// Entries held in memory (the in-memory backend).
    Memory(Space, Vec<(Vec<u8>, Vec<u8>)>),
}

/// A file the backend lists as part of the store that is missing or shorter
/// than listed (`verify` reports them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DamagedFile {
    /// The space the file belongs to.
    pub space: Space,
    /// The file's name.
    pub name: String,
    /// What is wrong.
    pub what: String,
}

/// Information about one backup in a backup directory (what
/// `Backups::create_backup` returns and the backup listing reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The backup's id (increasing).
    pub id: u32,
    /// When it was taken, seconds since the Unix epoch.
    pub timestamp: i64,
    /// Bytes of the files it uses (shared with other backups).
    pub size: u64,
    /// Number of files it uses.
    pub files: u32,
}

/// What a backend is opened with: the storage settings of the engine's
/// options, built by the engine in one place (`Options::kv_config`).
/// `Default` holds the defaults of those options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// Create the database when the path holds none.
    pub create_if_missing: bool,
    /// Permission bits of the database directory when it is created.
    pub dir_mode: u32,
    /// Bytes of memory for the block cache and the memtables together
    /// (the memtables may take half; their memory is charged to the cache).
    pub memory_budget: usize,
    /// Bytes of each space's write buffer (memtable), at most a quarter of
    /// the budget.
    pub write_buffer_bytes: usize,
    /// How often (at most) a commit records the durable mark.
    pub durable_mark_interval: Duration,
    /// Open even though writes recorded as durable are missing.
    pub accept_lost_writes: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            create_if_missing: true,
            dir_mode: 0o700,
            memory_budget: 128 << 20,
            write_buffer_bytes: 32 << 20,
            durable_mark_interval: Duration::from_secs(1),
            accept_lost_writes: false,
        }
    }
}

/// The core of an open store: reads at the latest state, snapshots, atomic
/// batches and ingestion of sorted runs. What only some backends can do is
/// asked for through the capability accessors (`maintenance`, `backups`,
/// `follower`), which answer `None` when the backend lacks it.
pub(crate) trait Kv: Send + Sync {
    /// This store as a reader of its latest state.
    fn latest(&self) -> &dyn KvRead;

    /// A snapshot: reads through it see the store as of this call. A
    /// read-only follower, whose state moves only on `catch_up`, answers
    /// with a view of its current state.
    fn snapshot(&self) -> Box<dyn KvRead + '_>;

    /// Writes `batch` atomically; `sync` makes it durable before returning.
    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()>;

    /// Writes `entries` (keys strictly ascending), for one later `ingest`
    /// into `space`; `name` is unique among the runs of a build.
    fn write_sorted_run(
        &self,
        space: Space,
        name: &str,
        entries: &mut dyn Iterator<Item = (&[u8], &[u8])>,
    ) -> Result<SortedRun>;

    /// Adds the runs (of disjoint key ranges) to `space` in one atomic
    /// step; their keys shadow older versions.
    fn ingest(&self, space: Space, runs: &[SortedRun]) -> Result<()>;

    /// Removes what `write_sorted_run` left (after an ingest, or instead).
    fn discard(&self, runs: &[SortedRun]);

    /// Whether writes are refused (a read-only follower).
    fn is_read_only(&self) -> bool;

    /// The directory the store lives in (`None` in memory).
    fn path(&self) -> Option<&Path>;

    /// Makes every write so far durable and records it as such (at close).
    fn close(&self) -> Result<()>;

    /// The operator functions (properties, compaction, damaged files), if
    /// the backend has them.
    fn maintenance(&self) -> Option<&dyn Maintenance> {
        None
    }

    /// Backups and checkpoints, if the backend takes them.
    fn backups(&self) -> Option<&dyn Backups> {
        None
    }

    /// Catching up with a primary, if this store is a read-only follower
    /// of one (`None` for every other store).
    fn follower(&self) -> Option<&dyn Follower> {
        None
    }
}

/// The operator functions of a backend ([`Kv::maintenance`]).
pub(crate) trait Maintenance: Send + Sync {
    /// An integer property of the backend (e.g. RocksDB's
    /// `rocksdb.estimate-num-keys`) for one space; `None` when unknown.
    fn property(&self, space: Space, name: &str) -> Result<Option<u64>>;

    /// Rewrites every space's files in full, so deleted and overwritten
    /// entries take no room (RocksDB: a manual compaction of every column
    /// family through its last level); a no-op in memory. Reads and writes
    /// go on meanwhile.
    fn compact(&self) -> Result<()>;

    /// The files the backend lists that are missing or short on disk.
    fn damaged_files(&self) -> Result<Vec<DamagedFile>>;
}

/// Backups and checkpoints of a backend ([`Kv::backups`]): each is one
/// consistent cut of the store, taken while reads and writes go on.
pub(crate) trait Backups: Send + Sync {
    /// Takes an incremental backup into `dir` (a backup directory or empty
    /// or missing), as one consistent cut; returns the new backup.
    fn create_backup(&self, dir: &Path) -> Result<BackupInfo>;

    /// Writes an openable copy of the store into `dir` (which must not
    /// exist), as one consistent cut.
    fn checkpoint(&self, dir: &Path) -> Result<()>;
}

/// A read-only follower of a store another process writes ([`Kv::follower`]).
pub(crate) trait Follower: Send + Sync {
    /// Reads what the primary wrote since the open or the last catch-up,
    /// moving to one consistent cut of the primary's state.
    fn catch_up(&self) -> Result<()>;
}
