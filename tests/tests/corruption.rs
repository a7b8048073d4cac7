//! Corruption: single-byte damage to object records, class definitions and
//! task records (through raw RocksDB writes), and to the files on disk (SST,
//! WAL, MANIFEST). Every case ends in a typed damage error, a violation
//! `verify` reports, or a harmless outcome, never a panic or a misread;
//! damaged records are detected every time. Harmless means exact: every read
//! (objects, unique and ordered index lookups, scans, classes, tasks) returns
//! what was written, as recorded in a model before any byte was flipped.
//!
//! Checked to fail: with the model's age of object 123 changed (the control
//! copy and the record-flip test's final read panic at "scan_objects:
//! object 123"), and, with the control removed, with the last id dropped
//! from the model (the damaged SST case that is harmless panics: "400 ids
//! read, 399 written").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rockhold::{
    ClassDef, ClassSpec, Db, Error, Family, FieldSpec, FieldType, Object, ObjectId, Options,
    RangeScan, TaskInfo, Value,
};
use rockhold_format::{ClassId, ClassKey, IndexId, Key, NamespaceId, ObjectKey, TaskKey};
use rockhold_tests::{raw_cf, with_raw_db};

/// What [`build`] wrote, captured before any byte is damaged: every read of
/// an undamaged database returns exactly this.
struct Model {
    /// Each acknowledged insert: id, email, age.
    users: BTreeMap<ObjectId, (String, u64)>,
    /// The class definitions as read back right after the writes.
    classes: Vec<ClassDef>,
    /// The tasks as read back right after the writes (the `age` build, done).
    tasks: Vec<TaskInfo>,
    /// `verify`'s counts: objects, index entries, other records.
    counts: (u64, u64, u64),
}

impl Model {
    /// The object with id `id` as `get` and `scan_objects` must return it.
    fn object(&self, id: ObjectId) -> Object {
        let (email, age) = &self.users[&id];
        Object {
            id,
            class: "user".into(),
            fields: vec![
                ("email".into(), Value::from(email.as_str())),
                ("age".into(), Value::U64(*age)),
            ],
        }
    }
}

fn insert_users(
    db: &Db,
    ages: std::ops::Range<u64>,
    users: &mut BTreeMap<ObjectId, (String, u64)>,
) {
    for i in ages {
        let email = format!("u{i}@x");
        let id = db
            .insert(
                "default",
                "user",
                [("email", Value::from(email.as_str())), ("age", i.into())],
            )
            .expect("insert");
        assert!(users.insert(id, (email, i)).is_none(), "ids are not reused");
    }
}

/// Snapshots the catalog, the tasks and `verify`'s counts of `db` into the
/// model, then closes it.
fn close_into(db: Db, users: BTreeMap<ObjectId, (String, u64)>) -> Model {
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    let model = Model {
        users,
        classes: db.classes("default").expect("classes"),
        tasks: db.tasks().expect("tasks"),
        counts: (report.objects, report.index_entries, report.other_records),
    };
    db.close().expect("close");
    model
}

fn build(dir: &Path, flush: bool) -> Model {
    let db = Db::open(dir, Options::default().runner_threads(0)).expect("open");
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64)),
    )
    .expect("class");
    let mut users = BTreeMap::new();
    insert_users(&db, 0..300, &mut users);
    // An index added to a populated class: leaves a task record.
    db.update_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered()),
    )
    .expect("add index");
    db.check_reindex_tasks().expect("build");
    if !flush {
        return close_into(db, users);
    }
    // Reopen so memtables reach SST files; then some writes stay in the WAL.
    db.close().expect("close");
    with_raw_db(dir, |raw| {
        for name in rockhold::COLUMN_FAMILIES {
            raw.flush_cf(raw.cf_handle(name).expect("cf"))
                .expect("flush");
        }
    });
    let db = Db::open(dir, Options::default().runner_threads(0)).expect("open");
    insert_users(&db, 300..400, &mut users);
    close_into(db, users)
}

/// Whether `e` reports damaged data or failing storage (what a flipped byte
/// may legitimately end in), as opposed to bad input or a full disk.
fn is_damage(e: &Error) -> bool {
    matches!(
        e,
        Error::Corruption { .. }
            | Error::StorageCorruption { .. }
            | Error::Inconsistent(_)
            | Error::WritesLost { .. }
            | Error::UnsupportedVersion { .. }
            | Error::NotADatabase { .. }
            | Error::Io { .. }
            | Error::Storage { .. }
    )
}

