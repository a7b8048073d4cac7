//! The benchmark's workloads on SQLite (rusqlite, bundled): WAL,
//! synchronous=NORMAL (a commit survives a process crash, not a power
//! loss, as rockhold's WAL without fsync), a UNIQUE index on email and an
//! index on age. W9's writers each open a connection of their own (a
//! `Connection` is not `Sync`) and insert in `BEGIN IMMEDIATE`
//! transactions with a busy timeout: SQLite serializes them on its one
//! write lock, as it would for a user's threads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::data::Person;
use super::{Result, Store};

pub struct SqliteStore {
    conn: Connection,
    dir: PathBuf,
}

const INSERT: &str = "INSERT INTO person (email, name, age, payload) VALUES (?1, ?2, ?3, ?4)";

fn open(dir: &Path) -> Result<Connection> {
    std::fs::create_dir_all(dir)?;
    let conn = Connection::open(dir.join("bench.sqlite"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    if let Some(bytes) = super::cache_bytes() {
        // A negative cache_size is in KiB.
        conn.pragma_update(None, "cache_size", -((bytes >> 10) as i64))?;
    }
    Ok(conn)
}

impl Store for SqliteStore {
    fn create(dir: &Path, email_index: bool) -> Result<Self> {
        let conn = open(dir)?;
        let unique = if email_index { "UNIQUE" } else { "" };
        conn.execute_batch(&format!(
            "CREATE TABLE person (id INTEGER PRIMARY KEY, email TEXT NOT NULL {unique}, name TEXT NOT NULL,
                                  age INTEGER NOT NULL, payload BLOB NOT NULL);
             CREATE INDEX person_age ON person(age);"
        ))?;
        Ok(SqliteStore {
            conn,
            dir: dir.to_path_buf(),
        })
    }

    fn reopen(self, dir: &Path) -> Result<Self> {
        self.conn.close().map_err(|(_, e)| e)?;
        Ok(SqliteStore {
            conn: open(dir)?,
            dir: dir.to_path_buf(),
        })
    }

    fn settle(&mut self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn insert_one(&mut self, p: &Person) -> Result<u64> {
        let mut st = self.conn.prepare_cached(INSERT)?;
        st.execute(params![p.email, p.name, p.age as i64, p.payload.0])?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    fn insert_concurrently(&mut self, parts: &[&[Person]]) -> Result<()> {
        let dir = &self.dir;
        super::on_threads(parts, |part| {
            let mut conn = open(dir)?;
            conn.busy_timeout(Duration::from_secs(60))?;
            for p in part {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached(INSERT)?.execute(params![
                    p.email,
                    p.name,
                    p.age as i64,
                    p.payload.0
                ])?;
                tx.commit()?;
            }
            Ok(())
        })
    }

    fn insert_batch(&mut self, ps: &[Person]) -> Result<Vec<u64>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(ps.len());
        {
            let mut st = tx.prepare_cached(INSERT)?;
            for p in ps {
                st.execute(params![p.email, p.name, p.age as i64, p.payload.0])?;
                ids.push(tx.last_insert_rowid() as u64);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn lookup(&mut self, email: &str) -> Result<Option<u64>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id FROM person WHERE email = ?1")?;
        Ok(st
            .query_row(params![email], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|v| v as u64))
    }

    fn scan_all(&mut self) -> Result<u64> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, email, name, age, payload FROM person ORDER BY id")?;
        let mut rows = st.query([])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let decoded: (i64, String, String, i64, Vec<u8>) = (
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            );
            std::hint::black_box(decoded);
            count += 1;
        }
        Ok(count)
    }

    fn build_email_index(&mut self) -> Result<()> {
        self.conn
            .execute_batch("CREATE UNIQUE INDEX person_email ON person(email)")?;
        Ok(())
    }

    fn update_email(&mut self, id: u64, email: &str) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached("UPDATE person SET email = ?1 WHERE id = ?2")?;
        st.execute(params![email, id as i64])?;
        Ok(())
    }

    fn delete(&mut self, id: u64) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached("DELETE FROM person WHERE id = ?1")?;
        st.execute(params![id as i64])?;
        Ok(())
    }

    fn range(&mut self, lower: u64) -> Result<usize> {
        let mut st = self.conn.prepare_cached(
            "SELECT age, id FROM person WHERE age >= ?1 ORDER BY age, id LIMIT 100",
        )?;
        let mut rows = st.query(params![lower as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            std::hint::black_box((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?));
            n += 1;
        }
        Ok(n)
    }

    fn compact(self, _dir: &Path) -> Result<Self> {
        // VACUUM rewrites the database through the WAL: checkpoint it back.
        self.conn.execute_batch("VACUUM")?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(self)
    }
}
