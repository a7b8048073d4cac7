//! Reindex tasks: how one task is executed.
//!
//! A task builds one index (or every index of a class, for
//! `IndexId::WHOLE_CLASS`). It is claimed and marked `InProgress`, then:
//! 1. **backfill**: the class's record keys are read from a snapshot in
//!    chunks; for each chunk, under the write path's locks (objects, then
//!    unique values), each object's *current* record is read, its entries
//!    planned (`index::plan`) and its unique tuples checked and merged into
//!    their point keys (`index::unique`), and the chunk's entries commit in
//!    one WriteBatch together with
//!    the task's cursor, so a crash resumes after the last finished chunk;
//! 2. **stale pass**: every entry of the index is checked against its object
//!    under the same locks, and only entries that do not match are deleted;
//! 3. `Done`: the index answers queries.
//!
//! Duplicates under a unique index end the task `Failed` with the conflicting
//! ids. Other errors are retried with exponential backoff up to
//! `max_attempts`. A newer revision of the task (a later class change)
//! supersedes a running one: every chunk checks the revision on the catalog
//! version it pins (like a commit) before it commits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use rockhold_format::{
    ClassId, Family, HashKey, IndexDef, IndexId, IndexKind, Key, NamespaceId, ObjectId, ObjectKey,
    OrderedKey, TaskRecord, TaskState,
};

use crate::build::bulk::build_by_ingest;
use crate::build::BuildCtx;
use crate::catalog::{now_ms, put_task, Catalog, Change as CatalogChange, ClassEntry};
use crate::error::{Error, Result};
use crate::index::entries::{entry_id, index_keys};
use crate::index::plan::unique_stripes;
use crate::index::plan::{plan, Change, Scope};
use crate::index::unique::{encode_point_value, write_plan, Held};
use crate::index::unique::{point_writes_with, Conflicts};
use crate::kv::{KeyRange, Space, WriteBatch};
use crate::read::View;

/// Identifies a task: the class and the index (or `WHOLE_CLASS`).
pub(crate) type TaskId = (ClassId, IndexId);

/// How a run ended, short of an error.
#[derive(Debug)]
pub(crate) enum Outcome {
    Done,
    Conflict(Vec<ObjectId>),
    Superseded,
    Shutdown,
    /// A value the index cannot hold (over the ordered-key limit): the
    /// message names the object and the field.
    Unindexable(String),
}

/// How long a task whose attempt ran out of disk space waits before the
/// runner tries it again: `retry_backoff`, at least this.
const STORAGE_FULL_MIN_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// Ends a claimed task `Failed` with `reason` (a task whose attempt counter
/// cannot advance, or whose run panicked), unless a newer revision replaced
/// it meanwhile.
pub(crate) fn fail_task(cx: &BuildCtx, id: TaskId, reason: String) -> Result<()> {
    let (class_id, index) = id;
    let mut cat = cx.catalog.change();
    let Some(entry) = cat.class_by_id(class_id).cloned() else {
        return Ok(());
    };
    let Some(mut task) = entry.tasks.get(&index).cloned() else {
        return Ok(());
    };
    if !matches!(task.state, TaskState::Pending | TaskState::InProgress) {
        return Ok(());
    }
    task.state = TaskState::Failed;
    task.last_error = Some(reason);
    task.updated_at_ms = now_ms();
    store_task(cx, &mut cat, &entry, index, task)?;
    drop(cat);
    cx.metrics.reindex_runs.with_label_values(&["failed"]).inc();
    Ok(())
}

/// Whether an unclaimed task may run now.
pub(crate) fn is_runnable(
    class: &ClassEntry,
    task: &TaskRecord,
    now: u64,
    ignore_backoff: bool,
) -> bool {
    matches!(task.state, TaskState::Pending | TaskState::InProgress)
        && !class.provisional()
        && (ignore_backoff || task.not_before_ms <= now)
}

