//! `Db`: opening, initialising and closing a database, and the state every
//! other module shares.

use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rockhold_format::{
    ClassId, Family, FieldId, GenerationKey, HashSeed, Key, MetaKey, MetaValue, NameEntry, NameKey,
    NameKind, NamespaceId, ObjectId, Record, FORMAT_VERSION,
};

use crate::bulk_build::BuildLog;
use crate::cache::GuardedLru;
use crate::catalog::{read_counter_or, Catalog, DEFAULT_NAMESPACE};
use crate::error::{Error, Result};
use crate::locks::LockTable;
use crate::metrics::Metrics;
use crate::options::Options;
use crate::runner::RunnerControl;
use crate::storage::Storage;

/// Object ids are reserved in blocks of this many: the high-water mark is
/// persisted once per block, ahead of the ids it covers.
const ID_BLOCK: u64 = 1024;

/// Key of the unique-lookup cache: class, field, ordered encoding of the value.
pub(crate) type UniqueCacheKey = (ClassId, FieldId, Vec<u8>);

/// An open rockhold database. Share it between threads with `Arc<Db>`; every
/// method takes `&self`.
pub struct Db {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub storage: Storage,
    pub opts: Options,
    pub seed: HashSeed,
    pub catalog: RwLock<Catalog>,
    pub locks: LockTable,
    pub unique_cache: GuardedLru<UniqueCacheKey, ObjectId>,
    pub class_cache: GuardedLru<(NamespaceId, ObjectId), ClassId>,
    pub metrics: Metrics,
    pub runner: RunnerControl,
    pub builds: BuildLog,
    ids: Mutex<IdAllocator>,
}

/// The object-id allocator's state.
///
/// `mark` is the persisted high-water mark: no id at or above it has been
/// handed out, except that a mark of `u64::MAX` covers every id (there is no
/// `u64::MAX + 1` to store). `next` is the next id to hand out, `None` once
/// `u64::MAX` itself has been used: ids are never reused, so the space is
/// then exhausted.
struct IdAllocator {
    next: Option<u64>,
    mark: u64,
}

impl IdAllocator {
    /// The state at open: ids from the mark on are free. A mark of
    /// `u64::MAX` cannot say whether `u64::MAX` itself was used, so it counts
    /// as used.
    fn at_open(mark: u64) -> IdAllocator {
        IdAllocator {
            next: (mark != u64::MAX).then_some(mark),
            mark,
        }
    }

    fn covers(&self, id: u64) -> bool {
        self.mark == u64::MAX || id < self.mark
    }
}

fn random_u64() -> u64 {
    // std's RandomState is seeded from the OS's random source; hashing the
    // time through a fresh one gives an unpredictable 64-bit value without
    // another dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

impl Db {
    /// Opens (or, with `create_if_missing`, creates) the database at `path`.
    ///
    /// Fails with `UnsupportedVersion` for a database of another format
    /// version, and with a corruption error if its metadata does not decode.
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        Db::from_storage(Storage::open(path.as_ref(), &opts)?, opts)
    }

    /// Opens a read-only view of a database that another process may hold
    /// open, without stopping it (a RocksDB secondary instance).
    /// `scratch` is a private, writable folder for the follower's own files.
    /// Reads see the database as of the open, or of the last
    /// [`Db::catch_up`]; every write fails with `Error::ReadOnly`; no runner
    /// thread starts.
    pub fn open_read_only(
        path: impl AsRef<Path>,
        scratch: impl AsRef<Path>,
        opts: Options,
    ) -> Result<Db> {
        let storage = Storage::open_secondary(path.as_ref(), scratch.as_ref(), &opts)?;
        Db::from_storage(storage, opts.runner_threads(0))
    }

    fn from_storage(storage: Storage, opts: Options) -> Result<Db> {
        let seed = init_or_check_meta(&storage, &opts)?;
        check_generations(&storage)?;
        let catalog = Catalog::load(&storage, storage.is_read_only())?;
        let mark = read_counter_or(&storage, MetaKey::NextObjectId, 0)?;
        let inner = Inner {
            locks: LockTable::new(opts.lock_stripes),
            unique_cache: GuardedLru::new(opts.unique_cache_entries),
            class_cache: GuardedLru::new(opts.class_cache_entries),
            metrics: Metrics::new()?,
            runner: RunnerControl::default(),
            builds: BuildLog::default(),
            storage,
            seed,
            catalog: RwLock::new(catalog),
            ids: Mutex::new(IdAllocator::at_open(mark)),
            opts,
        };
        inner.metrics.refresh_task_states(&inner.catalog.read());
        let db = Db {
            inner: Arc::new(inner),
        };
        db.start_runner();
        Ok(db)
    }

    /// Stops the runner threads (waiting for them), flushes the WAL to disk
    /// and closes the database. A backfill in progress stops after its
    /// current chunk and resumes at the next open.
    pub fn close(self) -> Result<()> {
        self.inner.runner.stop();
        self.inner.storage.record_durable_mark()
    }

    /// The Prometheus registry holding this database's metrics.
    pub fn metrics(&self) -> &prometheus::Registry {
        self.inner.metrics.registry()
    }
}

