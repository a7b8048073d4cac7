//! Class definitions (`C` family).
//!
//! Body (coding.rs items):
//!
//! ```text
//! u32     class id
//! string  name
//! u64     revision
//! u32     next_field_id
//! u32     next_index_id
//! u32     count of fields, then each:
//!           u32 field id, string name, field type, bool optional
//! u32     count of indexes, then each:
//!           u32 index id, string name, u8 kind (00 hash, 01 ordered), bool unique,
//!           u32 count of parts, then each: u32 field id, u32 count of members,
//!           then each member a string
//! bool    provisional
//! ```
//!
//! A field type is a `u8` tag followed by what it holds:
//!
//! ```text
//! 00 bool   01 i64   02 u64   03 f64   04 string   05 bytes   06 ref   0D any
//! 07 optional  type
//! 08 list      type (of the elements)
//! 09 tuple     u32 count, then count types
//! 0A map       type (of the values)
//! 0B struct    u32 count, then each member: string name, type, bool optional
//! 0C enum      u32 count, then each variant: string name, option type (payload)
//! ```
//!
//! A type nests at most [`MAX_DEPTH`] levels deep as [`FieldType::depth`]
//! counts them, and at most `2 × MAX_DEPTH + 1` type constructors in all
//! (`optional` adds no depth); deeper types are refused by the decoder, so
//! by [`Record::encode_checked`] too.

use crate::coding::{put_bool, put_len, put_str, put_u32, put_u64, put_u8, Input};
use crate::error::{Error, Result};
use crate::frame::{Record, RecordKind};
use crate::ids::{ClassId, FieldId, IndexId};
use crate::value::{Value, MAX_DEPTH};

/// The type of a field's values, or of a member or element inside one.
///
/// Scalars are those of format v1; the nested types describe what a Rust
/// struct holds (lists, tuples, maps with string keys, nested structs,
/// enums). [`FieldType::Any`] is explicitly schemaless: any value, checked
/// only for depth and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberDef {
    /// The member's name, its key in the stored map.
    pub name: String,
    /// The type of its value.
    pub ty: FieldType,
    /// Whether it may be missing.
    pub optional: bool,
}

/// A variant of an enum type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// What is wrong with a map's entries, if anything: keys must increase
/// (byte order), none twice — the one form a map is stored in
/// ([`Value::map`] builds it).
fn misordered(entries: &[(String, Value)]) -> Option<String> {
    let w = entries.windows(2).find(|w| w[0].0 >= w[1].0)?;
    Some(if w[0].0 == w[1].0 {
        format!("a map with key {:?} twice", w[0].0)
    } else {
        format!(
            "a map with keys out of order ({:?} before {:?}; build it with Value::map)",
            w[0].0, w[1].0
        )
    })
}

/// An `Any` value: whatever it holds, its maps must be in the stored form.
fn any_at(value: &Value, path: &mut String) -> Result<(), TypeMismatch> {
    match value {
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                at(path, &format_args!("[{i}]"), &mut |p| any_at(item, p))?;
            }
            Ok(())
        }
        Value::Map(entries) => {
            if let Some(found) = misordered(entries) {
                return Err(TypeMismatch {
                    path: path.clone(),
                    expected: FieldType::Any.name(),
                    found,
                });
            }
            for (k, v) in entries {
                at(path, &format_args!("{{{k:?}}}"), &mut |p| any_at(v, p))?;
            }
            Ok(())
        }
        Value::Variant(v) => {
            let (name, payload) = &**v;
            at(path, &format_args!("::{name}"), &mut |p| any_at(payload, p))
        }
        _ => Ok(()),
    }
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
        if let Value::Map(entries) = value {
            if let Some(found) = misordered(entries) {
                return Err(mismatch(path, found));
            }
        }
        match (self, value) {
            (FieldType::Any, v) => any_at(v, path),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    /// The top-level field.
    pub field: FieldId,
    /// Member names below it (empty: the field's value itself).
    pub members: Vec<String>,
}