/// Persists a task record and publishes it in the catalog change `cat`.
fn store_task(
    cx: &BuildCtx,
    cat: &mut CatalogChange<'_>,
    entry: &ClassEntry,
    index: IndexId,
    task: TaskRecord,
) -> Result<()> {
    let mut batch = WriteBatch::new();
    put_task(&mut batch, entry.ns, entry.def.id, index, &task);
    let mut updated = entry.clone();
    updated.tasks.insert(index, task);
    cat.put_class(updated);
    let fx = cat.commit_progress(&*cx.kv, &batch)?;
    cx.apply(fx);
    Ok(())
}

/// Runs one claimed task to its next resting state. `Ok(Some(e))`: the
/// attempt failed with `e`, which is recorded in the task (retry, or
/// `Failed`); `Err`: the task record itself could not be written.
pub(crate) fn run_task(cx: &BuildCtx, id: TaskId) -> Result<Option<Error>> {
    let (class_id, index) = id;
    let started = Instant::now();
    let (mut task, revision) = {
        let mut cat = cx.catalog.change();
        let Some(entry) = cat.class_by_id(class_id).cloned() else {
            return Ok(None);
        };
        let Some(task) = entry.tasks.get(&index).cloned() else {
            return Ok(None);
        };
        if !matches!(task.state, TaskState::Pending | TaskState::InProgress) {
            return Ok(None);
        }
        let mut task = task;
        if let Err(e) = task.begin_attempt() {
            // A checksum-valid record at u32::MAX attempts: no attempt can
            // be counted, so none is made.
            let e = Error::counter(e);
            drop(cat);
            fail_task(cx, id, e.to_string())?;
            return Ok(Some(e));
        }
        task.state = TaskState::InProgress;
        task.updated_at_ms = now_ms();
        let revision = task.revision;
        store_task(cx, &mut cat, &entry, index, task.clone())?;
        (task, revision)
    };
    let guard = Guard::Task(id, revision);
    // A task sorts and ingests (build/bulk.rs) unless it was already
    // backfilling chunk by chunk (it has a cursor) or its entries are too
    // many for the memory budget.
    let bulk = if task.cursor.is_none() && cx.opts.bulk_build_memory > 0 {
        build_by_ingest(cx, guard, &mut task)
    } else {
        Ok(None)
    };
    let result = match bulk {
        Ok(Some(outcome)) => Ok(outcome),
        Err(e) => Err(e),
        Ok(None) => backfill(cx, guard, Some(&mut task)).and_then(|(outcome, _)| match outcome {
            Outcome::Done => remove_stale(cx, guard).map(|(outcome, removed)| {
                task.stale_removed = task.stale_removed.saturating_add(removed);
                outcome
            }),
            other => Ok(other),
        }),
    };
    let mut cat = cx.catalog.change();
    let Some(entry) = cat.class_by_id(class_id).cloned() else {
        return Ok(None);
    };
    if entry.tasks.get(&index).map(|t| t.revision) != Some(revision) {
        return Ok(None); // superseded while running: the newer task owns the record
    }
    let kind = match &result {
        Ok(Outcome::Done) => {
            task.state = TaskState::Done;
            task.last_error = None;
            task.conflicts.clear();
            "done"
        }
        Ok(Outcome::Conflict(ids)) => {
            task.state = TaskState::Failed;
            task.conflicts = ids.clone();
            task.last_error = Some(format!(
                "duplicate values under a unique index: objects {ids:?}"
            ));
            "conflict"
        }
        Ok(Outcome::Unindexable(reason)) => {
            task.state = TaskState::Failed;
            task.last_error = Some(reason.clone());
            "unindexable"
        }
        Ok(Outcome::Superseded) | Ok(Outcome::Shutdown) => return Ok(None),
        Err(e) if e.is_storage_full() => {
            // Out of disk space is not the task's fault: the attempt is not
            // counted (a brief disk-full must not spend every attempt), and
            // the runner tries again after the backoff, for as long as it lasts.
            task.attempts = task.attempts.saturating_sub(1);
            let backoff = cx.opts.retry_backoff.max(STORAGE_FULL_MIN_BACKOFF);
            task.state = TaskState::Pending;
            task.last_error = Some(e.to_string());
            task.not_before_ms = now_ms().saturating_add(backoff.as_millis() as u64);
            "storage_full"
        }
        Err(e) if task.attempts >= cx.opts.max_attempts => {
            task.state = TaskState::Failed;
            task.last_error = Some(e.to_string());
            "failed"
        }
        Err(e) => {
            let backoff = cx
                .opts
                .retry_backoff
                .saturating_mul(1 << (task.attempts - 1).min(16));
            task.state = TaskState::Pending;
            task.last_error = Some(e.to_string());
            task.not_before_ms = now_ms().saturating_add(backoff.as_millis() as u64);
            "retry"
        }
    };
    task.updated_at_ms = now_ms();
    store_task(cx, &mut cat, &entry, index, task)?;
    drop(cat);
    let attempt_error = result.err();
    if kind == "done" {
        cx.unique_cache.clear();
    }
    cx.metrics.reindex_runs.with_label_values(&[kind]).inc();
    cx.metrics
        .reindex_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(attempt_error)
}