/// Reads everything `model` holds through every read path (namespaces,
/// classes, tasks, `scan_objects`, `scan_class`, `get`, the unique hash
/// index, the ordered index, verify's counts) and panics on any answer that
/// differs from the model. A read error is returned: the caller checks it
/// is a typed damage error.
fn reads_match(db: &Db, model: &Model) -> rockhold::Result<()> {
    assert_eq!(db.namespaces(), ["default"], "namespaces");
    assert_eq!(db.classes("default")?, model.classes, "class definitions");
    assert_eq!(db.tasks()?, model.tasks, "tasks");
    let ids: Vec<ObjectId> = model.users.keys().copied().collect();
    let objects = db.scan_objects("default", "user", None, usize::MAX)?;
    same_ids(
        "scan_objects",
        &objects.iter().map(|o| o.id).collect::<Vec<_>>(),
        &ids,
    );
    for o in &objects {
        assert_eq!(o, &model.object(o.id), "scan_objects: object {}", o.id);
    }
    same_ids(
        "scan_class (full-scan index)",
        &db.scan_class("default", "user", None, usize::MAX)?,
        &ids,
    );
    for (id, (email, _)) in &model.users {
        assert_eq!(db.get("default", *id)?, Some(model.object(*id)), "get {id}");
        assert_eq!(
            db.find_unique("default", "user", "email", &email.as_str().into())?,
            Some(*id),
            "find_unique email = {email}"
        );
    }
    let mut by_age: Vec<(Value, ObjectId)> = model
        .users
        .iter()
        .map(|(id, (_, age))| (Value::U64(*age), *id))
        .collect();
    by_age.sort();
    assert_eq!(
        db.scan("default", "user", "age", &RangeScan::all())?.hits,
        by_age,
        "scan of the ordered age index"
    );
    let (age, id) = &by_age[by_age.len() / 2];
    assert_eq!(
        db.find_all("default", "user", "age", age)?,
        vec![*id],
        "find_all age = {age}"
    );
    // Nothing that was never written appears.
    assert_eq!(
        db.find_unique("default", "user", "email", &"nobody@x".into())?,
        None,
        "an email never written"
    );
    let next = ObjectId(ids.last().map_or(0, |id| id.0 + 1));
    assert_eq!(db.get("default", next)?, None, "an id never handed out");
    let report = db.verify()?;
    assert_eq!(
        (report.objects, report.index_entries, report.other_records),
        model.counts,
        "verify's counts"
    );
    Ok(())
}

/// Panics unless `got` lists exactly the ids of `want`, in order, naming
/// the first difference (the lists are hundreds of ids long).
fn same_ids(what: &str, got: &[ObjectId], want: &[ObjectId]) {
    if got != want {
        let at = got.iter().zip(want).take_while(|(g, w)| g == w).count();
        panic!(
            "{what}: {} ids read, {} written; first difference at position {at}: \
             read {:?}, written {:?}",
            got.len(),
            want.len(),
            got.get(at),
            want.get(at)
        );
    }
}

/// What opening and reading a damaged database led to. A harmless outcome
/// means every read returned exactly what `model` holds; any other answer
/// that is not a typed damage error panics.
fn outcome(dir: &Path, model: &Model) -> String {
    let db = match Db::open(dir, Options::default().runner_threads(0)) {
        Ok(db) => db,
        Err(e) => {
            assert!(is_damage(&e), "a damaged database fails to open with {e:?}");
            return format!("refused at open ({})", variant(&e));
        }
    };
    let result = match db.verify() {
        Err(e) => Err(e),
        Ok(report) if !report.is_clean() => {
            return "verify found the damage".into();
        }
        Ok(_) => reads_match(&db, model),
    };
    match result {
        Err(e) => {
            assert!(
                is_damage(&e),
                "a read of a damaged database fails with {e:?}"
            );
            format!("read error ({})", variant(&e))
        }
        Ok(()) => "harmless (every read exactly as written, verify clean)".into(),
    }
}

