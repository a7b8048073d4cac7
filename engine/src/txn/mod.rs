//! # The write path
//!
//! Owns: the write path's context (`WriteCtx`: the read context plus the
//! locks, the id allocator (`ids`), the change feed and the build log),
//! `Transaction` and every object write (insert, update, delete, ingest)
//! in one place, `Transaction::commit`; the DDL operations (`ddl`) and
//! ingest of objects before their class (`ingest`). The commit sequence:
//! 1. pin the catalog version (the gate, shared, held to the end);
//! 2. lock the stripes of the objects it updates or deletes, then read
//!    their committed records;
//! 3. apply the operations in order to the objects' final states;
//! 4. ask `index::plan` for the entries to delete and put and the unique
//!    tuples held and given up; lock the stripes of their point keys;
//! 5. apply the uniqueness rule (`index::unique::point_writes`) within the
//!    batch and against the committed holders, which also gives the point
//!    keys' new holders;
//! 6. log the objects for a bulk build in progress, open the caches'
//!    invalidation, write the one batch (records and index entries) through
//!    the change feed (`feed`: it publishes the commit's changes after the
//!    write, while a watch exists), close the invalidation; release
//!    everything.
//!
//! May call: `feed`, `read` (committed records and holders), `index`,
//! `catalog`, `kv`, `error`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rockhold_format::{
    ClassDef, ClassId, FieldDef, FieldId, NamespaceId, ObjectId, ObjectKey, ObjectRecord, Record,
    Value,
};

use crate::catalog::schema::{canonical_value, check_field_value};
pub(crate) use crate::catalog::ClassIds;
use crate::catalog::{Catalog, CatalogCell, ClassAt, ClassEntry, FieldLookup};
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::feed::{ChangeData, ChangeKind};
use crate::index::build_log::BuildLog;
use crate::index::entries::ValueHasher;
use crate::index::locks::LockTable;
use crate::index::plan::{plan, unique_stripes, Change, Plan, Scope};
use crate::index::unique::{point_writes, write_plan};
use crate::kv::WriteBatch;
use crate::read::{ReadCtx, UniqueCacheKey, View};

pub(crate) mod ddl;
mod ids;
pub(crate) mod ingest;
mod reads;

pub(crate) use ids::IdAllocator;

/// What the write path needs beyond a read's context, owned once by the
/// database: the striped locks, the id allocator, the change feed and the
/// log of writes a bulk build repairs. Derefs to the read context.
pub(crate) struct WriteCtx {
    pub read: ReadCtx,
    pub locks: LockTable,
    pub ids: IdAllocator,
    pub feed: Arc<Feed>,
    pub builds: BuildLog,
}

impl std::ops::Deref for WriteCtx {
    type Target = ReadCtx;
    fn deref(&self) -> &ReadCtx {
        &self.read
    }
}

impl WriteCtx {
    /// Hands out a fresh object id (see `IdAllocator::allocate`).
    pub fn allocate_object_id(&self) -> Result<ObjectId> {
        self.writable()?;
        self.ids.allocate(&*self.kv)
    }

    /// Makes sure `id` and every id below it are never handed out.
    pub fn reserve_ids_through(&self, id: ObjectId) -> Result<()> {
        self.writable()?;
        self.ids.reserve_through(&*self.kv, id)
    }

    /// Whether a commit fsyncs by default (`Options::sync_writes`).
    pub fn sync_default(&self) -> bool {
        self.opts.sync_writes
    }

    /// Starts a transaction.
    pub fn begin(&self) -> Transaction<'_> {
        Transaction {
            cx: self,
            ops: Vec::new(),
            sync: None,
            reads: None,
        }
    }

    /// Runs `f` in a read-write transaction and commits it, running `f`
    /// again on a conflict (see `Db::write`).
    pub fn write<R>(&self, mut f: impl FnMut(&mut Transaction<'_>) -> Result<R>) -> Result<R> {
        let attempts = self.opts.write_attempts;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.begin();
            let out = f(&mut tx).and_then(|r| tx.commit().map(|()| r));
            match out {
                Err(e @ Error::Conflict { .. }) => {
                    if attempt >= attempts {
                        return Err(Error::ConflictRetriesExhausted {
                            attempts: attempt,
                            last: Box::new(e),
                        });
                    }
                    self.metrics.write_conflicts.inc();
                    std::thread::sleep(backoff(attempt));
                }
                other => return other,
            }
        }
    }

    /// Runs `f` on a new transaction and commits it: one blind write
    /// (no reads to validate, nothing retried).
    pub fn commit_one<R>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<R>) -> Result<R> {
        let mut tx = self.begin();
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Writes an object received from elsewhere under its own id, creating
    /// or replacing it, through the ordinary write path (for a class whose
    /// definition is known).
    pub fn put_object(
        &self,
        namespace: &str,
        class: &str,
        id: ObjectId,
        fields: Vec<(String, Value)>,
    ) -> Result<()> {
        self.reserve_ids_through(id)?;
        let mut tx = self.begin();
        tx.ops.push(Op::Put {
            class: ClassOf::Named {
                ns: namespace.to_string(),
                class: class.to_string(),
            },
            id,
            fields: FieldValues::Named(fields),
        });
        tx.commit()
    }
}

