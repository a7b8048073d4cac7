//! # The catalog
//!
//! Owns: namespaces, classes (their definitions, field lookups) and the
//! state of every index build, as immutable versions. A version is loaded at
//! open; each change (DDL, a task's state) commits its batch and publishes
//! a new version in one step ([`Change::commit`]).
//!
//! Who waits for whom:
//! - **readers never wait**: they load the current version (an atomic
//!   pointer, `arc-swap`), and keep it as long as they read;
//! - **object writers** pin the version ([`CatalogCell::pin`]): the commit
//!   gate, shared, held from the catalog load until their batch has
//!   committed, so a class never changes under a write in flight;
//! - **catalog changes** and the final step of a bulk index build hold the
//!   gate exclusively: they wait for the writers in flight, and writers
//!   wait for them. Nobody else does.
//!
//! `schema` is the pure schema rule (specs, validation, values, paths).
//!
//! May call: `kv` (to load and to commit), `error`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rockhold_format::{
    ClassDef, ClassId, ClassKey, Family, FieldDef, FieldId, IndexDef, IndexId, Key, MetaKey,
    MetaValue, NameEntry, NameKey, NameKind, NamespaceId, Record, TaskKey, TaskRecord, TaskState,
};

use arc_swap::ArcSwap;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Error, Result};
use crate::kv::{KeyRange, Kv, KvRead, Space, WriteBatch};

pub(crate) mod schema;

/// The current catalog version, and the gate that orders object writers
/// and catalog changes (see the module documentation).
pub(crate) struct CatalogCell {
    current: ArcSwap<Catalog>,
    gate: RwLock<()>,
    /// Odd while a change is between writing its batch and publishing its
    /// version: a snapshot taken then could pair new data with the old
    /// catalog, so [`CatalogCell::consistent`] waits it out.
    publishing: std::sync::atomic::AtomicU64,
}

/// A catalog version pinned for a write: no change can commit until it drops.
pub(crate) struct Pinned<'a> {
    _gate: RwLockReadGuard<'a, ()>,
    catalog: Arc<Catalog>,
}

impl std::ops::Deref for Pinned<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        &self.catalog
    }
}

/// Every writer held off: the current version, with no object write in
/// flight and none starting until it drops.
pub(crate) struct Exclusive<'a> {
    _gate: RwLockWriteGuard<'a, ()>,
    catalog: Arc<Catalog>,
}

impl std::ops::Deref for Exclusive<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        &self.catalog
    }
}

/// A catalog change in progress: a draft of the next version, writers held
/// off. [`Change::commit`] writes a batch and publishes the draft; a change
/// dropped without committing leaves the catalog as it was.
pub(crate) struct Change<'a> {
    cell: &'a CatalogCell,
    _gate: RwLockWriteGuard<'a, ()>,
    /// The next version: shared with the cell until the first edit, which
    /// copies it (`Arc::make_mut`); a change that edits nothing copies
    /// nothing, and a commit publishes the draft without copying it.
    draft: Arc<Catalog>,
}

impl std::ops::Deref for Change<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        &self.draft
    }
}

impl std::ops::DerefMut for Change<'_> {
    fn deref_mut(&mut self) -> &mut Catalog {
        Arc::make_mut(&mut self.draft)
    }
}

/// What a committed catalog change asks of the database's shared state,
/// found by comparing the published version with the one it replaced;
/// the database applies it once (`BuildCtx::apply`).
#[must_use = "a catalog change's effects must be applied"]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Effects {
    /// A class definition changed or went: the lookup caches may answer
    /// from the old one.
    pub clear_caches: bool,
    /// A task record changed: the task-state gauges are out of date.
    pub refresh_metrics: bool,
    /// A task became runnable: the runner should look.
    pub notify_runner: bool,
}

impl Effects {
    /// Both effects together.
    pub fn and(self, other: Effects) -> Effects {
        Effects {
            clear_caches: self.clear_caches || other.clear_caches,
            refresh_metrics: self.refresh_metrics || other.refresh_metrics,
            notify_runner: self.notify_runner || other.notify_runner,
        }
    }

