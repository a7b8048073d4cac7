//! Every bad input of SPEC §13 gets its typed error and leaves the database
//! exactly as it was; corrupt bytes and unknown versions are typed errors,
//! never panics or misreads.

use rockhold::{
    ClassSpec, Error, Family, FieldSpec, FieldType, FormatVersion, Object, ObjectId, RangeScan,
    Value,
};
use rockhold_format::{Key, MetaKey, MetaValue, Record, MAX_NAME_LEN, MAX_ORDERED_VALUE_LEN};
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

/// Everything a reader sees: namespaces, class definitions, every object
/// (the [`fingerprint`], which also counts index entries through `verify`),
/// plus what each index answers for each object's values and the tasks.
/// Equal states mean a refused call changed nothing a reader can see.
fn state(db: &TempDb) -> String {
    let mut out = fingerprint(db);
    let objects = db
        .scan_objects("default", "user", None, usize::MAX)
        .expect("scan objects");
    for o in &objects {
        for field in ["email", "handle"] {
            let v = o.get(field).expect("required field");
            let found = db.find_unique("default", "user", field, v).expect("lookup");
            out.push_str(&format!("{field}={v} -> {found:?}\n"));
        }
        let age = o.get("age").expect("required field");
        let holders = db
            .find_all("default", "user", "age", age)
            .expect("find_all");
        out.push_str(&format!("age={age} -> {holders:?}\n"));
    }
    for field in ["age", "handle"] {
        let page = db
            .scan("default", "user", field, &RangeScan::all())
            .expect("scan");
        out.push_str(&format!("scan {field}: {:?}\n", page.hits));
    }
    out.push_str(&format!("tasks: {:?}\n", db.tasks().expect("tasks")));
    out
}

/// Asserts that `f` fails with an error `check` accepts (the exact variant
/// and the names it carries), that the error is a caller error whose message
/// names every string of `mentions`, and that the database reads exactly as
/// before (objects, lookups, scans, tasks, index entry counts).
///
/// Checked to fail: with a name in `check` changed ("nope" to "nop": wrong
/// error), with a mention the message lacks, with `f` creating a namespace
/// before it errs ("the database changed"), and with `f` returning an
/// `Io` error ("must be a caller error").
fn refused(
    db: &TempDb,
    what: &str,
    check: impl Fn(&Error) -> bool,
    mentions: &[&str],
    f: impl FnOnce(&TempDb) -> rockhold::Result<()>,
) {
    let before = state(db);
    match f(db) {
        Ok(()) => panic!("{what}: accepted"),
        Err(e) => {
            assert!(check(&e), "{what}: wrong error {e:?}");
            assert!(e.is_caller_error(), "{what}: {e:?} must be a caller error");
            let message = e.to_string();
            for m in mentions {
                assert!(
                    message.contains(m),
                    "{what}: the message {message:?} does not name {m:?}"
                );
            }
        }
    }
    assert_eq!(state(db), before, "{what}: the database changed");
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
        &["\"nope\""],
        |db| db.insert("nope", "user", good()).map(drop),
    );
    refused(
        &db,
        "class in unknown namespace",
        |e| matches!(e, Error::UnknownNamespace { namespace } if namespace == "nope"),
        &["\"nope\""],
        |db| db.create_class("nope", &spec()).map(drop),
    );
    refused(
        &db,
        "unknown class",
        |e| {
            matches!(e, Error::UnknownClass { namespace, class }
                if namespace == "default" && class == "nope")
        },
        &["\"nope\"", "\"default\""],
        |db| db.insert("default", "nope", good()).map(drop),
    );
    refused(
        &db,
        "unknown field",
        |e| {
            matches!(e, Error::UnknownField { class, field }
                if class == "user" && field == "zzz")
        },
        &["\"user\"", "\"zzz\""],
        |db| {
            db.insert("default", "user", with(good(), "zzz", 1u64.into()))
                .map(drop)
        },
    );
    refused(
        &db,
        "query on an unknown index",
        |e| {
            matches!(e, Error::UnknownIndex { class, index }
                if class == "user" && index == "zzz")
        },
        &["\"user\"", "\"zzz\""],
        |db| {
            db.find_unique("default", "user", "zzz", &1u64.into())
                .map(drop)
        },
    );
    refused(
        &db,
        "update of unknown object",
        |e| {
            matches!(e, Error::UnknownObject { namespace, id }
                if namespace == "default" && *id == ObjectId(999))
        },
        &["999", "\"default\""],
        |db| db.update("default", ObjectId(999), [("age", 2u64)]),
    );
    refused(
        &db,
        "delete of unknown object",
        |e| {
            matches!(e, Error::UnknownObject { namespace, id }
                if namespace == "default" && *id == ObjectId(999))
        },
        &["999", "\"default\""],
        |db| db.delete("default", ObjectId(999)),
    );
    refused(
        &db,
        "drop of unknown namespace",
        |e| matches!(e, Error::UnknownNamespace { namespace } if namespace == "nope"),
        &["\"nope\""],
        |db| db.drop_namespace("nope"),
    );
    refused(
        &db,
        "drop of the default namespace",
        |e| matches!(e, Error::InvalidRequest(why) if why.contains("cannot be dropped")),
        &["default namespace"],
        |db| db.drop_namespace("default"),
    );
}

