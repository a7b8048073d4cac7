//! Object records (`O` family).

use serde::{Deserialize, Serialize};

use crate::frame::{Record, RecordKind};
use crate::ids::{ClassId, FieldId};
use crate::value::Value;

/// An object as stored: its class and the values of its present fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The object's class.
    pub class: ClassId,
    /// Present fields by id, in increasing id order; absent fields are omitted.
    pub fields: Vec<(FieldId, Value)>,
}

impl ObjectRecord {
    /// The value of field `id`, `Absent` when the record does not hold it.
    pub fn value(&self, id: FieldId) -> &Value {
        const ABSENT: &Value = &Value::Absent;
        self.fields
            .binary_search_by_key(&id, |(f, _)| *f)
            .map_or(ABSENT, |i| &self.fields[i].1)
    }
}

impl Record for ObjectRecord {
    const KIND: RecordKind = RecordKind::Object;
}