use reads::ReadState;

/// The class an insert (or ingest) creates an object of.
enum ClassOf {
    /// By name, resolved at commit (the dynamic API).
    Named { ns: String, class: String },
    /// As a handle resolved it.
    Ids(ClassIds),
}

impl ClassOf {
    fn at(&self) -> ClassAt<'_> {
        match self {
            ClassOf::Named { ns, class } => ClassAt::Named(ns, class),
            ClassOf::Ids(ids) => ids.at(),
        }
    }
}

/// The object an update or delete names.
enum At {
    /// An object of any class, its namespace by name (the dynamic API).
    Ns(String),
    /// An object that must be of the handle's class (else `ClassMismatch`).
    Class(ClassIds),
}

impl At {
    fn ns(&self, cat: &Catalog) -> Result<NamespaceId> {
        match self {
            At::Ns(ns) => cat.namespace_id(ns),
            At::Class(ids) => Ok(ids.ns),
        }
    }

    fn namespace<'c>(&'c self, cat: &'c Catalog) -> &'c str {
        match self {
            At::Ns(ns) => ns,
            At::Class(ids) => cat.namespace_name(ids.ns),
        }
    }
}

/// The values an operation sets: by field name (the dynamic API, looked
/// up at commit), or by field id (the typed API, whose serializer looked
/// each name up once, in the class version it keeps for naming a field
/// dropped since). Field ids are never reused.
pub(crate) enum FieldValues {
    Named(Vec<(String, Value)>),
    Ids(Vec<(FieldId, Value)>, Arc<ClassEntry>),
}

enum Op {
    Insert {
        class: ClassOf,
        id: ObjectId,
        fields: FieldValues,
    },
    Update {
        at: At,
        id: ObjectId,
        fields: FieldValues,
    },
    Delete {
        at: At,
        id: ObjectId,
    },
    /// Ingest: the whole object under a given id, created or replaced.
    Put {
        class: ClassOf,
        id: ObjectId,
        fields: FieldValues,
    },
}

/// A group of inserts, updates and deletes that commit together in one
/// WriteBatch, or not at all. Operations apply in order: a later operation
/// sees the effect of an earlier one on the same object.
#[must_use = "a transaction does nothing until it is committed"]
pub struct Transaction<'db> {
    cx: &'db WriteCtx,
    ops: Vec<Op>,
    sync: Option<bool>,
    /// Set by the first read (see `reads`).
    reads: Option<Box<ReadState<'db>>>,
}

/// Named values as the dynamic API takes them.
pub(crate) fn collect_fields<I, K, V>(fields: I) -> FieldValues
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<Value>,
{
    FieldValues::Named(
        fields
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
    )
}

/// An object touched by the batch: its committed and its final state.
struct Touched {
    class: Arc<ClassEntry>,
    original: Option<ObjectRecord>,
    current: Option<ObjectRecord>,
}

