//! The RocksDB backend: the only part of the engine that names a RocksDB
//! type. A space is a column family; a snapshot is a RocksDB snapshot; a
//! sorted run is an SST file, ingested by moving it into the database.

use std::path::{Path, PathBuf};

use rocksdb::{
    Cache, ColumnFamily, ColumnFamilyDescriptor, DBRawIterator, ReadOptions, WriteOptions, DB,
};

use rockhold_format::FormatVersion;

use super::dirlock::DirClaim;
use super::{
    BackupInfo, Backups, BatchOp, Config, DamagedFile, Follower, KeyRange, Kv, KvIter, KvRead,
    Maintenance, MemStore, SortedRun, Space, WriteBatch,
};
use crate::error::{Error, Result};

pub(crate) mod backup;
mod error;
mod open;
mod options;

use options::{cf_options, db_options};

/// Folder inside the database directory where an index build writes its
/// SST files before ingesting them.
const BULK_BUILD_DIR: &str = "rockhold-bulk-build";

/// Which stored format versions a writable open accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Versions {
    /// Only the current one (every open but a migration's).
    Current,
    /// Also the versions a migration rewrites ([`FormatVersion::V1`],
    /// [`FormatVersion::V2`]).
    Migratable,
}

/// Column families of earlier format versions, opened only to migrate a
/// database (the first open after the migration drops them): v2's
/// full-scan family.
pub(crate) const RETIRED_COLUMN_FAMILIES: [&str; 1] = ["index_full_scan"];

/// An open RocksDB database.
pub(crate) struct RocksKv {
    db: DB,
    read_only: bool,
    /// What the column families were opened with: SST files written for
    /// ingestion are built with the same table options.
    config: Config,
    cache: Cache,
    /// Ingests take it shared, backups and checkpoints exclusive: RocksDB
    /// lists a backup's SST files before its WAL, so an SST ingested in
    /// between would be missing while later WAL records (a task's `Done`)
    /// are in the copy.
    ingest_gate: parking_lot::RwLock<()>,
    /// When the durable mark was last written (writable instances); held
    /// while writing it, so one writer at a time uses its temporary file.
    last_mark: parking_lot::Mutex<std::time::Instant>,
    /// The options of every point read of the latest state and of every
    /// write (without, with fsync), made once: each is a C++ object that a
    /// per-call `default()` allocates and frees.
    latest: ReadOptions,
    writes: [WriteOptions; 2],
    /// Dropped after `db` (field order): the directory counts as held here
    /// until RocksDB has released its lock.
    _claim: DirClaim,
}

/// [`RocksKv::writes`]: without fsync, then with.
fn write_options() -> [WriteOptions; 2] {
    [false, true].map(|sync| {
        let mut w = WriteOptions::default();
        w.set_sync(sync);
        w
    })
}

/// The memtables' share of [`Config::memory_budget`]: half.
pub(super) fn memtable_budget(config: &Config) -> usize {
    config.memory_budget / 2
}

fn descriptors<'a>(
    config: &'a Config,
    cache: &'a Cache,
) -> impl Iterator<Item = ColumnFamilyDescriptor> + 'a {
    Space::ALL
        .into_iter()
        .map(move |s| ColumnFamilyDescriptor::new(s.name(), cf_options(s, config, cache)))
}

impl RocksKv {
    /// Opens (or creates) the database at `path` for writing. A database
    /// of another format version is refused (`NeedsMigration`,
    /// `UnsupportedVersion`) before anything in it is written.
    pub(crate) fn open(path: &Path, config: &Config) -> Result<RocksKv> {
        RocksKv::open_accepting(path, config, Versions::Current)
    }

