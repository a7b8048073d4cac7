//! Every bad input of SPEC §13 gets its typed error and leaves the database
//! exactly as it was; corrupt bytes and unknown versions are typed errors,
//! never panics or misreads.

use rockhold::{ClassSpec, Error, Family, FieldSpec, FieldType, RangeScan, Value};
use rockhold_format::{Key, MetaKey, MetaValue, Record, MAX_NAME_LEN};
use rockhold_tests::{fingerprint, raw_cf, with_raw_db, TempDb};

fn spec() -> ClassSpec {
    ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("handle", FieldType::String).unique_ordered())
        .field(FieldSpec::new("age", FieldType::U64).ordered())
        .field(FieldSpec::new("note", FieldType::String).optional())
}

fn setup() -> TempDb {
    let db = TempDb::new();
    db.create_class("default", &spec()).expect("class");
    db.insert(
        "default",
        "user",
        [
            ("email", Value::from("a@x")),
            ("handle", "a".into()),
            ("age", 30u64.into()),
        ],
    )
    .expect("a");
    db
}

/// Asserts that `f` fails with an error `check` accepts and changes nothing.
fn refused(
    db: &TempDb,
    what: &str,
    check: impl Fn(&Error) -> bool,
    f: impl FnOnce(&TempDb) -> rockhold::Result<()>,
) {
    let before = fingerprint(db);
    match f(db) {
        Ok(()) => panic!("{what}: accepted"),
        Err(e) => {
            assert!(check(&e), "{what}: wrong error {e:?}");
            assert!(e.is_caller_error(), "{what}: {e:?} is a caller error");
            assert!(!e.to_string().is_empty());
        }
    }
    assert_eq!(fingerprint(db), before, "{what}: the database changed");
}

fn good() -> Vec<(&'static str, Value)> {
    vec![
        ("email", "b@x".into()),
        ("handle", "b".into()),
        ("age", 1u64.into()),
    ]
}