impl<'db> Transaction<'db> {
    /// Adds an insert; returns the id the object will have once committed.
    /// The id is taken now and never reused, even if the commit fails.
    pub fn insert<I, K, V>(&mut self, namespace: &str, class: &str, fields: I) -> Result<ObjectId>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        let class = ClassOf::Named {
            ns: namespace.to_string(),
            class: class.to_string(),
        };
        self.push_insert(class, collect_fields(fields))
    }

    fn push_insert(&mut self, class: ClassOf, fields: FieldValues) -> Result<ObjectId> {
        let id = self.cx.allocate_object_id()?;
        self.ops.push(Op::Insert { class, id, fields });
        Ok(id)
    }

    /// Adds an insert of an object of the handle's class.
    pub(crate) fn insert_in(&mut self, class: ClassIds, fields: FieldValues) -> Result<ObjectId> {
        self.push_insert(ClassOf::Ids(class), fields)
    }

    /// Adds an update of object `id`, which must be of the handle's class.
    pub(crate) fn update_in(&mut self, class: ClassIds, id: ObjectId, fields: FieldValues) {
        self.ops.push(Op::Update {
            at: At::Class(class),
            id,
            fields,
        });
    }

    /// Adds a delete of object `id`, which must be of the handle's class.
    pub(crate) fn delete_in(&mut self, class: ClassIds, id: ObjectId) {
        self.ops.push(Op::Delete {
            at: At::Class(class),
            id,
        });
    }

    /// Adds a partial update: the given fields get the given values
    /// (`Value::Absent` clears an optional field); other fields keep theirs.
    pub fn update<I, K, V>(&mut self, namespace: &str, id: ObjectId, fields: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        self.ops.push(Op::Update {
            at: At::Ns(namespace.to_string()),
            id,
            fields: collect_fields(fields),
        });
    }

    /// Adds a delete of the object and all its index entries.
    pub fn delete(&mut self, namespace: &str, id: ObjectId) {
        self.ops.push(Op::Delete {
            at: At::Ns(namespace.to_string()),
            id,
        });
    }

    /// The catalog this transaction's database keeps.
    pub(crate) fn catalog(&self) -> &'db CatalogCell {
        &self.cx.catalog
    }

    /// Whether this commit fsyncs the WAL (default: the database's option).
    pub fn sync(&mut self, sync: bool) -> &mut Self {
        self.sync = Some(sync);
        self
    }

    /// Number of operations added so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no operation was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Validates, checks unique constraints and writes everything in one
    /// batch. On any error nothing is written.
    pub fn commit(self) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let cx = self.cx;
        cx.writable()?;
        let cat = cx.catalog.pin();
        let view = View::latest(cx);
        let state = self.reads.as_deref();
        let reads = state.map(|r| &r.set);
        // Exclusive for a transaction that read ranges, shared for every
        // other commit: no write lands between a range validation and its
        // write.
        let _range_lock = cx.locks.ranges(state.is_some_and(|r| r.reads_ranges()));

        // Objects that are updated or deleted are locked before they are
        // read; so are the objects the transaction read.
        let mut objects: Vec<(NamespaceId, ObjectId)> = reads
            .iter()
            .flat_map(|r| r.objects.keys().copied())
            .collect();
        for op in &self.ops {
            match op {
                Op::Update { at, id, .. } | Op::Delete { at, id } => {
                    objects.push((at.ns(&cat)?, *id));
                }
                Op::Put { class, id, .. } => objects.push((cat.class_at(class.at())?.ns, *id)),
                Op::Insert { .. } => {}
            }
        }
        let _object_locks = cx.locks.lock_objects(objects);
        // The objects read are checked before any operation applies: one
        // deleted since is a conflict (retried), not `UnknownObject`.
        if let Some(reads) = reads {
            reads.validate_objects(cx.kv.latest())?;
        }

        let planned = (|| -> Result<BTreeMap<(NamespaceId, ObjectId), Touched>> {
            let mut touched: BTreeMap<(NamespaceId, ObjectId), Touched> = BTreeMap::new();
            for op in &self.ops {
                apply(&cat, &view, &mut touched, op)?;
            }
            Ok(touched)
        })();
        // A commit that fails while one of its reads changed is a conflict:
        // its operations were chosen from what it read.
        let stale = |e: Error| match state {
            Some(st) => match st.validate(cx.kv.latest()) {
                Err(conflict @ Error::Conflict { .. }) => conflict,
                _ => e,
            },
            None => e,
        };
        let touched = planned.map_err(stale)?;
        let plan = plan_touched(&cx.seed, &touched).map_err(stale)?;

        // Unique point keys the batch rewrites are locked before they are read.
        let _value_locks = cx.locks.lock_values(
            unique_stripes(&cx.seed, &plan).chain(reads.iter().flat_map(|r| r.stripes())),
        );
        // Under every lock: what the transaction read is still so.
        // (The objects read were checked under their locks, still held.)
        if let Some(st) = state {
            st.validate_indexes(cx.kv.latest())?;
        }
        let points = point_writes(&plan, &mut view.stored()).inspect_err(|e| {
            if matches!(e, Error::UniqueViolation { .. }) {
                cx.metrics.unique_violations.inc();
            }
        })?;

        let mut batch = WriteBatch::reused();
        write_plan(&mut batch, &plan, &points);
        // From here to the write no watch starts; watched, the commit lists its changes.
        let feed = cx.feed.enter();
        let mut changes = Vec::new();
        let watched = feed.active();
        let Written {
            inserts,
            updates,
            deleted,
        } = write_records(&mut batch, &touched, |ns, id, t, kind, bytes| {
            if watched {
                changes.push(change(&cat, ns, id, &t.class, kind, bytes));
            }
        })?;
        let deletes = deleted.len() as u64;
        let invalidate: Vec<UniqueCacheKey> = plan.released_keys();
        let ops = batch.len();
        // A bulk index build reading these classes from a snapshot repairs
        // what this commit changes (see build/bulk.rs).
        cx.builds
            .record(touched.iter().map(|((_, id), t)| (t.class.def.id, *id)));
        // Caches are invalidated around the commit, under the locks, and
        // the objects stamped before and after it (see read/cache.rs).
        let unique_inv = cx.unique_cache.begin_invalidation(invalidate);
        let class_inv = cx.class_cache.begin_invalidation(deleted);
        let writing = cx.stamps.writing(touched.keys().copied());
        let sync = self.sync.unwrap_or_else(|| cx.sync_default());
        let written = feed.publish(changes, || cx.kv.write(&batch, sync));
        drop((writing, unique_inv, class_inv));
        written?;
        batch.recycle();
        let m = &cx.metrics;
        m.writes.inc();
        m.batch_ops.observe(ops as f64);
        m.inserted.inc_by(inserts);
        m.updated.inc_by(updates);
        m.deleted.inc_by(deletes);
        Ok(())
    }
}

