//! The benchmark's workloads on rockhold through its typed API, as a user's
//! code runs them: [`Person`] is a `#[derive(Model)]` struct (a unique
//! `email`, an ordered `age`), inserted and read back as the struct
//! through a [`Collection`]. Same database options as the dynamic system
//! (`rockhold_store.rs`), so the difference between the two is the typed
//! layer: serializing the struct into field values, decoding records into
//! it.
//!
//! Where the typed API has no call for a workload, the closest public one
//! is used, and said so here:
//!
//! - W4 (scan and decode every object): `Collection::iter`, a page of
//!   records at a time, each decoded in place into the struct.
//! - W5 (index existing objects): the objects are loaded through a second
//!   model of the same class without the email index ([`PersonLoad`]);
//!   `db.collection::<Person>()` then finds the stored class lacks the
//!   index and adds it, as a redeployed application with a new
//!   `#[index(unique)]` does; `check_reindex_tasks` builds it.
//! - W6 (change the email): a read-modify-write of the struct in a
//!   serializable transaction (`Collection::write`), as the crate
//!   documents for a read-modify-write; the dynamic system sets one field
//!   with `Db::update` and no transaction.
//! - W8 (100 rows of an age range): `Collection::range_ids(..).take(100)`,
//!   the ids from the index alone, where the other systems return the
//!   (age, id) pairs (`Collection::range` would read and decode every
//!   object as well).

use std::path::Path;

use rockhold::{Collection, Db, Id, Model, ObjectId};
use serde::{Deserialize, Serialize};

use super::data::Person;
use super::rockhold_store::options;
use super::{Result, Store};

/// [`Person`] without its email index: the same class, as the application
/// declared it before the index was added (W5's load).
#[derive(Serialize, Deserialize, Model)]
#[model(class = "person")]
pub struct PersonLoad {
    email: String,
    name: String,
    #[index(ordered)]
    age: u64,
    payload: rockhold::Bytes,
}

/// The collection the store writes through: the indexed model, or (before
/// W5 adds the index) the model without it.
enum People {
    Indexed(Collection<Person>),
    Unindexed(Collection<PersonLoad>),
}

pub struct TypedStore {
    db: Db,
    people: People,
}

fn id(raw: u64) -> Id<Person> {
    Id::from_raw(ObjectId(raw))
}

impl TypedStore {
    fn open(dir: &Path, indexed: bool) -> Result<Self> {
        let db = Db::open(dir, options())?;
        let people = if indexed {
            People::Indexed(db.collection::<Person>()?)
        } else {
            People::Unindexed(db.collection::<PersonLoad>()?)
        };
        Ok(TypedStore { db, people })
    }

    /// Closes the database; returns whether the email index was declared.
    fn close(self) -> Result<bool> {
        let indexed = matches!(self.people, People::Indexed(_));
        drop(self.people);
        self.db.close()?;
        Ok(indexed)
    }

    /// The indexed collection; workloads after the load need the index.
    fn indexed(&self) -> Result<&Collection<Person>> {
        match &self.people {
            People::Indexed(c) => Ok(c),
            People::Unindexed(_) => Err("the email index is not built yet".into()),
        }
    }
}

fn load(p: &Person) -> PersonLoad {
    PersonLoad {
        email: p.email.clone(),
        name: p.name.clone(),
        age: p.age,
        payload: p.payload.clone(),
    }
}

impl Store for TypedStore {
    fn create(dir: &Path, email_index: bool) -> Result<Self> {
        TypedStore::open(dir, email_index)
    }

    fn reopen(self, dir: &Path) -> Result<Self> {
        let indexed = self.close()?;
        TypedStore::open(dir, indexed)
    }

    fn settle(&mut self) -> Result<()> {
        super::wait_until_idle(|| {
            super::rocksdb_busy(|family, name| Ok(self.db.rocksdb_property(family, name)?))
        })
    }

    fn insert_one(&mut self, p: &Person) -> Result<u64> {
        Ok(match &self.people {
            People::Indexed(c) => c.insert(p)?.raw().0,
            People::Unindexed(c) => c.insert(&load(p))?.raw().0,
        })
    }

    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>> {
        let mut tx = self.db.transaction();
        let ids = match &self.people {
            People::Indexed(_) => {
                let mut c = tx.of::<Person>();
                ps.iter()
                    .map(|p| c.insert(p).map(|id| id.raw().0))
                    .collect::<rockhold::Result<Vec<_>>>()?
            }
            People::Unindexed(_) => {
                let mut c = tx.of::<PersonLoad>();
                ps.iter()
                    .map(|p| c.insert(&load(p)).map(|id| id.raw().0))
                    .collect::<rockhold::Result<Vec<_>>>()?
            }
        };
        tx.commit()?;
        Ok(ids)
    }

    fn insert_concurrently(&mut self, parts: &[&[Person]]) -> Result<()> {
        let people = self.indexed()?;
        super::on_threads(parts, |part| {
            for p in part {
                people.insert(p)?;
            }
            Ok(())
        })
    }

    fn lookup(&mut self, email: &str) -> Result<Option<u64>> {
        let found = self.indexed()?.get_unique(Person::EMAIL, email)?;
        Ok(found.map(|(id, person)| {
            std::hint::black_box(person);
            id.raw().0
        }))
    }

    fn scan_all(&mut self) -> Result<u64> {
        let mut count = 0;
        for item in self.indexed()?.iter() {
            std::hint::black_box(item?);
            count += 1;
        }
        Ok(count)
    }

    fn build_email_index(&mut self) -> Result<()> {
        self.people = People::Indexed(self.db.collection::<Person>()?);
        self.db.check_reindex_tasks()?;
        Ok(())
    }

    fn update_email(&mut self, raw: u64, email: &str) -> Result<()> {
        let people = self.indexed()?;
        people.write(|c| {
            let mut person = c.get(id(raw))?.ok_or(rockhold::Error::UnknownObject {
                namespace: Person::NAMESPACE.to_string(),
                id: ObjectId(raw),
            })?;
            person.email = email.to_string();
            c.update(id(raw), &person)
        })?;
        Ok(())
    }

    fn delete(&mut self, raw: u64) -> Result<()> {
        Ok(self.indexed()?.delete(id(raw))?)
    }

    fn range(&mut self, lower: u64) -> Result<usize> {
        let mut n = 0;
        for item in self.indexed()?.range_ids(Person::AGE, lower..)?.take(100) {
            std::hint::black_box(item?);
            n += 1;
        }
        Ok(n)
    }

    fn compact(self, _dir: &Path) -> Result<Self> {
        self.db.compact()?;
        Ok(self)
    }
}
