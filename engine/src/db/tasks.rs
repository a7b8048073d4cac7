//! The facade: tasks.

use rockhold_format::TaskState;

use crate::db::Db;
use crate::error::{Result, TaskInfo};

impl Db {
    /// Runs the self-check once, now: re-verifies every built index and
    /// repairs what is missing or stale. Returns the number of entries fixed.
    pub fn self_check(&self) -> Result<u64> {
        self.inner.self_check()
    }
}

impl Db {
    /// Runs every pending reindex task to completion in the calling thread
    /// (ignoring retry backoff), waiting for tasks the runner threads hold,
    /// until every task is `Done`, `Failed` or `Remove`, or waits for a
    /// class definition (ingested classes).
    ///
    /// Fails with [`Error::ReindexFailed`](crate::Error::ReindexFailed) naming every task it ran or
    /// waited for that ended `Failed` (class, index, `last_error`), and
    /// every task a runner thread ended `Failed` since the last call
    /// reported failures (the thread may claim a requeued task before this
    /// call looks); requeue
    /// them with [`Db::retry_failed_tasks`] once the cause is fixed. An
    /// attempt that runs out of disk space stops the call with
    /// [`Error::StorageFull`](crate::Error::StorageFull) at once, without spending the task's attempts:
    /// the task stays `Pending` and is retried by the runner after its
    /// backoff, or by the next call.
    pub fn check_reindex_tasks(&self) -> Result<()> {
        self.inner.check_reindex_tasks()
    }

    /// Every reindex task as persisted now (progress counters included),
    /// sorted by namespace, class and index.
    pub fn tasks(&self) -> Result<Vec<TaskInfo>> {
        self.inner.tasks()
    }

    /// The state of every task, counted.
    pub fn task_counts(&self) -> Result<Vec<(TaskState, usize)>> {
        self.inner.task_counts()
    }
}
