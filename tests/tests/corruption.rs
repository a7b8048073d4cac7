//! Corruption: single-byte damage to object records, class definitions and
//! task records (through raw RocksDB writes), and to the files on disk (SST,
//! WAL, MANIFEST). Every case ends in a typed error or a harmless outcome,
//! never a panic; damaged records are detected every time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rockhold::{ClassSpec, Db, Error, Family, FieldSpec, FieldType, ObjectId, Options, Value};
use rockhold_format::{ClassId, ClassKey, FieldId, Key, NamespaceId, ObjectKey, TaskKey};
use rockhold_tests::{raw_cf, with_raw_db};

fn build(dir: &Path, flush: bool) {
    let db = Db::open(dir, Options::default().runner_threads(0)).expect("open");
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64)),
    )
    .expect("class");
    for i in 0..300u64 {
        db.insert(
            "default",
            "user",
            [("email", Value::from(format!("u{i}@x"))), ("age", i.into())],
        )
        .expect("insert");
    }
    // An index added to a populated class: leaves a task record.
    db.update_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered()),
    )
    .expect("add index");
    db.check_reindex_tasks().expect("build");
    if flush {
        // Reopen so memtables reach SST files; then some writes stay in the WAL.
        db.close().expect("close");
        with_raw_db(dir, |raw| {
            for name in rockhold::COLUMN_FAMILIES {
                raw.flush_cf(raw.cf_handle(name).expect("cf"))
                    .expect("flush");
            }
        });
        let db = Db::open(dir, Options::default().runner_threads(0)).expect("open");
        for i in 300..400u64 {
            db.insert(
                "default",
                "user",
                [("email", Value::from(format!("u{i}@x"))), ("age", i.into())],
            )
            .expect("insert");
        }
        db.close().expect("close");
    } else {
        db.close().expect("close");
    }
}

/// What opening and reading a damaged database led to.
fn outcome(dir: &Path) -> &'static str {
    let db = match Db::open(dir, Options::default().runner_threads(0)) {
        Ok(db) => db,
        Err(e) => {
            assert!(
                !e.is_caller_error(),
                "a damaged database is not a caller error: {e}"
            );
            return "refused at open (typed error)";
        }
    };
    let result = db.verify().map(|report| {
        let scan = db
            .scan_objects("default", "user", None, usize::MAX)
            .map(|o| o.len());
        (report, scan)
    });
    match result {
        Err(e) => {
            assert!(!e.is_caller_error(), "{e}");
            "read error (typed)"
        }
        Ok((report, _)) if !report.is_clean() => "verify found the damage",
        Ok((_, Err(e))) => {
            assert!(!e.is_caller_error(), "{e}");
            "read error (typed)"
        }
        Ok((_, Ok(_))) => "harmless (reads and verify clean)",
    }
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
    build(dir.path(), false);
    let object = (
        Family::Object,
        ObjectKey {
            ns: NamespaceId(0),
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
            field: FieldId(2),
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
    build(&pristine, true);
    let mut report: BTreeMap<(&str, &str), u32> = BTreeMap::new();
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
            *report.entry((kind, outcome(&work))).or_insert(0) += 1;
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
    for cf in ["index_hash", "index_ordered", "index_full_scan", "objects"] {
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
