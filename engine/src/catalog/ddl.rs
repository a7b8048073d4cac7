//! Namespaces and classes: the specs a user writes, their validation, and the
//! batches that persist catalog changes (with their reindex tasks).

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use rockhold_format::{
    check_name, ClassDef, ClassId, ClassKey, Family, FieldDef, FieldId, FieldType, FullScanKey,
    HashKey, IndexKind, Key, MetaKey, MetaValue, NameEntry, NameKey, NameKind, NamespaceId,
    OrderedKey, Record, TaskKey, TaskRecord, TaskState,
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
    pub(crate) index: IndexKind,
}

impl FieldSpec {
    /// A required, unindexed field.
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        FieldSpec {
            name: name.into(),
            ty,
            optional: false,
            index: IndexKind::None,
        }
    }

    /// The field may be absent.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Sets the index kind.
    pub fn index(mut self, index: IndexKind) -> Self {
        self.index = index;
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
            ty: self.ty,
            optional: self.optional,
            index: self.index,
        }
    }
}

/// A class as the user declares it: a name and an ordered list of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSpec {
    pub(crate) name: String,
    pub(crate) fields: Vec<FieldSpec>,
}

impl ClassSpec {
    /// A class with no fields yet.
    pub fn new(name: impl Into<String>) -> Self {
        ClassSpec {
            name: name.into(),
            fields: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, field: FieldSpec) -> Self {
        self.fields.push(field);
        self
    }
}

/// Whether an index answers queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexState {
    /// The field has no index.
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
    }
    Ok(())
}

/// The next version of a class's definition (a real one, not provisional):
/// same id and name, the revision advanced (checked), these fields.
pub(crate) fn next_definition(
    old: &ClassDef,
    next_field_id: u32,
    fields: Vec<FieldDef>,
) -> Result<ClassDef> {
    Ok(ClassDef {
        id: old.id,
        name: old.name.clone(),
        revision: old.next_revision().map_err(Error::counter)?,
        next_field_id,
        fields,
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

/// Deletes every entry of one field's index.
fn delete_index_range(batch: &mut WriteBatch, ns: NamespaceId, class: ClassId, field: &FieldDef) {
    match field.index {
        IndexKind::None => {}
        IndexKind::Hash { .. } => {
            batch.delete_prefix(Family::Hash, &HashKey::field_prefix(ns, class, field.id))
        }
        IndexKind::Ordered { .. } => batch.delete_prefix(
            Family::Ordered,
            &OrderedKey::field_prefix(ns, class, field.id),
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
        let def = ClassDef {
            id: ClassId(id),
            name: spec.name.clone(),
            revision: 1,
            next_field_id: u32::try_from(spec.fields.len())
                .ok()
                .and_then(|n| n.checked_add(1))
                .ok_or_else(|| Error::InvalidRequest("too many fields".into()))?,
            fields: spec
                .fields
                .iter()
                .zip(1..)
                .map(|(f, fid)| f.to_def(FieldId(fid)))
                .collect(),
            provisional: false,
        };
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
        // Field ids and revisions come from disk: every step is checked.
        let mut ids = ClassDef {
            name: String::new(),
            fields: Vec::new(),
            ..*old
        };
        let mut tasks = entry.tasks.clone();
        let mut next_rev = cat.counters.next_task_revision;
        let mut fields = Vec::with_capacity(spec.fields.len());
        let mut task_writes = Vec::new();
        // By name, built once: matching N fields stays linear.
        let old_by_name: HashMap<&str, &FieldDef> =
            old.fields.iter().map(|f| (f.name.as_str(), f)).collect();
        let spec_names: HashSet<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
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
                    if current.index != f.index {
                        delete_index_range(&mut batch, ns, old.id, current);
                        if f.index.is_indexed() && has_objects {
                            let rev = take_task_revision(&mut next_rev)?;
                            task_writes.push((current.id, TaskRecord::pending(rev, now_ms())));
                        } else if tasks.contains_key(&current.id) {
                            let mut t = tasks[&current.id].clone();
                            t.state = if f.index.is_indexed() {
                                TaskState::Done
                            } else {
                                TaskState::Remove
                            };
                            t.revision = take_task_revision(&mut next_rev)?;
                            t.updated_at_ms = now_ms();
                            task_writes.push((current.id, t));
                        }
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
                    // A new field holds no values yet, so its index is complete.
                    let id = ids.allocate_field_id().map_err(Error::counter)?;
                    fields.push(f.to_def(id));
                }
            }
        }
        for removed in old
            .fields
            .iter()
            .filter(|f| !spec_names.contains(f.name.as_str()))
        {
            delete_index_range(&mut batch, ns, old.id, removed);
            if let Some(t) = tasks.get(&removed.id) {
                let mut t = t.clone();
                t.state = TaskState::Remove;
                t.revision = take_task_revision(&mut next_rev)?;
                t.updated_at_ms = now_ms();
                task_writes.push((removed.id, t));
            }
        }
        if fields == old.fields {
            return Ok(old.clone());
        }
        let def = next_definition(old, ids.next_field_id, fields)?;
        batch.put(
            Family::Class,
            &ClassKey { ns, class: def.id }.encode(),
            &def.encode(),
        );
        for (field, task) in &task_writes {
            batch.put(
                Family::Task,
                &TaskKey {
                    ns,
                    class: def.id,
                    field: *field,
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
        for (field, task) in task_writes {
            tasks.insert(field, task);
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

    /// Whether the index of a field answers queries.
    pub fn index_state(&self, namespace: &str, class: &str, field: &str) -> Result<IndexState> {
        let cat = self.inner.catalog.load();
        let entry = cat.class(namespace, class)?;
        let f = entry.field_named(field)?;
        Ok(if !f.index.is_indexed() {
            IndexState::None
        } else {
            entry
                .not_ready(f.id)
                .map_or(IndexState::Ready, IndexState::Building)
        })
    }
}
