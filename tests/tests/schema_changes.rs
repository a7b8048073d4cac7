//! Schema changes say what they do (issue 14, items 5 and 2): `update_class`
//! refuses an implicit removal, `replace_class` and the explicit drops
//! remove (with their index entries), the additive operations refuse what
//! would lose data, and `ensure_class` creates or extends a class to fit a
//! model, or names the field that does not fit.
//!
//! Each test's note says how it was checked to fail with the guarded code
//! broken (the breakage was made in `engine/src/catalog/ddl.rs`, the test
//! run, the breakage reverted).

use rockhold::{
    ClassDef, ClassSpec, Db, Error, FieldSpec, FieldType, IndexKind, IndexSpec, IndexState,
    Options, RangeScan, TaskState, Value,
};
use rockhold_tests::{assert_invariant, fingerprint, TempDb};

fn no_runner() -> Options {
    Options::default().runner_threads(0)
}

/// `email` (unique hash), `city` (optional, hash), `age` (optional) and a
/// compound ordered index over (city, age).
fn users() -> ClassSpec {
    ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("city", FieldType::String).optional().hash())
        .field(FieldSpec::new("age", FieldType::U64).optional())
        .index(IndexSpec::new(
            "by_city_age",
            IndexKind::Ordered { unique: false },
            ["city", "age"],
        ))
}

fn with_users(opts: Options) -> TempDb {
    let db = TempDb::in_memory(opts);
    db.create_class("default", &users()).expect("class");
    for (i, city) in ["paris", "rome", "paris"].iter().enumerate() {
        db.insert(
            "default",
            "user",
            [
                ("email", Value::from(format!("u{i}@x"))),
                ("city", Value::from(*city)),
                ("age", Value::from(20 + i as u64)),
            ],
        )
        .expect("insert");
    }
    db
}

fn class(db: &Db) -> ClassDef {
    db.class("default", "user")
        .and_then(|c| c.def())
        .expect("class")
}

fn entries(db: &Db) -> u64 {
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    report.index_entries
}

/// A spec that leaves out a field and an index is refused, naming both,
/// and changes nothing. Checked: with the `Removals::Refuse` test disabled
/// in `change_class`, the `expect_err` failed (the call succeeded).
#[test]
fn update_class_refuses_an_implicit_removal() {
    let db = with_users(no_runner());
    let before = fingerprint(&db);
    let spec = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("city", FieldType::String).optional());
    let err = db.update_class("default", &spec).expect_err("refused");
    match &err {
        Error::ImplicitRemoval {
            class,
            fields,
            indexes,
        } => {
            assert_eq!(class, "user");
            assert_eq!(fields, &["age"]);
            assert_eq!(indexes, &["city", "by_city_age"]);
        }
        other => panic!("expected ImplicitRemoval, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("replace_class") && text.contains("drop_field"),
        "{text}"
    );
    assert_eq!(fingerprint(&db), before, "nothing changed");
    // The same spec plus what it left out is fine (and changes nothing).
    assert_eq!(
        db.update_class("default", &users()).expect("same"),
        class(&db)
    );
}

/// `replace_class` removes what the spec leaves out, with the index
/// entries. Checked: with `delete_index_range` made a no-op, verify
/// reported "entry of unknown index" for the dropped indexes.
#[test]
fn replace_class_removes_what_the_spec_leaves_out() {
    let db = with_users(no_runner());
    assert_eq!(entries(&db), 3 * 4, "IF + email + city + by_city_age");
    let spec = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("city", FieldType::String).optional());
    let def = db.replace_class("default", &spec).expect("replace");
    assert!(def.field("age").is_none());
    assert!(def.index("city").is_none() && def.index("by_city_age").is_none());
    assert_eq!(entries(&db), 3 * 2, "IF + email");
    assert!(matches!(
        db.find_all("default", "user", "city", &"paris".into()),
        Err(Error::UnknownIndex { .. })
    ));
    assert_invariant(&db);
}

/// The required-field rules are typed errors naming class and field.
/// Checked: with the `has_objects` rule disabled in `change_class`, the
/// first assertion failed (the field was made required).
#[test]
fn required_fields_on_a_class_with_objects_are_typed_errors() {
    let db = with_users(no_runner());
    let made_required = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("city", FieldType::String).hash())
        .field(FieldSpec::new("age", FieldType::U64).optional())
        .index(IndexSpec::new(
            "by_city_age",
            IndexKind::Ordered { unique: false },
            ["city", "age"],
        ));
    assert!(matches!(
        db.update_class("default", &made_required),
        Err(Error::RequiredFieldOnNonEmptyClass { class, field }) if class == "user" && field == "city"
    ));
    assert!(matches!(
        db.add_field("default", "user", FieldSpec::new("nick", FieldType::String)),
        Err(Error::RequiredFieldOnNonEmptyClass { class, field }) if class == "user" && field == "nick"
    ));
    assert!(matches!(
        db.update_class("default", &users().field(FieldSpec::new("nick", FieldType::Bool))),
        Err(Error::RequiredFieldOnNonEmptyClass { field, .. }) if field == "nick"
    ));
    assert!(class(&db).field("nick").is_none());
}