    /// What replacing `old` by `new` asks for.
    fn between(old: &Catalog, new: &Catalog) -> Effects {
        let mut fx = Effects {
            clear_caches: old.namespaces.len() > new.namespaces.len(),
            ..Effects::default()
        };
        for (id, entry) in &new.by_id {
            let before = old.by_id.get(id);
            if before.is_some_and(|b| Arc::ptr_eq(b, entry)) {
                continue;
            }
            let runnable =
                |t: &TaskRecord| matches!(t.state, TaskState::Pending | TaskState::InProgress);
            match before {
                Some(b) => {
                    fx.clear_caches |= b.def != entry.def;
                    fx.refresh_metrics |= b.tasks != entry.tasks;
                    fx.notify_runner |= (b.provisional() && !entry.provisional())
                        || entry
                            .tasks
                            .iter()
                            .any(|(index, t)| runnable(t) && b.tasks.get(index) != Some(t));
                }
                None => {
                    fx.refresh_metrics |= !entry.tasks.is_empty();
                    fx.notify_runner |= entry.tasks.values().any(runnable);
                }
            }
        }
        if old.by_id.keys().any(|id| !new.by_id.contains_key(id)) {
            fx.clear_caches = true;
            fx.refresh_metrics = true;
        }
        fx
    }
}

impl Change<'_> {
    /// Writes `batch` (the persisted form of the draft's changes, and any
    /// object data that must commit with them) and, once it has committed,
    /// publishes the draft as the current version; returns the effects the
    /// database must apply. On a write error nothing is published. Every
    /// catalog change commits here or through `commit_progress`.
    ///
    /// **The sync rule**, in this one place: a catalog change is synced
    /// before it returns (a definition, a queued task: what a caller was
    /// told is done survives a crash), except two, which commit through
    /// their own door: a task run's own bookkeeping (`commit_progress`,
    /// never synced), and an ingest's provisional class written with the
    /// object that made it (`commit_with_objects`, synced as the object
    /// writes are: `Options::sync_writes`; a crash loses both or neither).
    pub fn commit(&mut self, kv: &dyn Kv, batch: &WriteBatch) -> Result<Effects> {
        self.write(kv, batch, true)
    }

    /// Commits a catalog change written in one batch with objects, synced
    /// as object writes are (`sync_objects`, the caller's
    /// `Options::sync_writes`). See `commit`.
    pub fn commit_with_objects(
        &mut self,
        kv: &dyn Kv,
        batch: &WriteBatch,
        sync_objects: bool,
    ) -> Result<Effects> {
        self.write(kv, batch, sync_objects)
    }

    /// Commits a task run's state and progress, unsynced: a crash may roll
    /// the task back to an earlier state, from which it resumes (at worst
    /// rebuilding a chunk again). See `commit`.
    pub fn commit_progress(&mut self, kv: &dyn Kv, batch: &WriteBatch) -> Result<Effects> {
        self.write(kv, batch, false)
    }

    fn write(&mut self, kv: &dyn Kv, batch: &WriteBatch, sync: bool) -> Result<Effects> {
        use std::sync::atomic::Ordering::SeqCst;
        let old = self.cell.load();
        self.cell.publishing.fetch_add(1, SeqCst);
        let written = kv.write(batch, sync);
        if written.is_ok() {
            self.cell.current.store(self.draft.clone());
        }
        self.cell.publishing.fetch_add(1, SeqCst);
        written.map(|()| Effects::between(&old, &self.draft))
    }

    /// Queues a `Pending` task building `index` of the class (or the
    /// whole class, `IndexId::WHOLE_CLASS`) at a fresh revision, replacing
    /// any task of that index: its record and the revision counter go into
    /// `batch`, and `tasks` (the class's tasks as they will be published)
    /// gets it. The one place a task is queued.
    pub fn queue_task(
        &mut self,
        batch: &mut WriteBatch,
        ns: NamespaceId,
        class: ClassId,
        index: IndexId,
        tasks: &mut HashMap<IndexId, TaskRecord>,
        now_ms: u64,
    ) -> Result<()> {
        let task = TaskRecord::pending(0, now_ms);
        self.put_revised(batch, (ns, class, index), tasks, task)
    }

    /// Marks the task of `index` `Remove` at a fresh revision (its index
    /// is gone; the runner deletes what a build left), as `queue_task`
    /// writes it. Nothing when the index has no task.
    pub fn retire_task(
        &mut self,
        batch: &mut WriteBatch,
        ns: NamespaceId,
        class: ClassId,
        index: IndexId,
        tasks: &mut HashMap<IndexId, TaskRecord>,
        now_ms: u64,
    ) -> Result<()> {
        let Some(mut task) = tasks.get(&index).cloned() else {
            return Ok(());
        };
        task.state = TaskState::Remove;
        task.updated_at_ms = now_ms;
        self.put_revised(batch, (ns, class, index), tasks, task)
    }

    /// Gives `task` the next task revision and puts it, with the advanced
    /// counter, into `batch` and `tasks`.
    fn put_revised(
        &mut self,
        batch: &mut WriteBatch,
        (ns, class, index): (NamespaceId, ClassId, IndexId),
        tasks: &mut HashMap<IndexId, TaskRecord>,
        mut task: TaskRecord,
    ) -> Result<()> {
        task.revision = take_task_revision(&mut self.counters.next_task_revision)?;
        put_counter(
            batch,
            MetaKey::NextTaskRevision,
            self.counters.next_task_revision,
        );
        put_task(batch, ns, class, index, &task);
        tasks.insert(index, task);
        Ok(())
    }
}

