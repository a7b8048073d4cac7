//! # Layer 5: administration
//!
//! Owns: operator functions (raw key access for inspection tools, backend
//! properties, forced reindexing, requeueing failed tasks), backups and
//! checkpoints (`backup`), and the invariant check (`verify`).
//!
//! May call: `catalog`, `index`, `read`, `kv`, and `build` (to queue tasks).

use rockhold_format::{Family, IndexId, Key, MetaKey, Record, TaskKey, TaskRecord, TaskState};

use crate::catalog::ddl::{now_ms, put_counter};
use crate::catalog::{take_task_revision, Catalog, Change as CatalogChange, ClassEntry};
use crate::db::{Db, Inner};
use crate::error::{Error, Result};
use crate::kv::{KeyRange, Space, WriteBatch};

pub(crate) mod backup;
pub(crate) mod migrate;
pub(crate) mod repair;
pub(crate) mod verify;

/// Puts a new `Pending` task for each of `fields` of a class into `batch`
/// (with the advanced task-revision counter); returns the class entry to
/// put in the catalog once the batch has committed.
fn queue_tasks(
    cat: &mut Catalog,
    batch: &mut WriteBatch,
    entry: &ClassEntry,
    fields: Vec<IndexId>,
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
                index: f,
            }
            .encode(),
            &task.encode(),
        );
        updated.tasks.insert(f, task);
    }
    put_counter(
        batch,
        MetaKey::NextTaskRevision,
        cat.counters.next_task_revision,
    );
    Ok(updated)
}

/// Queues a new `Pending` task for each of the fields of each class, in one
/// synced batch, publishes the catalog and wakes the runner; returns how
/// many tasks it queued.
fn requeue(
    inner: &Inner,
    mut cat: CatalogChange<'_>,
    work: Vec<(ClassEntry, Vec<IndexId>)>,
) -> Result<usize> {
    let mut batch = WriteBatch::new();
    let mut count = 0;
    for (entry, fields) in work {
        count += fields.len();
        let updated = queue_tasks(&mut cat, &mut batch, &entry, fields)?;
        cat.put_class(updated);
    }
    cat.commit(&*inner.kv, &batch, true)?;
    inner.metrics.refresh_task_states(&cat);
    drop(cat);
    inner.runner.notify();
    Ok(count)
}

impl Db {
    /// For a read-only database: reads what the primary has written since.
    /// Like the open, the view moves to a consistent cut of the primary's
    /// state; `ViewNotConsistent` if the primary kept changing its files
    /// through every try (retry later).
    pub fn catch_up(&self) -> Result<()> {
        // Only a follower has a primary to catch up with: a no-op elsewhere.
        if let Some(follower) = self.inner.kv.follower() {
            follower.catch_up()?;
        }
        // The primary's writes reach a follower here, not through its
        // commits: nothing cached before is trusted after.
        self.inner.unique_cache.clear();
        self.inner.class_cache.clear();
        Ok(())
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
        let kv = self.inner.kv.latest();
        if family == Family::Generation {
            // One marker in every column family.
            for space in Space::ALL {
                let key = rockhold_format::GenerationKey { cf: space.tag() }.encode();
                if let Some(v) = kv.get(space, &key)? {
                    if key.starts_with(prefix) && !f(&key, &v) {
                        break;
                    }
                }
            }
            return Ok(());
        }
        kv.scan(Space::of(family), KeyRange::prefix(prefix), &mut |k, v| {
            Ok(f(k, v))
        })
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
        self.inner.writable()?;
        self.inner
            .kv
            .maintenance()
            .ok_or(Error::Unsupported {
                what: "compaction on this storage backend",
            })?
            .compact()
    }

    /// A RocksDB integer property (e.g. `rocksdb.estimate-num-keys`,
    /// `rocksdb.total-sst-files-size`) of the column family holding
    /// `family`; `None` where the backend does not know it (in memory,
    /// only `rocksdb.estimate-num-keys`, exact).
    pub fn rocksdb_property(&self, family: Family, name: &str) -> Result<Option<u64>> {
        match self.inner.kv.maintenance() {
            Some(m) => m.property(Space::of(family), name),
            None => Ok(None),
        }
    }

    /// Rebuilds an index (or every index of the class, `field = None`) with a
    /// new `Pending` task: the runner backfills it and removes stale entries.
    /// The index answers `IndexNotReady` until the task is `Done`.
    pub fn reindex(&self, namespace: &str, class: &str, index: Option<&str>) -> Result<()> {
        self.inner.writable()?;
        let inner = &self.inner;
        let cat = inner.catalog.change();
        let entry: ClassEntry = (**cat.class(namespace, class)?).clone();
        let fields: Vec<IndexId> = match index {
            Some(name) => vec![entry.index_named(name)?.id],
            None => entry.def.indexes.iter().map(|i| i.id).collect(),
        };
        requeue(inner, cat, vec![(entry, fields)]).map(drop)
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
        let cat = inner.catalog.change();
        let failed: Vec<(ClassEntry, Vec<IndexId>)> = cat
            .all_classes()
            .filter_map(|c| {
                let mut fields: Vec<IndexId> = c
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
        requeue(inner, cat, failed)
    }

    /// Whether a task is in a state that still needs work.
    pub fn has_pending_tasks(&self) -> Result<bool> {
        Ok(self
            .tasks()?
            .iter()
            .any(|t| matches!(t.record.state, TaskState::Pending | TaskState::InProgress)))
    }
}
