//! Reindex tasks and the runner: backfill under concurrent writers, crash
//! resume from the cursor, unique conflicts, index removal and re-adding,
//! bounded retries, prompt close, metrics.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rockhold::{
    ClassSpec, Db, Error, FieldSpec, FieldType, IndexState, ObjectId, Options, RangeScan,
    TaskState, Value,
};
use rockhold_tests::users::{fill, indexed, plain};
use rockhold_tests::{assert_invariant, raw_cf, with_raw_db, TempDb};

fn task(db: &Db, field: &str) -> rockhold::TaskRecord {
    db.tasks()
        .expect("tasks")
        .into_iter()
        .find(|t| t.index.as_deref() == Some(field))
        .unwrap_or_else(|| panic!("no task for {field}"))
        .record
}

#[test]
fn bulk_build_under_concurrent_writers_matches_the_records() {
    build_under_concurrent_writers(Options::default());
}

#[test]
fn chunked_backfill_under_concurrent_writers_matches_the_records() {
    build_under_concurrent_writers(Options::default().bulk_build_memory(0));
}

fn build_under_concurrent_writers(opts: Options) {
    let db = Arc::new(TempDb::with_options(
        opts.runner_threads(2).reindex_chunk(500),
    ));
    db.create_class("default", &plain()).expect("class");
    fill(&db, 100_000);
    db.update_class("default", &indexed()).expect("add indexes");
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                let mut rng = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                for i in 0..1500u64 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let id = ObjectId(rng % 100_000);
                    let result = match i % 3 {
                        0 => db
                            .insert(
                                "default",
                                "user",
                                [
                                    ("email", Value::from(format!("t{t}-{i}@x"))),
                                    ("age", (rng % 200).into()),
                                ],
                            )
                            .map(drop),
                        1 => db.update(
                            "default",
                            id,
                            [
                                ("email", Value::from(format!("r{t}-{i}@x"))),
                                ("age", (rng % 300).into()),
                            ],
                        ),
                        _ => db.delete("default", id),
                    };
                    match result {
                        Ok(()) | Err(Error::UnknownObject { .. }) => {}
                        Err(e) => panic!("writer: {e}"),
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    db.check_reindex_tasks().expect("build");
    for field in ["email", "age"] {
        assert_eq!(
            db.index_state("default", "user", field).expect("state"),
            IndexState::Ready,
            "{field}"
        );
        assert_eq!(task(&db, field).state, TaskState::Done);
    }
    assert_invariant(&db);
    // The model: every record, read back; every query must agree with it.
    let ids = db
        .scan_class("default", "user", None, usize::MAX)
        .expect("scan");
    let mut by_age: BTreeMap<(u64, ObjectId), ()> = BTreeMap::new();
    for id in &ids {
        let obj = db
            .get("default", *id)
            .expect("get")
            .expect("listed object exists");
        let email = obj.get("email").expect("email").clone();
        assert_eq!(
            db.find_unique("default", "user", "email", &email)
                .expect("find"),
            Some(*id)
        );
        let Some(Value::U64(age)) = obj.get("age") else {
            panic!("age")
        };
        by_age.insert((*age, *id), ());
    }
    let scanned: Vec<(u64, ObjectId)> = db
        .scan("default", "user", "age", &RangeScan::all())
        .expect("scan")
        .hits
        .into_iter()
        .map(|(v, id)| match v {
            Value::U64(a) => (a, id),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(scanned, by_age.into_keys().collect::<Vec<_>>());
}

/// Child side of `a_killed_backfill_resumes_from_its_cursor`.
#[test]
#[ignore = "run by a_killed_backfill_resumes_from_its_cursor in a child process"]
fn backfill_child() {
    let Ok(path) = std::env::var("ROCKHOLD_BACKFILL_DIR") else {
        return;
    };
    let db = Db::open(
        &path,
        // The chunked backfill (the bulk build has no cursor to resume from).
        Options::default()
            .runner_threads(1)
            .reindex_chunk(100)
            .bulk_build_memory(0),
    )
    .expect("open");
    db.update_class("default", &indexed()).expect("add indexes");
    loop {
        let done: u64 = db
            .tasks()
            .expect("tasks")
            .iter()
            .map(|t| t.record.entries_added)
            .sum();
        println!("ADDED {done}");
        if done >= 20_000 {
            println!("KILLME");
        }
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_killed_backfill_resumes_from_its_cursor() {
    const N: u64 = 60_000;
    // No runner thread in this process: only check_reindex_tasks resumes.
    let mut db = TempDb::with_options(Options::default().runner_threads(0));
    db.create_class("default", &plain()).expect("class");
    fill(&db, N);
    let path = db.close().to_path_buf();
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "backfill_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROCKHOLD_BACKFILL_DIR", &path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    for line in BufReader::new(stdout).lines() {
        if line.expect("line").contains("KILLME") {
            break;
        }
    }
    child.kill().expect("kill -9"); // SIGKILL: no destructor, no close
    child.wait().expect("reap");

    db.open_again().expect("reopen after the kill");
    let before: BTreeMap<_, _> = db
        .tasks()
        .expect("tasks")
        .into_iter()
        .map(|t| (t.index, t.record))
        .collect();
    assert!(
        before
            .values()
            .any(|t| t.state == TaskState::InProgress && t.cursor.is_some()),
        "{before:?}"
    );
    let partial: u64 = before.values().map(|t| t.entries_added).sum();
    assert!(
        (20_000..2 * N).contains(&partial),
        "killed mid-backfill ({partial} entries written)"
    );
    db.check_reindex_tasks().expect("resume");
    for t in db.tasks().expect("tasks") {
        assert_eq!(t.record.state, TaskState::Done);
        // Finished chunks were not redone: each object was backfilled once per index.
        assert_eq!(t.record.entries_added, N, "{:?}", t.index);
        // A task the kill interrupted took a second attempt; one still pending took one.
        let interrupted = before[&t.index].state == TaskState::InProgress;
        assert_eq!(
            t.record.attempts,
            if interrupted { 2 } else { 1 },
            "{:?}",
            t.index
        );
    }
    assert_invariant(&db);
}

#[test]
fn duplicates_fail_the_unique_index_then_removal_and_readding_work() {
    let db = TempDb::with_options(Options::default().runner_threads(0));
    db.create_class("default", &plain()).expect("class");
    let a = db
        .insert(
            "default",
            "user",
            [("email", Value::from("same@x")), ("age", 1u64.into())],
        )
        .expect("a");
    let b = db
        .insert(
            "default",
            "user",
            [("email", Value::from("same@x")), ("age", 2u64.into())],
        )
        .expect("b");
    db.insert(
        "default",
        "user",
        [("email", Value::from("other@x")), ("age", 3u64.into())],
    )
    .expect("c");
    db.update_class("default", &indexed()).expect("add indexes");
    // The failed build is reported, not swallowed (it was `Ok` before).
    match db.check_reindex_tasks() {
        Err(Error::ReindexFailed { tasks }) => {
            assert_eq!(tasks.len(), 1, "{tasks:?}");
            assert_eq!(
                (tasks[0].class.as_str(), tasks[0].index.as_deref()),
                ("user", Some("email"))
            );
            assert!(tasks[0]
                .record
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("duplicate")));
        }
        other => panic!("expected ReindexFailed, got {other:?}"),
    }
    let t = task(&db, "email");
    assert_eq!(t.state, TaskState::Failed);
    assert_eq!(t.conflicts, vec![a, b]);
    assert!(matches!(
        db.find_unique("default", "user", "email", &"other@x".into()),
        Err(Error::IndexNotReady {
            state: "failed",
            ..
        })
    ));
    assert_eq!(
        task(&db, "age").state,
        TaskState::Done,
        "the other index is unaffected"
    );

    // Remove the failed index: its range is emptied and the task says Remove
    // (listed under the removed index's id: no index has its name any more).
    let email_id = db
        .class("default", "user")
        .and_then(|c| c.def())
        .expect("class")
        .index("email")
        .expect("email")
        .id;
    db.drop_index("default", "user", "email").expect("remove");
    let removed = task(&db, &format!("#{email_id}"));
    assert_eq!(removed.state, TaskState::Remove);
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(
        report.index_entries, 6,
        "3 IF + 3 age entries, no email entry left"
    );

    // Fix the data and add the index again: a newer revision, built to Done.
    db.update("default", b, [("email", "b@x")]).expect("fix");
    db.update_class("default", &indexed()).expect("re-add");
    let again = task(&db, "email");
    assert!(again.revision > removed.revision);
    db.check_reindex_tasks().expect("run");
    assert_eq!(task(&db, "email").state, TaskState::Done);
    assert_eq!(
        db.find_unique("default", "user", "email", &"same@x".into())
            .expect("find"),
        Some(a)
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"b@x".into())
            .expect("find"),
        Some(b)
    );
    assert_invariant(&db);
}

#[test]
fn a_task_that_always_fails_stops_after_bounded_attempts() {
    let mut db = TempDb::with_options(Options::default().runner_threads(0).max_attempts(3));
    db.create_class("default", &plain()).expect("class");
    fill(&db, 10);
    let path = db.close().to_path_buf();
    // Damage one record: every backfill attempt meets a checksum mismatch.
    with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, rockhold::Family::Object);
        let key = rockhold_format::Key::encode(&rockhold_format::ObjectKey {
            ns: rockhold::NamespaceId(0),
            class: rockhold_format::ClassId(1),
            id: ObjectId(4),
        });
        let mut v = raw.get_cf(cf, &key).expect("get").expect("exists");
        v[8] ^= 1;
        raw.put_cf(cf, &key, v).expect("put");
    });
    db.open_again().expect("open");
    db.update_class("default", &indexed()).expect("add indexes");
    let err = db.check_reindex_tasks().expect_err("both builds fail");
    assert!(
        matches!(&err, Error::ReindexFailed { tasks } if tasks.len() == 2),
        "{err:?}"
    );
    assert!(err.to_string().contains("checksum"), "{err}");
    for field in ["email", "age"] {
        let t = task(&db, field);
        assert_eq!(t.state, TaskState::Failed, "{field}");
        assert_eq!(t.attempts, 3);
        assert!(
            t.last_error
                .as_deref()
                .is_some_and(|e| e.contains("checksum")),
            "{:?}",
            t.last_error
        );
    }
}

