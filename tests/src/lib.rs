//! Shared helpers of rockhold's integration, crash, concurrency and
//! corruption tests: a database in a temporary directory that is removed
//! when the helper is dropped, and an invariant assertion.

use std::path::Path;

use rockhold::{Db, MemStore, Options};
use tempfile::TempDir;

/// A database in a fresh temporary directory, deleted on drop; or, made by
/// [`TempDb::in_memory`], on the in-memory backend (the same engine without
/// RocksDB), which a reopen restarts from the same store.
pub struct TempDb {
    db: Option<Db>,
    opts: Options,
    dir: TempDir,
    memory: Option<MemStore>,
}

impl TempDb {
    /// A new, empty database with default options.
    pub fn new() -> TempDb {
        TempDb::with_options(Options::default())
    }

    /// A new, empty database with the given options.
    pub fn with_options(opts: Options) -> TempDb {
        let dir = tempfile::Builder::new()
            .prefix("rockhold-test-")
            .tempdir()
            .expect("temp dir");
        let db = Db::open(dir.path(), opts.clone()).expect("open a new database");
        TempDb {
            db: Some(db),
            opts,
            dir,
            memory: None,
        }
    }

    /// A new, empty database on the in-memory backend, with the given
    /// options. `path`, `close` and `open_again` are for databases on disk.
    pub fn in_memory(opts: Options) -> TempDb {
        let store = MemStore::new();
        let db = Db::open_memory(&store, opts.clone()).expect("open a new in-memory database");
        TempDb {
            db: Some(db),
            opts,
            dir: tempfile::tempdir().expect("temp dir"),
            memory: Some(store),
        }
    }

    /// The in-memory store, for a database made by [`TempDb::in_memory`].
    pub fn store(&self) -> Option<&MemStore> {
        self.memory.as_ref()
    }

    fn open(&self) -> rockhold::Result<Db> {
        match &self.memory {
            Some(store) => Db::open_memory(store, self.opts.clone()),
            None => Db::open(self.dir.path(), self.opts.clone()),
        }
    }

    /// The open database.
    pub fn db(&self) -> &Db {
        self.db.as_ref().expect("database is open")
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Closes and reopens the database.
    pub fn reopen(&mut self) {
        if let Some(db) = self.db.take() {
            db.close().expect("close");
        }
        self.db = Some(self.open().expect("reopen"));
    }

    /// Closes the database, keeping the directory, and returns its path
    /// (for tests that open it themselves, e.g. with raw RocksDB).
    pub fn close(&mut self) -> &Path {
        if let Some(db) = self.db.take() {
            db.close().expect("close");
        }
        self.dir.path()
    }

    /// Opens the database again after `close`.
    pub fn open_again(&mut self) -> rockhold::Result<()> {
        self.db = Some(self.open()?);
        Ok(())
    }
}

impl Default for TempDb {
    fn default() -> Self {
        TempDb::new()
    }
}

impl std::ops::Deref for TempDb {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.db()
    }
}

