//! Regression tests for the data-loss bugs of issue 11 that live in the
//! engine's write and build paths: id wraparound, stale entries kept by a
//! forced reindex, ingest adopting a class its objects violate, and opening
//! something that is not a rockhold database.

use rockhold::{
    ClassSpec, Db, Error, Family, FieldSpec, FieldType, ObjectId, Options, RangeScan, Value,
};
use rockhold_format::{Key, OrderedKey};
use rockhold_tests::{assert_invariant, raw_cf, with_raw_db, TempDb};

fn named() -> ClassSpec {
    ClassSpec::new("item")
        .field(FieldSpec::new("name", FieldType::String).unique_hash())
        .field(FieldSpec::new("rank", FieldType::U64).ordered())
}

/// After an ingest with id u64::MAX the next inserts got ids u64::MAX and 0,
/// overwriting both objects (without the fix: the second insert returned
/// Ok(u64::MAX) and `get(0)` showed the new values).
#[test]
fn ids_never_wrap_after_u64_max() {
    let mut db = TempDb::new();
    db.create_class("default", &named()).expect("class");
    let zero = db
        .insert(
            "default",
            "item",
            [("name", Value::from("zero")), ("rank", 0u64.into())],
        )
        .expect("insert");
    assert_eq!(zero, ObjectId(0));
    db.ingest(
        "default",
        "item",
        ObjectId(u64::MAX - 1),
        [("name", Value::from("penultimate")), ("rank", 1u64.into())],
    )
    .expect("ingest");
    let last = db
        .insert(
            "default",
            "item",
            [("name", Value::from("last")), ("rank", 2u64.into())],
        )
        .expect("the id u64::MAX is still free");
    assert_eq!(last, ObjectId(u64::MAX));
    for _ in 0..2 {
        let err = db
            .insert(
                "default",
                "item",
                [("name", Value::from("wrapped")), ("rank", 3u64.into())],
            )
            .expect_err("no id is left");
        assert!(matches!(err, Error::IdsExhausted), "{err:?}");
    }
    db.reopen();
    assert!(matches!(
        db.insert(
            "default",
            "item",
            [("name", Value::from("after reopen")), ("rank", 4u64.into())]
        ),
        Err(Error::IdsExhausted)
    ));
    assert_eq!(
        db.get("default", zero)
            .expect("get")
            .expect("object 0")
            .get("name"),
        Some(&Value::from("zero"))
    );
    assert_eq!(
        db.find_unique("default", "item", "name", &"last".into())
            .expect("find"),
        Some(ObjectId(u64::MAX))
    );
    assert_invariant(&db);
}

/// An ingest of id u64::MAX itself leaves no id to hand out.
#[test]
fn ingesting_u64_max_exhausts_the_ids() {
    let db = TempDb::new();
    db.create_class("default", &named()).expect("class");
    db.ingest(
        "default",
        "item",
        ObjectId(u64::MAX),
        [("name", Value::from("top")), ("rank", 9u64.into())],
    )
    .expect("ingest");
    assert!(matches!(
        db.insert(
            "default",
            "item",
            [("name", Value::from("next")), ("rank", 4u64.into())]
        ),
        Err(Error::IdsExhausted)
    ));
    assert_invariant(&db);
}

/// The bulk build cut its last id range with an exclusive end of
/// `last.saturating_add(1)`, so the object with id u64::MAX got no entry
/// (without the fix: `find_unique` of its value returned None).
#[test]
fn a_bulk_build_indexes_the_object_with_id_u64_max() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("item").field(FieldSpec::new("name", FieldType::String)),
    )
    .expect("class");
    for (id, name) in [(3, "low"), (u64::MAX / 2, "middle"), (u64::MAX, "top")] {
        db.ingest(
            "default",
            "item",
            ObjectId(id),
            [("name", Value::from(name))],
        )
        .expect("ingest");
    }
    db.update_class(
        "default",
        &ClassSpec::new("item").field(FieldSpec::new("name", FieldType::String).unique_hash()),
    )
    .expect("add index");
    db.check_reindex_tasks().expect("build");
    for (id, name) in [(3, "low"), (u64::MAX / 2, "middle"), (u64::MAX, "top")] {
        assert_eq!(
            db.find_unique("default", "item", "name", &name.into())
                .expect("find"),
            Some(ObjectId(id)),
            "{name}"
        );
    }
    assert_invariant(&db);
}

