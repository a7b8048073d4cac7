//! # Reads
//!
//! Owns: the read context (`ReadCtx`: the store, the options, the value
//! hasher, the catalog cell, the lookup caches and the metrics, which every
//! layer above reads through), objects by id, unique and non-unique lookups, range and prefix
//! scans with resumable cursors, class scans, snapshots, and the lookup
//! caches (`cache`). The same code serves live reads and snapshot reads;
//! only live reads use the caches. Reads never wait for writers: they load
//! the catalog version without a lock and read the store directly.
//!
//! May call: `index` (entries, keys), `catalog`, `kv`, `metrics`, `options`,
//! `error`.

use std::ops::Bound;
use std::sync::Arc;

use rockhold_format::{
    decode_holders, ClassDef, ClassId, Family, IndexDef, IndexId, IndexShape, Key, NamespaceId,
    ObjectId, ObjectKey, ObjectRecord, OrderedKey, OrderedKeyRef, RecordView, Value,
};

use crate::catalog::schema::paths::part_type;
use crate::catalog::CatalogCell;
use crate::catalog::{Catalog, ClassAt, ClassEntry};
use crate::error::{Error, Result};
use crate::index::committed::Stored;
use crate::index::entries::ValueHasher;
use crate::index::entries::{encode_tuple, entry_id, index_tuples_in, point_key};
use crate::index::unique::Held;
use crate::kv::Kv;
use crate::kv::{KeyRange, KvRead, Space};
use crate::metrics::Metrics;
use crate::options::Options;
use crate::read::cache::{Generation, GuardedLru, Stamp, WriteStamps};

pub(crate) mod cache;

/// Key of the unique-lookup cache: class, index, ordered encoding of the value.
pub(crate) type UniqueCacheKey = (ClassId, IndexId, Vec<u8>);

/// What every read needs, owned once by the database and lent to the
/// layers above: the store, the options, the value hasher, the catalog
/// and the lookup caches with their guards. The write path's context
/// (`txn::WriteCtx`) contains it.
pub(crate) struct ReadCtx {
    pub kv: Box<dyn Kv>,
    pub opts: Options,
    pub seed: ValueHasher,
    pub catalog: CatalogCell,
    /// Unique lookups: the holder, with the stamp taken before its read.
    pub unique_cache: GuardedLru<UniqueCacheKey, (ObjectId, Stamp)>,
    /// When each object was last written (the unique cache's second guard).
    pub stamps: WriteStamps,
    /// Object → class, for `class_of`.
    pub class_cache: GuardedLru<(NamespaceId, ObjectId), ClassId>,
    pub metrics: Metrics,
}

impl ReadCtx {
    /// Fails with `ReadOnly` on a read-only database.
    pub fn writable(&self) -> Result<()> {
        if self.kv.is_read_only() {
            Err(Error::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// A view of the latest state, with the caches.
    pub fn view(&self) -> View<'_> {
        View::latest(self)
    }

    /// A consistent snapshot (see `Snapshot`).
    pub fn snapshot(&self) -> Snapshot<'_> {
        // The catalog version that describes exactly the snapshot's data;
        // waits for no writer and no build.
        let (catalog, snap) = self.catalog.consistent(|| self.kv.snapshot());
        Snapshot {
            cx: self,
            snap,
            catalog,
        }
    }

    /// The name of the class of an object, or `None` if it does not exist.
    /// Answered from the object → class cache when possible.
    pub fn class_of(&self, namespace: &str, id: ObjectId) -> Result<Option<String>> {
        let view = self.view();
        let ns = view.namespace(namespace)?;
        let Some(class) = view.locate(ns, id)? else {
            return Ok(None);
        };
        Ok(self
            .catalog
            .load()
            .class_by_id(class)
            .map(|c| c.def.name.clone()))
    }
}

/// An object as returned by reads: its id, class name and present fields
/// (in the class's field order).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The object's id.
    pub id: ObjectId,
    /// The name of its class.
    pub class: String,
    /// Present fields by name; absent optional fields are left out.
    pub fields: Vec<(String, Value)>,
}

impl Object {
    /// The value of a field, `None` when absent or unknown.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == field).map(|(_, v)| v)
    }
}

/// A scan of an ordered index: bounds (or a string/bytes prefix), direction,
/// page size and where to resume.
#[derive(Debug, Clone)]
pub struct RangeScan {
    lower: Bound<Value>,
    upper: Bound<Value>,
    prefix: Option<Value>,
    reverse: bool,
    limit: usize,
    after: Option<Cursor>,
}

impl Default for RangeScan {
    fn default() -> Self {
        RangeScan {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
            prefix: None,
            reverse: false,
            limit: usize::MAX,
            after: None,
        }
    }
}

impl RangeScan {
    /// Every entry of the index.
    pub fn all() -> Self {
        RangeScan::default()
    }

    /// Entries whose value lies between the bounds.
    pub fn between(lower: Bound<Value>, upper: Bound<Value>) -> Self {
        RangeScan {
            lower,
            upper,
            ..RangeScan::default()
        }
    }

    /// Entries whose string or bytes value starts with `prefix`.
    pub fn prefix(prefix: impl Into<Value>) -> Self {
        RangeScan {
            prefix: Some(prefix.into()),
            ..RangeScan::default()
        }
    }

    /// Scan from the highest value down.
    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// Return at most `limit` entries; the page's cursor resumes after them.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Resume after the last entry of a previous page.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// Where a scan stopped: pass it to `RangeScan::after` for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(Vec<u8>);

/// One page of a range scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPage {
    /// (value, object) pairs in index order.
    pub hits: Vec<(Value, ObjectId)>,
    /// Set when the page is full: more entries may follow.
    pub cursor: Option<Cursor>,
}

/// One distinct value of an ordered index and how many objects hold it
/// (an object of a multi-valued index once per distinct element).
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// The value (a compound index's: the list of its parts' values).
    pub value: Value,
    /// How many entries hold it.
    pub count: u64,
}

/// What [`Db::facets`](crate::Db::facets) returns: distinct values in index
/// order, each with its count.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetPage {
    /// At most the scan's limit of distinct values.
    pub facets: Vec<Facet>,
    /// Set when the page is full: give it to `RangeScan::after` for the
    /// next distinct values.
    pub cursor: Option<Cursor>,
}