    /// [`RocksKv::open`], taking the format versions `versions` allows:
    /// the version is read (read-only, nothing written) before RocksDB's
    /// writable open, which writes a new MANIFEST, OPTIONS and flushes the
    /// WAL even if the engine then refuses the database.
    pub(crate) fn open_accepting(
        path: &Path,
        config: &Config,
        versions: Versions,
    ) -> Result<RocksKv> {
        open::check_is_database(path, config.create_if_missing)?;
        let claim = DirClaim::take(path, config.create_if_missing, config.dir_mode)?;
        let mut retired = Vec::new();
        if path.join("CURRENT").is_file() {
            match open::peek_format_version(path, config)? {
                None | Some(FormatVersion::CURRENT) => {}
                Some(FormatVersion::V1 | FormatVersion::V2) if versions == Versions::Migratable => {
                }
                Some(found) => return Err(Error::version_refused(found)),
            }
            retired = open::retired_column_families(path)?;
        }
        let cache = Cache::new_lru_cache(config.memory_budget);
        let descriptors = descriptors(config, &cache).chain(
            retired
                .iter()
                .map(|name| ColumnFamilyDescriptor::new(*name, rocksdb::Options::default())),
        );
        let mut options = db_options(config);
        // One budget: the memtables' memory is charged to the block cache
        // (evicting cached blocks as they grow), and flushed when they
        // take half of it.
        let memtables = rocksdb::WriteBufferManager::new_write_buffer_manager_with_cache(
            memtable_budget(config),
            false,
            cache.clone(),
        );
        options.set_write_buffer_manager(&memtables);
        let mut db = DB::open_cf_descriptors(&options, path, descriptors)?;
        // SST files of a build that a crash left behind were never
        // ingested: nothing refers to them.
        let _ = std::fs::remove_dir_all(path.join(BULK_BUILD_DIR));
        open::check_durable_mark(&db, path, config.accept_lost_writes)?;
        // An earlier format's families are kept for a migration, which
        // reopens the database when done: a current database drops them
        // (also those of a migration stopped after recording the version),
        // once the open is no longer refused for lost writes.
        if versions == Versions::Current {
            for name in retired {
                db.drop_cf(name)?;
            }
        }
        let kv = RocksKv {
            db,
            read_only: false,
            config: config.clone(),
            cache,
            ingest_gate: Default::default(),
            last_mark: parking_lot::Mutex::new(std::time::Instant::now()),
            latest: ReadOptions::default(),
            writes: write_options(),
            _claim: claim,
        };
        kv.record_durable_mark()?;
        Ok(kv)
    }