/// The variant name of an error, for the report.
fn variant(e: &Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[test]
fn every_flipped_record_byte_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = build(dir.path(), false);
    let object = (
        Family::Object,
        ObjectKey {
            ns: NamespaceId(0),
            class: ClassId(1),
            id: ObjectId(5),
        }
        .encode(),
    );
    let class = (
        Family::Class,
        ClassKey {
            ns: NamespaceId(0),
            class: ClassId(1),
        }
        .encode(),
    );
    let task = (
        Family::Task,
        TaskKey {
            ns: NamespaceId(0),
            class: ClassId(1),
            index: IndexId(2),
        }
        .encode(),
    );
    let mut tried = BTreeMap::new();
    for (name, (family, key)) in [
        ("object record", object),
        ("class definition", class),
        ("task record", task),
    ] {
        let original = with_raw_db(dir.path(), |raw| {
            raw.get_cf(raw_cf(raw, family), &key)
                .expect("get")
                .expect("exists")
        });
        for pos in 0..original.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut damaged = original.clone();
                damaged[pos] ^= mask;
                with_raw_db(dir.path(), |raw| {
                    raw.put_cf(raw_cf(raw, family), &key, &damaged)
                        .expect("put")
                });
                match Db::open(dir.path(), Options::default().runner_threads(0)) {
                    // Catalog records (classes, tasks) are checked at open.
                    Err(Error::Corruption { key: named, .. }) => {
                        assert_eq!(named, key.escape_ascii().to_string())
                    }
                    Err(e) => panic!("{name} byte {pos}: unexpected error {e}"),
                    Ok(db) => {
                        assert_eq!(name, "object record", "a damaged {name} must not open");
                        assert!(
                            matches!(
                                db.get("default", ObjectId(5)),
                                Err(Error::Corruption { .. })
                            ),
                            "byte {pos}"
                        );
                        // Its neighbours read exactly as written.
                        for id in [ObjectId(4), ObjectId(6)] {
                            assert_eq!(
                                db.get("default", id).expect("get"),
                                Some(model.object(id)),
                                "byte {pos}: object {id}"
                            );
                        }
                        let report = db.verify().expect("verify");
                        assert!(
                            report
                                .problems
                                .iter()
                                .any(|p| p.key == key.escape_ascii().to_string()),
                            "byte {pos}"
                        );
                        db.close().expect("close");
                    }
                }
                *tried.entry(name).or_insert(0) += 1;
            }
        }
        with_raw_db(dir.path(), |raw| {
            raw.put_cf(raw_cf(raw, family), &key, &original)
                .expect("restore")
        });
    }
    // The probes wrote nothing: restored, the database reads as written.
    let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
    reads_match(&db, &model).expect("reads of the restored database");
    db.close().expect("close");
    eprintln!("record flips, all detected: {tried:?}");
}

fn files(dir: &Path, kind: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match kind {
                "SST" => name.ends_with(".sst"),
                "WAL" => name.ends_with(".log") && !name.starts_with("LOG"),
                _ => name.starts_with("MANIFEST-"),
            }
        })
        .collect()
}

#[test]
fn flipped_bytes_in_files_end_in_typed_errors_or_harmless_outcomes() {
    let base = tempfile::tempdir().expect("tempdir");
    let pristine = base.path().join("pristine");
    let model = build(&pristine, true);
    // The control: an undamaged copy reads exactly as the model says.
    let control = base.path().join("control");
    copy_dir(&pristine, &control);
    assert_eq!(
        outcome(&control, &model),
        "harmless (every read exactly as written, verify clean)"
    );
    std::fs::remove_dir_all(&control).expect("clean up");
    let mut report: BTreeMap<(&str, String), u32> = BTreeMap::new();
    for kind in ["SST", "WAL", "MANIFEST"] {
        let targets = files(&pristine, kind);
        assert!(!targets.is_empty(), "the database has {kind} files");
        let mut rng = 0x1234_5678u64;
        for round in 0..30 {
            let target = &targets[round % targets.len()];
            let len = std::fs::metadata(target).expect("meta").len();
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let pos = rng % len;
            let work = base.path().join(format!("{kind}-{round}"));
            copy_dir(&pristine, &work);
            let file = work.join(target.file_name().expect("name"));
            let mut bytes = std::fs::read(&file).expect("read");
            bytes[pos as usize] ^= 0x5A;
            std::fs::write(&file, bytes).expect("write");
            // Printed with the test's output should an outcome panic.
            eprintln!("{kind} round {round}: byte {pos} of {}", file.display());
            *report.entry((kind, outcome(&work, &model))).or_insert(0) += 1;
            std::fs::remove_dir_all(&work).expect("clean up");
        }
    }
    eprintln!("file flips (30 per type):");
    for ((kind, outcome), n) in &report {
        eprintln!("  {kind:<8} {outcome}: {n}");
    }
}

/// A column family that lost its data behind RocksDB's back (as if a damaged
/// MANIFEST had dropped its files) is refused at open, not served.
#[test]
fn vanished_index_data_is_detected_at_open() {
    for cf in ["index_hash", "index_ordered", "objects"] {
        let dir = tempfile::tempdir().expect("tempdir");
        build(dir.path(), true);
        with_raw_db(dir.path(), |raw| {
            let handle = raw.cf_handle(cf).expect("cf");
            raw.delete_range_cf(handle, &[][..], &[0xFFu8; 64][..])
                .expect("drop everything");
        });
        match Db::open(dir.path(), Options::default().runner_threads(0)) {
            Err(Error::Inconsistent(why)) => assert!(why.contains(cf), "{why}"),
            other => panic!("{cf}: expected a refusal, got {:?}", other.map(drop)),
        }
        // A read-only open still inspects, and verify names the lagging marker.
        let scratch = tempfile::tempdir().expect("scratch");
        let db = Db::open_read_only(dir.path(), scratch.path(), Options::default())
            .expect("read-only open");
        let report = db.verify().expect("verify");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.family == Family::Generation),
            "{cf}: {:?}",
            report.problems.first()
        );
    }
}
