//! `rockhold demo`: a short, readable tour of the engine.

use std::ops::Bound;
use std::path::PathBuf;
use std::process::ExitCode;

use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, Options, RangeScan, Value};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub fn run(dir: Option<PathBuf>) -> Result<ExitCode> {
    let temp;
    let path = match dir {
        Some(d) => d,
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    outln!("rockhold demo: database at {}", path.display());
    let db = Db::open(&path, Options::default())?;

    let class = db.create_class(
        "default",
        &ClassSpec::new("user")
            .field(FieldSpec::new("email", FieldType::String).unique_hash())
            .field(FieldSpec::new("name", FieldType::String))
            .field(FieldSpec::new("age", FieldType::U64).ordered()),
    )?;
    outln!("\nclass `user` (revision {}):", class.revision);
    for f in &class.fields {
        outln!("  field {:<6} {}", f.name, f.ty.name());
    }
    for i in &class.indexes {
        outln!("  index {:<6} {:?}", i.name, i.kind);
    }

    let people = [
        ("ada@example.org", "Ada Lovelace", 36u64),
        ("grace@example.org", "Grace Hopper", 85),
        ("alan@example.org", "Alan Turing", 41),
        ("edsger@example.org", "Edsger Dijkstra", 72),
        ("barbara@example.org", "Barbara Liskov", 86),
    ];
    let mut tx = db.transaction();
    for (email, name, age) in people {
        tx.insert(
            "default",
            "user",
            [
                ("email", Value::from(email)),
                ("name", name.into()),
                ("age", age.into()),
            ],
        )?;
    }
    tx.commit()?;
    outln!(
        "\ninserted {} users in one transaction (one WriteBatch: records + all index entries)",
        people.len()
    );

    let grace = db
        .find_unique("default", "user", "email", &"grace@example.org".into())?
        .ok_or("grace is missing")?;
    let obj = db.get("default", grace)?.ok_or("grace vanished")?;
    outln!(
        "\nunique lookup  email = \"grace@example.org\"  ->  object {grace}: {}",
        show(&obj.fields)
    );

    let q = RangeScan::between(Bound::Included(40u64.into()), Bound::Excluded(80u64.into()));
    let page = db.scan("default", "user", "age", &q)?;
    outln!("range scan     40 <= age < 80:");
    for (age, id) in &page.hits {
        let name = db
            .get("default", *id)?
            .and_then(|o| o.get("name").cloned())
            .unwrap_or(Value::Absent);
        outln!("  age {age:<3} object {id}  {name}");
    }
    let oldest = db.scan(
        "default",
        "user",
        "age",
        &RangeScan::all().reverse().limit(1),
    )?;
    if let Some((age, id)) = oldest.hits.first() {
        outln!("reverse scan   oldest: object {id}, age {age}");
    }

    outln!("\ninserting a second user with email \"ada@example.org\" ...");
    match db.insert(
        "default",
        "user",
        [
            ("email", Value::from("ada@example.org")),
            ("name", "Impostor".into()),
            ("age", 1u64.into()),
        ],
    ) {
        Err(e @ Error::UniqueViolation { .. }) => outln!("  refused: {e}"),
        Err(e) => return Err(e.into()),
        Ok(id) => return Err(format!("a duplicate was accepted as object {id}").into()),
    }

    let ada = db
        .find_unique("default", "user", "email", &"ada@example.org".into())?
        .ok_or("ada is missing")?;
    db.update("default", ada, [("email", "countess@example.org")])?;
    let reused = db.insert(
        "default",
        "user",
        [
            ("email", Value::from("ada@example.org")),
            ("name", "Ada (new account)".into()),
            ("age", 20u64.into()),
        ],
    )?;
    outln!("after object {ada} renamed its email, the old value is free again: object {reused} took it");

    let report = db.verify()?;
    outln!(
        "\nverify: {} objects, {} index entries, {} other records: {}",
        report.objects,
        report.index_entries,
        report.other_records,
        if report.is_clean() {
            "invariant holds"
        } else {
            "PROBLEMS FOUND"
        }
    );
    db.close()?;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn show(fields: &[(String, Value)]) -> String {
    let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{ {} }}", parts.join(", "))
}
