//! `rockhold get` (issue 27, item 5): one object by id or by its value in a
//! unique index, as text and JSON, on a database a writer holds open; bad
//! input (a value of the wrong type, the wrong number of parts, an unknown
//! class, no index to choose) is exit 2 with the reason, a miss exit 1.

use std::path::Path;
use std::process::{Command, Output};

use rockhold::{ClassSpec, Db, FieldSpec, FieldType, IndexKind, IndexSpec, Options, Value};

fn rockhold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rockhold"))
        .args(args)
        .output()
        .expect("run rockhold")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Users (unique hash email, ordered age) and codes (a compound unique
/// index over tenant and code, and a second unique index): the database
/// stays open in the returned handle, as an application's would.
fn open_db(dir: &Path) -> Db {
    let db = Db::open(dir, Options::default()).expect("open");
    db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("name", FieldType::String))
            .field(FieldSpec::new("age", FieldType::U64).ordered()),
    )
    .expect("user");
    db.create_class(
        "default",
        &ClassSpec::new("code")
            .field(FieldSpec::new("tenant", FieldType::U64))
            .field(FieldSpec::new("code", FieldType::String))
            .field(FieldSpec::new("serial", FieldType::Bytes).unique_ordered())
            .field(FieldSpec::new("delta", FieldType::I64).unique_hash())
            .index(IndexSpec::new(
                "by_tenant_code",
                IndexKind::Hash { unique: true },
                ["tenant", "code"],
            )),
    )
    .expect("code");
    db.insert(
        "default",
        "user",
        [
            ("email", Value::from("ada@x.org")),
            ("name", Value::from("Ada")),
            ("age", Value::U64(36)),
        ],
    )
    .expect("ada");
    db.insert(
        "default",
        "code",
        [
            ("tenant", Value::U64(7)),
            ("code", Value::from("a-1")),
            ("serial", Value::Bytes(vec![0xca, 0xfe])),
            ("delta", Value::I64(-5)),
        ],
    )
    .expect("code");
    db
}

#[test]
fn get_by_key_and_by_id_as_text_and_json_while_a_writer_holds_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_dir = dir.path().join("db");
    let db = open_db(&db_dir);
    let p = db_dir.to_str().expect("utf-8");

    let out = rockhold(&["get", p, "--class", "user", "--key", "ada@x.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "object 0 of class user in namespace default\n  email: \"ada@x.org\"\n  name: \"Ada\"\n  age: 36\n"
    );

    let out = rockhold(&["get", p, "--class", "user", "--id", "0", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "id": 0,
            "class": "user",
            "namespace": "default",
            "fields": { "email": "ada@x.org", "name": "Ada", "age": 36 },
        })
    );

    // A compound index: one --key per part, each typed by its part.
    let out = rockhold(&[
        "get",
        p,
        "--class",
        "code",
        "--index",
        "by_tenant_code",
        "--key",
        "7",
        "--key",
        "a-1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("object 1 of class code"),
        "{}",
        stdout(&out)
    );
    let out = rockhold(&[
        "get", p, "--class", "code", "--index", "serial", "--key", "cafe",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A negative value is a value, not an option.
    let out = rockhold(&[
        "get", p, "--class", "code", "--index", "delta", "--key", "-5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Written after the commands above, while the writer is open: seen.
    db.insert(
        "default",
        "user",
        [
            ("email", Value::from("bob@x.org")),
            ("name", Value::from("Bob")),
            ("age", Value::U64(41)),
        ],
    )
    .expect("bob");
    let out = rockhold(&["get", p, "--class", "user", "--key", "bob@x.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("name: \"Bob\""), "{}", stdout(&out));
    db.close().expect("close");
}

#[test]
fn a_miss_is_exit_1_and_bad_input_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_dir = dir.path().join("db");
    open_db(&db_dir).close().expect("close");
    let p = db_dir.to_str().expect("utf-8");
    let run = |args: &[&str]| {
        let mut all = vec!["get", p];
        all.extend_from_slice(args);
        let out = rockhold(&all);
        (out.status.code(), stdout(&out), stderr(&out))
    };

    let (code, out, err) = run(&["--class", "user", "--key", "nobody@x.org"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert!(
        err.contains("no object of class user in namespace default with email = \"nobody@x.org\""),
        "{err}"
    );
    // Object 1 is a code: named, as bad input (the id is of another class).
    let (code, _, err) = run(&["--class", "user", "--id", "1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("object 1 is of class \"code\", not \"user\""),
        "{err}"
    );
    let (code, _, err) = run(&["--class", "user", "--id", "99"]);
    assert_eq!(code, Some(1), "{err}");

    for (args, reason) in [
        (
            &[
                "--class",
                "code",
                "--index",
                "by_tenant_code",
                "--key",
                "x",
                "--key",
                "a-1",
            ][..],
            "--key \"x\" (part 1 of index by_tenant_code): not an unsigned integer",
        ),
        (
            &["--class", "code", "--index", "by_tenant_code", "--key", "7"][..],
            "index by_tenant_code has 2 part(s), and 1 --key value(s) were given",
        ),
        (
            &["--class", "code", "--key", "7"][..],
            "class code has several unique indexes (serial, delta, by_tenant_code): name one with --index",
        ),
        (
            &["--class", "user", "--index", "age", "--key", "36"][..],
            "class user has no unique index age (its unique indexes: email)",
        ),
        (
            &["--class", "code", "--index", "serial", "--key", "xyz"][..],
            "not hex digits in pairs",
        ),
        (
            // Two-byte characters: refused, not sliced in half.
            &["--class", "code", "--index", "serial", "--key", "éé"][..],
            "not hex digits in pairs",
        ),
        (
            &["--class", "user"][..],
            "give either --id N or --key VALUE",
        ),
        (&["--class", "nobody", "--id", "0"][..], "nobody"),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(reason), "{args:?}: {err}");
    }
}
