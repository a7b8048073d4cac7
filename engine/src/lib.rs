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

mod admin;
mod bulk_build;
mod cache;
mod catalog;
mod db;
mod dirlock;
mod error;
mod index_entries;
mod ingest;
mod locks;
mod metrics;
mod options;
mod read;
mod reindex;
mod runner;
mod schema;
mod self_check;
mod storage;
mod typed;
mod verify;
mod write;

pub use admin::{list_backups, purge_backups, restore_backup, verify_backup, BackupInfo};
pub use db::Db;
pub use error::{Error, Result};
pub use options::Options;
pub use read::{Cursor, FindAll, FindPage, Object, RangeScan, ScanPage, Snapshot};
pub use runner::TaskInfo;
pub use schema::{ClassSpec, FieldSpec, IndexState};
pub use storage::{column_family, COLUMN_FAMILIES};
pub use verify::{Problem, VerifyReport};
pub use write::Transaction;

pub use rockhold_format::{
    ClassDef, Family, FieldDef, FieldType, IndexKind, NamespaceId, ObjectId, TaskRecord, TaskState,
    Value,
};
