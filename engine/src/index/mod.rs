//! # Index maintenance
//!
//! Owns: which index entries a record implies (`entries`), the commit plan
//! of a set of object changes and its batch (`plan`: entries to delete and
//! put, unique values to check and their lock stripes, caches to
//! invalidate), the uniqueness rule (`unique`), the committed state it
//! reads (`committed`: point-key holders and a record's tuples at one
//! store state), the striped locks with their one global order (`locks`),
//! and the log of writes a bulk build repairs (`build_log`).
//!
//! Pure but for `committed` (reads through a `kv::KvRead` it is given),
//! `locks` and `build_log` (in-memory state). The write path, the chunked
//! backfill, the bulk build, ingest and `verify` all ask this layer what
//! entries should exist and whether a unique value has two holders, so
//! each rule exists once.
//!
//! May call: `catalog` (definitions, index paths), `kv` (the committed
//! state, write batches), `error`.

pub(crate) mod build_log;
pub(crate) mod committed;
pub(crate) mod entries;
pub(crate) mod locks;
pub(crate) mod plan;
pub(crate) mod unique;
