//! Backward compatibility: databases written by earlier versions of the
//! format, checked in under `tests/fixtures/`. `format-v1` was written by
//! the format-v1 engine (this test's `write_format_v1_fixture`, run once
//! with `--ignored` on commit 0be2302), `format-v2` by the format-v2 engine
//! (`write_format_v2_fixture`, on commit 5d83f63). This engine (format v3)
//! refuses to open either, naming `rockhold migrate`; migrated, each reads
//! exactly as written through every index, and a migration stopped by a
//! storage failure at any write finishes when run again.

use std::path::{Path, PathBuf};

use rockhold::testing::FaultyStore;
use rockhold::{
    ClassSpec, Db, Error, FieldSpec, FieldType, FormatVersion, IndexKind, IndexSpec, MemStore,
    MemberDef, ObjectId, Options, RangeScan, Value,
};
use rockhold_tests::assert_invariant;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// What the v1 fixture holds: users with a unique hash index on email, an
/// ordered index on age and an optional hashed nick; items in another
/// namespace with a unique ordered sku, a float score and bytes.
fn users() -> Vec<(String, u64, Option<&'static str>)> {
    (0..40u64)
        .map(|i| {
            (
                format!("user{i}@example.org"),
                18 + i % 50,
                (i % 3 == 0).then_some("nick"),
            )
        })
        .collect()
}

fn items() -> Vec<(String, f64, Vec<u8>)> {
    [-1.5, -0.0, 0.0, 2.25, f64::INFINITY, f64::NAN]
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("sku-{i}"), *s, vec![i as u8, 0, 255]))
        .collect()
}

fn item_spec() -> ClassSpec {
    ClassSpec::new("item")
        .field(FieldSpec::new("sku", FieldType::String).unique_ordered())
        .field(FieldSpec::new("score", FieldType::F64).ordered())
        .field(FieldSpec::new("tag", FieldType::Bytes))
}

fn write(db: &Db) {
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered())
            .field(FieldSpec::new("nick", FieldType::String).optional().hash()),
    )
    .expect("user");
    db.create_namespace("shop").expect("shop");
    db.create_class("shop", &item_spec()).expect("item");
    let mut tx = db.transaction();
    for (email, age, nick) in users() {
        let mut fields = vec![("email", Value::from(email)), ("age", age.into())];
        if let Some(n) = nick {
            fields.push(("nick", n.into()));
        }
        tx.insert("default", "user", fields).expect("user");
    }
    for (sku, score, tag) in items() {
        tx.insert(
            "shop",
            "item",
            [
                ("sku", Value::from(sku)),
                ("score", score.into()),
                ("tag", Value::Bytes(tag)),
            ],
        )
        .expect("item");
    }
    tx.commit().expect("commit");
    // One object deleted, one updated: tombstones and rewritten entries.
    db.delete("default", ObjectId(1)).expect("delete");
    db.update(
        "default",
        ObjectId(2),
        [("email", Value::from("moved@example.org"))],
    )
    .expect("update");
}

/// Regenerates `tests/fixtures/format-v1` (a checkpoint: flushed, openable).
/// Only meaningful with the format-v1 engine.
#[test]
#[ignore = "writes the checked-in fixture; run once by hand with the v1 engine"]
fn write_format_v1_fixture() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::open(
        dir.path().join("db"),
        Options::default().fixed_hash_seed(7, 11),
    )
    .expect("open");
    write(&db);
    let target = fixture("format-v1");
    let _ = std::fs::remove_dir_all(&target);
    db.checkpoint(&target).expect("checkpoint");
    db.close().expect("close");
}

/// What the v2 fixture adds to the v1 one: the format-v2 kinds of index
/// (compound, multi-valued, on a nested member) over a class of documents,
/// and an index added while no runner ran, so its task is still pending.
fn documents() -> ClassSpec {
    let strings = FieldType::List(Box::new(FieldType::String));
    let meta = FieldType::Struct(vec![
        MemberDef {
            name: "kind".into(),
            ty: FieldType::String,
            optional: false,
        },
        MemberDef {
            name: "rank".into(),
            ty: FieldType::I64,
            optional: true,
        },
    ]);
    ClassSpec::new("doc")
        .field(FieldSpec::new("title", FieldType::String))
        .field(FieldSpec::new("tags", strings).optional())
        .field(FieldSpec::new("meta", meta))
        .index(IndexSpec::new(
            "title",
            IndexKind::Hash { unique: true },
            ["title"],
        ))
        .index(IndexSpec::new(
            "tag_rank",
            IndexKind::Ordered { unique: false },
            ["tags", "meta.rank"],
        ))
        .index(IndexSpec::new(
            "kind",
            IndexKind::Hash { unique: false },
            ["meta.kind"],
        ))
}