/// The index changes of the touched objects (every writer of records
/// plans them here: the commit, and a transaction's overlay).
fn plan_touched<'t>(
    seed: &'t ValueHasher,
    touched: &'t BTreeMap<(NamespaceId, ObjectId), Touched>,
) -> Result<Plan<'t>> {
    Ok(plan(
        seed,
        touched.iter().map(|((ns, id), t)| Change {
            ns: *ns,
            id: *id,
            class: &t.class.def,
            before: t.original.as_ref(),
            after: t.current.as_ref(),
        }),
        Scope::Record,
    )?)
}

/// Puts the touched objects' records into `batch` (or their deletes);
/// returns the numbers of inserts and updates, and the objects deleted.
/// `changed` sees each change with the new record's bytes (for the feed).
fn write_records(
    batch: &mut WriteBatch,
    touched: &BTreeMap<(NamespaceId, ObjectId), Touched>,
    mut changed: impl FnMut(NamespaceId, ObjectId, &Touched, ChangeKind, Option<Vec<u8>>),
) -> Result<Written> {
    let mut deleted = Vec::new();
    let (mut inserts, mut updates) = (0u64, 0u64);
    for ((ns, id), t) in touched {
        let key = ObjectKey {
            ns: *ns,
            class: t.class.def.id,
            id: *id,
        };
        match (&t.original, &t.current) {
            (_, Some(rec)) => {
                let bytes = encode_record(&t.class.def, rec)?;
                batch.put_object(&key, &bytes, t.original.is_none());
                let kind = if t.original.is_some() {
                    updates += 1;
                    ChangeKind::Update
                } else {
                    inserts += 1;
                    ChangeKind::Insert
                };
                changed(*ns, *id, t, kind, Some(bytes));
            }
            (Some(_), None) => {
                batch.delete_object(&key);
                deleted.push((*ns, *id));
                changed(*ns, *id, t, ChangeKind::Delete, None);
            }
            (None, None) => {}
        }
    }
    Ok(Written {
        inserts,
        updates,
        deleted,
    })
}

/// What `write_records` put into a batch.
struct Written {
    inserts: u64,
    updates: u64,
    deleted: Vec<(NamespaceId, ObjectId)>,
}

/// An object's change as the feed holds it.
fn change(
    cat: &Catalog,
    ns: NamespaceId,
    id: ObjectId,
    class: &Arc<ClassEntry>,
    kind: ChangeKind,
    record: Option<Vec<u8>>,
) -> ChangeData {
    ChangeData {
        ns,
        namespace: cat.namespace_name(ns).to_string(),
        class: class.clone(),
        id,
        kind,
        record,
    }
}

