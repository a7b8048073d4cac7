//! Backups (incremental, by the backend) and checkpoints, and the
//! directory rules around them: what a backup or restore may overwrite,
//! what may not nest in what, and restoring into a private directory that
//! is renamed into place.

use std::path::Path;

use crate::error::{Error, Result};
#[cfg(feature = "rocksdb")]
use crate::kv::rocks::backup as rocks;
use crate::read::ReadCtx;

// A backup in a backup directory: the storage seam's type.
pub use crate::kv::BackupInfo;

fn bad_path(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadPath {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Whether `dir` is a directory with entries (`Ok(None)`: it does not exist).
fn non_empty_dir(dir: &Path) -> Result<Option<bool>> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io_at(dir, e)),
        Ok(m) if !m.is_dir() => Err(bad_path(dir, "is not a directory")),
        Ok(_) => {
            let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io_at(dir, e))?;
            Ok(Some(entries.next().is_some()))
        }
    }
}

/// Whether `dir` holds a RocksDB BackupEngine's folders.
fn is_backup_dir(dir: &Path) -> bool {
    dir.join("meta").is_dir() && dir.join("private").is_dir()
}

/// Checks that `dir` is an existing backup directory (list, verify, purge,
/// restore): the backend would create its folders anywhere it is pointed at.
#[cfg(feature = "rocksdb")]
fn existing_backup_dir(dir: &Path) -> Result<()> {
    match non_empty_dir(dir)? {
        None => Err(bad_path(dir, "does not exist")),
        Some(_) if !is_backup_dir(dir) => Err(bad_path(
            dir,
            "is not a backup directory (no meta/ and private/ folders)",
        )),
        Some(_) => Ok(()),
    }
}

/// `path` made absolute with symlinks resolved, also when its last
/// components do not exist yet.
/// A dangling symlink is followed to where it points (a backup directory
/// given as a link into the database directory is refused as nested, not
/// failed on when it is created).
fn resolved(path: &Path) -> Result<std::path::PathBuf> {
    resolved_within(path, 0)
}

fn resolved_within(path: &Path, links: u32) -> Result<std::path::PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io_at(path, e))?;
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(mut p) => {
                p.extend(rest.iter().rev());
                return Ok(p);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dangling =
                    std::fs::symlink_metadata(existing).is_ok_and(|m| m.file_type().is_symlink());
                if dangling && links < 40 {
                    let to = std::fs::read_link(existing).map_err(|e| Error::io_at(existing, e))?;
                    let to = match existing.parent() {
                        Some(parent) => parent.join(to),
                        None => to,
                    };
                    let mut p = resolved_within(&to, links + 1)?;
                    p.extend(rest.iter().rev());
                    return Ok(p);
                }
                match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_os_string());
                        existing = parent;
                    }
                    _ => return Ok(abs),
                }
            }
            Err(e) => return Err(Error::io_at(existing, e)),
        }
    }
}

/// Refuses `inner` when it is `outer` or lies inside it.
fn refuse_nested(inner: &Path, outer: &Path, what: &str) -> Result<()> {
    if resolved(inner)?.starts_with(resolved(outer)?) {
        return Err(bad_path(inner, what.to_string()));
    }
    Ok(())
}

/// A fresh, private sibling of `target` (same file system, so a rename
/// moves it into place), named `.<target name>.<tag>-<pid>-<n>`.
fn sibling(target: &Path, tag: &str) -> Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| bad_path(target, "has no final component"))?
        .to_string_lossy();
    crate::kv::dirlock::create_dir(&parent, 0o700)?;
    Ok(parent.join(format!(
        ".{name}.{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| Error::io_at(to, e))?;
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the rename durable.
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io_at(parent, e))?;
    }
    Ok(())
}

fn set_mode(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io_at(dir, e))
}

/// Every backup in `dir`, oldest first. `dir` must be a backup directory.
#[cfg(feature = "rocksdb")]
pub fn list_backups(dir: impl AsRef<Path>) -> Result<Vec<BackupInfo>> {
    existing_backup_dir(dir.as_ref())?;
    rocks::list(dir.as_ref())
}

/// Checks that every file of backup `id` exists with its recorded size and checksum.
#[cfg(feature = "rocksdb")]
pub fn verify_backup(dir: impl AsRef<Path>, id: u32) -> Result<()> {
    existing_backup_dir(dir.as_ref())?;
    rocks::verify(dir.as_ref(), id)
}

