//! # The change feed
//!
//! Owns: the in-memory feed of committed object changes ([`Db::watch`](crate::Db::watch),
//! [`Watch`], [`Change`]): the ring of recent commits shared by every
//! watcher, the sequence numbers of commits, and the gate that orders
//! publishing against subscribing. The write path calls one function,
//! [`Feed::enter`] then [`Entered::publish`], around its storage write.
//!
//! Guarantees: a watcher sees every change committed after its `watch`
//! returned and matching its filter, exactly once, in commit order (the
//! order the writes became visible), each commit's changes consecutively
//! and with the commit's sequence number; or, when it falls more than the
//! ring's capacity behind, an [`Error::Lagged`] saying how many commits it
//! missed. The feed lives in memory only: it does not survive a restart,
//! and sequence numbers start again from 1 at every open.
//!
//! Cost when nobody watches: a commit takes the gate's read side (shared,
//! uncontended by other commits) across its storage write and counts
//! itself with one atomic add; no change list is built. While a watcher
//! exists, commits are serialized around their storage write (the ordering
//! mutex), so the ring's order is the order writes became visible.
//!
//! May call: `read` (the objects it delivers), `catalog` (names), `error`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock, RwLockReadGuard};
use rockhold_format::{
    ClassDef, ClassId, Key, NamespaceId, ObjectId, ObjectKey, ObjectRecord, Record,
};

use crate::catalog::ClassEntry;
use crate::error::{Error, Result};
use crate::read::{into_object, Object};

/// What a committed change did to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// The object was created (an insert, or an ingest of a new id).
    Insert,
    /// The object existed and was rewritten (an update, or an ingest
    /// replacing it).
    Update,
    /// The object was deleted.
    Delete,
}

/// One object's change, as the write path hands it to the feed.
pub(crate) struct ChangeData {
    pub ns: NamespaceId,
    pub namespace: String,
    pub class: Arc<ClassEntry>,
    pub id: ObjectId,
    pub kind: ChangeKind,
    /// The new record's encoded bytes (what was written); `None` for a delete.
    pub record: Option<Vec<u8>>,
}

/// The changes of one commit, in (namespace, id) order.
struct CommitEntry {
    seq: u64,
    changes: Vec<ChangeData>,
}

/// A committed change of one object, delivered by a [`Watch`].
///
/// ```
/// use rockhold::{ChangeKind, ClassSpec, Db, FieldSpec, FieldType, MemStore, Options, Value};
///
/// let db = Db::open_memory(&MemStore::new(), Options::default())?;
/// db.create_class("default", &ClassSpec::new("user").field(FieldSpec::new("name", FieldType::String)))?;
/// let mut watch = db.watch("default", Some("user"))?;
/// let id = db.insert("default", "user", [("name", Value::from("ada"))])?;
/// let change = watch.recv()?;
/// assert_eq!((change.kind, change.id, change.class.as_str()), (ChangeKind::Insert, id, "user"));
/// assert_eq!(change.object()?.and_then(|o| o.get("name").cloned()), Some(Value::from("ada")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Change {
    /// The commit's sequence number: commits (of objects) since the
    /// database was opened, from 1. Every change of one commit has the
    /// same one, and they are delivered one after the other.
    pub seq: u64,
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// The object's namespace.
    pub namespace: String,
    /// The object's class.
    pub class: String,
    /// The object's id.
    pub id: ObjectId,
    entry: Arc<CommitEntry>,
    index: usize,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("seq", &self.seq)
            .field("kind", &self.kind)
            .field("namespace", &self.namespace)
            .field("class", &self.class)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Change {
    fn data(&self) -> &ChangeData {
        &self.entry.changes[self.index]
    }

    /// The object as this commit left it, decoded now from the record the
    /// commit wrote (by its class as of the commit); `None` for a delete.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options, Value};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut watch = db.watch("default", None)?;
    /// let id = db.insert("default", "n", [("v", 1u64)])?;
    /// db.delete("default", id)?;
    /// assert_eq!(watch.recv()?.object()?.map(|o| o.fields), Some(vec![("v".to_string(), Value::U64(1))]));
    /// assert!(watch.recv()?.object()?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn object(&self) -> Result<Option<Object>> {
        let d = self.data();
        match &d.record {
            None => Ok(None),
            Some(bytes) => {
                let rec = ObjectRecord::decode(bytes).map_err(|e| {
                    let key = ObjectKey {
                        ns: d.ns,
                        class: d.class.def.id,
                        id: d.id,
                    };
                    Error::corruption(&key.encode(), e)
                })?;
                Ok(Some(into_object(d.id, &d.class.def, rec)))
            }
        }
    }

    /// The class definition (as of the commit) and the new record's
    /// encoded bytes, `None` for a delete: for typed watches decoding into
    /// a user's struct.
    pub(crate) fn raw(&self) -> (&ClassDef, Option<&[u8]>) {
        let d = self.data();
        (&d.class.def, d.record.as_deref())
    }

    /// The class id and namespace id of the object.
    pub(crate) fn ids(&self) -> (NamespaceId, ClassId) {
        let d = self.data();
        (d.ns, d.class.def.id)
    }
}

