//! Issue 11, items 9 and 15: checksum-valid counters at their maximum are
//! typed errors (never an overflow panic, a dead runner or a hang); a
//! failing or panicking task run ends `Failed`, is reported and can be
//! retried; the ordered-key and record-size limits hold on every path that
//! writes or builds; `find_page` bounds what one lookup returns.

use rockhold::{
    BuildStage, ClassSpec, Db, Error, FieldSpec, FieldType, FindAll, IndexState, NamespaceId,
    ObjectId, Options, TaskState, Value,
};
use rockhold_format::{
    ClassDef, ClassKey, GenerationKey, Key, MetaKey, MetaValue, Record, TaskKey, TaskRecord,
    MAX_BODY_LEN, MAX_ORDERED_VALUE_LEN,
};
use rockhold_tests::users::{fill, indexed, plain};
use rockhold_tests::{assert_invariant, raw_cf, with_raw_db, TempDb};

fn no_runner() -> Options {
    Options::default().runner_threads(0)
}

/// Rewrites the stored class definition of `user` with `edit`.
fn edit_class(db: &mut TempDb, edit: impl FnOnce(&mut ClassDef)) {
    let id = db
        .class("default", "user")
        .and_then(|c| c.def())
        .expect("class")
        .id;
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, rockhold::Family::Class);
        let key = ClassKey {
            ns: NamespaceId(0),
            class: id,
        }
        .encode();
        let mut def =
            ClassDef::decode(&raw.get_cf(cf, &key).expect("get").expect("class")).expect("decode");
        edit(&mut def);
        raw.put_cf(cf, &key, def.encode()).expect("put");
    });
    db.open_again().expect("reopen");
}

/// Bug: `Db::open` computed `newest + 1` on generation markers read from
/// disk and panicked at `u64::MAX` (seen: "attempt to add with overflow").
#[test]
fn generation_markers_at_the_maximum_refuse_the_open_with_a_typed_error() {
    let mut db = TempDb::with_options(no_runner());
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        for tag in 0..=GenerationKey::MAX_CF {
            let cf = raw
                .cf_handle(rockhold::COLUMN_FAMILIES[tag as usize])
                .expect("cf");
            raw.put_cf(
                cf,
                GenerationKey { cf: tag }.encode(),
                MetaValue::Counter(u64::MAX).encode(),
            )
            .expect("put");
        }
    });
    match db.open_again() {
        Err(Error::CounterExhausted { counter }) => assert_eq!(counter, "generation marker"),
        other => panic!("expected CounterExhausted, got {:?}", other.err()),
    }
}

/// Bug: `task.attempts += 1` on a task record holding `u32::MAX` panicked
/// inside the task run: the runner thread died holding its claim and
/// `check_reindex_tasks` never returned (seen, without runner threads: the
/// overflow panic out of `check_reindex_tasks`).
#[test]
fn a_task_whose_attempts_are_at_the_maximum_ends_failed_and_is_reported() {
    let mut db = TempDb::with_options(no_runner());
    db.create_class("default", &plain()).expect("class");
    fill(&db, 20);
    db.update_class("default", &indexed()).expect("add indexes");
    let def = db
        .class("default", "user")
        .and_then(|c| c.def())
        .expect("class");
    let (class, email) = (def.id, def.index("email").expect("email index").id);
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, rockhold::Family::Task);
        let key = TaskKey {
            ns: NamespaceId(0),
            class,
            index: email,
        }
        .encode();
        let mut task =
            TaskRecord::decode(&raw.get_cf(cf, &key).expect("get").expect("task")).expect("decode");
        task.attempts = u32::MAX;
        raw.put_cf(cf, &key, task.encode()).expect("put");
    });
    db.open_again().expect("reopen");
    match db.check_reindex_tasks() {
        Err(Error::ReindexFailed { tasks }) => {
            assert_eq!(tasks.len(), 1, "{tasks:?}");
            assert_eq!(tasks[0].index.as_deref(), Some("email"));
            let reason = tasks[0].record.last_error.clone().unwrap_or_default();
            assert!(reason.contains("task.attempts"), "{reason}");
        }
        other => panic!("expected ReindexFailed, got {other:?}"),
    }
    assert_eq!(
        db.index_state("default", "user", "age").expect("state"),
        IndexState::Ready,
        "the other task ran"
    );
    // The operator's way out: requeue, which resets the attempts.
    assert_eq!(db.retry_failed_tasks().expect("retry"), 1);
    db.check_reindex_tasks().expect("builds now");
    assert_eq!(
        db.index_state("default", "user", "email").expect("state"),
        IndexState::Ready
    );
    assert_invariant(&db);
}

