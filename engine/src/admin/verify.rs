//! The invariant check of SPEC §4, over one consistent snapshot:
//! every record decodes and its checksum verifies, under the key of its
//! class; every object has exactly one locator naming that class, an entry
//! per value tuple of each non-unique index,
//! and is a holder of the point key of each tuple of each unique index;
//! every locator and index entry points to an existing object of its class
//! that holds
//! its tuple, and every holder of a point key holds its tuple; no unique
//! tuple has two holders. Indexes still being built are exempt from the
//! "entry per value" direction only.
//!
//! What entries a record implies comes from `index::plan` (the plan of
//! creating the record), and two holders of a unique value are found by
//! `index::unique`, as on every write path.

use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::ClassEntry;
use crate::error::{escape_key, Result};
use crate::index::entries::{entry_id, index_keys, index_tuples};
use crate::index::plan::{expected_entries, Change};
use crate::index::unique::UniqueCheck;
use crate::kv::{KeyRange, KvRead, Space};
use crate::read::ReadCtx;
use rockhold_format::{
    decode_hash_holders, decode_holders, decode_locator, AnyKey, ClassDef, ClassId, ClassKey,
    Family, HashKey, Holder, IndexId, Key, LocatorKey, MetaValue, NameEntry, NamespaceId, ObjectId,
    ObjectKey, ObjectRecord, RawOrderedKey, Record, TaskKey, TaskRecord, TaskState,
};

/// One violation found by [`Db::verify`](crate::Db::verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The family of the key at fault.
    pub family: Family,
    /// The key at fault, escaped for printing.
    pub key: String,
    /// What is wrong.
    pub what: String,
}

/// The outcome of [`Db::verify`](crate::Db::verify).
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Object records checked.
    pub objects: u64,
    /// Locators and index entries (`L`, `IH`, `IR`) checked.
    pub index_entries: u64,
    /// Other records checked (meta, names, classes, tasks).
    pub other_records: u64,
    /// Every violation found.
    pub problems: Vec<Problem>,
    /// Indexes that are not built (their task `Pending`, `InProgress` or
    /// `Failed`): whether every object has its entries in them was not
    /// checked, so the report cannot call the database clean.
    pub skipped: Vec<SkippedIndex>,
}

/// An index [`Db::verify`](crate::Db::verify) could not check fully because it is not built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedIndex {
    /// The namespace of its class.
    pub namespace: String,
    /// The class.
    pub class: String,
    /// The index (`None`: every index of the class, a whole-class task).
    pub index: Option<String>,
    /// The state of the task that builds it.
    pub state: TaskState,
}

impl std::fmt::Display for SkippedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}.{}: {}",
            self.namespace,
            self.class,
            self.index.as_deref().unwrap_or("*"),
            self.state.name()
        )
    }
}

impl VerifyReport {
    /// Whether no violation was found and every index was checked: `false`
    /// while an index is not built ([`VerifyReport::skipped`]), since the
    /// objects' entries in it were not checked.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.skipped.is_empty()
    }

    /// Whether no violation was found (indexes not built may be skipped).
    pub fn no_violations(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What one check concluded: `Err` is a storage failure, `Ok(Some)` a violation.
type Finding = Result<Option<String>>;

struct Verifier<'a> {
    inner: &'a ReadCtx,
    progress: &'a mut dyn FnMut(u64),
    seen: u64,
    snap: Box<dyn KvRead + 'a>,
    classes: HashMap<ClassId, Arc<ClassEntry>>,
    report: VerifyReport,
    /// Holders of the point key being checked: two of one tuple conflict.
    unique: UniqueCheck,
    /// The keys recently checked objects imply in an index.
    implied: ImpliedMemo,
}

