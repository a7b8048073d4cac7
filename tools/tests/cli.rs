//! The `rockhold` command end to end: golden dumps, `verify` catching each
//! kind of damage, backups and restores, and read-only commands on a database
//! another process is writing to.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use rockhold::{
    ClassSpec, Db, Family, FieldSpec, FieldType, IndexKind, IndexSpec, MemberDef, ObjectId,
    Options, Value, VariantDef,
};
use rockhold_format::{
    encode_locator, HashKey, Key, LocatorKey, NamespaceId, ObjectKey, OrderedKey, TaskKey,
};
use rockhold_tests::{raw_cf, with_raw_db};

fn rockhold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rockhold"))
        .args(args)
        .output()
        .expect("run rockhold")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn users(db: &Db) {
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("age", FieldType::U64).ordered())
            .field(FieldSpec::new("nick", FieldType::String).optional()),
    )
    .expect("class");
}

/// Objects 0 (ada, with a nick) and 1 (alan) of class `user`.
fn two_users(db: &Db) {
    db.insert(
        "default",
        "user",
        [
            ("email", Value::from("ada@x.org")),
            ("age", 36u64.into()),
            ("nick", "ada".into()),
        ],
    )
    .expect("ada");
    db.insert(
        "default",
        "user",
        [("email", Value::from("alan@x.org")), ("age", 41u64.into())],
    )
    .expect("alan");
}

/// A small database with fixed contents and a fixed hash seed.
fn golden_db(dir: &Path) {
    let db = Db::open(dir, Options::default().fixed_hash_seed(1, 2)).expect("open");
    users(&db);
    two_users(&db);
    db.create_namespace("shop").expect("ns");
    db.create_class(
        "shop",
        &ClassSpec::new("item")
            .field(FieldSpec::new("sku", FieldType::String).unique_ordered())
            .field(FieldSpec::new("blob", FieldType::Bytes)),
    )
    .expect("item");
    db.insert(
        "shop",
        "item",
        [
            ("sku", Value::from("a\0b")),
            ("blob", Value::Bytes(vec![0, 255])),
        ],
    )
    .expect("item");
    // Nested values: a list indexed per element, a struct indexed on a
    // member, an enum, and a compound unique index.
    let shelf = FieldType::Struct(vec![MemberDef {
        name: "aisle".into(),
        ty: FieldType::U64,
        optional: false,
    }]);
    let state = FieldType::Enum(vec![
        VariantDef {
            name: "Stocked".into(),
            payload: Some(FieldType::U64),
        },
        VariantDef {
            name: "Gone".into(),
            payload: None,
        },
    ]);
    db.create_class(
        "shop",
        &ClassSpec::new("box")
            .field(FieldSpec::new("tags", FieldType::List(Box::new(FieldType::String))).hash())
            .field(FieldSpec::new("shelf", shelf))
            .field(FieldSpec::new("state", state))
            .field(FieldSpec::new("row", FieldType::I64))
            .index(IndexSpec::new(
                "place",
                IndexKind::Ordered { unique: true },
                ["shelf.aisle", "row"],
            )),
    )
    .expect("box");
    db.insert(
        "shop",
        "box",
        [
            (
                "tags",
                Value::List(vec!["red".into(), "big".into(), "red".into()]),
            ),
            (
                "shelf",
                Value::map([("aisle".to_string(), Value::U64(4))]).expect("map"),
            ),
            ("state", Value::variant("Stocked", Value::U64(12))),
            ("row", Value::I64(-1)),
        ],
    )
    .expect("box");
    db.close().expect("close");
}

fn check_golden(name: &str, actual: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&file, actual).expect("write golden");
    }
    let expected = std::fs::read_to_string(&file).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(actual, expected, "{name} differs from the golden file");
}

