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
//! **Isolation: serializable.** Each read also records what it observed of
//! the *committed* state (the snapshot without the overlay):
//! - an object read: the record's bytes (or that there was none);
//! - a unique lookup: the bytes of the unique point key;
//! - a non-unique lookup or a range scan: the key intervals its iterators
//!   covered over the overlay (`kv::overlay::Recording`), from where each
//!   seeked to where it stopped. That is what the read observed, whatever
//!   its limit, cursor or direction: a scan with `limit(1)` that passed
//!   over entries the transaction itself deleted covered them too. (A
//!   re-run of the call with its limit, as validation once was, stops
//!   short of them and misses a phantom among them.)
//!
//! At commit, under the commit's locks (the stripes of the objects read as
//! well as written, and of the unique values read as well as written), the
//! recorded reads are checked against the latest committed state: each
//! object and point key has the bytes it had, and each covered interval
//! holds exactly the entries it held in the snapshot. The objects are
//! checked before any operation is applied, so an operation on an object
//! deleted since it was read is a conflict, not `UnknownObject`; and a
//! commit that fails for any other reason is a conflict whenever one of
//! its reads changed. If anything changed, the commit fails with the
//! retryable `Error::Conflict` and nothing is written. A transaction that
//! read a range holds the range-validation lock exclusively from its
//! validation to its write, and every other writer holds it shared while
//! it commits, so no write (a transaction's or a plain insert's) lands
//! between the validation and the write. The transaction therefore commits
//! as if it ran alone at its commit point. A transaction that only reads
//! commits nothing and needs no validation: its snapshot is a consistent
//! point.
//!
//! A staged state may break a unique index for a while (two objects
//! swapping their values, one update at a time): staging keeps both
//! holders, reads elsewhere go on, a lookup of that very value is
//! `UniqueViolation`, and the commit checks the final state.
//!
//! What it does not do: reads made outside the transaction (a `db.get`
//! before `db.write`) are not validated; a closure passed to
//! `Db::write` may run more than once, so its side effects outside
//! the transaction must be idempotent; and a conflict is reported whenever
//! a read's answer changed, even when the transaction's writes would not
//! have depended on the change (false conflicts, never missed ones).

use std::collections::BTreeMap;

use rockhold_format::{ClassId, Family, IndexId, NamespaceId, ObjectId, Value};

use crate::catalog::ClassAt;
use crate::error::{Error, Result};
use crate::index::committed::{LocatedRecord, Stored};
use crate::index::plan::UniqueValue;
use crate::index::unique::{point_writes_with, write_plan, OnConflict};
use crate::kv::overlay::{Covered, Recording, Staged};
use crate::kv::{KvRead, Space, WriteBatch};
use crate::read::{FindAll, FindPage, Object, RangeScan, ReadCtx, ScanPage, Snapshot, View};

use super::{apply, plan_touched, write_records, Op, Transaction, WriteCtx};

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
    pub objects: BTreeMap<(NamespaceId, ObjectId), Option<LocatedRecord>>,
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
    /// `class.index`, for the conflict's message.
    what: String,
    /// The committed key intervals the read covered.
    covered: Vec<Covered>,
}

impl ReadSet {
    /// Checks every recorded read against `latest`: objects and point keys
    /// hold the bytes they held, and each covered interval the entries it
    /// held in `snap` (the transaction's snapshot). The first change is a
    /// conflict.
    pub fn validate(&self, snap: &dyn KvRead, latest: &dyn KvRead) -> Result<()> {
        self.validate_objects(latest)?;
        self.validate_indexes(snap, latest)
    }

