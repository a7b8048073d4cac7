//! `rockhold verify`, `tasks`, `reindex`, `backup` and `checkpoint`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use rockhold::TaskState;
use serde_json::json;

use crate::open::{dir_size, progress, read_only, writable, writable_for_copy, Result};

pub fn verify(path: &Path, json_out: bool) -> Result<ExitCode> {
    let ro = read_only(path)?;
    let bar = progress(None, "verifying");
    let report = ro.db.verify_with_progress(&mut |n| bar.set_position(n))?;
    bar.finish_and_clear();
    // The verdict is the exit status even when the reader of stdout stops
    // early (`verify | head -1` under `pipefail`): a closed pipe ends the
    // printing, not the report.
    let code = if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    match print_verify(&report, json_out) {
        Err(e) if crate::out::is_broken_pipe(&*e) => {}
        other => other?,
    }
    Ok(code)
}

/// The report of `verify`: each problem, each index not built (skipped),
/// then the verdict: `clean`, `N problem(s)`, or `incomplete` when an index
/// was skipped (exit status 1 for both of the latter).
fn print_verify(report: &rockhold::VerifyReport, json_out: bool) -> Result<()> {
    let verdict = if !report.problems.is_empty() {
        format!("{} problem(s)", report.problems.len())
    } else if !report.skipped.is_empty() {
        format!(
            "incomplete: {} index build(s) not done, their entries not checked",
            report.skipped.len()
        )
    } else {
        "clean".to_string()
    };
    if json_out {
        let out = json!({
            "clean": report.is_clean(),
            "verdict": verdict,
            "objects": report.objects,
            "index_entries": report.index_entries,
            "other_records": report.other_records,
            "problems": report.problems.iter().map(|p| json!({
                "family": p.family.name(), "key": p.key, "problem": p.what,
            })).collect::<Vec<_>>(),
            "skipped_indexes": report.skipped.iter().map(|s| json!({
                "namespace": s.namespace, "class": s.class, "index": s.index,
                "state": s.state.name(),
            })).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for p in &report.problems {
            outln!("{} {}: {}", p.family, p.key, p.what);
        }
        for s in &report.skipped {
            outln!("skipped index {s} (not built: its entries were not checked)");
        }
        outln!(
            "{} objects, {} index entries, {} other records: {verdict}",
            report.objects,
            report.index_entries,
            report.other_records,
        );
    }
    Ok(())
}

pub fn tasks(path: &Path, retry_failed: bool) -> Result<ExitCode> {
    if retry_failed {
        return retry_failed_tasks(path);
    }
    let ro = read_only(path)?;
    print_tasks(ro.db.tasks()?)?;
    Ok(ExitCode::SUCCESS)
}

/// `tasks --retry-failed`: requeues every failed task, runs them to an end
/// and lists the tasks; exit code 1 when one failed again.
fn retry_failed_tasks(path: &Path) -> Result<ExitCode> {
    let db = writable(path)?;
    let requeued = db.retry_failed_tasks()?;
    outln!("requeued {requeued} failed task(s)");
    let failed_again = match db.check_reindex_tasks() {
        Ok(()) => false,
        Err(rockhold::Error::ReindexFailed { .. }) => true,
        Err(e) => return Err(e.into()),
    };
    print_tasks(db.tasks()?)?;
    db.close()?;
    Ok(if failed_again {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_tasks(tasks: Vec<rockhold::TaskInfo>) -> Result<()> {
    if tasks.is_empty() {
        outln!("no reindex tasks");
        return Ok(());
    }
    outln!(
        "{:<12} {:<16} {:<16} {:<12} {:>5} {:>8} {:>10} {:>10} {:>8}  error",
        "namespace",
        "class",
        "index",
        "state",
        "rev",
        "attempts",
        "cursor",
        "added",
        "stale"
    );
    for t in tasks {
        let r = &t.record;
        outln!(
            "{:<12} {:<16} {:<16} {:<12} {:>5} {:>8} {:>10} {:>10} {:>8}  {}",
            t.namespace,
            t.class,
            t.index.as_deref().unwrap_or("*"),
            r.state.name(),
            r.revision,
            r.attempts,
            r.cursor.map_or("-".into(), |c| c.to_string()),
            r.entries_added,
            r.stale_removed,
            r.last_error.as_deref().unwrap_or(""),
        );
    }
    Ok(())
}

pub fn reindex(path: &Path, namespace: &str, class: &str, index: Option<&str>) -> Result<ExitCode> {
    let db = writable(path)?;
    db.reindex(namespace, class, index)?;
    let objects = db.scan_class(namespace, class, None, usize::MAX)?.len() as u64;
    let tasks = db
        .tasks()?
        .into_iter()
        .filter(|t| t.class == class && t.namespace == namespace)
        .count() as u64;
    let bar = progress(Some(objects * tasks.max(1)), "reindexing");
    let result = std::thread::scope(|s| {
        let worker = s.spawn(|| db.check_reindex_tasks());
        while !worker.is_finished() {
            let added: u64 = db
                .tasks()
                .map(|ts| {
                    ts.iter()
                        .filter(|t| t.class == class)
                        .map(|t| t.record.entries_added)
                        .sum()
                })
                .unwrap_or(0);
            bar.set_position(added);
            std::thread::sleep(Duration::from_millis(100));
        }
        worker
            .join()
            .map_err(|_| "reindex thread panicked".to_string())
    })?;
    // A failed task is listed below (and sets the exit code).
    if let Err(e) = result {
        if !matches!(e, rockhold::Error::ReindexFailed { .. }) {
            return Err(e.into());
        }
    }
    bar.finish_and_clear();
    let mut failed = false;
    for t in db
        .tasks()?
        .into_iter()
        .filter(|t| t.class == class && t.namespace == namespace)
    {
        let r = &t.record;
        outln!(
            "{}.{}: {} (revision {}, {} entries written, {} stale removed){}",
            t.class,
            t.index.as_deref().unwrap_or("*"),
            r.state.name(),
            r.revision,
            r.entries_added,
            r.stale_removed,
            r.last_error
                .as_ref()
                .map_or(String::new(), |e| format!(": {e}"))
        );
        failed |= r.state == TaskState::Failed;
    }
    db.close()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub enum BackupCmd {
    Create {
        db: std::path::PathBuf,
        dir: std::path::PathBuf,
    },
    List {
        dir: std::path::PathBuf,
    },
    Verify {
        dir: std::path::PathBuf,
        id: Option<u32>,
    },
    Restore {
        dir: std::path::PathBuf,
        target: std::path::PathBuf,
        id: Option<u32>,
        force: bool,
    },
    Purge {
        dir: std::path::PathBuf,
        keep: usize,
    },
}

pub fn backup(cmd: BackupCmd) -> Result<ExitCode> {
    match cmd {
        BackupCmd::Create { db, dir } => {
            let db = writable_for_copy(&db)?;
            let info = db.create_backup(&dir)?;
            db.close()?;
            outln!(
                "backup {} created in {} ({} files, {} bytes)",
                info.id,
                dir.display(),
                info.files,
                info.size
            );
        }
        BackupCmd::List { dir } => {
            outln!(
                "{:>4} {:>12} {:>8} {:>14}",
                "id",
                "timestamp",
                "files",
                "bytes"
            );
            for b in rockhold::list_backups(&dir)? {
                outln!(
                    "{:>4} {:>12} {:>8} {:>14}",
                    b.id,
                    b.timestamp,
                    b.files,
                    b.size
                );
            }
        }
        BackupCmd::Verify { dir, id } => {
            let ids: Vec<u32> = match id {
                Some(id) => vec![id],
                None => rockhold::list_backups(&dir)?.iter().map(|b| b.id).collect(),
            };
            for id in ids {
                rockhold::verify_backup(&dir, id)?;
                outln!("backup {id}: ok");
            }
        }
        BackupCmd::Restore {
            dir,
            target,
            id,
            force,
        } => {
            rockhold::restore_backup(&dir, id, &target, force)?;
            outln!(
                "restored {} into {}",
                id.map_or("the latest backup".to_string(), |i| format!("backup {i}")),
                target.display()
            );
        }
        BackupCmd::Purge { dir, keep } => {
            rockhold::purge_backups(&dir, keep)?;
            outln!("kept the newest {keep} backup(s)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn checkpoint(path: &Path, dir: &Path) -> Result<ExitCode> {
    let db = writable_for_copy(path)?;
    db.checkpoint(dir)?;
    db.close()?;
    outln!("checkpoint written to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `compact`: a full compaction, with the store's size before and after.
pub fn compact(path: &Path) -> Result<ExitCode> {
    let db = writable(path)?;
    let before = dir_size(path)?;
    db.compact()?;
    db.close()?;
    let after = dir_size(path)?;
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    outln!(
        "{}: compacted, {:.1} MiB -> {:.1} MiB on disk",
        path.display(),
        mib(before),
        mib(after)
    );
    Ok(ExitCode::SUCCESS)
}

/// `migrate`: rewrites a v1 or v2 database in the current format, then rebuilds
/// the indexes the migration queued (a v1 database's) before it exits.
///
/// A database already at the current version whose rebuild did not finish
/// (a migration killed during it leaves tasks `Pending` or `InProgress`)
/// gets its rebuild finished: a rerun always ends with every index built.
pub fn migrate(path: &Path) -> Result<ExitCode> {
    crate::open::check_db_dir(path)?;
    let report = rockhold::Db::migrate(path, &rockhold::Options::default())?;
    let db = if report.from == rockhold_format::FormatVersion::CURRENT {
        let db = writable(path)?;
        if !db.has_pending_tasks()? {
            outln!(
                "{}: already at format version {}; nothing to do",
                path.display(),
                report.from
            );
            db.close()?;
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{}: already at format version {}; finishing the index rebuild an earlier run left",
            path.display(),
            report.from
        );
        db
    } else {
        outln!(
            "{}: format version {} -> {}: {} records rewritten, {} classes to reindex",
            path.display(),
            report.from,
            rockhold_format::FormatVersion::CURRENT,
            report.records,
            report.tasks
        );
        writable(path)?
    };
    let bar = progress(None, "rebuilding indexes");
    let result = db.check_reindex_tasks();
    bar.finish_and_clear();
    result?;
    let verified = db.verify()?;
    outln!(
        "indexes rebuilt; verify: {} objects, {} index entries: {}",
        verified.objects,
        verified.index_entries,
        if verified.is_clean() {
            "clean"
        } else if verified.no_violations() {
            "INCOMPLETE (an index is not built)"
        } else {
            "VIOLATIONS"
        }
    );
    db.close()?;
    Ok(if verified.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `repair --drop-object ID`: removes a damaged object (`Db::quarantine`).
pub fn repair(path: &Path, namespace: &str, id: u64) -> Result<ExitCode> {
    let db = writable(path)?;
    let report = db.quarantine(namespace, rockhold::ObjectId(id))?;
    outln!(
        "object {id} of namespace {namespace:?} removed: record {}, {} index entries removed, \
         {} unique keys changed",
        if report.record_removed {
            "deleted"
        } else {
            "was missing"
        },
        report.entries_removed,
        report.unique_keys_changed
    );
    let failed = db
        .tasks()?
        .iter()
        .filter(|t| t.record.state == TaskState::Failed)
        .count();
    if failed > 0 {
        outln!(
            "{failed} index build(s) failed earlier: requeue them with \
             `rockhold tasks --retry-failed {}`",
            path.display()
        );
    }
    db.close()?;
    Ok(ExitCode::SUCCESS)
}