/// The retained commits.
struct Ring {
    entries: VecDeque<Arc<CommitEntry>>,
    /// Changes held by `entries`.
    held: usize,
    /// Sequence number of `entries.front()`, or of the next commit pushed
    /// when empty.
    first_seq: u64,
    closed: bool,
    /// The watches blocked in a receive: a commit wakes those its changes
    /// match, not every one (a thousand blocked watchers of other classes
    /// cost every commit a wake-up each).
    waiting: HashMap<usize, Waiter>,
}

/// A watch blocked in a receive: what it watches and where to wake it.
struct Waiter {
    filter: Filter,
    wake: Arc<Condvar>,
}

/// The feed of one database (shared by the database and its watches).
pub(crate) struct Feed {
    /// Read side: a commit across its storage write. Write side: a watch
    /// starting or ending (so it never starts in the middle of a commit).
    gate: RwLock<()>,
    /// Live watches; changed only under the gate's write side.
    watchers: AtomicUsize,
    /// Held by a commit while watched, across (write, push).
    order: Mutex<()>,
    /// Sequence number of the next successful commit.
    next_seq: AtomicU64,
    ring: Mutex<Ring>,
    /// Changes retained at most (the newest commit is always retained).
    capacity: usize,
    /// Blocked watches woken by a commit, since the open (for tests).
    woken: AtomicU64,
}

/// A commit between [`Feed::enter`] and its write: holds the gate.
pub(crate) struct Entered<'f> {
    feed: &'f Feed,
    _gate: RwLockReadGuard<'f, ()>,
    active: bool,
}

impl Feed {
    pub fn new(capacity: usize) -> Feed {
        Feed {
            gate: RwLock::new(()),
            watchers: AtomicUsize::new(0),
            order: Mutex::new(()),
            next_seq: AtomicU64::new(1),
            ring: Mutex::new(Ring {
                entries: VecDeque::new(),
                held: 0,
                first_seq: 1,
                closed: false,
                waiting: HashMap::new(),
            }),
            capacity: capacity.max(1),
            woken: AtomicU64::new(0),
        }
    }

    /// Enters a commit: from here to its write no watch starts or ends.
    pub fn enter(&self) -> Entered<'_> {
        let gate = self.gate.read();
        Entered {
            active: self.watchers.load(Ordering::Acquire) > 0,
            feed: self,
            _gate: gate,
        }
    }

    /// Wakes every watcher for good: the database closed.
    pub fn close(&self) {
        let mut ring = self.ring.lock();
        ring.closed = true;
        for w in ring.waiting.values() {
            w.wake.notify_one();
        }
    }

    /// How many watches are blocked waiting for a change.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.ring.lock().waiting.len()
    }

    /// How many blocked watches commits have woken since the open.
    #[cfg(test)]
    pub(crate) fn woken(&self) -> u64 {
        self.woken.load(Ordering::Relaxed)
    }

    fn push(&self, changes: Vec<ChangeData>) {
        let mut ring = self.ring.lock();
        // Taken under the ring's lock: the ring is in sequence order.
        let seq = self.next_seq.fetch_add(1, Ordering::AcqRel);
        if ring.entries.is_empty() {
            ring.first_seq = seq;
        }
        ring.held += changes.len();
        ring.entries
            .push_back(Arc::new(CommitEntry { seq, changes }));
        while ring.held > self.capacity && ring.entries.len() > 1 {
            if let Some(old) = ring.entries.pop_front() {
                ring.held -= old.changes.len();
                ring.first_seq = old.seq + 1;
            }
        }
        // Under the ring's lock, which a watch holds from its last look to
        // its wait: no wake-up is lost.
        let Some(entry) = ring.entries.back() else {
            return;
        };
        let mut woken = 0;
        for w in ring.waiting.values() {
            if entry.changes.iter().any(|c| w.filter.matches(c)) {
                w.wake.notify_one();
                woken += 1;
            }
        }
        if woken > 0 {
            self.woken.fetch_add(woken, Ordering::Relaxed);
        }
    }

    /// Registers a watch; it starts at the next commit.
    fn subscribe(&self) -> u64 {
        let _gate = self.gate.write();
        let next = self.next_seq.load(Ordering::Acquire);
        let mut ring = self.ring.lock();
        if ring.entries.is_empty() {
            ring.first_seq = next;
        }
        self.watchers.fetch_add(1, Ordering::AcqRel);
        next
    }

    fn unsubscribe(&self) {
        let _gate = self.gate.write();
        if self.watchers.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Nobody watches: what is retained can never be delivered.
            let mut ring = self.ring.lock();
            ring.entries.clear();
            ring.held = 0;
        }
    }
}