/// Applies one operation to the batch's view of the objects it touches.
fn apply(
    cat: &Catalog,
    view: &View<'_>,
    touched: &mut BTreeMap<(NamespaceId, ObjectId), Touched>,
    op: &Op,
) -> Result<()> {
    match op {
        Op::Insert { class, id, fields } => {
            let (entry, rec) = new_record(cat, class, fields)?;
            let ns_id = entry.ns;
            touched.insert(
                (ns_id, *id),
                Touched {
                    class: entry,
                    original: None,
                    current: Some(rec),
                },
            );
        }
        Op::Update { at, id, fields } => {
            let t = load(cat, view, touched, at, *id)?;
            let rec = t.current.as_mut().ok_or_else(|| Error::UnknownObject {
                namespace: at.namespace(cat).to_string(),
                id: *id,
            })?;
            set_fields(&t.class.def, &cat.field_lookup(t.class.def.id), rec, fields)?;
            check_required(&t.class.def, rec)?;
        }
        Op::Put { class, id, fields } => {
            let (entry, rec) = new_record(cat, class, fields)?;
            let key = (entry.ns, *id);
            let original = match touched.get(&key) {
                Some(t) => t.original.clone(),
                None => view.record(entry.ns, *id)?,
            };
            if let Some(o) = original.as_ref().filter(|o| o.class != entry.def.id) {
                return Err(class_mismatch(cat, *id, &entry.def.name, o.class));
            }
            touched.insert(
                key,
                Touched {
                    class: entry,
                    original,
                    current: Some(rec),
                },
            );
        }
        Op::Delete { at, id } => {
            let t = load(cat, view, touched, at, *id)?;
            if t.current.take().is_none() {
                return Err(Error::UnknownObject {
                    namespace: at.namespace(cat).to_string(),
                    id: *id,
                });
            }
        }
    }
    Ok(())
}

/// How an error names the class of an object when the class has been
/// dropped since (its name is gone; an id would name nothing).
pub(crate) const DROPPED_CLASS: &str = "(a class dropped since)";

/// Object `id` is of class `found`, not of `expected` (the class named).
pub(crate) fn class_mismatch(cat: &Catalog, id: ObjectId, expected: &str, found: ClassId) -> Error {
    Error::ClassMismatch {
        id,
        class: expected.to_string(),
        found: cat
            .class_by_id(found)
            .map_or_else(|| DROPPED_CLASS.to_owned(), |c| c.def.name.clone()),
    }
}

/// The batch's entry for an object, reading its committed record on first
/// use; an object not of the class `at` expects is `ClassMismatch`.
fn load<'t>(
    cat: &Catalog,
    view: &View<'_>,
    touched: &'t mut BTreeMap<(NamespaceId, ObjectId), Touched>,
    at: &At,
    id: ObjectId,
) -> Result<&'t mut Touched> {
    let ns_id = at.ns(cat)?;
    let t = match touched.entry((ns_id, id)) {
        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::btree_map::Entry::Vacant(e) => {
            // A class handle's object is one read; an object found
            // elsewhere is told apart (`ClassMismatch` below).
            let rec = match at {
                At::Class(ids) => match view.record_in(ns_id, ids.class, id)? {
                    Some(rec) => Some(rec),
                    None => view.record(ns_id, id)?,
                },
                _ => view.record(ns_id, id)?,
            };
            let rec = rec.ok_or_else(|| Error::UnknownObject {
                namespace: at.namespace(cat).to_string(),
                id,
            })?;
            let class = cat.class_of_record(ns_id, id, rec.class)?.clone();
            // Values of fields removed from the class are dropped on rewrite.
            let lookup = cat.field_lookup(class.def.id);
            let mut current = rec.clone();
            current.fields.retain(|(f, _)| lookup.has_id(*f));
            e.insert(Touched {
                class,
                original: Some(rec),
                current: Some(current),
            })
        }
    };
    if let At::Class(ids) = at {
        if t.class.def.id != ids.class {
            return Err(class_mismatch(cat, id, &ids.name, t.class.def.id));
        }
    }
    Ok(t)
}

