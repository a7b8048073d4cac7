//! Prometheus metrics of one database, in a registry of its own that the
//! application can expose. Labels are bounded: operation kinds and result
//! kinds only, never ids or values.
//!
//! May call: `catalog` (task states to count), `error`.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use rockhold_format::TaskState;

use crate::catalog::Catalog;

use crate::error::Result;

pub(crate) struct Metrics {
    registry: Registry,
    /// Committed write batches.
    pub writes: IntCounter,
    /// Operations per committed batch.
    pub batch_ops: Histogram,
    /// Refused unique values.
    pub unique_violations: IntCounter,
    pub write_conflicts: IntCounter,
    /// Unique-lookup cache lookups by result, resolved once (hot path).
    pub cache_hit: IntCounter,
    pub cache_miss: IntCounter,
    pub cache_stale: IntCounter,
    /// Objects written by operation, resolved once (hot path).
    pub inserted: IntCounter,
    pub updated: IntCounter,
    pub deleted: IntCounter,
    /// Reindex runs by result (done, conflict, retry, failed).
    pub reindex_runs: IntCounterVec,
    /// Duration of reindex runs.
    pub reindex_seconds: Histogram,
    /// Index entries written by backfills.
    pub reindex_entries: IntCounter,
    /// Stale index entries removed.
    pub reindex_stale: IntCounter,
    /// Entries the periodic self-check had to repair (added or removed).
    pub self_check_repairs: IntCounter,
    /// Tasks per state.
    pub tasks: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics> {
        let registry = Registry::new_custom(Some("rockhold".into()), None).map_err(metric_error)?;
        let writes =
            IntCounter::new("writes_total", "Committed write batches").map_err(metric_error)?;
        let batch_ops = Histogram::with_opts(
            HistogramOpts::new("batch_operations", "Operations per committed batch")
                .buckets(vec![1.0, 2.0, 5.0, 10.0, 100.0, 1000.0, 10000.0]),
        )
        .map_err(metric_error)?;
        let objects = IntCounterVec::new(
            Opts::new("objects_written_total", "Objects written, by operation"),
            &["op"],
        )
        .map_err(metric_error)?;
        let unique_violations = IntCounter::new(
            "unique_violations_total",
            "Writes refused by a unique index",
        )
        .map_err(metric_error)?;
        let write_conflicts = IntCounter::new(
            "write_conflicts_total",
            "Read-write transaction attempts that met a conflict and were retried",
        )
        .map_err(metric_error)?;
        let cache = IntCounterVec::new(
            Opts::new(
                "unique_cache_lookups_total",
                "Unique-lookup cache lookups, by result",
            ),
            &["result"],
        )
        .map_err(metric_error)?;
        let reindex_runs = IntCounterVec::new(
            Opts::new("reindex_runs_total", "Reindex task runs, by result"),
            &["result"],
        )
        .map_err(metric_error)?;
        let reindex_seconds = Histogram::with_opts(
            HistogramOpts::new("reindex_duration_seconds", "Duration of reindex task runs")
                .buckets(vec![0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0]),
        )
        .map_err(metric_error)?;
        let reindex_entries = IntCounter::new(
            "reindex_entries_total",
            "Index entries written by backfills",
        )
        .map_err(metric_error)?;
        let reindex_stale =
            IntCounter::new("reindex_stale_removed_total", "Stale index entries removed")
                .map_err(metric_error)?;
        let self_check_repairs = IntCounter::new(
            "self_check_repairs_total",
            "Index entries repaired by the self-check",
        )
        .map_err(metric_error)?;
        let tasks = IntGaugeVec::new(
            Opts::new("reindex_tasks", "Reindex tasks, by state"),
            &["state"],
        )
        .map_err(metric_error)?;
        for c in [
            Box::new(reindex_runs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reindex_seconds.clone()),
            Box::new(reindex_entries.clone()),
            Box::new(reindex_stale.clone()),
            Box::new(self_check_repairs.clone()),
            Box::new(tasks.clone()),
            Box::new(writes.clone()),
            Box::new(batch_ops.clone()),
            Box::new(objects.clone()),
            Box::new(unique_violations.clone()),
            Box::new(write_conflicts.clone()),
            Box::new(cache.clone()),
        ] {
            registry.register(c).map_err(metric_error)?;
        }
        Ok(Metrics {
            registry,
            writes,
            batch_ops,
            cache_hit: cache.with_label_values(&["hit"]),
            cache_miss: cache.with_label_values(&["miss"]),
            cache_stale: cache.with_label_values(&["stale"]),
            inserted: objects.with_label_values(&["insert"]),
            updated: objects.with_label_values(&["update"]),
            deleted: objects.with_label_values(&["delete"]),
            unique_violations,
            write_conflicts,
            reindex_runs,
            reindex_seconds,
            reindex_entries,
            reindex_stale,
            self_check_repairs,
            tasks,
        })
    }

    /// Sets the per-state task gauges from the catalog.
    pub fn refresh_task_states(&self, cat: &Catalog) {
        let states = [
            TaskState::Pending,
            TaskState::InProgress,
            TaskState::Done,
            TaskState::Failed,
            TaskState::Remove,
        ];
        let mut counts = [0i64; 5];
        for class in cat.all_classes() {
            for task in class.tasks.values() {
                if let Some(i) = states.iter().position(|s| *s == task.state) {
                    counts[i] += 1;
                }
            }
        }
        for (state, n) in states.iter().zip(counts) {
            self.tasks.with_label_values(&[state.name()]).set(n);
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

fn metric_error(e: prometheus::Error) -> crate::Error {
    crate::Error::Internal {
        what: "registering the metrics",
        source: Box::new(e),
    }
}
