//! Namespaces and classes: the specs a user writes, their validation, and the
//! batches that persist catalog changes (with their reindex tasks).

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use rockhold_format::{
    check_name, ClassDef, ClassId, ClassKey, Family, FieldDef, FieldId, FieldType, FullScanKey,
    HashKey, IndexDef, IndexKind, Key, MetaKey, MetaValue, NameEntry, NameKey, NameKind,
    NamespaceId, OrderedKey, Record, TaskKey, TaskRecord, TaskState, Value, VariantDef, MAX_DEPTH,
};

use crate::catalog::{take_task_revision, ClassAt, ClassEntry, DEFAULT_NAMESPACE};
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

    /// The spec of a stored class: its fields in order, and every index
    /// (a field's own index included) as a declared [`IndexSpec`] whose
    /// parts are the field names and dotted paths it covers. Applying it
    /// with [`Db::update_class`] changes nothing; it is the starting point
    /// of an edit (add a field, leave out an index, then
    /// [`Db::replace_class`]).
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let def = db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash()))?;
    /// let spec = ClassSpec::from_def(&def);
    /// assert_eq!(db.update_class("default", &spec)?, def); // nothing changed
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn from_def(def: &ClassDef) -> ClassSpec {
        ClassSpec {
            name: def.name.clone(),
            fields: def
                .fields
                .iter()
                .map(|f| FieldSpec {
                    name: f.name.clone(),
                    ty: f.ty.clone(),
                    optional: f.optional,
                    index: None,
                })
                .collect(),
            indexes: def
                .indexes
                .iter()
                .map(|i| IndexSpec {
                    name: i.name.clone(),
                    kind: i.kind,
                    parts: part_names(def, &i.parts),
                })
                .collect(),
        }
    }
}

