//! Typed collections: a [`Model`]'s objects, through handles that take no
//! strings, outside a transaction ([`Collection`]) and inside one
//! ([`TxCollection`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use rockhold_format::{ClassDef, Key as _, ObjectId, RecordView, Value};

use crate::catalog::{CatalogCell, ClassEntry};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::read::{FindAll, RangeScan, ScanPage};
use crate::txn::{ClassIds, FieldValues, Transaction};
use crate::typed::model::{Id, IndexRef, Key, KeyedModel, Model, Range, Unique};
use crate::typed::{de, reading, ser};

/// The objects of model `M`. Made by [`Db::collection`], which creates the
/// class or checks the stored one fits the model, and resolves the class
/// once: the handle's calls take no strings and look no name up. Cheap to
/// clone. If the class is dropped, its calls fail with `UnknownClass`
/// (even when a class of the same name is created since).
pub struct Collection<M> {
    db: Db,
    ids: ClassIds,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Collection<M> {
    fn clone(&self) -> Self {
        Collection {
            db: self.db.clone(),
            ids: self.ids.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Collection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("model", &std::any::type_name::<M>())
            .field("class", &self.ids)
            .finish()
    }
}

impl Db {
    /// The collection of model `M`: creates its class on first use, or
    /// checks that the stored class fits the model and applies an additive
    /// change (a new optional field, a new index, which the runner builds).
    /// A change the stored class cannot take (a field's type, a new
    /// required field on a class with objects) is `Error::ModelMismatch`
    /// naming the field; a model whose type contains itself is
    /// `Error::RecursiveType`.
    pub fn collection<M: Model>(&self) -> Result<Collection<M>> {
        let spec = crate::typed::model::spec_of::<M>()?;
        let def = self.ensure_class(M::NAMESPACE, &spec)?;
        let ns = self.view().namespace(M::NAMESPACE)?;
        Ok(Collection {
            db: self.clone(),
            ids: ClassIds {
                ns,
                class: def.id,
                name: Cow::Borrowed(M::CLASS),
            },
            _model: PhantomData,
        })
    }
}

/// The current definition of the class `ids` names.
fn entry_of(catalog: &CatalogCell, ids: &ClassIds) -> Result<Arc<ClassEntry>> {
    Ok(catalog.peek().class_at(ids.at())?.clone())
}

/// The values of `item` by field id, checked against its class.
fn fields_of<M: Model>(db: &Db, ids: &ClassIds, item: &M) -> Result<FieldValues> {
    let entry = entry_of(&db.inner.catalog, ids)?;
    Ok(FieldValues::Ids(
        ser::to_fields(&entry.def, item)?,
        entry.clone(),
    ))
}

/// Refuses a record of another class than the handle's.
fn of_class(ids: &ClassIds, def: &ClassDef, id: ObjectId) -> Result<()> {
    if def.id != ids.class {
        return Err(Error::ClassMismatch {
            id,
            class: ids.name.to_string(),
            found: def.name.clone(),
        });
    }
    Ok(())
}

/// Reads a model out of a record, refusing one of another class.
fn decode<M: Model>(
    ids: &ClassIds,
    def: &ClassDef,
    key: &[u8],
    rec: RecordView<'_>,
    id: ObjectId,
) -> Result<M> {
    of_class(ids, def, id)?;
    de::from_view(def, rec, key).map_err(|e| reading(id, e))
}

/// The key value of a range bound.
/// The scan of an ordered index over `range` of keys.
fn range_scan<'k, K: Key + 'k>(range: impl RangeBounds<K::Ref<'k>>) -> RangeScan {
    RangeScan::between(
        bound::<K>(range.start_bound()),
        bound::<K>(range.end_bound()),
    )
}

fn bound<K: Key>(b: Bound<&K::Ref<'_>>) -> Bound<Value> {
    match b {
        Bound::Included(k) => Bound::Included(K::to_value(k)),
        Bound::Excluded(k) => Bound::Excluded(K::to_value(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<M: Model> Collection<M> {
    /// Inserts an object; returns its id.
    pub fn insert(&self, item: &M) -> Result<Id<M>> {
        let fields = fields_of(&self.db, &self.ids, item)?;
        self.db
            .inner
            .commit_one(|tx| tx.insert_in(self.ids.clone(), fields))
            .map(Id::from_raw)
    }

    /// The object `id`, or `None` (read in place: only the fields the
    /// struct has are decoded).
    pub fn get(&self, id: Id<M>) -> Result<Option<M>> {
        let ids = &self.ids;
        self.db
            .inner
            .load_typed(ids.ns, Some(ids.class), id.raw(), |def| {
                of_class(&self.ids, def, id.raw())
            })
    }

    /// Replaces object `id` with `item` (a field `item` gives as `None` is
    /// cleared).
    pub fn update(&self, id: Id<M>, item: &M) -> Result<()> {
        let fields = fields_of(&self.db, &self.ids, item)?;
        self.db.inner.commit_one(|tx| {
            tx.update_in(self.ids.clone(), id.raw(), fields);
            Ok(())
        })
    }

    /// Deletes object `id` and its index entries.
    pub fn delete(&self, id: Id<M>) -> Result<()> {
        self.db.inner.commit_one(|tx| {
            tx.delete_in(self.ids.clone(), id.raw());
            Ok(())
        })
    }

    /// The object holding `key` in unique index `index`, or `None`.
    pub fn find_unique<K: Key, I: Unique>(
        &self,
        index: IndexRef<M, K, I>,
        key: K::Ref<'_>,
    ) -> Result<Option<Id<M>>> {
        Ok(self
            .db
            .view()
            .find_unique(self.ids.at(), index.name(), &K::to_value(&key))?
            .map(Id::from_raw))
    }

    /// The object holding `key` in unique index `index`, with its id, in
    /// one read of its record.
    pub fn get_unique<K: Key, I: Unique>(
        &self,
        index: IndexRef<M, K, I>,
        key: K::Ref<'_>,
    ) -> Result<Option<(Id<M>, M)>> {
        let found = self.db.view().unique_record(
            self.ids.at(),
            index.name(),
            &K::to_value(&key),
            |def, k, rec| de::from_view::<M>(def, rec, k),
        )?;
        Ok(found.map(|(id, m)| (Id::from_raw(id), m)))
    }

    /// Every object holding `key` in `index`, in id order.
    pub fn find_all<K: Key, I>(
        &self,
        index: IndexRef<M, K, I>,
        key: K::Ref<'_>,
    ) -> Result<Vec<Id<M>>> {
        Ok(self
            .db
            .view()
            .find_all(self.ids.at(), index.name(), &K::to_value(&key))?
            .into_iter()
            .map(Id::from_raw)
            .collect())
    }

    /// The objects whose key in ordered index `index` is within `range`,
    /// in key order, streamed a page at a time (bounded memory).
    pub fn range<'k, K: Key + 'k, I: Range>(
        &self,
        index: IndexRef<M, K, I>,
        range: impl RangeBounds<K::Ref<'k>>,
    ) -> Result<RangeIter<M>> {
        let scan = range_scan::<K>(range);
        Ok(RangeIter {
            coll: self.clone(),
            index: index.name(),
            scan: Some(scan),
            page_size: RANGE_FIRST_PAGE,
            page: VecDeque::new(),
        })
    }

    /// The ids of the objects whose key in ordered index `index` is within
    /// `range`, in key order, from the index alone (no record is read):
    /// streamed a page of entries at a time.
    ///
    /// ```
    /// use rockhold::{Db, MemStore, Model, Options};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, Model)]
    /// struct Reading { #[index(ordered)] at: u64 }
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let readings = db.collection::<Reading>()?;
    /// for at in [5, 1, 9, 3] { readings.insert(&Reading { at })?; }
    /// let ids = readings.range_ids(Reading::AT, 2..)?.take(2).collect::<Result<Vec<_>, _>>()?;
    /// let ats: Vec<u64> = ids.iter().map(|id| Ok(readings.get(*id)?.expect("there").at))
    ///     .collect::<Result<_, rockhold::Error>>()?;
    /// assert_eq!(ats, [3, 5]);
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn range_ids<'k, K: Key + 'k, I: Range>(
        &self,
        index: IndexRef<M, K, I>,
        range: impl RangeBounds<K::Ref<'k>>,
    ) -> Result<RangeIds<M>> {
        let scan = range_scan::<K>(range);
        Ok(RangeIds {
            coll: self.clone(),
            index: index.name(),
            scan: Some(scan),
            page_size: RANGE_IDS_FIRST_PAGE,
            page: VecDeque::new(),
        })
    }

    /// The number of objects in the collection, counted from their record
    /// keys (no record is decoded).
    pub fn count(&self) -> Result<u64> {
        self.db.view().count_class(self.ids.at())
    }

    /// Every object of the collection, in id order, streamed a page at a
    /// time (bounded memory), each record decoded in place.
    ///
    /// ```
    /// use rockhold::{Db, MemStore, Model, Options};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, Model)]
    /// struct Point { x: i64 }
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let points = db.collection::<Point>()?;
    /// for x in 0..1000 { points.insert(&Point { x })?; }
    /// let sum: i64 = points.iter().map(|r| r.map(|(_, p)| p.x)).sum::<Result<_, _>>()?;
    /// assert_eq!(sum, 499_500);
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn iter(&self) -> ObjectIter<M> {
        ObjectIter {
            coll: self.clone(),
            next: Some(ObjectId(0)),
            page: VecDeque::new(),
        }
    }

    /// Runs `f` on this collection inside a read-write transaction, retried
    /// on conflict (see [`Db::write`]).
    pub fn write<R>(
        &self,
        mut f: impl FnMut(&mut TxCollection<'_, '_, M>) -> Result<R>,
    ) -> Result<R> {
        self.db.write(|tx| {
            f(&mut TxCollection {
                tx,
                ids: Some(self.ids.clone()),
                _model: PhantomData,
            })
        })
    }

    /// The database this collection is of.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The committed changes of this collection's objects, from the next
    /// commit on, in commit order, each with the new object decoded (see
    /// [`Db::watch`] for the sequence numbers and the `Lagged` signal).
    pub fn watch(&self) -> Result<TypedWatch<M>> {
        Ok(TypedWatch {
            watch: self.db.watch_class(self.ids.at())?,
            _model: PhantomData,
        })
    }
}

impl<M: KeyedModel> Collection<M> {
    /// The object whose natural key is `key`, with its id.
    pub fn get_by_key(&self, key: <M::Key as Key>::Ref<'_>) -> Result<Option<(Id<M>, M)>> {
        self.get_unique(M::KEY, key)
    }

    /// Replaces the object whose natural key is `key` with `item`; returns
    /// its id, or `None` (nothing written) when no object has the key.
    pub fn update_by_key(&self, key: <M::Key as Key>::Ref<'_>, item: &M) -> Result<Option<Id<M>>> {
        let value = M::Key::to_value(&key);
        self.write(|c| match c.find_unique_value(M::KEY.name(), &value)? {
            Some(id) => c
                .update(Id::from_raw(id), item)
                .map(|()| Some(Id::from_raw(id))),
            None => Ok(None),
        })
    }

    /// Deletes the object whose natural key is `key`; returns its id, or
    /// `None` when no object has the key.
    pub fn delete_by_key(&self, key: <M::Key as Key>::Ref<'_>) -> Result<Option<Id<M>>> {
        let value = M::Key::to_value(&key);
        self.write(|c| match c.find_unique_value(M::KEY.name(), &value)? {
            Some(id) => {
                c.delete(Id::from_raw(id))?;
                Ok(Some(Id::from_raw(id)))
            }
            None => Ok(None),
        })
    }

    /// Inserts `item`, or replaces the object that has its natural key;
    /// returns the id. Atomic: two upserts of one key never make two
    /// objects.
    pub fn upsert(&self, item: &M) -> Result<Id<M>> {
        self.write(|c| c.upsert(item))
    }
}

/// The first page a range reads, and the largest: pages double in
/// between, so a range that is stopped early (`.take(n)`) reads at most
/// about twice the entries it yields, and a long one reads few pages.
const RANGE_FIRST_PAGE: usize = 16;
const RANGE_MAX_PAGE: usize = 1024;

/// The objects of a [`Collection::range`], in key order: read a page of
/// index entries at a time, and each page's objects in one batched lookup.
/// Every page reads the latest committed state, so an object deleted
/// since its entry was read is skipped.
pub struct RangeIter<M> {
    coll: Collection<M>,
    index: &'static str,
    /// The next page's scan; `None` when the last page was read.
    scan: Option<RangeScan>,
    page_size: usize,
    page: VecDeque<(ObjectId, Option<M>)>,
}

impl<M: Model> RangeIter<M> {
    /// Reads the next page of entries and their objects.
    fn fill(&mut self) -> Result<bool> {
        let Some(scan) = self.scan.take() else {
            return Ok(false);
        };
        let scan = scan.limit(self.page_size);
        self.page_size = (self.page_size * 2).min(RANGE_MAX_PAGE);
        let page: ScanPage = self
            .coll
            .db
            .view()
            .scan(self.coll.ids.at(), self.index, &scan)?;
        let ids: Vec<ObjectId> = page.hits.iter().map(|(_, id)| *id).collect();
        let objects = self.coll.db.inner.load_many_typed(
            self.coll.ids.ns,
            self.coll.ids.class,
            &ids,
            |def, id| of_class(&self.coll.ids, def, id),
        )?;
        self.page.extend(ids.into_iter().zip(objects));
        self.scan = page.cursor.map(|c| scan.after(c));
        Ok(true)
    }
}

impl<M: Model> Iterator for RangeIter<M> {
    type Item = Result<(Id<M>, M)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.page.pop_front() {
                // Deleted since its entry was read: skipped.
                Some((_, None)) => continue,
                Some((id, Some(m))) => return Some(Ok((Id::from_raw(id), m))),
                None => match self.fill() {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => {
                        self.scan = None;
                        return Some(Err(e));
                    }
                },
            }
        }
    }
}

/// The first page of entries a [`RangeIds`] reads: an entry costs much
/// less than an object, so pages start larger than a [`RangeIter`]'s.
const RANGE_IDS_FIRST_PAGE: usize = 128;

/// The ids of a [`Collection::range_ids`], in key order, read from the
/// index a page of entries at a time (pages double up to 1,024 entries);
/// every page reads the latest committed state.
pub struct RangeIds<M> {
    coll: Collection<M>,
    index: &'static str,
    /// The next page's scan; `None` when the last page was read.
    scan: Option<RangeScan>,
    page_size: usize,
    page: VecDeque<ObjectId>,
}

impl<M: Model> Iterator for RangeIds<M> {
    type Item = Result<Id<M>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(id) = self.page.pop_front() {
                return Some(Ok(Id::from_raw(id)));
            }
            let scan = self.scan.take()?.limit(self.page_size);
            self.page_size = (self.page_size * 2).min(RANGE_MAX_PAGE);
            match self
                .coll
                .db
                .view()
                .scan(self.coll.ids.at(), self.index, &scan)
            {
                Ok(page) => {
                    self.page.extend(page.hits.into_iter().map(|(_, id)| id));
                    self.scan = page.cursor.map(|c| scan.after(c));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Every object of a [`Collection`], in id order: [`Collection::iter`].
/// Read a page of records at a time, each decoded in place; every page
/// reads the latest committed state.
pub struct ObjectIter<M> {
    coll: Collection<M>,
    /// The first id of the next page; `None` when the last page was read.
    next: Option<ObjectId>,
    page: VecDeque<(ObjectId, M)>,
}

const SCAN_PAGE: usize = 256;

impl<M: Model> ObjectIter<M> {
    fn fill(&mut self) -> Result<bool> {
        let Some(first) = self.next.take() else {
            return Ok(false);
        };
        let ids = &self.coll.ids;
        // Held for a page's scan: a counted version, not a short `peek`.
        let catalog = self.coll.db.inner.catalog.load();
        let entry = catalog.class_at(ids.at())?;
        let mut last = None;
        let page = &mut self.page;
        self.coll
            .db
            .view()
            .for_each_record(ids.ns, ids.class, first, None, |id, key, rec| {
                page.push_back((id, decode(ids, &entry.def, key, rec, id)?));
                last = Some(id);
                Ok(page.len() < SCAN_PAGE)
            })?;
        if self.page.len() == SCAN_PAGE {
            self.next = last.and_then(|id| id.0.checked_add(1)).map(ObjectId);
        }
        Ok(!self.page.is_empty())
    }
}

impl<M: Model> Iterator for ObjectIter<M> {
    type Item = Result<(Id<M>, M)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.next = None;
                    return Some(Err(e));
                }
            }
        }
        self.page
            .pop_front()
            .map(|(id, m)| Ok((Id::from_raw(id), m)))
    }
}

/// Model `M`'s objects inside a transaction: the calls of [`Collection`],
/// seeing the transaction's own writes, validated at commit. Made by
/// [`Transaction::of`] (which finds the class by the model's names at each
/// call) or by [`Collection::write`] (with the collection's resolved class).
pub struct TxCollection<'t, 'db, M> {
    tx: &'t mut Transaction<'db>,
    ids: Option<ClassIds>,
    _model: PhantomData<fn() -> M>,
}

impl<'db> Transaction<'db> {
    /// Model `M`'s objects in this transaction.
    ///
    /// ```
    /// use rockhold::{Db, MemStore, Model, Options};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize, Model)]
    /// struct Counter { n: u64 }
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// let counters = db.collection::<Counter>()?;
    /// let id = counters.insert(&Counter { n: 0 })?;
    /// db.write(|tx| {
    ///     let mut c = tx.of::<Counter>().get(id)?.expect("exists");
    ///     c.n += 1;
    ///     tx.of::<Counter>().update(id, &c)
    /// })?;
    /// assert_eq!(counters.get(id)?.map(|c| c.n), Some(1));
    /// # Ok::<(), rockhold::Error>(())
    /// ```
    pub fn of<M: Model>(&mut self) -> TxCollection<'_, 'db, M> {
        TxCollection {
            tx: self,
            ids: None,
            _model: PhantomData,
        }
    }
}

impl<M: Model> TxCollection<'_, '_, M> {
    /// The class: the collection's, or the model's by name now.
    fn class(&self) -> Result<(Arc<ClassEntry>, ClassIds)> {
        let catalog = self.tx.catalog();
        match &self.ids {
            Some(ids) => Ok((entry_of(catalog, ids)?, ids.clone())),
            None => {
                let entry = catalog.peek().class(M::NAMESPACE, M::CLASS)?.clone();
                let ids = ClassIds::of(&entry, M::CLASS);
                Ok((entry, ids))
            }
        }
    }

    /// Stages an insert; returns the id the object will have.
    pub fn insert(&mut self, item: &M) -> Result<Id<M>> {
        let (entry, ids) = self.class()?;
        let fields = FieldValues::Ids(ser::to_fields(&entry.def, item)?, entry.clone());
        self.tx.insert_in(ids, fields).map(Id::from_raw)
    }

    /// The object `id` as this transaction sees it.
    pub fn get(&mut self, id: Id<M>) -> Result<Option<M>> {
        let (_, ids) = self.class()?;
        self.tx.with_record(ids.ns, id.raw(), |def, key, rec| {
            decode(&ids, def, key, rec, id.raw())
        })
    }

    /// Stages replacing object `id` with `item`.
    pub fn update(&mut self, id: Id<M>, item: &M) -> Result<()> {
        let (entry, ids) = self.class()?;
        let fields = FieldValues::Ids(ser::to_fields(&entry.def, item)?, entry.clone());
        self.tx.update_in(ids, id.raw(), fields);
        Ok(())
    }

    /// Stages deleting object `id`.
    pub fn delete(&mut self, id: Id<M>) -> Result<()> {
        let (_, ids) = self.class()?;
        self.tx.delete_in(ids, id.raw());
        Ok(())
    }

    /// The holder of `value` in unique index `index` (its values as
    /// stored), as this transaction sees it.
    fn find_unique_value(&mut self, index: &str, value: &Value) -> Result<Option<ObjectId>> {
        let (_, ids) = self.class()?;
        self.tx.find_unique_at(ids.at(), index, value)
    }

    /// The object holding `key` in a unique index, as this transaction
    /// sees it.
    pub fn find_unique<K: Key, I: Unique>(
        &mut self,
        index: IndexRef<M, K, I>,
        key: K::Ref<'_>,
    ) -> Result<Option<Id<M>>> {
        Ok(self
            .find_unique_value(index.name(), &K::to_value(&key))?
            .map(Id::from_raw))
    }

    /// The object holding `key` in a unique index, with its id.
    pub fn get_unique<K: Key, I: Unique>(
        &mut self,
        index: IndexRef<M, K, I>,
        key: K::Ref<'_>,
    ) -> Result<Option<(Id<M>, M)>> {
        match self.find_unique(index, key)? {
            Some(id) => Ok(self.get(id)?.map(|m| (id, m))),
            None => Ok(None),
        }
    }

    /// Every object holding `key` in `index`, as this transaction sees it.
    pub fn find_all<K: Key, I>(
        &mut self,
        index: IndexRef<M, K, I>,
        key: K::Ref<'_>,
    ) -> Result<Vec<Id<M>>> {
        let (_, ids) = self.class()?;
        Ok(self
            .tx
            .find_page_at(ids.at(), index.name(), &K::to_value(&key), &FindAll::all())?
            .ids
            .into_iter()
            .map(Id::from_raw)
            .collect())
    }

    /// The ids of up to `limit` objects within `range` of an ordered index,
    /// in key order, as this transaction sees them.
    pub fn range<'k, K: Key + 'k, I: Range>(
        &mut self,
        index: IndexRef<M, K, I>,
        range: impl RangeBounds<K::Ref<'k>>,
        limit: usize,
    ) -> Result<Vec<Id<M>>> {
        let scan = range_scan::<K>(range).limit(limit);
        let (_, ids) = self.class()?;
        Ok(self
            .tx
            .scan_at(ids.at(), index.name(), &scan)?
            .hits
            .into_iter()
            .map(|(_, id)| Id::from_raw(id))
            .collect())
    }
}

impl<M: KeyedModel> TxCollection<'_, '_, M> {
    /// Stages inserting `item`, or replacing the object that has its
    /// natural key; returns the id.
    pub fn upsert(&mut self, item: &M) -> Result<Id<M>> {
        let (entry, ids) = self.class()?;
        let fields = ser::to_fields(&entry.def, item)?;
        let index = entry.index_named(M::KEY.name())?;
        let mut parts = Vec::with_capacity(index.parts.len());
        for part in &index.parts {
            if !part.members.is_empty() {
                return Err(Error::InvalidRequest(format!(
                    "upsert: the key {}.{} has a nested part; give its value with update_by_key",
                    M::CLASS,
                    M::KEY.name()
                )));
            }
            let v = fields
                .iter()
                .find(|(f, _)| *f == part.field)
                .map_or(Value::Absent, |(_, v)| v.clone());
            parts.push(v);
        }
        let value = if parts.len() == 1 {
            parts.remove(0)
        } else {
            Value::List(parts)
        };
        let fields = FieldValues::Ids(fields, entry.clone());
        match self.tx.find_unique_at(ids.at(), M::KEY.name(), &value)? {
            Some(id) => {
                self.tx.update_in(ids, id, fields);
                Ok(Id::from_raw(id))
            }
            None => self.tx.insert_in(ids, fields).map(Id::from_raw),
        }
    }
}

/// A change of a [`TypedWatch`]: the feed's change with the new object
/// decoded (`None` for a delete).
#[derive(Debug, Clone, PartialEq)]
pub struct TypedChange<M> {
    /// The commit's sequence number.
    pub seq: u64,
    /// Insert, update or delete.
    pub kind: crate::ChangeKind,
    /// The object's id.
    pub id: Id<M>,
    /// The object as committed; `None` for a delete.
    pub object: Option<M>,
}

/// The committed changes of one collection, decoded. Made by
/// [`Collection::watch`]; an iterator that blocks for the next change.
pub struct TypedWatch<M> {
    watch: crate::Watch,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> TypedWatch<M> {
    /// The next change, waiting for it; `Err(Lagged)` when changes were
    /// dropped because this watch fell behind.
    pub fn recv(&mut self) -> Result<TypedChange<M>> {
        self.watch.recv().and_then(decode_change)
    }

    /// The next change if one is waiting.
    pub fn try_recv(&mut self) -> Result<Option<TypedChange<M>>> {
        self.watch.try_recv()?.map(decode_change).transpose()
    }

    /// The next change, waiting at most `timeout`.
    pub fn recv_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<TypedChange<M>>> {
        self.watch
            .recv_timeout(timeout)?
            .map(decode_change)
            .transpose()
    }
}

fn decode_change<M: Model>(c: crate::Change) -> Result<TypedChange<M>> {
    let (def, bytes) = c.raw();
    let (ns, _) = c.ids();
    let object = match bytes {
        None => None,
        Some(bytes) => {
            let key = rockhold_format::ObjectKey {
                ns,
                class: def.id,
                id: c.id,
            }
            .encode();
            let view = RecordView::new(bytes).map_err(|e| Error::corruption(&key, e))?;
            // The watch is of this collection's class id: no class to check.
            Some(de::from_view::<M>(def, view, &key).map_err(|e| reading(c.id, e))?)
        }
    };
    Ok(TypedChange {
        seq: c.seq,
        kind: c.kind,
        id: Id::from_raw(c.id),
        object,
    })
}

impl<M: Model> Iterator for TypedWatch<M> {
    type Item = Result<TypedChange<M>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.recv() {
            Err(Error::WatchClosed) => None,
            other => Some(other),
        }
    }
}
