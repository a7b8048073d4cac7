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

/// Every backup in `dir`, oldest first.
pub fn list_backups(dir: impl AsRef<Path>) -> Result<Vec<BackupInfo>> {
    Ok(engine(dir.as_ref())?
        .get_backup_info()
        .into_iter()
        .map(info)
        .collect())
}

/// Checks that every file of backup `id` exists with its recorded size and checksum.
pub fn verify_backup(dir: impl AsRef<Path>, id: u32) -> Result<()> {
    Ok(engine(dir.as_ref())?.verify_backup(id)?)
}

/// Restores backup `id` (or the latest) into `target`, which must not hold an open database.
pub fn restore_backup(
    dir: impl AsRef<Path>,
    id: Option<u32>,
    target: impl AsRef<Path>,
) -> Result<()> {
    let mut e = engine(dir.as_ref())?;
    let opts = RestoreOptions::default();
    let target = target.as_ref();
    match id {
        Some(id) => e.restore_from_backup(target, target, &opts, id)?,
        None => e.restore_from_latest_backup(target, target, &opts)?,
    }
    Ok(())
}

/// Deletes all but the newest `keep` backups (and files no other backup uses).
pub fn purge_backups(dir: impl AsRef<Path>, keep: usize) -> Result<()> {
    Ok(engine(dir.as_ref())?.purge_old_backups(keep)?)
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
    pub fn catch_up(&self) -> Result<()> {
        Ok(self.inner.storage.rocks().try_catch_up_with_primary()?)
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

    /// Takes an incremental backup into `dir` (created if needed): files
    /// already in an earlier backup there are not copied again. Memtables are
    /// flushed first, so the backup holds every committed write.
    pub fn create_backup(&self, dir: impl AsRef<Path>) -> Result<BackupInfo> {
        let mut e = engine(dir.as_ref())?;
        e.create_new_backup_flush(self.inner.storage.rocks(), true)?;
        e.get_backup_info()
            .into_iter()
            .map(info)
            .max_by_key(|b| b.id)
            .ok_or_else(|| Error::Inconsistent("the new backup is not listed".into()))
    }

    /// Writes a checkpoint (a consistent, openable copy made of hard links
    /// where possible) into `dir`, which must not exist.
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        Checkpoint::new(self.inner.storage.rocks())?.create_checkpoint(dir)?;
        Ok(())
    }

    /// Whether a task is in a state that still needs work.
    pub fn has_pending_tasks(&self) -> Result<bool> {
        Ok(self
            .tasks()?
            .iter()
            .any(|t| matches!(t.record.state, TaskState::Pending | TaskState::InProgress)))
    }
}
