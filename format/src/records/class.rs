//! Class definitions (`C` family).

use serde::{Deserialize, Serialize};

use crate::frame::{Record, RecordKind};
use crate::ids::{ClassId, FieldId, IndexId};
use crate::value::Value;

/// The type of a field's values, or of a member or element inside one.
///
/// Scalars are those of format v1; the nested types describe what a Rust
/// struct holds (lists, tuples, maps with string keys, nested structs,
/// enums). [`FieldType::Any`] is explicitly schemaless: any value, checked
/// only for depth and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// `true` or `false`.
    Bool,
    /// Signed 64-bit integer (every narrower signed width is stored as one).
    I64,
    /// Unsigned 64-bit integer (every narrower unsigned width too).
    U64,
    /// 64-bit float (an `f32` is stored widened, NaN and -0.0 kept).
    F64,
    /// UTF-8 string (a `char` is a string of one character).
    String,
    /// Raw bytes.
    Bytes,
    /// Reference to another object (its id).
    Ref,
    /// A value of the inner type or `Absent`: the element type of a
    /// `Vec<Option<T>>`. A field or a struct member says it is optional by
    /// its own `optional` flag instead.
    Optional(Box<FieldType>),
    /// A list whose elements are all of the inner type.
    List(Box<FieldType>),
    /// A fixed-length list whose elements have these types, in order (a
    /// tuple or a tuple struct; `()` is the empty tuple).
    Tuple(Vec<FieldType>),
    /// A map from string keys to values of the inner type.
    Map(Box<FieldType>),
    /// A nested struct: a map whose keys are exactly these members' names
    /// (optional members may be missing).
    Struct(Vec<MemberDef>),
    /// An enum: a variant value naming one of these variants, with a
    /// payload of the variant's type (`None`: a unit variant).
    Enum(Vec<VariantDef>),
    /// Any value at all: schemaless.
    Any,
}

/// A member of a nested struct type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberDef {
    /// The member's name, its key in the stored map.
    pub name: String,
    /// The type of its value.
    pub ty: FieldType,
    /// Whether it may be missing.
    pub optional: bool,
}

/// A variant of an enum type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VariantDef {
    /// The variant's name.
    pub name: String,
    /// The type of its payload; `None` for a unit variant.
    pub payload: Option<FieldType>,
}

/// Why a value is not of a type: where (a path from the field, `.member`,
/// `[index]`, `{key}` or `::Variant` steps), what was expected, what was
/// found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// The path of the offending value inside the field ("" for the field
    /// value itself).
    pub path: String,
    /// The expected type, as [`FieldType::name`] says it.
    pub expected: String,
    /// What was found instead (a value type name, or a missing member).
    pub found: String,
}

/// Runs `f` with `step` appended to `path`, then takes the step off again.
fn at(
    path: &mut String,
    step: &std::fmt::Arguments<'_>,
    f: &mut dyn FnMut(&mut String) -> Result<(), TypeMismatch>,
) -> Result<(), TypeMismatch> {
    let len = path.len();
    // Writing to a String cannot fail.
    let _ = std::fmt::Write::write_fmt(path, *step);
    let r = f(path);
    path.truncate(len);
    r
}

impl FieldType {
    /// Whether `value` is a value of this type, `Absent` excluded at the
    /// top (whether a field may be absent is its `optional` flag).
    pub fn admits(&self, value: &Value) -> bool {
        self.check(value).is_ok()
    }

    /// Checks that `value` is of this type, naming the first place where it
    /// is not. `Absent` at the top is a mismatch.
    pub fn check(&self, value: &Value) -> Result<(), TypeMismatch> {
        let mut path = String::new();
        self.check_at(value, &mut path)
    }

