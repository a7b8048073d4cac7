//! Errors keep what caused them: `std::error::Error::source` returns the
//! RocksDB or I/O error underneath, and internal failures are never
//! reported as the caller's.

use std::error::Error as _;

use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, FindAll, Options, RangeScan, Value};
use rockhold_tests::TempDb;

/// Storage errors were flattened to strings (`Error::Io(String)`), losing
/// the RocksDB error; with `source: None` restored in kv/rocks/error.rs this
/// test fails.
#[test]
fn a_rocksdb_error_is_the_source_of_the_storage_error() {
    let mut db = TempDb::new();
    let path = db.close().to_path_buf();
    // CURRENT names a MANIFEST that is not there: RocksDB refuses the open.
    std::fs::write(path.join("CURRENT"), "MANIFEST-999999\n").expect("rewrite CURRENT");
    let err = Db::open(&path, Options::default()).expect_err("a broken database");
    assert!(!err.is_caller_error(), "{err}");
    let source = err.source().expect("the RocksDB error is kept");
    assert!(
        source.downcast_ref::<rocksdb::Error>().is_some(),
        "source is {source:?}"
    );
    assert!(err.to_string().contains("MANIFEST-999999"), "{err}");
}

#[test]
fn an_os_error_is_the_source_of_the_io_error_and_names_the_path() {
    let db = TempDb::new();
    let blocker = db
        .path()
        .parent()
        .expect("tmp")
        .join(format!("rockhold-errors-file-{}", std::process::id()));
    std::fs::write(&blocker, b"a file, not a directory").expect("file");
    // A backup directory whose parent is a file cannot be created.
    let err = db
        .create_backup(blocker.join("backups"))
        .expect_err("no directory under a file");
    let _ = std::fs::remove_file(&blocker);
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("an io::Error source: {err:?}"));
    assert_eq!(io.kind(), std::io::ErrorKind::NotADirectory, "{io}");
    assert!(err.to_string().contains("rockhold-errors-file"), "{err}");
    assert!(matches!(err, Error::Io { path: Some(_), .. }), "{err:?}");
}

/// A cursor of one lookup given to another was `InvalidRequest`, a string;
/// it is its own variant, and a caller error.
#[test]
fn cursor_misuse_is_a_typed_caller_error() {
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("item")
            .field(FieldSpec::new("size", FieldType::U64).ordered())
            .field(FieldSpec::new("name", FieldType::String).hash()),
    )
    .expect("class");
    for i in 0..4u64 {
        db.insert(
            "default",
            "item",
            [("size", Value::from(i % 2)), ("name", "n".into())],
        )
        .expect("insert");
    }
    let page = db
        .scan("default", "item", "size", &RangeScan::all().limit(1))
        .expect("page");
    let cursor = page.cursor.expect("a full page");
    let err = db
        .find_page(
            "default",
            "item",
            "name",
            &"n".into(),
            &FindAll::first(1).after(cursor),
        )
        .expect_err("a cursor of another index");
    assert!(matches!(err, Error::InvalidCursor { .. }), "{err:?}");
    assert!(err.is_caller_error());
}

#[test]
fn a_database_handle_is_a_cheap_clone_shared_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Db>();
    let db = TempDb::new();
    db.create_class(
        "default",
        &ClassSpec::new("n").field(FieldSpec::new("v", FieldType::U64)),
    )
    .expect("class");
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.db().clone();
            std::thread::spawn(move || {
                db.insert("default", "n", [("v", Value::from(t))])
                    .expect("insert")
            })
        })
        .collect();
    let ids: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    // Closing a clone leaves the database open for the others.
    db.db().clone().close().expect("close a clone");
    for id in ids {
        assert!(db.get("default", id).expect("get").is_some());
    }
}
