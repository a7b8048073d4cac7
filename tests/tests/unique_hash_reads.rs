//! A unique hash lookup is one read: the point value keeps each holder's
//! tuple, so a hit is compared there, not on the holder's record (issue 26,
//! item 4). The lookups below find objects whose records are destroyed:
//! with the tuples left out of the value (`encode_hash_holders` writing the
//! bare form), `a_unique_hash_lookup_reads_no_record` fails on the records'
//! corruption. Values in the bare form (written before tuples were kept)
//! are still verified on the records, and `verify` holds a kept tuple to
//! its record.

use rockhold::{ClassSpec, FieldSpec, FieldType, ObjectId, Options, Value};
use rockhold_format::{encode_holders, Key, ObjectKey};
use rockhold_tests::collisions::{colliding, insert, users};
use rockhold_tests::{assert_invariant, hash_points, raw_cf, with_raw_db, TempDb};

fn lookup(db: &TempDb, email: &str) -> Option<ObjectId> {
    db.find_unique("default", "user", "email", &email.into())
        .expect("lookup")
}

/// Every unique hash point value (the `IH` keys with a value) of a closed
/// database, rewritten by `f`.
fn rewrite_points(path: &std::path::Path, f: impl Fn(&[u8]) -> Vec<u8>) -> usize {
    with_raw_db(path, |raw| {
        let cf = raw_cf(raw, rockhold::Family::Hash);
        let points = hash_points(raw);
        for (k, v) in &points {
            raw.put_cf(cf, k, f(v)).expect("rewrite");
        }
        points.len()
    })
}

/// The records of `ids`, overwritten with bytes that do not decode.
fn destroy_records(path: &std::path::Path, class: rockhold_format::ClassId, ids: &[ObjectId]) {
    with_raw_db(path, |raw| {
        for &id in ids {
            let key = ObjectKey {
                ns: rockhold::NamespaceId::DEFAULT,
                class,
                id,
            }
            .encode();
            raw.put_cf(raw_cf(raw, rockhold::Family::Object), key, b"\x00destroyed")
                .expect("destroy");
        }
    });
}

fn class_id(db: &TempDb) -> rockhold_format::ClassId {
    db.class("default", "user")
        .and_then(|c| c.def())
        .expect("class")
        .id
}

/// Lookups, colliding or not, answer from the point value alone: the
/// holders' records are unreadable and every answer is still right.
#[test]
fn a_unique_hash_lookup_reads_no_record() {
    for options in [Options::default().runner_threads(0), colliding()] {
        let mut db = TempDb::with_options(options);
        users(&db);
        let a = insert(&db, "a@x");
        let b = insert(&db, "b@x");
        let class = class_id(&db);
        let path = db.close().to_path_buf();
        destroy_records(&path, class, &[a, b]);
        db.open_again().expect("reopen");
        assert!(db.get("default", a).is_err(), "the record is destroyed");
        assert_eq!(
            (lookup(&db, "a@x"), lookup(&db, "b@x"), lookup(&db, "c@x")),
            (Some(a), Some(b), None)
        );
    }
}

/// A point value in the bare form (holders without tuples, as written
/// before tuples were kept) is verified on the holders' records: colliding
/// values are told apart, a duplicate is refused, and the next write of
/// the key keeps the new holder's tuple beside the bare ones.
#[test]
fn a_bare_point_value_is_verified_on_the_records() {
    let mut db = TempDb::with_options(colliding());
    users(&db);
    let a = insert(&db, "a@x");
    let b = insert(&db, "b@x");
    let path = db.close().to_path_buf();
    let rewritten = rewrite_points(&path, |v| {
        let mut bare = Vec::new();
        encode_holders(
            &rockhold_format::decode_holders(v).expect("holders"),
            &mut bare,
        );
        bare
    });
    assert_eq!(rewritten, 1, "every value shares one point key");
    db.open_again().expect("reopen");
    assert_eq!(
        (lookup(&db, "a@x"), lookup(&db, "b@x"), lookup(&db, "c@x")),
        (Some(a), Some(b), None)
    );
    let dup = db
        .insert("default", "user", [("email", Value::from("b@x"))])
        .expect_err("a duplicate");
    assert!(
        matches!(dup, rockhold::Error::UniqueViolation { existing, .. } if existing == b),
        "{dup}"
    );
    // A self-check writes the tuples beside the bare holders (a lookup is
    // one read again) and reports no repair: nothing was damaged.
    assert_eq!(db.self_check().expect("self-check"), 0);
    let c = insert(&db, "c@x");
    assert_eq!(
        (lookup(&db, "a@x"), lookup(&db, "b@x"), lookup(&db, "c@x")),
        (Some(a), Some(b), Some(c))
    );
    assert_invariant(&db);
    let path = db.close().to_path_buf();
    let kept = with_raw_db(&path, |raw| {
        hash_points(raw).iter().all(|(_, v)| {
            rockhold_format::decode_hash_holders(v)
                .expect("holders")
                .iter()
                .all(|h| h.tuple.is_some())
        })
    });
    assert!(kept, "the self-check wrote every holder's tuple");
}

