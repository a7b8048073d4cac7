//! Namespaces and classes: the specs a user writes, their validation, and the
//! batches that persist catalog changes (with their reindex tasks).

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use rockhold_format::{
    check_name, ClassDef, ClassId, ClassKey, Family, FieldDef, FieldId, FieldType, FullScanKey,
    HashKey, IndexDef, IndexKind, Key, MetaKey, MetaValue, NameEntry, NameKey, NameKind,
    NamespaceId, OrderedKey, Record, TaskKey, TaskRecord, TaskState, Value, VariantDef, MAX_DEPTH,
};

use crate::catalog::{take_task_revision, ClassEntry, DEFAULT_NAMESPACE};
use crate::db::{Db, Inner};
use crate::error::{Error, Result};
use crate::kv::{KeyRange, Space, WriteBatch};

/// A field as the user declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub(crate) name: String,
    pub(crate) ty: FieldType,
    pub(crate) optional: bool,
    /// A one-field index named after the field.
    pub(crate) index: Option<IndexKind>,
}

impl FieldSpec {
    /// A required, unindexed field. `ty` may be nested (lists, tuples,
    /// maps, structs, enums) or `FieldType::Any` (schemaless).
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        FieldSpec {
            name: name.into(),
            ty,
            optional: false,
            index: None,
        }
    }

    /// The field may be absent.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Indexes the field with an index of this kind, named after the field
    /// (the same as `ClassSpec::index(IndexSpec::new(name, kind, [name]))`).
    /// On a list field, the index has an entry per element (multi-valued).
    pub fn index(mut self, index: IndexKind) -> Self {
        self.index = Some(index);
        self
    }

    /// A unique hash index (equality lookups, one object per value).
    pub fn unique_hash(self) -> Self {
        self.index(IndexKind::Hash { unique: true })
    }

    /// A non-unique hash index.
    pub fn hash(self) -> Self {
        self.index(IndexKind::Hash { unique: false })
    }

    /// A non-unique ordered index (equality, range and prefix scans).
    pub fn ordered(self) -> Self {
        self.index(IndexKind::Ordered { unique: false })
    }

    /// A unique ordered index.
    pub fn unique_ordered(self) -> Self {
        self.index(IndexKind::Ordered { unique: true })
    }

    /// The stored definition of this field under id `id`.
    pub(crate) fn to_def(&self, id: FieldId) -> FieldDef {
        FieldDef {
            id,
            name: self.name.clone(),
            ty: self.ty.clone(),
            optional: self.optional,
        }
    }
}

/// The most parts an index may have.
pub const MAX_INDEX_PARTS: usize = 8;

/// A secondary index as the user declares it: a name, a kind, and the
/// values it covers, in key order: field names or dotted paths into nested
/// values (`address.city`). A list met on a path (or a list field) makes
/// the index multi-valued: one entry per distinct element.
///
/// ```
/// use rockhold::{IndexKind, IndexSpec};
/// // (tenant, created_at): range scans on a tenant's objects by time.
/// let by_tenant = IndexSpec::new("by_tenant", IndexKind::Ordered { unique: false },
///                                ["tenant", "created_at"]);
/// # let _ = by_tenant;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub(crate) name: String,
    pub(crate) kind: IndexKind,
    pub(crate) parts: Vec<String>,
}

impl IndexSpec {
    /// An index named `name` of kind `kind` over `parts`.
    pub fn new<P: Into<String>>(
        name: impl Into<String>,
        kind: IndexKind,
        parts: impl IntoIterator<Item = P>,
    ) -> Self {
        IndexSpec {
            name: name.into(),
            kind,
            parts: parts.into_iter().map(Into::into).collect(),
        }
    }
}

/// A class as the user declares it: a name, an ordered list of fields, and
/// its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSpec {
    pub(crate) name: String,
    pub(crate) fields: Vec<FieldSpec>,
    pub(crate) indexes: Vec<IndexSpec>,
}

