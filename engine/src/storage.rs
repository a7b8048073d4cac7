//! RocksDB underneath: how it is opened (every option chosen explicitly),
//! where each key family lives (a column family each), and the small set of
//! operations the rest of the engine uses.

use std::path::Path;

use rockhold_format::Family;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType,
    DBRawIterator, DBRecoveryMode, ReadOptions, WriteBatch, WriteOptions, DB,
};

use crate::dirlock::DirClaim;
use crate::error::{Error, Result};
use crate::options::Options;

/// Column families, one per group of key families. Separate memtables for
/// records and each index kind make indexed writes faster than one mixed
/// keyspace (measured 1.5–1.7× on raw writes); one WriteBatch still spans
/// them atomically, and with the WAL on every batch recovers whole.
pub(crate) const CF_CATALOG: &str = "default"; // M, N, C
pub(crate) const CF_OBJECTS: &str = "objects"; // O
pub(crate) const CF_FULL_SCAN: &str = "index_full_scan"; // IF
pub(crate) const CF_HASH: &str = "index_hash"; // IH
pub(crate) const CF_ORDERED: &str = "index_ordered"; // IR
pub(crate) const CF_TASKS: &str = "tasks"; // IT

/// Every column family of a rockhold database, in the order they are opened.
/// Tools that open the database with RocksDB directly need them all.
pub const COLUMN_FAMILIES: [&str; 6] = [
    CF_CATALOG,
    CF_OBJECTS,
    CF_FULL_SCAN,
    CF_HASH,
    CF_ORDERED,
    CF_TASKS,
];

/// The RocksDB column family that holds the keys of a family.
pub fn column_family(family: Family) -> &'static str {
    match family {
        Family::Object => CF_OBJECTS,
        Family::FullScan => CF_FULL_SCAN,
        Family::Hash => CF_HASH,
        Family::Ordered => CF_ORDERED,
        Family::Task => CF_TASKS,
        _ => CF_CATALOG,
    }
}

/// Folder inside the database directory where a bulk index build writes
/// its SST files before ingesting them.
const BULK_BUILD_DIR: &str = "rockhold-bulk-build";

/// Length of an `IH` key up to and including the value hash: `IH` + ns +
/// class + field + hash. The hash column family's prefix extractor.
pub(crate) const HASH_LOOKUP_PREFIX_LEN: usize = 2 + 4 + 4 + 4 + 8;

fn db_options(opts: &Options) -> rocksdb::Options {
    let mut o = rocksdb::Options::default();
    o.create_if_missing(opts.create_if_missing);
    o.create_missing_column_families(true);
    // Check every file's checksums and consistency at open and fail loudly.
    o.set_paranoid_checks(true);
    // The default (PointInTime) silently drops everything after a corrupt WAL
    // record. Tolerating only a torn *tail* (the write in flight at a crash)
    // makes corruption in the middle of the log an error at open instead.
    o.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    // Record WAL files in the MANIFEST, so a missing WAL is detected at open.
    o.set_track_and_verify_wals_in_manifest(true);
    // Flush all column families together: records and their index entries
    // always reach SST files in the same flush.
    o.set_atomic_flush(true);
    o.increase_parallelism(2);
    o.set_max_background_jobs(4);
    o.set_bytes_per_sync(1 << 20);
    o.set_keep_log_file_num(4);
    o
}

fn cf_options(name: &str, opts: &Options, cache: &Cache) -> rocksdb::Options {
    let mut table = BlockBasedOptions::default();
    // XXH3 block checksums: the strongest fast checksum RocksDB offers.
    table.set_checksum_type(rocksdb::ChecksumType::XXH3);
    // Full (not block-based) bloom filters, 10 bits/key: ~1% false positives,
    // so point reads of absent keys rarely touch a data block.
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(cache);
    // Index and filter blocks stay in the table readers, outside the block
    // cache: in the cache, data blocks evicted them, and at 1M objects a
    // cold lookup re-read a ~0.5 MiB index block from the file almost every
    // time (W3 at 7.9k lookups/s). They cost about 2 bytes per key of
    // memory: rocksdb.estimate-table-readers-mem was 7.8 MB for 1M objects
    // (4 keys each) in the benchmark.
    table.set_cache_index_and_filter_blocks(false);
    let mut o = rocksdb::Options::default();
    o.set_block_based_table_factory(&table);
    o.set_write_buffer_size(opts.write_buffer_bytes);
    o.set_level_compaction_dynamic_level_bytes(true);
    // Object records compress; index keys are all key and prefix-compressed
    // by the block format already.
    if name == CF_HASH {
        // Lookups and uniqueness checks seek one (field, hash) prefix: a
        // prefix bloom filter (in SSTs and the memtable) skips every file
        // that cannot hold it, so a check for an absent value rarely reads
        // a data block.
        o.set_prefix_extractor(rocksdb::SliceTransform::create_fixed_prefix(
            HASH_LOOKUP_PREFIX_LEN,
        ));
        o.set_memtable_prefix_bloom_ratio(0.1);
    }
    o.set_compression_type(if name == CF_OBJECTS {
        DBCompressionType::Lz4
    } else {
        DBCompressionType::None
    });
    o
}

