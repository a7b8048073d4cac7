//! Objects written to classes that a bulk index build is reading from a
//! snapshot: the write path records them in the batch's commit, the build
//! repairs their entries once its snapshot pass is done (see build/bulk.rs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use rockhold_format::{ClassId, ObjectId};

/// Objects written to classes that a bulk build is reading from a snapshot.
#[derive(Default)]
pub(crate) struct BuildLog {
    active: AtomicUsize,
    next_token: AtomicU64,
    logs: Mutex<HashMap<u64, (ClassId, Vec<ObjectId>)>>,
}

impl BuildLog {
    /// Notes objects a commit writes. The write path calls this while it
    /// pins the catalog, before its batch is written.
    pub(crate) fn record(&self, writes: impl Iterator<Item = (ClassId, ObjectId)>) {
        if self.active.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut logs = self.logs.lock();
        for (class, id) in writes {
            for (c, ids) in logs.values_mut() {
                if *c == class {
                    ids.push(id);
                }
            }
        }
    }

    /// Starts logging writes to `class`. The caller holds every writer off,
    /// so no commit is between its check of `active` and its write.
    pub(crate) fn register(&self, class: ClassId) -> Registration<'_> {
        let token = self.next_token.fetch_add(1, Ordering::SeqCst);
        self.logs.lock().insert(token, (class, Vec::new()));
        self.active.fetch_add(1, Ordering::SeqCst);
        Registration { log: self, token }
    }
}

/// One build's log; logging stops when it is taken or dropped.
pub(crate) struct Registration<'a> {
    log: &'a BuildLog,
    pub(crate) token: u64,
}

impl Registration<'_> {
    /// Stops logging and returns the objects written meanwhile, sorted, once each.
    pub(crate) fn take(&self) -> Vec<ObjectId> {
        let ids = self.log.logs.lock().remove(&self.token);
        let mut ids = ids.map(|(_, ids)| ids).unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.log.logs.lock().remove(&self.token);
        self.log.active.fetch_sub(1, Ordering::SeqCst);
    }
}