/// `verify` reports a kept tuple that the holder's record does not hold
/// (a lookup trusts it): here the value says a@x's holder holds z@x.
#[test]
fn verify_holds_a_kept_tuple_to_its_record() {
    let mut db = TempDb::with_options(Options::default().runner_threads(0));
    users(&db);
    let a = insert(&db, "a@x");
    let path = db.close().to_path_buf();
    rewrite_points(&path, |v| {
        let at = v
            .windows(3)
            .position(|w| w == b"a@x")
            .expect("the value keeps the tuple");
        let mut v = v.to_vec();
        v[at] = b'z';
        v
    });
    db.open_again().expect("reopen");
    assert_eq!(lookup(&db, "a@x"), None, "the kept tuple is trusted");
    let report = db.verify().expect("verify");
    let found: Vec<&str> = report.problems.iter().map(|p| p.what.as_str()).collect();
    assert!(
        found.iter().any(|p| p.contains(&format!(
            "the value kept for holder {a} in email is not one its record holds"
        ))),
        "{found:?}"
    );
}

/// One object holding two values of one hash (a multi-valued index under a
/// collision) keeps no tuple in the value, which has one entry per holder:
/// both lookups find it on its record. With the first tuple kept instead,
/// the second lookup misses.
#[test]
fn an_object_holding_two_colliding_values_is_found_by_both() {
    let db = TempDb::with_options(colliding());
    db.create_class(
        "default",
        &ClassSpec::new("user").field(
            FieldSpec::new("emails", FieldType::List(Box::new(FieldType::String))).unique_hash(),
        ),
    )
    .expect("class");
    let list = |v: &[&str]| Value::List(v.iter().map(|s| Value::from(*s)).collect());
    let a = db
        .insert("default", "user", [("emails", list(&["a@x", "b@x"]))])
        .expect("insert");
    let c = db
        .insert("default", "user", [("emails", list(&["c@x"]))])
        .expect("insert");
    let find = |v: &str| {
        db.find_unique("default", "user", "emails", &v.into())
            .expect("lookup")
    };
    assert_eq!(
        (find("a@x"), find("b@x"), find("c@x"), find("d@x")),
        (Some(a), Some(a), Some(c), None)
    );
    assert_invariant(&db);
}

/// A bulk build writes the tuples too: after the index is built over
/// existing objects, lookups answer with the records destroyed.
#[test]
fn a_bulk_build_keeps_the_tuples() {
    let mut db = TempDb::with_options(colliding());
    db.create_class(
        "default",
        &ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String)),
    )
    .expect("class");
    let ids: Vec<ObjectId> = ["a@x", "b@x", "c@x"]
        .iter()
        .map(|e| insert(&db, e))
        .collect();
    users_indexed(&db);
    db.check_reindex_tasks().expect("build");
    assert_invariant(&db);
    let class = class_id(&db);
    let path = db.close().to_path_buf();
    destroy_records(&path, class, &ids);
    db.open_again().expect("reopen");
    assert_eq!(
        (
            lookup(&db, "a@x"),
            lookup(&db, "b@x"),
            lookup(&db, "c@x"),
            lookup(&db, "d@x")
        ),
        (Some(ids[0]), Some(ids[1]), Some(ids[2]), None)
    );
}

fn users_indexed(db: &TempDb) {
    db.update_class(
        "default",
        &ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String).unique_hash()),
    )
    .expect("add index");
}