/// The indexes a task builds, as the class defines them now.
pub(crate) fn indexes_of(entry: &ClassEntry, index: IndexId) -> Vec<IndexDef> {
    entry
        .def
        .indexes
        .iter()
        .filter(|i| index == IndexId::WHOLE_CLASS || i.id == index)
        .cloned()
        .collect()
}

/// What must still hold for a pass to go on writing: checked on the pinned
/// catalog version before every chunk commits.
#[derive(Clone, Copy)]
pub(crate) enum Guard {
    /// A task run: the task still has this revision.
    Task(TaskId, u64),
    /// A self-check of a built index: the index still exists and is ready.
    Ready(TaskId),
}

impl Guard {
    pub(crate) fn id(self) -> TaskId {
        match self {
            Guard::Task(id, _) | Guard::Ready(id) => id,
        }
    }

    /// The class entry while the guard holds; `None` once it does not.
    pub(crate) fn entry(self, cat: &Catalog) -> Option<Arc<ClassEntry>> {
        let (class, index) = self.id();
        let entry = cat.class_by_id(class)?;
        let holds = match self {
            Guard::Task(_, revision) => {
                entry.tasks.get(&index).map(|t| t.revision) == Some(revision)
            }
            Guard::Ready(_) => {
                entry.def.index_by_id(index).is_some() && entry.not_ready(index).is_none()
            }
        };
        holds.then(|| entry.clone())
    }
}