/// Restores backup `id` (or the latest) from the backup directory `dir`
/// into `target`.
///
/// Refused, with nothing changed: a `target` held open by a process
/// ([`Error::Locked`]); a non-empty `target` that is not a rockhold
/// database; a `target` holding a database unless `force`; a `target`
/// inside `dir` or containing it. The backup is restored into a fresh,
/// private (`0700`) sibling directory and renamed into place, so `target`
/// never holds a partial restore; with `force` the old database is moved
/// aside first and removed once the new one is in place.
#[cfg(feature = "rocksdb")]
pub fn restore_backup(
    dir: impl AsRef<Path>,
    id: Option<u32>,
    target: impl AsRef<Path>,
    force: bool,
) -> Result<()> {
    let dir = dir.as_ref();
    // A symlink names the database it points to: that one is replaced,
    // not the link.
    let target = &resolved(target.as_ref())?;
    existing_backup_dir(dir)?;
    refuse_nested(target, dir, "lies inside the backup directory")?;
    refuse_nested(
        dir,
        target,
        "the backup directory lies inside the restore target",
    )?;
    let existing = non_empty_dir(target)?;
    if existing.is_some() {
        crate::kv::dirlock::check_not_held(target)?;
    }
    if existing == Some(true) {
        if !rocks::is_rockhold_db(target) {
            return Err(bad_path(
                target,
                "is not empty and holds no rockhold database; refusing to replace its files",
            ));
        }
        if !force {
            return Err(bad_path(
                target,
                "holds a database; restore with force (--force) to replace it",
            ));
        }
    }
    let fresh = sibling(target, "rockhold-restore")?;
    crate::kv::dirlock::create_dir(&fresh, 0o700)?;
    if let Err(err) = rocks::restore(dir, id, &fresh) {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(err);
    }
    match existing {
        None => rename(&fresh, target)?,
        Some(false) => {
            std::fs::remove_dir(target).map_err(|e| Error::io_at(target, e))?;
            rename(&fresh, target)?;
        }
        Some(true) => {
            // Checked again as late as possible: a process may have opened it meanwhile.
            crate::kv::dirlock::check_not_held(target)?;
            let old = sibling(target, "rockhold-old")?;
            rename(target, &old)?;
            rename(&fresh, target)?;
            std::fs::remove_dir_all(&old).map_err(|e| Error::io_at(&old, e))?;
        }
    }
    Ok(())
}

/// Deletes all but the newest `keep` backups (and files no other backup uses).
#[cfg(feature = "rocksdb")]
pub fn purge_backups(dir: impl AsRef<Path>, keep: usize) -> Result<()> {
    existing_backup_dir(dir.as_ref())?;
    rocks::purge(dir.as_ref(), keep)
}

impl ReadCtx {
    /// Takes an incremental backup into `dir`: files already in an earlier
    /// backup there are not copied again. Memtables are flushed first, so
    /// the backup holds every committed write, and no index build ingests
    /// files while it is taken, so it restores to a consistent database.
    pub(crate) fn create_backup(&self, dir: impl AsRef<Path>) -> Result<BackupInfo> {
        let dir = dir.as_ref();
        let kv = &self.kv;
        let (Some(path), Some(backups)) = (kv.path(), kv.backups()) else {
            return Err(Error::Unsupported {
                what: "backups of an in-memory database",
            });
        };
        refuse_nested(dir, path, "lies inside the database directory")?;
        match non_empty_dir(dir)? {
            // Through a dangling link: where it points.
            None => crate::kv::dirlock::create_dir(&resolved(dir)?, self.opts.dir_mode)?,
            Some(true) if !is_backup_dir(dir) => {
                return Err(bad_path(dir, "is not empty and not a backup directory"))
            }
            Some(_) => {}
        }
        backups.create_backup(dir)
    }

    /// Writes a checkpoint (a consistent, openable copy made of hard links
    /// where possible) into `dir`, which must not exist and must not lie
    /// inside the database directory. It is written into a private sibling
    /// directory, given mode [`Options::dir_mode`](crate::Options::dir_mode)
    /// (default `0700`) and renamed into place. No index build ingests
    /// files while it is taken.
    pub(crate) fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let kv = &self.kv;
        let (Some(path), Some(backups)) = (kv.path(), kv.backups()) else {
            return Err(Error::Unsupported {
                what: "checkpoints of an in-memory database",
            });
        };
        refuse_nested(dir, path, "lies inside the database directory")?;
        if non_empty_dir(dir)?.is_some() {
            return Err(bad_path(dir, "already exists"));
        }
        let staging = sibling(dir, "rockhold-checkpoint")?;
        crate::kv::dirlock::create_dir(&staging, 0o700)?;
        let inside = staging.join("checkpoint");
        let written = backups
            .checkpoint(&inside)
            .and_then(|()| set_mode(&inside, self.opts.dir_mode))
            .and_then(|()| rename(&inside, dir));
        let _ = std::fs::remove_dir_all(&staging);
        written
    }
}
