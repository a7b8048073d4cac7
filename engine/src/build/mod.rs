//! # Index builds
//!
//! Owns: the builds' context (`BuildCtx`: the write path's plus the
//! runner's control) with the one function that applies a catalog change's
//! effects (`BuildCtx::apply`), reindex tasks and how one runs (`task`:
//! claim, backfill chunk by chunk, stale pass, final state), the sort-and-ingest build (`bulk`),
//! the background runner threads (`runner`) and the periodic self-check
//! (`self_check`).
//!
//! Every chunk a build writes goes through the same rules as a commit: the
//! catalog version pinned, the object stripes then the value stripes locked
//! (`index::locks`), the entries planned by `index::plan`, duplicates found
//! by `index::unique`. A bulk build's final step holds every writer off
//! (`CatalogCell::exclusive`); readers never wait for it.
//!
//! May call: `txn` (its context), `read`, `index`, `catalog`, `kv`,
//! `options`, `error`.

use std::sync::Arc;

use crate::catalog::Effects;
use crate::txn::WriteCtx;

pub(crate) mod bulk;
pub(crate) mod runner;
pub(crate) mod self_check;
pub(crate) mod task;

use runner::RunnerControl;

/// What builds (and the operator functions above them) need beyond the
/// write path's context: the runner's control. Owned once by the
/// database; derefs to the write context.
pub(crate) struct BuildCtx {
    pub write: WriteCtx,
    pub runner: RunnerControl,
}

impl std::ops::Deref for BuildCtx {
    type Target = WriteCtx;
    fn deref(&self) -> &WriteCtx {
        &self.write
    }
}

impl BuildCtx {
    /// Applies what a committed catalog change asks of the shared state:
    /// the one place that clears the lookup caches, refreshes the task
    /// metrics and wakes the runner after a catalog change.
    pub fn apply(&self, effects: Effects) {
        if effects.clear_caches {
            self.unique_cache.clear();
            self.class_cache.clear();
        }
        if effects.refresh_metrics {
            self.metrics.refresh_task_states(&self.catalog.load());
        }
        if effects.notify_runner {
            self.runner.notify();
        }
    }
}

/// What a runner thread holds: the database's shared state, lent as the
/// build context (the database handle implements it; this layer never
/// names it).
pub(crate) trait RunnerHost: Send + Sync + 'static {
    /// The build context.
    fn cx(&self) -> &BuildCtx;
}

/// Starts the runner threads (`Options::runner_threads`).
pub(crate) fn start_runner(host: &Arc<dyn RunnerHost>) {
    runner::start(host)
}