/// Puts the record of the task of `index` into `batch`.
pub(crate) fn put_task(
    batch: &mut WriteBatch,
    ns: NamespaceId,
    class: ClassId,
    index: IndexId,
    task: &TaskRecord,
) {
    batch.put(
        Family::Task,
        &TaskKey { ns, class, index }.encode(),
        &task.encode(),
    );
}

/// The clock task records are stamped with: milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Puts a catalog counter into `batch`.
pub(crate) fn put_counter(batch: &mut WriteBatch, key: MetaKey, value: u64) {
    batch.put(
        Family::Meta,
        &key.encode(),
        &MetaValue::Counter(value).encode(),
    );
}

impl CatalogCell {
    pub fn new(catalog: Catalog) -> CatalogCell {
        CatalogCell {
            current: ArcSwap::from_pointee(catalog),
            gate: RwLock::new(()),
            publishing: Default::default(),
        }
    }

    /// The current version, without waiting for anyone.
    pub fn load(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// The current version for a short read (no reference count touched:
    /// cheaper than `load` on the hot path; do not hold it across a wait).
    pub fn peek(&self) -> arc_swap::Guard<Arc<Catalog>> {
        self.current.load()
    }

    /// The current version, pinned until the caller's batch has committed.
    pub fn pin(&self) -> Pinned<'_> {
        let gate = self.gate.read();
        Pinned {
            _gate: gate,
            catalog: self.load(),
        }
    }

    /// The current version with every writer held off.
    pub fn exclusive(&self) -> Exclusive<'_> {
        let gate = self.gate.write();
        Exclusive {
            _gate: gate,
            catalog: self.load(),
        }
    }

    /// Starts a change: writers are held off until it drops.
    pub fn change(&self) -> Change<'_> {
        let gate = self.gate.write();
        Change {
            cell: self,
            _gate: gate,
            draft: self.load(),
        }
    }

    /// The current version together with what `take` reads (a storage
    /// snapshot), such that the version describes exactly that data: no
    /// change was between writing its batch and publishing its version
    /// meanwhile. Waits only for such a window, never for writers.
    pub fn consistent<T>(&self, mut take: impl FnMut() -> T) -> (Arc<Catalog>, T) {
        use std::sync::atomic::Ordering::SeqCst;
        let mut spin = 0u32;
        loop {
            let before = self.publishing.load(SeqCst);
            if before.is_multiple_of(2) {
                let catalog = self.load();
                let taken = take();
                if self.publishing.load(SeqCst) == before {
                    return (catalog, taken);
                }
            }
            // A change's window includes a synced write: after a few spins,
            // sleep instead of burning a core through the fsync.
            if spin < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            spin = spin.saturating_add(1);
        }
    }
}

/// A class as the engine sees it: its definition and the build state of its indexes.
#[derive(Debug, Clone)]
pub(crate) struct ClassEntry {
    pub ns: NamespaceId,
    pub def: ClassDef,
    /// Latest task per index (and `WHOLE_CLASS`); absent means never reindexed.
    pub tasks: HashMap<IndexId, TaskRecord>,
}

