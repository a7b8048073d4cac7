//! Prometheus metrics of one database, in a registry of its own that the
//! application can expose. Labels are bounded: operation kinds and result
//! kinds only, never ids or values.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

use crate::error::Result;

pub(crate) struct Metrics {
    registry: Registry,
    /// Committed write batches.
    pub writes: IntCounter,
    /// Operations per committed batch.
    pub batch_ops: Histogram,
    /// Objects written, by operation (insert, update, delete).
    pub objects: IntCounterVec,
    /// Refused unique values.
    pub unique_violations: IntCounter,
    /// Unique-lookup cache hits and misses.
    pub cache: IntCounterVec,
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
        let cache = IntCounterVec::new(
            Opts::new(
                "unique_cache_lookups_total",
                "Unique-lookup cache lookups, by result",
            ),
            &["result"],
        )
        .map_err(metric_error)?;
        for c in [
            Box::new(writes.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(batch_ops.clone()),
            Box::new(objects.clone()),
            Box::new(unique_violations.clone()),
            Box::new(cache.clone()),
        ] {
            registry.register(c).map_err(metric_error)?;
        }
        Ok(Metrics {
            registry,
            writes,
            batch_ops,
            objects,
            unique_violations,
            cache,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

fn metric_error(e: prometheus::Error) -> crate::Error {
    crate::Error::InvalidRequest(format!("metrics: {e}"))
}