fn with(
    mut fields: Vec<(&'static str, Value)>,
    name: &'static str,
    value: Value,
) -> Vec<(&'static str, Value)> {
    fields.retain(|(n, _)| *n != name);
    fields.push((name, value));
    fields
}

#[test]
fn unknown_names() {
    let db = setup();
    refused(
        &db,
        "unknown namespace",
        |e| matches!(e, Error::UnknownNamespace { namespace } if namespace == "nope"),
        |db| db.insert("nope", "user", good()).map(drop),
    );
    refused(
        &db,
        "class in unknown namespace",
        |e| matches!(e, Error::UnknownNamespace { .. }),
        |db| db.create_class("nope", &spec()).map(drop),
    );
    refused(
        &db,
        "unknown class",
        |e| matches!(e, Error::UnknownClass { class, .. } if class == "nope"),
        |db| db.insert("default", "nope", good()).map(drop),
    );
    refused(
        &db,
        "unknown field",
        |e| matches!(e, Error::UnknownField { field, .. } if field == "zzz"),
        |db| {
            db.insert("default", "user", with(good(), "zzz", 1u64.into()))
                .map(drop)
        },
    );
    refused(
        &db,
        "query on unknown field",
        |e| matches!(e, Error::UnknownField { .. }),
        |db| {
            db.find_unique("default", "user", "zzz", &1u64.into())
                .map(drop)
        },
    );
    refused(
        &db,
        "update of unknown object",
        |e| matches!(e, Error::UnknownObject { .. }),
        |db| db.update("default", rockhold::ObjectId(999), [("age", 2u64)]),
    );
    refused(
        &db,
        "delete of unknown object",
        |e| matches!(e, Error::UnknownObject { .. }),
        |db| db.delete("default", rockhold::ObjectId(999)),
    );
    refused(
        &db,
        "drop of unknown namespace",
        |e| matches!(e, Error::UnknownNamespace { .. }),
        |db| db.drop_namespace("nope"),
    );
    refused(
        &db,
        "drop of the default namespace",
        |e| matches!(e, Error::InvalidRequest(_)),
        |db| db.drop_namespace("default"),
    );
}

#[test]
fn wrong_types_and_missing_fields() {
    let db = setup();
    refused(
        &db,
        "wrong type",
        |e| matches!(e, Error::WrongType { field, expected: "string", found: "u64", .. } if field == "email"),
        |db| {
            db.insert("default", "user", with(good(), "email", 5u64.into()))
                .map(drop)
        },
    );
    refused(
        &db,
        "i64 for u64",
        |e| matches!(e, Error::WrongType { .. }),
        |db| {
            db.insert("default", "user", with(good(), "age", Value::I64(1)))
                .map(drop)
        },
    );
    refused(
        &db,
        "wrong query type",
        |e| matches!(e, Error::WrongType { .. }),
        |db| {
            db.find_unique("default", "user", "email", &Value::U64(1))
                .map(drop)
        },
    );
    refused(
        &db,
        "missing required field",
        |e| matches!(e, Error::MissingField { field, .. } if field == "handle"),
        |db| {
            db.insert(
                "default",
                "user",
                [("email", Value::from("c@x")), ("age", 1u64.into())],
            )
            .map(drop)
        },
    );
    refused(
        &db,
        "clearing a required field",
        |e| matches!(e, Error::MissingField { .. }),
        |db| db.update("default", rockhold::ObjectId(0), [("age", Value::Absent)]),
    );
    refused(
        &db,
        "a field twice",
        |e| matches!(e, Error::DuplicateName { kind: "field", .. }),
        |db| {
            db.insert(
                "default",
                "user",
                with(good(), "note", "x".into())
                    .into_iter()
                    .chain([("note", Value::from("y"))]),
            )
            .map(drop)
        },
    );
    refused(
        &db,
        "too large for an ordered key",
        |e| matches!(e, Error::ValueTooLarge { field, .. } if field == "handle"),
        |db| {
            db.insert(
                "default",
                "user",
                with(good(), "handle", "h".repeat(2000).into()),
            )
            .map(drop)
        },
    );
    refused(
        &db,
        "not indexed",
        |e| matches!(e, Error::NotIndexed { .. }),
        |db| {
            db.find_all("default", "user", "note", &"x".into())
                .map(drop)
        },
    );
    refused(
        &db,
        "unique lookup on a non-unique index",
        |e| {
            matches!(
                e,
                Error::NotIndexed {
                    needed: "unique",
                    ..
                }
            )
        },
        |db| {
            db.find_unique("default", "user", "age", &1u64.into())
                .map(drop)
        },
    );
    refused(
        &db,
        "range scan on a hash index",
        |e| {
            matches!(
                e,
                Error::NotIndexed {
                    needed: "ordered",
                    ..
                }
            )
        },
        |db| {
            db.scan("default", "user", "email", &RangeScan::all())
                .map(drop)
        },
    );
    refused(
        &db,
        "prefix scan with a number",
        |e| matches!(e, Error::InvalidRequest(_)),
        |db| {
            db.scan("default", "user", "age", &RangeScan::prefix(1u64))
                .map(drop)
        },
    );
    // One bad operation sinks the whole transaction.
    refused(
        &db,
        "bad op in a transaction",
        |e| matches!(e, Error::WrongType { .. }),
        |db| {
            let mut tx = db.transaction();
            tx.insert("default", "user", good())?;
            tx.update(
                "default",
                rockhold::ObjectId(0),
                [("age", Value::from("old"))],
            );
            tx.commit()
        },
    );
}

#[test]
fn bad_names_and_schema_changes() {
    let db = setup();
    let long = "n".repeat(MAX_NAME_LEN + 1);
    for name in ["", long.as_str(), "a\tb"] {
        refused(
            &db,
            "invalid namespace name",
            |e| {
                matches!(
                    e,
                    Error::InvalidName {
                        kind: "namespace",
                        ..
                    }
                )
            },
            |db| db.create_namespace(name),
        );
        refused(
            &db,
            "invalid class name",
            |e| matches!(e, Error::InvalidName { kind: "class", .. }),
            |db| db.create_class("default", &ClassSpec::new(name)).map(drop),
        );
        refused(
            &db,
            "invalid field name",
            |e| matches!(e, Error::InvalidName { kind: "field", .. }),
            |db| {
                db.create_class(
                    "default",
                    &ClassSpec::new("c").field(FieldSpec::new(name, FieldType::Bool)),
                )
                .map(drop)
            },
        );
    }
    refused(
        &db,
        "duplicate namespace",
        |e| {
            matches!(
                e,
                Error::DuplicateName {
                    kind: "namespace",
                    ..
                }
            )
        },
        |db| db.create_namespace("default"),
    );
    refused(
        &db,
        "duplicate class",
        |e| matches!(e, Error::DuplicateName { kind: "class", .. }),
        |db| db.create_class("default", &spec()).map(drop),
    );
    refused(
        &db,
        "duplicate field",
        |e| matches!(e, Error::DuplicateName { kind: "field", .. }),
        |db| {
            let s = ClassSpec::new("c")
                .field(FieldSpec::new("x", FieldType::Bool))
                .field(FieldSpec::new("x", FieldType::I64));
            db.create_class("default", &s).map(drop)
        },
    );
    let retyped = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("handle", FieldType::String).unique_ordered())
        .field(FieldSpec::new("age", FieldType::I64).ordered())
        .field(FieldSpec::new("note", FieldType::String).optional());
    refused(
        &db,
        "type change",
        |e| matches!(e, Error::FieldTypeChange { field, from: "u64", to: "i64", .. } if field == "age"),
        |db| db.update_class("default", &retyped).map(drop),
    );
    let required_new = spec().field(FieldSpec::new("extra", FieldType::Bool));
    refused(
        &db,
        "new required field on a class with objects",
        |e| matches!(e, Error::InvalidRequest(_)),
        |db| db.update_class("default", &required_new).map(drop),
    );
}