#[test]
fn wrong_types_and_missing_fields() {
    let db = setup();
    refused(
        &db,
        "wrong type",
        |e| {
            matches!(e, Error::WrongType { class, field, expected, found, .. }
                if expected == "string" && found == "u64" && class == "user" && field == "email")
        },
        &["user.email", "string", "u64"],
        |db| {
            db.insert("default", "user", with(good(), "email", 5u64.into()))
                .map(drop)
        },
    );
    refused(
        &db,
        "i64 for u64",
        |e| {
            matches!(e, Error::WrongType { class, field, expected, found, .. }
                if expected == "u64" && found == "i64" && class == "user" && field == "age")
        },
        &["user.age", "u64", "i64"],
        |db| {
            db.insert("default", "user", with(good(), "age", Value::I64(1)))
                .map(drop)
        },
    );
    refused(
        &db,
        "wrong query type",
        |e| {
            matches!(e, Error::WrongType { class, field, expected, found, .. }
                if expected == "string" && found == "u64" && class == "user" && field == "email")
        },
        &["user.email", "string", "u64"],
        |db| {
            db.find_unique("default", "user", "email", &Value::U64(1))
                .map(drop)
        },
    );
    refused(
        &db,
        "missing required field",
        |e| {
            matches!(e, Error::MissingField { class, field }
                if class == "user" && field == "handle")
        },
        &["user.handle"],
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
        |e| {
            matches!(e, Error::MissingField { class, field }
                if class == "user" && field == "age")
        },
        &["user.age"],
        |db| db.update("default", ObjectId(0), [("age", Value::Absent)]),
    );
    refused(
        &db,
        "a field twice",
        |e| matches!(e, Error::DuplicateName { kind: "field", name } if name == "note"),
        &["field", "\"note\""],
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
        |e| {
            matches!(e, Error::ValueTooLarge { class, field, len, max }
                if class == "user" && field == "handle"
                    && *len >= 2000 && *max == MAX_ORDERED_VALUE_LEN)
        },
        &["user.handle", &MAX_ORDERED_VALUE_LEN.to_string()],
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
        "a lookup on a field without an index",
        |e| {
            matches!(e, Error::UnknownIndex { class, index }
                if class == "user" && index == "note")
        },
        &["\"user\"", "no index \"note\""],
        |db| {
            db.find_all("default", "user", "note", &"x".into())
                .map(drop)
        },
    );
    refused(
        &db,
        "unique lookup on a non-unique index",
        |e| {
            matches!(e, Error::NotIndexed { class, index: field, needed: "unique" }
                if class == "user" && field == "age")
        },
        &["user.age", "unique"],
        |db| {
            db.find_unique("default", "user", "age", &1u64.into())
                .map(drop)
        },
    );
    refused(
        &db,
        "range scan on a hash index",
        |e| {
            matches!(e, Error::NotIndexed { class, index: field, needed: "ordered" }
                if class == "user" && field == "email")
        },
        &["user.email", "ordered"],
        |db| {
            db.scan("default", "user", "email", &RangeScan::all())
                .map(drop)
        },
    );
    refused(
        &db,
        "prefix scan with a number",
        |e| matches!(e, Error::InvalidRequest(why) if why.contains("string or bytes prefix")),
        &["prefix"],
        |db| {
            db.scan("default", "user", "age", &RangeScan::prefix(1u64))
                .map(drop)
        },
    );
    // One bad operation sinks the whole transaction: the good insert before
    // it is not written either (the state comparison sees no `b@x`).
    refused(
        &db,
        "bad op in a transaction",
        |e| {
            matches!(e, Error::WrongType { class, field, expected, found, .. }
                if expected == "u64" && found == "string" && class == "user" && field == "age")
        },
        &["user.age", "u64", "string"],
        |db| {
            let mut tx = db.transaction();
            tx.insert("default", "user", good())?;
            tx.update("default", ObjectId(0), [("age", Value::from("old"))]);
            tx.commit()
        },
    );
    assert_eq!(
        db.find_unique("default", "user", "email", &"b@x".into())
            .expect("lookup"),
        None,
        "no insert of the refused calls is visible"
    );
    assert_eq!(
        db.get("default", ObjectId(0)).expect("get"),
        Some(object_a()),
        "the object is as inserted"
    );
}

