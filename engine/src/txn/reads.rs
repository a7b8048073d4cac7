//! Reads inside a read-write transaction, and their validation at commit.
//!
//! **Reads see the transaction's own writes.** The first read takes a
//! snapshot (records and catalog). The staged operations are applied, in
//! order, to an overlay over that snapshot (`kv::overlay`): the object
//! records and every index key they imply, computed by the same planning
//! code as a commit. Every read then runs the ordinary read code over the
//! overlay, so `get`, unique lookups, `find_all` and scans, with their
//! limits and cursors, all see the staged state.
//!
//! **Isolation: serializable.** Each read also records what it saw of the
//! *committed* state (the snapshot without the overlay):
//! - an object read: the record's bytes (or that there was none);
//! - a unique lookup: the bytes of the unique point key;
//! - a non-unique lookup or a range scan: the query and its answer.
//!
//! At commit, under the commit's locks (the stripes of the objects read as
//! well as written, and of the unique values read as well as written), each
//! recorded read is run again on the latest committed state; if any answer
//! differs, the commit fails with the retryable `Error::Conflict` and
//! nothing is written. A transaction that read a range also holds the
//! range-validation lock from its validation to its write, so two such
//! transactions never validate concurrently (neither can miss the other's
//! write). The transaction therefore commits as if it ran alone at its
//! commit point. A transaction that only reads commits nothing and needs no
//! validation: its snapshot is a consistent point.
//!
//! What it does not do: reads made outside the transaction (a `db.get`
//! before `db.write`) are not validated; a closure passed to
//! [`crate::Db::write`] may run more than once, so its side effects outside
//! the transaction must be idempotent; and a conflict is reported whenever
//! a read's answer changed, even when the transaction's writes would not
//! have depended on the change (false conflicts, never missed ones).

use std::collections::BTreeMap;

use rockhold_format::{ClassId, Family, IndexId, Key, NamespaceId, ObjectId, ObjectKey, Value};

use crate::catalog::{Catalog, ClassAt};
use crate::error::{Error, Result};
use crate::index::unique::point_writes;
use crate::kv::overlay::Staged;
use crate::kv::{Space, WriteBatch};
use crate::read::{FindAll, FindPage, Object, RangeScan, ScanPage, Snapshot, View};

use super::{apply, plan_touched, write_plan, write_records, CommittedView, Op, Transaction};

/// What a transaction's reads use: its snapshot, its writes staged over
/// it, and what it saw.
pub(crate) struct ReadState<'db> {
    snap: Snapshot<'db>,
    staged: Staged,
    /// How many of the transaction's operations are in `staged`.
    applied: usize,
    pub(super) set: ReadSet,
}

/// What a transaction read of the committed state.
#[derive(Default)]
pub(crate) struct ReadSet {
    /// Objects, with their record bytes (`None`: there was none).
    pub objects: BTreeMap<(NamespaceId, ObjectId), Option<Vec<u8>>>,
    /// Unique point keys, with their stored bytes.
    pub points: Vec<PointRead>,
    /// Non-unique lookups and scans, with their answers.
    pub ranges: Vec<RangeRead>,
}

pub(crate) struct PointRead {
    pub stripe: (ClassId, IndexId, u64),
    pub family: Family,
    pub key: Vec<u8>,
    pub seen: Option<Vec<u8>>,
}

pub(crate) struct RangeRead {
    class: RangeClass,
    index: String,
    query: RangeQuery,
}

/// The class a recorded range read was of, by the ids its snapshot
/// resolved: validation re-runs the read on exactly that class.
struct RangeClass {
    ns: NamespaceId,
    id: ClassId,
    name: String,
}

impl RangeClass {
    fn of(cat: &Catalog, at: ClassAt<'_>) -> Result<Self> {
        let entry = cat.class_at(at)?;
        Ok(RangeClass {
            ns: entry.ns,
            id: entry.def.id,
            name: entry.def.name.clone(),
        })
    }

    fn at(&self) -> ClassAt<'_> {
        ClassAt::Id(self.ns, self.id, &self.name)
    }
}

enum RangeQuery {
    Find(Value, FindAll, FindPage),
    Scan(RangeScan, ScanPage),
}