impl Drop for Db {
    /// Dropping a `Db` without `close` still stops and joins the runner.
    fn drop(&mut self) {
        self.inner.runner.stop();
    }
}

impl Inner {
    /// Hands out a fresh object id. When the id reaches the persisted mark, the
    /// mark is raised by a block in its own write first: WAL order makes any
    /// later batch that uses the id durable only together with the mark, so an
    /// id is never handed out twice, even across a crash. After `u64::MAX`
    /// has been used, every call fails with `IdsExhausted`.
    pub fn allocate_object_id(&self) -> Result<ObjectId> {
        self.writable()?;
        let mut ids = self.ids.lock();
        let id = ids.next.ok_or(Error::IdsExhausted)?;
        self.cover_id(&mut ids, id)?;
        ids.next = id.checked_add(1);
        Ok(ObjectId(id))
    }

    /// Makes sure `id` and every id below it are never handed out: ids that
    /// arrive with ingested objects come from elsewhere.
    pub fn reserve_ids_through(&self, id: ObjectId) -> Result<()> {
        self.writable()?;
        let mut ids = self.ids.lock();
        self.cover_id(&mut ids, id.0)?;
        ids.next = match (ids.next, id.0.checked_add(1)) {
            (Some(next), Some(after)) => Some(next.max(after)),
            _ => None, // u64::MAX is taken: nothing is left
        };
        Ok(())
    }

    /// Makes the persisted high-water mark cover `id`, raising it a block
    /// ahead in a write of its own when it does not.
    fn cover_id(&self, ids: &mut IdAllocator, id: u64) -> Result<()> {
        if ids.covers(id) {
            return Ok(());
        }
        let new_mark = id.saturating_add(1).saturating_add(ID_BLOCK);
        let mut batch = self.storage.batch();
        batch.put(
            Family::Meta,
            &MetaKey::NextObjectId.encode(),
            &MetaValue::Counter(new_mark).encode(),
        )?;
        batch.commit(false)?;
        ids.mark = new_mark;
        Ok(())
    }