#[test]
fn dump_matches_golden_text_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    golden_db(dir.path());
    let text = rockhold(&["dump", path(dir.path())]);
    assert!(text.status.success());
    check_golden("dump.txt", &stdout(&text));
    let json = rockhold(&["dump", path(dir.path()), "--json"]);
    assert!(json.status.success());
    check_golden("dump.json", &stdout(&json));
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("valid JSON");
    assert!(parsed.as_array().is_some_and(|a| a.len() > 10));
    // Filters.
    let only = rockhold(&[
        "dump",
        path(dir.path()),
        "--namespace",
        "shop",
        "--family",
        "object",
    ]);
    assert_eq!(stdout(&only).lines().count(), 2, "{}", stdout(&only));
    let limited = rockhold(&["dump", path(dir.path()), "--limit", "3"]);
    assert_eq!(stdout(&limited).lines().count(), 3);
}

#[test]
fn dump_shows_undecodable_bytes_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    golden_db(dir.path());
    with_raw_db(dir.path(), |raw| {
        raw.put_cf(raw_cf(raw, Family::Object), b"Ojunk", b"\x00\x01garbage")
            .expect("put");
    });
    let out = rockhold(&["dump", path(dir.path()), "--family", "object"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("UNDECODABLE key=Ojunk"), "{text}");
    assert_eq!(
        text.lines().count(),
        5,
        "the four objects are still shown: {text}"
    );
}

/// Damage done to a clean database, and the key `verify` must name.
fn damage(dir: &Path, what: &str) -> String {
    let ns = NamespaceId(0);
    let class = rockhold_format::ClassId(1);
    with_raw_db(dir, |raw| {
        let key: Vec<u8> = match what {
            "missing locator" => {
                let k = LocatorKey {
                    ns,
                    id: ObjectId(1),
                }
                .encode();
                raw.delete_cf(raw_cf(raw, Family::Locator), &k)
                    .expect("delete");
                ObjectKey {
                    ns,
                    class,
                    id: ObjectId(1),
                }
                .encode()
            }
            "orphan locator" => {
                let k = LocatorKey {
                    ns,
                    id: ObjectId(77),
                }
                .encode();
                raw.put_cf(raw_cf(raw, Family::Locator), &k, encode_locator(class))
                    .expect("put");
                k
            }
            "missing index entry" => {
                let k = OrderedKey {
                    ns,
                    class,
                    index: rockhold_format::IndexId(2),
                    values: vec![Value::U64(36)],
                    id: Some(ObjectId(0)),
                }
                .encode();
                raw.delete_cf(raw_cf(raw, Family::Ordered), &k)
                    .expect("delete");
                ObjectKey {
                    ns,
                    class,
                    id: ObjectId(0),
                }
                .encode()
            }
            "stale index entry" => {
                let k = OrderedKey {
                    ns,
                    class,
                    index: rockhold_format::IndexId(2),
                    values: vec![Value::U64(99)],
                    id: Some(ObjectId(0)),
                }
                .encode();
                raw.put_cf(raw_cf(raw, Family::Ordered), &k, b"")
                    .expect("put");
                k
            }
            "flipped byte in an object record" => {
                let k = ObjectKey {
                    ns,
                    class,
                    id: ObjectId(1),
                }
                .encode();
                let cf = raw_cf(raw, Family::Object);
                let mut v = raw.get_cf(cf, &k).expect("get").expect("object 1");
                v[10] ^= 0x04;
                raw.put_cf(cf, &k, v).expect("put");
                k
            }
            "flipped byte in a task record" => {
                let k = TaskKey {
                    ns,
                    class,
                    index: rockhold_format::IndexId(3),
                }
                .encode();
                let cf = raw_cf(raw, Family::Task);
                let mut v = raw.get_cf(cf, &k).expect("get").expect("task of nick");
                v[7] ^= 0x80;
                raw.put_cf(cf, &k, v).expect("put");
                k
            }
            "stale hash entry" => {
                // A unique email's point key naming object 1, which holds
                // another email.
                let k = HashKey {
                    ns,
                    class,
                    index: rockhold_format::IndexId(1),
                    hash: 42,
                    id: None,
                }
                .encode();
                raw.put_cf(raw_cf(raw, Family::Hash), &k, 1u64.to_be_bytes())
                    .expect("put");
                k
            }
            other => panic!("unknown damage {other}"),
        };
        key.escape_ascii().to_string()
    })
}