impl ReadSet {
    /// Runs every recorded read again on `latest`; the first one whose
    /// answer changed is a conflict.
    pub fn validate(&self, latest: &View<'_>) -> Result<()> {
        for ((ns, id), seen) in &self.objects {
            let key = ObjectKey { ns: *ns, id: *id }.encode();
            if latest.kv.get(Space::Objects, &key)? != *seen {
                return Err(Error::Conflict {
                    reason: format!("object {id} changed since the transaction read it"),
                });
            }
        }
        for p in &self.points {
            if latest.kv.get(Space::of(p.family), &p.key)? != p.seen {
                return Err(Error::Conflict {
                    reason: "a unique value the transaction looked up changed hands".into(),
                });
            }
        }
        for r in &self.ranges {
            let same = match &r.query {
                RangeQuery::Find(value, find, seen) => {
                    let now = latest.find_page(r.class.at(), &r.index, value, find)?;
                    now.ids == seen.ids
                }
                RangeQuery::Scan(scan, seen) => {
                    latest.scan(r.class.at(), &r.index, scan)?.hits == seen.hits
                }
            };
            if !same {
                return Err(Error::Conflict {
                    reason: format!(
                        "index {}.{} answers differently than when the transaction read it",
                        r.class.name, r.index
                    ),
                });
            }
        }
        Ok(())
    }

    /// The value stripes of the unique keys read.
    pub fn stripes(&self) -> impl Iterator<Item = (ClassId, IndexId, u64)> + '_ {
        self.points.iter().map(|p| p.stripe)
    }
}

impl<'db> Transaction<'db> {
    /// The read state with every staged operation applied to the overlay.
    fn reader(&mut self) -> Result<&mut ReadState<'db>> {
        let db = self.db;
        let st = self.reads.get_or_insert_with(|| {
            Box::new(ReadState {
                snap: db.snapshot(),
                staged: Staged::default(),
                applied: 0,
                set: ReadSet::default(),
            })
        });
        while st.applied < self.ops.len() {
            let batch = stage(db, st, &self.ops[st.applied])?;
            st.staged.apply(st.snap.kv(), &batch)?;
            st.applied += 1;
        }
        Ok(st)
    }

    /// The object `id` of `namespace` as this transaction sees it (its own
    /// writes included), or `None`. The read is validated at commit.
    pub fn get(&mut self, namespace: &str, id: ObjectId) -> Result<Option<Object>> {
        let inner = &self.db.inner;
        let st = self.reader()?;
        let base = View::at(inner, st.snap.kv(), Some(st.snap.catalog()));
        let ns = base.namespace(namespace)?;
        st.note_object(ns, id)?;
        let overlay = st.staged.over(st.snap.kv());
        View::at(inner, &overlay, Some(st.snap.catalog())).get(namespace, id)
    }

    /// Runs `f` on the stored record of `id` as this transaction sees it
    /// (for the typed reads), recording the read.
    pub(crate) fn with_record<R>(
        &mut self,
        ns: NamespaceId,
        id: ObjectId,
        f: impl FnOnce(&rockhold_format::ClassDef, &[u8], rockhold_format::RecordView<'_>) -> Result<R>,
    ) -> Result<Option<R>> {
        let inner = &self.db.inner;
        let st = self.reader()?;
        st.note_object(ns, id)?;
        let overlay = st.staged.over(st.snap.kv());
        let cat = st.snap.catalog();
        View::at(inner, &overlay, Some(cat)).with_record(ns, id, |key, rec| {
            let entry = cat.class_of_record(ns, id, rec.class())?;
            f(&entry.def, key, rec)
        })
    }

    /// The object holding `value` in a unique index, as this transaction
    /// sees it. The lookup is validated at commit: if the value changes
    /// hands meanwhile, the commit is a conflict.
    pub fn find_unique(
        &mut self,
        namespace: &str,
        class: &str,
        index: &str,
        value: &Value,
    ) -> Result<Option<ObjectId>> {
        self.find_unique_at(ClassAt::Named(namespace, class), index, value)
    }

    /// `find_unique` of the class `at` names.
    pub(crate) fn find_unique_at(
        &mut self,
        at: ClassAt<'_>,
        index: &str,
        value: &Value,
    ) -> Result<Option<ObjectId>> {
        let inner = &self.db.inner;
        let st = self.reader()?;
        let base = View::at(inner, st.snap.kv(), Some(st.snap.catalog()));
        let point = base.unique_point(at, index, value)?;
        st.note_point(point)?;
        let overlay = st.staged.over(st.snap.kv());
        View::at(inner, &overlay, Some(st.snap.catalog())).find_unique(at, index, value)
    }

    /// Every object holding `value` in an index, in id order, as this
    /// transaction sees it; validated at commit (see [`Transaction::find_page`]).
    pub fn find_all(
        &mut self,
        namespace: &str,
        class: &str,
        index: &str,
        value: &Value,
    ) -> Result<Vec<ObjectId>> {
        Ok(self
            .find_page_at(
                ClassAt::Named(namespace, class),
                index,
                value,
                &FindAll::all(),
            )?
            .ids)
    }

    /// A page of the objects holding `value` in an index, as this
    /// transaction sees it. The committed answer is validated at commit:
    /// an object that starts or stops holding the value meanwhile is a
    /// conflict (phantoms included).
    pub fn find_page(
        &mut self,
        namespace: &str,
        class: &str,
        index: &str,
        value: &Value,
        find: &FindAll,
    ) -> Result<FindPage> {
        self.find_page_at(ClassAt::Named(namespace, class), index, value, find)
    }

    /// `find_page` of the class `at` names.
    pub(crate) fn find_page_at(
        &mut self,
        at: ClassAt<'_>,
        index: &str,
        value: &Value,
        find: &FindAll,
    ) -> Result<FindPage> {
        let inner = &self.db.inner;
        let st = self.reader()?;
        let base = View::at(inner, st.snap.kv(), Some(st.snap.catalog()));
        if base.is_unique(at, index)? && find.after_cursor().is_none() {
            // One point key answers it: validated as a unique lookup.
            let point = base.unique_point(at, index, value)?;
            st.note_point(point)?;
        } else {
            let seen = base.find_page(at, index, value, find)?;
            st.note_range(
                at,
                index,
                RangeQuery::Find(value.clone(), find.clone(), seen),
            )?;
        }
        let overlay = st.staged.over(st.snap.kv());
        View::at(inner, &overlay, Some(st.snap.catalog())).find_page(at, index, value, find)
    }

    /// A page of an ordered index scan, as this transaction sees it. The
    /// committed page is validated at commit: an entry that appears in or
    /// leaves the scanned range meanwhile is a conflict (phantoms included).
    pub fn scan(
        &mut self,
        namespace: &str,
        class: &str,
        index: &str,
        scan: &RangeScan,
    ) -> Result<ScanPage> {
        self.scan_at(ClassAt::Named(namespace, class), index, scan)
    }

    /// `scan` of the class `at` names.
    pub(crate) fn scan_at(
        &mut self,
        at: ClassAt<'_>,
        index: &str,
        scan: &RangeScan,
    ) -> Result<ScanPage> {
        let inner = &self.db.inner;
        let st = self.reader()?;
        let base = View::at(inner, st.snap.kv(), Some(st.snap.catalog()));
        let seen = base.scan(at, index, scan)?;
        st.note_range(at, index, RangeQuery::Scan(scan.clone(), seen))?;
        let overlay = st.staged.over(st.snap.kv());
        View::at(inner, &overlay, Some(st.snap.catalog())).scan(at, index, scan)
    }
}

