//! # The database handle
//!
//! Owns: `Db` (a cheap, cloneable handle), opening a backend and the state
//! every layer shares (`Inner`), and closing. The layers below are, from
//! the bottom: `kv` (storage seam), `catalog`, `index` (what entries a
//! record implies, uniqueness, locks), `read`, `txn` (the write path),
//! `feed` (the in-memory change feed), `build` (reindex tasks, bulk
//! builds, the runner), `admin` (verify,
//! backups, operator functions) and `typed`.
//!
//! May call: every layer, to wire them together.

#[cfg(feature = "rocksdb")]
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rockhold_format::{
    ClassId, Family, IndexId, Key, MetaKey, MetaValue, NamespaceId, ObjectId, Record,
};

use crate::build::bulk::BuildLog;
use crate::build::runner::RunnerControl;
use crate::catalog::{read_counter_or, Catalog, CatalogCell};
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::index::entries::ValueHasher;
use crate::index::locks::LockTable;
use crate::kv::{Kv, MemStore, WriteBatch};
use crate::metrics::Metrics;
use crate::options::Options;
use crate::read::cache::{GuardedLru, Stamp, WriteStamps};

pub(crate) mod class;
mod ids;
pub(crate) mod meta;

use ids::{IdAllocator, ID_BLOCK};

/// Key of the unique-lookup cache: class, field, ordered encoding of the value.
pub(crate) type UniqueCacheKey = (ClassId, IndexId, Vec<u8>);

/// An open rockhold database: a cheap handle, `Clone`, `Send` and `Sync`.
/// Clones share the database; every method takes `&self`. The database
/// closes when its last handle is closed ([`Db::close`]) or dropped.
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
    /// Shared by the clones of this handle (not by the runner threads):
    /// when the last one goes, the runner stops.
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.kv.path())
            .field("read_only", &self.inner.kv.is_read_only())
            .finish_non_exhaustive()
    }
}

/// Stops the runner threads when the last `Db` handle goes.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    /// Dropping the last `Db` without `close` still stops and joins the runner.
    fn drop(&mut self) {
        self.inner.runner.stop();
        // Watches deliver what was committed, then report the close.
        self.inner.feed.close();
    }
}

pub(crate) struct Inner {
    pub kv: Box<dyn Kv>,
    pub opts: Options,
    pub seed: ValueHasher,
    pub catalog: CatalogCell,
    pub locks: LockTable,
    /// Unique lookups: the holder, with the stamp taken before its read.
    pub unique_cache: GuardedLru<UniqueCacheKey, (ObjectId, Stamp)>,
    /// When each object was last written (the unique cache's second guard).
    pub stamps: WriteStamps,
    pub class_cache: GuardedLru<(NamespaceId, ObjectId), ClassId>,
    pub metrics: Metrics,
    pub runner: RunnerControl,
    pub builds: BuildLog,
    /// The change feed (in memory; see feed/).
    pub feed: Arc<Feed>,
    ids: Mutex<IdAllocator>,
}