#[test]
fn close_returns_while_a_long_backfill_runs_and_the_task_resumes() {
    let mut db = TempDb::with_options(
        Options::default()
            .runner_threads(1)
            .reindex_chunk(50)
            .bulk_build_memory(0),
    );
    db.create_class("default", &plain()).expect("class");
    fill(&db, 100_000);
    db.update_class("default", &indexed()).expect("add indexes");
    // Wait until the runner has written something, then close.
    while db
        .tasks()
        .expect("tasks")
        .iter()
        .all(|t| t.record.entries_added == 0)
    {
        thread::sleep(Duration::from_millis(1));
    }
    db.reopen(); // close() joined the runner mid-backfill
    let tasks = db.tasks().expect("tasks");
    assert!(
        tasks
            .iter()
            .any(|t| t.record.state == TaskState::InProgress),
        "stopped before the end: {tasks:?}"
    );
    db.check_reindex_tasks().expect("finish");
    assert!(db
        .tasks()
        .expect("tasks")
        .iter()
        .all(|t| t.record.state == TaskState::Done));
    assert_invariant(&db);
}

#[test]
fn self_check_repairs_missing_and_stale_entries() {
    let mut db = TempDb::with_options(Options::default().runner_threads(0));
    db.create_class("default", &indexed()).expect("class");
    fill(&db, 100);
    let path = db.close().to_path_buf();
    let (missing, stale) = with_raw_db(&path, |raw| {
        // Delete one age entry and add one pointing at a missing object.
        let cf = raw_cf(raw, rockhold::Family::Ordered);
        let first = raw
            .iterator_cf(
                cf,
                rocksdb::IteratorMode::From(b"IR", rocksdb::Direction::Forward),
            )
            .next()
            .expect("entry")
            .expect("ok")
            .0;
        raw.delete_cf(cf, &first).expect("delete");
        let mut fake = first.to_vec();
        let n = fake.len();
        fake[n - 8..].copy_from_slice(&999_999u64.to_be_bytes());
        raw.put_cf(cf, &fake, b"").expect("put");
        (first, fake)
    });
    db.open_again().expect("open");
    assert!(!db.verify().expect("verify").is_clean());
    assert_eq!(db.self_check().expect("self check"), 2);
    assert_invariant(&db);
    let _ = (missing, stale);
}