/// The batch one staged operation adds to the overlay: its record and
/// index changes against the overlay's state, planned like a commit.
fn stage(db: &crate::Db, st: &ReadState<'_>, op: &Op) -> Result<WriteBatch> {
    let inner = &db.inner;
    let overlay = st.staged.over(st.snap.kv());
    let cat = st.snap.catalog();
    let view = View::at(inner, &overlay, Some(cat));
    let mut touched = BTreeMap::new();
    apply(cat, &view, &mut touched, op)?;
    let plan = plan_touched(&inner.seed, &touched)?;
    let points = point_writes(&plan, &mut CommittedView(&view))?;
    let mut batch = WriteBatch::new();
    write_plan(&mut batch, &plan, &points);
    write_records(&mut batch, &touched, |_, _, _, _, _| {})?;
    Ok(batch)
}

impl ReadState<'_> {
    /// Records the committed record of an object read (once).
    fn note_object(&mut self, ns: NamespaceId, id: ObjectId) -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(e) = self.set.objects.entry((ns, id)) {
            e.insert(
                self.snap
                    .kv()
                    .get(Space::Objects, &ObjectKey { ns, id }.encode())?,
            );
        }
        Ok(())
    }

    /// Records the committed bytes of a unique point key read.
    fn note_point(&mut self, point: crate::read::UniquePoint) -> Result<()> {
        let seen = self.snap.kv().get(Space::of(point.family), &point.key)?;
        self.set.points.push(PointRead {
            stripe: point.stripe,
            family: point.family,
            key: point.key,
            seen,
        });
        Ok(())
    }

    /// Records a non-unique lookup or a scan with its committed answer, of
    /// the class as the snapshot resolves `at`.
    fn note_range(&mut self, at: ClassAt<'_>, index: &str, query: RangeQuery) -> Result<()> {
        let class = RangeClass::of(self.snap.catalog(), at)?;
        self.set.ranges.push(RangeRead {
            class,
            index: index.to_string(),
            query,
        });
        Ok(())
    }

    /// Whether any read needs the range-validation lock.
    pub fn reads_ranges(&self) -> bool {
        !self.set.ranges.is_empty()
    }
}