    /// Fails with `ReadOnly` on a read-only database.
    pub fn writable(&self) -> Result<()> {
        if self.storage.is_read_only() {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    pub fn sync_default(&self) -> bool {
        self.opts.sync_writes
    }
}

/// The generation marker of every column family (`None` where missing).
pub(crate) fn read_generations(
    storage: &Storage,
    read: &rocksdb::ReadOptions,
) -> Result<Vec<Option<u64>>> {
    (0..=GenerationKey::MAX_CF)
        .map(|tag| {
            let key = GenerationKey { cf: tag }.encode();
            match storage
                .rocks()
                .get_cf_opt(storage.cf_by_tag(tag)?, &key, read)?
            {
                None => Ok(None),
                Some(bytes) => {
                    match MetaValue::decode(&bytes).map_err(|e| Error::corruption(&key, e))? {
                        MetaValue::Counter(g) => Ok(Some(g)),
                        other => Err(Error::Inconsistent(format!(
                            "generation marker holds {other:?}"
                        ))),
                    }
                }
            }
        })
        .collect()
}

/// Refuses a database one of whose column families lost data behind
/// RocksDB's back: every column family holds the same open generation
/// (docs/FORMAT.md, section 2.9). A writable open then moves all of them to
/// the next generation in one synced batch.
fn check_generations(storage: &Storage) -> Result<()> {
    if storage.is_read_only() {
        // Inspection opens go on; `verify` reports lagging markers.
        return Ok(());
    }
    let found = read_generations(storage, &Default::default())?;
    let newest = found.iter().flatten().copied().max().unwrap_or(0);
    for (tag, g) in found.iter().enumerate() {
        if *g != Some(newest) {
            return Err(Error::Inconsistent(format!(
                "column family {} lost data: its generation marker is {}, the database is at generation {newest}; \
                 refusing to serve indexes that may contradict the records",
                crate::storage::COLUMN_FAMILIES[tag],
                g.map_or("missing".to_string(), |g| g.to_string()),
            )));
        }
    }
    let mut batch = storage.batch();
    let next =
        rockhold_format::next_counter("generation marker", newest).map_err(Error::counter)?;
    batch.put_generation(next)?;
    batch.commit(true)?;
    Ok(())
}

/// Reads the format version and hash seed, writing them (and the default
/// namespace) when the database is new.
fn init_or_check_meta(storage: &Storage, opts: &Options) -> Result<HashSeed> {
    let read = Default::default();
    let version_key = MetaKey::FormatVersion.encode();
    let seed_key = MetaKey::HashSeed.encode();
    match storage.get(Family::Meta, &version_key, &read)? {
        Some(bytes) => {
            match MetaValue::decode(&bytes).map_err(|e| Error::corruption(&version_key, e))? {
                MetaValue::FormatVersion(FORMAT_VERSION) => {}
                MetaValue::FormatVersion(found) => {
                    return Err(Error::UnsupportedVersion {
                        found,
                        supported: FORMAT_VERSION,
                    })
                }
                other => {
                    return Err(Error::Inconsistent(format!(
                        "format_version holds {other:?}"
                    )))
                }
            }
            let bytes = storage
                .get(Family::Meta, &seed_key, &read)?
                .ok_or_else(|| Error::Inconsistent("hash seed is missing".into()))?;
            match MetaValue::decode(&bytes).map_err(|e| Error::corruption(&seed_key, e))? {
                MetaValue::HashSeed(seed) => Ok(seed),
                other => Err(Error::Inconsistent(format!("hash_seed holds {other:?}"))),
            }
        }
        None if storage.is_read_only() => Err(Error::NotADatabase {
            path: storage.rocks().path().display().to_string(),
            reason: "it has no format version (or its creation is not finished)".into(),
        }),
        None => {
            let mut any = storage.iter(Family::Meta, &[], None, None)?;
            any.seek_to_first();
            if any.valid() {
                return Err(Error::NotADatabase {
                    path: storage.rocks().path().display().to_string(),
                    reason: "it has data but no format version".into(),
                });
            }
            drop(any);
            let seed = match opts.fixed_hash_seed {
                Some((k0, k1)) => HashSeed { k0, k1 },
                None => HashSeed {
                    k0: random_u64(),
                    k1: random_u64(),
                },
            };
            let mut batch = storage.batch();
            batch.put(
                Family::Meta,
                &version_key,
                &MetaValue::FormatVersion(FORMAT_VERSION).encode(),
            )?;
            batch.put(Family::Meta, &seed_key, &MetaValue::HashSeed(seed).encode())?;
            let default_ns = NameKey {
                kind: NameKind::Namespace,
                parent: 0,
                name: DEFAULT_NAMESPACE.into(),
            };
            batch.put(
                Family::Name,
                &default_ns.encode(),
                &NameEntry {
                    id: NamespaceId::DEFAULT.0,
                }
                .encode(),
            )?;
            batch.put_generation(0)?;
            batch.commit(true)?;
            Ok(seed)
        }
    }
}