/// What [`Db::find_page`](crate::Db::find_page) returns: a page size and where to start. Like
/// [`RangeScan`]: `FindAll::first(limit)`, then `.after(cursor)` with the
/// cursor of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindAll {
    limit: usize,
    after: Option<Cursor>,
}

impl FindAll {
    pub(crate) fn after_cursor(&self) -> Option<&Cursor> {
        self.after.as_ref()
    }

    /// Every holder in one page (what [`Db::find_all`](crate::Db::find_all) returns): for values
    /// that few objects hold.
    pub fn all() -> Self {
        FindAll {
            limit: usize::MAX,
            after: None,
        }
    }

    /// The first page of at most `limit` holders.
    pub fn first(limit: usize) -> Self {
        FindAll { limit, after: None }
    }

    /// Continues after the page that returned `cursor`.
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// One page of holders of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindPage {
    /// Object ids, in id order.
    pub ids: Vec<ObjectId>,
    /// Set when the page is full: more holders may follow; pass it to
    /// [`FindAll::after`] for the next page.
    pub cursor: Option<Cursor>,
}

/// The point key of a unique lookup, and the value stripe of its writers.
pub(crate) struct UniquePoint {
    pub stripe: (ClassId, IndexId, u64),
    pub family: Family,
    pub key: Vec<u8>,
}

/// The most hits a range scan makes room for before its first entry.
const SCAN_RESERVE: usize = 1024;

/// What a storage read's answer is cached under: the cache's generation
/// and the write-stamp clock, both taken before the read.
struct CacheFill(Generation, Stamp);

/// Reads at one point: the latest state (with caches) or a snapshot.
pub(crate) struct View<'a> {
    pub cx: &'a ReadCtx,
    /// The store as of the view: the latest state, or a snapshot.
    pub kv: &'a dyn KvRead,
    /// Live reads use the caches; snapshot reads never do.
    pub live: bool,
    /// The catalog as of the snapshot; `None` reads the current version.
    pub catalog: Option<&'a Catalog>,
    /// A transaction's staged writes over its snapshot: a unique tuple may
    /// have two holders for a while, and a lookup that meets them is
    /// `UniqueViolation` (in a store, the first holder answers).
    staged: bool,
}

impl<'a> View<'a> {
    pub fn latest(cx: &'a ReadCtx) -> Self {
        View {
            cx,
            kv: cx.kv.latest(),
            live: true,
            catalog: None,
            staged: false,
        }
    }

    /// This view of a transaction's staged writes (see `staged`).
    pub fn staged(mut self) -> Self {
        self.staged = true;
        self
    }

    /// Refuses a lookup of a unique tuple that a transaction's staged
    /// writes give two holders.
    fn one_holder(
        &self,
        class: &ClassDef,
        index: &IndexDef,
        tuple: &[u8],
        holders: &[ObjectId],
    ) -> Result<()> {
        match holders {
            [first, _, ..] if self.staged => Err(held_twice(class, index, tuple, *first)),
            _ => Ok(()),
        }
    }

    /// A view of `kv` (a snapshot) with no caches, reading the current
    /// catalog version unless `catalog` is given.
    pub fn at(cx: &'a ReadCtx, kv: &'a dyn KvRead, catalog: Option<&'a Catalog>) -> Self {
        View {
            cx,
            kv,
            live: false,
            catalog,
            staged: false,
        }
    }

    /// Runs `f` on the catalog this view reads with: the snapshot's, or the
    /// current version (loaded without a lock).
    fn with_catalog<R>(&self, f: impl FnOnce(&Catalog) -> R) -> R {
        match self.catalog {
            Some(cat) => f(cat),
            None => f(&self.cx.catalog.peek()),
        }
    }

    pub(crate) fn class(&self, at: ClassAt<'_>) -> Result<Arc<ClassEntry>> {
        self.with_catalog(|cat| Ok(cat.class_at(at)?.clone()))
    }

    pub fn namespace(&self, ns: &str) -> Result<NamespaceId> {
        self.with_catalog(|cat| cat.namespace_id(ns))
    }

    /// The class of object `id` as its locator has it (`None`: no such
    /// object). A live view remembers it in the object → class cache,
    /// under the cache's generation guard (a delete meanwhile wins).
    pub fn locate(&self, ns: NamespaceId, id: ObjectId) -> Result<Option<ClassId>> {
        if !self.live {
            return self.stored().locate(ns, id);
        }
        let cache = &self.cx.class_cache;
        let generation = match cache.lookup(&(ns, id)) {
            Ok(class) => return Ok(Some(class)),
            Err(generation) => generation,
        };
        let class = self.stored().locate(ns, id)?;
        if let Some(class) = class {
            cache.insert_if_unchanged(generation, (ns, id), class);
        }
        Ok(class)
    }

    /// The class the object → class cache remembers for object `id`: a
    /// hint, not an answer. The cache holds classes read from locators and
    /// forgets an object when it is deleted, but an id given back by
    /// `put_object` may name an object of another class since, and a
    /// snapshot may predate either: a read under the hinted class that
    /// finds nothing reads the locator (`View::record`, `with_record`).
    fn class_hint(&self, ns: NamespaceId, id: ObjectId) -> Option<ClassId> {
        self.cx.class_cache.lookup(&(ns, id)).ok()
    }

    /// The stored record of an object found by id alone, checksum-verified:
    /// one point read when the object → class cache knows its class,
    /// otherwise its locator, then its record.
    pub fn record(&self, ns: NamespaceId, id: ObjectId) -> Result<Option<ObjectRecord>> {
        self.with_record(ns, id, |key, rec| {
            rec.to_record().map_err(|e| Error::corruption(key, e))
        })
    }

    /// The stored record of an object of a known class (one point read),
    /// checksum-verified; `None` when the class holds no object `id`.
    pub fn record_in(
        &self,
        ns: NamespaceId,
        class: ClassId,
        id: ObjectId,
    ) -> Result<Option<ObjectRecord>> {
        let key = ObjectKey { ns, class, id }.encode();
        let mut decoded = None;
        self.kv.get_with(Space::Objects, &key, &mut |bytes| {
            decoded = Some(ObjectRecord::decode_in(bytes, class));
        })?;
        decoded.transpose().map_err(|e| Error::corruption(&key, e))
    }

