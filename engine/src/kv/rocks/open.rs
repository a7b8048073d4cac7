//! Opening RocksDB safely: refusing what is not a rockhold database, the
//! durable mark that detects lost WAL writes, and the consistent catch-up
//! of a read-only follower.

use std::path::Path;

use rockhold_format::FormatVersion;
use rocksdb::DB;

use super::RETIRED_COLUMN_FAMILIES;
use crate::error::{Error, Result};
use crate::kv::{Config, COLUMN_FAMILIES};

/// Refuses, before anything is written, a path that is not a rockhold
/// database: a non-empty directory without a RocksDB database in it, or a
/// RocksDB database whose column families are not rockhold's (another
/// program's database: opening it would add column families). A missing
/// path or an empty directory is a new database when `create` is set.
/// A rockhold database whose creation was cut short (column families made,
/// no format version yet) passes here and is initialised at open.
pub(super) fn check_is_database(path: &Path, create: bool) -> Result<()> {
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
                if holds_rocksdb_files(path) {
                    return Err(Error::StorageCorruption {
                        source: format!(
                            "{}: damaged database: it holds RocksDB files (MANIFEST, SST, WAL) \
                             but its CURRENT file is missing",
                            path.display()
                        )
                        .into(),
                    });
                }
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
    // A retired family is an earlier format's (refused at open by its
    // version, dropped by the migration).
    let foreign: Vec<&String> = found
        .iter()
        .filter(|f| {
            !COLUMN_FAMILIES.contains(&f.as_str()) && !RETIRED_COLUMN_FAMILIES.contains(&f.as_str())
        })
        .collect();
    if !missing.is_empty() || !foreign.is_empty() {
        return Err(refuse(format!(
            "a RocksDB database whose column families are not rockhold's \
             (missing {missing:?}, foreign {foreign:?})"
        )));
    }
    Ok(())
}

/// The column families of earlier format versions the database at `path`
/// still has ([`RETIRED_COLUMN_FAMILIES`]).
pub(super) fn retired_column_families(path: &Path) -> Result<Vec<&'static str>> {
    let found = DB::list_cf(&rocksdb::Options::default(), path)?;
    Ok(RETIRED_COLUMN_FAMILIES
        .into_iter()
        .filter(|cf| found.iter().any(|f| f == cf))
        .collect())
}

/// Whether `dir` holds a file only a RocksDB database has: a MANIFEST, an
/// SST or WAL file, or rockhold's durable mark.
fn holds_rocksdb_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("MANIFEST-")
                || name.ends_with(".sst")
                || name.ends_with(".log") && name.trim_end_matches(".log").parse::<u64>().is_ok()
                || name == DURABLE_MARK
        })
    })
}

/// The file (in the database directory) recording the last sequence number
/// known durable, a framed `MetaValue::Counter` (docs/FORMAT.md).
const DURABLE_MARK: &str = "ROCKHOLD-DURABLE";
const DURABLE_MARK_TMP: &str = "ROCKHOLD-DURABLE.tmp";

/// Refuses a database that recovered fewer writes than were recorded as
/// durable: its newest WAL was deleted or truncated (RocksDB itself only
/// notices missing WALs that were closed). With `accept` the open goes on.
pub(super) fn check_durable_mark(db: &DB, path: &Path, accept: bool) -> Result<()> {
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

/// Syncs the WAL, then records in `ROCKHOLD-DURABLE` the last sequence
/// number, which every write up to it is now durable under. Written to a
/// temporary file, synced, renamed over the old one, directory synced. The
/// caller holds the mark's mutex, so one writer at a time uses the
/// temporary file.
pub(super) fn write_durable_mark(db: &DB) -> Result<()> {
    let seq = db.latest_sequence_number();
    db.flush_wal(true)?;
    let dir = db.path();
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
    Ok(())
}

/// How many catch-ups a read-only view tries before it gives up on
/// reaching a consistent cut of a primary that keeps flushing.
pub(super) const CATCH_UP_ATTEMPTS: u32 = 100;

/// The MANIFEST that `CURRENT` names and its length, `None` while it is
/// being replaced (named but gone): changes on every flush, compaction and
/// WAL bookkeeping of the primary.
pub(super) fn manifest_state(path: &Path) -> Result<Option<(String, u64)>> {
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

/// The numbers of the WAL files in the directory.
fn wal_files(path: &Path) -> Result<Vec<u64>> {
    let entries = std::fs::read_dir(path).map_err(|e| Error::io_at(path, e))?;
    let mut wals = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io_at(path, e))?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        wals.push(number);
    }
    Ok(wals)
}

/// Whether the WAL file `number` is still in the directory.
fn wal_exists(path: &Path, number: u64) -> bool {
    path.join(format!("{number:06}.log")).exists()
}