/// The documents of the v2 fixture: (title, tags, kind, rank).
fn docs() -> Vec<(String, Vec<String>, &'static str, Option<i64>)> {
    (0..30i64)
        .map(|i| {
            let tags = (0..i % 4).map(|t| format!("t{}", (i + t) % 5)).collect();
            let kind = ["memo", "report", "note"][(i % 3) as usize];
            (
                format!("doc {i}"),
                tags,
                kind,
                (i % 7 != 0).then_some(i - 10),
            )
        })
        .collect()
}

fn doc_value(kind: &str, rank: Option<i64>) -> Value {
    let mut members = vec![("kind".to_string(), Value::from(kind))];
    if let Some(r) = rank {
        members.push(("rank".to_string(), Value::I64(r)));
    }
    Value::map(members).expect("meta")
}

/// Regenerates `tests/fixtures/format-v2`: the v1 fixture's content, the
/// documents, and a `pending` index task. Only meaningful with the
/// format-v2 engine.
#[test]
#[ignore = "writes the checked-in fixture; run once by hand with the v2 engine"]
fn write_format_v2_fixture() {
    let dir = tempfile::tempdir().expect("dir");
    let opts = Options::default().fixed_hash_seed(7, 11).runner_threads(0);
    let db = Db::open(dir.path().join("db"), opts).expect("open");
    write(&db);
    db.create_class("default", &documents()).expect("doc");
    let mut tx = db.transaction();
    for (title, tags, kind, rank) in docs() {
        let mut fields = vec![
            ("title", Value::from(title)),
            ("meta", doc_value(kind, rank)),
        ];
        if !tags.is_empty() {
            fields.push((
                "tags",
                Value::List(tags.into_iter().map(Value::from).collect()),
            ));
        }
        tx.insert("default", "doc", fields).expect("doc");
    }
    tx.commit().expect("commit");
    let doc = |i: u64| ObjectId(users().len() as u64 + items().len() as u64 + i);
    db.delete("default", doc(3)).expect("delete a doc");
    db.update("default", doc(4), [("meta", doc_value("memo", Some(99)))])
        .expect("update a doc");
    // Added with no runner: its task stays pending in the fixture.
    db.update_class(
        "shop",
        &item_spec().index(IndexSpec::new(
            "tag",
            IndexKind::Hash { unique: false },
            ["tag"],
        )),
    )
    .expect("an index to build");
    let target = fixture("format-v2");
    let _ = std::fs::remove_dir_all(&target);
    db.checkpoint(&target).expect("checkpoint");
    db.close().expect("close");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// The fixture `name` copied to a fresh directory.
fn fixture_copy(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join("db");
    copy_dir(&fixture(name), &path);
    path
}

/// An old fixture: its name, its version, and how it reads as written.
type OldFixture = (&'static str, FormatVersion, fn(&Db));

/// Each old fixture.
fn old_fixtures() -> [OldFixture; 2] {
    [
        ("format-v1", FormatVersion::V1, reads_as_written),
        ("format-v2", FormatVersion::V2, v2_reads_as_written),
    ]
}

/// Checked to fail: with `db/meta.rs` not telling version 1 apart, the open
/// answers `UnsupportedVersion`, which names no way out.
#[test]
fn the_old_fixtures_are_refused_naming_the_migration() {
    for (name, version, _) in old_fixtures() {
        let dir = tempfile::tempdir().expect("dir");
        let path = fixture_copy(dir.path(), name);
        for _ in 0..2 {
            match Db::open(&path, Options::default()) {
                Err(e @ Error::NeedsMigration { found, supported }) => {
                    assert_eq!((found, supported), (version, FormatVersion::CURRENT));
                    assert!(e.to_string().contains("rockhold migrate"), "{e}");
                }
                other => panic!("{name}: expected NeedsMigration, got {:?}", other.map(drop)),
            }
        }
        // Refused without a change: it still migrates and reads as written.
        let report = Db::migrate(&path, &Options::default()).expect("migrate");
        assert_eq!(report.from, version);
    }
}

/// Each fixture migrated in place reads exactly as written, through every
/// index once the queued tasks ran, and verifies clean; a second migration
/// does nothing; the v2 full-scan column family is gone.
#[test]
fn the_old_fixtures_migrate_and_read_as_written() {
    for (name, version, reads) in old_fixtures() {
        let dir = tempfile::tempdir().expect("dir");
        let path = fixture_copy(dir.path(), name);
        let report = Db::migrate(&path, &Options::default()).expect("migrate");
        // v1's indexes are rebuilt (a task per class); v2's are kept, its
        // one pending task with them.
        let tasks = if version == FormatVersion::V1 { 2 } else { 0 };
        assert_eq!((report.from, report.tasks), (version, tasks), "{report:?}");
        // Users (39 live), items (6), and for v1 classes, names, meta.
        assert!(report.records >= 45, "{report:?}");
        let again = Db::migrate(&path, &Options::default()).expect("again");
        assert_eq!(
            (again.from, again.records, again.tasks),
            (FormatVersion::CURRENT, 0, 0)
        );
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).expect("cfs");
        assert!(
            !families.iter().any(|f| f == "index_full_scan"),
            "{name}: {families:?}"
        );
        let db = Db::open(&path, Options::default()).expect("the migrated fixture opens");
        db.check_reindex_tasks().expect("indexes rebuilt");
        reads(&db);
        db.close().expect("close");
        let db = Db::open(&path, Options::default()).expect("and reopens");
        reads(&db);
        db.close().expect("close");
    }
}

/// A migration that a storage failure stops after any number of writes
/// is finished by running it again: the result reads as written.
/// Checked to fail: with the format version set to 2 before step 2 (the
/// index and task rewrite), a run stopped between the two is no longer
/// refused at open.
#[test]
fn a_migration_stopped_at_any_write_finishes_when_run_again() {
    for (name, _, reads) in old_fixtures() {
        let dir = tempfile::tempdir().expect("dir");
        let path = fixture_copy(dir.path(), name);
        let mut stopped = 0;
        for writes in 0..16u64 {
            let store = FaultyStore::new(MemStore::copy_of(&path).expect("copy"));
            store.fail_after(writes);
            let first = Db::migrate_faulty(&store);
            store.clear_failure();
            if first.is_err() {
                stopped += 1;
                let open = Db::open_faulty(&store, Options::default());
                assert!(
                    matches!(open, Err(Error::NeedsMigration { .. })),
                    "{name}: a half-migrated database must still be refused, after {writes} \
                     writes: {:?}",
                    open.map(drop)
                );
            }
            Db::migrate_faulty(&store).expect("the rerun finishes");
            let db = Db::open_faulty(&store, Options::default()).expect("open");
            db.check_reindex_tasks().expect("indexes rebuilt");
            reads(&db);
            db.close().expect("close");
            if first.is_ok() {
                break;
            }
        }
        assert!(
            stopped >= 2,
            "{name}: the failures stopped only {stopped} runs"
        );
    }
}

fn reads_as_written(db: &Db) {
    let users = users();
    for (i, (email, age, nick)) in users.iter().enumerate() {
        let id = ObjectId(i as u64);
        let got = db.get("default", id).expect("get");
        if i == 1 {
            assert_eq!(got, None, "deleted");
            continue;
        }
        let got = got.expect("a user");
        let email = if i == 2 { "moved@example.org" } else { email };
        assert_eq!(got.get("email"), Some(&Value::from(email)));
        assert_eq!(got.get("age"), Some(&Value::U64(*age)));
        assert_eq!(got.get("nick"), nick.map(Value::from).as_ref());
        assert_eq!(
            db.find_unique("default", "user", "email", &email.into())
                .expect("lookup"),
            Some(id)
        );
    }
    let adults = db
        .scan("default", "user", "age", &RangeScan::all())
        .expect("scan");
    assert_eq!(adults.hits.len(), users.len() - 1);
    assert_eq!(
        db.find_all("default", "user", "nick", &"nick".into())
            .expect("nicks")
            .len(),
        users.iter().filter(|u| u.2.is_some()).count() // user 1, deleted, had none
    );
    let items = db
        .scan("shop", "item", "sku", &RangeScan::all())
        .expect("skus");
    assert_eq!(items.hits.len(), self::items().len());
    for (i, (sku, score, tag)) in self::items().into_iter().enumerate() {
        let id = ObjectId((users.len() + i) as u64);
        let got = db.get("shop", id).expect("get").expect("an item");
        assert_eq!(got.get("sku"), Some(&Value::from(sku)));
        match got.get("score") {
            Some(Value::F64(s)) => assert_eq!(s.to_bits(), score.to_bits(), "score of {id}"),
            other => panic!("score of {id}: {other:?}"),
        }
        assert_eq!(got.get("tag"), Some(&Value::Bytes(tag)));
    }
    assert_invariant(db);
}

/// The v2 fixture's content: the v1 content, the documents through each of
/// their indexes, and the item index whose task was pending, once built.
fn v2_reads_as_written(db: &Db) {
    reads_as_written(db);
    let first = (users().len() + items().len()) as u64;
    let mut live = Vec::new();
    for (i, (title, tags, kind, rank)) in docs().into_iter().enumerate() {
        let id = ObjectId(first + i as u64);
        let got = db.get("default", id).expect("get");
        if i == 3 {
            assert_eq!(got, None, "deleted");
            continue;
        }
        let got = got.expect("a doc");
        let (kind, rank) = if i == 4 {
            ("memo", Some(99))
        } else {
            (kind, rank)
        };
        assert_eq!(got.get("title"), Some(&Value::from(title.as_str())));
        assert_eq!(got.get("meta"), Some(&doc_value(kind, rank)));
        assert_eq!(
            db.find_unique("default", "doc", "title", &title.as_str().into())
                .expect("title"),
            Some(id)
        );
        live.push((id, tags, kind, rank));
    }
    for kind in ["memo", "report", "note"] {
        let want: Vec<ObjectId> = live.iter().filter(|d| d.2 == kind).map(|d| d.0).collect();
        assert_eq!(
            db.find_all("default", "doc", "kind", &kind.into())
                .expect("kind"),
            want,
            "{kind}"
        );
    }
    // One entry per (tag, rank) of a doc with both: tag order, then rank.
    let mut want: Vec<(String, i64, ObjectId)> = live
        .iter()
        .filter_map(|d| d.3.map(|r| (d, r)))
        .flat_map(|(d, r)| {
            let mut tags = d.1.clone();
            tags.sort();
            tags.dedup();
            tags.into_iter().map(move |t| (t, r, d.0))
        })
        .collect();
    want.sort();
    let hits = db
        .scan("default", "doc", "tag_rank", &RangeScan::all())
        .expect("tag_rank");
    let got: Vec<ObjectId> = hits.hits.iter().map(|h| h.1).collect();
    assert_eq!(got, want.iter().map(|w| w.2).collect::<Vec<_>>());
    let tagged = db
        .find_all("shop", "item", "tag", &Value::Bytes(vec![2, 0, 255]))
        .expect("the pending index, built");
    assert_eq!(tagged, vec![ObjectId(users().len() as u64 + 2)]);
}

/// The v2 fixture with one change made by `damage` through raw RocksDB.
fn damaged_v2(dir: &Path, damage: impl FnOnce(&rocksdb::DB)) -> PathBuf {
    let path = fixture_copy(dir, "format-v2");
    rockhold_tests::with_raw_db(&path, damage);
    path
}

/// A v2 database whose generation markers disagree (a column family lost
/// data) is refused by the migration, as `Db::open` would refuse it, and
/// nothing is written: the markers are not rewritten to hide it. Checked to
/// fail: the migration took the newest marker, wrote it everywhere, and
/// the migrated database opened.
#[test]
fn a_migration_refuses_markers_that_disagree() {
    use rockhold_format::{MetaValue, Record};
    let dir = tempfile::tempdir().expect("dir");
    let path = damaged_v2(dir.path(), |raw| {
        let cf = raw.cf_handle("index_hash").expect("cf");
        let mut it = raw.prefix_iterator_cf(cf, b"G");
        let (key, _) = it.next().expect("a marker").expect("read");
        raw.put_cf(cf, &key, MetaValue::Counter(999).encode())
            .expect("put");
    });
    match Db::migrate(&path, &Options::default()) {
        Err(Error::Inconsistent(why)) => assert!(why.contains("lost data"), "{why}"),
        other => panic!("expected Inconsistent, got {other:?}"),
    }
    assert!(matches!(
        Db::open(&path, Options::default()),
        Err(Error::NeedsMigration { .. })
    ));
}

/// One damaged record (its checksum broken, its class intact) does not
/// stop the migration: it moves as it is, `verify` names it, and `repair`
/// (`Db::quarantine`) removes it; the database is then clean. Checked to
/// fail: the migration stopped at the record with `Corruption`, and a v2
/// database cannot be opened to repair it.
#[test]
fn a_damaged_record_moves_and_is_repaired_after_the_migration() {
    let dir = tempfile::tempdir().expect("dir");
    let path = damaged_v2(dir.path(), |raw| {
        let cf = raw.cf_handle("objects").expect("cf");
        // Object 0 of namespace 0 under its v2 key: `O` + ns + id.
        let key = [b'O', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut value = raw.get_cf(cf, key).expect("get").expect("object 0");
        let last = value.len() - 1;
        value[last] ^= 0x20;
        raw.put_cf(cf, key, value).expect("put");
    });
    Db::migrate(&path, &Options::default()).expect("the migration goes on");
    let db = Db::open(&path, Options::default()).expect("open");
    db.check_reindex_tasks().expect("tasks");
    let report = db.verify().expect("verify");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.family == rockhold::Family::Object && p.what.contains("record")),
        "{report:?}"
    );
    db.quarantine("default", ObjectId(0)).expect("repair");
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(db.get("default", ObjectId(0)).expect("get"), None);
    db.close().expect("close");
}
