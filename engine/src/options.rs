//! Options of a database, with the defaults a careful user would choose.
//!
//! May call: `kv` (its defaults and the backend configuration it builds,
//! `Options::kv_config`).

use std::time::Duration;

/// How a database is opened and run. Build with `Options::default()` and the
/// setter methods.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) create_if_missing: bool,
    pub(crate) sync_writes: bool,
    pub(crate) memory_budget: usize,
    pub(crate) write_buffer_bytes: usize,
    pub(crate) unique_cache_entries: usize,
    pub(crate) class_cache_entries: usize,
    pub(crate) lock_stripes: usize,
    pub(crate) runner_threads: usize,
    pub(crate) reindex_chunk: usize,
    pub(crate) runner_tick: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) write_attempts: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) self_check_interval: Option<Duration>,
    pub(crate) fixed_hash_seed: Option<(u64, u64)>,
    pub(crate) test_hash_bits: u32,
    pub(crate) bulk_build_memory: usize,
    pub(crate) build_hook: Option<BuildHook>,
    pub(crate) dir_mode: u32,
    pub(crate) durable_mark_interval: Duration,
    pub(crate) accept_lost_writes: bool,
    pub(crate) feed_capacity: usize,
}

/// A named point of a bulk index build (sort and ingest), where
/// [`Options::build_hook`] runs its callback: a typed failpoint for tests
/// that must act at exactly that moment (write, read, take a backup, crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuildStage {
    /// The snapshot is read and its entries sorted; no lock is held, the
    /// callback may write.
    Scanned,
    /// The files are written and about to be ingested; every writer is held
    /// off (the callback must not write, or it waits for itself), readers
    /// are not.
    BeforeIngest,
    /// The files are ingested and every writer released.
    Ingested,
}

/// The callback of [`Options::build_hook`].
#[derive(Clone)]
pub(crate) struct BuildHook(std::sync::Arc<dyn Fn(BuildStage) + Send + Sync>);

impl std::fmt::Debug for BuildHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuildHook")
    }
}

impl Default for Options {
    /// The storage settings default to the backend's defaults
    /// (`kv::Config::default`).
    fn default() -> Self {
        let kv = crate::kv::Config::default();
        Options {
            create_if_missing: kv.create_if_missing,
            sync_writes: false,
            memory_budget: kv.memory_budget,
            write_buffer_bytes: kv.write_buffer_bytes,
            unique_cache_entries: 65_536,
            class_cache_entries: 65_536,
            lock_stripes: 4096,
            runner_threads: 1,
            reindex_chunk: 1000,
            runner_tick: Duration::from_secs(1),
            max_attempts: 5,
            write_attempts: 16,
            retry_backoff: Duration::from_millis(200),
            self_check_interval: None,
            fixed_hash_seed: None,
            test_hash_bits: 64,
            bulk_build_memory: 256 << 20,
            build_hook: None,
            dir_mode: kv.dir_mode,
            durable_mark_interval: kv.durable_mark_interval,
            accept_lost_writes: kv.accept_lost_writes,
            feed_capacity: 65_536,
        }
    }
}

impl Options {
    /// What the storage backend is opened with: the one place the engine's
    /// options become the backend's configuration.
    #[cfg(feature = "rocksdb")]
    pub(crate) fn kv_config(&self) -> crate::kv::Config {
        crate::kv::Config {
            create_if_missing: self.create_if_missing,
            dir_mode: self.dir_mode,
            memory_budget: self.memory_budget,
            write_buffer_bytes: self.write_buffer_bytes,
            durable_mark_interval: self.durable_mark_interval,
            accept_lost_writes: self.accept_lost_writes,
        }
    }

    /// Create the database when the path holds none (default `true`).
    pub fn create_if_missing(mut self, yes: bool) -> Self {
        self.create_if_missing = yes;
        self
    }

    /// Whether writes fsync the WAL before they return (default `false`:
    /// a committed write survives a process crash but may be lost with the
    /// machine). A transaction can choose otherwise for itself.
    pub fn sync_writes(mut self, yes: bool) -> Self {
        self.sync_writes = yes;
        self
    }