/// What an object's record implies in one index, as `check_index_entry`
/// compares entries with it: its keys (sorted), and for a unique index each
/// tuple with its point key (sorted by key).
struct Implied {
    keys: Vec<Vec<u8>>,
    points: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Implied {
    fn bytes(&self) -> usize {
        let keys: usize = self.keys.iter().map(|k| k.len() + 24).sum();
        let points: usize = self
            .points
            .iter()
            .map(|(k, t)| k.len() + t.len() + 48)
            .sum();
        keys + points + 64
    }
}

/// The implied keys of the objects whose entries were checked last, within
/// a memory budget. A list of L elements has L entries in a multi-valued
/// index; reading and expanding the record again for each of them made
/// verify quadratic in L. The verifier reads one snapshot, so a record
/// seen once does not change.
struct ImpliedMemo {
    cache: lru::LruCache<(ClassId, IndexId, ObjectId), Arc<Implied>>,
    bytes: usize,
}

/// The memory `ImpliedMemo` may hold.
const IMPLIED_MEMO_BYTES: usize = 32 << 20;

impl ImpliedMemo {
    fn new() -> Self {
        ImpliedMemo {
            cache: lru::LruCache::unbounded(),
            bytes: 0,
        }
    }

    fn get(&mut self, key: &(ClassId, IndexId, ObjectId)) -> Option<Arc<Implied>> {
        self.cache.get(key).cloned()
    }

    fn insert(&mut self, key: (ClassId, IndexId, ObjectId), implied: Arc<Implied>) {
        let size = implied.bytes();
        if size > IMPLIED_MEMO_BYTES {
            return;
        }
        self.bytes += size;
        if let Some(old) = self.cache.put(key, implied) {
            self.bytes -= old.bytes();
        }
        while self.bytes > IMPLIED_MEMO_BYTES {
            match self.cache.pop_lru() {
                Some((_, old)) => self.bytes -= old.bytes(),
                None => break,
            }
        }
    }
}

impl Verifier<'_> {
    fn get(&self, family: Family, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.snap.get(Space::of(family), key)
    }

    /// Runs `check` on every (key, value) of a family and records violations.
    fn scan(
        &mut self,
        family: Family,
        check: fn(&mut Self, &[u8], &[u8]) -> Finding,
    ) -> Result<()> {
        let prefix = family.prefix();
        // The iterator borrows the snapshot, the checks borrow `self`
        // mutably: walk a cursor over owned keys, a page at a time.
        let mut lower = prefix.to_vec();
        let upper = rockhold_format::prefix_successor(prefix);
        loop {
            let mut page: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(1024);
            self.snap.scan(
                Space::of(family),
                KeyRange::new(&lower, upper.clone()),
                &mut |k, v| {
                    page.push((k.to_vec(), v.to_vec()));
                    Ok(page.len() < 1024)
                },
            )?;
            for (k, v) in &page {
                self.seen += 1;
                if self.seen.is_multiple_of(4096) {
                    (self.progress)(self.seen);
                }
                if let Some(what) = check(self, k, v)? {
                    self.report.problems.push(Problem {
                        family,
                        key: escape_key(k),
                        what,
                    });
                }
            }
            match page.pop() {
                Some((last, _)) if page.len() == 1023 => {
                    lower = last;
                    lower.push(0);
                }
                _ => return Ok(()),
            }
        }
    }

    fn check_catalog_record(&mut self, k: &[u8], v: &[u8]) -> Finding {
        self.report.other_records += 1;
        let outcome = match AnyKey::decode(k) {
            Err(e) => Err(format!("key does not decode: {e}")),
            Ok(AnyKey::Meta(_)) => MetaValue::decode(v).map(drop).map_err(|e| e.to_string()),
            Ok(AnyKey::Name(_)) => NameEntry::decode(v).map(drop).map_err(|e| e.to_string()),
            Ok(AnyKey::Class(ClassKey { class, .. })) => match ClassDef::decode(v) {
                Ok(def) if def.id == class => Ok(()),
                Ok(def) => Err(format!("class record says id {}", def.id)),
                Err(e) => Err(e.to_string()),
            },
            Ok(AnyKey::Task(TaskKey { class, index, .. })) => {
                match (TaskRecord::decode(v), self.classes.get(&class)) {
                    (Err(e), _) => Err(e.to_string()),
                    (Ok(_), None) => Err(format!("task names unknown class {class}")),
                    // A removed index keeps its task record as history.
                    (Ok(task), Some(entry)) => {
                        let live =
                            index == IndexId::WHOLE_CLASS || entry.def.index_by_id(index).is_some();
                        if live || task.state == TaskState::Remove {
                            Ok(())
                        } else {
                            Err(format!(
                                "task of class {} names index {index}, which does not exist",
                                entry.def.name
                            ))
                        }
                    }
                }
            }
            Ok(other) => Err(format!("{} key among catalog records", other.family())),
        };
        Ok(outcome.err())
    }

