//! Namespaces, class changes, snapshots, the typed API, id allocation across
//! a crash, and metrics, through the public API.

use std::ops::Bound;
use std::process::Command;

use rockhold::{
    ClassSpec, Db, Error, FieldSpec, FieldType, IndexState, ObjectId, Options, RangeScan,
    TaskState, Value,
};
use rockhold_tests::{assert_invariant, TempDb};
use serde::{Deserialize, Serialize};

fn item_spec() -> ClassSpec {
    ClassSpec::new("item").field(FieldSpec::new("sku", FieldType::String).unique_ordered())
}

#[test]
fn dropping_a_namespace_deletes_exactly_its_own_data() {
    let db = TempDb::new();
    // "shop" is a prefix of "shop2" and "shop2" of "shop20": names never
    // leak into key ranges, which use fixed-width namespace ids.
    for ns in ["shop", "shop2", "shop20"] {
        db.create_namespace(ns).expect("ns");
        db.create_class(ns, &item_spec()).expect("class");
        for i in 0..50 {
            db.insert(ns, "item", [("sku", format!("{ns}-{i}"))])
                .expect("insert");
        }
    }
    db.drop_namespace("shop2").expect("drop");
    assert_eq!(db.namespaces(), vec!["default", "shop", "shop20"]);
    for ns in ["shop", "shop20"] {
        assert_eq!(
            db.scan_class(ns, "item", None, usize::MAX)
                .expect("scan")
                .len(),
            50,
            "{ns}"
        );
        assert!(db
            .find_unique(ns, "item", "sku", &format!("{ns}-7").into())
            .expect("find")
            .is_some());
    }
    assert!(matches!(
        db.scan_class("shop2", "item", None, 1),
        Err(Error::UnknownNamespace { .. })
    ));
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.objects, 100);
    // The name can be used again, and starts empty.
    db.create_namespace("shop2").expect("again");
    db.create_class("shop2", &item_spec()).expect("class again");
    assert!(db
        .scan_class("shop2", "item", None, 10)
        .expect("scan")
        .is_empty());
}

#[test]
fn adding_an_index_to_a_populated_class_is_pending_until_built() {
    // No runner threads: the task stays Pending until check_reindex_tasks.
    let mut db = TempDb::with_options(Options::default().runner_threads(0));
    let plain = ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String));
    db.create_class("default", &plain).expect("class");
    let a = db.insert("default", "user", [("email", "a@x")]).expect("a");
    let indexed =
        ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String).unique_hash());
    let def = db.update_class("default", &indexed).expect("add index");
    assert_eq!(def.revision, 2);
    assert_eq!(
        db.index_state("default", "user", "email").expect("state"),
        IndexState::Building(TaskState::Pending)
    );
    assert!(matches!(
        db.find_unique("default", "user", "email", &"a@x".into()),
        Err(Error::IndexNotReady {
            state: "pending",
            ..
        })
    ));
    // Writes maintain the pending index from now on, and the state survives a reopen.
    let b = db.insert("default", "user", [("email", "b@x")]).expect("b");
    db.reopen();
    assert_eq!(
        db.index_state("default", "user", "email").expect("state"),
        IndexState::Building(TaskState::Pending)
    );
    assert_invariant(&db); // the missing entry of `a` is allowed while building
    db.check_reindex_tasks().expect("build");
    assert_eq!(
        db.index_state("default", "user", "email").expect("state"),
        IndexState::Ready
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"a@x".into())
            .expect("a"),
        Some(a)
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"b@x".into())
            .expect("b"),
        Some(b)
    );
    assert_invariant(&db);
}

#[test]
fn adding_an_index_to_an_empty_class_is_ready_at_once() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String)),
    )
    .expect("class");
    let indexed =
        ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String).unique_hash());
    db.update_class("default", &indexed).expect("add index");
    assert_eq!(
        db.index_state("default", "user", "email").expect("state"),
        IndexState::Ready
    );
    let a = db.insert("default", "user", [("email", "a@x")]).expect("a");
    assert_eq!(
        db.find_unique("default", "user", "email", &"a@x".into())
            .expect("find"),
        Some(a)
    );
}