/// Writes the entries of every object of the class, chunk by chunk. With a
/// task, each chunk also persists the task's cursor and the pass resumes from
/// it; without one (self-check), the pass starts at the beginning, writes only
/// missing entries and returns how many it wrote.
fn backfill(
    cx: &BuildCtx,
    guard: Guard,
    mut task: Option<&mut TaskRecord>,
) -> Result<(Outcome, u64)> {
    let id = guard.id();
    let ns = match guard.entry(&cx.catalog.peek()) {
        Some(e) => e.ns,
        None => return Ok((Outcome::Superseded, 0)),
    };
    let mut cursor = task.as_ref().and_then(|t| t.cursor);
    let mut repaired = 0u64;
    let snapshot = cx.kv.snapshot();
    loop {
        if cx.shutting_down() {
            return Ok((Outcome::Shutdown, repaired));
        }
        // The next chunk of object ids, from the snapshot's record keys.
        let first = match cursor {
            None => ObjectId(0),
            Some(c) => match c.0.checked_add(1) {
                Some(n) => ObjectId(n),
                None => break,
            },
        };
        let (lower, upper) = crate::read::class_range(ns, id.0, first, None);
        let mut it = snapshot.iter(Space::Objects, KeyRange::new(&lower, upper))?;
        it.seek_to_first();
        let mut ids = Vec::with_capacity(cx.opts.reindex_chunk);
        while let Some(key) = it.key() {
            ids.push(ObjectKey::id_of(key).map_err(|e| Error::corruption(key, e))?);
            if ids.len() == cx.opts.reindex_chunk {
                break;
            }
            it.next();
        }
        it.status()?;
        drop(it);
        let Some(&last) = ids.last() else { break };

        let cat = cx.catalog.pin();
        let Some(entry) = guard.entry(&cat) else {
            return Ok((Outcome::Superseded, repaired));
        };
        let indexes = indexes_of(&entry, id.1);
        // A repair writes into a ready index: ordered against range
        // validations like every commit (see index/locks.rs).
        let _ranges = cx.locks.ranges(false);
        let _objects = cx.locks.lock_objects(ids.iter().map(|i| (ns, *i)));
        let view = View::latest(cx);
        let mut records = Vec::with_capacity(ids.len());
        for oid in &ids {
            if let Some(rec) = view.record_in(ns, id.0, *oid)? {
                records.push((*oid, rec));
            }
        }
        // Every record as new: its entries are put (again), and its unique
        // tuples claimed against the holders the index already has.
        let plan = match plan(
            &cx.seed,
            records.iter().map(|(oid, rec)| Change {
                ns,
                id: *oid,
                class: &entry.def,
                before: None,
                after: Some(rec),
            }),
            Scope::Indexes(&indexes),
        ) {
            Ok(plan) => plan,
            Err(r) => {
                return Ok((
                    Outcome::Unindexable(format!("object {}: {}", r.id, r.error)),
                    repaired,
                ))
            }
        };
        let _values = cx.locks.lock_values(unique_stripes(&cx.seed, &plan));
        let mut conflicts = Conflicts::default();
        let points = point_writes_with(&plan, &mut view.stored(), &mut conflicts)?;
        if !conflicts.is_empty() {
            return Ok((Outcome::Conflict(conflicts.objects()), repaired));
        }
        let mut batch = WriteBatch::new();
        let mut added = 0u64;
        if task.is_none() {
            // A self-check writes only what is missing.
            for (family, key) in &plan.put {
                if !view.exists(*family, key)? {
                    batch.put(*family, key, &[]);
                    added += 1;
                }
            }
            write_plan(&mut batch, &Default::default(), &points);
            added += points.iter().filter(|p| !p.tuples_only).count() as u64;
        } else {
            write_plan(&mut batch, &plan, &points);
            added += (plan.put.len() + points.len()) as u64;
        }
        cursor = Some(last);
        match task.as_deref_mut() {
            Some(task) => {
                task.cursor = cursor;
                task.entries_added = task.entries_added.saturating_add(added);
                task.updated_at_ms = now_ms();
                // Progress rides with the chunk's entries; the catalog
                // learns it at the task's next state change.
                put_task(&mut batch, ns, id.0, id.1, task);
                cx.metrics.reindex_entries.inc_by(added);
            }
            None => repaired += added,
        }
        if !batch.is_empty() {
            cx.kv.write(&batch, false)?;
        }
        if ids.len() < cx.opts.reindex_chunk {
            break;
        }
    }
    Ok((Outcome::Done, repaired))
}

/// Deletes index entries that point at missing objects or at values their
/// objects no longer hold, and takes such objects off unique point keys,
/// one chunk at a time, under the object locks (and the point keys'
/// stripes). Returns how many entries it removed or rewrote.
fn remove_stale(cx: &BuildCtx, guard: Guard) -> Result<(Outcome, u64)> {
    let id = guard.id();
    let (ns, indexes) = match guard.entry(&cx.catalog.peek()) {
        Some(e) => (e.ns, indexes_of(&e, id.1)),
        None => return Ok((Outcome::Superseded, 0)),
    };
    let mut total = 0;
    for index in indexes {
        let (family, prefix) = match index.kind {
            IndexKind::Hash { .. } => (Family::Hash, HashKey::index_prefix(ns, id.0, index.id)),
            IndexKind::Ordered { .. } => (
                Family::Ordered,
                OrderedKey::index_prefix(ns, id.0, index.id),
            ),
        };
        let mut lower = prefix.clone();
        loop {
            if cx.shutting_down() {
                return Ok((Outcome::Shutdown, total));
            }
            let mut it = cx.kv.latest().iter(
                Space::of(family),
                KeyRange::new(&lower, rockhold_format::prefix_successor(&prefix)),
            )?;
            it.seek_to_first();
            let mut keys = Vec::new();
            while let Some(key) = it.key() {
                keys.push(key.to_vec());
                if keys.len() == cx.opts.reindex_chunk {
                    break;
                }
                it.next();
            }
            it.status()?;
            drop(it);
            let Some(last) = keys.last().cloned() else {
                break;
            };
            let removed = remove_stale_chunk(cx, guard, ns, &index, family, &keys)?;
            let Some(removed) = removed else {
                return Ok((Outcome::Superseded, total));
            };
            total += removed;
            if keys.len() < cx.opts.reindex_chunk {
                break;
            }
            lower = last;
            lower.push(0);
        }
    }
    Ok((Outcome::Done, total))
}

