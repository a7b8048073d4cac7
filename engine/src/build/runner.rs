//! The background runner: threads that execute reindex tasks.
//!
//! Threads (count in `Options`, default 1) sleep on a condition variable and
//! wake when a task is written, on a tick (retries after backoff, periodic
//! self-checks), and for shutdown. A task is claimed in memory before it runs,
//! so two threads never run the same one. `close()` (and dropping the `Db`)
//! signals the threads and joins them: no thread outlives the database. A
//! backfill checks the signal between chunks, so shutdown is prompt; the
//! interrupted task keeps its cursor and resumes at the next open.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rockhold_format::{
    ClassId, Family, IndexId, Key, NamespaceId, Record, TaskKey, TaskRecord, TaskState, TASK_PREFIX,
};

use crate::build::task::{fail_task, is_runnable, run_task, TaskId};
use crate::build::{BuildCtx, RunnerHost};
use crate::catalog::now_ms;
use crate::catalog::{for_each_in, Catalog};
use crate::error::{Error, Result, TaskInfo};

#[derive(Default)]
pub(crate) struct RunnerControl {
    state: Mutex<RunnerState>,
    wake: Condvar,
    /// Tasks being run right now, by any thread.
    claimed: Mutex<HashSet<TaskId>>,
    /// Tasks a run ended `Failed` that no `check_reindex_tasks` has
    /// reported yet: a runner thread may finish (and fail) a task before
    /// the call that was to run it looks at the tasks.
    unreported_failures: Mutex<HashSet<TaskId>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Default)]
struct RunnerState {
    shutdown: bool,
    wakeups: u64,
}

impl RunnerControl {
    /// Wakes the runner threads (a task was written).
    pub fn notify(&self) {
        self.state.lock().wakeups += 1;
        self.wake.notify_all();
    }

    pub fn shutting_down(&self) -> bool {
        self.state.lock().shutdown
    }

    /// Signals shutdown and joins every thread.
    pub fn stop(&self) {
        self.state.lock().shutdown = true;
        self.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            // A runner thread that panicked has nothing left to clean up.
            let _ = t.join();
        }
    }
}

impl BuildCtx {
    pub fn shutting_down(&self) -> bool {
        self.runner.shutting_down()
    }

    /// Claims a task that may run now, if any.
    pub(crate) fn claim_next(&self, ignore_backoff: bool) -> Option<TaskId> {
        let now = now_ms();
        let cat = self.catalog.peek();
        let mut claimed = self.runner.claimed.lock();
        let mut best: Option<(u64, TaskId)> = None;
        for class in cat.all_classes() {
            for (index, task) in &class.tasks {
                let id = (class.def.id, *index);
                if !claimed.contains(&id) && is_runnable(class, task, now, ignore_backoff) {
                    // Oldest request first.
                    if best.is_none_or(|(rev, _)| task.revision < rev) {
                        best = Some((task.revision, id));
                    }
                }
            }
        }
        let (_, id) = best?;
        claimed.insert(id);
        Some(id)
    }

    fn release(&self, id: TaskId) {
        self.runner.claimed.lock().remove(&id);
    }

    /// Whether any task is still to be run (claimed or not), ignoring backoff.
    pub(crate) fn has_unfinished_tasks(&self) -> bool {
        let cat = self.catalog.peek();
        let claimed = self.runner.claimed.lock();
        let unfinished = cat.all_classes().any(|c| {
            c.tasks.iter().any(|(f, t)| {
                claimed.contains(&(c.def.id, *f)) || is_runnable(c, t, u64::MAX, true)
            })
        });
        unfinished
    }

    /// Runs a claimed task and releases it, even on error or panic. A run
    /// that panics (a bug, or a value no check foresaw) ends the task
    /// `Failed` with the panic message, so no thread dies holding a claim
    /// and no caller waits for a task nobody runs. `Ok(Some(e))`: the
    /// attempt failed with `e` (recorded in the task); `Err`: the task's
    /// record could not be written (it stays runnable).
    pub(crate) fn run_claimed(&self, id: TaskId) -> Result<Option<Error>> {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_task(self, id)));
        let result = match run {
            Ok(result) => result,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let e = Error::Inconsistent(format!("reindex task panicked: {message}"));
                fail_task(self, id, e.to_string()).map(|()| Some(e))
            }
        };
        let failed = self
            .catalog
            .peek()
            .class_by_id(id.0)
            .and_then(|c| c.tasks.get(&id.1))
            .is_some_and(|t| t.state == TaskState::Failed);
        if failed {
            self.runner.unreported_failures.lock().insert(id);
        }
        self.release(id);
        if result.is_err() {
            self.metrics
                .reindex_runs
                .with_label_values(&["error"])
                .inc();
        }
        result
    }

    /// The task of `id` as listed by [`Db::tasks`](crate::Db::tasks), from the catalog.
    pub(crate) fn task_info(&self, cat: &Catalog, id: TaskId) -> Option<TaskInfo> {
        let class = cat.class_by_id(id.0)?;
        let record = class.tasks.get(&id.1)?.clone();
        Some(info_of(cat, class.ns, id.0, id.1, record))
    }
}

