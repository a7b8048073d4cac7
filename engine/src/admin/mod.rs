//! # Administration
//!
//! Owns: operator functions (raw key access for inspection tools, backend
//! properties, forced reindexing, requeueing failed tasks), backups and
//! checkpoints (`backup`), and the invariant check (`verify`).
//!
//! May call: `build` (its context, tasks), `read`, `index`, `catalog`, `kv`,
//! `options`, `error`.

use rockhold_format::{Family, IndexId, Key, TaskState};

use crate::build::BuildCtx;
use crate::catalog::{now_ms, Change as CatalogChange, ClassEntry, Effects};
use crate::error::{Error, Result};
use crate::kv::{KeyRange, Space, WriteBatch};

pub(crate) mod backup;
pub(crate) mod migrate;
pub(crate) mod repair;
pub(crate) mod verify;

/// Queues a new `Pending` task for each of the indexes of each class, in
/// one catalog change; returns how many tasks it queued.
fn requeue(
    cx: &BuildCtx,
    fx: &mut Effects,
    mut cat: CatalogChange<'_>,
    work: Vec<(ClassEntry, Vec<IndexId>)>,
) -> Result<usize> {
    let mut batch = WriteBatch::new();
    let mut count = 0;
    for (mut entry, indexes) in work {
        count += indexes.len();
        for index in indexes {
            let (ns, class) = (entry.ns, entry.def.id);
            cat.queue_task(&mut batch, ns, class, index, &mut entry.tasks, now_ms())?;
        }
        cat.put_class(entry);
    }
    *fx = fx.and(cat.commit(&*cx.kv, &batch)?);
    Ok(count)
}

impl BuildCtx {
    /// For a read-only database: reads what the primary has written since.
    pub(crate) fn catch_up(&self) -> Result<()> {
        // Only a follower has a primary to catch up with: a no-op elsewhere.
        if let Some(follower) = self.kv.follower() {
            follower.catch_up()?;
        }
        // The primary's writes reach a follower here, not through its
        // commits: nothing cached before is trusted after.
        self.unique_cache.clear();
        self.class_cache.clear();
        Ok(())
    }

    /// Calls `f` on every raw (key, value) of a family whose key starts with
    /// `prefix`, in key order, until it returns `false`. For inspection
    /// tools; decode with `rockhold-format`.
    pub(crate) fn raw_scan(
        &self,
        family: Family,
        prefix: &[u8],
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        let kv = self.kv.latest();
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
    pub(crate) fn compact(&self) -> Result<()> {
        self.writable()?;
        self.kv
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
    pub(crate) fn rocksdb_property(&self, family: Family, name: &str) -> Result<Option<u64>> {
        match self.kv.maintenance() {
            Some(m) => m.property(Space::of(family), name),
            None => Ok(None),
        }
    }

    /// Rebuilds an index (or every index of the class, `field = None`) with a
    /// new `Pending` task: the runner backfills it and removes stale entries.
    pub(crate) fn reindex(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        index: Option<&str>,
    ) -> Result<()> {
        self.writable()?;
        let cat = self.catalog.change();
        let entry: ClassEntry = (**cat.class(namespace, class)?).clone();
        let fields: Vec<IndexId> = match index {
            Some(name) => vec![entry.index_named(name)?.id],
            None => entry.def.indexes.iter().map(|i| i.id).collect(),
        };
        requeue(self, fx, cat, vec![(entry, fields)]).map(drop)
    }

    /// Requeues every `Failed` reindex task: each gets a new `Pending`
    /// task (new revision, attempts and cursor reset) that the runner, or
    /// [`Db::check_reindex_tasks`](crate::Db::check_reindex_tasks), builds from the start, as
    /// [`Db::reindex`](crate::Db::reindex) would. For an index whose build failed on duplicates
    /// or an over-long value once the data is fixed, or on errors (a full
    /// disk) once their cause is gone. Returns how many tasks it requeued.
    pub(crate) fn retry_failed_tasks(&self, fx: &mut Effects) -> Result<usize> {
        self.writable()?;
        let cat = self.catalog.change();
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
        requeue(self, fx, cat, failed)
    }

    /// Whether a task is in a state that still needs work.
    pub(crate) fn has_pending_tasks(&self) -> Result<bool> {
        Ok(self
            .tasks()?
            .iter()
            .any(|t| matches!(t.record.state, TaskState::Pending | TaskState::InProgress)))
    }
}