/// An index's parts as a spec names them (`field` or `field.member…`),
/// against the fields of `def`. A part whose field `def` lacks (only a
/// damaged definition has one) is named `#<id>`, which names no field.
fn part_names(def: &ClassDef, parts: &[rockhold_format::FieldPath]) -> Vec<String> {
    parts
        .iter()
        .map(|p| {
            let field = def
                .field_by_id(p.field)
                .map_or_else(|| format!("#{}", p.field.0), |f| f.name.clone());
            std::iter::once(field)
                .chain(p.members.iter().cloned())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// What applying a spec to a stored class would change: the one place
/// that compares a [`ClassDef`] with a [`ClassSpec`] (`update_class`,
/// `replace_class`, the explicit operations and `ensure_class` all decide
/// from it). Fields are matched by name, indexes by name: an index of the
/// spec whose stored namesake has another kind or other parts is
/// *changed* (applied, it is rebuilt under a new id: its old entries are
/// deleted); it is neither added nor removed. Names are in spec order
/// (added, changed) or stored order (removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClassDiff {
    /// Fields of the spec the class lacks.
    pub added_fields: Vec<String>,
    /// Those of `added_fields` that are required.
    pub added_required: Vec<String>,
    /// Stored fields the spec leaves out.
    pub removed_fields: Vec<String>,
    /// Fields of both whose type differs.
    pub retyped_fields: Vec<String>,
    /// Stored required fields the spec declares optional.
    pub made_optional: Vec<String>,
    /// Stored optional fields the spec declares required.
    pub made_required: Vec<String>,
    /// Indexes of the spec the class lacks.
    pub added_indexes: Vec<String>,
    /// Stored indexes the spec leaves out.
    pub removed_indexes: Vec<String>,
    /// Indexes of both whose kind or parts differ.
    pub changed_indexes: Vec<String>,
}

impl ClassDiff {
    /// Whether applying the spec would change nothing.
    pub fn is_empty(&self) -> bool {
        *self == ClassDiff::default()
    }

    /// Whether the spec leaves out something the class has.
    pub fn removes(&self) -> bool {
        !self.removed_fields.is_empty() || !self.removed_indexes.is_empty()
    }
}

/// Compares a stored class with a spec (see [`ClassDiff`]). Pure: the spec
/// is not validated here.
pub(crate) fn diff(old: &ClassDef, spec: &ClassSpec) -> ClassDiff {
    let mut d = ClassDiff::default();
    // By name, built once: matching N fields stays linear.
    let old_by_name: HashMap<&str, &FieldDef> =
        old.fields.iter().map(|f| (f.name.as_str(), f)).collect();
    for f in &spec.fields {
        match old_by_name.get(f.name.as_str()) {
            None => {
                d.added_fields.push(f.name.clone());
                if !f.optional {
                    d.added_required.push(f.name.clone());
                }
            }
            Some(current) => {
                if current.ty != f.ty {
                    d.retyped_fields.push(f.name.clone());
                }
                match (current.optional, f.optional) {
                    (true, false) => d.made_required.push(f.name.clone()),
                    (false, true) => d.made_optional.push(f.name.clone()),
                    _ => {}
                }
            }
        }
    }
    let spec_fields: HashSet<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
    d.removed_fields = old
        .fields
        .iter()
        .filter(|f| !spec_fields.contains(f.name.as_str()))
        .map(|f| f.name.clone())
        .collect();
    let spec_indexes = spec.all_indexes();
    for i in &spec_indexes {
        match old.index(&i.name) {
            None => d.added_indexes.push(i.name.clone()),
            Some(o) => {
                if o.kind != i.kind || part_names(old, &o.parts) != i.parts {
                    d.changed_indexes.push(i.name.clone());
                }
            }
        }
    }
    let names: HashSet<&str> = spec_indexes.iter().map(|i| i.name.as_str()).collect();
    d.removed_indexes = old
        .indexes
        .iter()
        .filter(|o| !names.contains(o.name.as_str()))
        .map(|o| o.name.clone())
        .collect();
    d
}

/// The plan of `ensure_class` for a stored class and a model's spec: the
/// spec to apply (the stored class plus the model's additions), `None`
/// when the class fits already, `ModelMismatch` when the model needs more
/// than an additive change (see [`Db::ensure_class`]).
fn model_change(old: &ClassDef, spec: &ClassSpec, has_objects: bool) -> Result<Option<ClassSpec>> {
    let d = diff(old, spec);
    let mismatch = |field: &str, reason: String| Error::ModelMismatch {
        class: old.name.clone(),
        field: field.to_string(),
        reason,
    };
    let declared = |name: &str| spec.fields.iter().find(|f| f.name == name);
    // A retyped field: the type holding the stored one and the model's,
    // when one only adds to the other (a new variant or optional member, a
    // member made optional); an older model's type fits the stored one.
    let mut evolved: Vec<(&str, FieldType)> = Vec::new();
    for name in &d.retyped_fields {
        let (Some(stored), Some(wanted)) = (old.field(name), declared(name)) else {
            continue;
        };
        match super::evolve::union(&stored.ty, &wanted.ty, has_objects) {
            Ok(ty) if ty == stored.ty => {}
            Ok(ty) => evolved.push((name, ty)),
            Err(n) => {
                return Err(mismatch(
                    name,
                    format!(
                        "{}; a type changes only by additions (a new variant, a new \
                         optional member, a member made optional): add a field under a \
                         new name",
                        n.describe(name)
                    ),
                ))
            }
        }
    }
    if has_objects {
        if let Some(name) = d.added_required.first() {
            return Err(mismatch(
                name,
                "a new required field, and the class has objects without it: \
                 declare it optional in the model"
                    .into(),
            ));
        }
        // A stored optional field the model declares required (an older
        // model, from before the field was made optional) stays optional:
        // the model's values always fit it; an object without a value is a
        // read error for that model, never lost data.
    }
    if let Some(name) = d
        .removed_fields
        .iter()
        .find(|n| old.field(n).is_some_and(|f| !f.optional))
    {
        return Err(mismatch(
            name,
            "a required field of the stored class that the model lacks: objects written \
             through the model would have no value for it (drop_field removes it)"
                .into(),
        ));
    }
    if let Some(name) = d.changed_indexes.first() {
        return Err(mismatch(
            name,
            "an index of this name has another kind or other parts in the stored class: \
             change it explicitly (drop_index, then add_index)"
                .into(),
        ));
    }
    if d.added_fields.is_empty()
        && d.added_indexes.is_empty()
        && d.made_optional.is_empty()
        && (d.made_required.is_empty() || has_objects)
        && evolved.is_empty()
    {
        return Ok(None);
    }
    // The stored class, with the model's additions: nothing is left out.
    let mut merged = ClassSpec::from_def(old);
    for f in &spec.fields {
        match merged.fields.iter_mut().find(|m| m.name == f.name) {
            Some(m) => {
                m.optional = f.optional || (has_objects && m.optional);
                if let Some((_, ty)) = evolved.iter().find(|(n, _)| *n == f.name) {
                    m.ty = ty.clone();
                }
            }
            // Its own index, if any, comes with the other added indexes.
            None => merged.fields.push(FieldSpec {
                index: None,
                ..f.clone()
            }),
        }
    }
    merged.indexes.extend(
        spec.all_indexes()
            .into_iter()
            .filter(|i| d.added_indexes.contains(&i.name)),
    );
    Ok(Some(merged))
}

/// Whether a class change may remove what its spec leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removals {
    /// A removal is `ImplicitRemoval` (`update_class`, the additive operations).
    Refuse,
    /// What the spec leaves out is removed (`replace_class`, the drops).
    Allow,
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

/// A name a definition may take: the format's rules (not empty, at most
/// 128 bytes, no control character), no bidi control or invisible
/// character, and for a field no `.`, which separates the segments of an
/// index path (`address.city`): a field named `a.b` could never be indexed.
pub(crate) fn valid_name(kind: &'static str, name: &str) -> Result<()> {
    let invalid = |reason| Error::InvalidName {
        kind,
        name: name.to_string(),
        reason,
    };
    check_name(name).map_err(invalid)?;
    if name.chars().any(crate::index::paths::is_invisible_or_bidi) {
        return Err(invalid(
            "name contains a bidirectional control or invisible (zero-width) character",
        ));
    }
    if kind == "field" && name.contains('.') {
        return Err(invalid(
            "a field name cannot contain '.', which separates the segments of an index path",
        ));
    }
    Ok(())
}

/// The stored bytes of `def`, refused (`InvalidDefinition`, naming the
/// class and the field at fault) unless they decode: every limit the
/// decoder enforces on a definition read from disk (type constructors
/// nested, depth, counts, sizes) is enforced, by the same code, before the
/// definition is written. A definition that could be written but not read
/// back would make every object of the database unreachable at the next open.
pub(crate) fn encode_checked(def: &ClassDef) -> Result<Vec<u8>> {
    let bytes = def.encode();
    let Err(e) = ClassDef::decode(&bytes) else {
        return Ok(bytes);
    };
    // The field whose definition alone does not decode, if one does not.
    let field = def
        .fields
        .iter()
        .find(|f| {
            let one = ClassDef {
                fields: vec![(*f).clone()],
                indexes: Vec::new(),
                ..def.clone()
            };
            ClassDef::decode(&one.encode()).is_err()
        })
        .map(|f| f.name.clone());
    Err(Error::InvalidDefinition {
        class: def.name.clone(),
        field,
        reason: e.to_string(),
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
/// field definitions): an index named like one of `kept` keeps its id;
/// others get a fresh id from `ids`. `kept` is what [`diff`] found
/// unchanged (the stored indexes neither changed nor removed); empty for a
/// new definition.
pub(crate) fn index_defs(
    spec: &ClassSpec,
    fields: &[FieldDef],
    kept: &[IndexDef],
    ids: &mut ClassDef,
) -> Result<Vec<IndexDef>> {
    let mut out = Vec::new();
    for i in spec.all_indexes() {
        let parts = crate::index::paths::resolve(&spec.name, &i, fields)?;
        let id = match kept.iter().find(|o| o.name == i.name) {
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
        cat.commit(&*inner.kv, &batch, true)?;
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
    /// [`Db::drop_field`] / [`Db::drop_index`], or give the spec to
    /// [`Db::replace_class`].
    ///
    /// An index added to a class that has objects gets a `Pending` reindex
    /// task in the same batch and answers `IndexNotReady` until it is built;
    /// writes maintain it from this commit on. A spec that changes nothing
    /// writes nothing and returns the stored definition.
    pub fn update_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.change_class(namespace, &spec.name, Removals::Refuse, |_, _| {
            Ok(Some(spec.clone()))
        })
    }

    /// Changes a class to match `spec` exactly, as [`Db::update_class`]
    /// does, except that it **removes what the spec leaves out**: every
    /// field the spec does not name, with its values (they are no longer
    /// read; a field added again later gets a fresh id and starts empty),
    /// and every index the spec does not declare, with its index entries.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let full = ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash())
    ///     .field(FieldSpec::new("nick", FieldType::String).optional());
    /// db.create_class("default", &full)?;
    /// let email_only = ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash());
    /// // update_class refuses to drop `nick` implicitly; replace_class drops it.
    /// assert!(matches!(db.update_class("default", &email_only),
    ///                  Err(rockhold::Error::ImplicitRemoval { .. })));
    /// let def = db.replace_class("default", &email_only)?;
    /// assert!(def.field("nick").is_none());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn replace_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        self.change_class(namespace, &spec.name, Removals::Allow, |_, _| {
            Ok(Some(spec.clone()))
        })
    }

    /// Adds a field to a class. Refuses a name the class already has
    /// (`DuplicateName`), and a required field while the class has objects
    /// (`RequiredFieldOnNonEmptyClass`: they have no value for it). A field
    /// declared with its own index (`FieldSpec::hash` …) gets it too; it is
    /// complete at once (no object holds a value yet).
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String)))?;
    /// db.insert("default", "user", [("email", "a@x")])?;
    /// let def = db.add_field("default", "user",
    ///     FieldSpec::new("nick", FieldType::String).optional().hash())?;
    /// assert!(def.field("nick").is_some() && def.index("nick").is_some());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn add_field(&self, namespace: &str, class: &str, field: FieldSpec) -> Result<ClassDef> {
        // A name the class has is a field declared twice: `validate_spec`.
        self.change_class(namespace, class, Removals::Refuse, |old, _| {
            Ok(Some(ClassSpec::from_def(old).field(field)))
        })
    }

    /// Adds an index to a class. Refuses a name the class already has
    /// (`DuplicateName`) and parts that do not resolve (`InvalidIndex`).
    /// On a class with objects, a `Pending` reindex task is queued in the
    /// same batch: queries on the index answer `IndexNotReady` until the
    /// runner (or [`Db::check_reindex_tasks`]) has built it; writes
    /// maintain it from this commit on.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, IndexKind, IndexSpec, MemStore,
    ///                Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String)))?;
    /// let a = db.insert("default", "user", [("email", "a@x")])?;
    /// db.add_index("default", "user",
    ///     IndexSpec::new("by_email", IndexKind::Hash { unique: true }, ["email"]))?;
    /// db.check_reindex_tasks()?; // wait for the build
    /// assert_eq!(db.find_unique("default", "user", "by_email", &"a@x".into())?, Some(a));
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn add_index(&self, namespace: &str, class: &str, index: IndexSpec) -> Result<ClassDef> {
        self.change_class(namespace, class, Removals::Refuse, |old, _| {
            Ok(Some(ClassSpec::from_def(old).index(index)))
        })
    }

    /// **Destructive**: drops an index of a class and deletes its entries
    /// (a build task of it is marked `Remove`). `index` is the index's name
    /// (a field's own index is named after the field; the field stays).
    /// An unknown name is `UnknownIndex`.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash()))?;
    /// let def = db.drop_index("default", "user", "email")?;
    /// assert!(def.index("email").is_none() && def.field("email").is_some());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn drop_index(&self, namespace: &str, class: &str, index: &str) -> Result<ClassDef> {
        self.change_class(namespace, class, Removals::Allow, |old, _| {
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
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, IndexKind, IndexSpec, MemStore,
    ///                Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("user")
    ///     .field(FieldSpec::new("email", FieldType::String).unique_hash())
    ///     .field(FieldSpec::new("age", FieldType::U64).optional())
    ///     .index(IndexSpec::new("by_age_email", IndexKind::Ordered { unique: false },
    ///                           ["age", "email"])))?;
    /// let def = db.drop_field("default", "user", "age")?;
    /// assert!(def.field("age").is_none());
    /// assert!(def.index("by_age_email").is_none()); // it read `age`
    /// assert!(def.index("email").is_some());
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn drop_field(&self, namespace: &str, class: &str, field: &str) -> Result<ClassDef> {
        self.change_class(namespace, class, Removals::Allow, |old, _| {
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
    ///
    /// - a namespace that does not exist is created, then the class;
    /// - a class that does not exist is created from `spec` (a class made
    ///   by ingest, still provisional, adopts `spec` as `create_class` does);
    /// - otherwise the stored class is compared with `spec`: new fields
    ///   (optional ones, or required ones while the class has no objects),
    ///   new indexes (built by the runner when the class has objects), a
    ///   stored required field the spec declares optional, and an optional
    ///   one it declares required while the class has no objects, and a
    ///   field type the spec adds to (a new enum variant, a new optional
    ///   struct member, a member made optional, at any depth) are applied
    ///   in one change, through the same path as `update_class`.
    ///   What the spec leaves out or narrows is kept: a stored optional
    ///   field (also one the spec declares required while the class has
    ///   objects: an older model from before it was made optional), a
    ///   stored index, a variant or optional member of a stored type (an
    ///   older model fits the evolved class). Nothing else is changed: a
    ///   field whose type differs otherwise (the error says where inside
    ///   it), a new required field (or struct member) on a class with
    ///   objects, a stored required field the spec lacks (objects
    ///   written by the model would have no value for it) and an index of
    ///   the same name with another kind or parts are `ModelMismatch`
    ///   naming the field (or index), nothing written.
    ///
    /// A spec the class already fits writes nothing (the revision stays).
    /// Callers racing to create the same class all succeed with the one
    /// created.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let v1 = ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String));
    /// let def = db.ensure_class("default", &v1)?;          // created
    /// assert_eq!(db.ensure_class("default", &v1)?, def);    // unchanged
    /// db.insert("default", "user", [("email", "a@x")])?;
    /// let v2 = v1.clone().field(FieldSpec::new("nick", FieldType::String).optional().hash());
    /// let def2 = db.ensure_class("default", &v2)?;          // an additive change
    /// assert_eq!(def2.revision, def.revision + 1);
    /// let retyped = ClassSpec::new("user").field(FieldSpec::new("email", FieldType::I64));
    /// assert!(matches!(db.ensure_class("default", &retyped),
    ///                  Err(rockhold::Error::ModelMismatch { field, .. }) if field == "email"));
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn ensure_class(&self, namespace: &str, spec: &ClassSpec) -> Result<ClassDef> {
        // No `writable` check here: a class that fits needs no write, so a
        // read-only database opens its collections; every path below that
        // writes checks it.
        validate_spec(spec)?;
        if self.inner.catalog.load().namespace_id(namespace).is_err() {
            match self.create_namespace(namespace) {
                // Another caller created it meanwhile.
                Ok(()) | Err(Error::DuplicateName { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let stored = self
            .inner
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
            let cat = self.inner.catalog.load();
            let current = &cat.class(namespace, &spec.name)?.def;
            // A read-only database cannot apply a change anyway: a model
            // that fits a class with objects opens it as it is.
            let read_only = self.inner.writable().is_err();
            if matches!(model_change(current, spec, false), Ok(None))
                || (read_only && matches!(model_change(current, spec, true), Ok(None)))
            {
                return Ok(current.clone());
            }
        } else {
            match self.create_class(namespace, spec) {
                Ok(def) => return Ok(def),
                // Another caller created it meanwhile: compare with theirs.
                Err(Error::DuplicateName { kind: "class", .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.change_class(
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
        namespace: &str,
        class: &str,
        removals: Removals,
        plan: impl FnOnce(&ClassDef, bool) -> Result<Option<ClassSpec>>,
    ) -> Result<ClassDef> {
        self.inner.writable()?;
        let inner = &self.inner;
        let mut cat = inner.catalog.change();
        let entry = cat.class(namespace, class)?.clone();
        let ns = entry.ns;
        let old = &entry.def;
        let has_objects = inner.class_has_objects(ns, old.id)?;
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
            if let Err(n) = super::evolve::widens(&a.ty, &b.ty, has_objects) {
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
        let mut next_rev = cat.counters.next_task_revision;
        let mut task_writes = Vec::new();
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
            &encode_checked(&def)?,
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
        self.index_state_at(ClassAt::Named(namespace, class), index)
    }

    /// `index_state` of the class `at` names.
    pub(crate) fn index_state_at(&self, at: ClassAt<'_>, index: &str) -> Result<IndexState> {
        let cat = self.inner.catalog.load();
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
