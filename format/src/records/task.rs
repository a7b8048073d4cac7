//! Reindex task records (`IT` family).
//!
//! Body (coding.rs items), the fields of [`TaskRecord`] in order:
//!
//! ```text
//! u8      state: 00 pending, 01 in_progress, 02 done, 03 failed, 04 remove
//! u64     revision
//! u32     attempts
//! u64     created_at_ms
//! u64     updated_at_ms
//! u64     not_before_ms
//! option  cursor: u64 object id
//! u64     entries_added
//! u64     stale_removed
//! option  last_error: string
//! u32     count of conflicts, then each a u64 object id
//! ```

use crate::coding::{put_len, put_option, put_str, put_u32, put_u64, put_u8, Input};
use crate::error::{Error, Result};
use crate::frame::{Record, RecordKind};
use crate::ids::ObjectId;

/// Where a reindex task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
        put_u8(
            out,
            match self.state {
                TaskState::Pending => 0,
                TaskState::InProgress => 1,
                TaskState::Done => 2,
                TaskState::Failed => 3,
                TaskState::Remove => 4,
            },
        );
        put_u64(out, self.revision);
        put_u32(out, self.attempts);
        put_u64(out, self.created_at_ms);
        put_u64(out, self.updated_at_ms);
        put_u64(out, self.not_before_ms);
        put_option(out, self.cursor.as_ref(), |o, id| put_u64(o, id.0));
        put_u64(out, self.entries_added);
        put_u64(out, self.stale_removed);
        put_option(out, self.last_error.as_ref(), |o, e| put_str(o, e));
        put_len(out, self.conflicts.len());
        self.conflicts.iter().for_each(|id| put_u64(out, id.0));
    }

    fn decode_body(body: &[u8]) -> Result<Self> {
        let mut i = Input::new(body, "task record");
        let state = match i.u8()? {
            0 => TaskState::Pending,
            1 => TaskState::InProgress,
            2 => TaskState::Done,
            3 => TaskState::Failed,
            4 => TaskState::Remove,
            t => return Err(Error::malformed(format!("task record: state {t:#04x}"))),
        };
        let revision = i.u64()?;
        let attempts = i.u32()?;
        let created_at_ms = i.u64()?;
        let updated_at_ms = i.u64()?;
        let not_before_ms = i.u64()?;
        let cursor = if i.option()? {
            Some(ObjectId(i.u64()?))
        } else {
            None
        };
        let entries_added = i.u64()?;
        let stale_removed = i.u64()?;
        let last_error = if i.option()? {
            Some(i.str()?.to_owned())
        } else {
            None
        };
        let n = i.count(8)?;
        let mut conflicts = Vec::with_capacity(n);
        for _ in 0..n {
            conflicts.push(ObjectId(i.u64()?));
        }
        i.finish()?;
        Ok(TaskRecord {
            state,
            revision,
            attempts,
            created_at_ms,
            updated_at_ms,
            not_before_ms,
            cursor,
            entries_added,
            stale_removed,
            last_error,
            conflicts,
        })
    }
}