    /// The memory RocksDB may take for data: the block cache and the
    /// memtables under one limit (default 128 MiB, at least 8 MiB). The
    /// memtables' memory is charged to the cache, so writes evict cached
    /// blocks rather than add to the total, and all memtables are flushed
    /// when they hold half the budget. Outside it: the SST files' index and
    /// filter blocks, kept in memory by the table readers (about 2 bytes
    /// per key; `rocksdb.estimate-table-readers-mem`), and the engine's own
    /// caches (`unique_cache_entries`, `class_cache_entries`, the change
    /// feed). docs/PERFORMANCE.md has the peak RSS it gives.
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes.max(8 << 20);
        self
    }

    /// The largest memtable of a column family (default 32 MiB; at most a
    /// quarter of [`Options::memory_budget`]).
    pub fn write_buffer_bytes(mut self, bytes: usize) -> Self {
        self.write_buffer_bytes = bytes.max(1 << 20);
        self
    }

    /// Entries of the unique-lookup cache, (class, field, value) → object
    /// (default 65,536; 0 disables it).
    pub fn unique_cache_entries(mut self, entries: usize) -> Self {
        self.unique_cache_entries = entries;
        self
    }

    /// Entries of the object → class cache (default 65,536; 0 disables it).
    pub fn class_cache_entries(mut self, entries: usize) -> Self {
        self.class_cache_entries = entries;
        self
    }

    /// Changes the change feed retains for its watches ([`crate::Db::watch`]),
    /// shared by all of them (default 65,536; at least 1, and the newest
    /// commit is always retained whatever its size). A watch further behind
    /// gets [`crate::Error::Lagged`]. Each retained change holds its encoded
    /// record plus about 100 bytes, so the feed's memory is about this many
    /// times (record size + 100 B); it is held only while a watch exists.
    pub fn feed_capacity(mut self, changes: usize) -> Self {
        self.feed_capacity = changes.max(1);
        self
    }

    /// Number of lock stripes for unique values and objects (default 4,096).
    /// More stripes, fewer false conflicts between unrelated writers.
    pub fn lock_stripes(mut self, stripes: usize) -> Self {
        self.lock_stripes = stripes.max(1);
        self
    }

    /// Background reindex threads (default 1; 0 runs tasks only through
    /// `check_reindex_tasks`). Capped at 16.
    pub fn runner_threads(mut self, threads: usize) -> Self {
        self.runner_threads = threads.min(16);
        self
    }

    /// Objects per backfill batch (default 1,000): each chunk's index entries
    /// and the task's cursor commit in one WriteBatch.
    pub fn reindex_chunk(mut self, objects: usize) -> Self {
        self.reindex_chunk = objects.max(1);
        self
    }

    /// How often an idle runner looks for due tasks without being woken
    /// (default 1 s): retries after backoff and self-checks are found this way.
    pub fn runner_tick(mut self, tick: Duration) -> Self {
        self.runner_tick = tick.max(Duration::from_millis(1));
        self
    }

    /// Attempts of a [`crate::Db::write`] closure that meets conflicts
    /// before the call gives up with `Error::ConflictRetriesExhausted`
    /// (default 16; at least 1).
    pub fn write_attempts(mut self, attempts: u32) -> Self {
        self.write_attempts = attempts.max(1);
        self
    }

    /// Attempts of a failing task before it ends `Failed` (default 5).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Delay before the first retry of a failed attempt, doubled at each
    /// further attempt (default 200 ms).
    pub fn retry_backoff(mut self, delay: Duration) -> Self {
        self.retry_backoff = delay;
        self
    }

    /// Memory a task may use to build an index by sorting its entries and
    /// ingesting them as SST files (default 256 MiB: about 5 million
    /// entries of a hash index). A class whose entries do not fit, and a
    /// task that was building chunk by chunk before a crash, is built chunk
    /// by chunk through write batches instead; `0` always does that.
    pub fn bulk_build_memory(mut self, bytes: usize) -> Self {
        self.bulk_build_memory = bytes;
        self
    }

    /// Runs `hook` at each [`BuildStage`] of a bulk index build. For tests
    /// that write, read, back up or crash at exactly those moments; the
    /// stages say what the hook may do there.
    pub fn build_hook(mut self, hook: impl Fn(BuildStage) + Send + Sync + 'static) -> Self {
        self.build_hook = Some(BuildHook(std::sync::Arc::new(hook)));
        self
    }

    /// Calls the build hook, if any, at `stage`.
    pub(crate) fn at_build_stage(&self, stage: BuildStage) {
        if let Some(hook) = &self.build_hook {
            (hook.0)(stage);
        }
    }

    /// Permission bits of the directories the engine creates: the database
    /// directory (when `create_if_missing` creates it), backup directories
    /// and checkpoints (default `0o700`: only the owner can read the data,
    /// whatever the umask). An existing directory keeps its mode.
    pub fn dir_mode(mut self, mode: u32) -> Self {
        self.dir_mode = mode & 0o7777;
        self
    }

    /// How often (at most) a commit also syncs the WAL and records the last
    /// durable sequence number in `ROCKHOLD-DURABLE` (default 1 s; also at
    /// `close`). An open that finds fewer writes than recorded — a deleted
    /// or truncated WAL — fails with `Error::WritesLost`. Writes made after
    /// the last record (at most one interval's worth before a crash) are
    /// not covered: see docs/ARCHITECTURE.md, "Lost WAL detection".
    pub fn durable_mark_interval(mut self, every: Duration) -> Self {
        self.durable_mark_interval = every;
        self
    }

    /// Opens a database even though writes recorded as durable are missing
    /// (`Error::WritesLost`): the operator accepts the loss, and the record
    /// is moved to what is there. Run `verify` afterwards. Default `false`.
    pub fn accept_lost_writes(mut self, yes: bool) -> Self {
        self.accept_lost_writes = yes;
        self
    }

    /// Re-verify and repair every `Done` index this often (default: never).
    pub fn self_check_interval(mut self, every: Option<Duration>) -> Self {
        self.self_check_interval = every;
        self
    }

    /// Uses this hash seed when the database is created, instead of a random
    /// one. Only for reproducible test fixtures and golden dumps: a known seed
    /// lets a hostile writer choose colliding values.
    #[doc(hidden)]
    pub fn fixed_hash_seed(mut self, k0: u64, k1: u64) -> Self {
        self.fixed_hash_seed = Some((k0, k1));
        self
    }

    /// Keeps only the low `bits` bits of every value hash (default 64, all
    /// of them): with few bits, distinct values collide, for tests of the
    /// collision paths. Not for real databases: a database must always be
    /// opened with the same setting, or its hash index is wrong.
    #[doc(hidden)]
    pub fn test_hash_bits(mut self, bits: u32) -> Self {
        self.test_hash_bits = bits.min(64);
        self
    }
}
