//! The floor: raw RocksDB writing exactly the keys rockhold writes (record
//! clustered by class, its locator, the unique email's point key and the ordered age entry,
//! encoded by `rockhold-format`), in the same batch shapes, with the same
//! uniqueness read (a point get of the email's key), in the same column
//! families with the same table options — and nothing else: no catalog,
//! locks, caches or checks. The unique email is the best layout RocksDB
//! offers it, the one rockhold's unique *ordered* index has: one point key
//! (`IR` + the email → holder id), read with a `Get` and a whole-key bloom
//! filter, with nothing to verify (a hash key would need the record read to
//! rule out a collision). W9's four writers share the `DB` (it is `Sync`) and take ids from
//! an atomic counter; their uniqueness check and write are not atomic
//! together (no lock), which is the floor's cost, not a usable design.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rockhold::{column_family, Family, COLUMN_FAMILIES};
use rockhold_format::{
    decode_holders, encode_holders, encode_locator, prefix_successor, ClassId, FieldId, IndexId,
    IndexShape, Key, LocatorKey, NamespaceId, ObjectId, ObjectKey, ObjectRecord, OrderedKey,
    Record, TaskKey, TaskRecord, Value,
};
use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamilyDescriptor, CompactOptions,
    DBCompressionType, IngestExternalFileOptions, ReadOptions, SstFileWriter, WriteBatch,
    WriteOptions, DB,
};

use super::data::Person;
use super::{Result, Store};

const NS: NamespaceId = NamespaceId(0);
const CLASS: ClassId = ClassId(1);
pub(super) const EMAIL: FieldId = FieldId(1);
const NAME: FieldId = FieldId(2);
pub(super) const AGE: FieldId = FieldId(3);
const PAYLOAD: FieldId = FieldId(4);
const EMAIL_INDEX: IndexId = IndexId(1);
const AGE_INDEX: IndexId = IndexId(2);

pub struct RawStore {
    db: DB,
    dir: PathBuf,
    cache: Cache,
    next_id: u64,
    email_index: bool,
}

fn cf_options(name: &str, cache: &Cache) -> rocksdb::Options {
    let mut t = BlockBasedOptions::default();
    t.set_bloom_filter(10.0, false);
    t.set_block_cache(cache);
    t.set_cache_index_and_filter_blocks(false);
    let mut c = rocksdb::Options::default();
    c.set_block_based_table_factory(&t);
    c.set_write_buffer_size(32 << 20);
    c.set_level_compaction_dynamic_level_bytes(true);
    if name == "index_hash" {
        // The same prefix bloom as rockhold's hash column family.
        c.set_prefix_extractor(rocksdb::SliceTransform::create_fixed_prefix(22));
        c.set_memtable_prefix_bloom_ratio(0.1);
    }
    c.set_compression_type(if name == "objects" {
        DBCompressionType::Lz4
    } else {
        DBCompressionType::None
    });
    c
}

fn open(dir: &Path, cache: &Cache) -> Result<DB> {
    let mut o = rocksdb::Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_atomic_flush(true);
    o.increase_parallelism(2);
    o.set_max_background_jobs(4);
    let cfs = COLUMN_FAMILIES
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, cache)));
    Ok(DB::open_cf_descriptors(&o, dir, cfs)?)
}

/// Compacts every column family fully (the bottommost level included, so
/// every tombstone and overwritten value is dropped).
fn compact_all(db: &DB) -> Result<()> {
    let mut opts = CompactOptions::default();
    opts.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
    for name in DB::list_cf(&rocksdb::Options::default(), db.path())? {
        let cf = db.cf_handle(&name).ok_or("missing column family")?;
        db.compact_range_cf_opt(cf, None::<&[u8]>, None::<&[u8]>, &opts);
    }
    Ok(())
}

/// The record of `p`, as rockhold encodes it (redb stores the same bytes).
pub(super) fn record(p: &Person) -> ObjectRecord {
    ObjectRecord {
        class: CLASS,
        fields: vec![
            (EMAIL, Value::from(p.email.as_str())),
            (NAME, Value::from(p.name.as_str())),
            (AGE, Value::U64(p.age)),
            (PAYLOAD, Value::Bytes(p.payload.0.clone())),
        ],
    }
}

/// The point key of a unique email (its value: the holder's id).
/// The unique email index's point key: `IR` + the email's ordered
/// encoding, as rockhold keys a unique ordered index (the value itself is
/// the key, so a lookup is one `Get` with nothing to verify).
fn email_key(email: &Value) -> Vec<u8> {
    OrderedKey {
        ns: NS,
        class: CLASS,
        index: EMAIL_INDEX,
        values: vec![email.clone()],
        id: None,
    }
    .encode()
}

fn holder_value(id: ObjectId) -> Vec<u8> {
    let mut v = Vec::with_capacity(8);
    encode_holders(&[id], &mut v);
    v
}