    fn check_at(&self, value: &Value, path: &mut String) -> Result<(), TypeMismatch> {
        let mismatch = |path: &String, found: String| TypeMismatch {
            path: path.clone(),
            expected: self.name(),
            found,
        };
        match (self, value) {
            (FieldType::Any, _) => Ok(()),
            (FieldType::Optional(_), Value::Absent) => Ok(()),
            (FieldType::Optional(inner), v) => inner.check_at(v, path),
            (FieldType::Bool, Value::Bool(_))
            | (FieldType::I64, Value::I64(_))
            | (FieldType::U64, Value::U64(_))
            | (FieldType::F64, Value::F64(_))
            | (FieldType::String, Value::String(_))
            | (FieldType::Bytes, Value::Bytes(_))
            | (FieldType::Ref, Value::Ref(_)) => Ok(()),
            (FieldType::List(inner), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    at(path, &format_args!("[{i}]"), &mut |p| {
                        inner.check_at(item, p)
                    })?;
                }
                Ok(())
            }
            (FieldType::Tuple(types), Value::List(items)) => {
                if types.len() != items.len() {
                    return Err(mismatch(path, format!("list of {} elements", items.len())));
                }
                for (i, (ty, item)) in types.iter().zip(items).enumerate() {
                    at(path, &format_args!("[{i}]"), &mut |p| ty.check_at(item, p))?;
                }
                Ok(())
            }
            (FieldType::Map(inner), Value::Map(entries)) => {
                for (k, v) in entries {
                    at(path, &format_args!("{{{k:?}}}"), &mut |p| {
                        inner.check_at(v, p)
                    })?;
                }
                Ok(())
            }
            (FieldType::Struct(members), Value::Map(entries)) => {
                for (k, _) in entries {
                    if !members.iter().any(|m| m.name == *k) {
                        return Err(mismatch(path, format!("unknown member {k:?}")));
                    }
                }
                for m in members {
                    match value.get(&m.name) {
                        None | Some(Value::Absent) if m.optional => {}
                        None | Some(Value::Absent) => {
                            return Err(mismatch(path, format!("no member {:?}", m.name)))
                        }
                        Some(v) => at(path, &format_args!(".{}", m.name), &mut |p| {
                            m.ty.check_at(v, p)
                        })?,
                    }
                }
                Ok(())
            }
            (FieldType::Enum(variants), Value::Variant(v)) => {
                let (name, payload) = &**v;
                let Some(def) = variants.iter().find(|d| d.name == *name) else {
                    return Err(mismatch(path, format!("unknown variant {name:?}")));
                };
                match (&def.payload, payload) {
                    (None, Value::Absent) => Ok(()),
                    (None, other) => Err(mismatch(
                        path,
                        format!("variant {name} with a {} payload", other.type_name()),
                    )),
                    (Some(ty), payload) => at(path, &format_args!("::{name}"), &mut |p| {
                        ty.check_at(payload, p)
                    }),
                }
            }
            (_, v) => Err(mismatch(path, v.type_name().to_owned())),
        }
    }

    /// The type as error messages name it (`list<string>`, `struct`, ...).
    pub fn name(&self) -> String {
        match self {
            FieldType::Bool => "bool".into(),
            FieldType::I64 => "i64".into(),
            FieldType::U64 => "u64".into(),
            FieldType::F64 => "f64".into(),
            FieldType::String => "string".into(),
            FieldType::Bytes => "bytes".into(),
            FieldType::Ref => "ref".into(),
            FieldType::Optional(t) => format!("option<{}>", t.name()),
            FieldType::List(t) => format!("list<{}>", t.name()),
            FieldType::Tuple(ts) => format!(
                "tuple<{}>",
                ts.iter()
                    .map(FieldType::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FieldType::Map(t) => format!("map<{}>", t.name()),
            FieldType::Struct(_) => "struct".into(),
            FieldType::Enum(_) => "enum".into(),
            FieldType::Any => "any".into(),
        }
    }

    /// Whether the type is one of the scalars of format v1.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            FieldType::Bool
                | FieldType::I64
                | FieldType::U64
                | FieldType::F64
                | FieldType::String
                | FieldType::Bytes
                | FieldType::Ref
        )
    }

    /// How deeply the type nests (0 for a scalar or `Any`).
    pub fn depth(&self) -> usize {
        match self {
            FieldType::Optional(t) => t.depth(),
            FieldType::List(t) | FieldType::Map(t) => 1 + t.depth(),
            FieldType::Tuple(ts) => 1 + ts.iter().map(FieldType::depth).max().unwrap_or(0),
            FieldType::Struct(ms) => 1 + ms.iter().map(|m| m.ty.depth()).max().unwrap_or(0),
            FieldType::Enum(vs) => {
                1 + vs
                    .iter()
                    .filter_map(|v| v.payload.as_ref().map(FieldType::depth))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// How an index is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexKind {
    /// Hash index (`IH`): equality lookups.
    Hash {
        /// At most one object per value.
        unique: bool,
    },
    /// Ordered index (`IR`): equality, range and prefix scans.
    Ordered {
        /// At most one object per value.
        unique: bool,
    },
}

impl IndexKind {
    /// Whether at most one object may hold a value.
    pub fn is_unique(self) -> bool {
        matches!(
            self,
            IndexKind::Hash { unique: true } | IndexKind::Ordered { unique: true }
        )
    }

    /// Whether the index keeps values in order (range and prefix scans).
    pub fn is_ordered(self) -> bool {
        matches!(self, IndexKind::Ordered { .. })
    }
}

/// One part of an index: a field, or a path into a field's nested value.
///
/// `members` are struct member names or map keys, one per level. A list met
/// on the way (the field itself or a member) is traversed element by element:
/// the index then has one entry per distinct element value (multi-valued).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldPath {
    /// The top-level field.
    pub field: FieldId,
    /// Member names below it (empty: the field's value itself).
    pub members: Vec<String>,
}

/// A secondary index of a class: over one field, a nested path, or a tuple
/// of them (compound).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IndexDef {
    /// Id inside the class, in its index keys and task key; never reused.
    pub id: IndexId,
    /// Name, unique among the class's indexes (a one-field index made by a
    /// field's spec is named after the field).
    pub name: String,
    /// Hash or ordered, unique or not.
    pub kind: IndexKind,
    /// The indexed values, in key order (one for a plain index).
    pub parts: Vec<FieldPath>,
}

