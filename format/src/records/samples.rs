//! One sample of each record type, shared by the record tests and the
//! FORMAT.md example test.

use crate::hash::HashSeed;
use crate::ids::{ClassId, FieldId, IndexId, ObjectId};
use crate::records::*;
use crate::value::Value;

pub(crate) fn class_def() -> ClassDef {
    ClassDef {
        id: ClassId(1),
        name: "user".into(),
        revision: 1,
        next_field_id: 4,
        next_index_id: 3,
        fields: vec![
            FieldDef {
                id: FieldId(1),
                name: "email".into(),
                ty: FieldType::String,
                optional: false,
            },
            FieldDef {
                id: FieldId(2),
                name: "age".into(),
                ty: FieldType::U64,
                optional: true,
            },
            FieldDef {
                id: FieldId(3),
                name: "tags".into(),
                ty: FieldType::List(Box::new(FieldType::String)),
                optional: true,
            },
        ],
        indexes: vec![
            IndexDef {
                id: IndexId(1),
                name: "email".into(),
                kind: IndexKind::Hash { unique: true },
                parts: vec![FieldPath {
                    field: FieldId(1),
                    members: vec![],
                }],
            },
            IndexDef {
                id: IndexId(2),
                name: "tag_age".into(),
                kind: IndexKind::Ordered { unique: false },
                parts: vec![
                    FieldPath {
                        field: FieldId(3),
                        members: vec![],
                    },
                    FieldPath {
                        field: FieldId(2),
                        members: vec![],
                    },
                ],
            },
        ],
        provisional: false,
    }
}

pub(crate) fn object() -> ObjectRecord {
    ObjectRecord {
        class: ClassId(1),
        fields: vec![
            (FieldId(1), Value::from("a@x.io")),
            (FieldId(2), Value::U64(30)),
            (FieldId(3), Value::List(vec![Value::from("x")])),
        ],
    }
}

pub(crate) fn task() -> TaskRecord {
    TaskRecord {
        state: TaskState::InProgress,
        revision: 4,
        attempts: 1,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_500,
        not_before_ms: 0,
        cursor: Some(ObjectId(1000)),
        entries_added: 1000,
        stale_removed: 0,
        last_error: None,
        conflicts: vec![],
    }
}

pub(crate) fn meta_counter() -> MetaValue {
    MetaValue::Counter(1025)
}

pub(crate) fn meta_seed() -> MetaValue {
    MetaValue::HashSeed(HashSeed { k0: 1, k1: 2 })
}

pub(crate) fn name_entry() -> NameEntry {
    NameEntry { id: 1 }
}