#[test]
fn unknown_format_version_is_refused_at_open() {
    let mut db = setup();
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, Family::Meta);
        raw.put_cf(
            cf,
            MetaKey::FormatVersion.encode(),
            MetaValue::FormatVersion(99).encode(),
        )
        .expect("put");
    });
    match db.open_again() {
        Err(Error::UnsupportedVersion {
            found: 99,
            supported: 1,
        }) => {}
        other => panic!("expected UnsupportedVersion, got {:?}", other.map(drop)),
    }
}

#[test]
fn corrupt_object_bytes_name_the_key() {
    let mut db = setup();
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, Family::Object);
        let key = rockhold_format::ObjectKey {
            ns: rockhold::NamespaceId(0),
            id: rockhold::ObjectId(0),
        }
        .encode();
        let mut value = raw.get_cf(cf, &key).expect("get").expect("object 0 exists");
        let last = value.len() - 1;
        value[last] ^= 0x10;
        raw.put_cf(cf, &key, value).expect("put");
    });
    db.open_again().expect("open");
    for result in [
        db.get("default", rockhold::ObjectId(0)).map(drop),
        db.find_unique("default", "user", "email", &"a@x".into())
            .map(drop),
        db.update("default", rockhold::ObjectId(0), [("age", 3u64)]),
    ] {
        match result {
            Err(Error::Corruption {
                key,
                source: rockhold_format::Error::ChecksumMismatch { .. },
                ..
            }) => {
                assert!(key.starts_with('O'), "names the object key: {key}");
            }
            other => panic!("expected a checksum mismatch, got {other:?}"),
        }
    }
    let report = db.verify().expect("verify runs");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.family == Family::Object && p.what.contains("checksum")),
        "{:?}",
        report.problems
    );
}

#[test]
fn corrupt_task_bytes_are_a_typed_error_at_open() {
    let mut db = setup();
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        let key = rockhold_format::TaskKey {
            ns: rockhold::NamespaceId(0),
            class: rockhold_format::ClassId(1),
            field: rockhold_format::FieldId(1),
        };
        raw.put_cf(raw_cf(raw, Family::Task), key.encode(), b"\x01\x05garbage")
            .expect("put");
    });
    match db.open_again() {
        Err(Error::Corruption { key, .. }) => assert!(key.starts_with("IT"), "{key}"),
        other => panic!("expected corruption, got {:?}", other.map(drop)),
    }
}
