//! Ingest (catch-up, restore, import): objects that may arrive before the
//! definition of their class.
//!
//! For an unknown class, ingest creates a *provisional* class from what the
//! records show (field names and value types, all optional, no index) and, in
//! the same batch as the first object, a `Pending` whole-class task. Each
//! object is written with its locator and no index entry: none can be
//! computed without the definition. The provisional class grows as new field
//! names appear. When the definition arrives (`create_class` with that name),
//! it replaces the provisional one, keeping the field ids of the fields it
//! names, and the whole-class task becomes runnable: the runner builds every
//! index of the class over the ingested objects. For a class whose definition
//! is known, ingest is an ordinary write under the object's own id.

use std::sync::Arc;

use rockhold_format::{
    ClassDef, ClassId, ClassKey, Family, FieldDef, FieldType, IndexId, Key, MetaKey, NameEntry,
    NameKey, NameKind, ObjectId, ObjectKey, ObjectRecord, Record, Value,
};

use crate::catalog::schema::{index_defs, next_definition, valid_name, validate_spec, ClassSpec};
use crate::catalog::{now_ms, put_counter, Change as CatalogChange, ClassEntry, Effects};
use crate::error::{Error, Result};
use crate::feed::ChangeKind;
use crate::kv::WriteBatch;
use crate::txn::WriteCtx;

fn type_of(value: &Value) -> Option<FieldType> {
    Some(match value {
        Value::Absent => return None,
        Value::Bool(_) => FieldType::Bool,
        Value::I64(_) => FieldType::I64,
        Value::U64(_) => FieldType::U64,
        Value::F64(_) => FieldType::F64,
        Value::String(_) => FieldType::String,
        Value::Bytes(_) => FieldType::Bytes,
        Value::Ref(_) => FieldType::Ref,
        // A provisional class does not guess nested types: such a field is
        // schemaless until (and unless) the real definition says `Any` too.
        Value::List(_) | Value::Map(_) | Value::Variant(_) => FieldType::Any,
    })
}

impl WriteCtx {
    /// Writes an object received from elsewhere under its own id (see
    /// `Db::ingest`).
    pub(crate) fn ingest(
        &self,
        fx: &mut Effects,
        namespace: &str,
        class: &str,
        id: ObjectId,
        fields: Vec<(String, Value)>,
    ) -> Result<()> {
        self.writable()?;
        {
            let cat = self.catalog.peek();
            let ns = cat.namespace_id(namespace)?;
            if cat.class_in(ns, class).is_some_and(|c| !c.provisional()) {
                drop(cat);
                return self.put_object(namespace, class, id, fields);
            }
        }
        ingest_provisional(self, fx, namespace, class, id, &fields)
    }
}

/// Ingests into a class without definition, as a catalog change (every
/// writer held off, so the definition cannot arrive half-way).
fn ingest_provisional(
    inner: &WriteCtx,
    fx: &mut Effects,
    namespace: &str,
    class: &str,
    id: ObjectId,
    fields: &[(String, Value)],
) -> Result<()> {
    valid_name("class", class)?;
    inner.reserve_ids_through(id)?;
    let mut cat = inner.catalog.change();
    let ns = cat.namespace_id(namespace)?;
    let existing = cat.class_in(ns, class).cloned();
    if existing.as_ref().is_some_and(|c| !c.provisional()) {
        // The definition arrived meanwhile: the ordinary path applies.
        return Err(Error::Conflict {
            reason: format!("class {class} was defined during the ingest"),
        });
    }
    let mut batch = WriteBatch::new();
    let (mut def, mut tasks, new_class) = match existing {
        Some(entry) => (entry.def.clone(), entry.tasks.clone(), false),
        None => {
            let cid =
                u32::try_from(cat.counters.next_class).map_err(|_| Error::CounterExhausted {
                    counter: "meta.next_class_id",
                })?;
            cat.counters.next_class = u64::from(cid) + 1;
            put_counter(&mut batch, MetaKey::NextClassId, cat.counters.next_class);
            let name_key = NameKey {
                kind: NameKind::Class,
                parent: ns.0,
                name: class.to_string(),
            };
            batch.put(
                Family::Name,
                &name_key.encode(),
                &NameEntry { id: cid }.encode(),
            );
            let def = ClassDef {
                id: ClassId(cid),
                name: class.to_string(),
                revision: 1,
                next_field_id: 1,
                next_index_id: 1,
                fields: Vec::new(),
                indexes: Vec::new(),
                provisional: true,
            };
            (def, Default::default(), true)
        }
    };
    let before = def.fields.clone();
    let mut rec = ObjectRecord {
        class: def.id,
        fields: Vec::new(),
    };
    for (name, value) in fields {
        let Some(ty) = type_of(value) else { continue };
        if value.depth() > rockhold_format::MAX_DEPTH {
            return Err(Error::TooDeep {
                class: class.to_string(),
                field: name.clone(),
                depth: value.depth(),
                max: rockhold_format::MAX_DEPTH,
            });
        }
        let field = match def.field(name) {
            Some(f) if f.ty == ty => f.id,
            Some(f) => {
                return Err(Error::WrongType {
                    class: class.to_string(),
                    field: name.clone(),
                    path: String::new(),
                    expected: f.ty.name(),
                    found: value.type_name().to_string(),
                })
            }
            None => {
                valid_name("field", name)?;
                let fid = def.allocate_field_id().map_err(Error::counter)?;
                def.fields.push(FieldDef {
                    id: fid,
                    name: name.clone(),
                    ty,
                    optional: true,
                });
                fid
            }
        };
        match rec.fields.binary_search_by_key(&field, |(f, _)| *f) {
            Ok(_) => {
                return Err(Error::DuplicateName {
                    kind: "field",
                    name: name.clone(),
                })
            }
            Err(pos) => rec.fields.insert(pos, (field, value.clone())),
        }
    }
    if def.fields != before || new_class {
        if !new_class {
            def.revision = def.next_revision().map_err(Error::counter)?;
        }
        batch.put(
            Family::Class,
            &ClassKey { ns, class: def.id }.encode(),
            &crate::catalog::schema::encode_checked(&def)?,
        );
    }
    if !tasks.contains_key(&IndexId::WHOLE_CLASS) {
        cat.queue_task(
            &mut batch,
            ns,
            def.id,
            IndexId::WHOLE_CLASS,
            &mut tasks,
            now_ms(),
        )?;
    }
    let old = crate::read::View::latest(inner).record(ns, id)?;
    if let Some(old) = old.as_ref().filter(|o| o.class != def.id) {
        return Err(Error::ClassMismatch {
            id,
            class: class.to_string(),
            found: cat
                .class_by_id(old.class)
                .map_or_else(|| super::DROPPED_CLASS.to_owned(), |c| c.def.name.clone()),
        });
    }
    // A provisional class has no index: the record (with its locator, for a
    // new object) is the whole write.
    let bytes = crate::txn::encode_record(&def, &rec)?;
    let key = ObjectKey {
        ns,
        class: def.id,
        id,
    };
    batch.put_object(&key, &bytes, old.is_none());
    let class_id = def.id;
    cat.put_class(ClassEntry { ns, def, tasks });
    // Through the change feed like every object write (the catalog lock
    // held here keeps every other commit out meanwhile).
    let feed = inner.feed.enter();
    let mut changes = Vec::new();
    if feed.active() {
        let entry = cat
            .class_by_id(class_id)
            .cloned()
            .ok_or_else(|| Error::Inconsistent(format!("class {class} vanished in its ingest")))?;
        let kind = if old.is_some() {
            ChangeKind::Update
        } else {
            ChangeKind::Insert
        };
        changes.push(super::change(&cat, ns, id, &entry, kind, Some(bytes)));
    }
    // Stamped like every object write (see read/cache.rs).
    let writing = inner.stamps.writing(std::iter::once((ns, id)));
    *fx = fx.and(feed.publish(changes, || {
        cat.commit_with_objects(&*inner.kv, &batch, inner.sync_default())
    })?);
    drop(writing);
    Ok(())
}