#[test]
fn field_ids_are_never_reused() {
    let mut db = TempDb::new();
    let two = ClassSpec::new("c")
        .field(FieldSpec::new("x", FieldType::I64))
        .field(FieldSpec::new("y", FieldType::I64).optional().ordered());
    let def = db.create_class("default", &two).expect("class");
    let y_old = def.field("y").expect("y").id;
    let a = db
        .insert("default", "c", [("x", Value::I64(1)), ("y", Value::I64(5))])
        .expect("a");
    db.drop_field("default", "c", "y").expect("remove y");
    db.reopen();
    let def = db.update_class("default", &two).expect("re-add y");
    let y_new = def.field("y").expect("y").id;
    assert!(
        y_new > y_old,
        "re-added field gets a fresh id ({y_old} then {y_new})"
    );
    // The old value of y does not come back, and the new index is empty and ready.
    let obj = db.get("default", a).expect("get").expect("a");
    assert_eq!(obj.get("y"), None);
    assert!(db
        .scan("default", "c", "y", &RangeScan::all())
        .expect("scan")
        .hits
        .is_empty());
    assert_invariant(&db);
}

#[test]
fn snapshots_see_one_point_in_time() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered()),
    )
    .expect("class");
    let a = db
        .insert(
            "default",
            "user",
            [("email", Value::from("a@x")), ("age", 10u64.into())],
        )
        .expect("a");
    let snap = db.snapshot();
    db.update(
        "default",
        a,
        [("email", Value::from("a2@x")), ("age", 20u64.into())],
    )
    .expect("update");
    let b = db
        .insert(
            "default",
            "user",
            [("email", Value::from("b@x")), ("age", 15u64.into())],
        )
        .expect("b");
    // Live.
    assert_eq!(
        db.find_unique("default", "user", "email", &"a@x".into())
            .expect("live"),
        None
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"a2@x".into())
            .expect("live"),
        Some(a)
    );
    // Snapshot: records and indexes as they were.
    assert_eq!(
        snap.find_unique("default", "user", "email", &"a@x".into())
            .expect("snap"),
        Some(a)
    );
    assert_eq!(
        snap.find_unique("default", "user", "email", &"a2@x".into())
            .expect("snap"),
        None
    );
    assert_eq!(
        snap.get("default", a).expect("snap").expect("a").get("age"),
        Some(&Value::U64(10))
    );
    assert_eq!(snap.get("default", b).expect("snap"), None);
    assert_eq!(
        snap.scan_class("default", "user", None, 10).expect("snap"),
        vec![a]
    );
    let q = RangeScan::between(Bound::Included(10u64.into()), Bound::Unbounded);
    assert_eq!(
        snap.scan("default", "user", "age", &q).expect("snap").hits,
        vec![(Value::U64(10), a)]
    );
    assert_eq!(
        db.scan("default", "user", "age", &q).expect("live").hits,
        vec![(Value::U64(15), b), (Value::U64(20), a)]
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    email: String,
    age: u64,
    score: f64,
    avatar: Vec<u8>,
    manager: Option<ObjectId>,
    nick: Option<String>,
}

#[test]
fn typed_structs_round_trip() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered())
            .field(FieldSpec::new("score", FieldType::F64))
            .field(FieldSpec::new("avatar", FieldType::Bytes))
            .field(FieldSpec::new("manager", FieldType::Ref).optional())
            .field(FieldSpec::new("nick", FieldType::String).optional()),
    )
    .expect("class");
    let boss = User {
        email: "boss@x".into(),
        age: 50,
        score: -1.5,
        avatar: vec![0, 255],
        manager: None,
        nick: None,
    };
    let boss_id = db.insert_typed("default", "user", &boss).expect("insert");
    let mut ann = User {
        email: "ann@x".into(),
        age: 30,
        score: 2.0,
        avatar: vec![],
        manager: Some(boss_id),
        nick: Some("a".into()),
    };
    let ann_id = db.insert_typed("default", "user", &ann).expect("insert");
    assert_eq!(
        db.get_typed::<User>("default", boss_id).expect("get"),
        Some(boss)
    );
    assert_eq!(
        db.get_typed::<User>("default", ann_id).expect("get"),
        Some(ann.clone())
    );
    ann.age = 31;
    ann.nick = None;
    db.update_typed("default", ann_id, &ann).expect("update");
    assert_eq!(
        db.get_typed::<User>("default", ann_id).expect("get"),
        Some(ann)
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"ann@x".into())
            .expect("find"),
        Some(ann_id)
    );
    #[derive(Serialize)]
    struct Wrong {
        email: u64,
    }
    assert!(matches!(
        db.insert_typed("default", "user", &Wrong { email: 1 }),
        Err(Error::WrongType { .. })
    ));
}