    /// Runs `f` on the stored record of an object found by id alone (as
    /// [`View::record`] finds it), read in place (the checksum verified,
    /// nothing decoded but what `f` reads); `None` when the object does not
    /// exist.
    pub fn with_record<R>(
        &self,
        ns: NamespaceId,
        id: ObjectId,
        f: impl FnOnce(&[u8], RecordView<'_>) -> Result<R>,
    ) -> Result<Option<R>> {
        let hint = self.class_hint(ns, id);
        let mut f = Some(f);
        let mut run = |class| {
            self.with_record_in(ns, class, id, |key, rec| match f.take() {
                Some(f) => f(key, rec).map(Some),
                None => Ok(None),
            })
        };
        let class = match hint {
            // The locator (a live view remembers it in the cache).
            None => self.locate(ns, id)?,
            // The locator itself, not the cache that gave the hint.
            Some(hint) => match run(hint)? {
                Some(out) => return Ok(out),
                None => self.stored().locate(ns, id)?.filter(|c| *c != hint),
            },
        };
        match class {
            Some(class) => Ok(run(class)?.flatten()),
            None => Ok(None),
        }
    }

    /// [`View::with_record`] for an object of a known class: one point
    /// read; `None` when the class holds no object `id`.
    pub fn with_record_in<R>(
        &self,
        ns: NamespaceId,
        class: ClassId,
        id: ObjectId,
        f: impl FnOnce(&[u8], RecordView<'_>) -> Result<R>,
    ) -> Result<Option<R>> {
        let key = ObjectKey { ns, class, id }.encode();
        let mut f = Some(f);
        let mut out = None;
        self.kv.get_with(Space::Objects, &key, &mut |bytes| {
            if let Some(f) = f.take() {
                out = Some(
                    RecordView::in_class(bytes, class)
                        .map_err(|e| Error::corruption(&key, e))
                        .and_then(|view| f(&key, view)),
                );
            }
        })?;
        out.transpose()
    }

    /// Whether a key exists (index entries have empty values).
    pub fn exists(&self, family: Family, key: &[u8]) -> Result<bool> {
        self.kv.get_with(Space::of(family), key, &mut |_| {})
    }

    /// Every object that holds the encoded `tuple` in `index`, per the
    /// index, each hash match verified (on the tuple a unique point value
    /// keeps, else on the record: hash collisions never leak through).
    pub fn holders(
        &self,
        ns: NamespaceId,
        class: &ClassDef,
        index: &IndexDef,
        tuple: &[u8],
    ) -> Result<Vec<ObjectId>> {
        Ok(self
            .holders_page(ns, class, index, tuple, None, usize::MAX)?
            .ids)
    }

    /// Whether the committed record of `id` holds `tuple` in `index` (read
    /// in place: only the index's fields are decoded).
    fn holds(
        &self,
        ns: NamespaceId,
        class: &ClassDef,
        index: &IndexDef,
        tuple: &[u8],
        id: ObjectId,
    ) -> Result<bool> {
        Ok(self
            .stored()
            .tuples_of(ns, class, index, id)?
            .binary_search_by(|t| t.as_slice().cmp(tuple))
            .is_ok())
    }

    /// The committed state this view reads, as the uniqueness rule asks
    /// for it (`index::committed`).
    pub fn stored(&self) -> Stored<'_> {
        Stored(self.kv)
    }

    /// The holders stored under a unique index's point key, with the
    /// tuples the value keeps.
    pub fn point_holders(&self, family: Family, key: &[u8]) -> Result<Vec<Held>> {
        self.stored().point_holders(family, key)
    }

    /// Up to `limit` holders of `tuple` in `index` (as `holders`), in id
    /// order, after the index key `after` (a cursor of an earlier page).
    /// The page's cursor is set when it is full.
    pub fn holders_page(
        &self,
        ns: NamespaceId,
        class: &ClassDef,
        index: &IndexDef,
        tuple: &[u8],
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<FindPage> {
        let mut page = FindPage {
            ids: Vec::new(),
            cursor: None,
        };
        let (family, prefix) = point_key(&self.cx.seed, ns, class.id, index, tuple);
        let hashed = family == Family::Hash;
        if index.is_unique() {
            if after.is_some() {
                return Err(Error::InvalidCursor {
                    reason: "a unique lookup has one page",
                });
            }
            for h in self.point_holders(family, &prefix)? {
                if page.ids.len() == limit {
                    break;
                }
                // A hash key's holder is verified on the tuple its value
                // keeps: one read in all; else on its record.
                let holds = !hashed
                    || match &h.tuple {
                        Some(t) => t == tuple,
                        None => self.holds(ns, class, index, tuple, h.id)?,
                    };
                if holds {
                    page.ids.push(h.id);
                }
            }
            return Ok(page);
        }
        let start = match after {
            None => prefix.clone(),
            Some(Cursor(c)) if c.starts_with(&prefix) && c.len() > prefix.len() => {
                let mut next = c.clone();
                next.push(0); // the smallest key after the cursor
                next
            }
            Some(_) => {
                return Err(Error::InvalidCursor {
                    reason: "it belongs to another lookup",
                })
            }
        };
        if limit == 0 {
            return Ok(page);
        }
        let range = if hashed {
            KeyRange::hash_lookup(&prefix)
        } else {
            KeyRange::prefix(&prefix)
        };
        let mut it = self.kv.iter(Space::of(family), range)?;
        it.seek(&start);
        while let Some(key) = it.key() {
            // The tuple is prefix-free: a longer key of the prefix holds it.
            let id = entry_id(key)
                .filter(|_| key.len() == prefix.len() + 8)
                .ok_or_else(|| {
                    Error::corruption(key, rockhold_format::Error::Truncated { what: "index key" })
                })?;
            // Equal hashes are confirmed on the record.
            if !hashed || self.holds(ns, class, index, tuple, id)? {
                page.ids.push(id);
                if page.ids.len() == limit {
                    page.cursor = Some(Cursor(key.to_vec()));
                    break;
                }
            }
            it.next();
        }
        it.status()?;
        Ok(page)
    }

    /// The index named `name`, if it answers queries of this kind.
    pub(crate) fn indexed<'c>(
        &self,
        entry: &'c ClassEntry,
        name: &str,
        needed: &'static str,
    ) -> Result<&'c IndexDef> {
        let index = entry.index_named(name)?;
        let ok = match needed {
            "unique" => index.is_unique(),
            "ordered" => index.kind.is_ordered(),
            _ => true,
        };
        if !ok {
            return Err(Error::NotIndexed {
                class: entry.def.name.clone(),
                index: name.to_string(),
                needed,
            });
        }
        if let Some(state) = entry.not_ready(index.id) {
            return Err(Error::IndexNotReady {
                class: entry.def.name.clone(),
                index: name.to_string(),
                state: state.name(),
            });
        }
        Ok(index)
    }