/// Brings a read-only (secondary) instance up to the primary's state as
/// one consistent cut.
///
/// A secondary reads the MANIFEST, then replays the WAL files it finds. If
/// the primary flushes and deletes a WAL in between, the secondary replays
/// the next WAL without the flushed SST: it sees batch k+1 without batch k.
/// A catch-up is a consistent cut when no WAL file was deleted while it
/// ran: every WAL present before it is still there after it. (Failing that,
/// a catch-up during which the MANIFEST did not change — same file, same
/// length — is one too: every WAL deletion it could have met was recorded
/// before it started.) The first check lets a view converge under a primary
/// that flushes and compacts all the time: only a WAL deletion inside the
/// catch-up itself, once per flush of every column family, makes it try
/// again, and each retry is short (it replays only what is new). It
/// retries at once a few times, then with a short pause;
/// `ViewNotConsistent` after `CATCH_UP_ATTEMPTS` tries.
pub(super) fn catch_up(db: &DB) -> Result<()> {
    let path = db.path();
    for attempt in 0..CATCH_UP_ATTEMPTS {
        let before = manifest_state(path)?;
        let wals = wal_files(path)?;
        match db.try_catch_up_with_primary() {
            Ok(()) => {}
            // A file the MANIFEST named was gone before the catch-up opened
            // it (a compaction's input): not a consistent cut yet.
            Err(e) if vanished(&e) => {
                pause(attempt);
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let no_wal_deleted = !wals.is_empty() && wals.iter().all(|n| wal_exists(path, *n));
        if before.is_some() && (no_wal_deleted || manifest_state(path)? == before) {
            return Ok(());
        }
        pause(attempt);
    }
    Err(Error::ViewNotConsistent {
        attempts: CATCH_UP_ATTEMPTS,
    })
}

/// Between two tries of a consistent cut: none for the first few (each
/// replays only what is new), then a pause growing to 20 ms.
pub(super) fn pause(attempt: u32) {
    if attempt >= 8 {
        std::thread::sleep(std::time::Duration::from_millis(u64::from(
            (attempt - 8).min(20),
        )));
    }
}

/// Whether a secondary's open or catch-up failed on a file the primary
/// deleted meanwhile (RocksDB reports it as an I/O error naming the file):
/// the primary moved on, the view tries again.
pub(super) fn vanished(e: &rocksdb::Error) -> bool {
    e.kind() == rocksdb::ErrorKind::IOError && e.to_string().contains("No such file or directory")
}

/// A private, fresh folder for the info log of a transient secondary
/// instance, removed when dropped: a read-only look at a database writes
/// nothing in its directory (a secondary instance keeps its `LOG` in its
/// own folder).
pub(super) struct Scratch(std::path::PathBuf);

impl Scratch {
    pub(super) fn new() -> Result<Scratch> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "rockhold-peek-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        crate::kv::dirlock::create_dir(&dir, 0o700)?;
        Ok(Scratch(dir))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The format version recorded in the database at `path` (`None`: a new
/// database, or one whose creation was cut short before it was recorded),
/// read without writing anything there: through a transient secondary
/// instance of the catalog column family alone, its info log in a scratch
/// folder. Every writable open asks first, so a database this build must
/// refuse (`NeedsMigration`, `UnsupportedVersion`) is refused before
/// RocksDB's writable open writes a MANIFEST, OPTIONS or flushes its WAL.
pub(super) fn peek_format_version(path: &Path, config: &Config) -> Result<Option<FormatVersion>> {
    use rockhold_format::{Key, MetaKey};
    let scratch = Scratch::new()?;
    let cache = rocksdb::Cache::new_lru_cache(1 << 20);
    let mut o = super::options::db_options(config);
    o.create_if_missing(false);
    o.create_missing_column_families(false);
    o.set_max_open_files(-1); // required of secondary instances
    let space = crate::kv::Space::Catalog;
    let cf = rocksdb::ColumnFamilyDescriptor::new(
        space.name(),
        super::options::cf_options(space, config, &cache),
    );
    let db = DB::open_cf_descriptors_as_secondary(&o, path, scratch.path(), [cf])?;
    db.try_catch_up_with_primary()?;
    let handle = db
        .cf_handle(space.name())
        .ok_or_else(|| Error::Inconsistent(format!("column family {} is missing", space.name())))?;
    let key = MetaKey::FormatVersion.encode();
    let Some(bytes) = db.get_cf(handle, &key)? else {
        return Ok(None);
    };
    // In either frame version (a v1 database frames its records in v1);
    // a number this build does not know is `UnsupportedVersion`.
    FormatVersion::decode(&bytes)
        .map(Some)
        .map_err(|e| Error::format_version(&key, e))
}