/// Child side of `object_ids_are_not_reused_after_a_crash`: inserts and
/// deletes with sync writes, prints the ids, then aborts without closing.
#[test]
#[ignore = "run by object_ids_are_not_reused_after_a_crash in a child process"]
fn crash_child_allocates_ids() {
    let Ok(path) = std::env::var("ROCKHOLD_CRASH_DIR") else {
        return;
    };
    let db = Db::open(&path, Options::default().sync_writes(true)).expect("open");
    let mut last = 0;
    for i in 0..3000u64 {
        let id = db.insert("default", "c", [("n", i)]).expect("insert");
        if i % 2 == 1 {
            db.delete("default", id).expect("delete");
        }
        last = id.0;
    }
    println!("LAST_ID {last}");
    std::process::abort();
}

#[test]
fn object_ids_are_not_reused_after_a_crash() {
    let mut db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("c").field(FieldSpec::new("n", FieldType::U64)),
    )
    .expect("class");
    let path = db.close().to_path_buf();
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash_child_allocates_ids",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROCKHOLD_CRASH_DIR", &path)
        .output()
        .expect("run child");
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: u64 = stdout
        .lines()
        .find_map(|l| l.split("LAST_ID ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("child output: {stdout}"));
    db.open_again().expect("reopen after crash");
    let next = db.insert("default", "c", [("n", 0u64)]).expect("insert");
    assert!(
        next.0 > last,
        "id {} after a crash that had handed out {last}",
        next.0
    );
    assert_eq!(
        db.scan_class("default", "c", None, usize::MAX)
            .expect("scan")
            .len(),
        1501
    );
    assert_invariant(&db);
}

#[test]
fn metrics_expose_writes_violations_and_cache() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("u").field(FieldSpec::new("e", FieldType::String).unique_hash()),
    )
    .expect("class");
    let a = db.insert("default", "u", [("e", "a")]).expect("a");
    assert!(db.insert("default", "u", [("e", "a")]).is_err());
    for _ in 0..3 {
        assert_eq!(
            db.find_unique("default", "u", "e", &"a".into())
                .expect("find"),
            Some(a)
        );
    }
    let mut text = String::new();
    let encoder = prometheus::TextEncoder::new();
    text.push_str(
        &encoder
            .encode_to_string(&db.metrics().gather())
            .expect("encode"),
    );
    for needle in [
        "rockhold_writes_total 1",
        "rockhold_unique_violations_total 1",
        "rockhold_unique_cache_lookups_total{result=\"hit\"} 2",
        "rockhold_unique_cache_lookups_total{result=\"miss\"} 1",
        "rockhold_objects_written_total{op=\"insert\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

/// Snapshots judged index readiness by the live catalog: an index built after
/// the snapshot answered from the snapshot's half-built entries.
#[test]
fn a_snapshot_keeps_the_index_readiness_of_its_time() {
    let db = TempDb::with_options(Options::default().runner_threads(0));
    db.create_class(
        "default",
        &ClassSpec::new("c").field(FieldSpec::new("n", FieldType::U64)),
    )
    .expect("class");
    for i in 0..10u64 {
        db.insert("default", "c", [("n", i)]).expect("insert");
    }
    db.update_class(
        "default",
        &ClassSpec::new("c").field(FieldSpec::new("n", FieldType::U64).ordered()),
    )
    .expect("add index");
    let snap = db.snapshot(); // the index has no entries yet
    db.check_reindex_tasks().expect("build");
    assert_eq!(
        db.scan("default", "c", "n", &RangeScan::all())
            .expect("live")
            .hits
            .len(),
        10
    );
    assert!(matches!(
        snap.scan("default", "c", "n", &RangeScan::all()),
        Err(Error::IndexNotReady { .. })
    ));
}

/// `get_many` answers in the order asked, `None` for ids that are missing,
/// deleted or of another namespace, on the latest state and on a snapshot,
/// on both backends.
#[test]
fn get_many_reads_a_batch_of_ids_in_the_order_asked() {
    for db in [TempDb::new(), TempDb::in_memory(Options::default())] {
        db.create_class("default", &item_spec()).expect("class");
        db.create_namespace("other").expect("ns");
        db.create_class("other", &item_spec()).expect("class");
        let ids: Vec<ObjectId> = (0..5)
            .map(|i| {
                db.insert("default", "item", [("sku", format!("s{i}"))])
                    .expect("insert")
            })
            .collect();
        let foreign = db
            .insert("other", "item", [("sku", "elsewhere")])
            .expect("insert");
        let snap = db.snapshot();
        db.delete("default", ids[1]).expect("delete");
        let ask = [ids[4], ids[1], ObjectId(9_999), foreign, ids[0]];
        let sku = |o: &Option<rockhold::Object>| o.as_ref().and_then(|o| o.get("sku").cloned());
        let now: Vec<_> = db
            .get_many("default", &ask)
            .expect("get_many")
            .iter()
            .map(sku)
            .collect();
        assert_eq!(
            now,
            vec![
                Some(Value::from("s4")),
                None,
                None,
                None,
                Some(Value::from("s0"))
            ]
        );
        let then: Vec<_> = snap
            .get_many("default", &ask)
            .expect("get_many")
            .iter()
            .map(sku)
            .collect();
        assert_eq!(
            then[1],
            Some(Value::from("s1")),
            "the snapshot still has it"
        );
        assert_eq!(db.get_many("default", &[]).expect("empty"), vec![]);
    }
}

/// `Some(f64::NAN)` and the infinities went through serde_json, which turned
/// them into `null`: they were stored as absent (data loss). The typed API
/// has its own serializer now; with NaN mapped to `Value::Absent` in
/// `typed/ser.rs` this test fails.
#[test]
fn typed_values_round_trip_exactly_and_misfits_are_typed_errors() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Level {
        Low,
        High,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Reading {
        small: u8,
        signed: i16,
        medium: u32,
        big: u64,
        least: i64,
        ratio: f32,
        value: f64,
        maybe: Option<f64>,
        letter: char,
        level: Level,
    }
    for db in [TempDb::new(), TempDb::in_memory(Options::default())] {
        db.create_class(
            "default",
            &ClassSpec::new("reading")
                .field(FieldSpec::new("small", FieldType::U64))
                .field(FieldSpec::new("signed", FieldType::I64))
                .field(FieldSpec::new("medium", FieldType::U64))
                .field(FieldSpec::new("big", FieldType::U64).ordered())
                .field(FieldSpec::new("least", FieldType::I64))
                .field(FieldSpec::new("ratio", FieldType::F64))
                .field(FieldSpec::new("value", FieldType::F64))
                .field(FieldSpec::new("maybe", FieldType::F64).optional())
                .field(FieldSpec::new("letter", FieldType::String))
                .field(FieldSpec::new("level", FieldType::String)),
        )
        .expect("class");
        let cases = [
            (f64::NAN, Some(f64::NAN)),
            (-0.0, Some(f64::INFINITY)),
            (f64::NEG_INFINITY, None),
        ];
        for (value, maybe) in cases {
            let r = Reading {
                small: 255,
                signed: -32768,
                medium: u32::MAX,
                big: u64::MAX,
                least: i64::MIN,
                ratio: 0.1,
                value,
                maybe,
                letter: 'ß',
                level: Level::High,
            };
            let id = db.insert_typed("default", "reading", &r).expect("insert");
            let back: Reading = db.get_typed("default", id).expect("get").expect("present");
            // Bit for bit (NaN != NaN, and -0.0 == 0.0, under ==).
            assert_eq!(back.value.to_bits(), value.to_bits());
            assert_eq!(back.maybe.map(f64::to_bits), maybe.map(f64::to_bits));
            assert_eq!(
                (back.small, back.signed, back.medium, back.big, back.least),
                (255, -32768, u32::MAX, u64::MAX, i64::MIN)
            );
            assert_eq!(
                (back.ratio, back.letter, &back.level),
                (0.1, 'ß', &Level::High)
            );
            let stored = db.get("default", id).expect("get").expect("object");
            assert_eq!(stored.get("level"), Some(&Value::from("High")));
            assert!(
                matches!(stored.get("value"), Some(Value::F64(_))),
                "{stored:?}"
            );
        }
        // Misfits name the class and field; nothing is written.
        #[derive(Serialize)]
        struct Negative {
            small: i32,
        }
        let err = db
            .insert_typed("default", "reading", &Negative { small: -1 })
            .expect_err("negative into u64");
        assert!(
            matches!(&err, Error::OutOfRange { class, field, .. } if class == "reading" && field == "small"),
            "{err:?}"
        );
        #[derive(Serialize)]
        struct Inner {
            x: u8,
        }
        #[derive(Serialize)]
        struct Nested {
            small: Inner,
        }
        let err = db
            .insert_typed(
                "default",
                "reading",
                &Nested {
                    small: Inner { x: 1 },
                },
            )
            .expect_err("a nested struct");
        assert!(
            matches!(&err, Error::WrongType { field, found, .. } if field == "small" && found == "nested struct"),
            "{err:?}"
        );
        assert!(err.is_caller_error());
        assert_eq!(
            db.scan_class("default", "reading", None, usize::MAX)
                .expect("scan")
                .len(),
            cases.len()
        );
    }
}

/// Every unique index, ordered ones included, answers a warm lookup from
/// the unique cache; a hit is trusted only while its object is unwritten
/// since the read that filled it (an atomic load, no record read), so a
/// lookup after an update or a delete is never stale. Checked to fail with
/// `unchanged_since` always true and the commit's invalidation removed
/// (the lookup of the old value answered the old holder).
#[test]
fn unique_lookups_are_cached_and_never_stale() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("u")
            .field(FieldSpec::new("e", FieldType::String).unique_ordered())
            .field(FieldSpec::new("h", FieldType::String).unique_hash()),
    )
    .expect("class");
    let a = db
        .insert("default", "u", [("e", "a"), ("h", "a")])
        .expect("a");
    for field in ["e", "h"] {
        for _ in 0..3 {
            assert_eq!(
                db.find_unique("default", "u", field, &"a".into())
                    .expect("find"),
                Some(a)
            );
        }
    }
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&db.metrics().gather())
        .expect("encode");
    assert!(
        text.contains("rockhold_unique_cache_lookups_total{result=\"hit\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("rockhold_unique_cache_lookups_total{result=\"miss\"} 2"),
        "{text}"
    );
    db.update("default", a, [("e", "b"), ("h", "b")])
        .expect("update");
    for field in ["e", "h"] {
        let find = |v: &str| {
            db.find_unique("default", "u", field, &v.into())
                .expect("find")
        };
        assert_eq!(find("a"), None, "{field}: the old value is released");
        assert_eq!(find("b"), Some(a), "{field}");
    }
    let b = db
        .insert("default", "u", [("e", "a"), ("h", "a")])
        .expect("b");
    db.delete("default", a).expect("delete");
    for field in ["e", "h"] {
        let find = |v: &str| {
            db.find_unique("default", "u", field, &v.into())
                .expect("find")
        };
        assert_eq!(find("a"), Some(b), "{field}: the value's new holder");
        assert_eq!(find("b"), None, "{field}: a deleted holder");
    }
}
