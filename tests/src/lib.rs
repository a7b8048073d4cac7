//! Shared helpers of rockhold's integration, crash, concurrency and corruption tests.
