//! # DDL: namespaces and classes created, changed and dropped
//!
//! The operations that apply the schema rule (`catalog::schema`) to the
//! catalog: each runs as one catalog change (`catalog::Change`), whose
//! commit is the only writer of catalog entries and task records and
//! reports the effects (caches, runner, metrics) the database applies.
//! Adopting a provisional class is in `ingest`.

use std::collections::HashSet;

use rockhold_format::{
    ClassDef, ClassId, ClassKey, Family, FieldId, HashKey, IndexDef, IndexKind, Key, MetaKey,
    NameEntry, NameKey, NameKind, NamespaceId, ObjectKey, OrderedKey, Record,
};

use crate::catalog::schema::{
    diff, encode_checked, index_defs, model_change, next_definition, valid_name, validate_spec,
    ClassSpec, FieldSpec, IndexSpec, IndexState, Removals,
};
use crate::catalog::{now_ms, put_counter, ClassAt, ClassEntry, Effects, DEFAULT_NAMESPACE};
use crate::error::{Error, Result};
use crate::kv::{KeyRange, Space, WriteBatch};
use crate::txn::WriteCtx;

impl WriteCtx {
    /// Whether a class has at least one object (its record range is not empty).
    pub(crate) fn class_has_objects(&self, ns: NamespaceId, class: ClassId) -> Result<bool> {
        let prefix = ObjectKey::class_prefix(ns, class);
        let mut found = false;
        self.kv
            .latest()
            .scan(Space::Objects, KeyRange::prefix(&prefix), &mut |_, _| {
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

impl WriteCtx {
    /// Creates a namespace. Names are 1–128 bytes without control characters.
    pub(crate) fn create_namespace(&self, fx: &mut Effects, name: &str) -> Result<()> {
        self.writable()?;
        valid_name("namespace", name)?;
        let mut cat = self.catalog.change();
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
        *fx = fx.and(cat.commit(&*self.kv, &batch)?);
        Ok(())
    }

    /// The names of every namespace, sorted.
    pub(crate) fn namespaces(&self) -> Vec<String> {
        self.catalog
            .load()
            .namespaces()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Drops a namespace and everything in it: its classes, objects, indexes
    /// and tasks. Deletes exactly the namespace's own key ranges. The default
    /// namespace cannot be dropped.
    pub(crate) fn drop_namespace(&self, fx: &mut Effects, name: &str) -> Result<()> {
        self.writable()?;
        if name == DEFAULT_NAMESPACE {
            return Err(Error::InvalidRequest(
                "the default namespace cannot be dropped".into(),
            ));
        }
        let mut cat = self.catalog.change();
        let ns = cat.namespace_id(name)?;
        let mut batch = WriteBatch::new();
        for family in [
            Family::Class,
            Family::Object,
            Family::Locator,
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
        *fx = fx.and(cat.commit(&*self.kv, &batch)?);
        Ok(())
    }

    /// Creates a class in a namespace.
    pub(crate) fn create_class(
        &self,
        fx: &mut Effects,
        namespace: &str,
        spec: &ClassSpec,
    ) -> Result<ClassDef> {
        self.writable()?;
        validate_spec(spec)?;
        let mut cat = self.catalog.change();
        let ns = cat.namespace_id(namespace)?;
        if let Some(existing) = cat.class_in(ns, &spec.name) {
            if existing.provisional() {
                let existing = existing.clone();
                return crate::txn::ingest::adopt_definition(self, fx, &mut cat, &existing, spec);
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
        let encoded = encode_checked(&def)?;
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
            &encoded,
        );
        put_counter(&mut batch, MetaKey::NextClassId, u64::from(id) + 1);
        cat.counters.next_class = u64::from(id) + 1;
        cat.put_class(ClassEntry {
            ns,
            def: def.clone(),
            tasks: Default::default(),
        });
        *fx = fx.and(cat.commit(&*self.kv, &batch)?);
        Ok(def)
    }

    /// Changes a class to match `spec` (same name), adding and changing
    /// but never removing: fields are matched by name, new ones added with
    /// fresh ids; a field may become optional, and required only while the
    /// class has no objects (`RequiredFieldOnNonEmptyClass`, also for a new
    /// required field); its type changes only by additions (a new enum
    /// variant, a new optional struct member, a member made optional; any
    /// other change is `FieldTypeChange`, saying what changed). Indexes
    /// are matched by name: new ones are added, and one whose kind or parts
    /// differ from the stored one is rebuilt under a new id (its old entries
    /// deleted). A field or index the class has and the spec leaves out is
    /// refused with `ImplicitRemoval`, nothing changed: remove it with
    /// [`Db::drop_field`](crate::Db::drop_field) / [`Db::drop_index`](crate::Db::drop_index), or give the spec to
    /// [`Db::replace_class`](crate::Db::replace_class).
    pub(crate) fn update_class(
        &self,
        fx: &mut Effects,
        namespace: &str,
        spec: &ClassSpec,
    ) -> Result<ClassDef> {
        self.change_class(fx, namespace, &spec.name, Removals::Refuse, |_, _| {
            Ok(Some(spec.clone()))
        })
    }

    /// Changes a class to match `spec` exactly, as [`Db::update_class`](crate::Db::update_class)
    /// does, except that it **removes what the spec leaves out**: every
    /// field the spec does not name, with its values (they are no longer
    /// read; a field added again later gets a fresh id and starts empty),
    /// and every index the spec does not declare, with its index entries.
    pub(crate) fn replace_class(
        &self,
        fx: &mut Effects,
        namespace: &str,
        spec: &ClassSpec,
    ) -> Result<ClassDef> {
        self.change_class(fx, namespace, &spec.name, Removals::Allow, |_, _| {
            Ok(Some(spec.clone()))
        })
    }

    /// Adds a field to a class. Refuses a name the class already has
    /// (`DuplicateName`), and a required field while the class has objects
    /// (`RequiredFieldOnNonEmptyClass`: they have no value for it). A field
    /// declared with its own index (`FieldSpec::hash` …) gets it too; it is
    /// complete at once (no object holds a value yet).
    pub(crate) fn add_field(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        field: FieldSpec,
    ) -> Result<ClassDef> {
        // A name the class has is a field declared twice: `validate_spec`.
        self.change_class(fx, namespace, class, Removals::Refuse, |old, _| {
            Ok(Some(ClassSpec::from_def(old).field(field)))
        })
    }

    /// Adds an index to a class. Refuses a name the class already has
    /// (`DuplicateName`) and parts that do not resolve (`InvalidIndex`).
    pub(crate) fn add_index(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        index: IndexSpec,
    ) -> Result<ClassDef> {
        self.change_class(fx, namespace, class, Removals::Refuse, |old, _| {
            Ok(Some(ClassSpec::from_def(old).index(index)))
        })
    }

    /// **Destructive**: drops an index of a class and deletes its entries
    /// (a build task of it is marked `Remove`). `index` is the index's name
    /// (a field's own index is named after the field; the field stays).
    pub(crate) fn drop_index(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        index: &str,
    ) -> Result<ClassDef> {
        self.change_class(fx, namespace, class, Removals::Allow, |old, _| {
            if old.index(index).is_none() {
                return Err(Error::UnknownIndex {
                    class: old.name.clone(),
                    index: index.to_string(),
                });
            }
            let mut spec = ClassSpec::from_def(old);
            spec.indexes.retain(|i| i.name != index);
            Ok(Some(spec))
        })
    }

    /// **Destructive**: drops a field of a class, and with it **every index
    /// that reads the field** (its own, and any compound or nested-path
    /// index with a part in it), their entries deleted. The objects' values
    /// of the field are no longer read; a field added again under the same
    /// name gets a fresh id and starts empty. An unknown name is
    /// `UnknownField`. The definition returned lists what is left.
    pub(crate) fn drop_field(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        field: &str,
    ) -> Result<ClassDef> {
        self.change_class(fx, namespace, class, Removals::Allow, |old, _| {
            let Some(gone) = old.field(field) else {
                return Err(Error::UnknownField {
                    class: old.name.clone(),
                    field: field.to_string(),
                });
            };
            let reading: HashSet<&str> = old
                .indexes
                .iter()
                .filter(|i| i.reads(gone.id))
                .map(|i| i.name.as_str())
                .collect();
            let mut spec = ClassSpec::from_def(old);
            spec.fields.retain(|f| f.name != field);
            spec.indexes.retain(|i| !reading.contains(i.name.as_str()));
            Ok(Some(spec))
        })
    }

    /// Makes sure a class fits `spec` (a model's schema), changing it only
    /// by additions, and returns its definition:
    pub(crate) fn ensure_class(
        &self,
        fx: &mut Effects,
        namespace: &str,
        spec: &ClassSpec,
    ) -> Result<ClassDef> {
        // No `writable` check here: a class that fits needs no write, so a
        // read-only database opens its collections; every path below that
        // writes checks it.
        validate_spec(spec)?;
        if self.catalog.load().namespace_id(namespace).is_err() {
            match self.create_namespace(fx, namespace) {
                // Another caller created it meanwhile.
                Ok(()) | Err(Error::DuplicateName { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let stored = self
            .catalog
            .load()
            .class(namespace, &spec.name)
            .ok()
            .map(|e| e.provisional());
        if stored == Some(false) {
            // Lock-free first: a model that fits the current version, even
            // assuming the class has no objects (the case that applies the
            // most: a required field or member is then applied as required),
            // needs no change, so a collection handle for a fitting class
            // holds off no writer.
            // (An error or a change is decided under the lock, with the
            // real answer to whether the class has objects.)
            let cat = self.catalog.load();
            let current = &cat.class(namespace, &spec.name)?.def;
            // A read-only database cannot apply a change anyway: a model
            // that fits a class with objects opens it as it is.
            let read_only = self.writable().is_err();
            if matches!(model_change(current, spec, false), Ok(None))
                || (read_only && matches!(model_change(current, spec, true), Ok(None)))
            {
                return Ok(current.clone());
            }
        } else {
            match self.create_class(fx, namespace, spec) {
                Ok(def) => return Ok(def),
                // Another caller created it meanwhile: compare with theirs.
                Err(Error::DuplicateName { kind: "class", .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.change_class(
            fx,
            namespace,
            &spec.name,
            Removals::Refuse,
            |old, has_objects| model_change(old, spec, has_objects),
        )
    }

    /// The one path of every change to an existing class: under a catalog
    /// change (writers held off), `plan` gets the stored definition and
    /// whether the class has objects, and returns the whole spec to apply
    /// (`None`: nothing to do). The spec is validated and compared with
    /// the stored class ([`diff`]); the schema rules are checked on the
    /// diff; then the new definition, the deletions of removed indexes and
    /// the tasks of added ones are written in one batch.
    fn change_class(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        removals: Removals,
        plan: impl FnOnce(&ClassDef, bool) -> Result<Option<ClassSpec>>,
    ) -> Result<ClassDef> {
        self.writable()?;
        let mut cat = self.catalog.change();
        let entry = cat.class(namespace, class)?.clone();
        let ns = entry.ns;
        let old = &entry.def;
        let has_objects = self.class_has_objects(ns, old.id)?;
        let Some(spec) = plan(old, has_objects)? else {
            return Ok(old.clone());
        };
        validate_spec(&spec)?;
        if spec.name != old.name {
            return Err(Error::InvalidRequest(format!(
                "a spec of class {:?} applied to class {:?}",
                spec.name, old.name
            )));
        }
        let d = diff(old, &spec);
        // A type may change only by additions (a new variant or optional
        // member, a member made optional): stored values stay valid.
        for name in &d.retyped_fields {
            let (Some(a), Some(b)) = (
                old.field(name),
                spec.fields.iter().find(|f| &f.name == name),
            ) else {
                continue;
            };
            if let Err(n) = crate::catalog::schema::widens(&a.ty, &b.ty, has_objects) {
                return Err(Error::FieldTypeChange {
                    class: old.name.clone(),
                    field: name.clone(),
                    from: a.ty.name(),
                    // The same kind of type both ways ("enum" to "enum"):
                    // the narrowing says what changed inside it.
                    to: if n.path.is_empty() && a.ty.name() != b.ty.name() {
                        b.ty.name()
                    } else {
                        format!("{} ({})", b.ty.name(), n.describe(name))
                    },
                });
            }
        }
        if has_objects {
            if let Some(name) = d.made_required.iter().chain(&d.added_required).next() {
                return Err(Error::RequiredFieldOnNonEmptyClass {
                    class: old.name.clone(),
                    field: name.clone(),
                });
            }
        }
        if removals == Removals::Refuse && d.removes() {
            return Err(Error::ImplicitRemoval {
                class: old.name.clone(),
                fields: d.removed_fields,
                indexes: d.removed_indexes,
            });
        }
        if d.is_empty() {
            return Ok(old.clone());
        }
        let mut batch = WriteBatch::new();
        // Field and index ids and revisions come from disk: every step is checked.
        let mut ids = ClassDef {
            name: String::new(),
            fields: Vec::new(),
            indexes: Vec::new(),
            ..old.clone()
        };
        let mut tasks = entry.tasks.clone();
        let mut removed_tasks = Vec::new();
        let mut added_tasks = Vec::new();
        let mut fields = Vec::with_capacity(spec.fields.len());
        for f in &spec.fields {
            let id = match old.field(&f.name) {
                Some(current) => current.id,
                None => ids.allocate_field_id().map_err(Error::counter)?,
            };
            fields.push(f.to_def(id));
        }
        let kept: Vec<IndexDef> = old
            .indexes
            .iter()
            .filter(|o| {
                !d.changed_indexes.contains(&o.name) && !d.removed_indexes.contains(&o.name)
            })
            .cloned()
            .collect();
        let indexes = index_defs(&spec, &fields, &kept, &mut ids)?;
        for gone in old
            .indexes
            .iter()
            .filter(|o| !indexes.iter().any(|i| i.id == o.id))
        {
            delete_index_range(&mut batch, ns, old.id, gone);
            if tasks.contains_key(&gone.id) {
                removed_tasks.push(gone.id);
            }
        }
        // A new index is complete as it is on a class without objects, or
        // when every part is a field added now (no object holds a value).
        if has_objects {
            let old_field = |p: &rockhold_format::FieldPath| old.field_by_id(p.field).is_some();
            for added in indexes.iter().filter(|i| {
                !old.indexes.iter().any(|o| o.id == i.id) && i.parts.iter().any(old_field)
            }) {
                added_tasks.push(added.id);
            }
        }
        if fields == old.fields && indexes == old.indexes {
            return Ok(old.clone());
        }
        let def = next_definition(old, &ids, fields, indexes)?;
        batch.put(
            Family::Class,
            &ClassKey { ns, class: def.id }.encode(),
            &encode_checked(&def)?,
        );
        for index in removed_tasks {
            cat.retire_task(&mut batch, ns, def.id, index, &mut tasks, now_ms())?;
        }
        for index in added_tasks {
            cat.queue_task(&mut batch, ns, def.id, index, &mut tasks, now_ms())?;
        }
        cat.put_class(ClassEntry {
            ns,
            def: def.clone(),
            tasks,
        });
        *fx = fx.and(cat.commit(&*self.kv, &batch)?);
        Ok(def)
    }

    /// Every class of a namespace, sorted by name.
    pub(crate) fn classes(&self, namespace: &str) -> Result<Vec<ClassDef>> {
        let cat = self.catalog.load();
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
    pub(crate) fn index_state(
        &self,
        namespace: &str,
        class: &str,
        index: &str,
    ) -> Result<IndexState> {
        self.index_state_at(ClassAt::Named(namespace, class), index)
    }

    /// `index_state` of the class `at` names.
    pub(crate) fn index_state_at(&self, at: ClassAt<'_>, index: &str) -> Result<IndexState> {
        let cat = self.catalog.load();
        let entry = cat.class_at(at)?;
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