/// A secondary index of a class: over one field, a nested path, or a tuple
/// of them (compound).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
        put_u32(out, self.id.0);
        put_str(out, &self.name);
        put_u64(out, self.revision);
        put_u32(out, self.next_field_id);
        put_u32(out, self.next_index_id);
        put_len(out, self.fields.len());
        for f in &self.fields {
            put_u32(out, f.id.0);
            put_str(out, &f.name);
            put_type(out, &f.ty);
            put_bool(out, f.optional);
        }
        put_len(out, self.indexes.len());
        for index in &self.indexes {
            put_u32(out, index.id.0);
            put_str(out, &index.name);
            let (kind, unique) = match index.kind {
                IndexKind::Hash { unique } => (0, unique),
                IndexKind::Ordered { unique } => (1, unique),
            };
            put_u8(out, kind);
            put_bool(out, unique);
            put_len(out, index.parts.len());
            for part in &index.parts {
                put_u32(out, part.field.0);
                put_len(out, part.members.len());
                part.members.iter().for_each(|m| put_str(out, m));
            }
        }
        put_bool(out, self.provisional);
    }

    fn decode_body(body: &[u8]) -> Result<Self> {
        let mut i = Input::new(body, "class definition");
        let id = ClassId(i.u32()?);
        let name = i.str()?.to_owned();
        let revision = i.u64()?;
        let next_field_id = i.u32()?;
        let next_index_id = i.u32()?;
        // A field takes at least 10 bytes: id, name length, type tag, optional.
        let n = i.count(10)?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            fields.push(FieldDef {
                id: FieldId(i.u32()?),
                name: i.str()?.to_owned(),
                ty: read_type(&mut i)?,
                optional: i.bool()?,
            });
        }
        // An index takes at least 14 bytes: id, name length, kind, unique, parts.
        let n = i.count(14)?;
        let mut indexes = Vec::with_capacity(n);
        for _ in 0..n {
            let id = IndexId(i.u32()?);
            let name = i.str()?.to_owned();
            let kind = match (i.u8()?, i.bool()?) {
                (0, unique) => IndexKind::Hash { unique },
                (1, unique) => IndexKind::Ordered { unique },
                (t, _) => {
                    return Err(Error::malformed(format!(
                        "class definition: index kind {t:#04x}"
                    )))
                }
            };
            // A part takes at least 8 bytes: field id, member count.
            let n = i.count(8)?;
            let mut parts = Vec::with_capacity(n);
            for _ in 0..n {
                let field = FieldId(i.u32()?);
                let n = i.count(4)?;
                let mut members = Vec::with_capacity(n);
                for _ in 0..n {
                    members.push(i.str()?.to_owned());
                }
                parts.push(FieldPath { field, members });
            }
            indexes.push(IndexDef {
                id,
                name,
                kind,
                parts,
            });
        }
        let provisional = i.bool()?;
        i.finish()?;
        Ok(ClassDef {
            id,
            name,
            revision,
            next_field_id,
            next_index_id,
            fields,
            indexes,
            provisional,
        })
    }
}

mod type_tag {
    pub const BOOL: u8 = 0x00;
    pub const I64: u8 = 0x01;
    pub const U64: u8 = 0x02;
    pub const F64: u8 = 0x03;
    pub const STRING: u8 = 0x04;
    pub const BYTES: u8 = 0x05;
    pub const REF: u8 = 0x06;
    pub const OPTIONAL: u8 = 0x07;
    pub const LIST: u8 = 0x08;
    pub const TUPLE: u8 = 0x09;
    pub const MAP: u8 = 0x0A;
    pub const STRUCT: u8 = 0x0B;
    pub const ENUM: u8 = 0x0C;
    pub const ANY: u8 = 0x0D;
}

