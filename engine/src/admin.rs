//! Operator functions: raw key access for inspection tools, RocksDB
//! properties, forced reindexing, backups (RocksDB BackupEngine, incremental)
//! and checkpoints.

use std::path::Path;

use rockhold_format::{Family, FieldId, Key, MetaKey, Record, TaskKey, TaskRecord, TaskState};
use rocksdb::backup::{BackupEngine, BackupEngineOptions, RestoreOptions};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::Env;

use crate::catalog::{take_task_revision, Catalog, ClassEntry};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::schema::{now_ms, put_counter};
use crate::storage::Batch;

/// A backup in a backup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The backup's id (increasing).
    pub id: u32,
    /// When it was taken, seconds since the Unix epoch.
    pub timestamp: i64,
    /// Bytes of the files it uses (shared with other backups).
    pub size: u64,
    /// Number of files it uses.
    pub files: u32,
}

fn info(b: rocksdb::backup::BackupEngineInfo) -> BackupInfo {
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

/// A backup directory that must already exist (list, verify, purge,
/// restore): the BackupEngine would create its folders anywhere it is
/// pointed at.
fn existing_backup_dir(dir: &Path) -> Result<BackupEngine> {
    match non_empty_dir(dir)? {
        None => Err(bad_path(dir, "does not exist")),
        Some(_) if !is_backup_dir(dir) => Err(bad_path(
            dir,
            "is not a backup directory (no meta/ and private/ folders)",
        )),
        Some(_) => engine(dir),
    }
}

/// `path` made absolute with symlinks resolved, also when its last
/// components do not exist yet.
fn resolved(path: &Path) -> Result<std::path::PathBuf> {
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

/// Whether `dir` holds a rockhold database (a RocksDB database with every
/// rockhold column family), read from its MANIFEST without opening it.
fn is_rockhold_db(dir: &Path) -> bool {
    rocksdb::DB::list_cf(&rocksdb::Options::default(), dir).is_ok_and(|cfs| {
        crate::storage::COLUMN_FAMILIES
            .iter()
            .all(|cf| cfs.iter().any(|c| c == cf))
    })
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
    crate::dirlock::create_dir(&parent, 0o700)?;
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
pub fn list_backups(dir: impl AsRef<Path>) -> Result<Vec<BackupInfo>> {
    Ok(existing_backup_dir(dir.as_ref())?
        .get_backup_info()
        .into_iter()
        .map(info)
        .collect())
}

/// Checks that every file of backup `id` exists with its recorded size and checksum.
pub fn verify_backup(dir: impl AsRef<Path>, id: u32) -> Result<()> {
    Ok(existing_backup_dir(dir.as_ref())?.verify_backup(id)?)
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
pub fn restore_backup(
    dir: impl AsRef<Path>,
    id: Option<u32>,
    target: impl AsRef<Path>,
    force: bool,
) -> Result<()> {
    let (dir, target) = (dir.as_ref(), target.as_ref());
    let mut e = existing_backup_dir(dir)?;
    refuse_nested(target, dir, "lies inside the backup directory")?;
    refuse_nested(
        dir,
        target,
        "the backup directory lies inside the restore target",
    )?;
    let existing = non_empty_dir(target)?;
    if existing.is_some() {
        crate::dirlock::check_not_held(target)?;
    }
    if existing == Some(true) {
        if !is_rockhold_db(target) {
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
    crate::dirlock::create_dir(&fresh, 0o700)?;
    let opts = RestoreOptions::default();
    let restored = match id {
        Some(id) => e.restore_from_backup(&fresh, &fresh, &opts, id),
        None => e.restore_from_latest_backup(&fresh, &fresh, &opts),
    };
    if let Err(err) = restored {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(err.into());
    }
    match existing {
        None => rename(&fresh, target)?,
        Some(false) => {
            std::fs::remove_dir(target).map_err(|e| Error::io_at(target, e))?;
            rename(&fresh, target)?;
        }
        Some(true) => {
            // Checked again as late as possible: a process may have opened it meanwhile.
            crate::dirlock::check_not_held(target)?;
            let old = sibling(target, "rockhold-old")?;
            rename(target, &old)?;
            rename(&fresh, target)?;
            std::fs::remove_dir_all(&old).map_err(|e| Error::io_at(&old, e))?;
        }
    }
    Ok(())
}

/// Deletes all but the newest `keep` backups (and files no other backup uses).
pub fn purge_backups(dir: impl AsRef<Path>, keep: usize) -> Result<()> {
    Ok(existing_backup_dir(dir.as_ref())?.purge_old_backups(keep)?)
}

/// Puts a new `Pending` task for each of `fields` of a class into `batch`
/// (with the advanced task-revision counter); returns the class entry to
/// put in the catalog once the batch has committed.
fn queue_tasks(
    cat: &mut Catalog,
    batch: &mut Batch<'_>,
    entry: &ClassEntry,
    fields: Vec<FieldId>,
) -> Result<ClassEntry> {
    let mut updated = entry.clone();
    for f in fields {
        let rev = take_task_revision(&mut cat.counters.next_task_revision)?;
        let task = TaskRecord::pending(rev, now_ms());
        batch.put(
            Family::Task,
            &TaskKey {
                ns: entry.ns,
                class: entry.def.id,
                field: f,
            }
            .encode(),
            &task.encode(),
        )?;
        updated.tasks.insert(f, task);
    }
    put_counter(
        batch,
        MetaKey::NextTaskRevision,
        cat.counters.next_task_revision,
    )?;
    Ok(updated)
}

impl Db {
    /// For a read-only database: reads what the primary has written since.
    /// Like the open, the view moves to a consistent cut of the primary's
    /// state; `ViewNotConsistent` if the primary kept changing its files
    /// through every try (retry later).
    pub fn catch_up(&self) -> Result<()> {
        self.inner.storage.catch_up()
    }

    /// Calls `f` on every raw (key, value) of a family whose key starts with
    /// `prefix`, in key order, until it returns `false`. For inspection
    /// tools; decode with `rockhold-format`.
    pub fn raw_scan(
        &self,
        family: Family,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let storage = &self.inner.storage;
        if family == Family::Generation {
            // One marker in every column family.
            for tag in 0..=rockhold_format::GenerationKey::MAX_CF {
                let key = rockhold_format::GenerationKey { cf: tag }.encode();
                if let Some(v) = storage.rocks().get_cf(storage.cf_by_tag(tag)?, &key)? {
                    if key.starts_with(prefix) && !f(&key, &v) {
                        break;
                    }
                }
            }
            return Ok(());
        }
        storage.scan_prefix(family, prefix, |k, v| Ok(f(k, v)))
    }

    /// A RocksDB integer property (e.g. `rocksdb.estimate-num-keys`,
    /// `rocksdb.total-sst-files-size`) of the column family holding `family`.
    pub fn rocksdb_property(&self, family: Family, name: &str) -> Result<Option<u64>> {
        let storage = &self.inner.storage;
        Ok(storage
            .rocks()
            .property_int_value_cf(storage.cf(family)?, name)?)
    }

    /// Rebuilds an index (or every index of the class, `field = None`) with a
    /// new `Pending` task: the runner backfills it and removes stale entries.
    /// The index answers `IndexNotReady` until the task is `Done`.
    pub fn reindex(&self, namespace: &str, class: &str, field: Option<&str>) -> Result<()> {
        self.inner.writable()?;
        let inner = &self.inner;
        let mut cat = inner.catalog.write();
        let entry: ClassEntry = (**cat.class(namespace, class)?).clone();
        let fields: Vec<FieldId> = match field {
            Some(name) => {
                let f = entry.field_named(name)?;
                if !f.index.is_indexed() {
                    return Err(Error::NotIndexed {
                        class: class.to_string(),
                        field: name.to_string(),
                        needed: "hash or ordered",
                    });
                }
                vec![f.id]
            }
            None => entry
                .def
                .fields
                .iter()
                .filter(|f| f.index.is_indexed())
                .map(|f| f.id)
                .collect(),
        };
        let mut batch = inner.storage.batch();
        let updated = queue_tasks(&mut cat, &mut batch, &entry, fields)?;
        batch.commit(true)?;
        cat.put_class(updated);
        inner.metrics.refresh_task_states(&cat);
        drop(cat);
        inner.runner.notify();
        Ok(())
    }

    /// Requeues every `Failed` reindex task: each gets a new `Pending`
    /// task (new revision, attempts and cursor reset) that the runner, or
    /// [`Db::check_reindex_tasks`], builds from the start, as
    /// [`Db::reindex`] would. For an index whose build failed on duplicates
    /// or an over-long value once the data is fixed, or on errors (a full
    /// disk) once their cause is gone. Returns how many tasks it requeued.
    pub fn retry_failed_tasks(&self) -> Result<usize> {
        self.inner.writable()?;
        let inner = &self.inner;
        let mut cat = inner.catalog.write();
        let failed: Vec<(ClassEntry, Vec<FieldId>)> = cat
            .all_classes()
            .filter_map(|c| {
                let mut fields: Vec<FieldId> = c
                    .tasks
                    .iter()
                    .filter(|(_, t)| t.state == TaskState::Failed)
                    .map(|(f, _)| *f)
                    .collect();
                fields.sort_unstable();
                (!fields.is_empty()).then(|| ((**c).clone(), fields))
            })
            .collect();
        if failed.is_empty() {
            return Ok(0);
        }
        let mut batch = inner.storage.batch();
        let mut updated = Vec::with_capacity(failed.len());
        let mut count = 0;
        for (entry, fields) in failed {
            count += fields.len();
            updated.push(queue_tasks(&mut cat, &mut batch, &entry, fields)?);
        }
        batch.commit(true)?;
        for entry in updated {
            cat.put_class(entry);
        }
        inner.metrics.refresh_task_states(&cat);
        drop(cat);
        inner.runner.notify();
        Ok(count)
    }

    /// Takes an incremental backup into `dir`: files already in an earlier
    /// backup there are not copied again. Memtables are flushed first, so
    /// the backup holds every committed write, and no index build ingests
    /// files while it is taken, so it restores to a consistent database.
    ///
    /// `dir` is created (mode [`Options::dir_mode`](crate::Options::dir_mode),
    /// default `0700`) if missing; an existing `dir` must be empty or a
    /// backup directory, and must not lie inside the database directory.
    pub fn create_backup(&self, dir: impl AsRef<Path>) -> Result<BackupInfo> {
        let dir = dir.as_ref();
        let storage = &self.inner.storage;
        refuse_nested(dir, storage.path(), "lies inside the database directory")?;
        match non_empty_dir(dir)? {
            None => crate::dirlock::create_dir(dir, self.inner.opts.dir_mode)?,
            Some(true) if !is_backup_dir(dir) => {
                return Err(bad_path(dir, "is not empty and not a backup directory"))
            }
            Some(_) => {}
        }
        let mut e = engine(dir)?;
        storage.consistent_cut(|db| Ok(e.create_new_backup_flush(db, true)?))?;
        e.get_backup_info()
            .into_iter()
            .map(info)
            .max_by_key(|b| b.id)
            .ok_or_else(|| Error::Inconsistent("the new backup is not listed".into()))
    }

    /// Writes a checkpoint (a consistent, openable copy made of hard links
    /// where possible) into `dir`, which must not exist and must not lie
    /// inside the database directory. It is written into a private sibling
    /// directory, given mode [`Options::dir_mode`](crate::Options::dir_mode)
    /// (default `0700`) and renamed into place. No index build ingests
    /// files while it is taken.
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let storage = &self.inner.storage;
        refuse_nested(dir, storage.path(), "lies inside the database directory")?;
        if non_empty_dir(dir)?.is_some() {
            return Err(bad_path(dir, "already exists"));
        }
        let staging = sibling(dir, "rockhold-checkpoint")?;
        crate::dirlock::create_dir(&staging, 0o700)?;
        let inside = staging.join("checkpoint");
        let written = storage
            .consistent_cut(|db| Ok(Checkpoint::new(db)?.create_checkpoint(&inside)?))
            .and_then(|()| set_mode(&inside, self.inner.opts.dir_mode))
            .and_then(|()| rename(&inside, dir));
        let _ = std::fs::remove_dir_all(&staging);
        written
    }

    /// Whether a task is in a state that still needs work.
    pub fn has_pending_tasks(&self) -> Result<bool> {
        Ok(self
            .tasks()?
            .iter()
            .any(|t| matches!(t.record.state, TaskState::Pending | TaskState::InProgress)))
    }
}
