//! Hash collisions under unique hash indexes, forced by keeping no bit of
//! the value hash (`Options::test_hash_bits(0)`): every value then shares
//! one `IH` prefix, so the holders of different values interleave by id.

use rockhold::{ClassSpec, FieldSpec, FieldType, ObjectId, Value};
use rockhold_format::{decode_holders, encode_holders, Key, ObjectKey, ObjectRecord, Record};
use rockhold_tests::collisions::{colliding, insert, users};
use rockhold_tests::{assert_invariant, hash_points, raw_cf, with_raw_db, TempDb};
/// Colliding values are told apart on the records: distinct values are all
/// admitted and found, a true duplicate is refused.
#[test]
fn colliding_values_are_distinct_values_to_every_write_and_lookup() {
    let db = TempDb::with_options(colliding());
    users(&db);
    let a = insert(&db, "a@x");
    let b = insert(&db, "b@x");
    let err = db
        .insert("default", "user", [("email", Value::from("a@x"))])
        .expect_err("a duplicate");
    assert!(
        matches!(err, rockhold::Error::UniqueViolation { existing, .. } if existing == a),
        "{err}"
    );
    let lookup = |v: &str| {
        db.find_unique("default", "user", "email", &v.into())
            .expect("lookup")
    };
    assert_eq!(
        (lookup("a@x"), lookup("b@x"), lookup("c@x")),
        (Some(a), Some(b), None)
    );
    db.update("default", a, [("email", Value::from("c@x"))])
        .expect("rename");
    let again = insert(&db, "a@x"); // free again
    assert_eq!((lookup("a@x"), lookup("c@x")), (Some(again), Some(a)));
    assert_invariant(&db);
}

/// `verify` compared each unique entry with its neighbour only: holders of
/// one value separated by a holder of a colliding value (a@x, b@x, a@x by
/// id) were not reported. With the group-wide check (`index::unique`)
/// replaced by a neighbour comparison, this test fails.
#[test]
fn verify_finds_two_holders_of_a_value_whose_entries_are_not_neighbours() {
    let mut db = TempDb::with_options(colliding());
    users(&db);
    let a = insert(&db, "a@x");
    let b = insert(&db, "b@x");
    let c = insert(&db, "c@x");
    assert_invariant(&db);
    let class = db
        .class("default", "user")
        .and_then(|c| c.def())
        .expect("class");
    let email = class.field("email").expect("email").id;
    let ns = rockhold::NamespaceId::DEFAULT;
    let path = db.close().to_path_buf();
    // c's record now holds a@x; its IH entry (hash 0, like every other)
    // stays valid for its value, so only the second holder is wrong.
    with_raw_db(&path, |raw| {
        let key = ObjectKey {
            ns,
            class: class.id,
            id: c,
        }
        .encode();
        let rec = ObjectRecord {
            class: class.id,
            fields: vec![(email, Value::from("a@x"))],
        };
        raw.put_cf(raw_cf(raw, rockhold::Family::Object), key, rec.encode())
            .expect("plant");
        // The point value in its bare form (holders without the tuples it
        // keeps, which verify would report first: c's is still c@x).
        let cf = raw_cf(raw, rockhold::Family::Hash);
        let points = hash_points(raw);
        assert_eq!(
            points.len(),
            1,
            "every value shares one point key: {points:?}"
        );
        let mut bare = Vec::new();
        encode_holders(&decode_holders(&points[0].1).expect("holders"), &mut bare);
        raw.put_cf(cf, &points[0].0, bare).expect("bare");
    });
    db.open_again().expect("reopen");
    let report = db.verify().expect("verify");
    let found: Vec<&str> = report.problems.iter().map(|p| p.what.as_str()).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(&format!("second holder {c} of unique value"))
            && found[0].contains(&format!("first: {a}")),
        "{found:?}"
    );
    assert!(!found[0].contains(&b.to_string()), "{found:?}");
}

/// A bulk build finds duplicates among colliding values on the records:
/// distinct colliding values pass, two holders of one value fail the task.
#[test]
fn a_bulk_build_tells_colliding_values_from_duplicates() {
    let db = TempDb::with_options(colliding());
    db.create_class(
        "default",
        &ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String)),
    )
    .expect("class");
    for e in ["a@x", "b@x", "c@x", "d@x"] {
        insert(&db, e);
    }
    let dup = insert(&db, "b@x");
    db.update_class(
        "default",
        &ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String).unique_hash()),
    )
    .expect("add index");
    let err = db.check_reindex_tasks().expect_err("duplicates");
    assert!(
        matches!(err, rockhold::Error::ReindexFailed { .. }),
        "{err}"
    );
    let task = db.tasks().expect("tasks").remove(0).record;
    assert_eq!(task.conflicts, vec![ObjectId(1), dup]);
    db.delete("default", dup).expect("delete the duplicate");
    db.retry_failed_tasks().expect("requeue");
    db.check_reindex_tasks().expect("now it builds");
    assert_invariant(&db);
}