/// add_field: refuses an existing name; an optional field (with its own
/// index) is added, complete at once. Checked: with the duplicate-field
/// test of `validate_spec` disabled, the first assertion failed (the
/// class got a second `age`).
#[test]
fn add_field_adds_and_refuses_an_existing_name() {
    let db = with_users(no_runner());
    assert!(matches!(
        db.add_field("default", "user", FieldSpec::new("age", FieldType::U64).optional()),
        Err(Error::DuplicateName { kind: "field", name }) if name == "age"
    ));
    let rev = class(&db).revision;
    let def = db
        .add_field(
            "default",
            "user",
            FieldSpec::new("nick", FieldType::String).optional().hash(),
        )
        .expect("add");
    assert_eq!(def.revision, rev + 1);
    assert_eq!(
        db.index_state("default", "user", "nick").expect("state"),
        IndexState::Ready,
        "no object has a value: nothing to build"
    );
    let id = db
        .insert(
            "default",
            "user",
            [("email", Value::from("n@x")), ("nick", Value::from("nn"))],
        )
        .expect("insert");
    assert_eq!(
        db.find_all("default", "user", "nick", &"nn".into())
            .expect("find"),
        vec![id]
    );
    assert_invariant(&db);
}

/// add_index on a class with objects answers `IndexNotReady` until the
/// task is run, then the right objects. Checked: with the task write
/// for added indexes disabled, the index was `Ready` at once (and empty).
#[test]
fn add_index_on_a_class_with_objects_builds_it() {
    let db = with_users(no_runner());
    let def = db
        .add_index(
            "default",
            "user",
            IndexSpec::new("by_age", IndexKind::Ordered { unique: false }, ["age"]),
        )
        .expect("add");
    assert!(def.index("by_age").is_some());
    assert_eq!(
        db.index_state("default", "user", "by_age").expect("state"),
        IndexState::Building(TaskState::Pending)
    );
    assert!(matches!(
        db.scan("default", "user", "by_age", &RangeScan::all()),
        Err(Error::IndexNotReady { .. })
    ));
    assert!(matches!(
        db.add_index(
            "default",
            "user",
            IndexSpec::new("by_age", IndexKind::Hash { unique: false }, ["age"]),
        ),
        Err(Error::DuplicateName { kind: "index", .. })
    ));
    db.check_reindex_tasks().expect("build");
    assert_eq!(
        db.scan("default", "user", "by_age", &RangeScan::all())
            .expect("scan")
            .hits
            .len(),
        3
    );
    assert_invariant(&db);
}

/// drop_index removes one index and its entries, keeps the field; an
/// unknown name is `UnknownIndex`. Checked: with the `retain` in
/// `drop_index` removed, the index stayed (assertion failed); with
/// `delete_index_range` a no-op, verify reported its entries.
#[test]
fn drop_index_removes_the_index_and_its_entries() {
    let db = with_users(no_runner());
    assert!(matches!(
        db.drop_index("default", "user", "nope"),
        Err(Error::UnknownIndex { .. })
    ));
    let def = db.drop_index("default", "user", "city").expect("drop");
    assert!(def.index("city").is_none() && def.field("city").is_some());
    assert!(def.index("by_city_age").is_some(), "other indexes stay");
    assert_eq!(entries(&db), 3 * 3);
    assert_eq!(
        db.index_state("default", "user", "city").expect("state"),
        IndexState::None
    );
}

/// drop_field removes the field and every index reading it (its own and a
/// compound one), with their entries; an unknown name is `UnknownField`.
/// Checked: with the `reading` filter in `drop_field` matching nothing,
/// the call failed with `InvalidIndex` (the indexes' field is gone).
#[test]
fn drop_field_drops_the_indexes_that_read_it() {
    let db = with_users(no_runner());
    assert!(matches!(
        db.drop_field("default", "user", "nope"),
        Err(Error::UnknownField { .. })
    ));
    let def = db.drop_field("default", "user", "city").expect("drop");
    assert!(def.field("city").is_none());
    assert!(def.index("city").is_none() && def.index("by_city_age").is_none());
    assert!(def.index("email").is_some());
    assert_eq!(entries(&db), 3 * 2, "IF + email");
    // Added again, it is a new, empty field.
    let def = db
        .add_field(
            "default",
            "user",
            FieldSpec::new("city", FieldType::String).optional(),
        )
        .expect("re-add");
    let any = db.scan_class("default", "user", None, 1).expect("scan")[0];
    assert_eq!(
        db.get("default", any)
            .expect("get")
            .expect("object")
            .get("city"),
        None
    );
    assert!(def.field("city").is_some());
    assert_invariant(&db);
}