impl IndexDef {
    /// Whether at most one object may hold a value (tuple of values).
    pub fn is_unique(&self) -> bool {
        self.kind.is_unique()
    }

    /// Whether the index reads field `field`.
    pub fn reads(&self, field: FieldId) -> bool {
        self.parts.iter().any(|p| p.field == field)
    }
}

/// One field of a class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Id inside the class; never reused.
    pub id: FieldId,
    /// Name, unique among the class's current fields.
    pub name: String,
    /// Type of its values.
    pub ty: FieldType,
    /// Whether the field may be absent.
    pub optional: bool,
}

/// A class definition: the schema of a class's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassDef {
    /// The class id (also in the key).
    pub id: ClassId,
    /// The class name (also in the name registry).
    pub name: String,
    /// Bumped by every change of the definition; starts at 1.
    pub revision: u64,
    /// The id the next added field gets; ids below it are spent.
    pub next_field_id: u32,
    /// The id the next added index gets; ids below it are spent.
    pub next_index_id: u32,
    /// The current fields, in declaration order.
    pub fields: Vec<FieldDef>,
    /// The current secondary indexes, in creation order.
    pub indexes: Vec<IndexDef>,
    /// Made by ingest from the records it saw, before the real definition
    /// arrived: its fields have no indexes yet, and its whole-class task waits.
    pub provisional: bool,
}

impl ClassDef {
    /// The field named `name`, if the class has one.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field with id `id`, if the class has one.
    pub fn field_by_id(&self, id: FieldId) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The index named `name`, if the class has one.
    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// The index with id `id`, if the class has one.
    pub fn index_by_id(&self, id: IndexId) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.id == id)
    }
}

impl Record for ClassDef {
    const KIND: RecordKind = RecordKind::Class;

    fn encode_body(&self, out: &mut Vec<u8>) {
        crate::frame::bincode_body_into(self, out);
    }

    fn decode_body(body: &[u8]) -> crate::Result<Self> {
        crate::frame::bincode_body_decode(Self::KIND, body)
    }
}