    fn check_object(&mut self, k: &[u8], v: &[u8]) -> Finding {
        self.report.objects += 1;
        let key = match ObjectKey::decode(k) {
            Ok(key) => key,
            Err(e) => return Ok(Some(format!("key does not decode: {e}"))),
        };
        let rec = match ObjectRecord::decode_in(v, key.class) {
            Ok(rec) => rec,
            Err(e) => return Ok(Some(format!("record: {e}"))),
        };
        let Some(class) = self.classes.get(&rec.class).filter(|c| c.ns == key.ns) else {
            return Ok(Some(format!("unknown class {}", rec.class)));
        };
        let locator = LocatorKey {
            ns: key.ns,
            id: key.id,
        }
        .encode();
        match self
            .get(Family::Locator, &locator)?
            .map(|v| decode_locator(&v))
        {
            None => return Ok(Some(format!("object {} has no locator", key.id))),
            Some(Ok(c)) if c == key.class => {}
            // A locator that does not decode is reported with the locator.
            Some(Err(_)) => {}
            Some(Ok(c)) => {
                return Ok(Some(format!(
                    "the locator of object {} names class {}, its record is of class {}",
                    key.id,
                    self.class_name(c),
                    self.class_name(key.class)
                )))
            }
        }
        let change = Change {
            ns: key.ns,
            id: key.id,
            class: &class.def,
            before: None,
            after: Some(&rec),
        };
        let mut missing = Vec::new();
        let (entries, point_keys) = expected_entries(&self.inner.seed, change);
        for (family, entry) in entries {
            if self.get(family, &entry)?.is_none() && !building(class, &entry, family) {
                missing.push(format!("{family} entry {}", escape_key(&entry)));
            }
        }
        for (family, key) in point_keys {
            let holds = match self.get(family, &key)? {
                // A value that does not decode is reported with the key.
                Some(v) => decode_holders(&v).map_or(true, |h| h.contains(&change.id)),
                None => false,
            };
            if !holds && !building(class, &key, family) {
                missing.push(format!(
                    "{family} holder {} of {}",
                    change.id,
                    escape_key(&key)
                ));
            }
        }
        Ok((!missing.is_empty()).then(|| format!("missing {}", missing.join(", "))))
    }

    /// A locator: it decodes, and its object's record is under the class
    /// it names.
    fn check_locator(&mut self, k: &[u8], v: &[u8]) -> Finding {
        self.report.index_entries += 1;
        let key = match LocatorKey::decode(k) {
            Ok(key) => key,
            Err(e) => return Ok(Some(format!("key does not decode: {e}"))),
        };
        let class = match decode_locator(v) {
            Ok(class) => class,
            Err(e) => return Ok(Some(format!("locator: {e}"))),
        };
        self.check_holder(key.ns, class, key.id).map(|r| r.err())
    }

