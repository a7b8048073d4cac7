//! # Layer 4b: index builds
//!
//! Owns: reindex tasks and how one runs (`task`: claim, backfill chunk by
//! chunk, stale pass, final state), the sort-and-ingest build (`bulk`),
//! the background runner threads (`runner`) and the periodic self-check
//! (`self_check`).
//!
//! Every chunk a build writes goes through the same rules as a commit: the
//! catalog version pinned, the object stripes then the value stripes locked
//! (`index::locks`), the entries planned by `index::plan`, duplicates found
//! by `index::unique`. A bulk build's final step holds every writer off
//! (`CatalogCell::exclusive`); readers never wait for it.
//!
//! May call: `catalog`, `index`, `read`, `kv`.

pub(crate) mod bulk;
pub(crate) mod runner;
pub(crate) mod self_check;
pub(crate) mod task;
