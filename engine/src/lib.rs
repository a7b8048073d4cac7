//! # rockhold
//!
//! An embedded, typed object store with secondary indexes, on RocksDB.
//!
//! Objects live in classes (schemas) inside namespaces. Every insert, update
//! and delete, and every index entry it implies (locator, hash, ordered),
//! commit in **one** RocksDB `WriteBatch`: the indexes never contradict the
//! data, after a crash or under concurrent writers. Unique constraints hold
//! across threads and inside one transaction.
//!
//! ## Typed models
//!
//! ```
//! use rockhold::{Db, MemStore, Model, Options, Schema};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize, Schema)]
//! struct Address { city: String }
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize, Model)]
//! #[model(class = "user", key = "email")]
//! #[model(index(name = "by_city", hash, fields("address.city"), key = String))]
//! struct User {
//!     #[index(unique)]  email: String,
//!     #[index(ordered)] age: u32,
//!     #[index(hash)]    tags: Vec<String>,
//!     address: Option<Address>,
//! }
//!
//! let db = Db::open_memory(&MemStore::new(), Options::default())?;
//! let users = db.collection::<User>()?;
//! let ada = User { email: "ada@x.org".into(), age: 36, tags: vec!["math".into()],
//!                  address: Some(Address { city: "London".into() }) };
//! let id = users.insert(&ada)?;
//!
//! // Unique lookups return the object in one read; ranges stream.
//! assert_eq!(users.get_unique(User::EMAIL, "ada@x.org")?.map(|(i, _)| i), Some(id));
//! assert_eq!(users.find_all(User::BY_CITY, "London")?, vec![id]);
//! assert_eq!(users.find_all(User::TAGS, "math")?, vec![id]);
//! let in_30s: Vec<_> = users.range(User::AGE, 30..40)?.collect::<Result<_, _>>()?;
//! assert_eq!(in_30s.len(), 1);
//!
//! // Natural keys.
//! assert_eq!(users.get_by_key("ada@x.org")?.map(|(i, _)| i), Some(id));
//!
//! // A read-write transaction: serializable, retried on conflict.
//! let mut feed = users.watch()?;
//! db.write(|tx| {
//!     let mut u = tx.of::<User>().get(id)?.expect("exists");
//!     u.age += 1;
//!     tx.of::<User>().update(id, &u)
//! })?;
//! assert_eq!(feed.recv()?.object.map(|u| u.age), Some(37));
//! # Ok::<(), rockhold::Error>(())
//! ```
//!
//! ## Transactions and isolation
//!
//! [`Db::write`](crate::Db::write) (or [`Db::begin`](crate::Db::begin) … [`Transaction::commit`]) runs a
//! read-write transaction. Its reads ([`Transaction::get`],
//! [`Transaction::find_unique`], [`Transaction::find_all`],
//! [`Transaction::scan`], and the typed [`TxCollection`]) see its own
//! staged writes over a snapshot taken at its first read. At commit, under
//! the commit's locks, every read is run again against the latest state: if
//! any answer changed (an object, a unique value's holder, the ids a lookup
//! or a scan returned: phantoms included), the commit is the retryable
//! [`Error::Conflict`] and nothing is written. The isolation level is
//! therefore **serializable** for every read a transaction makes, scans
//! included (transactions that scanned serialize their commits on one
//! lock). Not covered: reads made outside the transaction, and side effects
//! of a [`Db::write`](crate::Db::write) closure, which may run more than once. Read-only work
//! needs no transaction: [`Db::snapshot`](crate::Db::snapshot) is a consistent point.
//!
//! ## The dynamic API
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
pub use admin::repair::QuarantineReport;
pub use admin::verify::{Problem, SkippedIndex, VerifyReport};
pub use catalog::schema::{ClassSpec, FieldSpec, IndexSpec, IndexState, MAX_INDEX_PARTS};
pub use db::class::Class;
pub use db::collection::{
    Collection, ObjectIter, RangeIds, RangeIter, TxCollection, TypedChange, TypedWatch,
};
pub use db::Db;
pub use error::{BackendError, Error, Result, TaskInfo};
pub use feed::{Change, ChangeKind, Watch};
pub use kv::{column_family, MemStore, COLUMN_FAMILIES};
pub use options::{BuildStage, Options};
pub use read::{
    Cursor, Facet, FacetPage, FindAll, FindPage, Object, RangeScan, ScanPage, Snapshot,
};
/// `#[derive(Model)]` and `#[derive(Schema)]`: see the macros' docs for
/// the attributes they take.
pub use rockhold_derive::{Model, Schema};
pub use txn::Transaction;
pub use typed::model::{
    kind, Bytes, Id, IndexKindOf, IndexRef, Key, KeyedModel, Model, Range, Schema, Unique,
};

/// Test doubles of the storage, with the `testing` feature: a store in
/// memory that injects storage failures on demand ([`testing::FaultyStore`],
/// opened with [`Db::open_faulty`](crate::Db::open_faulty)).
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    pub use crate::kv::faults::FaultyStore;
}

/// What `#[derive(Model)]` and `#[derive(Schema)]` expand to refers to;
/// not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::typed::model::{element, expand, member};
}

pub use rockhold_format::{
    ClassDef, Family, FieldDef, FieldPath, FieldType, FormatVersion, IndexDef, IndexId, IndexKind,
    MemberDef, NamespaceId, ObjectId, TaskRecord, TaskState, Value, VariantDef, MAX_DEPTH,
};
