//! # rockhold
//!
//! An embedded, typed object store with secondary indexes, on RocksDB.
//!
//! Objects live in classes (schemas) inside namespaces. Every insert, update
//! and delete, and every index entry it implies (full-scan, hash, ordered),
//! commit in **one** RocksDB `WriteBatch`: the indexes never contradict the
//! data, after a crash or under concurrent writers. Unique constraints hold
//! across threads and inside one transaction.
//!
//! ```
//! use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, Options, RangeScan, Value};
//! use std::ops::Bound;
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.create_class("default", &ClassSpec::new("user")
//!     .field(FieldSpec::new("email", FieldType::String).unique_hash())
//!     .field(FieldSpec::new("age", FieldType::U64).ordered()))?;
//!
//! let alice = db.insert("default", "user", [("email", Value::from("alice@x.io")), ("age", 31u64.into())])?;
//! db.insert("default", "user", [("email", Value::from("bob@x.io")), ("age", 25u64.into())])?;
//!
//! assert_eq!(db.find_unique("default", "user", "email", &"alice@x.io".into())?, Some(alice));
//! let adults = db.scan("default", "user", "age",
//!     &RangeScan::between(Bound::Included(30u64.into()), Bound::Unbounded))?;
//! assert_eq!(adults.hits, vec![(Value::U64(31), alice)]);
//!
//! // A second holder of a unique value is refused, and nothing is written.
//! let err = db.insert("default", "user", [("email", Value::from("alice@x.io")), ("age", 1u64.into())]);
//! assert!(matches!(err, Err(Error::UniqueViolation { existing, .. }) if existing == alice));
//! db.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The derives name `::rockhold::...`, in this crate's own tests too.
#[allow(unused_extern_crates)]
extern crate self as rockhold;

mod admin;
mod build;
mod catalog;
mod db;
mod error;
mod feed;
mod index;
mod kv;
mod metrics;
mod options;
mod read;
mod txn;
mod typed;

pub use admin::backup::BackupInfo;
#[cfg(feature = "rocksdb")]
pub use admin::backup::{list_backups, purge_backups, restore_backup, verify_backup};
pub use admin::migrate::MigrationReport;
pub use admin::verify::{Problem, VerifyReport};
pub use build::runner::TaskInfo;
pub use catalog::ddl::{ClassSpec, FieldSpec, IndexSpec, IndexState, MAX_INDEX_PARTS};
pub use db::Db;
pub use error::{BackendError, Error, Result};
pub use feed::{Change, ChangeKind, Watch};
pub use kv::{column_family, MemStore, COLUMN_FAMILIES};
pub use options::{BuildStage, Options};
pub use read::{Cursor, FindAll, FindPage, Object, RangeScan, ScanPage, Snapshot};
/// `#[derive(Model)]` and `#[derive(Schema)]`: see the macros' docs for
/// the attributes they take.
pub use rockhold_derive::{Model, Schema};
pub use txn::Transaction;
pub use typed::collection::{Collection, RangeIter, TxCollection, TypedChange, TypedWatch};
pub use typed::model::{
    kind, Id, IndexKindOf, IndexRef, Key, KeyedModel, Model, Range, Schema, Unique,
};

/// What `#[derive(Model)]` and `#[derive(Schema)]` expand to refers to;
/// not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::typed::model::element;
}

pub use rockhold_format::{
    ClassDef, Family, FieldDef, FieldPath, FieldType, IndexDef, IndexId, IndexKind, MemberDef,
    NamespaceId, ObjectId, TaskRecord, TaskState, Value, VariantDef, MAX_DEPTH,
};