#[test]
fn verify_names_each_kind_of_damage() {
    for what in [
        "missing locator",
        "orphan locator",
        "missing index entry",
        "stale index entry",
        "stale hash entry",
        "flipped byte in an object record",
        "flipped byte in a task record",
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
        users(&db);
        two_users(&db);
        // An index added to a populated class leaves a task record to damage.
        db.update_class(
            "default",
            &ClassSpec::new("user")
                .field(FieldSpec::new("email", FieldType::String).unique_hash())
                .field(FieldSpec::new("age", FieldType::U64).ordered())
                .field(FieldSpec::new("nick", FieldType::String).optional().hash()),
        )
        .expect("add index");
        db.check_reindex_tasks().expect("build");
        db.close().expect("close");
        assert!(
            rockhold(&["verify", path(dir.path())]).status.success(),
            "clean before: {what}"
        );
        let key = damage(dir.path(), what);
        let out = rockhold(&["verify", path(dir.path())]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stdout(&out));
        assert!(
            stdout(&out).contains(&key),
            "{what}: key {key} not named in\n{}",
            stdout(&out)
        );
        let json = rockhold(&["verify", path(dir.path()), "--json"]);
        assert_eq!(json.status.code(), Some(1));
        let report: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON report");
        assert_eq!(report["clean"], false);
    }
}

#[test]
fn verify_is_clean_on_100k_objects_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    users(&db);
    for start in (0..100_000u64).step_by(1000) {
        let mut tx = db.transaction();
        for i in start..start + 1000 {
            tx.insert(
                "default",
                "user",
                [
                    ("email", Value::from(format!("u{i}@x"))),
                    ("age", (i % 90).into()),
                ],
            )
            .expect("stage");
        }
        tx.commit().expect("commit");
    }
    db.close().expect("close");
    let out = rockhold(&["verify", path(dir.path())]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("100000 objects, 300000 index entries"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        rockhold(&["verify", "/nonexistent/db"]).status.code(),
        Some(2)
    );
    assert_eq!(rockhold(&["verify"]).status.code(), Some(2));
}

fn contents(dir: &Path) -> Vec<(ObjectId, Vec<(String, Value)>)> {
    let db = Db::open(dir, Options::default()).expect("open restored");
    let out = db
        .scan_objects("default", "user", None, usize::MAX)
        .expect("scan")
        .into_iter()
        .map(|o| (o.id, o.fields))
        .collect();
    db.close().expect("close");
    out
}