/// `check_reindex_tasks` returns (it does not wait forever on a claim),
/// and both tasks end `Failed` with the panic's message. The call names
/// the failed tasks it ran or waited for: with a runner thread, one that
/// failed before the call is not among them (a race seen in CI, where the
/// test used to expect both in the error every time).
fn both_builds_failed(db: &Db, threads: usize) {
    match db.check_reindex_tasks() {
        Err(Error::ReindexFailed { tasks }) => {
            assert!(!tasks.is_empty(), "an error names its tasks");
            assert!(threads > 0 || tasks.len() == 2, "{tasks:?}");
        }
        Ok(()) if threads > 0 => {}
        other => panic!("expected ReindexFailed, got {other:?}"),
    }
    let tasks = db.tasks().expect("tasks");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    for t in tasks {
        assert_eq!(t.record.state, TaskState::Failed, "{t:?}");
        let reason = t.record.last_error.clone().unwrap_or_default();
        assert!(reason.contains("hook panics on purpose"), "{reason}");
    }
}

/// Bug: a task run that panicked killed the runner thread with the task
/// still claimed, so `check_reindex_tasks` waited forever (or, run in the
/// caller, the panic escaped it: seen without the fix).
#[test]
fn a_panicking_task_run_ends_failed_releases_its_claim_and_the_runner_lives_on() {
    for threads in [0, 1] {
        let mut db = TempDb::with_options(Options::default().runner_threads(threads).build_hook(
            |point| {
                if point == BuildStage::Scanned {
                    panic!("hook panics on purpose");
                }
            },
        ));
        db.create_class("default", &plain()).expect("class");
        fill(&db, 50);
        db.update_class("default", &indexed()).expect("add indexes");
        both_builds_failed(&db, threads);
        // Nothing is left claimed: requeued, both run to their end again.
        assert!(db.retry_failed_tasks().expect("retry") == 2);
        both_builds_failed(&db, threads);
        let _ = db.close();
    }
}

/// Bug: `next_field_id += 1`, `revision + 1` and `next_task_revision += 1`
/// on values read from disk panicked in `update_class` and `reindex`
/// (seen: overflow panics).
#[test]
fn field_id_and_revision_counters_at_the_maximum_are_typed_errors() {
    let mut db = TempDb::with_options(no_runner());
    db.create_class("default", &plain()).expect("class");
    fill(&db, 3);
    let with_nick = plain().field(FieldSpec::new("nick", FieldType::String).optional());

    edit_class(&mut db, |def| def.next_field_id = u32::MAX);
    assert!(matches!(
        db.update_class("default", &with_nick),
        Err(Error::CounterExhausted {
            counter: "class.next_field_id"
        })
    ));
    edit_class(&mut db, |def| {
        def.next_field_id = 3;
        def.revision = u64::MAX;
    });
    assert!(matches!(
        db.update_class("default", &with_nick),
        Err(Error::CounterExhausted {
            counter: "class.revision"
        })
    ));
    edit_class(&mut db, |def| def.revision = 1);
    db.update_class("default", &indexed())
        .expect("counters fine again");
    db.check_reindex_tasks().expect("build");

    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        raw.put_cf(
            raw_cf(raw, rockhold::Family::Meta),
            MetaKey::NextTaskRevision.encode(),
            MetaValue::Counter(u64::MAX).encode(),
        )
        .expect("put");
    });
    db.open_again().expect("reopen");
    assert!(matches!(
        db.reindex("default", "user", Some("age")),
        Err(Error::CounterExhausted {
            counter: "meta.next_task_revision"
        })
    ));
    assert_eq!(
        db.index_state("default", "user", "age").expect("state"),
        IndexState::Ready,
        "nothing was written"
    );
    assert_invariant(&db);
}

