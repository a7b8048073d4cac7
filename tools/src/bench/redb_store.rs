//! The benchmark's workloads on redb, its tables used directly, as a user
//! of redb would build this schema:
//!
//! - `objects`: id → the object's record, encoded as rockhold encodes it
//!   (the bytes raw RocksDB stores too), decoded on every read;
//! - `emails`: email → id, the unique index: an insert that finds the
//!   email held fails and its transaction is dropped (aborted), so nothing
//!   is written, as the other systems refuse a duplicate;
//! - `ages`: (age, id) → (), the ordered index for W8's ranges.
//!
//! One write transaction per commit (W1, W6, W7, W9: one per object; W2:
//! one per 1,000), ids from a counter the store keeps (redb has no
//! sequence). redb serializes write transactions (`begin_write` waits for
//! the one in progress): W9's four threads share the `Database` (it is
//! `Sync`) and take turns, which is what a user's threads get. Reads open a
//! read transaction per lookup or query, as a user's code would. The cache
//! is redb's default (1 GiB): the data fits in it.
//!
//! **Durability.** The others write a WAL without fsync per commit
//! (rockhold, raw RocksDB) or fsync only at WAL checkpoints (SQLite,
//! `synchronous=NORMAL`): a commit survives a process crash; an OS crash or
//! power loss may lose the last ones. redb offers `Immediate` (an fsync per
//! commit: durable against power loss; on the project machine's disk 412 µs
//! per one-row commit, against 16 µs with `None`) and `None` (the commit
//! stays in the process's memory until a later `Immediate` commit writes
//! it: lost on a process crash). Closest to the others is `None` with a
//! durable commit at a bounded interval, as SQLite checkpoints its WAL:
//! here every commit that brings the objects written since the last
//! durable commit to [`DURABLE_EVERY`] is `Immediate`, and so are the
//! commits before a reopen, a settle or a compaction. Caveat: between two
//! durable commits redb can lose up to that many objects to a process
//! crash, where the others lose none, so its commits promise less than
//! theirs; an fsync per commit would promise more and cost about 25 times
//! as much. redb frees pages only at durable commits, so the interval also
//! bounds its file growth.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use rockhold_format::{ObjectRecord, Record, Value};

use super::data::Person;
use super::raw::{record, AGE, EMAIL};
use super::{Result, Store};

const OBJECTS: TableDefinition<'static, u64, &'static [u8]> = TableDefinition::new("objects");
const EMAILS: TableDefinition<'static, &'static str, u64> = TableDefinition::new("emails");
const AGES: TableDefinition<'static, (u64, u64), ()> = TableDefinition::new("ages");

/// Objects written non-durably after which a commit is made durable.
pub const DURABLE_EVERY: u64 = 1000;

pub struct RedbStore {
    db: Database,
    path: PathBuf,
    email_index: bool,
    next_id: AtomicU64,
    /// Objects written by commits since the last durable one.
    unsynced: AtomicU64,
}

/// The three tables, opened once per write transaction.
struct Tables<'t> {
    objects: Table<'t, u64, &'static [u8]>,
    emails: Table<'t, &'static str, u64>,
    ages: Table<'t, (u64, u64), ()>,
}

fn tables(tx: &WriteTransaction) -> Result<Tables<'_>> {
    Ok(Tables {
        objects: tx.open_table(OBJECTS)?,
        emails: tx.open_table(EMAILS)?,
        ages: tx.open_table(AGES)?,
    })
}

fn email_of(rec: &ObjectRecord) -> Result<&str> {
    match rec.value(EMAIL) {
        Value::String(s) => Ok(s),
        _ => Err("a record without an email".into()),
    }
}

impl RedbStore {
    fn open(path: PathBuf, email_index: bool, next_id: u64) -> Result<Self> {
        let db = match super::cache_bytes() {
            Some(bytes) => redb::Builder::new().set_cache_size(bytes).create(&path)?,
            None => Database::create(&path)?,
        };
        // Create the tables, so that reads find them on an empty store.
        let tx = db.begin_write()?;
        drop(tables(&tx)?);
        tx.commit()?;
        Ok(RedbStore {
            db,
            path,
            email_index,
            next_id: AtomicU64::new(next_id),
            unsynced: AtomicU64::new(0),
        })
    }