    pub fn get(&self, ns: &str, id: ObjectId) -> Result<Option<Object>> {
        let ns_id = self.namespace(ns)?;
        let Some(rec) = self.record(ns_id, id)? else {
            return Ok(None);
        };
        self.with_catalog(|cat| {
            let entry = cat.class_of_record(ns_id, id, rec.class)?;
            Ok(Some(into_object(id, &entry.def, rec)))
        })
    }

    pub fn get_many(&self, ns: &str, ids: &[ObjectId]) -> Result<Vec<Option<Object>>> {
        let ns_id = self.namespace(ns)?;
        // Two batched reads, the locators and then the records they name,
        // at one state: a live view reads both from a snapshot, or a commit
        // between them could show half of itself.
        let pinned;
        let kv: &dyn KvRead = if self.live {
            pinned = self.cx.kv.snapshot();
            &*pinned
        } else {
            self.kv
        };
        let classes = Stored(kv).locate_many(ns_id, ids)?;
        let (found, keys): (Vec<usize>, Vec<Vec<u8>>) = classes
            .iter()
            .zip(ids)
            .enumerate()
            .filter_map(|(i, (class, id))| {
                let key = ObjectKey {
                    ns: ns_id,
                    class: (*class)?,
                    id: *id,
                };
                Some((i, key.encode()))
            })
            .unzip();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut records: Vec<Option<ObjectRecord>> = vec![None; ids.len()];
        let mut corrupt = None;
        kv.multi_get_with(Space::Objects, &refs, &mut |i, bytes| {
            let at = found[i];
            let class = classes[at].unwrap_or(ClassId(0));
            match ObjectRecord::decode_in(bytes, class) {
                Ok(rec) => records[at] = Some(rec),
                Err(e) => {
                    corrupt.get_or_insert_with(|| Error::corruption(&keys[i], e));
                }
            }
        })?;
        if let Some(e) = corrupt {
            return Err(e);
        }
        self.with_catalog(|cat| {
            records
                .into_iter()
                .zip(ids)
                .map(|(rec, id)| {
                    rec.map(|rec| {
                        let entry = cat.class_of_record(ns_id, *id, rec.class)?;
                        Ok(into_object(*id, &entry.def, rec))
                    })
                    .transpose()
                })
                .collect()
        })
    }