/// Refuses, before anything is written, a path that is not a rockhold
/// database: a non-empty directory without a RocksDB database in it, or a
/// RocksDB database whose column families are not rockhold's (another
/// program's database: opening it would add column families). A missing
/// path or an empty directory is a new database when `create` is set.
/// A rockhold database whose creation was cut short (column families made,
/// no format version yet) passes here and is initialised at open.
fn check_is_database(path: &Path, create: bool) -> Result<()> {
    let refuse = |reason: String| Error::NotADatabase {
        path: path.display().to_string(),
        reason,
    };
    let io = |e: std::io::Error| Error::io_at(path, e);
    let mut entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if create {
                Ok(())
            } else {
                Err(refuse("it does not exist".into()))
            };
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(refuse("it is not a directory".into()))
        }
        Err(e) => return Err(io(e)),
    };
    if !path.join("CURRENT").is_file() {
        return match entries.next() {
            None if create => Ok(()),
            None => Err(refuse("the directory is empty".into())),
            Some(entry) => {
                let entry = entry.map_err(io)?;
                Err(refuse(format!(
                    "the directory is not empty ({:?} and maybe more) but holds no database; \
                     rockhold creates databases only in empty or new directories",
                    entry.file_name()
                )))
            }
        };
    }
    let found = DB::list_cf(&rocksdb::Options::default(), path)?;
    let missing: Vec<&str> = COLUMN_FAMILIES
        .iter()
        .copied()
        .filter(|cf| !found.iter().any(|f| f == cf))
        .collect();
    let foreign: Vec<&String> = found
        .iter()
        .filter(|f| !COLUMN_FAMILIES.contains(&f.as_str()))
        .collect();
    if !missing.is_empty() || !foreign.is_empty() {
        return Err(refuse(format!(
            "a RocksDB database whose column families are not rockhold's \
             (missing {missing:?}, foreign {foreign:?})"
        )));
    }
    Ok(())
}

/// The file (in the database directory) recording the last sequence number
/// known durable, a framed `MetaValue::Counter` (docs/FORMAT.md).
pub(crate) const DURABLE_MARK: &str = "ROCKHOLD-DURABLE";
const DURABLE_MARK_TMP: &str = "ROCKHOLD-DURABLE.tmp";

/// Refuses a database that recovered fewer writes than were recorded as
/// durable: its newest WAL was deleted or truncated (RocksDB itself only
/// notices missing WALs that were closed). With `accept` the open goes on.
fn check_durable_mark(db: &DB, path: &Path, accept: bool) -> Result<()> {
    use rockhold_format::{MetaValue, Record};
    let file = path.join(DURABLE_MARK);
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        // A new database, one restored from a backup or checkpoint, or one
        // written by an older version: nothing recorded to check against.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io_at(&file, e)),
    };
    let recorded = match MetaValue::decode(&bytes) {
        Ok(MetaValue::Counter(seq)) => seq,
        Ok(other) => {
            return Err(Error::Inconsistent(format!(
                "{} holds {other:?}, not a sequence number",
                file.display()
            )))
        }
        Err(e) => return Err(Error::corruption(DURABLE_MARK.as_bytes(), e)),
    };
    let found = db.latest_sequence_number();
    if found < recorded && !accept {
        return Err(Error::WritesLost {
            path: path.display().to_string(),
            recorded,
            found,
        });
    }
    Ok(())
}

/// How many catch-ups a read-only view tries before it gives up on
/// reaching a consistent cut of a primary that keeps flushing.
const CATCH_UP_ATTEMPTS: u32 = 100;