fn tagged(ordered: bool) -> ClassSpec {
    let tag = FieldSpec::new("tag", FieldType::String);
    ClassSpec::new("doc")
        .field(FieldSpec::new("n", FieldType::U64))
        .field(if ordered { tag.ordered() } else { tag })
}

/// Bug: an ordered index build (by sort and ingest, and chunked) wrote
/// entries for values over the ordered-key limit that writes refuse (seen:
/// the build ended `Done`).
#[test]
fn an_index_build_meeting_a_value_over_the_ordered_key_limit_fails_naming_it() {
    for bulk_memory in [64 << 20, 0] {
        let db = TempDb::with_options(no_runner().bulk_build_memory(bulk_memory));
        db.create_class("default", &tagged(false)).expect("class");
        for i in 0..10u64 {
            db.insert(
                "default",
                "doc",
                [("n", Value::from(i)), ("tag", "short".into())],
            )
            .expect("insert");
        }
        let long = "x".repeat(MAX_ORDERED_VALUE_LEN + 1);
        let big = db
            .insert(
                "default",
                "doc",
                [("n", Value::from(10u64)), ("tag", long.clone().into())],
            )
            .expect("an unindexed field takes any length");
        db.update_class("default", &tagged(true))
            .expect("make tag ordered");
        match db.check_reindex_tasks() {
            Err(Error::ReindexFailed { tasks }) => {
                let reason = tasks[0].record.last_error.clone().unwrap_or_default();
                assert!(
                    reason.contains(&format!("object {big}")) && reason.contains("doc.tag"),
                    "{reason}"
                );
            }
            other => panic!("bulk memory {bulk_memory}: expected ReindexFailed, got {other:?}"),
        }
        assert_eq!(
            db.index_state("default", "doc", "tag").expect("state"),
            IndexState::Building(TaskState::Failed)
        );
        // Writes keep refusing to index it, even when another field changes.
        assert!(matches!(
            db.update("default", big, [("n", 11u64)]),
            Err(Error::ValueTooLarge { .. })
        ));
        // Shortened, the index builds.
        db.update("default", big, [("tag", "fixed")])
            .expect("shorten");
        assert_eq!(db.retry_failed_tasks().expect("retry"), 1);
        db.check_reindex_tasks().expect("builds");
        assert_eq!(
            db.find_all("default", "doc", "tag", &"fixed".into())
                .expect("find"),
            vec![big]
        );
        assert_invariant(&db);
    }
}

/// Bug: bincode 1.x ignores `with_limit` for slices, and `ingest` into a
/// class without definition stored a record over the 64 MiB limit that
/// `insert` refuses (seen: `ingest` returned `Ok`).
#[test]
fn records_over_the_size_limit_are_refused_by_insert_update_and_ingest() {
    let db = TempDb::with_options(no_runner());
    let blob = || Value::Bytes(vec![1; MAX_BODY_LEN as usize + 1]);
    let too_large = |r: rockhold::Result<()>| {
        assert!(
            matches!(r, Err(Error::ValueTooLarge { ref field, .. }) if field == "(whole record)"),
            "{r:?}"
        )
    };
    // Ingest into a class that has no definition yet.
    too_large(db.ingest("default", "later", ObjectId(5), [("data", blob())]));
    assert!(db.tasks().expect("tasks").is_empty(), "nothing was written");
    db.create_class(
        "default",
        &ClassSpec::new("file").field(FieldSpec::new("data", FieldType::Bytes)),
    )
    .expect("class");
    too_large(db.insert("default", "file", [("data", blob())]).map(drop));
    let id = db
        .insert("default", "file", [("data", Value::Bytes(vec![1; 10]))])
        .expect("small");
    too_large(db.update("default", id, [("data", blob())]));
    too_large(db.ingest("default", "file", ObjectId(99), [("data", blob())]));
    assert_eq!(
        db.scan_class("default", "file", None, 10).expect("scan"),
        vec![id]
    );
    assert_invariant(&db);
}

