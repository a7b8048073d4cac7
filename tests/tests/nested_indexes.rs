//! Compound, multi-valued and nested-path indexes (format v2): what each
//! finds, what it refuses (every refusal a typed error naming the class and
//! index or field, with nothing written), and that `verify` catches damage
//! to each kind of entry.

use std::ops::Bound;

use rockhold::{
    ClassSpec, Error, FieldSpec, FieldType, IndexKind, IndexSpec, MemberDef, ObjectId, Options,
    RangeScan, Value, MAX_DEPTH,
};
use rockhold_format::{HashKey, IndexId, Key, OrderedKey};
use rockhold_tests::{assert_invariant, raw_cf, with_raw_db, TempDb};

fn address() -> FieldType {
    FieldType::Struct(vec![
        MemberDef {
            name: "city".into(),
            ty: FieldType::String,
            optional: false,
        },
        MemberDef {
            name: "zip".into(),
            ty: FieldType::U64,
            optional: true,
        },
    ])
}

fn strings() -> FieldType {
    FieldType::List(Box::new(FieldType::String))
}

/// A person: (last, first) unique, tags per element, emails unique per
/// element, homes (a list of structs) indexed on their city.
fn people() -> ClassSpec {
    ClassSpec::new("person")
        .field(FieldSpec::new("last", FieldType::String))
        .field(FieldSpec::new("first", FieldType::String))
        .field(FieldSpec::new("tags", strings()).optional().hash())
        .field(FieldSpec::new("emails", strings()).optional().unique_hash())
        .field(FieldSpec::new("address", address()).optional())
        .field(FieldSpec::new("homes", FieldType::List(Box::new(address()))).optional())
        .index(IndexSpec::new(
            "name",
            IndexKind::Ordered { unique: true },
            ["last", "first"],
        ))
        .index(IndexSpec::new(
            "city",
            IndexKind::Hash { unique: false },
            ["address.city"],
        ))
        .index(IndexSpec::new(
            "home_city",
            IndexKind::Ordered { unique: false },
            ["homes.city"],
        ))
}