/// ensure_class creates a class (and a namespace), then returns it
/// unchanged without writing. Checked: with the three no-change returns
/// disabled (`model_change`'s `Ok(None)`, `change_class`'s `is_empty` and
/// equal-definition checks), the second call advanced the revision.
#[test]
fn ensure_class_creates_then_changes_nothing() {
    let db = TempDb::in_memory(no_runner());
    let def = db.ensure_class("default", &users()).expect("create");
    assert_eq!(def.revision, 1);
    let before = fingerprint(&db);
    assert_eq!(db.ensure_class("default", &users()).expect("again"), def);
    assert_eq!(fingerprint(&db), before, "nothing written");
    // Another namespace is created on the way.
    let other = db.ensure_class("tenant", &users()).expect("namespace too");
    assert_eq!(other.name, "user");
    assert_eq!(db.namespaces(), ["default", "tenant"]);
}

/// An additive model change (a new optional field, a new index on an
/// existing field) is applied, and the runner builds the index; what the
/// model leaves out (an optional field, an index) is kept. Checked: with
/// `merged.indexes.extend` adding nothing, the `age` index did not exist.
#[test]
fn ensure_class_applies_an_additive_change() {
    let db = with_users(Options::default());
    let rev = class(&db).revision;
    // The model lacks `city` (optional) and `by_city_age`: both kept.
    let model = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("age", FieldType::U64).optional().ordered())
        .field(FieldSpec::new("nick", FieldType::String).optional());
    let def = db.ensure_class("default", &model).expect("additive");
    assert_eq!(def.revision, rev + 1);
    assert!(def.field("nick").is_some() && def.field("city").is_some());
    assert!(def.index("by_city_age").is_some() && def.index("age").is_some());
    db.check_reindex_tasks().expect("the runner builds it");
    assert_eq!(
        db.scan("default", "user", "age", &RangeScan::all())
            .expect("scan")
            .hits
            .len(),
        3
    );
    assert_eq!(db.ensure_class("default", &model).expect("again"), def);
    assert_invariant(&db);
}

/// What an additive change cannot do is `ModelMismatch` naming the field,
/// nothing changed. Checked: with the `retyped_fields` test in
/// `model_change` disabled, the call returned the stored class as if it
/// fit; with the `added_required` test disabled, the error was
/// `RequiredFieldOnNonEmptyClass` (not the model's error).
#[test]
fn ensure_class_names_the_field_that_does_not_fit() {
    let db = with_users(no_runner());
    let before = fingerprint(&db);
    let mismatch = |spec: ClassSpec, want: &str| match db.ensure_class("default", &spec) {
        Err(Error::ModelMismatch { class, field, .. }) => {
            assert_eq!((class.as_str(), field.as_str()), ("user", want))
        }
        other => panic!("{want}: expected ModelMismatch, got {other:?}"),
    };
    let retyped = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String).unique_hash())
        .field(FieldSpec::new("age", FieldType::I64).optional());
    mismatch(retyped, "age");
    let required_new = users().field(FieldSpec::new("nick", FieldType::String));
    mismatch(required_new, "nick");
    let lacks_required = ClassSpec::new("user")
        .field(FieldSpec::new("age", FieldType::U64).optional())
        .field(FieldSpec::new("city", FieldType::String).optional());
    mismatch(lacks_required, "email");
    let other_kind =
        ClassSpec::new("user").field(FieldSpec::new("email", FieldType::String).hash());
    mismatch(other_kind, "email");
    assert_eq!(fingerprint(&db), before, "nothing changed");
}

/// Four threads ensuring the same new class all get the one class.
/// Checked: without the `DuplicateName` arm in `ensure_class`, the losers
/// failed with `DuplicateName`.
#[test]
fn concurrent_ensure_class_agrees_on_one_class() {
    for _ in 0..20 {
        let db = TempDb::in_memory(no_runner());
        let db: &Db = &db;
        let defs: Vec<ClassDef> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| db.ensure_class("ns", &users()).expect("ensure")))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(defs.iter().all(|d| d == &defs[0]), "{defs:?}");
        assert_eq!(defs[0].revision, 1);
        assert_eq!(db.classes("ns").expect("classes").len(), 1);
    }
}