impl ClassEntry {
    /// The state a query on index `index` must respect: `None` when the
    /// index is ready (no task, or its task is `Done`).
    pub fn not_ready(&self, index: IndexId) -> Option<TaskState> {
        [index, IndexId::WHOLE_CLASS]
            .iter()
            .filter_map(|f| self.tasks.get(f))
            .map(|t| t.state)
            .find(|s| {
                matches!(
                    s,
                    TaskState::Pending | TaskState::InProgress | TaskState::Failed
                )
            })
    }

    /// Made by ingest, waiting for its real definition.
    pub fn provisional(&self) -> bool {
        self.def.provisional
    }

    pub fn field_named(&self, name: &str) -> Result<&FieldDef> {
        self.def.field(name).ok_or_else(|| Error::UnknownField {
            class: self.def.name.clone(),
            field: name.to_string(),
        })
    }

    /// The index named `name`.
    pub fn index_named(&self, name: &str) -> Result<&IndexDef> {
        self.def.index(name).ok_or_else(|| Error::UnknownIndex {
            class: self.def.name.clone(),
            index: name.to_string(),
        })
    }
}

/// A class version's fields by name and by id, built once when the version
/// enters the catalog, so that the write path finds each of N fields in
/// constant time (a linear `ClassDef::field` per field made writing every
/// field of a wide class quadratic).
#[derive(Debug, Default)]
pub(crate) struct FieldLookup {
    by_name: HashMap<String, usize>,
    by_id: HashMap<FieldId, usize>,
}

impl FieldLookup {
    fn of(def: &ClassDef) -> Self {
        FieldLookup {
            by_name: def
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.clone(), i))
                .collect(),
            by_id: def
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.id, i))
                .collect(),
        }
    }

    /// The field of `def` named `name`; `def` is the version this lookup was built from.
    pub fn field<'d>(&self, def: &'d ClassDef, name: &str) -> Option<&'d FieldDef> {
        self.by_name.get(name).and_then(|i| def.fields.get(*i))
    }

    /// The field of `def` with id `id`.
    pub fn field_by_id<'d>(&self, def: &'d ClassDef, id: FieldId) -> Option<&'d FieldDef> {
        self.by_id.get(&id).and_then(|i| def.fields.get(*i))
    }

    /// Whether `def` has a field with id `id`.
    pub fn has_id(&self, id: FieldId) -> bool {
        self.by_id.contains_key(&id)
    }
}

/// How a caller names a class: by namespace and class name, resolved
/// against the catalog version in use (the dynamic API, on every call), or
/// by the ids a handle resolved once (`Collection`, `Class`), with the
/// class's name for errors.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ClassAt<'a> {
    Named(&'a str, &'a str),
    Id(&'a ClassIds),
}

/// A class as a handle resolved it once: its namespace's and its own ids,
/// with its name for errors. The one type that names a class by ids, in
/// every layer. Ids are never reused, so a handle whose class
/// is dropped fails (`UnknownClass`) instead of writing into another.
#[derive(Clone, Debug)]
pub(crate) struct ClassIds {
    pub ns: NamespaceId,
    pub class: ClassId,
    pub name: Cow<'static, str>,
}

impl ClassIds {
    /// The ids of `entry`'s class, named `name` in errors.
    pub fn of(entry: &ClassEntry, name: impl Into<Cow<'static, str>>) -> Self {
        ClassIds {
            ns: entry.ns,
            class: entry.def.id,
            name: name.into(),
        }
    }

    pub fn at(&self) -> ClassAt<'_> {
        ClassAt::Id(self)
    }
}

/// Ids handed out by catalog changes; persisted in meta with every change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CatalogCounters {
    pub next_namespace: u64,
    pub next_class: u64,
    pub next_task_revision: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    namespaces: BTreeMap<String, NamespaceId>,
    ns_names: HashMap<NamespaceId, String>,
    /// Classes by namespace, then name (looked up by `&str`, no allocation).
    classes: HashMap<NamespaceId, HashMap<String, Arc<ClassEntry>>>,
    by_id: HashMap<ClassId, Arc<ClassEntry>>,
    /// The field lookup of every class in `by_id`, for its current version.
    lookups: HashMap<ClassId, Arc<FieldLookup>>,
    pub counters: CatalogCounters,
}

pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// Hands out the task revision `*next` and advances it (checked: a counter
/// read from disk at `u64::MAX` is `CounterExhausted`, `*next` unchanged).
pub(crate) fn take_task_revision(next: &mut u64) -> Result<u64> {
    let rev = *next;
    *next =
        rockhold_format::next_counter("meta.next_task_revision", rev).map_err(Error::counter)?;
    Ok(rev)
}

fn read_counter(kv: &dyn KvRead, key: MetaKey) -> Result<Option<u64>> {
    let k = key.encode();
    match kv.get(Space::Catalog, &k)? {
        None => Ok(None),
        Some(v) => match MetaValue::decode(&v).map_err(|e| Error::corruption(&k, e))? {
            MetaValue::Counter(c) => Ok(Some(c)),
            other => Err(Error::Inconsistent(format!(
                "meta {} holds {other:?}",
                key.name()
            ))),
        },
    }
}

pub(crate) fn read_counter_or(kv: &dyn KvRead, key: MetaKey, default: u64) -> Result<u64> {
    Ok(read_counter(kv, key)?.unwrap_or(default))
}

impl Catalog {
    /// Loads names, classes and tasks from storage.
    /// `lenient` skips records that do not decode instead of failing: a
    /// read-only open for inspection, where `verify` reports them.
    pub fn load(kv: &dyn KvRead, lenient: bool) -> Result<Catalog> {
        let tolerate = |r: Result<()>| match r {
            Err(Error::Corruption { .. } | Error::Inconsistent(_)) if lenient => Ok(()),
            other => other,
        };
        let mut cat = Catalog {
            namespaces: BTreeMap::new(),
            ns_names: HashMap::new(),
            classes: HashMap::new(),
            by_id: HashMap::new(),
            lookups: HashMap::new(),
            counters: CatalogCounters {
                next_namespace: read_counter_or(kv, MetaKey::NextNamespaceId, 1)?,
                next_class: read_counter_or(kv, MetaKey::NextClassId, 1)?,
                next_task_revision: read_counter_or(kv, MetaKey::NextTaskRevision, 1)?,
            },
        };
        let ns_prefix = NameKey::scope_prefix(NameKind::Namespace, 0);
        for_each_in(kv, rockhold_format::Family::Name, &ns_prefix, |k, v| {
            tolerate((|| {
                let key = NameKey::decode(k).map_err(|e| Error::corruption(k, e))?;
                let entry = NameEntry::decode(v).map_err(|e| Error::corruption(k, e))?;
                cat.namespaces
                    .insert(key.name.clone(), NamespaceId(entry.id));
                cat.ns_names.insert(NamespaceId(entry.id), key.name);
                Ok(())
            })())
        })?;
        let mut tasks: HashMap<ClassId, HashMap<IndexId, TaskRecord>> = HashMap::new();
        for_each_in(
            kv,
            rockhold_format::Family::Task,
            rockhold_format::TASK_PREFIX,
            |k, v| {
                tolerate((|| {
                    let key = TaskKey::decode(k).map_err(|e| Error::corruption(k, e))?;
                    let task = TaskRecord::decode(v).map_err(|e| Error::corruption(k, e))?;
                    tasks.entry(key.class).or_default().insert(key.index, task);
                    Ok(())
                })())
            },
        )?;
        for_each_in(
            kv,
            rockhold_format::Family::Class,
            rockhold_format::CLASS_PREFIX,
            |k, v| {
                tolerate((|| {
                    let key = ClassKey::decode(k).map_err(|e| Error::corruption(k, e))?;
                    let def = ClassDef::decode(v).map_err(|e| Error::corruption(k, e))?;
                    if def.id != key.class {
                        return Err(Error::Inconsistent(format!(
                            "class record under id {} says id {}",
                            key.class, def.id
                        )));
                    }
                    let entry = ClassEntry {
                        ns: key.ns,
                        tasks: tasks.remove(&def.id).unwrap_or_default(),
                        def,
                    };
                    cat.put_class(entry);
                    Ok(())
                })())
            },
        )?;
        Ok(cat)
    }