fn city(c: &str) -> Value {
    Value::map([("city".to_string(), Value::from(c))]).expect("map")
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn person(
    db: &TempDb,
    last: &str,
    first: &str,
    extra: Vec<(&str, Value)>,
) -> rockhold::Result<ObjectId> {
    let mut fields = vec![("last", Value::from(last)), ("first", Value::from(first))];
    fields.extend(extra);
    db.insert("default", "person", fields)
}

fn setup(opts: Options) -> TempDb {
    let db = TempDb::with_options(opts);
    db.create_class("default", &people()).expect("class");
    db
}

#[test]
fn each_kind_of_index_finds_its_holders() {
    let db = setup(Options::default());
    let ada = person(
        &db,
        "Lovelace",
        "Ada",
        vec![
            ("tags", list(&["math", "poetry", "math"])),
            ("emails", list(&["ada@x", "al@x"])),
            ("address", city("London")),
            ("homes", Value::List(vec![city("London"), city("Ockham")])),
        ],
    )
    .expect("ada");
    let byron = person(
        &db,
        "Lovelace",
        "Byron",
        vec![("tags", list(&["poetry"])), ("address", city("London"))],
    )
    .expect("byron");
    let find_all =
        |index: &str, v: Value| db.find_all("default", "person", index, &v).expect(index);
    assert_eq!(find_all("tags", "math".into()), vec![ada]);
    assert_eq!(find_all("tags", "poetry".into()), vec![ada, byron]);
    assert_eq!(find_all("city", "London".into()), vec![ada, byron]);
    assert_eq!(find_all("home_city", "Ockham".into()), vec![ada]);
    let unique =
        |index: &str, v: Value| db.find_unique("default", "person", index, &v).expect(index);
    assert_eq!(unique("emails", "al@x".into()), Some(ada));
    assert_eq!(
        unique("name", Value::List(vec!["Lovelace".into(), "Byron".into()])),
        Some(byron)
    );
    // A leading subset of the compound ordered index: both Lovelaces, by first name.
    let lead = Value::List(vec!["Lovelace".into()]);
    let hits = db
        .scan(
            "default",
            "person",
            "name",
            &RangeScan::between(Bound::Included(lead.clone()), Bound::Included(lead)),
        )
        .expect("scan")
        .hits;
    assert_eq!(
        hits.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        vec![ada, byron]
    );
    // A prefix of the last part, after the leading one.
    let by_prefix = db
        .scan(
            "default",
            "person",
            "name",
            &RangeScan::prefix(Value::List(vec!["Lovelace".into(), "B".into()])),
        )
        .expect("prefix")
        .hits;
    assert_eq!(
        by_prefix,
        vec![(Value::List(vec!["Lovelace".into(), "Byron".into()]), byron)]
    );
    // An update adds and removes exactly the changed elements.
    db.update("default", ada, [("tags", list(&["poetry", "code"]))])
        .expect("retag");
    assert_eq!(find_all("tags", "math".into()), Vec::<ObjectId>::new());
    assert_eq!(find_all("tags", "code".into()), vec![ada]);
    assert_eq!(find_all("tags", "poetry".into()), vec![ada, byron]);
    // A freed element of a unique list is free for another holder.
    db.update("default", ada, [("emails", list(&["ada@x"]))])
        .expect("drop an email");
    db.update("default", byron, [("emails", list(&["al@x"]))])
        .expect("al@x is free");
    assert_eq!(unique("emails", "al@x".into()), Some(byron));
    assert_invariant(&db);
}

#[test]
fn unique_elements_and_tuples_are_unique_across_objects_and_in_one_batch() {
    let db = setup(Options::default());
    let ada = person(&db, "L", "Ada", vec![("emails", list(&["a@x", "a@x"]))])
        .expect("an element twice in one object is one entry");
    let dup =
        person(&db, "M", "Bo", vec![("emails", list(&["b@x", "a@x"]))]).expect_err("a@x is held");
    assert!(
        matches!(&dup, Error::UniqueViolation { index, existing, .. } if index == "emails" && *existing == ada),
        "{dup:?}"
    );
    let dup = person(&db, "L", "Ada", vec![]).expect_err("(L, Ada) is held");
    assert!(
        matches!(&dup, Error::UniqueViolation { index, value: Value::List(_), .. } if index == "name"),
        "{dup:?}"
    );
    let mut tx = db.transaction();
    tx.insert(
        "default",
        "person",
        [
            ("last", Value::from("X")),
            ("first", "1".into()),
            ("emails", list(&["c@x"])),
        ],
    )
    .expect("stage");
    tx.insert(
        "default",
        "person",
        [
            ("last", Value::from("Y")),
            ("first", "2".into()),
            ("emails", list(&["d@x", "c@x"])),
        ],
    )
    .expect("stage");
    assert!(matches!(tx.commit(), Err(Error::UniqueViolation { .. })));
    assert_eq!(
        db.find_unique("default", "person", "emails", &"c@x".into())
            .expect("c"),
        None,
        "nothing of the refused batch was written"
    );
    assert_invariant(&db);
}

/// Every unique tuple collides (no hash bit kept): the holders of one point
/// key are told apart by their records, for a compound and a list index.
#[test]
fn colliding_tuples_share_a_point_key_and_stay_apart() {
    let db = TempDb::with_options(Options::default().fixed_hash_seed(3, 4).test_hash_bits(0));
    db.create_class(
        "default",
        &ClassSpec::new("pair")
            .field(FieldSpec::new("a", FieldType::U64))
            .field(FieldSpec::new("b", FieldType::U64))
            .field(FieldSpec::new("codes", strings()).optional().unique_hash())
            .index(IndexSpec::new(
                "ab",
                IndexKind::Hash { unique: true },
                ["a", "b"],
            )),
    )
    .expect("class");
    let insert = |a: u64, b: u64, codes: &[&str]| {
        db.insert(
            "default",
            "pair",
            [
                ("a", Value::U64(a)),
                ("b", Value::U64(b)),
                ("codes", list(codes)),
            ],
        )
    };
    let x = insert(1, 2, &["p", "q"]).expect("x");
    let y = insert(2, 1, &["r"]).expect("y: another tuple, the same hash");
    assert!(
        matches!(insert(1, 2, &[]), Err(Error::UniqueViolation { existing, .. }) if existing == x)
    );
    assert!(
        matches!(insert(5, 5, &["q"]), Err(Error::UniqueViolation { existing, .. }) if existing == x)
    );
    let find = |index: &str, v: Value| db.find_unique("default", "pair", index, &v).expect(index);
    let ab = |a: u64, b: u64| Value::List(vec![Value::U64(a), Value::U64(b)]);
    assert_eq!(
        (
            find("ab", ab(1, 2)),
            find("ab", ab(2, 1)),
            find("ab", ab(3, 3))
        ),
        (Some(x), Some(y), None)
    );
    assert_eq!(
        (find("codes", "q".into()), find("codes", "r".into())),
        (Some(x), Some(y))
    );
    db.delete("default", x).expect("delete x");
    assert_eq!(
        (find("ab", ab(1, 2)), find("ab", ab(2, 1))),
        (None, Some(y))
    );
    assert_eq!(find("codes", "r".into()), Some(y));
    assert_invariant(&db);
}

#[test]
fn bad_index_definitions_and_bad_values_are_refused_by_name() {
    let db = setup(Options::default());
    let invalid = |spec: IndexSpec, why: &str| {
        let err = db
            .update_class("default", &people().index(spec))
            .expect_err(why);
        assert!(
            matches!(&err, Error::InvalidIndex { class, .. } if class == "person"),
            "{why}: {err:?}"
        );
        assert!(err.to_string().contains("person.bad"), "{why}: {err}");
    };
    let bad = |parts: &[&str]| {
        IndexSpec::new(
            "bad",
            IndexKind::Hash { unique: false },
            parts.iter().copied(),
        )
    };
    invalid(bad(&["nope"]), "an unknown field");
    invalid(bad(&["last", "last"]), "a repeated part");
    invalid(bad(&["address.street"]), "a path not in the schema");
    invalid(bad(&["last.x"]), "a path into a scalar");
    invalid(bad(&["tags", "homes.city"]), "two multi-valued parts");
    invalid(bad(&[]), "no part");
    assert_eq!(
        db.class("default", "person")
            .and_then(|c| c.def())
            .expect("class")
            .revision,
        1,
        "nothing changed"
    );

    let wrong_shape = person(
        &db,
        "A",
        "B",
        vec![(
            "address",
            Value::map([("city".to_string(), Value::U64(1))]).expect("map"),
        )],
    )
    .expect_err("a city is a string");
    assert!(
        matches!(&wrong_shape, Error::WrongType { field, path, .. } if field == "address" && path == ".city"),
        "{wrong_shape:?}"
    );
    let missing_member = person(
        &db,
        "A",
        "B",
        vec![(
            "address",
            Value::map([("zip".to_string(), Value::U64(1))]).expect("map"),
        )],
    )
    .expect_err("city is required");
    assert!(
        matches!(missing_member, Error::WrongType { .. }),
        "{missing_member:?}"
    );
    let mut deep = Value::from("x");
    for _ in 0..=MAX_DEPTH {
        deep = Value::List(vec![deep]);
    }
    let too_deep = person(&db, "A", "B", vec![("tags", deep)]).expect_err("too deep");
    assert!(
        matches!(too_deep, Error::TooDeep { .. } | Error::WrongType { .. }),
        "{too_deep:?}"
    );
    let wrong_element = person(
        &db,
        "A",
        "B",
        vec![("tags", Value::List(vec![Value::U64(1)]))],
    )
    .expect_err("tags are strings");
    assert!(
        matches!(&wrong_element, Error::WrongType { path, .. } if path == "[0]"),
        "{wrong_element:?}"
    );
    assert!(
        db.scan_class("default", "person", None, 10)
            .expect("scan")
            .is_empty(),
        "nothing written"
    );
}

/// `verify` reports a missing element entry, a stale compound entry and a
/// point key naming an object that does not hold its tuple.
#[test]
fn verify_checks_every_kind_of_entry() {
    let mut db = setup(Options::default().runner_threads(0).fixed_hash_seed(5, 6));
    let ada = person(
        &db,
        "L",
        "Ada",
        vec![("tags", list(&["a", "b"])), ("emails", list(&["e@x"]))],
    )
    .expect("ada");
    assert_invariant(&db);
    let def = db
        .class("default", "person")
        .and_then(|c| c.def())
        .expect("class");
    let index = |name: &str| def.index(name).expect(name).id;
    let (tags, name, emails): (IndexId, IndexId, IndexId) =
        (index("tags"), index("name"), index("emails"));
    let ns = rockhold::NamespaceId::DEFAULT;
    let path = db.close().to_path_buf();
    let seed = rockhold_format::HashSeed { k0: 5, k1: 6 };
    with_raw_db(&path, |raw| {
        let hash = |v: &Value| seed.hash_value(v);
        // The entry of tag "b" goes missing.
        let missing = HashKey {
            ns,
            class: def.id,
            index: tags,
            hash: hash(&"b".into()),
            id: Some(ada),
        }
        .encode();
        raw.delete_cf(raw_cf(raw, rockhold::Family::Hash), missing)
            .expect("delete");
        // A compound entry for a tuple ada does not hold.
        let stale = OrderedKey {
            ns,
            class: def.id,
            index: name,
            values: vec!["L".into(), "Zed".into()],
            id: None,
        }
        .encode();
        raw.put_cf(
            raw_cf(raw, rockhold::Family::Ordered),
            stale,
            ada.0.to_be_bytes(),
        )
        .expect("put");
        // A point key of an email nobody holds, naming ada.
        let wrong = HashKey {
            ns,
            class: def.id,
            index: emails,
            hash: hash(&"z@x".into()),
            id: None,
        }
        .encode();
        raw.put_cf(
            raw_cf(raw, rockhold::Family::Hash),
            wrong,
            ada.0.to_be_bytes(),
        )
        .expect("put");
    });
    db.open_again().expect("reopen");
    let report = db.verify().expect("verify");
    let text = format!("{:#?}", report.problems);
    assert_eq!(report.problems.len(), 3, "{text}");
    assert!(text.contains("missing"), "{text}");
    assert!(
        text.matches("does not hold this value").count() == 2,
        "{text}"
    );
}

/// A struct member given as absent is the member missing: both forms are
/// stored as one value, so equal structs are equal to every index.
/// Checked to fail: without `canonical_value` on the write path, the two
/// addresses are stored as given and the whole-struct index holds two
/// values.
#[test]
fn an_absent_struct_member_is_stored_as_missing() {
    let db = TempDb::with_options(Options::default());
    db.create_class(
        "default",
        &ClassSpec::new("place")
            .field(FieldSpec::new("address", address()).hash())
            .field(FieldSpec::new("homes", FieldType::List(Box::new(address()))).optional()),
    )
    .expect("class");
    let with_absent = Value::map([
        ("city".to_string(), Value::from("Oslo")),
        ("zip".to_string(), Value::Absent),
    ])
    .expect("map");
    let a = db
        .insert(
            "default",
            "place",
            [
                ("address", with_absent.clone()),
                ("homes", Value::List(vec![with_absent])),
            ],
        )
        .expect("a");
    let b = db
        .insert("default", "place", [("address", city("Oslo"))])
        .expect("b");
    let got = db.get("default", a).expect("get").expect("a");
    assert_eq!(got.get("address"), Some(&city("Oslo")));
    assert_eq!(got.get("homes"), Some(&Value::List(vec![city("Oslo")])));
    assert_eq!(
        db.find_all("default", "place", "address", &city("Oslo"))
            .expect("find"),
        vec![a, b]
    );
    assert_invariant(&db);
}