#[test]
fn incremental_backups_restore_to_verified_databases() {
    let root = tempfile::tempdir().expect("tempdir");
    let (live, backups) = (root.path().join("live"), root.path().join("backups"));
    let db = Db::open(&live, Options::default()).expect("open");
    users(&db);
    for i in 0..500u64 {
        db.insert(
            "default",
            "user",
            [("email", Value::from(format!("a{i}@x"))), ("age", i.into())],
        )
        .expect("insert");
    }
    db.close().expect("close");
    let first_contents = contents(&live);
    assert!(rockhold(&["backup", "create", path(&live), path(&backups)])
        .status
        .success());
    // More writes, then a second, incremental backup.
    let db = Db::open(&live, Options::default()).expect("open");
    for i in 0..200u64 {
        db.update("default", ObjectId(i), [("age", Value::U64(1000 + i))])
            .expect("update");
        db.insert(
            "default",
            "user",
            [("email", Value::from(format!("b{i}@x"))), ("age", i.into())],
        )
        .expect("insert");
    }
    db.delete("default", ObjectId(499)).expect("delete");
    db.close().expect("close");
    let second_contents = contents(&live);
    assert!(rockhold(&["backup", "create", path(&live), path(&backups)])
        .status
        .success());
    let list = stdout(&rockhold(&["backup", "list", path(&backups)]));
    assert_eq!(list.lines().count(), 3, "header + 2 backups: {list}");
    let infos = rockhold::list_backups(&backups).expect("list");
    assert!(infos[1].size > 0);
    assert!(rockhold(&["backup", "verify", path(&backups)])
        .status
        .success());
    for (id, want) in [(1u32, &first_contents), (2, &second_contents)] {
        let target = root.path().join(format!("restore{id}"));
        let out = rockhold(&[
            "backup",
            "restore",
            path(&backups),
            path(&target),
            "--id",
            &id.to_string(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            rockhold(&["verify", path(&target)]).status.success(),
            "restored backup {id} verifies"
        );
        assert_eq!(
            &contents(&target),
            want,
            "backup {id} holds the state at its time"
        );
    }
    assert!(
        rockhold(&["backup", "purge", path(&backups), "--keep", "1"])
            .status
            .success()
    );
    assert_eq!(rockhold::list_backups(&backups).expect("list").len(), 1);
    let cp = root.path().join("checkpoint");
    assert!(rockhold(&["checkpoint", path(&live), path(&cp)])
        .status
        .success());
    assert_eq!(contents(&cp), second_contents);
}

/// Child side of `read_only_commands_work_on_a_live_database`: writes until killed.
#[test]
#[ignore = "run by read_only_commands_work_on_a_live_database in a child process"]
fn live_writer_child() {
    let Ok(dir) = std::env::var("ROCKHOLD_LIVE_DIR") else {
        return;
    };
    let db = Db::open(&dir, Options::default()).expect("open");
    users(&db);
    println!("READY");
    for i in 0u64.. {
        let id = db
            .insert(
                "default",
                "user",
                [
                    ("email", Value::from(format!("w{i}@x"))),
                    ("age", (i % 50).into()),
                ],
            )
            .expect("insert");
        if i % 3 == 0 {
            db.update(
                "default",
                id,
                [("email", Value::from(format!("w{i}-moved@x")))],
            )
            .expect("update");
        }
        if i % 5 == 0 {
            db.delete("default", id).expect("delete");
        }
        // Bounded rate: the database stays small while the commands run.
        thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn read_only_commands_work_on_a_live_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "live_writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROCKHOLD_LIVE_DIR", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    while !line.contains("READY") {
        line.clear();
        std::io::BufRead::read_line(&mut reader, &mut line).expect("read");
    }
    thread::sleep(Duration::from_millis(200));
    for round in 0..3 {
        for args in [
            vec!["verify"],
            vec!["dump", "--limit", "50"],
            vec!["stats"],
            vec!["tasks"],
            vec!["dump", "--json", "--limit", "5"],
        ] {
            let mut full = args.clone();
            full.insert(1, path(dir.path()));
            let out = rockhold(&full);
            assert!(
                out.status.success(),
                "round {round} {args:?}: {}\n{}",
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let out = rockhold(&["verify", path(dir.path())]);
    assert!(stdout(&out).contains("clean"), "{}", stdout(&out));
    child.kill().expect("kill writer");
    child.wait().expect("reap");
}

#[test]
fn reindex_rebuilds_an_index_to_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    users(&db);
    for i in 0..3000u64 {
        db.insert(
            "default",
            "user",
            [
                ("email", Value::from(format!("u{i}@x"))),
                ("age", (i % 7).into()),
            ],
        )
        .expect("insert");
    }
    db.close().expect("close");
    // Lose some age entries behind the engine's back; reindex repairs them.
    with_raw_db(dir.path(), |raw| {
        let cf = raw_cf(raw, Family::Ordered);
        let keys: Vec<Box<[u8]>> = raw
            .iterator_cf(cf, rocksdb::IteratorMode::Start)
            .filter(|kv| kv.as_ref().is_ok_and(|(k, _)| k.starts_with(b"IR")))
            .take(100)
            .map(|kv| kv.expect("kv").0)
            .collect();
        for k in keys {
            raw.delete_cf(cf, k).expect("delete");
        }
    });
    assert_eq!(
        rockhold(&["verify", path(dir.path())]).status.code(),
        Some(1)
    );
    let out = rockhold(&[
        "reindex",
        path(dir.path()),
        "--class",
        "user",
        "--field",
        "age",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("user.age: done"), "{}", stdout(&out));
    assert!(rockhold(&["verify", path(dir.path())]).status.success());
    let tasks = stdout(&rockhold(&["tasks", path(dir.path())]));
    assert!(tasks.contains("done"), "{tasks}");
    assert_eq!(
        rockhold(&["reindex", path(dir.path()), "--class", "nope"])
            .status
            .code(),
        Some(2)
    );
}

/// Issue 11, item 10: an operator had no way to retry a failed index build.
/// `rockhold tasks --retry-failed` requeues and runs it (new flag: clap
/// refused it before the fix, exit 2).
#[test]
fn tasks_retry_failed_rebuilds_a_failed_index_once_its_cause_is_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
    let spec = |unique: bool| {
        let email = FieldSpec::new("email", FieldType::String);
        ClassSpec::new("user").field(if unique { email.unique_hash() } else { email })
    };
    db.create_class("default", &spec(false)).expect("class");
    let a = db
        .insert("default", "user", [("email", "same@x")])
        .expect("a");
    db.insert("default", "user", [("email", "same@x")])
        .expect("b");
    db.update_class("default", &spec(true)).expect("index");
    assert!(
        db.check_reindex_tasks().is_err(),
        "duplicates fail the build"
    );
    db.close().expect("close");

    let out = rockhold(&["tasks", "--retry-failed", path(dir.path())]);
    assert_eq!(out.status.code(), Some(1), "fails again: {}", stdout(&out));
    assert!(
        stdout(&out).contains("requeued 1 failed task(s)"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("failed"), "{}", stdout(&out));

    let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
    db.update("default", a, [("email", "fixed@x")])
        .expect("fix");
    db.close().expect("close");
    let out = rockhold(&["tasks", "--retry-failed", path(dir.path())]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("done"), "{}", stdout(&out));
    let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
    assert_eq!(
        db.find_unique("default", "user", "email", &"fixed@x".into())
            .expect("the index answers"),
        Some(a)
    );
}

/// Spawns the writer child on `dir` and waits until it has the database open.
fn spawn_live_writer(dir: &Path) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "live_writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROCKHOLD_LIVE_DIR", dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    while !line.contains("READY") {
        line.clear();
        std::io::BufRead::read_line(&mut reader, &mut line).expect("read");
    }
    // The child keeps writing; its stdout is not read again.
    thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    child
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn log_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("LOG"))
        .collect();
    v.sort();
    v
}

/// The bugs: `backup restore` into a database another process held open
/// printed success and deleted its objects under the live writer, and into
/// a folder of unrelated files deleted them; `backup create`/`checkpoint`
/// of a held database failed with a raw lock message; a failed writable
/// open rotated the live process's LOG. Without the lock probe and the
/// restore checks, the restore here exited 0 and the live database lost
/// its objects.
#[test]
fn a_live_database_is_never_restored_over_opened_or_copied() {
    let root = tempfile::tempdir().expect("tempdir");
    let (source, backups, live) = (
        root.path().join("source"),
        root.path().join("backups"),
        root.path().join("live"),
    );
    golden_db(&source);
    let out = rockhold(&["backup", "create", path(&source), path(&backups)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut child = spawn_live_writer(&live);
    let logs = log_files(&live);
    let out = rockhold(&["backup", "restore", path(&backups), path(&live), "--force"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("held open"), "{}", stderr(&out));
    // In this process too: a typed error, before RocksDB touches anything.
    assert!(matches!(
        Db::open(&live, Options::default()),
        Err(rockhold::Error::Locked { .. })
    ));
    assert!(matches!(
        rockhold::restore_backup(&backups, None, &live, true),
        Err(rockhold::Error::Locked { .. })
    ));
    for (args, advice) in [
        (
            vec!["backup", "create", path(&live), path(&backups)],
            "Db::create_backup",
        ),
        (
            vec!["checkpoint", path(&live), path(&root.path().join("cp"))],
            "Db::checkpoint",
        ),
        (vec!["reindex", path(&live), "--class", "user"], "held open"),
    ] {
        let out = rockhold(&args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(advice), "{args:?}: {}", stderr(&out));
    }
    assert!(!root.path().join("cp").exists());
    assert_eq!(
        log_files(&live),
        logs,
        "the live process's LOG was not rotated"
    );
    child.kill().expect("kill writer");
    child.wait().expect("reap");
    let db = Db::open(&live, Options::default()).expect("open after the writer");
    assert!(
        !db.scan_objects("default", "user", None, 10)
            .expect("scan")
            .is_empty(),
        "the live database kept its objects"
    );
    db.close().expect("close");

    // A folder of other files is never replaced, even with --force.
    let foreign = root.path().join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "keep me").expect("write");
    for force in [false, true] {
        let mut args = vec!["backup", "restore", path(&backups), path(&foreign)];
        if force {
            args.push("--force");
        }
        let out = rockhold(&args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(foreign.join("notes.txt")).expect("still there"),
            "keep me"
        );
    }
    // A closed database is replaced only with --force, and then whole.
    let out = rockhold(&["backup", "restore", path(&backups), path(&live)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let out = rockhold(&["backup", "restore", path(&backups), path(&live), "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(contents(&live), contents(&source));
    assert!(rockhold(&["verify", path(&live)]).status.success());
    let leftovers: Vec<_> = std::fs::read_dir(root.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "no temp dirs left: {leftovers:?}");
}

/// The bug: `backup list|verify|purge` on a path that did not exist (or a
/// database directory) created BackupEngine folders there, and a backup
/// directory inside the database was accepted. Without the checks, `list`
/// exited 0 and created the folder.
#[test]
fn backup_commands_refuse_paths_that_are_not_backup_directories() {
    let root = tempfile::tempdir().expect("tempdir");
    let db = root.path().join("db");
    golden_db(&db);
    let missing = root.path().join("missing");
    for args in [
        vec!["backup", "list", path(&missing)],
        vec!["backup", "verify", path(&missing)],
        vec!["backup", "purge", path(&missing), "--keep", "1"],
        vec!["backup", "list", path(&db)],
        vec!["backup", "purge", path(&db), "--keep", "1"],
    ] {
        let out = rockhold(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert!(!missing.exists(), "nothing was created");
    assert!(!db.join("meta").exists() && !db.join("private").exists());
    let inside = db.join("backups");
    let out = rockhold(&["backup", "create", path(&db), path(&inside)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("inside the database"),
        "{}",
        stderr(&out)
    );
    assert!(!inside.exists());
    let out = rockhold(&["checkpoint", path(&db), path(&db.join("cp"))]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!db.join("cp").exists());
}

/// The bug: `rockhold stats|verify|tasks|backup list|demo | head -1`
/// panicked on the closed pipe (exit 101) and `dump --json` exited 2.
/// Here stdout is a pipe whose reader is already closed: every write fails
/// with EPIPE. Without the writer, these exited 101 with "panicked".
#[test]
fn a_closed_stdout_ends_commands_normally() {
    let root = tempfile::tempdir().expect("tempdir");
    let db = root.path().join("db");
    golden_db(&db);
    let backups = root.path().join("backups");
    assert!(rockhold(&["backup", "create", path(&db), path(&backups)])
        .status
        .success());
    for args in [
        vec!["stats", path(&db)],
        vec!["verify", path(&db)],
        vec!["verify", path(&db), "--json"],
        vec!["tasks", path(&db)],
        vec!["dump", path(&db)],
        vec!["dump", path(&db), "--json"],
        vec!["backup", "list", path(&backups)],
        vec!["demo"],
    ] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_rockhold"))
            .args(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run rockhold");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // Read one line, then stop reading, as `| head -1` does.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rockhold"))
        .args(["dump", path(&db)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut first,
    )
    .expect("read a line");
    assert!(!first.is_empty());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// The bug: `verify` exited 0 on a database one of whose SST files was
/// gone (a writable open then failed), and a deleted index SST read as
/// thousands of missing entries. Without the file check, this verify
/// reported "missing ordered entry" per object instead of the file.
#[test]
fn verify_reports_a_missing_sst_file_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default().runner_threads(0)).expect("open");
    users(&db);
    for i in 0..2000u64 {
        db.insert(
            "default",
            "user",
            [("email", Value::from(format!("u{i}@x"))), ("age", i.into())],
        )
        .expect("insert");
    }
    db.close().expect("close");
    // Everything into SST files, then one file of the ordered index gone.
    let sst = with_raw_db(dir.path(), |raw| {
        raw.flush_cfs_opt(
            &rockhold::COLUMN_FAMILIES.map(|cf| raw.cf_handle(cf).expect("cf")),
            &rocksdb::FlushOptions::default(),
        )
        .expect("flush");
        raw.live_files()
            .expect("live files")
            .into_iter()
            .find(|f| f.column_family_name == "index_ordered")
            .expect("an ordered-index SST")
            .name
    });
    let name = sst.trim_start_matches('/').to_string();
    std::fs::remove_file(dir.path().join(&name)).expect("delete the SST");
    let out = rockhold(&["verify", path(dir.path())]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains(&name) && text.contains("missing"), "{text}");
    assert!(text.lines().count() < 5, "one problem per file: {text}");
}

/// The bugs: a plain RocksDB database read as "Column family not found",
/// and exit codes were 2 for every failure. Without the mapping, this
/// exited 2 with RocksDB's message.
#[test]
fn failures_have_documented_exit_codes() {
    let root = tempfile::tempdir().expect("tempdir");
    let plain = root.path().join("plain");
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        let raw = rocksdb::DB::open(&o, &plain).expect("plain rocksdb");
        raw.put(b"k", b"v").expect("put");
    }
    for cmd in ["stats", "verify", "dump"] {
        let out = rockhold(&[cmd, path(&plain)]);
        assert_eq!(out.status.code(), Some(3), "{cmd}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a rockhold database"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    assert_eq!(rockhold(&["stats", path(&empty)]).status.code(), Some(3));
    // A path that cannot be read is reported as such, not as "no database".
    // (Permission bits cannot be tested here: the tests may run as root.)
    let file = root.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let out = rockhold(&["stats", path(&file.join("db"))]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    let help = stdout(&rockhold(&["--help"]));
    for line in [
        "Exit status",
        "3  not a rockhold database",
        "4  the database is held open",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

/// `rockhold migrate` on the checked-in format-v1 database: every command
/// refuses it before, naming the migration; after it, the indexes are
/// rebuilt and `verify` is clean; a second run has nothing to do.
#[test]
fn migrate_rewrites_a_format_v1_database_and_rebuilds_its_indexes() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-v1");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).expect("mkdir");
    for entry in std::fs::read_dir(&fixture).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), db.join(entry.file_name())).expect("copy");
    }
    let refused = rockhold(&["verify", path(&db)]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(err.contains("rockhold migrate"), "{err}");
    let out = rockhold(&["migrate", path(&db)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("format version 1 -> 3"), "{text}");
    assert!(
        text.contains("verify: 45 objects") && text.contains("clean"),
        "{text}"
    );
    let again = rockhold(&["migrate", path(&db)]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to do"),
        "{}",
        stdout(&again)
    );
    let verify = rockhold(&["verify", path(&db)]);
    assert!(verify.status.success(), "{}", stdout(&verify));
}

/// `rockhold compact` (`Db::compact`). Checked to fail with `Db::compact`
/// a no-op: "1.4 MiB -> 1.4 MiB".
#[test]
fn compact_gives_back_the_space_of_deleted_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    users(&db);
    let ids: Vec<ObjectId> = (0..20_000u64)
        .map(|i| {
            db.insert(
                "default",
                "user",
                [
                    ("email", Value::from(format!("u{i}@x"))),
                    ("age", (i % 90).into()),
                    ("nick", Value::from("x".repeat(100))),
                ],
            )
            .expect("insert")
        })
        .collect();
    for id in &ids[1..] {
        db.delete("default", *id).expect("delete");
    }
    db.close().expect("close");
    let out = rockhold(&["compact", path(dir.path())]);
    assert!(out.status.success(), "{}", stderr(&out));
    // "<dir>: compacted, B MiB -> A MiB on disk", A well below B.
    let text = stdout(&out);
    let mib: Vec<f64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        matches!(mib[..], [before, after] if after < before / 2.0),
        "{text}"
    );
    let db = Db::open(dir.path(), Options::default()).expect("reopen");
    assert!(db.verify().expect("verify").is_clean());
    assert_eq!(
        db.find_unique("default", "user", "email", &"u0@x".into())
            .expect("find"),
        Some(ids[0])
    );
    assert_eq!(
        db.scan_class("default", "user", None, 10).expect("scan"),
        vec![ids[0]]
    );
}