    pub fn find_unique(
        &self,
        at: ClassAt<'_>,
        index: &str,
        value: &Value,
    ) -> Result<Option<ObjectId>> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "unique")?;
        let tuple = query_tuple(&entry.def, index, value, false)?;
        let key = (entry.def.id, index.id, tuple);
        let fill = match self.cached_holder(entry.ns, &key) {
            Ok(id) => return Ok(Some(id)),
            Err(fill) => fill,
        };
        let holders = self.holders(entry.ns, &entry.def, index, &key.2)?;
        self.one_holder(&entry.def, index, &key.2, &holders)?;
        let found = holders.into_iter().next();
        if let (Some(id), Some(fill)) = (found, fill) {
            self.cache_holder(fill, key, id);
        }
        Ok(found)
    }

    /// The holder of a unique tuple as the unique cache has it, if the
    /// cache may answer: a live view, and the object unwritten since the
    /// read that filled the entry (the second guard, one atomic load; see
    /// read/cache.rs). Otherwise what a storage read's answer is cached
    /// under (`None` for a snapshot view, which never fills the cache).
    fn cached_holder(
        &self,
        ns: NamespaceId,
        key: &UniqueCacheKey,
    ) -> std::result::Result<ObjectId, Option<CacheFill>> {
        if !self.live {
            return Err(None);
        }
        let (cache, m) = (&self.cx.unique_cache, &self.cx.metrics);
        let generation = match cache.lookup(key) {
            Ok((id, seen)) if self.cx.stamps.unchanged_since(ns, id, seen) => {
                m.cache_hit.inc();
                return Ok(id);
            }
            Ok(_) => {
                m.cache_stale.inc();
                cache.generation()
            }
            Err(generation) => {
                m.cache_miss.inc();
                generation
            }
        };
        // Taken before the storage read whose answer it is kept with.
        Err(Some(CacheFill(generation, self.cx.stamps.now())))
    }

    /// Caches `id` as the holder of `key`, read from storage after `fill`.
    fn cache_holder(&self, fill: CacheFill, key: UniqueCacheKey, id: ObjectId) {
        let CacheFill(generation, seen) = fill;
        self.cx
            .unique_cache
            .insert_if_unchanged(generation, key, (id, seen));
    }

    /// The point key a unique lookup of `value` in `index` reads, with the
    /// value stripe its writers lock (see `txn::unique_stripes`).
    pub fn unique_point(&self, at: ClassAt<'_>, index: &str, value: &Value) -> Result<UniquePoint> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "unique")?;
        let tuple = query_tuple(&entry.def, index, value, false)?;
        let (family, key) = point_key(&self.cx.seed, entry.ns, entry.def.id, index, &tuple);
        Ok(UniquePoint {
            stripe: (entry.def.id, index.id, self.cx.seed.hash_bytes(&tuple)),
            family,
            key,
        })
    }

    /// The holder of `value` in a unique index, with `f` run on its record
    /// read in place: one point-key read (none on a trusted unique-cache
    /// hit) and one record read (the record both confirms the holder, for a
    /// hash index, and is what `f` reads).
    pub fn unique_record<R>(
        &self,
        at: ClassAt<'_>,
        index: &str,
        value: &Value,
        mut f: impl FnMut(&ClassDef, &[u8], RecordView<'_>) -> Result<R>,
    ) -> Result<Option<(ObjectId, R)>> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "unique")?;
        let tuple = query_tuple(&entry.def, index, value, false)?;
        let key = (entry.def.id, index.id, tuple);
        let tuple = &key.2;
        let mut read = |id| {
            self.with_record_in(entry.ns, entry.def.id, id, |rkey, rec| {
                let tuples = index_tuples_in(&entry.def, index, &rec)
                    .map_err(|e| Error::corruption(rkey, e))?;
                if tuples.binary_search(tuple).is_err() {
                    return Ok(None); // another tuple of the same hash
                }
                f(&entry.def, rkey, rec).map(Some)
            })
        };
        // A trusted cache hit saves the point-key read; the record is read
        // (and checked to hold the tuple) either way.
        let fill = match self.cached_holder(entry.ns, &key) {
            Ok(id) => {
                if let Some(Some(r)) = read(id)? {
                    return Ok(Some((id, r)));
                }
                // Cannot happen while the stamps hold; read storage anyway.
                self.cx.metrics.cache_stale.inc();
                Some(CacheFill(
                    self.cx.unique_cache.generation(),
                    self.cx.stamps.now(),
                ))
            }
            Err(fill) => fill,
        };
        let (family, point) = point_key(&self.cx.seed, entry.ns, entry.def.id, index, tuple);
        let stored = self.point_holders(family, &point)?;
        if self.staged && stored.len() > 1 {
            let holders = self.holders(entry.ns, &entry.def, index, tuple)?;
            self.one_holder(&entry.def, index, tuple, &holders)?;
        }
        for Held { id, tuple: kept } in stored {
            if kept.is_some_and(|t| t != *tuple) {
                continue; // another tuple of the same hash
            }
            if let Some(Some(r)) = read(id)? {
                if let Some(fill) = fill {
                    self.cache_holder(fill, key, id);
                }
                return Ok(Some((id, r)));
            }
        }
        Ok(None)
    }

    /// The object holding `value` in a unique index, in one read of its
    /// record.
    pub fn get_unique(
        &self,
        at: ClassAt<'_>,
        index: &str,
        value: &Value,
    ) -> Result<Option<Object>> {
        Ok(self
            .unique_record(at, index, value, |def, key, rec| {
                let fields = rec
                    .field_ids()
                    .map(|f| Ok((f, rec.field(f)?.to_value())))
                    .collect::<std::result::Result<Vec<_>, rockhold_format::Error>>()
                    .map_err(|e| Error::corruption(key, e))?;
                Ok((
                    def.clone(),
                    ObjectRecord {
                        class: rec.class(),
                        fields,
                    },
                ))
            })?
            .map(|(id, (def, rec))| into_object(id, &def, rec)))
    }

    /// Whether `index` of `class` is unique.
    pub fn is_unique(&self, at: ClassAt<'_>, index: &str) -> Result<bool> {
        Ok(self.class(at)?.index_named(index)?.is_unique())
    }

    pub fn find_all(&self, at: ClassAt<'_>, index: &str, value: &Value) -> Result<Vec<ObjectId>> {
        Ok(self.find_page(at, index, value, &FindAll::all())?.ids)
    }

    pub fn find_page(
        &self,
        at: ClassAt<'_>,
        index: &str,
        value: &Value,
        find: &FindAll,
    ) -> Result<FindPage> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "hash or ordered")?;
        let tuple = query_tuple(&entry.def, index, value, false)?;
        self.holders_page(
            entry.ns,
            &entry.def,
            index,
            &tuple,
            find.after.as_ref(),
            find.limit,
        )
    }

    pub fn scan(&self, at: ClassAt<'_>, index: &str, scan: &RangeScan) -> Result<ScanPage> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "ordered")?;
        let mut page = ScanPage {
            hits: Vec::new(),
            cursor: None,
        };
        let Some((lower, upper)) = scan_bounds(&entry, index, scan)? else {
            return Ok(page);
        };
        if scan.limit == 0 {
            return Ok(page);
        }
        let shape = IndexShape {
            parts: index.parts.len(),
            unique: index.is_unique(),
        };
        let mut it = self
            .kv
            .iter(Space::Ordered, KeyRange::new(&lower, Some(upper)))?;
        if scan.reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        page.hits.reserve(scan.limit.min(SCAN_RESERVE));
        while let Some(key) = it.key() {
            // Borrowed: the key is not copied, a one-part tuple is no list.
            let k = OrderedKeyRef::split(key, shape).map_err(|e| Error::corruption(key, e))?;
            let value = k.value(shape).map_err(|e| Error::corruption(key, e))?;
            let id = match k.id {
                Some(id) => id,
                None => {
                    let holders = decode_holders(it.value().unwrap_or_default())
                        .map_err(|e| Error::corruption(key, e))?;
                    match holders.as_slice() {
                        [id] => *id,
                        [first, _, ..] if self.staged => {
                            return Err(held_twice(&entry.def, index, k.tuple, *first));
                        }
                        _ => {
                            return Err(Error::corruption(
                                key,
                                rockhold_format::Error::Malformed(
                                    "a unique ordered entry with more than one holder".into(),
                                ),
                            ))
                        }
                    }
                }
            };
            page.hits.push((value, id));
            if page.hits.len() == scan.limit {
                page.cursor = Some(Cursor(key.to_vec()));
                break;
            }
            if scan.reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status()?;
        Ok(page)
    }

    /// The number of entries of an ordered index in the range of `scan`
    /// (its bounds or prefix and its cursor; not its limit or direction),
    /// counted from the keys (no record is read, no value decoded): the
    /// objects whose value lies in the range, an object of a multi-valued
    /// index once per distinct element that does.
    pub fn count_range(&self, at: ClassAt<'_>, index: &str, scan: &RangeScan) -> Result<u64> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "ordered")?;
        let Some((lower, upper)) = scan_bounds(&entry, index, scan)? else {
            return Ok(0);
        };
        self.count_keys(Space::Ordered, KeyRange::new(&lower, Some(upper)))
    }

    /// The first (`last`: the last) value of ordered index `index`.
    pub fn end_value(&self, at: ClassAt<'_>, index: &str, last: bool) -> Result<Option<Value>> {
        let scan = RangeScan::all().limit(1);
        let scan = if last { scan.reverse() } else { scan };
        Ok(self
            .scan(at, index, &scan)?
            .hits
            .into_iter()
            .next()
            .map(|(value, _)| value))
    }

    /// The distinct values of ordered index `index` within `scan`'s range,
    /// each with its count, counted from the keys (no record read): up to
    /// `scan.limit` values a page, in index order (reversed with
    /// `reverse`), resumed after the page's cursor.
    pub fn facets(&self, at: ClassAt<'_>, index: &str, scan: &RangeScan) -> Result<FacetPage> {
        let entry = self.class(at)?;
        let index = self.indexed(&entry, index, "ordered")?;
        let mut page = FacetPage {
            facets: Vec::new(),
            cursor: None,
        };
        let shape = IndexShape {
            parts: index.parts.len(),
            unique: index.is_unique(),
        };
        let Some((mut lower, mut upper)) = scan_bounds(&entry, index, scan)? else {
            return Ok(page);
        };
        // A facet's cursor is the key prefix its value's entries share
        // (no id): the next page starts past every entry of that value. A
        // scan page's cursor (an entry's key) would resume inside a value
        // and count it again, in part: refused.
        if let Some(Cursor(c)) = &scan.after {
            let whole = IndexShape {
                unique: true,
                ..shape
            };
            if OrderedKeyRef::split(c, whole)
                .and_then(|k| k.value(whole))
                .is_err()
            {
                return Err(Error::InvalidCursor {
                    reason: "it is not a facet page's cursor",
                });
            }
            if scan.reverse {
                upper = upper.min(c.clone());
            } else if let Some(past) = rockhold_format::prefix_successor(c) {
                lower = lower.max(past);
            } else {
                return Ok(page);
            }
            if lower >= upper {
                return Ok(page);
            }
        }
        if scan.limit == 0 {
            return Ok(page);
        }
        let mut it = self
            .kv
            .iter(Space::Ordered, KeyRange::new(&lower, Some(upper)))?;
        if scan.reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        // Adds a counted value (its key prefix, value, count) to the page;
        // true when that fills it (the prefix is then the cursor).
        let close = |page: &mut FacetPage, (head, value, count): (Vec<u8>, Value, u64)| {
            page.facets.push(Facet { value, count });
            let full = page.facets.len() == scan.limit;
            if full {
                page.cursor = Some(Cursor(head));
            }
            full
        };
        // The value being counted.
        let mut current: Option<(Vec<u8>, Value, u64)> = None;
        while let Some(key) = it.key() {
            let k = OrderedKeyRef::split(key, shape).map_err(|e| Error::corruption(key, e))?;
            let head = &key[..key.len() - k.id.map_or(0, |_| 8)];
            match &mut current {
                Some((h, _, n)) if h.as_slice() == head => *n += 1,
                _ => {
                    if let Some(done) = current.take() {
                        if close(&mut page, done) {
                            break;
                        }
                    }
                    let value = k.value(shape).map_err(|e| Error::corruption(key, e))?;
                    current = Some((head.to_vec(), value, 1));
                }
            }
            if scan.reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status()?;
        // The last value (none after a full page: its break took it).
        if let Some(done) = current {
            close(&mut page, done);
        }
        Ok(page)
    }

    /// The number of keys in `range` of `space`, none of their values read.
    fn count_keys(&self, space: Space, range: KeyRange) -> Result<u64> {
        let mut it = self.kv.iter(space, range)?;
        it.seek_to_first();
        let mut n = 0u64;
        while it.key().is_some() {
            n += 1;
            it.next();
        }
        it.status()?;
        Ok(n)
    }

    pub fn scan_objects(
        &self,
        at: ClassAt<'_>,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<Object>> {
        let entry = self.class(at)?;
        let Some(first) = first_after(after) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(limit.min(4096));
        if limit == 0 {
            return Ok(out);
        }
        self.for_each_record(entry.ns, entry.def.id, first, None, |id, key, rec| {
            let rec = rec.to_record().map_err(|e| Error::corruption(key, e))?;
            out.push(into_object(id, &entry.def, rec));
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Calls `f(id, record key, record)` for every object of class `class`
    /// whose id is at least `first` and below `end` (`None`: no upper
    /// bound), in id order, while it returns `Ok(true)`: one sequential
    /// iteration over the class's records, which are clustered under its
    /// key prefix. Each record is checked (checksum, directory, class) and
    /// read in place.
    pub fn for_each_record(
        &self,
        ns: NamespaceId,
        class: ClassId,
        first: ObjectId,
        end: Option<ObjectId>,
        mut f: impl FnMut(ObjectId, &[u8], RecordView<'_>) -> Result<bool>,
    ) -> Result<()> {
        let (lower, upper) = class_range(ns, class, first, end);
        let mut it = self.kv.iter(Space::Objects, KeyRange::new(&lower, upper))?;
        it.seek_to_first();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            let corrupt = |e| Error::corruption(key, e);
            let id = ObjectKey::id_of(key).map_err(corrupt)?;
            let rec = RecordView::in_class(value, class).map_err(corrupt)?;
            if !f(id, key, rec)? {
                return Ok(());
            }
            it.next();
        }
        it.status()
    }

    /// The number of objects of a class, counted from its record keys
    /// (no record is decoded).
    pub fn count_class(&self, at: ClassAt<'_>) -> Result<u64> {
        let entry = self.class(at)?;
        let (lower, upper) = class_range(entry.ns, entry.def.id, ObjectId(0), None);
        self.count_keys(Space::Objects, KeyRange::new(&lower, upper))
    }

    pub fn scan_class(
        &self,
        at: ClassAt<'_>,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<ObjectId>> {
        let entry = self.class(at)?;
        let Some(first) = first_after(after) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let (lower, upper) = class_range(entry.ns, entry.def.id, first, None);
        let mut it = self.kv.iter(Space::Objects, KeyRange::new(&lower, upper))?;
        it.seek_to_first();
        while let Some(key) = it.key() {
            out.push(ObjectKey::id_of(key).map_err(|e| Error::corruption(key, e))?);
            if out.len() >= limit {
                break;
            }
            it.next();
        }
        it.status()?;
        Ok(out)
    }
}

/// The index keys `scan` covers, `[lower, upper)` (its bounds or prefix,
/// after its cursor); `None` when the range is empty.
fn scan_bounds(
    entry: &ClassEntry,
    index: &IndexDef,
    scan: &RangeScan,
) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let index_prefix = OrderedKey::index_prefix(entry.ns, entry.def.id, index.id);
    let bound_key = |v: &Value| -> Result<Vec<u8>> {
        let mut key = index_prefix.clone();
        key.extend_from_slice(&query_tuple(&entry.def, index, v, true)?);
        Ok(key)
    };
    let successor =
        |k: &[u8]| rockhold_format::prefix_successor(k).unwrap_or_else(|| vec![0xFF; 64]);
    let (mut lower, mut upper) = match &scan.prefix {
        Some(p) => {
            let l = bound_key_prefix(&entry.def, index, &index_prefix, p)?;
            let u = successor(&l);
            (l, u)
        }
        None => {
            let l = match &scan.lower {
                Bound::Unbounded => index_prefix.clone(),
                Bound::Included(v) => bound_key(v)?,
                Bound::Excluded(v) => successor(&bound_key(v)?),
            };
            let u = match &scan.upper {
                Bound::Unbounded => successor(&index_prefix),
                Bound::Included(v) => successor(&bound_key(v)?),
                Bound::Excluded(v) => bound_key(v)?,
            };
            (l, u)
        }
    };
    if let Some(Cursor(c)) = &scan.after {
        if !c.starts_with(&index_prefix) {
            return Err(Error::InvalidCursor {
                reason: "it belongs to another index",
            });
        }
        if scan.reverse {
            upper = upper.min(c.clone());
        } else {
            let mut next = c.clone();
            next.push(0); // the smallest key after the cursor
            lower = lower.max(next);
        }
    }
    Ok((lower < upper).then_some((lower, upper)))
}

/// The first id after `after` (the first page: 0); `None` past the last.
fn first_after(after: Option<ObjectId>) -> Option<ObjectId> {
    match after {
        None => Some(ObjectId(0)),
        Some(id) => id.0.checked_add(1).map(ObjectId),
    }
}

/// The record keys of class `class` with ids in `[first, end)` (`end`
/// `None`: to the class's last), as iterator bounds.
pub(crate) fn class_range(
    ns: NamespaceId,
    class: ClassId,
    first: ObjectId,
    end: Option<ObjectId>,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let lower = ObjectKey {
        ns,
        class,
        id: first,
    }
    .encode();
    let upper = match end {
        Some(id) => Some(ObjectKey { ns, class, id }.encode()),
        None => rockhold_format::prefix_successor(&ObjectKey::class_prefix(ns, class)),
    };
    (lower, upper)
}

/// The values a query gives for an index's parts: the value itself for a
/// one-part index, a list of the leading parts' values for a compound one
/// (all of them unless `leading` allows fewer).
fn query_parts<'v>(
    class: &ClassDef,
    index: &IndexDef,
    value: &'v Value,
    leading: bool,
) -> Result<&'v [Value]> {
    let parts: &[Value] = match value {
        _ if index.parts.len() == 1 => std::slice::from_ref(value),
        Value::List(values) => values,
        other => {
            return Err(Error::WrongType {
                class: class.name.clone(),
                field: index.name.clone(),
                path: String::new(),
                expected: format!("a list of the values of its {} parts", index.parts.len()),
                found: other.type_name().to_string(),
            })
        }
    };
    let n = index.parts.len();
    if parts.len() > n || (!leading && parts.len() != n) || parts.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "index {}.{} has {n} part(s); the query gives {}",
            class.name,
            index.name,
            parts.len()
        )));
    }
    for (v, path) in parts.iter().zip(&index.parts) {
        if matches!(v, Value::Absent) {
            return Err(Error::InvalidRequest(
                "absent values are not indexed".into(),
            ));
        }
        let Some(ty) = part_type(&class.fields, path) else {
            continue; // not reached: a definition's paths are in its schema
        };
        ty.check(v).map_err(|m| Error::WrongType {
            class: class.name.clone(),
            field: index.name.clone(),
            path: m.path,
            expected: m.expected,
            found: m.found,
        })?;
    }
    Ok(parts)
}

