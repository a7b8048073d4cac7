//! Backward compatibility: databases written by earlier versions of the
//! format, checked in under `tests/fixtures/`, open and read as they were
//! written. `format-v1` was written by the format-v1 engine (this test's
//! `write_format_v1_fixture`, run once with `--ignored`); when the format
//! changes, this test says what the new code must do with it.

use std::path::{Path, PathBuf};

use rockhold::{ClassSpec, Db, FieldSpec, FieldType, ObjectId, Options, RangeScan, Value};
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
    db.create_class(
        "shop",
        &ClassSpec::new("item")
            .field(FieldSpec::new("sku", FieldType::String).unique_ordered())
            .field(FieldSpec::new("score", FieldType::F64).ordered())
            .field(FieldSpec::new("tag", FieldType::Bytes)),
    )
    .expect("item");
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// The v1 fixture opens with this engine (format v1) and reads exactly as
/// written, through every index, and verifies clean.
#[test]
fn the_format_v1_fixture_reads_as_written() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("db");
    copy_dir(&fixture("format-v1"), &path);
    let db = Db::open(&path, Options::default()).expect("the v1 fixture opens");
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
    assert_invariant(&db);
    db.close().expect("close");
}