/// `find_all` returned every holder in one `Vec`; `find_page` reads them
/// in bounded pages, resumable by cursor (new API, so no old behaviour).
#[test]
fn find_page_reads_every_holder_in_bounded_pages() {
    let db = TempDb::with_options(no_runner());
    db.create_class(
        "default",
        &ClassSpec::new("item")
            .field(FieldSpec::new("color", FieldType::String).hash())
            .field(FieldSpec::new("size", FieldType::U64).ordered()),
    )
    .expect("class");
    for i in 0..53u64 {
        let color = if i % 2 == 0 { "red" } else { "blue" };
        db.insert(
            "default",
            "item",
            [("color", Value::from(color)), ("size", (i % 3).into())],
        )
        .expect("insert");
    }
    for (field, value) in [("color", Value::from("red")), ("size", Value::from(1u64))] {
        let all = db.find_all("default", "item", field, &value).expect("all");
        assert!(all.len() > 10);
        let mut paged = Vec::new();
        let mut find = FindAll::first(10);
        loop {
            let page = db
                .find_page("default", "item", field, &value, &find)
                .expect("page");
            assert!(page.ids.len() <= 10);
            paged.extend(page.ids);
            match page.cursor {
                Some(c) => find = FindAll::first(10).after(c),
                None => break,
            }
        }
        assert_eq!(paged, all, "{field}: pages add up to find_all, in id order");
    }
    // A cursor of another lookup is refused.
    let page = db
        .find_page("default", "item", "size", &1u64.into(), &FindAll::first(2))
        .expect("page");
    let cursor = page.cursor.expect("full page");
    assert!(matches!(
        db.find_page(
            "default",
            "item",
            "size",
            &2u64.into(),
            &FindAll::first(2).after(cursor)
        ),
        Err(Error::InvalidCursor { .. })
    ));
}

/// Writing every field of a wide class looked each field up linearly
/// (quadratic: 440 ms for 16k fields). The linear path must still set,
/// replace and clear exactly the named fields, in any order.
#[test]
fn a_wide_class_writes_and_updates_every_field_correctly() {
    const N: usize = 4000;
    let db = TempDb::with_options(no_runner());
    let spec = (0..N).fold(ClassSpec::new("wide"), |s, i| {
        s.field(FieldSpec::new(format!("f{i}"), FieldType::U64).optional())
    });
    db.create_class("default", &spec).expect("class");
    // Given in reverse order.
    let id = db
        .insert(
            "default",
            "wide",
            (0..N)
                .rev()
                .map(|i| (format!("f{i}"), Value::from(i as u64))),
        )
        .expect("insert");
    // Every third field replaced, every fifth cleared, in shuffled order.
    let changes: Vec<(String, Value)> = (0..N)
        .map(|i| (i * 7919) % N)
        .filter(|i| i % 3 == 0 || i % 5 == 0)
        .map(|i| {
            let v = if i % 5 == 0 {
                Value::Absent
            } else {
                Value::from(i as u64 + 1)
            };
            (format!("f{i}"), v)
        })
        .collect();
    db.update("default", id, changes).expect("update");
    let obj = db.get("default", id).expect("get").expect("exists");
    for i in 0..N {
        let expected = match (i % 5 == 0, i % 3 == 0) {
            (true, _) => None,
            (false, true) => Some(Value::from(i as u64 + 1)),
            _ => Some(Value::from(i as u64)),
        };
        assert_eq!(obj.get(&format!("f{i}")).cloned(), expected, "f{i}");
    }
    assert!(matches!(
        db.update(
            "default",
            id,
            [("f1", Value::from(1u64)), ("f1", Value::from(2u64))]
        ),
        Err(Error::DuplicateName { .. })
    ));
    assert_invariant(&db);
}