fn ordered_key(age: u64, id: ObjectId) -> Vec<u8> {
    OrderedKey {
        ns: NS,
        class: CLASS,
        index: AGE_INDEX,
        values: vec![Value::U64(age)],
        id: Some(id),
    }
    .encode()
}

impl RawStore {
    fn cf(&self, family: Family) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(column_family(family))
            .ok_or_else(|| "missing column family".into())
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut w = WriteOptions::default();
        w.set_sync(false);
        Ok(self.db.write_opt(batch, &w)?)
    }

    fn get_record(&self, id: ObjectId) -> Result<Option<ObjectRecord>> {
        let key = ObjectKey {
            ns: NS,
            class: CLASS,
            id,
        }
        .encode();
        Ok(
            match self.db.get_pinned_cf(self.cf(Family::Object)?, &key)? {
                Some(v) => Some(ObjectRecord::decode(&v)?),
                None => None,
            },
        )
    }

    /// The uniqueness read rockhold does: a point get of the email's key,
    /// and each candidate's record.
    fn holder(&self, email: &Value) -> Result<Option<ObjectId>> {
        let Some(holders) = self
            .db
            .get_pinned_cf(self.cf(Family::Ordered)?, email_key(email))?
        else {
            return Ok(None);
        };
        Ok(decode_holders(&holders)?.first().copied())
    }

    /// Inserts `p` as object `id` in a batch of its own, after the
    /// uniqueness read.
    fn insert_as(&self, id: ObjectId, p: &Person) -> Result<()> {
        let rec = record(p);
        if self.email_index && self.holder(rec.value(EMAIL))?.is_some() {
            return Err("duplicate email".into());
        }
        let mut batch = WriteBatch::default();
        self.put_object(&mut batch, id, &rec)?;
        self.write(batch)
    }

    fn put_object(&self, batch: &mut WriteBatch, id: ObjectId, rec: &ObjectRecord) -> Result<()> {
        batch.put_cf(
            self.cf(Family::Object)?,
            ObjectKey {
                ns: NS,
                class: CLASS,
                id,
            }
            .encode(),
            rec.encode(),
        );
        batch.put_cf(
            self.cf(Family::Locator)?,
            LocatorKey { ns: NS, id }.encode(),
            encode_locator(CLASS),
        );
        if self.email_index {
            batch.put_cf(
                self.cf(Family::Ordered)?,
                email_key(rec.value(EMAIL)),
                holder_value(id),
            );
        }
        if let Value::U64(age) = rec.value(AGE) {
            batch.put_cf(self.cf(Family::Ordered)?, ordered_key(*age, id), []);
        }
        Ok(())
    }
}

impl Store for RawStore {
    fn create(dir: &Path, email_index: bool) -> Result<Self> {
        let cache = Cache::new_lru_cache(super::cache_bytes().unwrap_or(64 << 20));
        Ok(RawStore {
            db: open(dir, &cache)?,
            dir: dir.to_path_buf(),
            cache,
            next_id: 0,
            email_index,
        })
    }

    fn reopen(self, dir: &Path) -> Result<Self> {
        let (next_id, email_index) = (self.next_id, self.email_index);
        drop(self);
        let cache = Cache::new_lru_cache(super::cache_bytes().unwrap_or(64 << 20));
        Ok(RawStore {
            db: open(dir, &cache)?,
            dir: dir.to_path_buf(),
            cache,
            next_id,
            email_index,
        })
    }

    fn settle(&mut self) -> Result<()> {
        super::wait_until_idle(|| {
            super::rocksdb_busy(|family, name| {
                Ok(self.db.property_int_value_cf(self.cf(family)?, name)?)
            })
        })
    }

    fn insert_one(&mut self, p: &Person) -> Result<u64> {
        let id = ObjectId(self.next_id);
        self.next_id += 1;
        self.insert_as(id, p)?;
        Ok(id.0)
    }

    fn insert_concurrently(&mut self, parts: &[&[Person]]) -> Result<()> {
        let next = AtomicU64::new(self.next_id);
        let this = &*self;
        super::on_threads(parts, |part| {
            for p in part {
                this.insert_as(ObjectId(next.fetch_add(1, Ordering::Relaxed)), p)?;
            }
            Ok(())
        })?;
        self.next_id = next.into_inner();
        Ok(())
    }

    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>> {
        let mut batch = WriteBatch::default();
        let mut seen = HashSet::with_capacity(ps.len());
        let mut ids = Vec::with_capacity(ps.len());
        for p in ps {
            let rec = record(p);
            if self.email_index
                && (!seen.insert(p.email.as_str()) || self.holder(rec.value(EMAIL))?.is_some())
            {
                return Err("duplicate email".into());
            }
            let id = ObjectId(self.next_id);
            self.next_id += 1;
            self.put_object(&mut batch, id, &rec)?;
            ids.push(id.0);
        }
        self.write(batch)?;
        Ok(ids)
    }

    fn lookup(&mut self, email: &str) -> Result<Option<u64>> {
        Ok(self.holder(&Value::from(email))?.map(|id| id.0))
    }