    pub fn namespace_id(&self, name: &str) -> Result<NamespaceId> {
        self.namespaces
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownNamespace {
                namespace: name.to_string(),
            })
    }

    pub fn namespace_name(&self, id: NamespaceId) -> &str {
        self.ns_names.get(&id).map_or("?", String::as_str)
    }

    pub fn namespaces(&self) -> impl Iterator<Item = (&String, &NamespaceId)> {
        self.namespaces.iter()
    }

    pub fn class(&self, ns: &str, class: &str) -> Result<&Arc<ClassEntry>> {
        let ns_id = self.namespace_id(ns)?;
        self.class_in(ns_id, class)
            .ok_or_else(|| Error::UnknownClass {
                namespace: ns.to_string(),
                class: class.to_string(),
            })
    }

    pub fn class_in(&self, ns: NamespaceId, class: &str) -> Option<&Arc<ClassEntry>> {
        self.classes.get(&ns)?.get(class)
    }

    pub fn class_by_id(&self, id: ClassId) -> Option<&Arc<ClassEntry>> {
        self.by_id.get(&id)
    }

    /// The class `at` names. A class named by id that is gone (dropped,
    /// even if one of the same name was created since: ids are never
    /// reused) is `UnknownClass` with the name the handle knew.
    pub fn class_at(&self, at: ClassAt<'_>) -> Result<&Arc<ClassEntry>> {
        match at {
            ClassAt::Named(ns, class) => self.class(ns, class),
            ClassAt::Id(ids) => self
                .by_id
                .get(&ids.class)
                .filter(|c| c.ns == ids.ns)
                .ok_or_else(|| Error::UnknownClass {
                    namespace: self.namespace_name(ids.ns).to_string(),
                    class: ids.name.to_string(),
                }),
        }
    }

    /// The class of a stored record of object `id` in namespace `ns`;
    /// `Inconsistent` when the catalog has no such class there.
    pub fn class_of_record(
        &self,
        ns: NamespaceId,
        id: rockhold_format::ObjectId,
        class: ClassId,
    ) -> Result<&Arc<ClassEntry>> {
        self.by_id
            .get(&class)
            .filter(|c| c.ns == ns)
            .ok_or_else(|| Error::Inconsistent(format!("object {id} has unknown class id {class}")))
    }

    pub fn classes_of(&self, ns: NamespaceId) -> Vec<Arc<ClassEntry>> {
        let mut out: Vec<_> = self
            .by_id
            .values()
            .filter(|c| c.ns == ns)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.def.name.cmp(&b.def.name));
        out
    }

    pub fn all_classes(&self) -> impl Iterator<Item = &Arc<ClassEntry>> {
        self.by_id.values()
    }

    pub fn put_namespace(&mut self, name: String, id: NamespaceId) {
        self.ns_names.insert(id, name.clone());
        self.namespaces.insert(name, id);
    }

    pub fn remove_namespace(&mut self, id: NamespaceId) {
        if let Some(name) = self.ns_names.remove(&id) {
            self.namespaces.remove(&name);
        }
        self.classes.remove(&id);
        self.by_id.retain(|_, c| c.ns != id);
        let by_id = &self.by_id;
        self.lookups.retain(|class, _| by_id.contains_key(class));
    }

    /// The field lookup of a class's current version.
    pub fn field_lookup(&self, class: ClassId) -> Arc<FieldLookup> {
        self.lookups.get(&class).cloned().unwrap_or_default()
    }

    pub fn put_class(&mut self, entry: ClassEntry) {
        let entry = Arc::new(entry);
        self.classes
            .entry(entry.ns)
            .or_default()
            .insert(entry.def.name.clone(), entry.clone());
        self.lookups
            .insert(entry.def.id, Arc::new(FieldLookup::of(&entry.def)));
        self.by_id.insert(entry.def.id, entry);
    }
}