/// The MANIFEST that `CURRENT` names and its length, `None` while it is
/// being replaced (named but gone): changes on every flush, compaction and
/// WAL bookkeeping of the primary.
fn manifest_state(path: &Path) -> Result<Option<(String, u64)>> {
    let io = |e: std::io::Error| Error::io_at(path, e);
    let current = match std::fs::read_to_string(path.join("CURRENT")) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let name = current.trim().to_string();
    match std::fs::metadata(path.join(&name)) {
        Ok(m) => Ok(Some((name, m.len()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

/// The open RocksDB database.
pub(crate) struct Storage {
    db: DB,
    read_only: bool,
    /// What the column families were opened with: SST files written for
    /// ingestion are built with the same table options.
    opts: Options,
    cache: Cache,
    /// Ingests take it shared, backups and checkpoints exclusive: RocksDB
    /// lists a backup's SST files before its WAL, so an SST ingested in
    /// between would be missing while later WAL records (a task's `Done`)
    /// are in the copy.
    ingest_gate: parking_lot::RwLock<()>,
    /// When the durable mark was last written (writable instances).
    last_mark: parking_lot::Mutex<std::time::Instant>,
    /// Dropped after `db` (field order): the directory counts as held here
    /// until RocksDB has released its lock.
    _claim: DirClaim,
}

impl Storage {
    pub(crate) fn open(path: &Path, opts: &Options) -> Result<Storage> {
        check_is_database(path, opts.create_if_missing)?;
        let claim = DirClaim::take(path, opts.create_if_missing, opts.dir_mode)?;
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, opts, &cache)));
        let db = DB::open_cf_descriptors(&db_options(opts), path, cfs)?;
        // SST files of a bulk build that a crash left behind were never
        // ingested: nothing refers to them.
        let _ = std::fs::remove_dir_all(path.join(BULK_BUILD_DIR));
        check_durable_mark(&db, path, opts.accept_lost_writes)?;
        let storage = Storage {
            db,
            read_only: false,
            opts: opts.clone(),
            cache,
            ingest_gate: Default::default(),
            last_mark: parking_lot::Mutex::new(std::time::Instant::now()),
            _claim: claim,
        };
        storage.record_durable_mark()?;
        Ok(storage)
    }

    /// Syncs the WAL, then records in `ROCKHOLD-DURABLE` the last sequence
    /// number, which every write up to it is now durable under. Written to
    /// a temporary file, synced, renamed over the old one, directory synced.
    /// Called at open and close; errors are the caller's.
    pub(crate) fn record_durable_mark(&self) -> Result<()> {
        let mut last = self.last_mark.lock();
        self.write_durable_mark(&mut last)
    }

    /// Writes the mark; the caller holds `last_mark`, so one writer at a
    /// time uses the temporary file.
    fn write_durable_mark(&self, last: &mut std::time::Instant) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let seq = self.db.latest_sequence_number();
        self.db.flush_wal(true)?;
        let dir = self.db.path();
        let mark = dir.join(DURABLE_MARK);
        let io = |e: std::io::Error| Error::io_at(&mark, e);
        let tmp = dir.join(DURABLE_MARK_TMP);
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&rockhold_format::Record::encode(
                &rockhold_format::MetaValue::Counter(seq),
            ))
            .map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &mark).map_err(io)?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        *last = std::time::Instant::now();
        Ok(())
    }

    /// After a commit: records the durable mark when the last one is older
    /// than `durable_mark_interval` (one committer does; the others go on).
    /// A failure here does not fail the commit, which is already written:
    /// the mark stays older (detection covers less) and the next commit
    /// after the interval tries again.
    fn after_commit(&self) {
        if self.read_only {
            return;
        }
        if let Some(mut last) = self.last_mark.try_lock() {
            if last.elapsed() >= self.opts.durable_mark_interval {
                let _ = self.write_durable_mark(&mut last);
            }
        }
    }

    /// Opens a read-only follower of a database another process may hold
    /// open (a RocksDB secondary instance); `secondary` is a private folder
    /// for its own info log. It sees the primary's state as of the last
    /// `catch_up`.
    pub(crate) fn open_secondary(path: &Path, secondary: &Path, opts: &Options) -> Result<Storage> {
        check_is_database(path, false)?;
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let cfs = COLUMN_FAMILIES
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, opts, &cache)));
        let mut o = db_options(opts);
        o.create_if_missing(false);
        o.set_max_open_files(-1); // required of secondary instances
        let db = DB::open_cf_descriptors_as_secondary(&o, path, secondary, cfs)?;
        let storage = Storage {
            db,
            read_only: true,
            opts: opts.clone(),
            cache,
            ingest_gate: Default::default(),
            last_mark: parking_lot::Mutex::new(std::time::Instant::now()),
            _claim: DirClaim::none(),
        };
        storage.catch_up()?;
        Ok(storage)
    }

    /// Brings a read-only (secondary) instance up to the primary's state as
    /// one consistent cut.
    ///
    /// A secondary reads the MANIFEST, then replays the WAL files it finds.
    /// If the primary flushes and deletes a WAL in between, the secondary
    /// replays the next WAL without the flushed SST: it sees batch k+1
    /// without batch k. A catch-up re-reads the MANIFEST (which by then
    /// records that flush) before tailing the WALs, so a catch-up during
    /// which the MANIFEST did not change (same file, same length) yields a
    /// state that every WAL deletion it could have met was recorded for.
    /// Retries until one does; `ViewNotConsistent` after
    /// `CATCH_UP_ATTEMPTS` tries under a primary that never stops flushing.
    pub(crate) fn catch_up(&self) -> Result<()> {
        let path = self.db.path();
        for attempt in 0..CATCH_UP_ATTEMPTS {
            let before = manifest_state(path)?;
            self.db.try_catch_up_with_primary()?;
            if before.is_some() && manifest_state(path)? == before {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(u64::from(attempt.min(20))));
        }
        Err(Error::ViewNotConsistent {
            attempts: CATCH_UP_ATTEMPTS,
        })
    }

    /// A RocksDB snapshot, or `None` on a read-only (secondary) instance,
    /// which does not support them: its state only moves on `catch_up`, so
    /// its plain reads are already of one point in time.
    pub(crate) fn snapshot(&self) -> Option<rocksdb::Snapshot<'_>> {
        (!self.read_only).then(|| self.db.snapshot())
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub(crate) fn cf(&self, family: Family) -> Result<&ColumnFamily> {
        let name = column_family(family);
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Inconsistent(format!("column family {name} is missing")))
    }

    /// The column family with this generation tag (its index in `COLUMN_FAMILIES`).
    pub(crate) fn cf_by_tag(&self, tag: u8) -> Result<&ColumnFamily> {
        let name = COLUMN_FAMILIES
            .get(usize::from(tag))
            .ok_or_else(|| Error::Inconsistent(format!("no column family with tag {tag}")))?;
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::Inconsistent(format!("column family {name} is missing")))
    }

    pub(crate) fn rocks(&self) -> &DB {
        &self.db
    }

    /// Reads one value (under a snapshot when `read` carries one).
    pub(crate) fn get(
        &self,
        family: Family,
        key: &[u8],
        read: &ReadOptions,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf_opt(self.cf(family)?, key, read)?)
    }

    /// An iterator over `[lower, upper)` of one family; `upper = None` runs to
    /// the end of the column family.
    pub(crate) fn iter(
        &self,
        family: Family,
        lower: &[u8],
        upper: Option<Vec<u8>>,
        snapshot: Option<&rocksdb::Snapshot<'_>>,
    ) -> Result<DBRawIterator<'_>> {
        let mut read = ReadOptions::default();
        // Scans cross prefix-extractor prefixes: ask for total order.
        read.set_total_order_seek(true);
        read.set_iterate_lower_bound(lower.to_vec());
        if let Some(upper) = upper {
            read.set_iterate_upper_bound(upper);
        }
        if let Some(s) = snapshot {
            read.set_snapshot(s);
        }
        Ok(self.db.raw_iterator_cf_opt(self.cf(family)?, read))
    }

    /// Calls `f` on every (key, value) of `family` under `prefix` (latest
    /// state, key order) while it returns `Ok(true)`.
    pub(crate) fn scan_prefix(
        &self,
        family: Family,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let mut it = self.iter(
            family,
            prefix,
            rockhold_format::prefix_successor(prefix),
            None,
        )?;
        it.seek(prefix);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !f(k, v)? {
                break;
            }
            it.next();
        }
        Ok(it.status()?)
    }

    /// An iterator over the keys that share one hash-lookup prefix (an `IH`
    /// key up to its hash), using the prefix bloom filters.
    pub(crate) fn iter_hash_prefix(
        &self,
        prefix: &[u8],
        snapshot: Option<&rocksdb::Snapshot<'_>>,
    ) -> Result<DBRawIterator<'_>> {
        let mut read = ReadOptions::default();
        read.set_prefix_same_as_start(true);
        if let Some(upper) = rockhold_format::prefix_successor(prefix) {
            read.set_iterate_upper_bound(upper);
        }
        if let Some(s) = snapshot {
            read.set_snapshot(s);
        }
        Ok(self.db.raw_iterator_cf_opt(self.cf(Family::Hash)?, read))
    }

    /// Writes `keys` (strictly ascending, empty values) to a new SST file at
    /// `path`, built with the table options of `family`'s column family.
    pub(crate) fn write_sst<'k>(
        &self,
        family: Family,
        path: &Path,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Result<()> {
        let opts = cf_options(column_family(family), &self.opts, &self.cache);
        let mut writer = rocksdb::SstFileWriter::create(&opts);
        writer.open(path)?;
        for key in keys {
            writer.put(key, [])?;
        }
        writer.finish()?;
        Ok(())
    }

    /// Ingests SST files (of disjoint key ranges) into `family`'s column
    /// family in one step, moving (not copying) them. Their keys get a
    /// sequence number above every write so far, so they shadow older
    /// versions of the same keys.
    pub(crate) fn ingest_sst(&self, family: Family, paths: &[std::path::PathBuf]) -> Result<()> {
        let _gate = self.ingest_gate.read();
        let mut o = rocksdb::IngestExternalFileOptions::default();
        o.set_move_files(true);
        self.db
            .ingest_external_file_cf_opts(self.cf(family)?, &o, paths.to_vec())?;
        Ok(())
    }

    /// Runs `f` (a backup or checkpoint of the database) with no ingest in
    /// progress or starting, so it is a consistent cut.
    pub(crate) fn consistent_cut<T>(&self, f: impl FnOnce(&DB) -> Result<T>) -> Result<T> {
        let _gate = self.ingest_gate.write();
        f(&self.db)
    }

    /// The database directory.
    pub(crate) fn path(&self) -> &Path {
        self.db.path()
    }

    /// Folder (inside the database) for SST files being built for ingestion.
    pub(crate) fn bulk_build_dir(&self) -> std::path::PathBuf {
        self.db.path().join(BULK_BUILD_DIR)
    }

    pub(crate) fn batch(&self) -> Batch<'_> {
        Batch {
            storage: self,
            wb: WriteBatch::default(),
        }
    }
}

