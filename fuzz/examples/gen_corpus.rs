//! Regenerates the checked-in seed corpus from the format crate's encoders:
//! `cargo run --example gen_corpus` (after a format change).

use rockhold_format::*;
use std::path::Path;

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn body(framed: &[u8]) -> &[u8] {
    &framed[FRAME_HEADER_LEN..]
}

fn main() {
    let ns = NamespaceId(1);
    let class = ClassId(1);
    let seed = HashSeed { k0: 1, k1: 2 };
    let email = Value::from("a@x.io");

    // key_decode: one valid key of every family, plus ordered keys of several value types.
    put(
        "key_decode",
        "meta_next_object_id",
        &MetaKey::NextObjectId.encode(),
    );
    put("key_decode", "meta_hash_seed", &MetaKey::HashSeed.encode());
    put(
        "key_decode",
        "generation_index_hash",
        &GenerationKey { cf: 3 }.encode(),
    );
    put(
        "key_decode",
        "name_namespace_app",
        &NameKey {
            kind: NameKind::Namespace,
            parent: 0,
            name: "app".into(),
        }
        .encode(),
    );
    put(
        "key_decode",
        "name_class_user",
        &NameKey {
            kind: NameKind::Class,
            parent: 1,
            name: "user".into(),
        }
        .encode(),
    );
    put(
        "key_decode",
        "class_ns1_class1",
        &ClassKey { ns, class }.encode(),
    );
    put(
        "key_decode",
        "object_ns1_id7",
        &ObjectKey {
            ns,
            id: ObjectId(7),
        }
        .encode(),
    );
    put(
        "key_decode",
        "full_scan_ns1_class1_id7",
        &FullScanKey {
            ns,
            class,
            id: ObjectId(7),
        }
        .encode(),
    );
    put(
        "key_decode",
        "hash_email_id7",
        &HashKey {
            ns,
            class,
            field: FieldId(1),
            hash: seed.hash_value(&email),
            id: ObjectId(7),
        }
        .encode(),
    );
    let ordered = |value: Value| {
        OrderedKey {
            ns,
            class,
            field: FieldId(2),
            value,
            id: ObjectId(7),
        }
        .encode()
    };
    put("key_decode", "ordered_u64_30_id7", &ordered(Value::U64(30)));
    put(
        "key_decode",
        "ordered_string_with_zero_id7",
        &ordered(Value::from("a\0b")),
    );
    put(
        "key_decode",
        "ordered_f64_neg_id7",
        &ordered(Value::F64(-1.5)),
    );
    put("key_decode", "ordered_absent_id7", &ordered(Value::Absent));
    put(
        "key_decode",
        "task_ns1_class1_field2",
        &TaskKey {
            ns,
            class,
            field: FieldId(2),
        }
        .encode(),
    );
    put(
        "key_decode",
        "task_ns1_class1_whole_class",
        &TaskKey {
            ns,
            class,
            field: FieldId::WHOLE_CLASS,
        }
        .encode(),
    );

    // value_order: [split = len(a)] [a] [b]; a and b are ordered encodings (b may be a tuple).
    let pair = |target: &str, name: &str, a: &[Value], b: &[Value]| {
        let (mut ea, mut eb) = (Vec::new(), Vec::new());
        encode_tuple_into(a, &mut ea);
        encode_tuple_into(b, &mut eb);
        let mut out = vec![u8::try_from(ea.len()).unwrap()];
        out.extend_from_slice(&ea);
        out.extend_from_slice(&eb);
        put(target, name, &out);
    };
    pair(
        "value_order",
        "absent_vs_bool_true",
        &[Value::Absent],
        &[Value::Bool(true)],
    );
    pair(
        "value_order",
        "i64_neg2_vs_i64_3",
        &[Value::I64(-2)],
        &[Value::I64(3)],
    );
    pair(
        "value_order",
        "i64_min_vs_u64_max",
        &[Value::I64(i64::MIN)],
        &[Value::U64(u64::MAX)],
    );
    pair(
        "value_order",
        "f64_neg1_5_vs_f64_nan",
        &[Value::F64(-1.5)],
        &[Value::F64(f64::NAN)],
    );
    pair(
        "value_order",
        "f64_zero_vs_f64_inf",
        &[Value::F64(0.0)],
        &[Value::F64(f64::INFINITY)],
    );
    pair(
        "value_order",
        "string_a_vs_string_a_zero_b",
        &[Value::from("a")],
        &[Value::from("a\0b")],
    );
    pair(
        "value_order",
        "string_email_vs_string_utf8",
        std::slice::from_ref(&email),
        &[Value::from("é€")],
    );
    pair(
        "value_order",
        "bytes_ff00_vs_bytes_ff",
        &[Value::Bytes(vec![0xFF, 0])],
        &[Value::Bytes(vec![0xFF])],
    );
    pair(
        "value_order",
        "ref_7_vs_ref_8",
        &[Value::Ref(ObjectId(7))],
        &[Value::Ref(ObjectId(8))],
    );
    pair(
        "value_order",
        "tuple3_vs_tuple2",
        &[Value::from("x"), Value::U64(1), Value::Absent],
        &[Value::from("x"), Value::U64(2)],
    );

    // Records.
    let user = ClassDef {
        id: class,
        name: "user".into(),
        revision: 1,
        next_field_id: 3,
        fields: vec![
            FieldDef {
                id: FieldId(1),
                name: "email".into(),
                ty: FieldType::String,
                optional: false,
                index: IndexKind::Hash { unique: true },
            },
            FieldDef {
                id: FieldId(2),
                name: "age".into(),
                ty: FieldType::U64,
                optional: true,
                index: IndexKind::Ordered { unique: false },
            },
        ],
        provisional: false,
    };
    let all_types = ClassDef {
        id: ClassId(300),
        name: "every_type".into(),
        revision: 70_000,
        next_field_id: 9,
        fields: [
            FieldType::Bool,
            FieldType::I64,
            FieldType::U64,
            FieldType::F64,
            FieldType::String,
            FieldType::Bytes,
            FieldType::Ref,
        ]
        .into_iter()
        .zip(
            [
                IndexKind::None,
                IndexKind::Hash { unique: false },
                IndexKind::Ordered { unique: true },
            ]
            .into_iter()
            .cycle(),
        )
        .enumerate()
        .map(|(i, (ty, index))| FieldDef {
            id: FieldId(i as u32 + 2),
            name: format!("f_{}", ty.name()),
            ty,
            optional: i % 2 == 0,
            index,
        })
        .collect(),
        provisional: true,
    };
    let empty_class = ClassDef {
        id: ClassId(2),
        name: "empty".into(),
        revision: 1,
        next_field_id: 1,
        fields: vec![],
        provisional: false,
    };
    let object = ObjectRecord {
        class,
        fields: vec![(FieldId(1), email.clone()), (FieldId(2), Value::U64(30))],
    };
    let object_all = ObjectRecord {
        class: ClassId(300),
        fields: vec![
            (FieldId(2), Value::Bool(true)),
            (FieldId(3), Value::I64(-5)),
            (FieldId(4), Value::U64(u64::MAX)),
            (FieldId(5), Value::F64(f64::NAN)),
            (FieldId(6), Value::from("a\0b")),
            (FieldId(7), Value::Bytes(vec![0, 0xFF])),
            (FieldId(8), Value::Ref(ObjectId(7))),
        ],
    };
    let task = TaskRecord {
        state: TaskState::InProgress,
        revision: 4,
        attempts: 1,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_500,
        not_before_ms: 0,
        cursor: Some(ObjectId(1000)),
        entries_added: 1000,
        stale_removed: 0,
        last_error: None,
        conflicts: vec![],
    };
    let task_failed = TaskRecord {
        state: TaskState::Failed,
        attempts: 3,
        last_error: Some("duplicate value under unique index".into()),
        conflicts: vec![ObjectId(7), ObjectId(9)],
        not_before_ms: 1_700_000_100_000,
        ..task.clone()
    };
    let task_pending = TaskRecord::pending(1, 1_700_000_000_000);
    // Checksum-valid counters at their maximum (issue 11, item 9).
    let task_counters_max = TaskRecord {
        attempts: u32::MAX,
        revision: u64::MAX,
        entries_added: u64::MAX,
        stale_removed: u64::MAX,
        ..task.clone()
    };
    let class_counters_max = ClassDef {
        revision: u64::MAX,
        next_field_id: u32::MAX,
        ..user.clone()
    };

    let framed: Vec<(&str, Vec<u8>)> = vec![
        (
            "meta_format_version",
            MetaValue::FormatVersion(FORMAT_VERSION).encode(),
        ),
        ("meta_hash_seed", MetaValue::HashSeed(seed).encode()),
        ("meta_counter_1025", MetaValue::Counter(1025).encode()),
        ("name_entry_1", NameEntry { id: 1 }.encode()),
        ("class_user", user.encode()),
        ("class_every_type", all_types.encode()),
        ("object_user", object.encode()),
        ("object_every_type", object_all.encode()),
        ("task_in_progress", task.encode()),
        ("task_failed_conflicts", task_failed.encode()),
    ];
    for (name, bytes) in &framed {
        put("record_frame", name, bytes);
        let mut kb = vec![bytes[1]];
        kb.extend_from_slice(body(bytes));
        put("record_body", name, &kb);
    }
    for (name, t) in [
        ("in_progress", &task),
        ("failed_conflicts", &task_failed),
        ("pending", &task_pending),
        ("counters_at_max", &task_counters_max),
    ] {
        put("task_record", name, body(&t.encode()));
    }
    for (name, c) in [
        ("user", &user),
        ("every_type", &all_types),
        ("empty", &empty_class),
        ("counters_at_max", &class_counters_max),
    ] {
        put("class_def", name, body(&c.encode()));
    }
}