impl ClassSpec {
    /// A class with no fields yet.
    pub fn new(name: impl Into<String>) -> Self {
        ClassSpec {
            name: name.into(),
            fields: Vec::new(),
            indexes: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, field: FieldSpec) -> Self {
        self.fields.push(field);
        self
    }

    /// Adds an index (compound, on a nested path, or on a list's elements).
    pub fn index(mut self, index: IndexSpec) -> Self {
        self.indexes.push(index);
        self
    }

    /// Every index of the spec: the fields' own and the declared ones.
    pub(crate) fn all_indexes(&self) -> Vec<IndexSpec> {
        self.fields
            .iter()
            .filter_map(|f| {
                f.index
                    .map(|kind| IndexSpec::new(f.name.clone(), kind, [f.name.clone()]))
            })
            .chain(self.indexes.iter().cloned())
            .collect()
    }
}

/// Whether an index answers queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexState {
    /// The name is a field with no index of its own.
    None,
    /// Built and maintained: queries are answered.
    Ready,
    /// A build task exists in this state; queries answer `IndexNotReady`.
    Building(TaskState),
}

pub(crate) fn valid_name(kind: &'static str, name: &str) -> Result<()> {
    check_name(name).map_err(|reason| Error::InvalidName {
        kind,
        name: name.to_string(),
        reason,
    })
}

pub(crate) fn validate_spec(spec: &ClassSpec) -> Result<()> {
    valid_name("class", &spec.name)?;
    let mut seen = HashSet::new();
    for f in &spec.fields {
        valid_name("field", &f.name)?;
        if !seen.insert(f.name.as_str()) {
            return Err(Error::DuplicateName {
                kind: "field",
                name: f.name.clone(),
            });
        }
        crate::index::paths::check_field_type(&spec.name, &f.name, &f.ty)?;
    }
    let mut seen = HashSet::new();
    for i in spec.all_indexes() {
        valid_name("index", &i.name)?;
        if !seen.insert(i.name.clone()) {
            return Err(Error::DuplicateName {
                kind: "index",
                name: i.name.clone(),
            });
        }
    }
    Ok(())
}

/// The schema rule for a present value of field `f`, in the one place every
/// writer applies it: within `MAX_DEPTH`, and of the field's type down to
/// every nested member and element (the error names the path).
pub(crate) fn check_field_value(def: &ClassDef, f: &FieldDef, value: &Value) -> Result<()> {
    let depth = value.depth();
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep {
            class: def.name.clone(),
            field: f.name.clone(),
            depth,
            max: MAX_DEPTH,
        });
    }
    f.ty.check(value).map_err(|m| Error::WrongType {
        class: def.name.clone(),
        field: f.name.clone(),
        path: m.path,
        expected: m.expected,
        found: m.found,
    })
}