    fn scan_all(&mut self) -> Result<u64> {
        // The class's records, clustered under its prefix: one iteration.
        let prefix = ObjectKey::class_prefix(NS, CLASS);
        let mut read = ReadOptions::default();
        read.set_iterate_lower_bound(prefix.clone());
        if let Some(upper) = prefix_successor(&prefix) {
            read.set_iterate_upper_bound(upper);
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cf(Family::Object)?, read);
        it.seek(&prefix);
        let mut count = 0;
        while let Some(v) = it.value() {
            std::hint::black_box(ObjectRecord::decode(v)?);
            count += 1;
            it.next();
        }
        it.status()?;
        Ok(count)
    }

    fn build_email_index(&mut self) -> Result<()> {
        // As rockhold's bulk build: read every record from a snapshot, sort
        // the hash entries, check neighbours with the same hash, write them
        // to an SST file and ingest it; then mark the task done.
        self.email_index = true;
        let snapshot = self.db.snapshot();
        let mut read = ReadOptions::default();
        read.set_snapshot(&snapshot);
        let prefix = ObjectKey::class_prefix(NS, CLASS);
        read.set_iterate_lower_bound(prefix.clone());
        if let Some(upper) = prefix_successor(&prefix) {
            read.set_iterate_upper_bound(upper);
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cf(Family::Object)?, read);
        it.seek_to_first();
        let mut keys = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let id = ObjectKey::decode(k)?.id;
            let rec = ObjectRecord::decode(v)?;
            keys.push((email_key(rec.value(EMAIL)), id));
            it.next();
        }
        it.status()?;
        drop(it);
        keys.sort_unstable();
        // One holder per key: the key is the email.
        if keys.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err("duplicate email".into());
        }
        let path = self.dir.join("email.sst");
        let opts = cf_options("index_ordered", &self.cache);
        let mut writer = SstFileWriter::create(&opts);
        writer.open(&path)?;
        for (k, id) in &keys {
            writer.put(k, holder_value(*id))?;
        }
        writer.finish()?;
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        self.db
            .ingest_external_file_cf_opts(self.cf(Family::Ordered)?, &ingest, vec![&path])?;
        let task_key = TaskKey {
            ns: NS,
            class: CLASS,
            index: EMAIL_INDEX,
        }
        .encode();
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(Family::Task)?,
            &task_key,
            TaskRecord::pending(1, 0).encode(),
        );
        self.write(batch)
    }

    fn update_email(&mut self, id: u64, email: &str) -> Result<()> {
        let id = ObjectId(id);
        let mut rec = self.get_record(id)?.ok_or("missing object")?;
        let new = Value::from(email);
        if self.holder(&new)?.is_some_and(|h| h != id) {
            return Err("duplicate email".into());
        }
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(Family::Ordered)?, email_key(rec.value(EMAIL)));
        batch.put_cf(self.cf(Family::Ordered)?, email_key(&new), holder_value(id));
        rec.fields[0].1 = new;
        batch.put_cf(
            self.cf(Family::Object)?,
            ObjectKey {
                ns: NS,
                class: CLASS,
                id,
            }
            .encode(),
            rec.encode(),
        );
        self.write(batch)
    }

    fn delete(&mut self, id: u64) -> Result<()> {
        let id = ObjectId(id);
        let rec = self.get_record(id)?.ok_or("missing object")?;
        let mut batch = WriteBatch::default();
        batch.delete_cf(
            self.cf(Family::Object)?,
            ObjectKey {
                ns: NS,
                class: CLASS,
                id,
            }
            .encode(),
        );
        batch.delete_cf(
            self.cf(Family::Locator)?,
            LocatorKey { ns: NS, id }.encode(),
        );
        batch.delete_cf(self.cf(Family::Ordered)?, email_key(rec.value(EMAIL)));
        if let Value::U64(age) = rec.value(AGE) {
            batch.delete_cf(self.cf(Family::Ordered)?, ordered_key(*age, id));
        }
        self.write(batch)
    }

    fn range(&mut self, lower: u64) -> Result<usize> {
        let field = OrderedKey::index_prefix(NS, CLASS, AGE_INDEX);
        let start = OrderedKey::tuple_prefix(NS, CLASS, AGE_INDEX, &[Value::U64(lower)]);
        let mut read = ReadOptions::default();
        read.set_iterate_lower_bound(start.clone());
        if let Some(upper) = prefix_successor(&field) {
            read.set_iterate_upper_bound(upper);
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cf(Family::Ordered)?, read);
        it.seek(&start);
        let mut n = 0;
        while let Some(key) = it.key() {
            let k = OrderedKey::decode_as(
                key,
                IndexShape {
                    parts: 1,
                    unique: false,
                },
            )?;
            std::hint::black_box((k.values, k.id));
            n += 1;
            if n == 100 {
                break;
            }
            it.next();
        }
        it.status()?;
        Ok(n)
    }

    fn compact(self, _dir: &Path) -> Result<Self> {
        compact_all(&self.db)?;
        Ok(self)
    }
}