#[test]
fn bad_names_and_schema_changes() {
    let db = setup();
    let long = "n".repeat(MAX_NAME_LEN + 1);
    for (name, reason) in [
        ("", "name is empty"),
        (long.as_str(), "name is longer than 128 bytes"),
        ("a\tb", "name contains a control character"),
    ] {
        let names = |e: &Error, kind: &str| {
            matches!(e, Error::InvalidName { kind: k, name: n, reason: r }
                if *k == kind && n == name && *r == reason)
        };
        let shown = format!("{name:?}");
        refused(
            &db,
            "invalid namespace name",
            |e| names(e, "namespace"),
            &["namespace", &shown, reason],
            |db| db.create_namespace(name),
        );
        refused(
            &db,
            "invalid class name",
            |e| names(e, "class"),
            &["class", &shown, reason],
            |db| db.create_class("default", &ClassSpec::new(name)).map(drop),
        );
        refused(
            &db,
            "invalid field name",
            |e| names(e, "field"),
            &["field", &shown, reason],
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
        |e| matches!(e, Error::DuplicateName { kind: "namespace", name } if name == "default"),
        &["namespace", "\"default\""],
        |db| db.create_namespace("default"),
    );
    refused(
        &db,
        "duplicate class",
        |e| matches!(e, Error::DuplicateName { kind: "class", name } if name == "user"),
        &["class", "\"user\""],
        |db| db.create_class("default", &spec()).map(drop),
    );
    refused(
        &db,
        "duplicate field",
        |e| matches!(e, Error::DuplicateName { kind: "field", name } if name == "x"),
        &["field", "\"x\""],
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
        |e| {
            matches!(e, Error::FieldTypeChange { class, field, from, to }
                if from == "u64" && to == "i64" && class == "user" && field == "age")
        },
        &["user.age", "u64", "i64"],
        |db| db.update_class("default", &retyped).map(drop),
    );
    let required_new = spec().field(FieldSpec::new("extra", FieldType::Bool));
    refused(
        &db,
        "new required field on a class with objects",
        |e| matches!(e, Error::RequiredFieldOnNonEmptyClass { class, field } if class == "user" && field == "extra"),
        &["user.extra", "optional"],
        |db| db.update_class("default", &required_new).map(drop),
    );
    let required_note = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("handle", FieldType::String).unique_ordered())
        .field(FieldSpec::new("age", FieldType::U64).ordered())
        .field(FieldSpec::new("note", FieldType::String));
    refused(
        &db,
        "an optional field made required on a class with objects",
        |e| matches!(e, Error::RequiredFieldOnNonEmptyClass { class, field } if class == "user" && field == "note"),
        &["user.note", "required"],
        |db| db.update_class("default", &required_note).map(drop),
    );
    let classes: Vec<String> = db
        .classes("default")
        .expect("classes")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(classes, ["user"], "no class of the refused calls exists");
    assert_eq!(
        db.namespaces(),
        ["default"],
        "no namespace of the refused calls exists"
    );
}

/// The only object of [`setup`], as `get` must return it.
fn object_a() -> Object {
    Object {
        id: ObjectId(0),
        class: "user".into(),
        fields: vec![
            ("email".into(), "a@x".into()),
            ("handle".into(), "a".into()),
            ("age".into(), 30u64.into()),
        ],
    }
}

/// Checked to fail: with the expected `found` changed to 98.
#[test]
fn unknown_format_version_is_refused_at_open() {
    let mut db = setup();
    let before = state(&db);
    let path = db.close().to_path_buf();
    let original = with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, Family::Meta);
        let key = MetaKey::FormatVersion.encode();
        let original = raw.get_cf(cf, &key).expect("get").expect("version set");
        raw.put_cf(cf, &key, MetaValue::FormatVersion(99).encode())
            .expect("put");
        original
    });
    match db.open_again() {
        Err(
            e @ Error::UnsupportedVersion {
                found: 99,
                supported: FormatVersion::V3,
            },
        ) => {
            assert!(!e.is_caller_error(), "a version on disk is not bad input");
            let message = e.to_string();
            assert!(
                message.contains("version 99") && message.contains("version 3"),
                "{message}"
            );
        }
        other => panic!("expected UnsupportedVersion, got {:?}", other.map(drop)),
    }
    // The refused open left the version record alone; restored, the
    // database reads exactly as before.
    with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, Family::Meta);
        let key = MetaKey::FormatVersion.encode();
        assert_eq!(
            raw.get_cf(cf, &key).expect("get"),
            Some(MetaValue::FormatVersion(99).encode()),
            "the refused open rewrote the version"
        );
        raw.put_cf(cf, &key, original).expect("restore");
    });
    db.open_again().expect("open with the version restored");
    assert_eq!(state(&db), before, "the database changed");
}