/// A task record with the names of its namespace, class and index.
fn info_of(
    cat: &Catalog,
    ns: NamespaceId,
    class_id: ClassId,
    index: IndexId,
    record: TaskRecord,
) -> TaskInfo {
    let class = cat.class_by_id(class_id);
    TaskInfo {
        namespace: cat.namespace_name(ns).to_string(),
        class: class.map_or_else(|| format!("#{class_id}"), |c| c.def.name.clone()),
        index: (index != IndexId::WHOLE_CLASS).then(|| {
            class
                .and_then(|c| c.def.index_by_id(index))
                .map_or_else(|| format!("#{index}"), |i| i.name.clone())
        }),
        record,
    }
}

fn runner_loop(host: Arc<dyn RunnerHost>) {
    let cx = host.cx();
    let mut last_self_check = Instant::now();
    loop {
        if cx.shutting_down() {
            return;
        }
        if let Some(id) = cx.claim_next(false) {
            // Errors are recorded in the task (retry or Failed); storage errors
            // while recording them are retried after a tick (no busy loop).
            if cx.run_claimed(id).is_ok() {
                continue;
            }
        }
        if let Some(every) = cx.opts.self_check_interval {
            if last_self_check.elapsed() >= every {
                let _ = crate::build::self_check::self_check(cx);
                last_self_check = Instant::now();
            }
        }
        let mut state = cx.runner.state.lock();
        if state.shutdown {
            return;
        }
        let seen = state.wakeups;
        let deadline = Instant::now() + cx.opts.runner_tick;
        while !state.shutdown && state.wakeups == seen {
            if cx.runner.wake.wait_until(&mut state, deadline).timed_out() {
                break;
            }
        }
    }
}

/// Starts the runner threads.
pub(crate) fn start(host: &Arc<dyn RunnerHost>) {
    let cx = host.cx();
    let mut threads = cx.runner.threads.lock();
    for i in 0..cx.opts.runner_threads {
        let host = host.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rockhold-runner-{i}"))
            .spawn(move || runner_loop(host));
        // Without a thread, tasks still run through check_reindex_tasks.
        if let Ok(handle) = spawned {
            threads.push(handle);
        }
    }
}

impl BuildCtx {
    /// Runs every pending reindex task to completion in the calling thread
    /// (ignoring retry backoff), waiting for tasks the runner threads hold,
    /// until every task is `Done`, `Failed` or `Remove`, or waits for a
    /// class definition (ingested classes).
    pub(crate) fn check_reindex_tasks(&self) -> Result<()> {
        self.writable()?;
        let mut watched: HashSet<TaskId> = {
            let cat = self.catalog.peek();
            cat.all_classes()
                .flat_map(|c| {
                    c.tasks
                        .iter()
                        .filter(|(_, t)| {
                            matches!(t.state, TaskState::Pending | TaskState::InProgress)
                        })
                        .map(|(f, _)| (c.def.id, *f))
                })
                .collect()
        };
        loop {
            match self.claim_next(true) {
                Some(id) => {
                    watched.insert(id);
                    if let Some(e) = self.run_claimed(id)? {
                        if e.is_storage_full() {
                            return Err(e);
                        }
                    }
                }
                None if self.has_unfinished_tasks() => std::thread::sleep(Duration::from_millis(5)),
                None => break,
            }
        }
        // Failures of runs nobody reported yet: a runner thread that claimed
        // a requeued task before this call looked counts as running it here.
        watched.extend(std::mem::take(&mut *self.runner.unreported_failures.lock()));
        let cat = self.catalog.peek();
        let mut failed: Vec<TaskInfo> = watched
            .into_iter()
            .filter_map(|id| self.task_info(&cat, id))
            .filter(|t| t.record.state == TaskState::Failed)
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        failed.sort_by(|a, b| {
            (&a.namespace, &a.class, &a.index).cmp(&(&b.namespace, &b.class, &b.index))
        });
        Err(Error::ReindexFailed { tasks: failed })
    }

    /// Every reindex task as persisted now (progress counters included),
    /// sorted by namespace, class and index.
    pub(crate) fn tasks(&self) -> Result<Vec<TaskInfo>> {
        let cat = self.catalog.peek();
        let mut out = Vec::new();
        for_each_in(self.kv.latest(), Family::Task, TASK_PREFIX, |k, v| {
            let key = TaskKey::decode(k).map_err(|e| Error::corruption(k, e))?;
            let record = TaskRecord::decode(v).map_err(|e| Error::corruption(k, e))?;
            out.push(info_of(&cat, key.ns, key.class, key.index, record));
            Ok(())
        })?;
        out.sort_by(|a, b| {
            (&a.namespace, &a.class, &a.index).cmp(&(&b.namespace, &b.class, &b.index))
        });
        Ok(out)
    }

    /// The state of every task, counted.
    pub(crate) fn task_counts(&self) -> Result<Vec<(TaskState, usize)>> {
        let tasks = self.tasks()?;
        Ok([
            TaskState::Pending,
            TaskState::InProgress,
            TaskState::Done,
            TaskState::Failed,
            TaskState::Remove,
        ]
        .into_iter()
        .map(|s| (s, tasks.iter().filter(|t| t.record.state == s).count()))
        .collect())
    }
}