impl Entered<'_> {
    /// Whether a watch exists: only then must the commit build its change
    /// list for [`Entered::publish`].
    pub fn active(&self) -> bool {
        self.active
    }

    /// Runs the commit's storage `write`; when it succeeds, the commit takes
    /// the next sequence number and, while watched, its `changes` are
    /// published in the order the writes became visible. When it fails,
    /// nothing is published and no sequence number is used.
    pub fn publish<T>(
        self,
        changes: Vec<ChangeData>,
        write: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        if !self.active {
            let written = write()?;
            self.feed.next_seq.fetch_add(1, Ordering::AcqRel);
            return Ok(written);
        }
        let _order = self.feed.order.lock();
        let written = write()?;
        self.feed.push(changes);
        Ok(written)
    }
}

/// Which changes a watch delivers.
#[derive(Clone, Copy)]
pub(crate) struct Filter {
    /// Only this namespace's objects (`None`: every namespace).
    pub ns: Option<NamespaceId>,
    /// Only this class's objects (`None`: every class).
    pub class: Option<ClassId>,
}

impl Filter {
    fn matches(&self, c: &ChangeData) -> bool {
        self.ns.is_none_or(|ns| ns == c.ns) && self.class.is_none_or(|id| id == c.class.def.id)
    }
}

/// A subscription to the committed changes of a namespace (or one class of
/// it, or every namespace), from [`Db::watch`](crate::Db::watch) or [`Db::watch_all`](crate::Db::watch_all).
///
/// It delivers each committed change once, in commit order, after the
/// commit returned to its writer. It keeps only a position: the changes
/// themselves are in a ring shared by every watch of the database
/// ([`crate::Options::feed_capacity`] changes). A watch that falls further
/// behind than that gets [`Error::Lagged`] once, with the number of commits
/// it missed, then continues from the oldest commit still retained.
///
/// After the database's last handle is closed (or dropped), a watch still
/// delivers what was committed before, then every receive fails with
/// [`Error::WatchClosed`] and the iterator ends. The feed is in memory: a
/// watch does not survive a restart, and sequence numbers start again
/// from 1 at every open.
///
/// ```
/// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
///
/// let db = Db::open_memory(&MemStore::new(), Options::default())?;
/// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
/// let watch = db.watch("default", Some("n"))?;
/// for v in 0..3u64 {
///     db.insert("default", "n", [("v", v)])?;
/// }
/// db.close()?;
/// let seqs: Vec<u64> = watch.map(|c| c.map(|c| c.seq)).collect::<Result<_, _>>()?;
/// assert_eq!(seqs.len(), 3);
/// assert!(seqs.windows(2).all(|w| w[0] < w[1]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Watch {
    feed: Arc<Feed>,
    filter: Filter,
    /// Sequence number of the commit to read next.
    next: u64,
    /// Index of the change to look at next within that commit.
    pos: usize,
    /// Sequence number of the last change delivered (0: none yet).
    last: u64,
    /// Where a commit wakes this watch while it waits.
    wake: Arc<Condvar>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("next", &self.next)
            .field("last_seq", &self.last)
            .finish_non_exhaustive()
    }
}

/// What one look at the ring found.
enum Step {
    Change(Change),
    Lagged(u64),
    Empty,
    Closed,
}

impl Watch {
    fn step(&mut self, ring: &Ring) -> Step {
        if self.next < ring.first_seq {
            let missed = ring.first_seq - self.next;
            self.next = ring.first_seq;
            self.pos = 0;
            return Step::Lagged(missed);
        }
        let skip = usize::try_from(self.next - ring.first_seq).unwrap_or(usize::MAX);
        for entry in ring.entries.iter().skip(skip) {
            debug_assert_eq!(entry.seq, self.next);
            while self.pos < entry.changes.len() {
                let i = self.pos;
                self.pos += 1;
                let c = &entry.changes[i];
                if self.filter.matches(c) {
                    self.last = entry.seq;
                    if self.pos == entry.changes.len() {
                        // Delivered to its end: dropping the commit from the
                        // ring loses this watch nothing.
                        self.next = entry.seq + 1;
                        self.pos = 0;
                    }
                    return Step::Change(Change {
                        seq: entry.seq,
                        kind: c.kind,
                        namespace: c.namespace.clone(),
                        class: c.class.def.name.clone(),
                        id: c.id,
                        entry: entry.clone(),
                        index: i,
                    });
                }
            }
            self.next = entry.seq + 1;
            self.pos = 0;
        }
        if ring.closed {
            Step::Closed
        } else {
            Step::Empty
        }
    }

