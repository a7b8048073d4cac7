//! RocksDB's BackupEngine (incremental backups) and checkpoints. The
//! directory checks that come first (what may be overwritten, nesting) are
//! the admin layer's; these functions do the RocksDB part.

use std::path::Path;

use rocksdb::backup::{BackupEngine, BackupEngineInfo, BackupEngineOptions, RestoreOptions};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::{Env, DB};

use crate::error::{Error, Result};
use crate::kv::COLUMN_FAMILIES;
use crate::BackupInfo;

fn info(b: BackupEngineInfo) -> BackupInfo {
    BackupInfo {
        id: b.backup_id,
        timestamp: b.timestamp,
        size: b.size,
        files: b.num_files,
    }
}

fn engine(dir: &Path) -> Result<BackupEngine> {
    let opts = BackupEngineOptions::new(dir)?;
    Ok(BackupEngine::open(&opts, &Env::new()?)?)
}

/// Every backup in the backup directory `dir`, oldest first.
pub(crate) fn list(dir: &Path) -> Result<Vec<BackupInfo>> {
    Ok(engine(dir)?
        .get_backup_info()
        .into_iter()
        .map(info)
        .collect())
}

/// Checks every file of backup `id` (size and checksum).
pub(crate) fn verify(dir: &Path, id: u32) -> Result<()> {
    Ok(engine(dir)?.verify_backup(id)?)
}

/// Deletes all but the newest `keep` backups.
pub(crate) fn purge(dir: &Path, keep: usize) -> Result<()> {
    Ok(engine(dir)?.purge_old_backups(keep)?)
}

/// Restores backup `id` (or the latest) into the empty directory `into`.
pub(crate) fn restore(dir: &Path, id: Option<u32>, into: &Path) -> Result<()> {
    let mut e = engine(dir)?;
    let opts = RestoreOptions::default();
    match id {
        Some(id) => e.restore_from_backup(into, into, &opts, id)?,
        None => e.restore_from_latest_backup(into, into, &opts)?,
    }
    Ok(())
}

/// Takes a backup of `db` into `dir` (memtables flushed first); returns it.
pub(super) fn create(db: &DB, dir: &Path) -> Result<BackupInfo> {
    let mut e = engine(dir)?;
    e.create_new_backup_flush(db, true)?;
    e.get_backup_info()
        .into_iter()
        .map(info)
        .max_by_key(|b| b.id)
        .ok_or_else(|| Error::Inconsistent("the new backup is not listed".into()))
}

/// Writes a checkpoint of `db` into `dir` (which must not exist).
pub(super) fn checkpoint(db: &DB, dir: &Path) -> Result<()> {
    Ok(Checkpoint::new(db)?.create_checkpoint(dir)?)
}

/// Whether `dir` holds a rockhold database (a RocksDB database with every
/// rockhold column family), read from its MANIFEST without opening it.
pub(crate) fn is_rockhold_db(dir: &Path) -> bool {
    DB::list_cf(&rocksdb::Options::default(), dir)
        .is_ok_and(|cfs| COLUMN_FAMILIES.iter().all(|cf| cfs.iter().any(|c| c == cf)))
}