/// A unique tuple with two holders in a transaction's staged writes.
fn held_twice(class: &ClassDef, index: &IndexDef, tuple: &[u8], first: ObjectId) -> Error {
    Error::UniqueViolation {
        class: class.name.clone(),
        index: index.name.clone(),
        value: crate::index::entries::tuple_value(index, tuple),
        existing: first,
    }
}

/// The encoded tuple of a query value (see `query_parts`).
pub(crate) fn query_tuple(
    class: &ClassDef,
    index: &IndexDef,
    value: &Value,
    leading: bool,
) -> Result<Vec<u8>> {
    Ok(encode_tuple(query_parts(class, index, value, leading)?))
}

/// The key prefix of a prefix scan: the leading parts given exactly, the
/// last one (a string or bytes) as a prefix.
fn bound_key_prefix(
    class: &ClassDef,
    index: &IndexDef,
    index_prefix: &[u8],
    p: &Value,
) -> Result<Vec<u8>> {
    let parts = query_parts(class, index, p, true)?;
    let (last, leading) = parts.split_last().unwrap_or((p, &[]));
    let Some(enc) = last.ordered_prefix() else {
        return Err(Error::InvalidRequest(
            "a prefix scan needs a string or bytes prefix".into(),
        ));
    };
    let mut key = index_prefix.to_vec();
    key.extend_from_slice(&encode_tuple(leading));
    key.extend_from_slice(&enc);
    Ok(key)
}