fn remove_stale_chunk(
    cx: &BuildCtx,
    guard: Guard,
    ns: NamespaceId,
    index: &IndexDef,
    family: Family,
    keys: &[Vec<u8>],
) -> Result<Option<u64>> {
    let cat = cx.catalog.pin();
    let Some(entry) = guard.entry(&cat) else {
        return Ok(None);
    };
    let head = HashKey::index_prefix(ns, entry.def.id, index.id).len();
    // Each key's objects: the id suffix of an entry, the holders of a point key.
    let mut owners: Vec<Vec<ObjectId>> = Vec::with_capacity(keys.len());
    {
        let view = View::latest(cx);
        for k in keys {
            owners.push(if index.is_unique() {
                view.point_holders(family, k)?
                    .into_iter()
                    .map(|h| h.id)
                    .collect()
            } else {
                let id = entry_id(k).filter(|_| k.len() > head + 8).ok_or_else(|| {
                    Error::corruption(k, rockhold_format::Error::Truncated { what: "index key" })
                })?;
                vec![id]
            });
        }
    }
    let _ranges = cx.locks.ranges(false);
    let _objects = cx
        .locks
        .lock_objects(owners.iter().flatten().map(|o| (ns, *o)));
    // A point key's stripe is that of its tuples' hash (see txn::unique_stripes).
    let stripe = |k: &[u8]| -> u64 {
        match family {
            Family::Hash => HashKey::decode(k).map_or(0, |h| h.hash),
            _ => cx.seed.hash_bytes(&k[head.min(k.len())..]),
        }
    };
    let _values = index.is_unique().then(|| {
        cx.locks
            .lock_values(keys.iter().map(|k| (entry.def.id, index.id, stripe(k))))
    });
    let view = View::latest(cx);
    let mut batch = WriteBatch::new();
    let mut removed = 0;
    // Each owner's implied keys, computed once per chunk (its lock is held
    // to the end of the chunk): a list of L elements owns L entries, and
    // reading and expanding its record once per entry was quadratic in L.
    let mut implied_of: HashMap<ObjectId, Vec<Vec<u8>>> = HashMap::new();
    for (key, owned) in keys.iter().zip(owners) {
        // Read again under the locks: the point key may have changed.
        let holders: Vec<Held> = if index.is_unique() {
            view.point_holders(family, key)?
        } else {
            owned
                .into_iter()
                .map(|id| Held { id, tuple: None })
                .collect()
        };
        let mut kept = Vec::with_capacity(holders.len());
        for held in &holders {
            let oid = &held.id;
            let implied = match implied_of.entry(*oid) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(match view.record_in(ns, entry.def.id, *oid)? {
                        Some(rec) => index_keys(&cx.seed, ns, &entry.def, index, &rec, *oid),
                        None => Vec::new(),
                    })
                }
            };
            if implied.binary_search(key).is_ok() {
                kept.push(held.clone());
            }
        }
        if kept.len() != holders.len() {
            removed += 1;
            if kept.is_empty() || !index.is_unique() {
                batch.delete(family, key);
            } else {
                let mut value = Vec::new();
                encode_point_value(&kept, &mut value);
                batch.put(family, key, &value);
            }
        }
    }
    if removed > 0 {
        cx.kv.write(&batch, false)?;
        cx.metrics.reindex_stale.inc_by(removed);
    }
    Ok(Some(removed))
}

/// Re-verifies one built index: writes missing entries and removes stale
/// ones, returning how many it repaired.
pub(crate) fn repair_index(cx: &BuildCtx, id: TaskId) -> Result<u64> {
    let guard = Guard::Ready(id);
    let (_, added) = backfill(cx, guard, None)?;
    let (_, removed) = remove_stale(cx, guard)?;
    Ok(added + removed)
}