    fn check_index_entry(&mut self, k: &[u8], v: &[u8]) -> Finding {
        self.report.index_entries += 1;
        let (ns, class_id, index_id) = match AnyKey::decode(k) {
            Ok(AnyKey::Hash(key)) => (key.ns, key.class, key.index),
            Ok(AnyKey::Ordered(key)) => (key.ns, key.class, key.index),
            Ok(other) => return Ok(Some(format!("{} key among index entries", other.family()))),
            Err(e) => return Ok(Some(format!("key does not decode: {e}"))),
        };
        let Some(class) = self.classes.get(&class_id).cloned() else {
            return Ok(Some(format!("entry of unknown class {class_id}")));
        };
        let Some(index) = class.def.index_by_id(index_id) else {
            return Ok(Some(format!("entry of unknown index {index_id}")));
        };
        let holders: Vec<Holder<'_>> = if index.is_unique() {
            match decode_hash_holders(v) {
                Ok(h) if h.len() > 1 && index.kind.is_ordered() => {
                    return Ok(Some(format!(
                        "unique ordered key of {} with {} holders {h:?}",
                        index.name,
                        h.len()
                    )))
                }
                Ok(h) => h,
                Err(e) => return Ok(Some(format!("holders: {e}"))),
            }
        } else {
            if !v.is_empty() {
                return Ok(Some("index entry has a non-empty value".into()));
            }
            match entry_id(k) {
                Some(id) => vec![Holder { id, tuple: None }],
                None => return Ok(Some("index entry without an object id".into())),
            }
        };
        if index.kind.is_ordered() && holders.iter().any(|h| h.tuple.is_some()) {
            return Ok(Some(format!(
                "unique ordered key of {} keeps a tuple beside its holder",
                index.name
            )));
        }
        self.unique.next_group();
        for Holder { id, tuple: kept } in holders {
            let implied = match self.implied.get(&(class_id, index.id, id)) {
                Some(implied) => implied,
                None => {
                    let rec = match self.check_holder(ns, class_id, id)? {
                        Ok(rec) => rec,
                        Err(what) => return Ok(Some(what)),
                    };
                    let Some(rec) = rec else { continue };
                    let keys = index_keys(&self.inner.seed, ns, &class.def, index, &rec, id);
                    let mut points = Vec::new();
                    if index.is_unique() {
                        for tuple in index_tuples(&class.def, index, &rec) {
                            let (_, key) = crate::index::entries::point_key(
                                &self.inner.seed,
                                ns,
                                class_id,
                                index,
                                &tuple,
                            );
                            points.push((key, tuple));
                        }
                        points.sort_unstable();
                    }
                    let implied = Arc::new(Implied { keys, points });
                    self.implied
                        .insert((class_id, index.id, id), implied.clone());
                    implied
                }
            };
            if implied
                .keys
                .binary_search_by(|key| key.as_slice().cmp(k))
                .is_err()
            {
                return Ok(Some(format!(
                    "object {id} does not hold this value of index {}",
                    index.name
                )));
            }
            // Holders of one hash key hold distinct tuples (a collision)
            // unless the index is broken.
            let from = implied
                .points
                .partition_point(|(key, _)| key.as_slice() < k);
            let held = implied.points[from..]
                .iter()
                .take_while(|(key, _)| key.as_slice() == k);
            // The tuple the value keeps is one the record holds: a lookup
            // trusts it without reading the record.
            if let Some(kept) = kept {
                if !held.clone().any(|(_, tuple)| tuple.as_slice() == kept) {
                    return Ok(Some(format!(
                        "the value kept for holder {id} in {} is not one its record holds",
                        index.name
                    )));
                }
            }
            for (_, tuple) in held {
                if let Some(first) = self.unique.claim(class_id, index.id, tuple, id) {
                    return Ok(Some(format!(
                        "second holder {id} of unique value {} in {} (first: {first})",
                        crate::index::entries::tuple_value(index, tuple),
                        index.name
                    )));
                }
            }
        }
        Ok(None)
    }

    /// How a report names a class: its name, or its id for one the catalog
    /// does not know (damage has nothing else to go by).
    fn class_name(&self, class: ClassId) -> String {
        self.classes
            .get(&class)
            .map_or_else(|| format!("(unknown, id {class})"), |c| c.def.name.clone())
    }

    /// The record of an index entry's object, which must exist and be of
    /// its class (`Ok(None)`: it does not decode, reported with the object).
    fn check_holder(
        &self,
        ns: NamespaceId,
        class_id: ClassId,
        id: ObjectId,
    ) -> Result<std::result::Result<Option<ObjectRecord>, String>> {
        let key = ObjectKey {
            ns,
            class: class_id,
            id,
        };
        match self.get(Family::Object, &key.encode())? {
            None => Ok(Err(format!(
                "points to missing object {id} (of class {})",
                self.class_name(class_id)
            ))),
            // A record that does not decode (or holds another class than
            // its key names) is reported with the record.
            Some(bytes) => Ok(Ok(ObjectRecord::decode_in(&bytes, class_id).ok())),
        }
    }
}

