//! The framed values stored under keys: meta values, name entries, class
//! definitions, object records and reindex tasks.

mod class;
mod meta;
mod object;
mod task;

pub use class::{
    ClassDef, FieldDef, FieldPath, FieldType, IndexDef, IndexKind, MemberDef, TypeMismatch,
    VariantDef,
};
pub use meta::{MetaValue, NameEntry};
pub use object::{Fields, ObjectRecord, RecordView};
pub use task::{TaskRecord, TaskState};

#[cfg(test)]
pub(crate) mod samples;