/// Panics with every problem unless `verify` finds no violation. Indexes
/// still being built are allowed (`VerifyReport::skipped`, which makes
/// `is_clean()` false): the invariant holds during builds too, for every
/// entry that exists.
pub fn assert_invariant(db: &Db) {
    let report = db.verify().expect("verify runs");
    assert!(
        report.no_violations(),
        "invariant violated:\n{}",
        report
            .problems
            .iter()
            .map(|p| format!("  [{}] {}: {}", p.family, p.key, p.what))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Runs `f` on the database at `path` opened with RocksDB directly (all
/// column families), for tests that damage or inspect raw bytes. The rockhold
/// `Db` must be closed.
pub fn with_raw_db<R>(path: &Path, f: impl FnOnce(&rocksdb::DB) -> R) -> R {
    // Every column family the database has (an older format's too).
    let families =
        rocksdb::DB::list_cf(&rocksdb::Options::default(), path).expect("list column families");
    let raw = rocksdb::DB::open_cf(&rocksdb::Options::default(), path, families)
        .expect("open raw RocksDB");
    let out = f(&raw);
    raw.flush_wal(true).expect("flush raw WAL");
    out
}

/// The raw column family of a key family.
pub fn raw_cf(raw: &rocksdb::DB, family: rockhold::Family) -> &rocksdb::ColumnFamily {
    raw.cf_handle(rockhold::column_family(family))
        .expect("column family exists")
}

/// A description of everything visible through the API: namespaces, class
/// definitions and every object. Equal fingerprints mean nothing changed.
pub fn fingerprint(db: &Db) -> String {
    let mut out = String::new();
    for ns in db.namespaces() {
        out.push_str(&format!("namespace {ns}\n"));
        for class in db.classes(&ns).expect("classes") {
            out.push_str(&format!("  {class:?}\n"));
            for id in db
                .scan_class(&ns, &class.name, None, usize::MAX)
                .expect("scan")
            {
                out.push_str(&format!("    {:?}\n", db.get(&ns, id).expect("get")));
            }
        }
    }
    let report = db.verify().expect("verify");
    out.push_str(&format!(
        "{} objects, {} entries, {} other\n",
        report.objects, report.index_entries, report.other_records
    ));
    out
}

/// The `user` class of the index-build tests (in namespace `default`):
/// `email` (string) and `age` (u64), with or without their indexes.
pub mod users {
    use rockhold::{ClassSpec, Db, FieldSpec, FieldType, Value};

    /// `email` and `age` without any index.
    pub fn plain() -> ClassSpec {
        ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String))
            .field(FieldSpec::new("age", FieldType::U64))
    }

    /// A unique hash index on `email` and an ordered index on `age`.
    pub fn indexed() -> ClassSpec {
        ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered())
    }

    /// Inserts `n` users, 1,000 per commit: user `i` has email `u{i}@x` and
    /// age `i % 97` (ids start at 0 in a new database).
    pub fn fill(db: &Db, n: u64) {
        for start in (0..n).step_by(1000) {
            let mut tx = db.transaction();
            for i in start..(start + 1000).min(n) {
                tx.insert(
                    "default",
                    "user",
                    [
                        ("email", Value::from(format!("u{i}@x"))),
                        ("age", (i % 97).into()),
                    ],
                )
                .expect("stage");
            }
            tx.commit().expect("fill");
        }
    }
}

/// Flips a byte a third into `file`: an SST's data blocks come first, its
/// index and footer last; the first block holds the generation marker an
/// open reads.
pub fn flip_in_a_data_block(file: &Path) {
    let len = std::fs::metadata(file).expect("sst").len();
    flip_byte(file, len / 3);
}

/// Flips one bit of the byte at offset `at` of `file`, in place.
pub fn flip_byte(file: &Path, at: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .expect("open");
    let mut b = [0u8];
    f.seek(SeekFrom::Start(at)).expect("seek");
    f.read_exact(&mut b).expect("read");
    b[0] ^= 0x10;
    f.seek(SeekFrom::Start(at)).expect("seek");
    f.write_all(&b).expect("write");
}

/// A raw key and its value.
pub type RawEntry = (Box<[u8]>, Box<[u8]>);

/// Every unique hash point key (an `IH` key with a value) of a database
/// open raw, with its value.
pub fn hash_points(raw: &rocksdb::DB) -> Vec<RawEntry> {
    raw.iterator_cf(
        raw_cf(raw, rockhold::Family::Hash),
        rocksdb::IteratorMode::Start,
    )
    .map(|kv| kv.expect("read"))
    .filter(|(k, v)| k.starts_with(b"IH") && !v.is_empty())
    .collect()
}

/// Unique hash indexes under forced collisions (`hash_collisions.rs`,
/// `unique_hash_reads.rs`): a class `user` with a unique hash `email`.
pub mod collisions {
    use rockhold::{ClassSpec, FieldSpec, FieldType, ObjectId, Options, Value};

    use crate::TempDb;

    /// Options keeping no bit of the value hash: every value shares one
    /// `IH` point key, so holders of different values interleave by id.
    pub fn colliding() -> Options {
        Options::default()
            .runner_threads(0)
            .fixed_hash_seed(1, 2)
            .test_hash_bits(0)
    }

    /// Creates class `user` with a unique hash index on `email`.
    pub fn users(db: &TempDb) {
        db.create_class(
            "default",
            &ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String).unique_hash()),
        )
        .expect("class");
    }

    /// Inserts a user with `email`.
    pub fn insert(db: &TempDb, email: &str) -> ObjectId {
        db.insert("default", "user", [("email", Value::from(email))])
            .expect("insert")
    }
}