#[test]
fn reindex_metrics_are_exposed() {
    let db = TempDb::with_options(Options::default().runner_threads(0));
    db.create_class("default", &plain()).expect("class");
    fill(&db, 50);
    db.update_class("default", &indexed()).expect("add");
    db.check_reindex_tasks().expect("run");
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&db.metrics().gather())
        .expect("encode");
    for needle in [
        "rockhold_reindex_runs_total{result=\"done\"} 2",
        "rockhold_reindex_entries_total 100",
        "rockhold_reindex_tasks{state=\"done\"} 2",
        "rockhold_reindex_tasks{state=\"pending\"} 0",
        "rockhold_reindex_duration_seconds_count 2",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn objects_ingested_before_their_class_are_all_indexed_when_it_arrives() {
    const N: u64 = 10_000;
    let db = TempDb::with_options(Options::default().runner_threads(1));
    // Ids come from elsewhere (a replica stream), out of order and sparse.
    for i in 0..N {
        let id = ObjectId(1_000_000 + (i * 7919) % N * 3);
        let mut fields = vec![
            ("email", Value::from(format!("u{i}@x"))),
            ("age", Value::U64(i % 50)),
        ];
        if i % 10 == 0 {
            fields.push(("nick", Value::from("n")));
        }
        db.ingest("default", "user", id, fields).expect("ingest");
    }
    // Before the definition: objects are listed, nothing is indexed, the task waits.
    assert_eq!(
        db.scan_class("default", "user", None, usize::MAX)
            .expect("scan")
            .len() as u64,
        N
    );
    assert!(
        db.class("default", "user")
            .and_then(|c| c.def())
            .expect("provisional class")
            .provisional
    );
    assert!(db
        .tasks()
        .expect("tasks")
        .iter()
        .all(|t| t.record.state == TaskState::Pending));
    assert_invariant(&db);

    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered())
            .field(FieldSpec::new("nick", FieldType::String).optional().hash()),
    )
    .expect("definition arrives");
    db.check_reindex_tasks().expect("build");
    assert!(db
        .tasks()
        .expect("tasks")
        .iter()
        .all(|t| t.record.state == TaskState::Done));
    for i in (0..N).step_by(97) {
        let id = ObjectId(1_000_000 + (i * 7919) % N * 3);
        assert_eq!(
            db.find_unique("default", "user", "email", &format!("u{i}@x").into())
                .expect("find"),
            Some(id)
        );
    }
    assert_eq!(
        db.scan("default", "user", "age", &RangeScan::all())
            .expect("scan")
            .hits
            .len() as u64,
        N
    );
    assert_eq!(
        db.find_all("default", "user", "nick", &"n".into())
            .expect("nick")
            .len() as u64,
        N / 10
    );
    assert_invariant(&db);
    // Ingested ids are never handed out again.
    let fresh = db
        .insert(
            "default",
            "user",
            [("email", Value::from("new@x")), ("age", 1u64.into())],
        )
        .expect("insert");
    assert!(fresh.0 > 1_000_000 + 3 * (N - 1), "fresh id {fresh}");
}