impl Db {
    /// Opens (or, with `create_if_missing`, creates) the database at `path`.
    ///
    /// Fails with `UnsupportedVersion` for a database of another format
    /// version, and with a corruption error if its metadata does not decode.
    #[cfg(feature = "rocksdb")]
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let kv = crate::kv::rocks::RocksKv::open(path.as_ref(), &opts.kv_config())?;
        Db::from_kv(Box::new(kv), opts)
    }

    /// Opens a read-only view of a database that another process may hold
    /// open, without stopping it (a RocksDB secondary instance).
    /// `scratch` is a private, writable folder for the follower's own files.
    /// Reads see the database as of the open, or of the last
    /// [`Db::catch_up`]; every write fails with `Error::ReadOnly`; no runner
    /// thread starts.
    #[cfg(feature = "rocksdb")]
    pub fn open_read_only(
        path: impl AsRef<Path>,
        scratch: impl AsRef<Path>,
        opts: Options,
    ) -> Result<Db> {
        let kv = crate::kv::rocks::RocksKv::open_secondary(
            path.as_ref(),
            scratch.as_ref(),
            &opts.kv_config(),
        )?;
        Db::from_kv(Box::new(kv), opts.runner_threads(0))
    }

    /// Opens the database held in memory by `store` (creating it in an
    /// empty store): the same engine over the in-memory backend, for tests.
    /// Fails with `Locked` while another `Db` has the store open; open the
    /// store again after closing to restart.
    pub fn open_memory(store: &MemStore, opts: Options) -> Result<Db> {
        Db::from_kv(Box::new(store.open()?), opts)
    }

    /// [`Db::open_memory`] on a store that injects storage failures on
    /// demand (`FaultyStore::fail_after`). For tests; `testing` feature.
    #[cfg(any(test, feature = "testing"))]
    pub fn open_faulty(store: &crate::testing::FaultyStore, opts: Options) -> Result<Db> {
        Db::from_kv(Box::new(store.open()?), opts)
    }

    /// [`Db::migrate_memory`] on a store that injects storage failures on
    /// demand: a migration stopped anywhere. For tests; `testing` feature.
    #[cfg(any(test, feature = "testing"))]
    pub fn migrate_faulty(
        store: &crate::testing::FaultyStore,
    ) -> Result<crate::admin::migrate::MigrationReport> {
        let kv = store.open()?;
        let report = crate::admin::migrate::migrate_kv(&kv);
        kv.close()?;
        report
    }

    fn from_kv(kv: Box<dyn Kv>, opts: Options) -> Result<Db> {
        let seed = ValueHasher::new(meta::init_or_check_meta(&*kv, &opts)?, opts.test_hash_bits);
        meta::check_generations(&*kv)?;
        let catalog = Catalog::load(kv.latest(), kv.is_read_only())?;
        let mark = read_counter_or(kv.latest(), MetaKey::NextObjectId, 0)?;
        let inner = Inner {
            locks: LockTable::new(opts.lock_stripes),
            unique_cache: GuardedLru::new(opts.unique_cache_entries),
            class_cache: GuardedLru::new(opts.class_cache_entries),
            stamps: WriteStamps::default(),
            metrics: Metrics::new()?,
            runner: RunnerControl::default(),
            builds: BuildLog::default(),
            feed: Arc::new(Feed::new(opts.feed_capacity)),
            kv,
            seed,
            catalog: CatalogCell::new(catalog),
            ids: Mutex::new(IdAllocator::at_open(mark)),
            opts,
        };
        inner.metrics.refresh_task_states(&inner.catalog.load());
        let inner = Arc::new(inner);
        let db = Db {
            handle: Arc::new(Handle {
                inner: inner.clone(),
            }),
            inner,
        };
        db.start_runner();
        Ok(db)
    }

    /// Closes this handle. On the last handle of the database, it stops the
    /// runner threads (waiting for them), makes every write durable and
    /// records that (the durable mark) before the database closes; errors
    /// of that final step are returned. A backfill in progress stops after
    /// its current chunk and resumes at the next open. On any other handle
    /// it only drops the handle.
    pub fn close(self) -> Result<()> {
        let Db { inner, handle } = self;
        // `into_inner`, not `try_unwrap`: of handles closed at the same time,
        // exactly one is the last.
        match Arc::into_inner(handle) {
            Some(handle) => {
                inner.runner.stop();
                let closed = inner.kv.close();
                drop(handle);
                closed
            }
            None => Ok(()),
        }
    }

    /// The Prometheus registry holding this database's metrics.
    pub fn metrics(&self) -> &prometheus::Registry {
        self.inner.metrics.registry()
    }
}

impl Inner {
    /// Hands out a fresh object id. When the id reaches the persisted mark, the
    /// mark is raised by a block in its own write first: WAL order makes any
    /// later batch that uses the id durable only together with the mark, so an
    /// id is never handed out twice, even across a crash. After `u64::MAX`
    /// has been used, every call fails with `IdsExhausted`.
    pub fn allocate_object_id(&self) -> Result<ObjectId> {
        self.writable()?;
        let mut ids = self.ids.lock();
        let id = ids.next.ok_or(Error::IdsExhausted)?;
        self.cover_id(&mut ids, id)?;
        ids.next = id.checked_add(1);
        Ok(ObjectId(id))
    }

    /// Makes sure `id` and every id below it are never handed out: ids that
    /// arrive with ingested objects come from elsewhere.
    pub fn reserve_ids_through(&self, id: ObjectId) -> Result<()> {
        self.writable()?;
        let mut ids = self.ids.lock();
        self.cover_id(&mut ids, id.0)?;
        ids.next = match (ids.next, id.0.checked_add(1)) {
            (Some(next), Some(after)) => Some(next.max(after)),
            _ => None, // u64::MAX is taken: nothing is left
        };
        Ok(())
    }

    /// Makes the persisted high-water mark cover `id`, raising it a block
    /// ahead in a write of its own when it does not.
    fn cover_id(&self, ids: &mut IdAllocator, id: u64) -> Result<()> {
        if ids.covers(id) {
            return Ok(());
        }
        let new_mark = id.saturating_add(1).saturating_add(ID_BLOCK);
        let mut batch = WriteBatch::new();
        batch.put(
            Family::Meta,
            &MetaKey::NextObjectId.encode(),
            &MetaValue::Counter(new_mark).encode(),
        );
        self.kv.write(&batch, false)?;
        ids.mark = new_mark;
        Ok(())
    }

    /// Fails with `ReadOnly` on a read-only database.
    pub fn writable(&self) -> Result<()> {
        if self.kv.is_read_only() {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    pub fn sync_default(&self) -> bool {
        self.opts.sync_writes
    }
}