    /// Opens a read-only follower of a database another process may hold
    /// open (a RocksDB secondary instance); `secondary` is a private folder
    /// for its own info log. It sees the primary's state as of the last
    /// `catch_up`.
    pub(crate) fn open_secondary(
        path: &Path,
        secondary: &Path,
        config: &Config,
    ) -> Result<RocksKv> {
        open::check_is_database(path, false)?;
        let cache = Cache::new_lru_cache(config.memory_budget);
        let mut o = db_options(config);
        o.create_if_missing(false);
        o.set_max_open_files(-1); // required of secondary instances
                                  // The open reads the MANIFEST and opens every file it names; one the
                                  // primary deletes meanwhile fails it, and it is tried again.
        let mut attempt = 0;
        let db = loop {
            match DB::open_cf_descriptors_as_secondary(
                &o,
                path,
                secondary,
                descriptors(config, &cache),
            ) {
                Ok(db) => break db,
                Err(e) if open::vanished(&e) && attempt < open::CATCH_UP_ATTEMPTS => {
                    open::pause(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let kv = RocksKv {
            db,
            read_only: true,
            config: config.clone(),
            cache,
            ingest_gate: Default::default(),
            last_mark: parking_lot::Mutex::new(std::time::Instant::now()),
            latest: ReadOptions::default(),
            writes: write_options(),
            _claim: DirClaim::none(),
        };
        open::catch_up(&kv.db)?;
        Ok(kv)
    }

    fn cf(&self, space: Space) -> Result<&ColumnFamily> {
        let name = space.name();
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Inconsistent(format!("column family {name} is missing")))
    }

    /// Records the durable mark (open and close).
    fn record_durable_mark(&self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let mut last = self.last_mark.lock();
        open::write_durable_mark(&self.db)?;
        *last = std::time::Instant::now();
        Ok(())
    }

    /// After a commit: records the durable mark when the last one is older
    /// than `durable_mark_interval` (one committer does; the others go on).
    /// A failure here does not fail the commit, which is already written:
    /// the mark stays older (detection covers less) and the next commit
    /// after the interval tries again.
    fn after_commit(&self) {
        if let Some(mut last) = self.last_mark.try_lock() {
            if last.elapsed() >= self.config.durable_mark_interval
                && open::write_durable_mark(&self.db).is_ok()
            {
                *last = std::time::Instant::now();
            }
        }
    }

    /// Runs `f` with no ingest in progress or starting, so that a backup or
    /// checkpoint it takes is a consistent cut.
    fn consistent_cut<T>(&self, f: impl FnOnce(&DB) -> Result<T>) -> Result<T> {
        let _gate = self.ingest_gate.write();
        f(&self.db)
    }

    fn read_opts(range: &KeyRange, snapshot: Option<&rocksdb::Snapshot<'_>>) -> ReadOptions {
        let mut read = ReadOptions::default();
        if range.same_prefix {
            read.set_prefix_same_as_start(true);
        } else {
            // Scans cross prefix-extractor prefixes: ask for total order.
            read.set_total_order_seek(true);
        }
        read.set_iterate_lower_bound(range.lower.clone());
        if let Some(upper) = &range.upper {
            read.set_iterate_upper_bound(upper.clone());
        }
        if let Some(s) = snapshot {
            read.set_snapshot(s);
        }
        read
    }

    /// The options of a point read: the ones made at open for the latest
    /// state, or new ones at `snapshot` (kept in `slot`).
    fn point_read_opts<'r>(
        &'r self,
        snapshot: Option<&rocksdb::Snapshot<'_>>,
        slot: &'r mut Option<ReadOptions>,
    ) -> &'r ReadOptions {
        match snapshot {
            None => &self.latest,
            Some(s) => slot.insert({
                let mut read = ReadOptions::default();
                read.set_snapshot(s);
                read
            }),
        }
    }

    fn get_at(
        &self,
        snapshot: Option<&rocksdb::Snapshot<'_>>,
        space: Space,
        key: &[u8],
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<bool> {
        let mut at_snapshot = None;
        let read = self.point_read_opts(snapshot, &mut at_snapshot);
        match self.db.get_pinned_cf_opt(self.cf(space)?, key, read)? {
            Some(value) => {
                f(&value);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn multi_get_at(
        &self,
        snapshot: Option<&rocksdb::Snapshot<'_>>,
        space: Space,
        keys: &[&[u8]],
        f: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<()> {
        let mut at_snapshot = None;
        let read = self.point_read_opts(snapshot, &mut at_snapshot);
        let cf = self.cf(space)?;
        let found = self
            .db
            .batched_multi_get_cf_opt(cf, keys.iter().copied(), false, read);
        for (i, value) in found.into_iter().enumerate() {
            if let Some(value) = value? {
                f(i, &value);
            }
        }
        Ok(())
    }

    fn iter_at<'a>(
        &'a self,
        snapshot: Option<&rocksdb::Snapshot<'_>>,
        space: Space,
        range: KeyRange,
    ) -> Result<Box<dyn KvIter + 'a>> {
        let read = RocksKv::read_opts(&range, snapshot);
        Ok(Box::new(RocksIter(
            self.db.raw_iterator_cf_opt(self.cf(space)?, read),
        )))
    }

    /// The live SST files that are missing or shorter than listed.
    fn damaged_files_once(&self) -> Result<Vec<DamagedFile>> {
        let mut damaged = Vec::new();
        let path = self.db.path();
        // A view of a database that a primary holds open does not check
        // files: the primary deletes files as it compacts (the view keeps
        // its own open), so any listing races with it, and the primary
        // itself fails on a file missing behind its back.
        if self.read_only
            && matches!(
                super::dirlock::check_not_held(path),
                Err(Error::Locked { .. })
            )
        {
            return Ok(damaged);
        }
        let listed = if self.read_only {
            // A secondary instance drops files it cannot find from its
            // view: with no primary running, ask a transient read-only
            // instance, which lists what the MANIFEST records, without
            // opening the files. It is opened with the writer's options
            // and column families: with RocksDB's defaults (WALs not
            // tracked in the MANIFEST) a read-only open of a database whose
            // MANIFEST tracks WALs dereferences a null recovery context
            // (`RecoveryContext::UpdateVersionEdits`) and the process dies
            // of SIGSEGV.
            let mut o = db_options(&self.config);
            o.create_if_missing(false);
            o.create_missing_column_families(false);
            o.set_paranoid_checks(false);
            DB::open_cf_descriptors_read_only(
                &o,
                path,
                descriptors(&self.config, &self.cache),
                false,
            )?
            .live_files()?
        } else {
            self.db.live_files()?
        };
        for f in listed {
            let name = f.name.trim_start_matches('/');
            let file = path.join(name);
            let what = match std::fs::metadata(&file) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!(
                    "SST file {name} of column family {} is missing (the database lists it with {} bytes)",
                    f.column_family_name, f.size
                ),
                Err(e) => return Err(Error::io_at(&file, e)),
                Ok(m) if m.len() < f.size as u64 => format!(
                    "SST file {name} of column family {} is {} bytes, the database lists {}",
                    f.column_family_name,
                    m.len(),
                    f.size
                ),
                Ok(_) => continue,
            };
            let space = Space::ALL
                .into_iter()
                .find(|s| s.name() == f.column_family_name)
                .unwrap_or(Space::Catalog);
            damaged.push(DamagedFile {
                space,
                name: name.to_string(),
                what,
            });
        }
        Ok(damaged)
    }
}

/// A RocksDB raw iterator as a [`KvIter`].
struct RocksIter<'a>(DBRawIterator<'a>);

impl KvIter for RocksIter<'_> {
    fn seek(&mut self, key: &[u8]) {
        self.0.seek(key);
    }
    fn seek_to_first(&mut self) {
        self.0.seek_to_first();
    }
    fn seek_to_last(&mut self) {
        self.0.seek_to_last();
    }
    fn next(&mut self) {
        self.0.next();
    }
    fn prev(&mut self) {
        self.0.prev();
    }
    fn key(&self) -> Option<&[u8]> {
        self.0.key()
    }
    fn value(&self) -> Option<&[u8]> {
        self.0.value()
    }
    fn status(&self) -> Result<()> {
        Ok(self.0.status()?)
    }
}

impl KvRead for RocksKv {
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.get_at(None, space, key, f)
    }