/// A WriteBatch addressed by key family.
pub(crate) struct Batch<'a> {
    storage: &'a Storage,
    wb: WriteBatch,
}

impl Batch<'_> {
    pub(crate) fn put(&mut self, family: Family, key: &[u8], value: &[u8]) -> Result<()> {
        self.wb.put_cf(self.storage.cf(family)?, key, value);
        Ok(())
    }

    /// Writes the generation marker of every column family.
    pub(crate) fn put_generation(&mut self, generation: u64) -> Result<()> {
        let value =
            rockhold_format::Record::encode(&rockhold_format::MetaValue::Counter(generation));
        for tag in 0..=rockhold_format::GenerationKey::MAX_CF {
            let key = rockhold_format::Key::encode(&rockhold_format::GenerationKey { cf: tag });
            self.wb.put_cf(self.storage.cf_by_tag(tag)?, key, &value);
        }
        Ok(())
    }

    pub(crate) fn delete(&mut self, family: Family, key: &[u8]) -> Result<()> {
        self.wb.delete_cf(self.storage.cf(family)?, key);
        Ok(())
    }

    /// Deletes every key of `family` that starts with `prefix`.
    pub(crate) fn delete_prefix(&mut self, family: Family, prefix: &[u8]) -> Result<()> {
        let cf = self.storage.cf(family)?;
        match rockhold_format::prefix_successor(prefix) {
            Some(end) => self.wb.delete_range_cf(cf, prefix, &end[..]),
            // A prefix of all 0xFF runs to the end of the keyspace: bound it
            // by a key longer than any we write.
            None => self.wb.delete_range_cf(cf, prefix, &[0xFF; 64][..]),
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.wb.len()
    }

    /// Writes the batch atomically; `sync` fsyncs the WAL first.
    pub(crate) fn commit(self, sync: bool) -> Result<()> {
        let mut w = WriteOptions::default();
        w.set_sync(sync);
        self.storage.db.write_opt(self.wb, &w)?;
        self.storage.after_commit();
        Ok(())
    }
}
