//! Class definitions (`C` family).

use serde::{Deserialize, Serialize};

use crate::frame::{Record, RecordKind};
use crate::ids::{ClassId, FieldId};
use crate::value::Value;

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// `true` or `false`.
    Bool,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
    /// 64-bit float.
    F64,
    /// UTF-8 string.
    String,
    /// Raw bytes.
    Bytes,
    /// Reference to another object (its id).
    Ref,
}

impl FieldType {
    /// Whether `value` is a value of this type. `Absent` is of no type; whether
    /// it is allowed depends on the field being optional.
    pub fn admits(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (FieldType::Bool, Value::Bool(_))
                | (FieldType::I64, Value::I64(_))
                | (FieldType::U64, Value::U64(_))
                | (FieldType::F64, Value::F64(_))
                | (FieldType::String, Value::String(_))
                | (FieldType::Bytes, Value::Bytes(_))
                | (FieldType::Ref, Value::Ref(_))
        )
    }

    /// The lower-case name of the type, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Bool => "bool",
            FieldType::I64 => "i64",
            FieldType::U64 => "u64",
            FieldType::F64 => "f64",
            FieldType::String => "string",
            FieldType::Bytes => "bytes",
            FieldType::Ref => "ref",
        }
    }
}

/// How a field is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexKind {
    /// Not indexed.
    None,
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
    /// Whether this kind has index entries at all.
    pub fn is_indexed(self) -> bool {
        !matches!(self, IndexKind::None)
    }

    /// Whether at most one object may hold a value.
    pub fn is_unique(self) -> bool {
        matches!(
            self,
            IndexKind::Hash { unique: true } | IndexKind::Ordered { unique: true }
        )
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
    /// How it is indexed.
    pub index: IndexKind,
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
    /// The current fields, in declaration order.
    pub fields: Vec<FieldDef>,
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
}

impl Record for ClassDef {
    const KIND: RecordKind = RecordKind::Class;
}