    fn multi_get_with(
        &self,
        space: Space,
        keys: &[&[u8]],
        f: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<()> {
        self.multi_get_at(None, space, keys, f)
    }

    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>> {
        self.iter_at(None, space, range)
    }
}

/// Reads at a RocksDB snapshot (`None` on a follower, which has none: its
/// state moves only on `catch_up`).
struct RocksSnapshot<'a> {
    kv: &'a RocksKv,
    snap: Option<rocksdb::Snapshot<'a>>,
}

impl KvRead for RocksSnapshot<'_> {
    fn get_with(&self, space: Space, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        self.kv.get_at(self.snap.as_ref(), space, key, f)
    }

    fn multi_get_with(
        &self,
        space: Space,
        keys: &[&[u8]],
        f: &mut dyn FnMut(usize, &[u8]),
    ) -> Result<()> {
        self.kv.multi_get_at(self.snap.as_ref(), space, keys, f)
    }

    fn iter(&self, space: Space, range: KeyRange) -> Result<Box<dyn KvIter + '_>> {
        self.kv.iter_at(self.snap.as_ref(), space, range)
    }
}

impl Kv for RocksKv {
    fn latest(&self) -> &dyn KvRead {
        self
    }

    fn snapshot(&self) -> Box<dyn KvRead + '_> {
        Box::new(RocksSnapshot {
            kv: self,
            snap: (!self.read_only).then(|| self.db.snapshot()),
        })
    }

    fn write(&self, batch: &WriteBatch, sync: bool) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        // Sized once: RocksDB's batch is a string that each put appends to.
        let mut wb = rocksdb::WriteBatch::with_capacity_bytes(batch.encoded_len_hint());
        let mut cfs: [Option<&ColumnFamily>; 6] = [None; 6];
        let mut cf = |space: Space| -> Result<&ColumnFamily> {
            let slot = &mut cfs[space as usize];
            if slot.is_none() {
                *slot = Some(self.cf(space)?);
            }
            slot.ok_or_else(|| Error::Inconsistent("column family handle".into()))
        };
        for op in batch.ops() {
            match op {
                BatchOp::Put(space, key, value) => wb.put_cf(cf(space)?, key, value),
                BatchOp::Delete(space, key) => wb.delete_cf(cf(space)?, key),
                BatchOp::DeleteRange(space, start, end) => {
                    wb.delete_range_cf(cf(space)?, start, end)
                }
            }
        }
        self.db.write_opt(wb, &self.writes[usize::from(sync)])?;
        self.after_commit();
        Ok(())
    }

    fn write_sorted_run(
        &self,
        space: Space,
        name: &str,
        entries: &mut dyn Iterator<Item = (&[u8], &[u8])>,
    ) -> Result<SortedRun> {
        let dir = self.db.path().join(BULK_BUILD_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io_at(&dir, e))?;
        let path = dir.join(format!("{name}.sst"));
        let opts = cf_options(space, &self.config, &self.cache);
        let mut writer = rocksdb::SstFileWriter::create(&opts);
        let written = (|| -> Result<()> {
            writer.open(&path)?;
            for (key, value) in entries {
                writer.put(key, value)?;
            }
            Ok(writer.finish()?)
        })();
        match written {
            Ok(()) => Ok(SortedRun::File(path)),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    fn ingest(&self, space: Space, runs: &[SortedRun]) -> Result<()> {
        let paths = runs
            .iter()
            .map(|r| match r {
                SortedRun::File(p) => Ok(p.clone()),
                other => Err(Error::Inconsistent(format!(
                    "RocksDB cannot ingest {other:?}"
                ))),
            })
            .collect::<Result<Vec<PathBuf>>>()?;
        let _gate = self.ingest_gate.read();
        let mut o = rocksdb::IngestExternalFileOptions::default();
        o.set_move_files(true);
        self.db
            .ingest_external_file_cf_opts(self.cf(space)?, &o, paths)?;
        Ok(())
    }

    fn discard(&self, runs: &[SortedRun]) {
        for run in runs {
            if let SortedRun::File(path) = run {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn path(&self) -> Option<&Path> {
        Some(self.db.path())
    }

    fn close(&self) -> Result<()> {
        self.record_durable_mark()
    }

    fn maintenance(&self) -> Option<&dyn Maintenance> {
        Some(self)
    }

    fn backups(&self) -> Option<&dyn Backups> {
        Some(self)
    }

    /// Only a read-only (secondary) instance follows a primary.
    fn follower(&self) -> Option<&dyn Follower> {
        if self.read_only {
            Some(self)
        } else {
            None
        }
    }
}

impl Maintenance for RocksKv {
    fn property(&self, space: Space, name: &str) -> Result<Option<u64>> {
        Ok(self.db.property_int_value_cf(self.cf(space)?, name)?)
    }

    /// RocksDB's manual compaction reports no status through its C API: a
    /// compaction that failed shows as a new background error. Then the
    /// database's checksums are read to name the damage (corruption), or
    /// the failure is reported as a storage error.
    fn compact(&self) -> Result<()> {
        let background_errors = || {
            self.db
                .property_int_value("rocksdb.background-errors")
                .map(|n| n.unwrap_or(0))
        };
        let before = background_errors()?;
        let mut opts = rocksdb::CompactOptions::default();
        // Through the last level: that is where tombstones are dropped.
        opts.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        for space in Space::ALL {
            self.db
                .compact_range_cf_opt(self.cf(space)?, None::<&[u8]>, None::<&[u8]>, &opts);
        }
        let after = background_errors()?;
        if after > before {
            backup::check_checksums(&self.db)?;
            return Err(Error::Storage {
                kind: "compaction",
                source: format!(
                    "the compaction failed: RocksDB recorded {} background error(s) (details in {}/LOG)",
                    after - before,
                    self.db.path().display()
                )
                .into(),
            });
        }
        Ok(())
    }

    /// A file that a compaction replaced and deleted between the listing
    /// and the look at the disk is not damage: a file counts only if a
    /// second listing still names it and finds it missing or short again.
    fn damaged_files(&self) -> Result<Vec<DamagedFile>> {
        let first = self.damaged_files_once()?;
        if first.is_empty() {
            return Ok(first);
        }
        let again = self.damaged_files_once()?;
        Ok(first
            .into_iter()
            .filter(|d| again.iter().any(|a| a.name == d.name))
            .collect())
    }
}

impl Backups for RocksKv {
    fn create_backup(&self, dir: &Path) -> Result<BackupInfo> {
        self.consistent_cut(|db| backup::create(db, dir))
    }

    fn checkpoint(&self, dir: &Path) -> Result<()> {
        self.consistent_cut(|db| backup::checkpoint(db, dir))
    }
}

impl Follower for RocksKv {
    fn catch_up(&self) -> Result<()> {
        open::catch_up(&self.db)
    }
}

impl MemStore {
    /// A store holding a copy of every key of the database at `path`
    /// (opened, read, not changed; it must not be open elsewhere): to try a
    /// migration, or a test, on a copy in memory.
    pub fn copy_of(path: &Path) -> Result<MemStore> {
        let source = RocksKv::open_accepting(
            path,
            &Config {
                create_if_missing: false,
                ..Config::default()
            },
            Versions::Migratable,
        )?;
        let store = MemStore::new();
        let target = store.open()?;
        for space in Space::ALL {
            let mut batch = WriteBatch::new();
            source
                .latest()
                .scan(space, KeyRange::new(&[], None), &mut |k, v| {
                    batch.put_in(space, k, v);
                    Ok(true)
                })?;
            target.write(&batch, false)?;
        }
        source.close()?;
        Ok(store)
    }
}
