//! The benchmark's workloads on rockhold, through its dynamic API (class
//! specs and `Value`s, the API a schemaless caller uses): WAL on, no fsync
//! per commit (rockhold's default), the runner off so no thread competes
//! with a workload (W5 builds the index with `check_reindex_tasks` on the
//! caller's thread).

use std::ops::Bound;
use std::path::Path;

use rockhold::{ClassSpec, Db, FieldSpec, FieldType, ObjectId, Options, RangeScan, Value};

use super::data::Person;
use super::{Result, Store};

pub struct RockholdStore {
    db: Db,
}

const NS: &str = "default";
const CLASS: &str = "person";

fn spec(email_index: bool) -> ClassSpec {
    let email = FieldSpec::new("email", FieldType::String);
    ClassSpec::new(CLASS)
        // Unique hash, the default (`#[index(unique)]`, the README's
        // dynamic example): a lookup is one read of the point key, whose
        // value keeps the holder's email.
        .field(if email_index {
            email.unique_hash()
        } else {
            email
        })
        .field(FieldSpec::new("name", FieldType::String))
        .field(FieldSpec::new("age", FieldType::U64).ordered())
        .field(FieldSpec::new("payload", FieldType::Bytes))
}

/// The options of both rockhold systems (this one and `typed_store.rs`).
pub(super) fn options() -> Options {
    // Tasks run through check_reindex_tasks in W5; no thread competes in the others.
    // The unique-lookup cache is sized to hold the W3w working set (100,000
    // lookups): an LRU smaller than a cyclic working set never hits.
    let options = Options::default();
    let options = match super::cache_bytes() {
        Some(bytes) => options.memory_budget(bytes),
        None => options,
    };
    options
        .runner_threads(0)
        .reindex_chunk(1000)
        .unique_cache_entries(262_144)
}

fn fields(p: &Person) -> [(&'static str, Value); 4] {
    [
        ("email", Value::from(p.email.as_str())),
        ("name", Value::from(p.name.as_str())),
        ("age", Value::U64(p.age)),
        ("payload", Value::Bytes(p.payload.0.clone())),
    ]
}

impl Store for RockholdStore {
    fn create(dir: &Path, email_index: bool) -> Result<Self> {
        let db = Db::open(dir, options())?;
        db.create_class(NS, &spec(email_index))?;
        Ok(RockholdStore { db })
    }

    fn reopen(self, dir: &Path) -> Result<Self> {
        self.db.close()?;
        Ok(RockholdStore {
            db: Db::open(dir, options())?,
        })
    }

    fn settle(&mut self) -> Result<()> {
        super::wait_until_idle(|| {
            super::rocksdb_busy(|family, name| Ok(self.db.rocksdb_property(family, name)?))
        })
    }

    fn insert_one(&mut self, p: &Person) -> Result<u64> {
        Ok(self.db.insert(NS, CLASS, fields(p))?.0)
    }

    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>> {
        let mut tx = self.db.transaction();
        let ids = ps
            .iter()
            .map(|p| tx.insert(NS, CLASS, fields(p)).map(|id| id.0))
            .collect::<rockhold::Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(ids)
    }

    fn insert_concurrently(&mut self, parts: &[&[Person]]) -> Result<()> {
        let db = &self.db;
        super::on_threads(parts, |part| {
            for p in part {
                db.insert(NS, CLASS, fields(p))?;
            }
            Ok(())
        })
    }

    fn lookup(&mut self, email: &str) -> Result<Option<u64>> {
        Ok(self
            .db
            .find_unique(NS, CLASS, "email", &Value::from(email))?
            .map(|id| id.0))
    }

    fn scan_all(&mut self) -> Result<u64> {
        let mut count = 0;
        let mut after = None;
        loop {
            let page = self.db.scan_objects(NS, CLASS, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            count += page.len() as u64;
        }
        Ok(count)
    }

    fn build_email_index(&mut self) -> Result<()> {
        self.db.update_class(NS, &spec(true))?;
        self.db.check_reindex_tasks()?;
        Ok(())
    }

    fn update_email(&mut self, id: u64, email: &str) -> Result<()> {
        Ok(self.db.update(NS, ObjectId(id), [("email", email)])?)
    }

    fn delete(&mut self, id: u64) -> Result<()> {
        Ok(self.db.delete(NS, ObjectId(id))?)
    }

    fn range(&mut self, lower: u64) -> Result<usize> {
        let q = RangeScan::between(Bound::Included(Value::U64(lower)), Bound::Unbounded).limit(100);
        Ok(self.db.scan(NS, CLASS, "age", &q)?.hits.len())
    }

    fn compact(self, _dir: &Path) -> Result<Self> {
        self.db.compact()?;
        Ok(self)
    }
}
