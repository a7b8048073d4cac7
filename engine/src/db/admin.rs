//! The facade: admin.

use std::path::Path;

use rockhold_format::{Family, ObjectId};

use crate::admin::migrate::MigrationReport;
use crate::admin::repair::QuarantineReport;
use crate::admin::verify::VerifyReport;
use crate::db::Db;
use crate::error::Result;
use crate::BackupInfo;

impl Db {
    /// For a read-only database: reads what the primary has written since.
    /// Like the open, the view moves to a consistent cut of the primary's
    /// state; `ViewNotConsistent` if the primary kept changing its files
    /// through every try (retry later).
    pub fn catch_up(&self) -> Result<()> {
        self.inner.catch_up()
    }

    /// Calls `f` on every raw (key, value) of a family whose key starts with
    /// `prefix`, in key order, until it returns `false`. For inspection
    /// tools; decode with `rockhold-format`.
    pub fn raw_scan(
        &self,
        family: Family,
        prefix: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        self.inner.raw_scan(family, prefix, f)
    }

    /// Compacts the whole database now: every column family is rewritten
    /// through its last level, so the space of deleted objects, replaced
    /// records and removed index entries is given back (RocksDB otherwise
    /// does this in the background, when levels fill up). Reads and writes
    /// go on meanwhile; it takes as long as rewriting the database once.
    /// A no-op in memory; `ReadOnly` on a follower.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, Family, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let ids: Vec<_> = (0..1000u64).map(|v| db.insert("default", "n", [("v", v)])).collect::<Result<_, _>>()?;
    /// for id in ids { db.delete("default", id)?; }
    /// db.compact()?;
    /// assert_eq!(db.scan_class("default", "n", None, 10)?, vec![]);
    /// // What is left in the objects' column family is its generation marker.
    /// assert_eq!(db.rocksdb_property(Family::Object, "rocksdb.estimate-num-keys")?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&self) -> Result<()> {
        self.inner.compact()
    }

    /// A RocksDB integer property (e.g. `rocksdb.estimate-num-keys`,
    /// `rocksdb.total-sst-files-size`) of the column family holding
    /// `family`; `None` where the backend does not know it (in memory,
    /// only `rocksdb.estimate-num-keys`, exact).
    pub fn rocksdb_property(&self, family: Family, name: &str) -> Result<Option<u64>> {
        self.inner.rocksdb_property(family, name)
    }

    /// Rebuilds an index (or every index of the class, `field = None`) with a
    /// new `Pending` task: the runner backfills it and removes stale entries.
    /// The index answers `IndexNotReady` until the task is `Done`.
    pub fn reindex(&self, namespace: &str, class: &str, index: Option<&str>) -> Result<()> {
        self.inner
            .changing(|cx, fx| cx.reindex(fx, namespace, class, index))
    }

    /// Requeues every `Failed` reindex task: each gets a new `Pending`
    /// task (new revision, attempts and cursor reset) that the runner, or
    /// [`Db::check_reindex_tasks`], builds from the start, as
    /// [`Db::reindex`] would. For an index whose build failed on duplicates
    /// or an over-long value once the data is fixed, or on errors (a full
    /// disk) once their cause is gone. Returns how many tasks it requeued.
    pub fn retry_failed_tasks(&self) -> Result<usize> {
        self.inner.changing(|cx, fx| cx.retry_failed_tasks(fx))
    }

    /// Whether a task is in a state that still needs work.
    pub fn has_pending_tasks(&self) -> Result<bool> {
        self.inner.has_pending_tasks()
    }
}

impl Db {
    /// Takes an incremental backup into `dir`: files already in an earlier
    /// backup there are not copied again. Memtables are flushed first, so
    /// the backup holds every committed write, and no index build ingests
    /// files while it is taken, so it restores to a consistent database.
    ///
    /// `dir` is created (mode [`Options::dir_mode`](crate::Options::dir_mode),
    /// default `0700`) if missing; an existing `dir` must be empty or a
    /// backup directory, and must not lie inside the database directory.
    pub fn create_backup(&self, dir: impl AsRef<Path>) -> Result<BackupInfo> {
        self.inner.create_backup(dir)
    }

    /// Writes a checkpoint (a consistent, openable copy made of hard links
    /// where possible) into `dir`, which must not exist and must not lie
    /// inside the database directory. It is written into a private sibling
    /// directory, given mode [`Options::dir_mode`](crate::Options::dir_mode)
    /// (default `0700`) and renamed into place. No index build ingests
    /// files while it is taken.
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.inner.checkpoint(dir)
    }
}

impl Db {
    /// Removes object `id` of `namespace` whatever its record holds, in one
    /// synced batch: the raw record (under whichever class of the namespace
    /// holds it), its locator, every non-unique index entry that ends with its id,
    /// and its id from the holders of every unique index key (the key goes
    /// when it was the only holder). Index entries are found by scanning
    /// the namespace's index families, not from the record, so a record
    /// that does not decode (`Corruption` on delete, update, transactions
    /// and ingest over it, and index builds that end `Failed` on it) can be
    /// removed. The rest of the database is kept; requeue failed builds
    /// with [`Db::retry_failed_tasks`] after.
    ///
    /// For the operator (`rockhold repair DB --drop-object ID`): the object
    /// is gone, not moved; copy what can be read of it first (`rockhold
    /// dump`). Class changes and commits wait while it runs. Fails with
    /// `UnknownObject` when neither a record nor an entry names the id.
    pub fn quarantine(&self, namespace: &str, id: ObjectId) -> Result<QuarantineReport> {
        self.inner
            .changing(|cx, fx| cx.quarantine(fx, namespace, id))
    }
}

impl Db {
    /// Migrates the database at `path` from format version 1 to the
    /// current version, in place and offline (it must not be open). The
    /// records are rewritten; the indexes are rebuilt by reindex tasks that
    /// the next [`crate::Db::open`] runs in the background (or
    /// [`crate::Db::check_reindex_tasks`] at once). Safe to run again after
    /// an interruption, and a no-op on a current database.
    #[cfg(feature = "rocksdb")]
    pub fn migrate(
        path: impl AsRef<std::path::Path>,
        opts: &crate::Options,
    ) -> Result<MigrationReport> {
        crate::admin::migrate::migrate_path(path.as_ref(), opts)
    }

    /// [`crate::Db::migrate`] for a database held by a [`crate::MemStore`].
    pub fn migrate_memory(store: &crate::MemStore) -> Result<MigrationReport> {
        crate::admin::migrate::migrate_memory(store)
    }
}

impl Db {
    /// Checks every record and the index invariant on a snapshot of the
    /// database. Storage errors are returned as errors; violations are
    /// collected in the report.
    ///
    /// First every live SST file RocksDB lists must exist with its listed
    /// size: a missing or short file is reported as such (the key checks
    /// are then skipped, since they would report each key the file held).
    pub fn verify(&self) -> Result<VerifyReport> {
        self.inner.verify()
    }

    /// [`Db::verify`], calling `progress` with the number of keys checked so
    /// far every few thousand keys (for a progress bar).
    pub fn verify_with_progress(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyReport> {
        self.inner.verify_with_progress(progress)
    }
}