/// A forced reindex (sort-and-ingest path) ended Done with stale_removed = 0
/// and the scan kept returning an object for a value it does not hold
/// (without the fix: the scan returned both objects and verify was unclean).
#[test]
fn a_forced_reindex_removes_planted_stale_entries() {
    let mut db = TempDb::new();
    db.create_class("default", &named()).expect("class");
    let a = db
        .insert(
            "default",
            "item",
            [("name", Value::from("a")), ("rank", 10u64.into())],
        )
        .expect("insert");
    let b = db
        .insert(
            "default",
            "item",
            [("name", Value::from("b")), ("rank", 20u64.into())],
        )
        .expect("insert");
    let def = db.classes("default").expect("classes").remove(0);
    let rank = def.index("rank").expect("rank").id;
    let path = db.close().to_path_buf();
    // Object `a` is planted as a holder of `b`'s rank.
    with_raw_db(&path, |raw| {
        let key = OrderedKey {
            ns: rockhold::NamespaceId::DEFAULT,
            class: def.id,
            index: rank,
            values: vec![Value::U64(20)],
            id: Some(a),
        }
        .encode();
        raw.put_cf(raw_cf(raw, Family::Ordered), key, [])
            .expect("plant");
    });
    db.open_again().expect("open");
    assert!(
        !db.verify().expect("verify").is_clean(),
        "the planted entry is seen"
    );
    db.reindex("default", "item", Some("rank"))
        .expect("reindex");
    db.check_reindex_tasks().expect("rebuild");
    let task = db
        .tasks()
        .expect("tasks")
        .into_iter()
        .find(|t| t.index.as_deref() == Some("rank"))
        .expect("task");
    assert_eq!(task.record.stale_removed, 1, "{task:?}");
    let hits = db
        .scan("default", "item", "rank", &RangeScan::all())
        .expect("scan")
        .hits;
    assert_eq!(hits, vec![(Value::U64(10), a), (Value::U64(20), b)]);
    assert_invariant(&db);
}

/// Ingested objects lacking a field that the arriving definition requires
/// were adopted silently; verify said clean and a later update failed
/// (without the fix: create_class returned Ok).
#[test]
fn a_definition_that_ingested_objects_violate_is_refused() {
    let db = TempDb::new();
    db.ingest("default", "item", ObjectId(7), [("name", Value::from("x"))])
        .expect("ingest");
    db.ingest(
        "default",
        "item",
        ObjectId(9),
        [("name", Value::from("y")), ("rank", 3u64.into())],
    )
    .expect("ingest");
    let strict = ClassSpec::new("item")
        .field(FieldSpec::new("name", FieldType::String))
        .field(FieldSpec::new("rank", FieldType::U64));
    let err = db
        .create_class("default", &strict)
        .expect_err("object 7 has no rank");
    match &err {
        Error::RequiredFieldMissing {
            class,
            field,
            objects,
        } => {
            assert_eq!((class.as_str(), field.as_str()), ("item", "rank"));
            assert_eq!(objects, &vec![ObjectId(7)]);
        }
        other => panic!("unexpected {other:?}"),
    }
    // A required field that no ingested object has is refused too.
    let new_required = ClassSpec::new("item")
        .field(FieldSpec::new("name", FieldType::String))
        .field(FieldSpec::new("rank", FieldType::U64).optional())
        .field(FieldSpec::new("colour", FieldType::String));
    assert!(matches!(
        db.create_class("default", &new_required),
        Err(Error::RequiredFieldMissing { .. })
    ));
    // The provisional class is untouched; a definition the objects satisfy is adopted.
    let loose = ClassSpec::new("item")
        .field(FieldSpec::new("name", FieldType::String))
        .field(FieldSpec::new("rank", FieldType::U64).optional().ordered());
    db.create_class("default", &loose).expect("adopt");
    db.check_reindex_tasks().expect("build");
    db.update("default", ObjectId(7), [("rank", 1u64)])
        .expect("update");
    assert_invariant(&db);
}

fn is_not_a_database(err: &Error) -> bool {
    matches!(err, Error::NotADatabase { .. })
}

/// `Db::open` on a plain RocksDB added five column families before it
/// refused (without the fix: the list of column families grew to six).
#[test]
fn opening_a_plain_rocksdb_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        let raw = rocksdb::DB::open(&o, dir.path()).expect("plain RocksDB");
        raw.put(b"their key", b"their value").expect("put");
    }
    let before = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).expect("list");
    for opts in [
        Options::default(),
        Options::default().create_if_missing(false),
    ] {
        let err = Db::open(dir.path(), opts).expect_err("refused");
        assert!(is_not_a_database(&err), "{err:?}");
        assert!(err.to_string().contains("column families"), "{err}");
    }
    let scratch = tempfile::tempdir().expect("scratch");
    let err = Db::open_read_only(dir.path(), scratch.path(), Options::default())
        .expect_err("refused read-only too");
    assert!(is_not_a_database(&err), "{err:?}");
    let after = rocksdb::DB::list_cf(&rocksdb::Options::default(), dir.path()).expect("list");
    assert_eq!(before, after);
    let raw = rocksdb::DB::open_default(dir.path()).expect("its owner still opens it");
    assert_eq!(
        raw.get(b"their key").expect("get").as_deref(),
        Some(&b"their value"[..])
    );
}

/// The default create_if_missing(true) turned a directory of unrelated files
/// into a database (without the fix: Db::open returned Ok and wrote CURRENT).
#[test]
fn a_directory_of_other_files_is_not_made_a_database() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("notes.txt"), b"mine").expect("write");
    let err = Db::open(dir.path(), Options::default()).expect_err("refused");
    assert!(is_not_a_database(&err), "{err:?}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("notes.txt")]);
    // An empty directory, and a missing one, become databases.
    let empty = tempfile::tempdir().expect("dir");
    Db::open(empty.path(), Options::default())
        .expect("empty dir")
        .close()
        .expect("close");
    Db::open(empty.path().join("sub"), Options::default())
        .expect("missing dir")
        .close()
        .expect("close");
    Db::open(empty.path(), Options::default())
        .expect("reopen")
        .close()
        .expect("close");
}