/// Whether a missing entry is allowed because its index is being built.
fn building(class: &ClassEntry, entry: &[u8], family: Family) -> bool {
    let index = match family {
        Family::Hash => HashKey::decode(entry).map(|k| k.index),
        Family::Ordered => RawOrderedKey::decode(entry).map(|k| k.index),
        _ => return false,
    };
    index.is_ok_and(|i| class.not_ready(i).is_some())
}

/// Every file the backend lists that is missing or shorter than listed, as
/// problems of the family its space holds (none on a backend without
/// maintenance functions: it lists no files).
fn missing_files(inner: &ReadCtx) -> Result<Vec<Problem>> {
    let Some(maintenance) = inner.kv.maintenance() else {
        return Ok(Vec::new());
    };
    Ok(maintenance
        .damaged_files()?
        .into_iter()
        .map(|d| Problem {
            family: Family::ALL
                .into_iter()
                .find(|f| Space::of(*f) == d.space && *f != Family::Generation)
                .unwrap_or(Family::Meta),
            key: d.name,
            what: d.what,
        })
        .collect())
}

impl ReadCtx {
    /// Checks every record and the index invariant on a snapshot of the
    /// database. Storage errors are returned as errors; violations are
    /// collected in the report.
    pub(crate) fn verify(&self) -> Result<VerifyReport> {
        self.verify_with_progress(&mut |_| {})
    }

    /// [`Db::verify`](crate::Db::verify), calling `progress` with the number of keys checked so
    /// far every few thousand keys (for a progress bar).
    pub(crate) fn verify_with_progress(
        &self,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport> {
        let inner = self;
        let files = missing_files(inner)?;
        if !files.is_empty() {
            return Ok(VerifyReport {
                problems: files,
                ..VerifyReport::default()
            });
        }
        let (catalog, snap) = inner.catalog.consistent(|| inner.kv.snapshot());
        let classes: HashMap<ClassId, Arc<ClassEntry>> = catalog
            .all_classes()
            .map(|c| (c.def.id, c.clone()))
            .collect();
        let mut skipped = Vec::new();
        for c in classes.values() {
            for (index, task) in &c.tasks {
                if !matches!(
                    task.state,
                    TaskState::Pending | TaskState::InProgress | TaskState::Failed
                ) {
                    continue;
                }
                let name = if *index == IndexId::WHOLE_CLASS {
                    None
                } else {
                    match c.def.index_by_id(*index) {
                        Some(i) => Some(i.name.clone()),
                        None => continue,
                    }
                };
                skipped.push(SkippedIndex {
                    namespace: catalog.namespace_name(c.ns).to_string(),
                    class: c.def.name.clone(),
                    index: name,
                    state: task.state,
                });
            }
        }
        skipped.sort_by(|a, b| {
            (&a.namespace, &a.class, &a.index).cmp(&(&b.namespace, &b.class, &b.index))
        });
        let mut v = Verifier {
            inner,
            progress,
            seen: 0,
            snap,
            classes,
            report: VerifyReport {
                skipped,
                ..VerifyReport::default()
            },
            unique: UniqueCheck::new(),
            implied: ImpliedMemo::new(),
        };
        for family in [Family::Meta, Family::Name, Family::Class, Family::Task] {
            v.scan(family, Verifier::check_catalog_record)?;
        }
        let generations = crate::kv::generation::read_generations(&*v.snap)?;
        let newest = generations.iter().flatten().copied().max();
        for (tag, g) in generations.iter().enumerate() {
            if *g != newest {
                let key = rockhold_format::GenerationKey { cf: tag as u8 }.encode();
                v.report.problems.push(Problem {
                    family: Family::Generation,
                    key: escape_key(&key),
                    what: format!("generation marker {g:?}, the database is at {newest:?}: this column family lost data"),
                });
            }
        }
        v.scan(Family::Object, Verifier::check_object)?;
        v.scan(Family::Locator, Verifier::check_locator)?;
        for family in [Family::Hash, Family::Ordered] {
            v.scan(family, Verifier::check_index_entry)?;
        }
        Ok(v.report)
    }
}