    /// Commits `tx`, which wrote `objects` objects: durably when the
    /// objects written since the last durable commit reach `DURABLE_EVERY`.
    /// Write transactions are serialized, so the counter has one writer.
    fn commit(&self, mut tx: WriteTransaction, objects: u64) -> Result<()> {
        let unsynced = self.unsynced.load(Ordering::Relaxed) + objects;
        let durable = unsynced >= DURABLE_EVERY;
        tx.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })?;
        tx.commit()?;
        self.unsynced
            .store(if durable { 0 } else { unsynced }, Ordering::Relaxed);
        Ok(())
    }

    /// Makes every commit so far durable (an empty durable commit).
    fn sync(&self) -> Result<()> {
        if self.unsynced.load(Ordering::Relaxed) > 0 {
            let tx = self.db.begin_write()?;
            self.commit(tx, DURABLE_EVERY)?;
        }
        Ok(())
    }

    /// Writes `p` as a new object; refuses a duplicate email.
    fn put(&self, t: &mut Tables<'_>, p: &Person) -> Result<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if self.email_index && t.emails.insert(p.email.as_str(), id)?.is_some() {
            return Err("duplicate email".into());
        }
        t.objects.insert(id, record(p).encode().as_slice())?;
        t.ages.insert((p.age, id), ())?;
        Ok(id)
    }

    /// Inserts each of `ps` in one write transaction.
    fn insert_in_one(&self, ps: &[Person]) -> Result<Vec<u64>> {
        let tx = self.db.begin_write()?;
        let ids = {
            let mut t = tables(&tx)?;
            ps.iter()
                .map(|p| self.put(&mut t, p))
                .collect::<Result<Vec<_>>>()?
        };
        self.commit(tx, ps.len() as u64)?;
        Ok(ids)
    }
}

impl Store for RedbStore {
    fn create(dir: &Path, email_index: bool) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        RedbStore::open(dir.join("bench.redb"), email_index, 0)
    }

    fn reopen(self, _dir: &Path) -> Result<Self> {
        self.sync()?;
        let RedbStore {
            db,
            path,
            email_index,
            next_id,
            ..
        } = self;
        drop(db);
        RedbStore::open(path, email_index, next_id.into_inner())
    }

    fn settle(&mut self) -> Result<()> {
        // No background work: only the commits kept in memory to write.
        self.sync()
    }

    fn insert_one(&mut self, p: &Person) -> Result<u64> {
        let ids = self.insert_in_one(std::slice::from_ref(p))?;
        ids.first().copied().ok_or_else(|| "no id".into())
    }

    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>> {
        self.insert_in_one(ps)
    }

    fn insert_concurrently(&mut self, parts: &[&[Person]]) -> Result<()> {
        let this = &*self;
        super::on_threads(parts, |part| {
            for p in part {
                this.insert_in_one(std::slice::from_ref(p))?;
            }
            Ok(())
        })
    }

    fn lookup(&mut self, email: &str) -> Result<Option<u64>> {
        let tx = self.db.begin_read()?;
        let emails = tx.open_table(EMAILS)?;
        Ok(emails.get(email)?.map(|id| id.value()))
    }

    fn scan_all(&mut self) -> Result<u64> {
        let tx = self.db.begin_read()?;
        let objects = tx.open_table(OBJECTS)?;
        let mut count = 0;
        for entry in objects.iter()? {
            let (id, bytes) = entry?;
            std::hint::black_box((id.value(), ObjectRecord::decode(bytes.value())?));
            count += 1;
        }
        Ok(count)
    }

    fn build_email_index(&mut self) -> Result<()> {
        // One transaction: read every object, fill the unique table.
        let tx = self.db.begin_write()?;
        let mut count = 0;
        {
            let objects = tx.open_table(OBJECTS)?;
            let mut emails = tx.open_table(EMAILS)?;
            for entry in objects.iter()? {
                let (id, bytes) = entry?;
                let rec = ObjectRecord::decode(bytes.value())?;
                if emails.insert(email_of(&rec)?, id.value())?.is_some() {
                    return Err("duplicate email".into());
                }
                count += 1;
            }
        }
        self.commit(tx, count)?;
        self.email_index = true;
        Ok(())
    }

    fn update_email(&mut self, id: u64, email: &str) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tables(&tx)?;
            let mut rec = match t.objects.get(id)? {
                Some(bytes) => ObjectRecord::decode(bytes.value())?,
                None => return Err("missing object".into()),
            };
            let old = email_of(&rec)?.to_string();
            if old != email {
                if t.emails.insert(email, id)?.is_some() {
                    return Err("duplicate email".into());
                }
                t.emails.remove(old.as_str())?;
                rec.fields[0].1 = Value::from(email);
                t.objects.insert(id, rec.encode().as_slice())?;
            }
        }
        self.commit(tx, 1)
    }

    fn delete(&mut self, id: u64) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tables(&tx)?;
            let rec = match t.objects.remove(id)? {
                Some(bytes) => ObjectRecord::decode(bytes.value())?,
                None => return Err("missing object".into()),
            };
            t.emails.remove(email_of(&rec)?)?;
            if let Value::U64(age) = rec.value(AGE) {
                t.ages.remove((*age, id))?;
            }
        }
        self.commit(tx, 1)
    }

    fn range(&mut self, lower: u64) -> Result<usize> {
        let tx = self.db.begin_read()?;
        let ages = tx.open_table(AGES)?;
        let mut n = 0;
        for entry in ages.range((lower, 0)..)?.take(100) {
            let (key, _) = entry?;
            std::hint::black_box(key.value());
            n += 1;
        }
        Ok(n)
    }

    fn compact(mut self, _dir: &Path) -> Result<Self> {
        self.sync()?;
        self.db.compact()?;
        Ok(self)
    }
}