    fn receive(&mut self, deadline: Option<Option<Instant>>) -> Result<Option<Change>> {
        let feed = self.feed.clone();
        let mut ring = feed.ring.lock();
        loop {
            match self.step(&ring) {
                Step::Change(c) => return Ok(Some(c)),
                Step::Lagged(missed) => return Err(Error::Lagged { missed }),
                Step::Closed => return Err(Error::WatchClosed),
                Step::Empty => {
                    let Some(deadline) = deadline else {
                        return Ok(None);
                    };
                    // Registered and waiting under the ring's lock, which
                    // a commit holds to wake the matching waiters.
                    // Keyed by the condvar's address: one entry per watch.
                    let me = Arc::as_ptr(&self.wake) as usize;
                    ring.waiting.insert(
                        me,
                        Waiter {
                            filter: self.filter,
                            wake: self.wake.clone(),
                        },
                    );
                    let timed_out = match deadline {
                        None => {
                            self.wake.wait(&mut ring);
                            false
                        }
                        Some(at) => self.wake.wait_until(&mut ring, at).timed_out(),
                    };
                    ring.waiting.remove(&me);
                    if timed_out {
                        return match self.step(&ring) {
                            Step::Change(c) => Ok(Some(c)),
                            Step::Lagged(missed) => Err(Error::Lagged { missed }),
                            Step::Closed => Err(Error::WatchClosed),
                            Step::Empty => Ok(None),
                        };
                    }
                }
            }
        }
    }

    /// The next change, waiting for one to be committed. Fails with
    /// [`Error::Lagged`] when changes were lost to falling behind (once;
    /// the next call continues), and with [`Error::WatchClosed`] once the
    /// database is closed and everything committed before was delivered.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut watch = db.watch("default", None)?;
    /// let writer = db.clone();
    /// let t = std::thread::spawn(move || writer.insert("default", "n", [("v", 7u64)]));
    /// let change = watch.recv()?;
    /// assert_eq!(Some(change.id), t.join().unwrap().ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&mut self) -> Result<Change> {
        match self.receive(Some(None))? {
            Some(c) => Ok(c),
            // Waiting without a deadline ends only with a change or an error.
            None => Err(Error::WatchClosed),
        }
    }

    /// The next change if one is committed and not yet delivered, without
    /// waiting. Errors as [`Watch::recv`].
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut watch = db.watch("default", None)?;
    /// assert!(watch.try_recv()?.is_none());
    /// db.insert("default", "n", [("v", 1u64)])?;
    /// assert!(watch.try_recv()?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Option<Change>> {
        self.receive(None)
    }

    /// The next change, waiting at most `timeout` for one; `None` when
    /// none came. Errors as [`Watch::recv`].
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    /// use std::time::Duration;
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut watch = db.watch("default", None)?;
    /// assert!(watch.recv_timeout(Duration::from_millis(1))?.is_none());
    /// db.insert("default", "n", [("v", 1u64)])?;
    /// assert!(watch.recv_timeout(Duration::from_secs(5))?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Change>> {
        // A timeout too far to represent waits without a deadline.
        let deadline = Instant::now().checked_add(timeout);
        match deadline {
            Some(at) => self.receive(Some(Some(at))),
            None => self.recv().map(Some),
        }
    }

    /// The sequence number of the last change delivered, 0 before the first.
    ///
    /// ```
    /// use rockhold::{ClassSpec, Db, FieldSpec, FieldType, MemStore, Options};
    ///
    /// let db = Db::open_memory(&MemStore::new(), Options::default())?;
    /// db.create_class("default", &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)))?;
    /// let mut watch = db.watch("default", None)?;
    /// assert_eq!(watch.last_seq(), 0);
    /// db.insert("default", "n", [("v", 1u64)])?;
    /// let seq = watch.recv()?.seq;
    /// assert_eq!(watch.last_seq(), seq);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn last_seq(&self) -> u64 {
        self.last
    }
}

impl Iterator for Watch {
    type Item = Result<Change>;

    /// [`Watch::recv`], ending (`None`) when the database is closed and
    /// everything committed before was delivered.
    fn next(&mut self) -> Option<Result<Change>> {
        match self.recv() {
            Err(Error::WatchClosed) => None,
            other => Some(other),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.feed.unsubscribe();
    }
}

/// A watch of the changes `feed` publishes from now on that `filter` keeps.
pub(crate) fn watch(feed: &Arc<Feed>, filter: Filter) -> Watch {
    let feed = feed.clone();
    let next = feed.subscribe();
    Watch {
        feed,
        filter,
        next,
        pos: 0,
        last: 0,
        wake: Arc::new(Condvar::new()),
    }
}