/// Replaces a provisional class by its real definition. Fields named by both
/// keep their ids (types must agree); the whole-class task becomes runnable.
pub(crate) fn adopt_definition(
    inner: &WriteCtx,
    fx: &mut Effects,
    cat: &mut CatalogChange<'_>,
    provisional: &Arc<ClassEntry>,
    spec: &ClassSpec,
) -> Result<ClassDef> {
    validate_spec(spec)?;
    let old = &provisional.def;
    let mut ids = ClassDef {
        name: String::new(),
        fields: Vec::new(),
        indexes: Vec::new(),
        ..old.clone()
    };
    let mut fields = Vec::with_capacity(spec.fields.len());
    for f in &spec.fields {
        let id = match old.field(&f.name) {
            Some(seen) if seen.ty != f.ty => {
                return Err(Error::FieldTypeChange {
                    class: old.name.clone(),
                    field: f.name.clone(),
                    from: seen.ty.name(),
                    to: f.ty.name(),
                })
            }
            Some(seen) => seen.id,
            None => ids.allocate_field_id().map_err(Error::counter)?,
        };
        fields.push(f.to_def(id));
    }
    let indexes = index_defs(spec, &fields, &[], &mut ids)?;
    let def = next_definition(old, &ids, fields, indexes)?;
    check_required_fields(inner, provisional.ns, &def)?;
    let mut batch = WriteBatch::new();
    batch.put(
        Family::Class,
        &ClassKey {
            ns: provisional.ns,
            class: def.id,
        }
        .encode(),
        &crate::catalog::schema::encode_checked(&def)?,
    );
    cat.put_class(ClassEntry {
        ns: provisional.ns,
        def: def.clone(),
        tasks: provisional.tasks.clone(),
    });
    *fx = fx.and(cat.commit(&*inner.kv, &batch)?);
    Ok(def)
}

/// At most this many object ids are named in a `RequiredFieldMissing` error.
const MAX_NAMED_OBJECTS: usize = 100;

/// Fails with `RequiredFieldMissing` when an object of the class lacks a
/// field that `def` requires, naming the first field and the objects
/// without it: a definition is adopted only if every ingested object obeys
/// it, as `update_class` does for a class with objects. The caller holds
/// a catalog change (writers held off), so no ingest adds objects meanwhile.
fn check_required_fields(
    inner: &WriteCtx,
    ns: rockhold_format::NamespaceId,
    def: &ClassDef,
) -> Result<()> {
    let required: Vec<&FieldDef> = def.fields.iter().filter(|f| !f.optional).collect();
    if required.is_empty() {
        return Ok(());
    }
    let mut missing: Vec<Vec<ObjectId>> = vec![Vec::new(); required.len()];
    crate::read::View::latest(inner).for_each_record(
        ns,
        def.id,
        ObjectId(0),
        None,
        |id, _, rec| {
            for (f, ids) in required.iter().zip(missing.iter_mut()) {
                if ids.len() < MAX_NAMED_OBJECTS && !rec.contains(f.id) {
                    ids.push(id);
                }
            }
            Ok(true)
        },
    )?;
    match required
        .iter()
        .zip(missing)
        .find(|(_, ids)| !ids.is_empty())
    {
        None => Ok(()),
        Some((f, objects)) => Err(Error::RequiredFieldMissing {
            class: def.name.clone(),
            field: f.name.clone(),
            objects,
        }),
    }
}
