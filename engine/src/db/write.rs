//! The facade: write.

use rockhold_format::{ObjectId, Value};

use crate::db::Db;
use crate::error::Result;
use crate::txn::Transaction;

impl Db {
    /// Writes an object received from elsewhere under its own id (created or
    /// replaced), whether or not the definition of its class is known yet.
    /// Ids at or below `id` are never handed out by this database afterwards.
    pub fn ingest<I, K, V>(
        &self,
        namespace: &str,
        class: &str,
        id: ObjectId,
        fields: I,
    ) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        let fields: Vec<(String, Value)> = fields
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.inner
            .changing(|cx, fx| cx.ingest(fx, namespace, class, id, fields))
    }
}

impl Db {
    /// Starts a transaction (the same as [`Db::begin`]).
    pub fn transaction(&self) -> Transaction<'_> {
        self.inner.begin()
    }

    /// Starts a read-write transaction: its reads see its own writes, and
    /// [`Transaction::commit`] fails with the retryable `Error::Conflict`
    /// if anything it read changed meanwhile (see [`Db::write`], which
    /// retries). Committing consumes it, so it cannot be used afterwards.
    pub fn begin(&self) -> Transaction<'_> {
        self.transaction()
    }

    /// Runs `f` in a read-write transaction and commits it, running `f`
    /// again on a conflict, up to `Options::write_attempts` times with a
    /// growing randomized pause between attempts; then fails with
    /// `ConflictRetriesExhausted`. Any other error of `f` or of the commit
    /// is returned as it is, with nothing written. The isolation is
    /// serializable (see the crate documentation); `f` may run more than
    /// once, so what it does outside the transaction must be idempotent.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options, Value};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("counter")
    ///     .field(FieldSpec::new("n", FieldType::U64)))?;
    /// let id = db.insert("default", "counter", [("n", Value::U64(0))])?;
    /// let threads: Vec<_> = (0..4).map(|_| {
    ///     let db = db.clone();
    ///     std::thread::spawn(move || {
    ///         for _ in 0..25 {
    ///             db.write(|tx| {
    ///                 let n = match tx.get("default", id)?.and_then(|o| o.get("n").cloned()) {
    ///                     Some(Value::U64(n)) => n,
    ///                     _ => 0,
    ///                 };
    ///                 tx.update("default", id, [("n", Value::U64(n + 1))]);
    ///                 Ok(())
    ///             }).expect("committed");
    ///         }
    ///     })
    /// }).collect();
    /// for t in threads { t.join().expect("thread"); }
    /// assert_eq!(db.get("default", id)?.and_then(|o| o.get("n").cloned()), Some(Value::U64(100)));
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn write<R>(&self, f: impl FnMut(&mut Transaction<'_>) -> Result<R>) -> Result<R> {
        self.inner.write(f)
    }

    /// Runs `f` on a new transaction and commits it: one blind write
    /// (no reads to validate, nothing retried).
    pub(crate) fn commit_one<R>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<R>,
    ) -> Result<R> {
        self.inner.commit_one(f)
    }

    /// Inserts one object and returns its id.
    pub fn insert<I, K, V>(&self, namespace: &str, class: &str, fields: I) -> Result<ObjectId>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        self.commit_one(|tx| tx.insert(namespace, class, fields))
    }

    /// Updates some fields of one object.
    pub fn update<I, K, V>(&self, namespace: &str, id: ObjectId, fields: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        self.commit_one(|tx| {
            tx.update(namespace, id, fields);
            Ok(())
        })
    }

    /// Deletes one object and all its index entries.
    pub fn delete(&self, namespace: &str, id: ObjectId) -> Result<()> {
        self.commit_one(|tx| {
            tx.delete(namespace, id);
            Ok(())
        })
    }
}
