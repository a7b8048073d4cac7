//! Reindex task records (`IT` family).

use serde::{Deserialize, Serialize};

use crate::frame::{Record, RecordKind};
use crate::ids::ObjectId;

/// Where a reindex task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    /// Written, not picked up yet; the index answers `IndexNotReady`.
    Pending,
    /// A runner is backfilling it.
    InProgress,
    /// Built; the index answers queries.
    Done,
    /// Gave up (duplicates under a unique index, or attempts exhausted).
    Failed,
    /// The index was removed; the record stays as history.
    Remove,
}

impl TaskState {
    /// The lower-case name of the state.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::InProgress => "in_progress",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Remove => "remove",
        }
    }
}

/// A persisted reindex task for one (class, field), or for a whole class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Current state.
    pub state: TaskState,
    /// From the persistent task counter: a newer request has a higher revision.
    pub revision: u64,
    /// Attempts started so far.
    pub attempts: u32,
    /// When the task was requested, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// When the record last changed, ms since the Unix epoch.
    pub updated_at_ms: u64,
    /// Not before this time (ms) is the next attempt due (retry backoff).
    pub not_before_ms: u64,
    /// Last object id whose entries are written; the backfill resumes after it.
    pub cursor: Option<ObjectId>,
    /// Index entries written by the backfill.
    pub entries_added: u64,
    /// Stale index entries removed.
    pub stale_removed: u64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Objects found holding the same value under a unique index.
    pub conflicts: Vec<ObjectId>,
}

impl TaskRecord {
    /// A new `Pending` task with revision `revision`, created at `now_ms`.
    pub fn pending(revision: u64, now_ms: u64) -> Self {
        TaskRecord {
            state: TaskState::Pending,
            revision,
            attempts: 0,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            not_before_ms: 0,
            cursor: None,
            entries_added: 0,
            stale_removed: 0,
            last_error: None,
            conflicts: Vec::new(),
        }
    }
}

impl Record for TaskRecord {
    const KIND: RecordKind = RecordKind::Task;

    fn encode_body(&self, out: &mut Vec<u8>) {
        crate::frame::bincode_body_into(self, out);
    }

    fn decode_body(body: &[u8]) -> crate::Result<Self> {
        crate::frame::bincode_body_decode(Self::KIND, body)
    }
}
