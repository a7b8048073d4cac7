//! # Layer 2: index maintenance
//!
//! Owns: which index entries a record implies (`entries`), the commit plan
//! of a set of object changes (`plan`: entries to delete and put, unique
//! values to check, caches to invalidate), the uniqueness rule (`unique`),
//! and the striped locks with their one global order (`locks`).
//!
//! Everything here is pure but `locks`: no storage access (what the
//! uniqueness rule must read of committed data, it asks through
//! `unique::Committed`). The write path,
//! the chunked backfill, the bulk build, ingest and `verify` all ask this
//! layer what entries should exist and whether a unique value has two
//! holders, so each rule exists once.
//!
//! May call: `rockhold_format`, `crate::error`.

pub(crate) mod build_log;
pub(crate) mod entries;
pub(crate) mod locks;
pub(crate) mod plan;
pub(crate) mod unique;
