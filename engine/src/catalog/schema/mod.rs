//! # The schema rule (pure)
//!
//! Owns: the specs a user writes (`ClassSpec`, `FieldSpec`, `IndexSpec`),
//! their validation and names, what a spec changes in a stored definition
//! (`diff`, `model_change`), how a field's type may evolve (`evolve`), the
//! value check down to every member and canonical values, and what an
//! index path means (`paths`: resolution against the schema, and the values
//! a part covers in a record).
//!
//! The DDL operations that apply these rules to the catalog sit above, in
//! the write path (txn/ddl.rs).
//!
//! May call: `error` only (and `rockhold_format`): no storage, no state.

use std::collections::{HashMap, HashSet};

use rockhold_format::{
    check_name, ClassDef, FieldDef, FieldId, FieldType, IndexDef, IndexKind, Record, TaskState,
    Value, VariantDef, MAX_DEPTH,
};

use crate::error::{Error, Result};

mod evolve;

pub(crate) use evolve::widens;
pub(crate) mod paths;

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
    /// with [`Db::update_class`](crate::Db::update_class) changes nothing; it is the starting point
    /// of an edit (add a field, leave out an index, then
    /// [`Db::replace_class`](crate::Db::replace_class)).
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
/// than an additive change (see [`Db::ensure_class`](crate::Db::ensure_class)).
pub(crate) fn model_change(
    old: &ClassDef,
    spec: &ClassSpec,
    has_objects: bool,
) -> Result<Option<ClassSpec>> {
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
        match evolve::union(&stored.ty, &wanted.ty, has_objects) {
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
pub(crate) enum Removals {
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
    if name.chars().any(paths::is_invisible_or_bidi) {
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
        paths::check_field_type(&spec.name, &f.name, &f.ty)?;
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
        let parts = paths::resolve(&spec.name, &i, fields)?;
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
