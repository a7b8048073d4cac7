//! Regression tests for the flaws of the reference design (SPEC §12).

use rockhold::{ClassSpec, Error, FieldSpec, FieldType, IndexState, RangeScan, Value};
use rockhold_tests::{assert_invariant, TempDb};

fn users() -> TempDb {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("handle", FieldType::String).unique_ordered())
            .field(FieldSpec::new("city", FieldType::String).hash()),
    )
    .expect("class");
    db
}

fn user(email: &str, handle: &str, city: &str) -> [(&'static str, Value); 3] {
    [
        ("email", email.into()),
        ("handle", handle.into()),
        ("city", city.into()),
    ]
}

/// Duplicates inside one batch passed because uniqueness was checked against committed data only.
#[test]
fn duplicate_unique_values_inside_one_transaction_are_refused() {
    let db = users();
    for (a, b) in [
        (user("a@x", "a", "p"), user("a@x", "b", "p")),
        (user("a@x", "a", "p"), user("b@x", "a", "p")),
    ] {
        let mut tx = db.transaction();
        tx.insert("default", "user", a).expect("stage");
        tx.insert("default", "user", b).expect("stage");
        assert!(matches!(tx.commit(), Err(Error::UniqueViolation { .. })));
        assert!(
            db.scan_class("default", "user", None, 10)
                .expect("scan")
                .is_empty(),
            "nothing written"
        );
    }
    // Two renames onto one value in one transaction, too.
    let x = db
        .insert("default", "user", user("x@x", "x", "p"))
        .expect("x");
    let y = db
        .insert("default", "user", user("y@x", "y", "p"))
        .expect("y");
    let mut tx = db.transaction();
    tx.update("default", x, [("email", "z@x")]);
    tx.update("default", y, [("email", "z@x")]);
    let err = tx.commit().expect_err("two holders");
    assert!(
        matches!(err, Error::UniqueViolation { ref index, .. } if index == "email"),
        "{err}"
    );
    assert_eq!(
        db.get("default", x).expect("get").expect("x").get("email"),
        Some(&"x@x".into())
    );
    // Swapping two values in one transaction is fine.
    let mut tx = db.transaction();
    tx.update("default", x, [("email", "y@x")]);
    tx.update("default", y, [("email", "x@x")]);
    tx.commit().expect("swap");
    assert_eq!(
        db.find_unique("default", "user", "email", &"x@x".into())
            .expect("find"),
        Some(y)
    );
    assert_invariant(&db);
}

/// A rename left the old value's entry and cache hit behind: false violations on reuse.
#[test]
fn rename_then_reuse_of_the_old_value() {
    let db = users();
    let a = db
        .insert("default", "user", user("old@x", "old", "p"))
        .expect("a");
    // Warm the cache with the old value.
    assert_eq!(
        db.find_unique("default", "user", "email", &"old@x".into())
            .expect("find"),
        Some(a)
    );
    db.update(
        "default",
        a,
        [("email", Value::from("new@x")), ("handle", "new".into())],
    )
    .expect("rename");
    assert_eq!(
        db.find_unique("default", "user", "email", &"old@x".into())
            .expect("find"),
        None,
        "no stale cache hit"
    );
    assert_eq!(
        db.find_unique("default", "user", "handle", &"old".into())
            .expect("find"),
        None
    );
    let b = db
        .insert("default", "user", user("old@x", "old", "p"))
        .expect("old value is free again");
    assert_eq!(
        db.find_unique("default", "user", "email", &"old@x".into())
            .expect("find"),
        Some(b)
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"new@x".into())
            .expect("find"),
        Some(a)
    );
    assert_invariant(&db);
}

/// There was no object delete; a lookup after one must find nothing.
#[test]
fn delete_then_lookup() {
    let db = users();
    let a = db
        .insert("default", "user", user("a@x", "a", "paris"))
        .expect("a");
    assert_eq!(
        db.find_unique("default", "user", "email", &"a@x".into())
            .expect("find"),
        Some(a)
    );
    db.delete("default", a).expect("delete");
    assert_eq!(db.get("default", a).expect("get"), None);
    assert_eq!(
        db.find_unique("default", "user", "email", &"a@x".into())
            .expect("find"),
        None
    );
    assert!(db
        .find_all("default", "user", "city", &"paris".into())
        .expect("find_all")
        .is_empty());
    assert!(db
        .scan("default", "user", "handle", &RangeScan::all())
        .expect("scan")
        .hits
        .is_empty());
    assert!(matches!(
        db.delete("default", a),
        Err(Error::UnknownObject { .. })
    ));
    assert_invariant(&db);
}

/// A stale member deleted the whole index key, losing the other holders of a non-unique value.
#[test]
fn removing_one_holder_keeps_the_others() {
    let db = users();
    let a = db
        .insert("default", "user", user("a@x", "a", "paris"))
        .expect("a");
    let b = db
        .insert("default", "user", user("b@x", "b", "paris"))
        .expect("b");
    let c = db
        .insert("default", "user", user("c@x", "c", "paris"))
        .expect("c");
    db.update("default", b, [("city", "rome")]).expect("move b");
    db.delete("default", c).expect("delete c");
    assert_eq!(
        db.find_all("default", "user", "city", &"paris".into())
            .expect("paris"),
        vec![a]
    );
    assert_eq!(
        db.find_all("default", "user", "city", &"rome".into())
            .expect("rome"),
        vec![b]
    );
    assert_invariant(&db);
}

/// The index removal path was unreachable.
#[test]
fn removing_an_index_deletes_its_entries() {
    let db = users();
    db.insert("default", "user", user("a@x", "a", "paris"))
        .expect("a");
    db.drop_index("default", "user", "city")
        .expect("drop the city index");
    assert_eq!(
        db.index_state("default", "user", "city").expect("state"),
        IndexState::None
    );
    assert!(matches!(
        db.find_all("default", "user", "city", &"paris".into()),
        Err(Error::UnknownIndex { .. })
    ));
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(
        report.index_entries, 3,
        "IF + email + handle, the city entry is gone"
    );
}
