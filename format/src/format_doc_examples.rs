//! Checks the worked hex examples of docs/FORMAT.md byte for byte.
//!
//! Each example in the document is a fenced block opened with
//! "```hex example=NAME"; its hex digits (spaces, newlines and `|` ignored)
//! must equal what this crate encodes for the value built under NAME below,
//! and every NAME below must appear in the document.

use crate::hash::HashSeed;
use crate::ids::{ClassId, IndexId, NamespaceId, ObjectId};
use crate::keys::*;
use crate::records::samples;
use crate::value::Value;
use crate::Record;

const FORMAT_MD: &str = include_str!("../../docs/FORMAT.md");

fn examples() -> Vec<(&'static str, Vec<u8>)> {
    let ns = NamespaceId(1);
    let class = ClassId(1);
    let seed = HashSeed { k0: 1, k1: 2 };
    let email = Value::from("a@x.io");
    vec![
        ("meta_key", MetaKey::NextObjectId.encode()),
        ("meta_value", samples::meta_counter().encode()),
        (
            "name_key",
            NameKey {
                kind: NameKind::Class,
                parent: 1,
                name: "user".into(),
            }
            .encode(),
        ),
        ("name_value", samples::name_entry().encode()),
        ("class_key", ClassKey { ns, class }.encode()),
        ("class_value", samples::class_def().encode()),
        (
            "object_key",
            ObjectKey {
                ns,
                id: ObjectId(7),
            }
            .encode(),
        ),
        ("object_value", samples::object().encode()),
        (
            "full_scan_key",
            FullScanKey {
                ns,
                class,
                id: ObjectId(7),
            }
            .encode(),
        ),
        (
            "hash_key",
            HashKey {
                ns,
                class,
                index: IndexId(1),
                hash: seed.hash_value(&email),
                id: Some(ObjectId(7)),
            }
            .encode(),
        ),
        (
            "ordered_key",
            OrderedKey {
                ns,
                class,
                index: IndexId(2),
                values: vec![Value::U64(30)],
                id: Some(ObjectId(7)),
            }
            .encode(),
        ),
        (
            "task_key",
            TaskKey {
                ns,
                class,
                index: IndexId(2),
            }
            .encode(),
        ),
        ("task_value", samples::task().encode()),
        ("generation_key", GenerationKey { cf: 3 }.encode()),
        ("value_absent", Value::Absent.encode_ordered()),
        ("value_bool", Value::Bool(true).encode_ordered()),
        ("value_i64", Value::I64(-2).encode_ordered()),
        ("value_u64", Value::U64(30).encode_ordered()),
        ("value_f64", Value::F64(-1.5).encode_ordered()),
        ("value_string", Value::from("a\0b").encode_ordered()),
        (
            "value_bytes",
            Value::Bytes(vec![0xFF, 0x00]).encode_ordered(),
        ),
        ("value_ref", Value::Ref(ObjectId(7)).encode_ordered()),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// (name, hex digits) of every example block in the document.
fn documented() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = FORMAT_MD.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("```hex example=") else {
            continue;
        };
        let mut digits = String::new();
        for body in lines.by_ref() {
            if body.trim_start().starts_with("```") {
                break;
            }
            // Text after `#` on a line is commentary.
            let data = body.split('#').next().unwrap_or_default();
            digits.extend(data.chars().filter(char::is_ascii_hexdigit));
        }
        out.push((name.trim().to_string(), digits.to_lowercase()));
    }
    out
}

#[test]
fn format_md_examples_match_the_encoders() {
    let documented = documented();
    let mut failures = Vec::new();
    for (name, bytes) in examples() {
        let want: String = hex(&bytes)
            .chars()
            .filter(char::is_ascii_hexdigit)
            .collect();
        match documented.iter().find(|(n, _)| n == name) {
            None => failures.push(format!(
                "{name}: missing from FORMAT.md; it encodes as\n  {}",
                hex(&bytes)
            )),
            Some((_, got)) if *got != want => failures.push(format!(
                "{name}: FORMAT.md has\n  {got}\nthe encoder gives\n  {}",
                hex(&bytes)
            )),
            Some(_) => {}
        }
    }
    let known: Vec<&str> = examples().iter().map(|(n, _)| *n).collect();
    for (name, _) in &documented {
        if !known.contains(&name.as_str()) {
            failures.push(format!("{name}: in FORMAT.md but not checked by this test"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