/// The object a record of `class` shows: its present fields, by name, in
/// the class's field order (the record's values move, not copied).
pub(crate) fn into_object(id: ObjectId, class: &ClassDef, mut rec: ObjectRecord) -> Object {
    let mut fields = Vec::with_capacity(rec.fields.len());
    for f in &class.fields {
        if let Ok(pos) = rec.fields.binary_search_by_key(&f.id, |(id, _)| *id) {
            match std::mem::replace(&mut rec.fields[pos].1, Value::Absent) {
                Value::Absent => {}
                v => fields.push((f.name.clone(), v)),
            }
        }
    }
    Object {
        id,
        class: class.name.clone(),
        fields,
    }
}

/// The read methods, shared by `Db` (latest state, cached) and `Snapshot`.
macro_rules! read_methods {
    () => {
        /// The object with id `id` in `namespace`, or `None`.
        pub fn get(&self, namespace: &str, id: ObjectId) -> Result<Option<Object>> {
            self.view().get(namespace, id)
        }

        /// The objects with these ids in `namespace`, in the order asked
        /// (`None` where there is none), read in one batched lookup.
        pub fn get_many(&self, namespace: &str, ids: &[ObjectId]) -> Result<Vec<Option<Object>>> {
            self.view().get_many(namespace, ids)
        }

        /// The object holding `value` in a uniquely indexed field, or `None`.
        /// Fails with `IndexNotReady` while the index is being built.
        pub fn find_unique(
            &self,
            namespace: &str,
            class: &str,
            field: &str,
            value: &Value,
        ) -> Result<Option<ObjectId>> {
            self.view()
                .find_unique(ClassAt::Named(namespace, class), field, value)
        }

        /// The object holding `value` in a unique index, or `None`: the
        /// lookup and the object in one read of the record (unlike
        /// [`Db::find_unique`](crate::Db::find_unique) followed by [`Db::get`](crate::Db::get), which reads it twice).
        pub fn get_unique(
            &self,
            namespace: &str,
            class: &str,
            index: &str,
            value: &Value,
        ) -> Result<Option<Object>> {
            self.view()
                .get_unique(ClassAt::Named(namespace, class), index, value)
        }

        /// Every object holding `value` in an indexed field (hash or ordered),
        /// in id order, in one `Vec`: as many ids as objects hold the value.
        /// For values many objects may hold, read pages with
        /// [`Db::find_page`](crate::Db::find_page) instead (this is `find_page` with
        /// [`FindAll::all`]).
        pub fn find_all(
            &self,
            namespace: &str,
            class: &str,
            field: &str,
            value: &Value,
        ) -> Result<Vec<ObjectId>> {
            self.view()
                .find_all(ClassAt::Named(namespace, class), field, value)
        }

        /// Up to `find`'s limit of the objects holding `value` in an indexed
        /// field (hash or ordered), in id order, after `find`'s cursor: a
        /// bounded, resumable [`Db::find_all`](crate::Db::find_all). The page's cursor is set when
        /// the page is full; the holders committed meanwhile past the cursor
        /// are seen by the next page (on a `Snapshot`, none are).
        pub fn find_page(
            &self,
            namespace: &str,
            class: &str,
            field: &str,
            value: &Value,
            find: &FindAll,
        ) -> Result<FindPage> {
            self.view()
                .find_page(ClassAt::Named(namespace, class), field, value, find)
        }

        /// A page of an ordered index scan.
        pub fn scan(
            &self,
            namespace: &str,
            class: &str,
            field: &str,
            scan: &RangeScan,
        ) -> Result<ScanPage> {
            self.view()
                .scan(ClassAt::Named(namespace, class), field, scan)
        }

        /// Up to `limit` objects of a class in id order, after `after`,
        /// read with one batched lookup per page.
        pub fn scan_objects(
            &self,
            namespace: &str,
            class: &str,
            after: Option<ObjectId>,
            limit: usize,
        ) -> Result<Vec<Object>> {
            self.view()
                .scan_objects(ClassAt::Named(namespace, class), after, limit)
        }

        /// The number of objects of a class, counted from its record keys
        /// (one sequential pass; no record is decoded).
        ///
        /// ```
        /// # use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
        /// # let db = Db::open_memory(&MemStore::new(), Options::default())?;
        /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
        /// for v in 0..5u64 { db.insert("default", "n", [("v", v)])?; }
        /// assert_eq!(db.count("default", "n")?, 5);
        /// # Ok::<(), rockhold::Error>(())
        /// ```
        pub fn count(&self, namespace: &str, class: &str) -> Result<u64> {
            self.view().count_class(ClassAt::Named(namespace, class))
        }

        /// The number of entries of an ordered index in the range of
        /// `scan` (bounds or prefix, and cursor; its limit is ignored),
        /// counted from the index keys alone: the objects whose value lies
        /// in the range (an object of a multi-valued index once per
        /// distinct element in it).
        pub fn count_range(
            &self,
            namespace: &str,
            class: &str,
            index: &str,
            scan: &RangeScan,
        ) -> Result<u64> {
            self.view()
                .count_range(ClassAt::Named(namespace, class), index, scan)
        }

        /// The distinct values of an ordered index within `scan`'s range,
        /// each with the number of objects holding it (an object of a
        /// multi-valued index once per distinct element), counted from the
        /// index keys alone: `scan.limit` values a page, resumed with the
        /// page's cursor (`RangeScan::after`).
        ///
        /// ```
        /// # use rockhold::{ClassSpec, Db, FieldSpec, FieldType, Options, RangeScan, Value};
        /// # let dir = tempfile::tempdir()?;
        /// # let db = Db::open(dir.path(), Options::default())?;
        /// db.create_class("default", &ClassSpec::new("doc")
        ///     .field(FieldSpec::new("tags", FieldType::List(Box::new(FieldType::String))).ordered()))?;
        /// let tags = |t: &[&str]| Value::List(t.iter().map(|s| Value::from(*s)).collect());
        /// db.insert("default", "doc", [("tags", tags(&["a", "b"]))])?;
        /// db.insert("default", "doc", [("tags", tags(&["b"]))])?;
        /// let page = db.facets("default", "doc", "tags", &RangeScan::all())?;
        /// let counts: Vec<(Value, u64)> = page.facets.into_iter().map(|f| (f.value, f.count)).collect();
        /// assert_eq!(counts, vec![(Value::from("a"), 1), (Value::from("b"), 2)]);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn facets(
            &self,
            namespace: &str,
            class: &str,
            index: &str,
            scan: &RangeScan,
        ) -> Result<FacetPage> {
            self.view()
                .facets(ClassAt::Named(namespace, class), index, scan)
        }

        /// The smallest value of an ordered index (its first entry's; a
        /// compound index's: the list of its parts), `None` when it is
        /// empty. One key read.
        pub fn min_value(
            &self,
            namespace: &str,
            class: &str,
            index: &str,
        ) -> Result<Option<Value>> {
            self.view()
                .end_value(ClassAt::Named(namespace, class), index, false)
        }

        /// The largest value of an ordered index (its last entry's), `None`
        /// when it is empty. One key read.
        pub fn max_value(
            &self,
            namespace: &str,
            class: &str,
            index: &str,
        ) -> Result<Option<Value>> {
            self.view()
                .end_value(ClassAt::Named(namespace, class), index, true)
        }

        /// Up to `limit` object ids of a class in id order, after `after`.
        pub fn scan_class(
            &self,
            namespace: &str,
            class: &str,
            after: Option<ObjectId>,
            limit: usize,
        ) -> Result<Vec<ObjectId>> {
            self.view()
                .scan_class(ClassAt::Named(namespace, class), after, limit)
        }
    };
}
pub(crate) use read_methods;

/// A point-in-time view of a database. See [`Db::snapshot`](crate::Db::snapshot).
pub struct Snapshot<'db> {
    cx: &'db ReadCtx,
    snap: Box<dyn KvRead + 'db>,
    catalog: Arc<Catalog>,
}

impl Snapshot<'_> {
    pub(crate) fn kv(&self) -> &dyn KvRead {
        &*self.snap
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn view(&self) -> View<'_> {
        View::at(self.cx, &*self.snap, Some(&self.catalog))
    }

    read_methods!();
}