fn put_type(out: &mut Vec<u8>, ty: &FieldType) {
    use type_tag as t;
    match ty {
        FieldType::Bool => put_u8(out, t::BOOL),
        FieldType::I64 => put_u8(out, t::I64),
        FieldType::U64 => put_u8(out, t::U64),
        FieldType::F64 => put_u8(out, t::F64),
        FieldType::String => put_u8(out, t::STRING),
        FieldType::Bytes => put_u8(out, t::BYTES),
        FieldType::Ref => put_u8(out, t::REF),
        FieldType::Any => put_u8(out, t::ANY),
        FieldType::Optional(inner) => {
            put_u8(out, t::OPTIONAL);
            put_type(out, inner);
        }
        FieldType::List(inner) => {
            put_u8(out, t::LIST);
            put_type(out, inner);
        }
        FieldType::Tuple(types) => {
            put_u8(out, t::TUPLE);
            put_len(out, types.len());
            types.iter().for_each(|ty| put_type(out, ty));
        }
        FieldType::Map(inner) => {
            put_u8(out, t::MAP);
            put_type(out, inner);
        }
        FieldType::Struct(members) => {
            put_u8(out, t::STRUCT);
            put_len(out, members.len());
            for m in members {
                put_str(out, &m.name);
                put_type(out, &m.ty);
                put_bool(out, m.optional);
            }
        }
        FieldType::Enum(variants) => {
            put_u8(out, t::ENUM);
            put_len(out, variants.len());
            for v in variants {
                put_str(out, &v.name);
                match &v.payload {
                    None => put_u8(out, 0),
                    Some(ty) => {
                        put_u8(out, 1);
                        put_type(out, ty);
                    }
                }
            }
        }
    }
}

/// The most type constructors a decoded type may nest (an `optional`
/// around every depth level, and one at the top).
const MAX_TYPE_NESTING: usize = 2 * MAX_DEPTH + 1;

fn read_type(i: &mut Input<'_>) -> Result<FieldType> {
    let (ty, depth) = read_type_at(i, 0)?;
    if depth > MAX_DEPTH {
        return Err(Error::malformed(format!(
            "class definition: field type nested deeper than {MAX_DEPTH}"
        )));
    }
    Ok(ty)
}

/// Reads one type `nesting` constructors down; returns it with its
/// [`FieldType::depth`].
fn read_type_at(i: &mut Input<'_>, nesting: usize) -> Result<(FieldType, usize)> {
    use type_tag as t;
    if nesting >= MAX_TYPE_NESTING {
        return Err(Error::malformed(format!(
            "class definition: field type nests more than {MAX_TYPE_NESTING} constructors"
        )));
    }
    let inner = |i: &mut Input<'_>| read_type_at(i, nesting + 1);
    Ok(match i.u8()? {
        t::BOOL => (FieldType::Bool, 0),
        t::I64 => (FieldType::I64, 0),
        t::U64 => (FieldType::U64, 0),
        t::F64 => (FieldType::F64, 0),
        t::STRING => (FieldType::String, 0),
        t::BYTES => (FieldType::Bytes, 0),
        t::REF => (FieldType::Ref, 0),
        t::ANY => (FieldType::Any, 0),
        t::OPTIONAL => {
            let (ty, d) = inner(i)?;
            (FieldType::Optional(Box::new(ty)), d)
        }
        t::LIST => {
            let (ty, d) = inner(i)?;
            (FieldType::List(Box::new(ty)), d + 1)
        }
        t::MAP => {
            let (ty, d) = inner(i)?;
            (FieldType::Map(Box::new(ty)), d + 1)
        }
        t::TUPLE => {
            let n = i.count(1)?;
            let mut types = Vec::with_capacity(n);
            let mut depth = 0;
            for _ in 0..n {
                let (ty, d) = inner(i)?;
                depth = depth.max(d);
                types.push(ty);
            }
            (FieldType::Tuple(types), depth + 1)
        }
        t::STRUCT => {
            // A member takes at least 6 bytes: name length, type tag, optional.
            let n = i.count(6)?;
            let mut members = Vec::with_capacity(n);
            let mut depth = 0;
            for _ in 0..n {
                let name = i.str()?.to_owned();
                let (ty, d) = inner(i)?;
                depth = depth.max(d);
                members.push(MemberDef {
                    name,
                    ty,
                    optional: i.bool()?,
                });
            }
            (FieldType::Struct(members), depth + 1)
        }
        t::ENUM => {
            // A variant takes at least 5 bytes: name length, payload option.
            let n = i.count(5)?;
            let mut variants = Vec::with_capacity(n);
            let mut depth = 0;
            for _ in 0..n {
                let name = i.str()?.to_owned();
                let payload = if i.option()? {
                    let (ty, d) = inner(i)?;
                    depth = depth.max(d);
                    Some(ty)
                } else {
                    None
                };
                variants.push(VariantDef { name, payload });
            }
            (FieldType::Enum(variants), depth + 1)
        }
        other => {
            return Err(Error::malformed(format!(
                "class definition: field type tag {other:#04x}"
            )))
        }
    })
}
