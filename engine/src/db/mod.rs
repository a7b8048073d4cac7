//! # The database handle: the only facade
//!
//! Owns: `Db` (a cheap, cloneable handle) and every public method of it,
//! split by topic (`ddl`, `write`, `read`, `watch`, `admin`, `tasks`, the
//! typed `collection` and `class` handles), each a thin call into its
//! layer; opening a backend and the state every layer shares (`Inner`,
//! private to this folder), lent to the layers as their contexts: the
//! read context (`read::ReadCtx`), the write path's (`txn::WriteCtx`)
//! and the builds' (`build::BuildCtx`), each containing the one below;
//! applying the effects of a catalog change; and closing.
//!
//! The layers below are, from the bottom: `kv` (storage seam), `catalog`
//! (with its pure `schema`), `index`, `read`, `feed`, `txn` (the write
//! path, DDL and ingest), `build` (reindex tasks, bulk builds, the
//! runner), `admin` (verify, backups, operator functions) and `typed`
//! (values to and from Rust types).
//!
//! May call: every layer, to wire them together: `typed`, `admin`, `build`,
//! `txn`, `feed`, `read`, `index`, `metrics`, `catalog`, `kv`, `options`,
//! `error`.

#[cfg(feature = "rocksdb")]
use std::path::Path;
use std::sync::Arc;

use rockhold_format::MetaKey;

use crate::build::runner::RunnerControl;
use crate::build::{BuildCtx, RunnerHost};
use crate::catalog::{read_counter_or, Catalog, CatalogCell, Effects};
use crate::error::Result;
use crate::feed::Feed;
use crate::index::build_log::BuildLog;
use crate::index::entries::ValueHasher;
use crate::index::locks::LockTable;
use crate::kv::{Kv, MemStore};
use crate::metrics::Metrics;
use crate::options::Options;
use crate::read::cache::{GuardedLru, WriteStamps};
use crate::read::ReadCtx;
use crate::txn::{IdAllocator, WriteCtx};

mod admin;
pub(crate) mod class;
pub(crate) mod collection;
mod ddl;
#[cfg(test)]
mod layering;
pub(crate) mod meta;
mod read;
mod tasks;
#[cfg(test)]
mod tests;
mod typed;
mod watch;
mod write;

/// An open rockhold database: a cheap handle, `Clone`, `Send` and `Sync`.
/// Clones share the database; every method takes `&self`. The database
/// closes when its last handle is closed ([`Db::close`]) or dropped.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
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

/// The state every layer shares, owned here and lent down as contexts
/// (it derefs to the widest, `BuildCtx`, which contains the others).
struct Inner {
    cx: BuildCtx,
}

impl std::ops::Deref for Inner {
    type Target = BuildCtx;
    fn deref(&self) -> &BuildCtx {
        &self.cx
    }
}

impl RunnerHost for Inner {
    fn cx(&self) -> &BuildCtx {
        &self.cx
    }
}

impl Inner {
    /// Runs a catalog-changing operation and applies the effects its
    /// commits reported (also when it failed after one of them).
    fn changing<R>(&self, f: impl FnOnce(&BuildCtx, &mut Effects) -> Result<R>) -> Result<R> {
        let mut fx = Effects::default();
        let out = f(&self.cx, &mut fx);
        self.cx.apply(fx);
        out
    }
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
    pub fn open_faulty(store: &crate::kv::faults::FaultyStore, opts: Options) -> Result<Db> {
        Db::from_kv(Box::new(store.open()?), opts)
    }

    /// [`Db::migrate_memory`] on a store that injects storage failures on
    /// demand: a migration stopped anywhere. For tests; `testing` feature.
    #[cfg(any(test, feature = "testing"))]
    pub fn migrate_faulty(
        store: &crate::kv::faults::FaultyStore,
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
        let read = ReadCtx {
            unique_cache: GuardedLru::new(opts.unique_cache_entries),
            class_cache: GuardedLru::new(opts.class_cache_entries),
            stamps: WriteStamps::default(),
            metrics: Metrics::new()?,
            kv,
            seed,
            catalog: CatalogCell::new(catalog),
            opts,
        };
        let write = WriteCtx {
            locks: LockTable::new(read.opts.lock_stripes),
            ids: IdAllocator::at_open(mark),
            feed: Arc::new(Feed::new(read.opts.feed_capacity)),
            builds: BuildLog::default(),
            read,
        };
        let inner = Inner {
            cx: BuildCtx {
                write,
                runner: RunnerControl::default(),
            },
        };
        inner.metrics.refresh_task_states(&inner.catalog.load());
        let inner = Arc::new(inner);
        let db = Db {
            handle: Arc::new(Handle {
                inner: inner.clone(),
            }),
            inner,
        };
        let host: Arc<dyn RunnerHost> = db.inner.clone();
        crate::build::start_runner(&host);
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