/// A checked value in the one form it is stored in: a struct member given
/// as `Absent` is the member missing (`{city: "x", zip: absent}` and
/// `{city: "x"}` are one value), at every depth the type describes. Map
/// entries (`FieldType::Map`) and `Any` values are kept as given: an absent
/// map value is data.
pub(crate) fn canonical_value(ty: &FieldType, value: Value) -> Value {
    match (ty, value) {
        (FieldType::Struct(members), Value::Map(entries)) => Value::Map(
            entries
                .into_iter()
                .filter(|(_, v)| !matches!(v, Value::Absent))
                .map(|(k, v)| {
                    let v = match members.iter().find(|m| m.name == k) {
                        Some(m) => canonical_value(&m.ty, v),
                        None => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        (FieldType::List(t), Value::List(items)) if !t.is_scalar() => {
            Value::List(items.into_iter().map(|v| canonical_value(t, v)).collect())
        }
        (FieldType::Optional(t), v) => canonical_value(t, v),
        (FieldType::Tuple(ts), Value::List(items)) => Value::List(
            items
                .into_iter()
                .zip(ts)
                .map(|(v, t)| canonical_value(t, v))
                .collect(),
        ),
        (FieldType::Map(t), Value::Map(entries)) if !t.is_scalar() => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, canonical_value(t, v)))
                .collect(),
        ),
        (FieldType::Enum(variants), Value::Variant(v)) => {
            let (name, payload) = *v;
            let payload = match variants.iter().find(|d| d.name == name) {
                Some(VariantDef {
                    payload: Some(t), ..
                }) => canonical_value(t, payload),
                _ => payload,
            };
            Value::variant(name, payload)
        }
        (_, v) => v,
    }
}

/// The definitions of a spec's indexes over `fields` (the class's new
/// field definitions): existing indexes of `old` with the same name, kind
/// and parts keep their id; others get a fresh id from `ids`.
pub(crate) fn index_defs(
    spec: &ClassSpec,
    fields: &[FieldDef],
    old: &[IndexDef],
    ids: &mut ClassDef,
) -> Result<Vec<IndexDef>> {
    let mut out = Vec::new();
    for i in spec.all_indexes() {
        let parts = crate::index::paths::resolve(&spec.name, &i, fields)?;
        let id = match old
            .iter()
            .find(|o| o.name == i.name && o.kind == i.kind && o.parts == parts)
        {
            Some(o) => o.id,
            None => ids.allocate_index_id().map_err(Error::counter)?,
        };
        out.push(IndexDef {
            id,
            name: i.name.clone(),
            kind: i.kind,
            parts,
        });
    }
    Ok(out)
}

/// The next version of a class's definition (a real one, not provisional):
/// same id and name, the revision advanced (checked), these fields.
pub(crate) fn next_definition(
    old: &ClassDef,
    ids: &ClassDef,
    fields: Vec<FieldDef>,
    indexes: Vec<IndexDef>,
) -> Result<ClassDef> {
    Ok(ClassDef {
        id: old.id,
        name: old.name.clone(),
        revision: old.next_revision().map_err(Error::counter)?,
        next_field_id: ids.next_field_id,
        next_index_id: ids.next_index_id,
        fields,
        indexes,
        provisional: false,
    })
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn put_counter(batch: &mut WriteBatch, key: MetaKey, value: u64) {
    batch.put(
        Family::Meta,
        &key.encode(),
        &MetaValue::Counter(value).encode(),
    );
}

impl Inner {
    /// Whether a class has at least one object (its full-scan range is not empty).
    pub(crate) fn class_has_objects(&self, ns: NamespaceId, class: ClassId) -> Result<bool> {
        let prefix = FullScanKey::class_prefix(ns, class);
        let mut found = false;
        self.kv
            .latest()
            .scan(Space::FullScan, KeyRange::prefix(&prefix), &mut |_, _| {
                found = true;
                Ok(false)
            })?;
        Ok(found)
    }
}

/// Deletes every entry of one index.
fn delete_index_range(batch: &mut WriteBatch, ns: NamespaceId, class: ClassId, index: &IndexDef) {
    match index.kind {
        IndexKind::Hash { .. } => {
            batch.delete_prefix(Family::Hash, &HashKey::index_prefix(ns, class, index.id))
        }
        IndexKind::Ordered { .. } => batch.delete_prefix(
            Family::Ordered,
            &OrderedKey::index_prefix(ns, class, index.id),
        ),
    }
}

impl Db {
    /// Creates a namespace. Names are 1–128 bytes without control characters.
    pub fn create_namespace(&self, name: &str) -> Result<()> {
        self.inner.writable()?;
        valid_name("namespace", name)?;
        let inner = &self.inner;
        let mut cat = inner.catalog.change();
        if cat.namespace_id(name).is_ok() {
            return Err(Error::DuplicateName {
                kind: "namespace",
                name: name.to_string(),
            });
        }
        let id =
            u32::try_from(cat.counters.next_namespace).map_err(|_| Error::CounterExhausted {
                counter: "meta.next_namespace_id",
            })?;
        let mut batch = WriteBatch::new();
        let key = NameKey {
            kind: NameKind::Namespace,
            parent: 0,
            name: name.to_string(),
        };
        batch.put(Family::Name, &key.encode(), &NameEntry { id }.encode());
        put_counter(&mut batch, MetaKey::NextNamespaceId, u64::from(id) + 1);
        cat.counters.next_namespace = u64::from(id) + 1;
        cat.put_namespace(name.to_string(), NamespaceId(id));
        cat.commit(&*inner.kv, &batch, true)
    }

    /// The names of every namespace, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        self.inner
            .catalog
            .load()
            .namespaces()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Drops a namespace and everything in it: its classes, objects, indexes
    /// and tasks. Deletes exactly the namespace's own key ranges. The default
    /// namespace cannot be dropped.
    pub fn drop_namespace(&self, name: &str) -> Result<()> {
        self.inner.writable()?;
        if name == DEFAULT_NAMESPACE {
            return Err(Error::InvalidRequest(
                "the default namespace cannot be dropped".into(),
            ));
        }
        let inner = &self.inner;
        let mut cat = inner.catalog.change();
        let ns = cat.namespace_id(name)?;
        let mut batch = WriteBatch::new();
        for family in [
            Family::Class,
            Family::Object,
            Family::FullScan,
            Family::Hash,
            Family::Ordered,
            Family::Task,
        ] {
            if let Some(prefix) = family.namespace_prefix(ns) {
                batch.delete_prefix(family, &prefix);
            }
        }
        batch.delete_prefix(Family::Name, &NameKey::scope_prefix(NameKind::Class, ns.0));
        let key = NameKey {
            kind: NameKind::Namespace,
            parent: 0,
            name: name.to_string(),
        };
        batch.delete(Family::Name, &key.encode());
        cat.remove_namespace(ns);
        cat.commit(&*inner.kv, &batch, true)?;
        inner.unique_cache.clear();
        inner.class_cache.clear();
        Ok(())
    }

    /// Creates a class in a namespace.
    pub fn create_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.inner.writable()?;
        validate_spec(spec)?;
        let inner = &self.inner;
        let mut cat = inner.catalog.change();
        let ns = cat.namespace_id(namespace)?;
        if let Some(existing) = cat.class_in(ns, &spec.name) {
            if existing.provisional() {
                let existing = existing.clone();
                return crate::txn::ingest::adopt_definition(inner, &mut cat, &existing, spec);
            }
            return Err(Error::DuplicateName {
                kind: "class",
                name: spec.name.clone(),
            });
        }
        let id = u32::try_from(cat.counters.next_class).map_err(|_| Error::CounterExhausted {
            counter: "meta.next_class_id",
        })?;
        let mut def = ClassDef {
            id: ClassId(id),
            name: spec.name.clone(),
            revision: 1,
            next_field_id: u32::try_from(spec.fields.len())
                .ok()
                .and_then(|n| n.checked_add(1))
                .ok_or_else(|| Error::InvalidRequest("too many fields".into()))?,
            next_index_id: 1,
            fields: spec
                .fields
                .iter()
                .zip(1..)
                .map(|(f, fid)| f.to_def(FieldId(fid)))
                .collect(),
            indexes: Vec::new(),
            provisional: false,
        };
        let fields = def.fields.clone();
        def.indexes = index_defs(spec, &fields, &[], &mut def)?;
        let mut batch = WriteBatch::new();
        let name_key = NameKey {
            kind: NameKind::Class,
            parent: ns.0,
            name: spec.name.clone(),
        };
        batch.put(Family::Name, &name_key.encode(), &NameEntry { id }.encode());
        batch.put(
            Family::Class,
            &ClassKey { ns, class: def.id }.encode(),
            &def.encode(),
        );
        put_counter(&mut batch, MetaKey::NextClassId, u64::from(id) + 1);
        cat.counters.next_class = u64::from(id) + 1;
        cat.put_class(ClassEntry {
            ns,
            def: def.clone(),
            tasks: Default::default(),
        });
        cat.commit(&*inner.kv, &batch, true)?;
        Ok(def)
    }

    /// Changes a class to match `spec` (same name): fields are matched by
    /// name; new fields are added with fresh ids, missing ones removed (their
    /// index entries deleted), and index kinds changed. A field's type cannot
    /// change (`FieldTypeChange`). An index added to a class that has objects
    /// gets a `Pending` reindex task in the same batch and answers
    /// `IndexNotReady` until it is built; writes maintain it from this commit on.
    pub fn update_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.inner.writable()?;
        validate_spec(spec)?;
        let inner = &self.inner;
        let mut cat = inner.catalog.change();
        let entry = cat.class(namespace, &spec.name)?.clone();
        let ns = entry.ns;
        let old = &entry.def;
        let has_objects = inner.class_has_objects(ns, old.id)?;
        let mut batch = WriteBatch::new();
        // Field and index ids and revisions come from disk: every step is checked.
        let mut ids = ClassDef {
            name: String::new(),
            fields: Vec::new(),
            indexes: Vec::new(),
            ..old.clone()
        };
        let mut tasks = entry.tasks.clone();
        let mut next_rev = cat.counters.next_task_revision;
        let mut fields = Vec::with_capacity(spec.fields.len());
        let mut task_writes = Vec::new();
        // By name, built once: matching N fields stays linear.
        let old_by_name: HashMap<&str, &FieldDef> =
            old.fields.iter().map(|f| (f.name.as_str(), f)).collect();
        for f in &spec.fields {
            match old_by_name.get(f.name.as_str()).copied() {
                Some(current) => {
                    if current.ty != f.ty {
                        return Err(Error::FieldTypeChange {
                            class: old.name.clone(),
                            field: f.name.clone(),
                            from: current.ty.name(),
                            to: f.ty.name(),
                        });
                    }
                    if current.optional && !f.optional && has_objects {
                        return Err(Error::InvalidRequest(format!(
                            "field {}.{} cannot become required while the class has objects",
                            old.name, f.name
                        )));
                    }
                    fields.push(f.to_def(current.id));
                }
                None => {
                    if !f.optional && has_objects {
                        return Err(Error::InvalidRequest(format!(
                            "new field {}.{} must be optional: the class has objects without it",
                            old.name, f.name
                        )));
                    }
                    let id = ids.allocate_field_id().map_err(Error::counter)?;
                    fields.push(f.to_def(id));
                }
            }
        }
        let indexes = index_defs(spec, &fields, &old.indexes, &mut ids)?;
        for gone in old
            .indexes
            .iter()
            .filter(|o| !indexes.iter().any(|i| i.id == o.id))
        {
            delete_index_range(&mut batch, ns, old.id, gone);
            if let Some(t) = tasks.get(&gone.id) {
                let mut t = t.clone();
                t.state = TaskState::Remove;
                t.revision = take_task_revision(&mut next_rev)?;
                t.updated_at_ms = now_ms();
                task_writes.push((gone.id, t));
            }
        }
        // A new index is complete as it is on a class without objects, or
        // when every part is a field added now (no object holds a value).
        if has_objects {
            let old_field = |p: &rockhold_format::FieldPath| old.field_by_id(p.field).is_some();
            for added in indexes.iter().filter(|i| {
                !old.indexes.iter().any(|o| o.id == i.id) && i.parts.iter().any(old_field)
            }) {
                let rev = take_task_revision(&mut next_rev)?;
                task_writes.push((added.id, TaskRecord::pending(rev, now_ms())));
            }
        }
        if fields == old.fields && indexes == old.indexes {
            return Ok(old.clone());
        }
        let def = next_definition(old, &ids, fields, indexes)?;
        batch.put(
            Family::Class,
            &ClassKey { ns, class: def.id }.encode(),
            &def.encode(),
        );
        for (index, task) in &task_writes {
            batch.put(
                Family::Task,
                &TaskKey {
                    ns,
                    class: def.id,
                    index: *index,
                }
                .encode(),
                &task.encode(),
            );
        }
        if next_rev != cat.counters.next_task_revision {
            put_counter(&mut batch, MetaKey::NextTaskRevision, next_rev);
        }
        cat.counters.next_task_revision = next_rev;
        let wrote_tasks = !task_writes.is_empty();
        for (index, task) in task_writes {
            tasks.insert(index, task);
        }
        cat.put_class(ClassEntry {
            ns,
            def: def.clone(),
            tasks,
        });
        cat.commit(&*inner.kv, &batch, true)?;
        inner.metrics.refresh_task_states(&cat);
        drop(cat);
        inner.unique_cache.clear();
        if wrote_tasks {
            inner.runner.notify();
        }
        Ok(def)
    }

    /// The definition of a class.
    pub fn class(&self, namespace: &str, class: &str) -> Result<ClassDef> {
        Ok(self
            .inner
            .catalog
            .load()
            .class(namespace, class)?
            .def
            .clone())
    }

    /// Every class of a namespace, sorted by name.
    pub fn classes(&self, namespace: &str) -> Result<Vec<ClassDef>> {
        let cat = self.inner.catalog.load();
        let ns = cat.namespace_id(namespace)?;
        Ok(cat
            .classes_of(ns)
            .into_iter()
            .map(|c| c.def.clone())
            .collect())
    }

    /// Whether an index answers queries (`index` is its name; a one-field
    /// index declared on a field is named after the field). A name that is
    /// a field without an index is `IndexState::None`.
    pub fn index_state(&self, namespace: &str, class: &str, index: &str) -> Result<IndexState> {
        let cat = self.inner.catalog.load();
        let entry = cat.class(namespace, class)?;
        match entry.def.index(index) {
            Some(i) => Ok(entry
                .not_ready(i.id)
                .map_or(IndexState::Ready, IndexState::Building)),
            None => entry
                .field_named(index)
                .map(|_| IndexState::None)
                .map_err(|_| Error::UnknownIndex {
                    class: entry.def.name.clone(),
                    index: index.to_string(),
                }),
        }
    }
}