/// Calls `f` on every (key, value) of `family` under `prefix`.
pub(crate) fn for_each_in(
    kv: &dyn KvRead,
    family: rockhold_format::Family,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
) -> Result<()> {
    kv.scan(Space::of(family), KeyRange::prefix(prefix), &mut |k, v| {
        f(k, v).map(|()| true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemStore;
    use rockhold_format::Family;

    fn cell(kv: &dyn Kv) -> CatalogCell {
        CatalogCell::new(Catalog::load(kv.latest(), false).expect("load"))
    }

    fn class(id: u32, revision: u64) -> ClassEntry {
        ClassEntry {
            ns: NamespaceId(1),
            def: ClassDef {
                id: ClassId(id),
                name: format!("c{id}"),
                revision,
                next_field_id: 1,
                next_index_id: 2,
                fields: Vec::new(),
                indexes: Vec::new(),
                provisional: false,
            },
            tasks: HashMap::new(),
        }
    }

    /// The effects a change reports come from comparing the versions: the
    /// facade relies on them to clear the caches, refresh the gauges and
    /// wake the runner (each flag checked to fail when its comparison is
    /// removed from `Effects::between`).
    #[test]
    fn a_commit_reports_what_its_new_version_asks_for() {
        let store = MemStore::new();
        let kv = store.open().expect("open");
        let cell = cell(&kv);
        let batch = WriteBatch::new();
        let commit = |edit: &dyn Fn(&mut Change<'_>)| {
            let mut change = cell.change();
            edit(&mut change);
            change.commit(&kv, &batch).expect("commit")
        };
        let nothing = Effects::default();
        assert_eq!(
            commit(&|c| c.put_namespace("n".into(), NamespaceId(1))),
            nothing
        );
        assert_eq!(commit(&|c| c.put_class(class(1, 1))), nothing);
        assert_eq!(commit(&|_| {}), nothing);
        // A definition changed: the caches may answer from the old one.
        let changed = commit(&|c| c.put_class(class(1, 2)));
        assert!(changed.clear_caches && !changed.refresh_metrics && !changed.notify_runner);
        // A task queued: gauges and runner, not the caches.
        let queued = commit(&|c| {
            let mut entry = class(1, 2);
            let mut b = WriteBatch::new();
            c.queue_task(
                &mut b,
                entry.ns,
                entry.def.id,
                IndexId(1),
                &mut entry.tasks,
                0,
            )
            .expect("queue");
            c.put_class(entry);
        });
        assert_eq!(
            queued,
            Effects {
                clear_caches: false,
                refresh_metrics: true,
                notify_runner: true
            }
        );
        // The task done: gauges only.
        let done = commit(&|c| {
            let mut entry = (**c.class_by_id(ClassId(1)).expect("class")).clone();
            for t in entry.tasks.values_mut() {
                t.state = TaskState::Done;
            }
            c.put_class(entry);
        });
        assert_eq!(
            done,
            Effects {
                clear_caches: false,
                refresh_metrics: true,
                notify_runner: false
            }
        );
        // A namespace and its classes gone: everything cached about them.
        let dropped = commit(&|c| c.remove_namespace(NamespaceId(1)));
        assert!(dropped.clear_caches && dropped.refresh_metrics);
    }

    #[test]
    fn readers_load_while_a_change_holds_writers_off() {
        let store = MemStore::new();
        let kv = store.open().expect("open");
        let cell = cell(&kv);
        let change = cell.change();
        std::thread::scope(|s| {
            // Would block forever if loading took the gate.
            let reader = s.spawn(|| cell.load().namespaces().count());
            assert_eq!(reader.join().expect("reader"), 0);
        });
        drop(change);
        drop(cell.pin()); // the gate is free again
    }

    #[test]
    fn a_change_is_published_only_by_a_successful_commit() {
        let store = crate::kv::faults::FaultyStore::default();
        let kv = store.open().expect("open");
        let cell = cell(&kv);
        let mut batch = WriteBatch::new();
        batch.put(Family::Meta, b"Mx", b"");
        {
            let mut change = cell.change();
            change.put_namespace("dropped".into(), NamespaceId(7));
        }
        assert!(
            cell.load().namespace_id("dropped").is_err(),
            "not committed"
        );
        store.fail_after(0);
        {
            let mut change = cell.change();
            change.put_namespace("failed".into(), NamespaceId(8));
            assert!(change.commit(&kv, &batch).is_err());
        }
        assert!(cell.load().namespace_id("failed").is_err(), "write failed");
        store.clear_failure();
        let mut change = cell.change();
        change.put_namespace("kept".into(), NamespaceId(9));
        let _published = change.commit(&kv, &batch).expect("commit");
        drop(change);
        assert_eq!(
            cell.load().namespace_id("kept").expect("published"),
            NamespaceId(9)
        );
        let (catalog, ()) = cell.consistent(|| ());
        assert!(catalog.namespace_id("kept").is_ok());
    }
}
