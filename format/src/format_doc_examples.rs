//! Checks the worked hex examples of docs/FORMAT.md byte for byte.
//!
//! Each example in the document is a fenced block opened with
//! "```hex example=NAME"; its hex digits (spaces, newlines and `|` ignored)
//! must equal what this crate encodes for the value built under NAME below,
//! and every NAME below must appear in the document.

use crate::hash::HashSeed;
use crate::ids::{ClassId, FieldId, IndexId, NamespaceId, ObjectId};
use crate::keys::*;
use crate::records::samples;
use crate::records::ObjectRecord;
use crate::value::{encode_tuple_into, Value};
use crate::Record;

const FORMAT_MD: &str = include_str!("../../docs/FORMAT.md");

fn examples() -> Vec<(&'static str, Vec<u8>)> {
    let ns = NamespaceId(1);
    let class = ClassId(1);
    let seed = HashSeed { k0: 1, k1: 2 };
    let email = [Value::from("a@x.io")];
    let mut email_tuple = Vec::new();
    encode_tuple_into(&email, &mut email_tuple);
    let holders = |ids: &[ObjectId]| {
        let mut out = Vec::new();
        encode_holders(ids, &mut out);
        out
    };
    let v1_object = ObjectRecord {
        class,
        fields: vec![
            (FieldId(1), Value::from("a@x.io")),
            (FieldId(2), Value::U64(30)),
        ],
    };
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
                class,
                id: ObjectId(7),
            }
            .encode(),
        ),
        ("object_value", samples::object().encode()),
        (
            "locator_key",
            LocatorKey {
                ns,
                id: ObjectId(7),
            }
            .encode(),
        ),
        ("locator_value", encode_locator(class).to_vec()),
        (
            "hash_key",
            HashKey {
                ns,
                class,
                index: IndexId(3),
                hash: seed.hash_bytes(&email_tuple),
                id: Some(ObjectId(7)),
            }
            .encode(),
        ),
        (
            "hash_point_key",
            HashKey {
                ns,
                class,
                index: IndexId(1),
                hash: seed.hash_bytes(&email_tuple),
                id: None,
            }
            .encode(),
        ),
        ("hash_point_value", {
            let mut out = Vec::new();
            crate::encode_hash_holders(
                [crate::Holder {
                    id: ObjectId(7),
                    tuple: Some(&email_tuple),
                }],
                &mut out,
            );
            out
        }),
        ("hash_point_value_bare", holders(&[ObjectId(7)])),
        (
            "ordered_key",
            OrderedKey {
                ns,
                class,
                index: IndexId(2),
                values: vec![Value::from("x"), Value::U64(30)],
                id: Some(ObjectId(7)),
            }
            .encode(),
        ),
        (
            "ordered_point_key",
            OrderedKey {
                ns,
                class,
                index: IndexId(4),
                values: vec![Value::U64(30)],
                id: None,
            }
            .encode(),
        ),
        ("ordered_point_value", holders(&[ObjectId(7)])),
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
        ("generation_key", GenerationKey { cf: 2 }.encode()),
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
        ("value_list", list().encode_ordered()),
        ("value_map", map().encode_ordered()),
        ("value_variant", variant().encode_ordered()),
        ("stored_scalars", {
            let mut out = Vec::new();
            for v in [
                Value::Bool(false),
                Value::I64(-2),
                Value::F64(-0.0),
                Value::from("é"),
                Value::Ref(ObjectId(7)),
            ] {
                v.encode_stored_into(&mut out);
            }
            out
        }),
        ("stored_list", list().encode_stored()),
        ("stored_map", map().encode_stored()),
        ("stored_variant", variant().encode_stored()),
        ("v1_object_value", {
            // The v1 encoding, as format v1 wrote it (the v1 decoder is
            // checked against it).
            let framed = unhex(V1_OBJECT_VALUE);
            assert_eq!(crate::v1::decode_object(&framed), Ok(v1_object));
            framed
        }),
        ("v2_object_key", {
            // The v2 layout, as format v2 wrote it (the v2 decoder is
            // checked against it).
            let key = unhex("4f000000010000000000000007");
            assert_eq!(crate::v2::decode_object_key(&key), Ok((ns, ObjectId(7))));
            key
        }),
    ]
}

/// `[1, absent]`.
fn list() -> Value {
    Value::List(vec![Value::U64(1), Value::Absent])
}

/// `{"a": true, "b": "x"}`.
fn map() -> Value {
    Value::map([
        ("b".to_string(), Value::from("x")),
        ("a".to_string(), Value::Bool(true)),
    ])
    .expect("distinct keys")
}

/// `Some(7)` of an enum `{ None, Some(i64) }`.
fn variant() -> Value {
    Value::variant("Some", Value::I64(7))
}

/// A v1 object record (class 1, field 1 "a@x.io", field 2 U64 30), as
/// the v1 code (commit 0be2302) encoded it.
const V1_OBJECT_VALUE: &str = "010477759e5701020105066140782e696f02031e";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
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
