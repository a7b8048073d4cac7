//! Whether a database directory is held open, before anything touches it.
//!
//! RocksDB locks `<db>/LOCK` with a POSIX record lock (`fcntl(F_SETLK)`),
//! but only once its open is under way — after it has created or rotated
//! the `LOG` file and the directory. The engine therefore asks first:
//! [`held_by_other_process`] tests the record lock with `F_GETLK` (which
//! sees fcntl locks, unlike `flock(2)`-based `File::try_lock`), and a
//! process-wide registry covers this process's own databases, since record
//! locks never conflict within one process.
//!
//! Opening and closing any descriptor of a file drops every record lock this
//! process holds on it, so `LOCK` is only probed for directories this process
//! does not have open, and the registry is consulted (and kept locked) first.
//!
//! Without the RocksDB backend only `create_dir` is used (backup paths).
#![cfg_attr(not(feature = "rocksdb"), allow(dead_code))]

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rustix::process::{fcntl_getlk, Flock, FlockOffsetType, FlockType};

use crate::error::{Error, Result};

/// Canonical paths of the databases this process holds open (writable).
static OPEN: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Whether another process holds a record lock on `<dir>/LOCK` that would
/// conflict with a write lock over the whole file (RocksDB's open lock).
/// Never call it for a directory this process has open (see the module docs).
fn held_by_other_process(dir: &Path) -> Result<bool> {
    let path = dir.join("LOCK");
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io_at(&path, e)),
    };
    let whole_file = Flock {
        start: 0,
        length: 0,
        pid: None,
        typ: FlockType::WriteLock,
        offset_type: FlockOffsetType::Set,
    };
    let blocker = fcntl_getlk(&file, &whole_file).map_err(|e| Error::io_at(&path, e.into()))?;
    Ok(blocker.is_some())
}

/// The canonical form of `dir`, or `None` when it does not exist.
fn canonical(dir: &Path) -> Result<Option<PathBuf>> {
    match dir.canonicalize() {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io_at(dir, e)),
    }
}

/// Whether `canonical` is open here or held by another process; call with
/// the registry locked.
fn in_use_locked(open: &BTreeSet<PathBuf>, canonical: &Path) -> Result<bool> {
    Ok(open.contains(canonical) || held_by_other_process(canonical)?)
}

/// Fails with [`Error::Locked`] when the database directory `dir` is held
/// open, by this process or another one. A directory that does not exist is
/// not held.
pub(crate) fn check_not_held(dir: &Path) -> Result<()> {
    let Some(canonical) = canonical(dir)? else {
        return Ok(());
    };
    let open = OPEN.lock();
    if in_use_locked(&open, &canonical)? {
        return Err(Error::Locked {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with permission bits `mode`; an
/// existing directory is left as it is.
pub(crate) fn create_dir(dir: &Path, mode: u32) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| Error::io_at(dir, e))
}

/// This process's claim on a database directory it opens writable: while
/// it lives, the directory counts as held open here.
pub(crate) struct DirClaim(Option<PathBuf>);

impl DirClaim {
    /// No claim (a read-only follower takes no lock).
    pub(crate) fn none() -> DirClaim {
        DirClaim(None)
    }

    /// Claims `dir` before RocksDB opens it: creates it with `mode` when it
    /// is missing and `create` is set, then fails with [`Error::Locked`] if
    /// it is held open, without touching anything in it.
    pub(crate) fn take(dir: &Path, create: bool, mode: u32) -> Result<DirClaim> {
        if create && canonical(dir)?.is_none() {
            create_dir(dir, mode)?;
        }
        // A missing directory is RocksDB's to report.
        let Some(canonical) = canonical(dir)? else {
            return Ok(DirClaim(None));
        };
        let mut open = OPEN.lock();
        if in_use_locked(&open, &canonical)? {
            return Err(Error::Locked {
                path: dir.to_path_buf(),
            });
        }
        open.insert(canonical.clone());
        Ok(DirClaim(Some(canonical)))
    }
}

impl Drop for DirClaim {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            OPEN.lock().remove(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory claimed by this process reads as held (record locks do
    /// not conflict within a process), and free once the claim is dropped.
    #[test]
    fn own_claims_count_as_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        check_not_held(dir.path()).expect("free");
        let claim = DirClaim::take(dir.path(), false, 0o700).expect("claim");
        assert!(matches!(
            check_not_held(dir.path()),
            Err(Error::Locked { .. })
        ));
        drop(claim);
        check_not_held(dir.path()).expect("free again");
    }
}