/// A whole new record of `class` from the given values, validated, with
/// the class it is of.
fn new_record(
    cat: &Catalog,
    class: &ClassOf,
    fields: &FieldValues,
) -> Result<(Arc<ClassEntry>, ObjectRecord)> {
    let entry = cat.class_at(class.at())?.clone();
    let def = &entry.def;
    let mut rec = ObjectRecord {
        class: def.id,
        fields: Vec::new(),
    };
    set_fields(def, &cat.field_lookup(def.id), &mut rec, fields)?;
    check_required(def, &rec)?;
    Ok((entry, rec))
}

/// Validates the values and sets them in `rec`. Linear in the number of
/// fields given plus the record's: each name or id is found through
/// `lookup` (built once per class version), and the sorted values are
/// merged into the record's sorted field list in one pass.
fn set_fields(
    def: &ClassDef,
    lookup: &FieldLookup,
    rec: &mut ObjectRecord,
    fields: &FieldValues,
) -> Result<()> {
    let unknown = |field: String| Error::UnknownField {
        class: def.name.clone(),
        field,
    };
    let mut updates: Vec<(&FieldDef, &Value)> = Vec::new();
    match fields {
        FieldValues::Named(fields) => {
            updates.reserve(fields.len());
            for (name, value) in fields {
                let f = lookup
                    .field(def, name)
                    .ok_or_else(|| unknown(name.clone()))?;
                updates.push((f, value));
            }
        }
        FieldValues::Ids(fields, serialized) => {
            updates.reserve(fields.len());
            for (id, value) in fields {
                // A field dropped since the value was serialized: named as
                // the class version it was serialized against names it.
                let f = lookup.field_by_id(def, *id).ok_or_else(|| {
                    unknown(
                        serialized
                            .def
                            .field_by_id(*id)
                            .map_or_else(|| "(a dropped field)".to_owned(), |f| f.name.clone()),
                    )
                })?;
                updates.push((f, value));
            }
        }
    }
    for (f, value) in &updates {
        if matches!(value, Value::Absent) {
            if !f.optional {
                return Err(Error::MissingField {
                    class: def.name.clone(),
                    field: f.name.clone(),
                });
            }
        } else {
            check_field_value(def, f, value)?;
        }
    }
    updates.sort_unstable_by_key(|(f, _)| f.id);
    // A field given twice (by name or by id) is refused.
    if let Some(w) = updates.windows(2).find(|w| w[0].0.id == w[1].0.id) {
        return Err(Error::DuplicateName {
            kind: "field",
            name: w[0].0.name.clone(),
        });
    }
    let mut old = std::mem::take(&mut rec.fields).into_iter().peekable();
    let mut merged = Vec::with_capacity(old.len() + updates.len());
    for (f, value) in updates {
        while let Some(kept) = old.next_if(|(id, _)| *id < f.id) {
            merged.push(kept);
        }
        old.next_if(|(id, _)| *id == f.id); // replaced (or cleared)
        if !matches!(value, Value::Absent) {
            merged.push((f.id, canonical_value(&f.ty, value.clone())));
        }
    }
    merged.extend(old);
    rec.fields = merged;
    Ok(())
}

/// The framed record, or `ValueTooLarge` when it is over the record size
/// limit (`MAX_BODY_LEN`): every path that stores an object record
/// (insert, update, ingest) encodes it here.
pub(crate) fn encode_record(def: &ClassDef, rec: &ObjectRecord) -> Result<Vec<u8>> {
    rec.encode_checked().map_err(|e| match e {
        rockhold_format::Error::TooLarge { len, max, .. } => Error::ValueTooLarge {
            class: def.name.clone(),
            field: "(whole record)".into(),
            len: len as usize,
            max: max as usize,
        },
        other => Error::Inconsistent(format!(
            "record of class {} does not encode: {other}",
            def.name
        )),
    })
}

fn check_required(def: &ClassDef, rec: &ObjectRecord) -> Result<()> {
    match def
        .fields
        .iter()
        .find(|f| !f.optional && matches!(rec.value(f.id), Value::Absent))
    {
        Some(f) => Err(Error::MissingField {
            class: def.name.clone(),
            field: f.name.clone(),
        }),
        None => Ok(()),
    }
}

/// The pause before attempt `attempt + 1` of a conflicting write: up to
/// 50 µs × 2^attempt (capped at 10 ms), a random part of it, so colliding
/// writers spread out.
fn backoff(attempt: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let cap = (50u64 << attempt.min(8)).min(10_000);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    std::time::Duration::from_micros(cap / 2 + h.finish() % (cap / 2 + 1))
}
