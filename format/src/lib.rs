//! # rockhold-format
//!
//! Every byte rockhold writes to RocksDB is produced and parsed here: the key
//! families with their prefixes, the order-preserving value encoding used in
//! ordered-index keys, the keyed hash of hash-index keys, and the framing
//! (version, kind, crc32) of every stored record with its hand-coded body.
//! Object records are read in place, field by field ([`RecordView`],
//! [`ValueRef`]); [`v1`] reads format v1 records and [`v2`] format v2 keys,
//! for migration.
//! docs/FORMAT.md is the byte-level specification; its worked examples are
//! checked by this crate's tests.
//!
//! The crate is pure and total: no I/O, no RocksDB, and no input makes a
//! decoder panic: every failure is an [`Error`].
//!
//! ```
//! use rockhold_format::{Key, ObjectKey, NamespaceId, ObjectId, ObjectRecord, ClassId,
//!                       FieldId, Record, Value};
//!
//! let key = ObjectKey { ns: NamespaceId(1), class: ClassId(7), id: ObjectId(42) };
//! let bytes = key.encode();
//! assert_eq!(ObjectKey::decode(&bytes)?, key);
//!
//! let record = ObjectRecord {
//!     class: ClassId(7),
//!     fields: vec![(FieldId(1), Value::from("alice@example.com"))],
//! };
//! assert_eq!(ObjectRecord::decode(&record.encode())?, record);
//!
//! // Ordered encodings compare like the values they encode.
//! assert!(Value::I64(-5).encode_ordered() < Value::I64(3).encode_ordered());
//! # Ok::<(), rockhold_format::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod coding;
mod counters;
mod error;
mod frame;
mod hash;
mod ids;
mod keys;
mod reader;
mod records;
mod stored;
pub mod v1;
pub mod v2;
mod value;
mod value_serde;
mod version;

pub use counters::next_counter;
pub use error::{Error, Result};
pub use frame::{
    check_body_len, frame_raw, unframe, unframe_any, Record, RecordKind, FRAME_HEADER_LEN,
    FRAME_VERSION, MAX_BODY_LEN,
};
pub use hash::HashSeed;
pub use ids::{ClassId, FieldId, IndexId, NamespaceId, ObjectId};
pub use keys::{
    check_name, decode_hash_holders, decode_holders, decode_locator, decode_tuple_value,
    encode_hash_holders, encode_holders, encode_locator, prefix_successor, AnyKey, ClassKey,
    Family, GenerationKey, HashKey, Holder, IndexShape, Key, LocatorKey, MetaKey, NameKey,
    NameKind, ObjectKey, OrderedKey, OrderedKeyRef, RawOrderedKey, TaskKey, CLASS_PREFIX,
    GENERATION_PREFIX, HASH_INDEX_PREFIX, HASH_POINT_KEY_LEN, LOCATOR_PREFIX, MAX_HELD_TUPLE,
    MAX_NAME_LEN, META_PREFIX, NAME_PREFIX, OBJECT_KEY_LEN, OBJECT_PREFIX, ORDERED_INDEX_PREFIX,
    TASK_PREFIX,
};
pub use records::{
    ClassDef, FieldDef, FieldPath, FieldType, Fields, IndexDef, IndexKind, MemberDef, MetaValue,
    NameEntry, ObjectRecord, RecordView, TaskRecord, TaskState, TypeMismatch, VariantDef,
};
pub use stored::{ListIter, ListRef, MapIter, MapRef, ValueRef, VariantRef};
pub use value::{decode_tuple, encode_tuple_into, Value, MAX_DEPTH, MAX_ORDERED_VALUE_LEN};
#[doc(hidden)]
pub use value_serde::{VALUE_TOKEN, VALUE_VARIANTS};

/// The database format versions; the one this build writes, stored under
/// `MetaKey::FormatVersion`, is [`FormatVersion::CURRENT`]. A database of
/// another version is refused at open.
pub use version::FormatVersion;

#[cfg(test)]
mod format_doc_examples;
