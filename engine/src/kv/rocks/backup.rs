//! RocksDB's BackupEngine (incremental backups) and checkpoints. The
//! directory checks that come first (what may be overwritten, nesting) are
//! the admin layer's; these functions do the RocksDB part.

use std::path::Path;

use rocksdb::backup::{BackupEngine, BackupEngineInfo, BackupEngineOptions, RestoreOptions};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::{Env, DB};

use crate::error::{Error, Result};
use crate::kv::{BackupInfo, COLUMN_FAMILIES};

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

/// Checks every file of backup `id`: RocksDB's check (each file exists
/// with its recorded size), then the content: the CRC32C of each file
/// against the one the backup's meta file recorded when it was copied
/// (RocksDB's `VerifyBackup(id, verify_with_checksum = true)`, which the
/// C API does not reach). A flipped bit in a backed-up file is corruption.
pub(crate) fn verify(dir: &Path, id: u32) -> Result<()> {
    engine(dir)?.verify_backup(id)?;
    let meta = dir.join("meta").join(id.to_string());
    let text = std::fs::read_to_string(&meta).map_err(|e| Error::io_at(&meta, e))?;
    let damaged = |what: String| Error::StorageCorruption {
        source: format!("backup {id} in {}: {what}", dir.display()).into(),
    };
    for (file, recorded) in meta_checksums(&text).map_err(|e| damaged(format!("meta file: {e}")))? {
        let path = dir.join(&file);
        let found = crc32c_of(&path)?;
        if found != recorded {
            return Err(damaged(format!(
                "file {file} has CRC32C {found:#010x}, the backup recorded {recorded:#010x}: \
                 its content changed after the backup was taken"
            )));
        }
    }
    Ok(())
}

/// The (file, CRC32C) pairs a BackupEngine meta file lists (schema 1 and
/// 2: an optional `schema_version` line, the timestamp, the sequence
/// number, optional fields, the file count, then one line per file:
/// `<path> crc32 <decimal>` and other fields).
fn meta_checksums(text: &str) -> std::result::Result<Vec<(String, u32)>, String> {
    let mut lines = text.lines().peekable();
    if lines
        .peek()
        .is_some_and(|l| l.starts_with("schema_version "))
    {
        lines.next();
    }
    // Timestamp and sequence number.
    for what in ["timestamp", "sequence number"] {
        lines.next().ok_or(format!("no {what}"))?;
    }
    let count: usize = loop {
        let line = lines.next().ok_or("no file count")?;
        if let Ok(n) = line.trim().parse() {
            break n;
        }
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let line = lines.next().ok_or("fewer files than its count")?;
        let mut words = line.split(' ');
        let file = words.next().ok_or("an empty file line")?.to_string();
        let mut crc = None;
        while let (Some(field), Some(value)) = (words.next(), words.next()) {
            if field == "crc32" {
                crc = Some(
                    value
                        .parse::<u32>()
                        .map_err(|e| format!("checksum of {file}: {e}"))?,
                );
            }
        }
        if let Some(crc) = crc {
            out.push((file, crc));
        }
    }
    Ok(out)
}

/// CRC32C (Castagnoli, as RocksDB's `crc32c::Value`) of a file's content.
fn crc32c_of(path: &Path) -> Result<u32> {
    use std::io::Read;
    static TABLE: std::sync::OnceLock<[[u32; 256]; 8]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [[0u32; 256]; 8];
        for i in 0..256u32 {
            let mut c = i;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
            t[0][i as usize] = c;
        }
        for i in 0..256 {
            for k in 1..8 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            }
        }
        t
    });
    let mut file = std::fs::File::open(path).map_err(|e| Error::io_at(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut crc = !0u32;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io_at(path, e))?;
        if n == 0 {
            break;
        }
        let mut chunks = buf[..n].chunks_exact(8);
        for c in &mut chunks {
            let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            crc = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][c[4] as usize]
                ^ t[2][c[5] as usize]
                ^ t[1][c[6] as usize]
                ^ t[0][c[7] as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xff) as usize];
        }
    }
    Ok(!crc)
}

/// Reads every key of every column family of `db` with block checksums
/// verified (not through the block cache): a damaged SST is found before
/// it is copied into a backup that would then verify and fail to restore.
pub(super) fn check_checksums(db: &DB) -> Result<()> {
    for name in COLUMN_FAMILIES {
        let cf = db
            .cf_handle(name)
            .ok_or_else(|| Error::Inconsistent(format!("column family {name} is missing")))?;
        let mut read = rocksdb::ReadOptions::default();
        read.set_verify_checksums(true);
        read.fill_cache(false);
        read.set_total_order_seek(true);
        let mut it = db.raw_iterator_cf_opt(cf, read);
        it.seek_to_first();
        while it.valid() {
            it.next();
        }
        it.status()?;
    }
    Ok(())
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
///
/// The database's checksums are checked first ([`check_checksums`]): a
/// database with a damaged file is refused (corruption) rather than backed
/// up into a backup that cannot be restored.
pub(super) fn create(db: &DB, dir: &Path) -> Result<BackupInfo> {
    check_checksums(db)?;
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

#[cfg(test)]
mod tests {
    /// The CRC32C check value of the standard test vector, over the file
    /// reader (several chunk sizes around the 8-byte slices).
    #[test]
    fn crc32c_matches_the_standard_check_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"123456789").expect("write");
        assert_eq!(super::crc32c_of(&path).expect("crc"), 0xE306_9283);
        std::fs::write(&path, b"").expect("write");
        assert_eq!(super::crc32c_of(&path).expect("crc"), 0);
        std::fs::write(&path, [0u8; 32]).expect("write");
        assert_eq!(super::crc32c_of(&path).expect("crc"), 0x8A91_36AA);
    }
}
