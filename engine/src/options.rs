//! Options of a database, with the defaults a careful user would choose.

/// How a database is opened and run. Build with `Options::default()` and the
/// setter methods.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) create_if_missing: bool,
    pub(crate) sync_writes: bool,
    pub(crate) block_cache_bytes: usize,
    pub(crate) write_buffer_bytes: usize,
    pub(crate) unique_cache_entries: usize,
    pub(crate) class_cache_entries: usize,
    pub(crate) lock_stripes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: true,
            sync_writes: false,
            block_cache_bytes: 64 << 20,
            write_buffer_bytes: 32 << 20,
            unique_cache_entries: 65_536,
            class_cache_entries: 65_536,
            lock_stripes: 4096,
        }
    }
}

impl Options {
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

    /// Size of RocksDB's block cache, shared by all column families
    /// (default 64 MiB).
    pub fn block_cache_bytes(mut self, bytes: usize) -> Self {
        self.block_cache_bytes = bytes;
        self
    }

    /// Size of each column family's memtable (default 32 MiB).
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

    /// Number of lock stripes for unique values and objects (default 4,096).
    /// More stripes, fewer false conflicts between unrelated writers.
    pub fn lock_stripes(mut self, stripes: usize) -> Self {
        self.lock_stripes = stripes.max(1);
        self
    }
}