/// Checked to fail: with the expected decoded key changed to object 1.
#[test]
fn corrupt_object_bytes_name_the_key() {
    let mut db = setup();
    let before = state(&db);
    let path = db.close().to_path_buf();
    let key = rockhold_format::ObjectKey {
        ns: rockhold::NamespaceId(0),
        class: rockhold_format::ClassId(1),
        id: ObjectId(0),
    }
    .encode();
    let escaped = key.escape_ascii().to_string();
    let original = with_raw_db(&path, |raw| {
        let cf = raw_cf(raw, Family::Object);
        let original = raw.get_cf(cf, &key).expect("get").expect("object 0 exists");
        let mut value = original.clone();
        let last = value.len() - 1;
        value[last] ^= 0x10;
        raw.put_cf(cf, &key, value).expect("put");
        original
    });
    db.open_again().expect("open");
    for (what, result) in [
        ("get", db.get("default", ObjectId(0)).map(drop)),
        (
            "get_unique",
            db.get_unique("default", "user", "email", &"a@x".into())
                .map(drop),
        ),
        (
            "scan_objects",
            db.scan_objects("default", "user", None, usize::MAX)
                .map(drop),
        ),
        ("update", db.update("default", ObjectId(0), [("age", 3u64)])),
        ("delete", db.delete("default", ObjectId(0))),
    ] {
        match result {
            Err(
                ref e @ Error::Corruption {
                    ref key,
                    ref decoded,
                    source: rockhold_format::Error::ChecksumMismatch { .. },
                },
            ) => {
                assert_eq!(key, &escaped, "{what}: names the object key");
                assert_eq!(
                    decoded.as_deref(),
                    Some("object 0 of class 1 in namespace 0"),
                    "{what}: says what the key is of"
                );
                assert!(!e.is_caller_error(), "{what}: damage is not bad input");
                let message = e.to_string();
                assert!(
                    message.contains(&escaped) && message.contains("checksum mismatch"),
                    "{what}: {message}"
                );
            }
            other => panic!("{what}: expected a checksum mismatch, got {other:?}"),
        }
    }
    // A unique hash lookup answers from the index alone (the point value
    // keeps the tuple): it reads no record, damaged or not.
    assert_eq!(
        db.find_unique("default", "user", "email", &"a@x".into())
            .expect("the index answers"),
        Some(ObjectId(0))
    );
    let report = db.verify().expect("verify runs");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.family == Family::Object && p.key == escaped && p.what.contains("checksum")),
        "{:?}",
        report.problems
    );
    // The refused update and delete wrote nothing: with the record repaired,
    // the object and its index entries read exactly as before.
    let path = db.close().to_path_buf();
    with_raw_db(&path, |raw| {
        raw.put_cf(raw_cf(raw, Family::Object), &key, &original)
            .expect("repair")
    });
    db.open_again().expect("open");
    assert_eq!(
        db.get("default", ObjectId(0)).expect("get"),
        Some(object_a())
    );
    assert_eq!(state(&db), before, "the database changed");
}

/// Checked to fail: with the expected decoded key changed to field 2.
#[test]
fn corrupt_task_bytes_are_a_typed_error_at_open() {
    let mut db = setup();
    let path = db.close().to_path_buf();
    let key = rockhold_format::TaskKey {
        ns: rockhold::NamespaceId(0),
        class: rockhold_format::ClassId(1),
        index: rockhold_format::IndexId(1),
    }
    .encode();
    let escaped = key.escape_ascii().to_string();
    with_raw_db(&path, |raw| {
        raw.put_cf(raw_cf(raw, Family::Task), &key, b"\x01\x05garbage")
            .expect("put");
    });
    match db.open_again() {
        Err(
            ref e @ Error::Corruption {
                ref key,
                ref decoded,
                source: rockhold_format::Error::ChecksumMismatch { .. },
            },
        ) => {
            assert_eq!(key, &escaped, "names the task key");
            assert_eq!(
                decoded.as_deref(),
                Some("task of class 1, index 1, namespace 0"),
                "says what the key is of"
            );
            assert!(!e.is_caller_error(), "damage is not bad input");
            assert!(e.to_string().contains(&escaped), "{e}");
        }
        other => panic!("expected corruption, got {:?}", other.map(drop)),
    }
}