    /// `validate` of the unique lookups and the covered intervals only
    /// (the commit checked the objects under their locks already).
    pub fn validate_indexes(&self, snap: &dyn KvRead, latest: &dyn KvRead) -> Result<()> {
        for p in &self.points {
            if latest.get(Space::of(p.family), &p.key)? != p.seen {
                return Err(Error::Conflict {
                    reason: "a unique value the transaction looked up changed hands".into(),
                });
            }
        }
        for r in &self.ranges {
            for c in &r.covered {
                if !same_entries(snap, latest, c)? {
                    return Err(Error::Conflict {
                        reason: format!("index {} changed in a range the transaction read", r.what),
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks the objects read: each has the record it had.
    pub fn validate_objects(&self, latest: &dyn KvRead) -> Result<()> {
        for ((ns, id), seen) in &self.objects {
            if !Stored(latest).still(*ns, *id, seen)? {
                return Err(Error::Conflict {
                    reason: format!("object {id} changed since the transaction read it"),
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

/// Whether `a` and `b` hold the same entries (keys and values) in `c`.
fn same_entries(a: &dyn KvRead, b: &dyn KvRead, c: &Covered) -> Result<bool> {
    let mut ia = a.iter(c.space, c.range())?;
    let mut ib = b.iter(c.space, c.range())?;
    ia.seek_to_first();
    ib.seek_to_first();
    loop {
        match (ia.key(), ib.key()) {
            (None, None) => break,
            (Some(ka), Some(kb)) if ka == kb && ia.value() == ib.value() => {}
            _ => return Ok(false),
        }
        ia.next();
        ib.next();
    }
    ia.status()?;
    ib.status()?;
    Ok(true)
}

impl<'db> Transaction<'db> {
    /// The read state with every staged operation applied to the overlay.
    fn reader(&mut self) -> Result<&mut ReadState<'db>> {
        let cx = self.cx;
        let st = self.reads.get_or_insert_with(|| {
            Box::new(ReadState {
                snap: cx.snapshot(),
                staged: Staged::default(),
                applied: 0,
                set: ReadSet::default(),
            })
        });
        while st.applied < self.ops.len() {
            let batch = stage(cx, st, &self.ops[st.applied])?;
            st.staged.apply(st.snap.kv(), &batch)?;
            st.applied += 1;
        }
        Ok(st)
    }

    /// The object `id` of `namespace` as this transaction sees it (its own
    /// writes included), or `None`. The read is validated at commit.
    pub fn get(&mut self, namespace: &str, id: ObjectId) -> Result<Option<Object>> {
        let cx = self.cx;
        let st = self.reader()?;
        let base = View::at(cx, st.snap.kv(), Some(st.snap.catalog()));
        let ns = base.namespace(namespace)?;
        st.note_object(ns, id)?;
        let overlay = st.staged.over(st.snap.kv());
        View::at(cx, &overlay, Some(st.snap.catalog()))
            .staged()
            .get(namespace, id)
    }

    /// Runs `f` on the stored record of `id` as this transaction sees it
    /// (for the typed reads), recording the read.
    pub(crate) fn with_record<R>(
        &mut self,
        ns: NamespaceId,
        id: ObjectId,
        f: impl FnOnce(&rockhold_format::ClassDef, &[u8], rockhold_format::RecordView<'_>) -> Result<R>,
    ) -> Result<Option<R>> {
        let cx = self.cx;
        let st = self.reader()?;
        st.note_object(ns, id)?;
        let overlay = st.staged.over(st.snap.kv());
        let cat = st.snap.catalog();
        View::at(cx, &overlay, Some(cat))
            .staged()
            .with_record(ns, id, |key, rec| {
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
        let cx = self.cx;
        let st = self.reader()?;
        let base = View::at(cx, st.snap.kv(), Some(st.snap.catalog()));
        let point = base.unique_point(at, index, value)?;
        st.note_point(point)?;
        let overlay = st.staged.over(st.snap.kv());
        View::at(cx, &overlay, Some(st.snap.catalog()))
            .staged()
            .find_unique(at, index, value)
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
        let cx = self.cx;
        let st = self.reader()?;
        let base = View::at(cx, st.snap.kv(), Some(st.snap.catalog()));
        if base.is_unique(at, index)? && find.after_cursor().is_none() {
            // One point key answers it: validated as a unique lookup.
            let point = base.unique_point(at, index, value)?;
            st.note_point(point)?;
            let overlay = st.staged.over(st.snap.kv());
            return View::at(cx, &overlay, Some(st.snap.catalog()))
                .staged()
                .find_page(at, index, value, find);
        }
        st.observed(cx, at, index, |view| view.find_page(at, index, value, find))
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
        let cx = self.cx;
        let st = self.reader()?;
        st.observed(cx, at, index, |view| view.scan(at, index, scan))
    }
}

/// The batch one staged operation adds to the overlay: its record and
/// index changes against the overlay's state, planned like a commit.
fn stage(cx: &WriteCtx, st: &ReadState<'_>, op: &Op) -> Result<WriteBatch> {
    let overlay = st.staged.over(st.snap.kv());
    let cat = st.snap.catalog();
    let view = View::at(cx, &overlay, Some(cat));
    let mut touched = BTreeMap::new();
    apply(cat, &view, &mut touched, op)?;
    let plan = plan_touched(&cx.seed, &touched)?;
    // A unique value held twice is staged as such (both holders): a later
    // operation may still resolve it, and the commit checks the end state.
    let points = point_writes_with(&plan, &mut view.stored(), &mut Tolerate)?;
    let mut batch = WriteBatch::new();
    write_plan(&mut batch, &plan, &points);
    write_records(&mut batch, &touched, |_, _, _, _, _| {})?;
    Ok(batch)
}

/// Staging's rule for a unique value held twice: keep both holders.
struct Tolerate;

impl OnConflict for Tolerate {
    fn conflict(&mut self, _: &UniqueValue<'_>, _: ObjectId) -> Result<()> {
        Ok(())
    }
}

impl ReadState<'_> {
    /// Runs a non-unique lookup or a scan over the overlay, noting the
    /// committed key intervals its iterators covered (with the class as
    /// the snapshot resolves `at`, for a conflict's message).
    fn observed<R>(
        &mut self,
        cx: &ReadCtx,
        at: ClassAt<'_>,
        index: &str,
        read: impl FnOnce(&View<'_>) -> Result<R>,
    ) -> Result<R> {
        let class = self.snap.catalog().class_at(at)?.def.name.clone();
        let overlay = self.staged.over(self.snap.kv());
        let recording = Recording::new(&overlay);
        let answer = read(&View::at(cx, &recording, Some(self.snap.catalog())).staged());
        let covered = recording.into_covered();
        self.set.ranges.push(RangeRead {
            what: format!("{class}.{index}"),
            covered,
        });
        answer
    }

    /// Records the committed record of an object read (once).
    fn note_object(&mut self, ns: NamespaceId, id: ObjectId) -> Result<()> {
        if let std::collections::btree_map::Entry::Vacant(e) = self.set.objects.entry((ns, id)) {
            e.insert(Stored(self.snap.kv()).located_record(ns, id)?);
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

    /// Checks every read against `latest` (see [`ReadSet::validate`]).
    pub fn validate(&self, latest: &dyn KvRead) -> Result<()> {
        self.set.validate(self.snap.kv(), latest)
    }

    /// Checks the index reads against `latest` (see
    /// [`ReadSet::validate_indexes`]).
    pub fn validate_indexes(&self, latest: &dyn KvRead) -> Result<()> {
        self.set.validate_indexes(self.snap.kv(), latest)
    }

    /// Whether any read needs the range-validation lock.
    pub fn reads_ranges(&self) -> bool {
        !self.set.ranges.is_empty()
    }
}
