//! Concurrency stress: writers fight over a small set of hot unique values,
//! readers check snapshots, and the runner rebuilds indexes, all for a
//! bounded time. No value ever has two holders, no snapshot shows an object
//! without its index entries, and the invariant holds at the end.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rockhold::{ClassSpec, Error, FieldSpec, FieldType, ObjectId, Options, RangeScan, Value};
use rockhold_tests::{assert_invariant, TempDb};

const HOT: u64 = 8;

fn seconds() -> u64 {
    std::env::var("ROCKHOLD_STRESS_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

fn spec(with_tag_index: bool) -> ClassSpec {
    let tag = FieldSpec::new("tag", FieldType::U64);
    ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("handle", FieldType::String).unique_ordered())
        .field(if with_tag_index { tag.ordered() } else { tag })
}

#[test]
fn writers_readers_and_runner_under_contention() {
    let db = Arc::new(TempDb::with_options(
        Options::default().runner_threads(1).reindex_chunk(64),
    ));
    db.create_class("default", &spec(true)).expect("class");
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(seconds());
    let commits = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let (db, stop, commits) = (db.clone(), stop.clone(), commits.clone());
        threads.push(thread::spawn(move || {
            let mut rng = (t + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut mine: Vec<ObjectId> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let v = rng % HOT;
                let result = match rng % 5 {
                    0 | 1 => db
                        .insert(
                            "default",
                            "user",
                            [
                                ("email", Value::from(format!("e{v}"))),
                                ("handle", format!("h{}", (v + 3) % HOT).into()),
                                ("tag", (rng % 100).into()),
                            ],
                        )
                        .map(|id| mine.push(id)),
                    2 | 3 if !mine.is_empty() => {
                        let id = mine[(rng >> 20) as usize % mine.len()];
                        db.update(
                            "default",
                            id,
                            [
                                ("email", Value::from(format!("e{}", (v + 1) % HOT))),
                                ("tag", (rng % 100).into()),
                            ],
                        )
                    }
                    _ if !mine.is_empty() => {
                        let id = mine.swap_remove((rng >> 20) as usize % mine.len());
                        db.delete("default", id)
                    }
                    _ => Ok(()),
                };
                match result {
                    Ok(()) => {
                        commits.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Error::UniqueViolation { .. }) => {}
                    Err(e) => panic!("writer: {e}"),
                }
            }
        }));
    }
    for _ in 0..2 {
        let (db, stop, checks) = (db.clone(), stop.clone(), checks.clone());
        threads.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let snap = db.snapshot();
                let objects = snap
                    .scan_objects("default", "user", None, usize::MAX)
                    .expect("scan");
                let mut seen = std::collections::HashSet::new();
                for o in &objects {
                    let email = o.get("email").expect("email");
                    assert!(
                        seen.insert(email.to_string()),
                        "two holders of {email} in one snapshot"
                    );
                    assert_eq!(
                        snap.find_unique("default", "user", "email", email)
                            .expect("email"),
                        Some(o.id),
                        "object without its email entry"
                    );
                    let handle = o.get("handle").expect("handle");
                    assert_eq!(
                        snap.find_unique("default", "user", "handle", handle)
                            .expect("handle"),
                        Some(o.id),
                        "object without its handle entry"
                    );
                    checks.fetch_add(1, Ordering::Relaxed);
                }
                // The tag index may be rebuilding; when it answers, it is complete.
                match snap.scan("default", "user", "tag", &RangeScan::all()) {
                    Ok(page) => assert_eq!(
                        page.hits.len(),
                        objects.len(),
                        "tag entries in the snapshot"
                    ),
                    Err(Error::IndexNotReady { .. } | Error::UnknownIndex { .. }) => {}
                    Err(e) => panic!("reader: {e}"),
                }
            }
        }));
    }
    // The runner: the tag index is dropped and rebuilt while all this goes on.
    let mut rebuilds = 0;
    let copies = tempfile::tempdir().expect("dir for backups and checkpoints");
    let backups = copies.path().join("backups");
    let mut backup_ids = Vec::new();
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(300));
        db.replace_class("default", &spec(false))
            .expect("drop tag index");
        db.update_class("default", &spec(true))
            .expect("add tag index");
        rebuilds += 1;
        // A backup and a checkpoint while the tag index builds.
        backup_ids.push(db.create_backup(&backups).expect("backup").id);
        db.checkpoint(copies.path().join(format!("cp{rebuilds}")))
            .expect("checkpoint");
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("thread");
    }
    db.check_reindex_tasks().expect("finish");
    assert!(
        commits.load(Ordering::Relaxed) > 100 && checks.load(Ordering::Relaxed) > 100,
        "the stress did work"
    );
    assert!(rebuilds > 0);
    assert_invariant(&db);
    // Every backup and checkpoint taken during the builds restores to a
    // database that verify passes.
    for id in &backup_ids {
        let target = copies.path().join(format!("restored{id}"));
        rockhold::restore_backup(&backups, Some(*id), &target, false).expect("restore");
        let restored = rockhold::Db::open(&target, Options::default().runner_threads(0))
            .expect("open restored");
        assert_invariant(&restored);
        restored
            .check_reindex_tasks()
            .expect("finish the restored builds");
        assert_invariant(&restored);
    }
    for n in 1..=rebuilds {
        let copy = rockhold::Db::open(
            copies.path().join(format!("cp{n}")),
            Options::default().runner_threads(0),
        )
        .expect("open checkpoint");
        assert_invariant(&copy);
        copy.check_reindex_tasks()
            .expect("finish the copied builds");
        assert_invariant(&copy);
    }
    eprintln!(
        "stress: {} commits, {} snapshot checks, {rebuilds} index rebuilds",
        commits.load(Ordering::Relaxed),
        checks.load(Ordering::Relaxed)
    );
}
