//! Reads over the clustered layout (format v3): records keyed by class, an
//! object found by id through its locator or the object → class cache.

use rockhold::{ClassSpec, Error, FieldSpec, FieldType, ObjectId, Value};
use rockhold_tests::TempDb;

fn two_classes() -> TempDb {
    let db = TempDb::new();
    for class in ["a", "b"] {
        db.create_class(
            "default",
            &ClassSpec::new(class).field(FieldSpec::new("v", FieldType::U64)),
        )
        .expect("class");
    }
    db
}

/// An id deleted and ingested again as an object of another class: the
/// cache's class of the id (a hint) is wrong for a snapshot taken before,
/// which still reads the first object through the locator; the live reads
/// see the second. Checked to fail: with `View::record` trusting the
/// cached class, the snapshot's `get` answered `None`.
#[test]
fn an_id_given_back_in_another_class_reads_right_at_every_state() {
    let db = two_classes();
    let id = db.insert("default", "a", [("v", 1u64)]).expect("insert");
    let first = db.get("default", id).expect("get").expect("exists");
    assert_eq!(db.class_of("default", id).expect("class"), Some("a".into()));
    let before = db.snapshot();
    db.delete("default", id).expect("delete");
    assert_eq!(db.class_of("default", id).expect("class"), None);
    db.ingest("default", "b", id, [("v", 2u64)])
        .expect("ingest");
    let now = db.get("default", id).expect("get").expect("exists");
    assert_eq!(
        (now.class.as_str(), now.get("v")),
        ("b", Some(&Value::U64(2)))
    );
    assert_eq!(db.class_of("default", id).expect("class"), Some("b".into()));
    // The cache now knows `b`; the snapshot's object is of `a`.
    assert_eq!(
        before.get("default", id).expect("snapshot get"),
        Some(first)
    );
    assert_eq!(db.count("default", "a").expect("count"), 0);
    assert_eq!(db.count("default", "b").expect("count"), 1);
}

/// A class handle reads its own class's record in one read, and tells an
/// object of another class (found through the locator) from none.
#[test]
fn a_class_handle_tells_another_class_from_none() {
    let db = two_classes();
    let in_b = db.insert("default", "b", [("v", 7u64)]).expect("insert");
    let a = db.class("default", "a").expect("handle");
    assert!(matches!(a.get(in_b), Err(Error::ClassMismatch { .. })));
    assert_eq!(a.get(ObjectId(999)).expect("none"), None);
    let b = db.class("default", "b").expect("handle");
    assert_eq!(
        b.get(in_b).expect("get").and_then(|o| o.get("v").cloned()),
        Some(Value::U64(7))
    );
    assert_eq!(b.count().expect("count"), 1);
}
