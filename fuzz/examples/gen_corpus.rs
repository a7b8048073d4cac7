//! Regenerates the checked-in seed corpus from the format crate's encoders
//! and, for `engine_model`, from typed programs:
//! `cargo run --example gen_corpus` (after a format or decoder change).

use rockhold_format::*;
use rockhold_fuzz::engine_model::{Config, FieldChoice, Given, Op, Program, Target, Values, Write};
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
    let hash_of = |values: &[Value]| {
        let mut t = Vec::new();
        encode_tuple_into(values, &mut t);
        seed.hash_bytes(&t)
    };
    let nested = nested_value();

    // key_decode: one valid key of every family, plus index keys (entries
    // and point keys, one-part and compound tuples, nested values).
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
    let hash_key = |index: u32, id: Option<u64>| HashKey {
        ns,
        class,
        index: IndexId(index),
        hash: hash_of(std::slice::from_ref(&email)),
        id: id.map(ObjectId),
    };
    put(
        "key_decode",
        "hash_email_id7",
        &hash_key(3, Some(7)).encode(),
    );
    put(
        "key_decode",
        "hash_point_email",
        &hash_key(1, None).encode(),
    );
    let ordered = |values: Vec<Value>, id: Option<u64>| {
        OrderedKey {
            ns,
            class,
            index: IndexId(2),
            values,
            id: id.map(ObjectId),
        }
        .encode()
    };
    put(
        "key_decode",
        "ordered_u64_30_id7",
        &ordered(vec![Value::U64(30)], Some(7)),
    );
    put(
        "key_decode",
        "ordered_string_with_zero_id7",
        &ordered(vec![Value::from("a\0b")], Some(7)),
    );
    put(
        "key_decode",
        "ordered_f64_neg_id7",
        &ordered(vec![Value::F64(-1.5)], Some(7)),
    );
    put(
        "key_decode",
        "ordered_absent_id7",
        &ordered(vec![Value::Absent], Some(7)),
    );
    put(
        "key_decode",
        "ordered_compound_x_30_id7",
        &ordered(vec![Value::from("x"), Value::U64(30)], Some(7)),
    );
    put(
        "key_decode",
        "ordered_point_u64_30",
        &ordered(vec![Value::U64(30)], None),
    );
    put(
        "key_decode",
        "ordered_nested_id7",
        &ordered(vec![nested.clone()], Some(7)),
    );
    put(
        "key_decode",
        "task_ns1_class1_index2",
        &TaskKey {
            ns,
            class,
            index: IndexId(2),
        }
        .encode(),
    );
    put(
        "key_decode",
        "task_ns1_class1_whole_class",
        &TaskKey {
            ns,
            class,
            index: IndexId::WHOLE_CLASS,
        }
        .encode(),
    );

    // index_key: [shape: parts - 1 | unique << 2] [key after its family prefix].
    let index_key = |name: &str, values: Vec<Value>, id: Option<u64>| {
        let shape = u8::try_from(values.len() - 1).unwrap() | if id.is_none() { 4 } else { 0 };
        let mut out = vec![shape];
        out.extend_from_slice(&ordered(values, id)[2..]);
        put("index_key", name, &out);
    };
    index_key("u64_30_id7", vec![Value::U64(30)], Some(7));
    index_key("point_u64_30", vec![Value::U64(30)], None);
    index_key(
        "compound_x_30_id7",
        vec![Value::from("x"), Value::U64(30)],
        Some(7),
    );
    index_key(
        "compound4_point",
        vec![
            Value::Absent,
            Value::I64(-1),
            Value::Bytes(vec![0, 0xFF]),
            Value::Ref(ObjectId(9)),
        ],
        None,
    );
    index_key("nested_id7", vec![nested.clone()], Some(7));
    // As an IH key, the rest of a point key; as holders, two ids.
    let mut hash_point = vec![4];
    hash_point.extend_from_slice(&hash_key(1, None).encode()[2..]);
    put("index_key", "hash_point_email", &hash_point);
    let mut holders = vec![0];
    encode_holders(&[ObjectId(7), ObjectId(1 << 40)], &mut holders);
    put("index_key", "holders_7_2p40", &holders);

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
    pair(
        "value_order",
        "list_prefix_vs_list",
        &[Value::List(vec![Value::U64(1)])],
        &[Value::List(vec![Value::U64(1), Value::Absent])],
    );
    pair(
        "value_order",
        "map_vs_map",
        &[map([("a", Value::Bool(true))])],
        &[map([("a", Value::Bool(true)), ("b", Value::from("x"))])],
    );
    pair(
        "value_order",
        "variant_vs_variant",
        &[Value::variant("None", Value::Absent)],
        &[Value::variant("Some", Value::I64(7))],
    );
    pair(
        "value_order",
        "nested_vs_list",
        std::slice::from_ref(&nested),
        &[Value::List(vec![])],
    );

    // stored_value: one value in the stored encoding.
    for (name, v) in [
        ("false", Value::Bool(false)),
        ("i64_min", Value::I64(i64::MIN)),
        ("u64_max", Value::U64(u64::MAX)),
        (
            "f64_nan_payload",
            Value::F64(f64::from_bits(0x7FF4_0000_0000_00AB)),
        ),
        ("f64_neg_zero", Value::F64(-0.0)),
        ("string_utf8", Value::from("é\0€")),
        ("bytes", Value::Bytes(vec![0, 0xFF])),
        ("ref_7", Value::Ref(ObjectId(7))),
        ("empty_list", Value::List(vec![])),
        ("nested", nested.clone()),
        ("deep_list", deep_list(MAX_DEPTH)),
    ] {
        put("stored_value", name, &v.encode_stored());
    }

    // Records.
    let part = |field: u32, members: &[&str]| FieldPath {
        field: FieldId(field),
        members: members.iter().map(|m| m.to_string()).collect(),
    };
    let index = |id: u32, name: &str, kind: IndexKind, parts: Vec<FieldPath>| IndexDef {
        id: IndexId(id),
        name: name.into(),
        kind,
        parts,
    };
    let field = |id: u32, name: &str, ty: FieldType, optional: bool| FieldDef {
        id: FieldId(id),
        name: name.into(),
        ty,
        optional,
    };
    let user = ClassDef {
        id: class,
        name: "user".into(),
        revision: 1,
        next_field_id: 4,
        next_index_id: 3,
        fields: vec![
            field(1, "email", FieldType::String, false),
            field(2, "age", FieldType::U64, true),
            field(
                3,
                "tags",
                FieldType::List(Box::new(FieldType::String)),
                true,
            ),
        ],
        indexes: vec![
            index(
                1,
                "email",
                IndexKind::Hash { unique: true },
                vec![part(1, &[])],
            ),
            index(
                2,
                "tag_age",
                IndexKind::Ordered { unique: false },
                vec![part(3, &[]), part(2, &[])],
            ),
        ],
        provisional: false,
    };
    let address = FieldType::Struct(vec![
        MemberDef {
            name: "city".into(),
            ty: FieldType::String,
            optional: false,
        },
        MemberDef {
            name: "zip".into(),
            ty: FieldType::U64,
            optional: true,
        },
    ]);
    let all_types = ClassDef {
        id: ClassId(300),
        name: "every_type".into(),
        revision: 70_000,
        next_field_id: 20,
        next_index_id: 5,
        fields: vec![
            field(2, "f_bool", FieldType::Bool, true),
            field(3, "f_i64", FieldType::I64, false),
            field(4, "f_u64", FieldType::U64, true),
            field(5, "f_f64", FieldType::F64, false),
            field(6, "f_string", FieldType::String, true),
            field(7, "f_bytes", FieldType::Bytes, false),
            field(8, "f_ref", FieldType::Ref, true),
            field(
                9,
                "f_list",
                FieldType::List(Box::new(FieldType::Optional(Box::new(FieldType::I64)))),
                false,
            ),
            field(
                10,
                "f_tuple",
                FieldType::Tuple(vec![FieldType::String, FieldType::F64]),
                false,
            ),
            field(
                11,
                "f_map",
                FieldType::Map(Box::new(FieldType::Bytes)),
                true,
            ),
            field(12, "address", address, false),
            field(
                13,
                "f_enum",
                FieldType::Enum(vec![
                    VariantDef {
                        name: "None".into(),
                        payload: None,
                    },
                    VariantDef {
                        name: "Some".into(),
                        payload: Some(FieldType::I64),
                    },
                ]),
                false,
            ),
            field(14, "f_any", FieldType::Any, true),
        ],
        indexes: vec![
            index(
                1,
                "f_i64",
                IndexKind::Hash { unique: false },
                vec![part(3, &[])],
            ),
            index(
                2,
                "city",
                IndexKind::Ordered { unique: false },
                vec![part(12, &["city"])],
            ),
            index(
                4,
                "city_zip",
                IndexKind::Ordered { unique: true },
                vec![part(12, &["city"]), part(12, &["zip"])],
            ),
        ],
        provisional: true,
    };
    let empty_class = ClassDef {
        id: ClassId(2),
        name: "empty".into(),
        revision: 1,
        next_field_id: 1,
        next_index_id: 1,
        fields: vec![],
        indexes: vec![],
        provisional: false,
    };
    let object = ObjectRecord {
        class,
        fields: vec![
            (FieldId(1), email.clone()),
            (FieldId(2), Value::U64(30)),
            (
                FieldId(3),
                Value::List(vec![Value::from("x"), Value::from("y")]),
            ),
        ],
    };
    let object_all = ObjectRecord {
        class: ClassId(300),
        fields: vec![
            (FieldId(2), Value::Bool(true)),
            (FieldId(3), Value::I64(-5)),
            (FieldId(4), Value::U64(u64::MAX)),
            (
                FieldId(5),
                Value::F64(f64::from_bits(0x7FF4_0000_0000_00AB)),
            ),
            (FieldId(6), Value::from("a\0b")),
            (FieldId(7), Value::Bytes(vec![0, 0xFF])),
            (FieldId(8), Value::Ref(ObjectId(7))),
            (
                FieldId(9),
                Value::List(vec![Value::I64(1), Value::Absent, Value::I64(i64::MIN)]),
            ),
            (
                FieldId(10),
                Value::List(vec![Value::from("t"), Value::F64(-0.0)]),
            ),
            (FieldId(11), map([("k", Value::Bytes(vec![]))])),
            (
                FieldId(12),
                map([("city", Value::from("Paris")), ("zip", Value::U64(75001))]),
            ),
            (FieldId(13), Value::variant("Some", Value::I64(7))),
            (FieldId(14), nested.clone()),
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
        next_index_id: u32::MAX,
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
    for (name, o) in [
        ("user", &object),
        ("every_type", &object_all),
        (
            "empty",
            &ObjectRecord {
                class: ClassId(2),
                fields: vec![],
            },
        ),
    ] {
        put("record_view", name, body(&o.encode()));
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
    engine_model_seeds();
}

/// A map value from (key, value) pairs in any order.
fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::map(entries.map(|(k, v)| (k.to_string(), v))).unwrap()
}

/// A value with every kind of nesting: a list holding a map, a variant and
/// special floats.
fn nested_value() -> Value {
    Value::List(vec![
        map([
            ("name", Value::from("a\0b")),
            ("tags", Value::List(vec![Value::from("x"), Value::Absent])),
        ]),
        Value::variant(
            "Point",
            Value::List(vec![Value::F64(-0.0), Value::F64(f64::NAN)]),
        ),
        Value::variant("Unit", Value::Absent),
        Value::List(vec![]),
    ])
}

/// A list nested `depth` deep around a u64.
fn deep_list(depth: usize) -> Value {
    (0..depth).fold(Value::U64(1), |v, _| Value::List(vec![v]))
}

// ---------------------------------------------------------------------------
// engine_model: programs, each exercising one area of the engine

/// A class field: (pool index, optional, index kind byte of `KINDS`).
fn class(slot: u8, fields: &[(usize, bool, u8)]) -> Op {
    let mut choice = [FieldChoice {
        present: false,
        optional: true,
        index: 0,
    }; 4];
    for &(pool, optional, index) in fields {
        choice[pool] = FieldChoice {
            present: true,
            optional,
            index,
        };
    }
    Op::CreateClass {
        slot,
        fields: choice,
    }
}

/// Values by pool field: `Some(i)` the i-th pool value, `None` not given.
fn vals(v: [Option<u8>; 4]) -> Values {
    v.map(|x| x.map_or(Given::No, Given::Value))
}

fn insert(slot: u8, v: [Option<u8>; 4]) -> Write {
    Write::Insert {
        slot,
        strict: false,
        values: vals(v),
    }
}

fn update(n: u8, v: [Option<u8>; 4]) -> Write {
    Write::Update {
        target: Target::Live(n),
        strict: false,
        values: vals(v),
    }
}

fn delete(n: u8) -> Write {
    Write::Delete {
        target: Target::Live(n),
    }
}

fn one(w: Write) -> Op {
    Op::Write(w)
}

fn set_index(slot: u8, field: u8, index: u8, defer: bool) -> Op {
    Op::SetIndex {
        slot,
        field,
        index,
        defer,
    }
}

const N: Option<u8> = None;

fn engine_model_seeds() {
    let put_program = |name: &str, config: Config, ops: Vec<Op>| {
        let program = Program { config, ops };
        let bytes = program.encode();
        assert_eq!(
            Program::decode(&bytes),
            program,
            "{name} does not round-trip"
        );
        put("engine_model", name, &bytes);
    };
    let base = Config::default();
    let chunked = Config {
        chunk: 1,
        bulk: false,
        ..base
    };
    // A snapshot before every step, read after it.
    let snapshots = Config {
        snapshots: true,
        ..base
    };
    // Unique hash and ordered indexes: refused duplicates, updates, deletes, reopen.
    put_program(
        "unique_indexes",
        base,
        vec![
            class(
                0,
                &[(0, false, 2), (1, true, 3), (2, true, 1), (3, true, 4)],
            ),
            one(insert(0, [Some(0), Some(1), Some(0), Some(1)])),
            one(insert(0, [Some(1), Some(2), Some(1), Some(2)])),
            one(insert(0, [Some(0), Some(3), N, N])),
            one(update(0, [Some(1), N, N, N])),
            one(update(0, [Some(2), N, Some(3), None])),
            one(insert(0, [Some(3), Some(1), Some(1), Some(2)])),
            one(delete(1)),
            one(insert(0, [Some(1), Some(0), Some(2), Some(2)])),
            Op::Reopen,
            one(update(1, [N, Some(3), N, Some(3)])),
        ],
    );
    // Transactions: swapping unique values, duplicates within a batch,
    // a value freed and taken in one batch, an unknown object.
    put_program(
        "transactions",
        snapshots,
        vec![
            class(0, &[(0, false, 2), (1, true, 1)]),
            class(1, &[(1, true, 4), (2, true, 3)]),
            one(insert(0, [Some(0), Some(1), N, N])),
            one(insert(0, [Some(1), Some(1), N, N])),
            Op::Txn(vec![
                update(0, [Some(1), N, N, N]),
                update(1, [Some(0), N, N, N]),
            ]),
            Op::Txn(vec![
                insert(1, [N, Some(2), Some(0), N]),
                insert(1, [N, Some(2), Some(1), N]),
            ]),
            Op::Txn(vec![
                delete(0),
                insert(0, [Some(1), N, N, N]),
                insert(1, [N, Some(0), Some(2), N]),
            ]),
            Op::Txn(vec![
                insert(1, [N, Some(3), Some(3), N]),
                Write::Update {
                    target: Target::Gone(0),
                    strict: false,
                    values: vals([Some(2), N, N, N]),
                },
            ]),
            Op::Reopen,
        ],
    );
    // Indexes added over data: a unique one over duplicates fails and is
    // removed, a deferred ordered one is maintained by writes meanwhile;
    // fields removed and added back.
    put_program(
        "index_changes",
        chunked,
        vec![
            class(0, &[(0, false, 0), (1, true, 0), (3, true, 0)]),
            one(insert(0, [Some(0), Some(1), N, N])),
            one(insert(0, [Some(1), Some(1), N, Some(1)])),
            one(insert(0, [Some(2), Some(3), N, Some(2)])),
            set_index(0, 1, 2, false),
            set_index(0, 1, 3, true),
            one(insert(0, [Some(3), Some(2), N, N])),
            one(update(0, [N, Some(0), N, N])),
            one(delete(2)),
            Op::Settle,
            set_index(0, 1, 4, false),
            set_index(0, 0, 4, false),
            Op::ToggleField {
                slot: 0,
                field: 3,
                optional: true,
                index: 1,
            },
            Op::ToggleField {
                slot: 0,
                field: 3,
                optional: true,
                index: 1,
            },
            one(insert(0, [Some(0), Some(3), N, Some(1)])),
            Op::SetOptional {
                slot: 0,
                field: 0,
                optional: true,
            },
            Op::SetOptional {
                slot: 0,
                field: 0,
                optional: false,
            },
        ],
    );
    // Injected failures on writes: the id mark, a single insert, a
    // transaction, an update and a delete.
    put_program(
        "failing_writes",
        snapshots,
        vec![
            class(0, &[(0, false, 2), (1, true, 3)]),
            Op::ArmFailure { writes: 0 },
            one(insert(0, [Some(0), N, N, N])),
            one(insert(0, [Some(0), Some(1), N, N])),
            Op::ArmFailure { writes: 0 },
            Op::Txn(vec![
                insert(0, [Some(1), N, N, N]),
                update(0, [N, Some(2), N, N]),
            ]),
            Op::ArmFailure { writes: 0 },
            one(update(0, [Some(2), Some(3), N, N])),
            Op::ArmFailure { writes: 0 },
            one(delete(0)),
            Op::ArmFailure { writes: 1 },
            one(insert(0, [Some(3), N, N, N])),
            one(insert(0, [Some(1), N, N, N])),
        ],
    );
    // Injected failures inside index builds, chunk by chunk and by ingest.
    let build_failures = |config: Config, name: &str| {
        let mut ops = vec![class(1, &[(0, false, 0), (1, true, 0), (2, true, 0)])];
        for i in 0..6u8 {
            ops.push(one(insert(1, [Some(i % 4), Some(i % 3), Some(i % 2), N])));
        }
        ops.extend([
            Op::ArmFailure { writes: 2 },
            set_index(1, 1, 3, false),
            Op::ArmFailure { writes: 3 },
            set_index(1, 0, 2, false),
            Op::ArmFailure { writes: 1 },
            Op::Reindex {
                slot: 1,
                field: None,
                defer: false,
            },
            Op::ArmFailure { writes: 4 },
            set_index(1, 2, 1, true),
            one(update(0, [N, N, Some(3), N])),
            Op::Settle,
        ]);
        put_program(name, config, ops);
    };
    build_failures(chunked, "failing_chunked_builds");
    build_failures(base, "failing_bulk_builds");
    // A namespace created, filled, dropped (its ids then answer
    // UnknownNamespace) and created again; a drop that fails.
    put_program(
        "namespace_lifecycle",
        snapshots,
        vec![
            class(2, &[(1, false, 2)]),
            Op::CreateNamespace,
            class(2, &[(1, false, 2), (3, true, 3)]),
            one(insert(2, [N, Some(0), N, Some(0)])),
            one(insert(2, [N, Some(1), N, Some(1)])),
            Op::DropNamespace,
            Op::Txn(vec![Write::Delete {
                target: Target::Gone(1),
            }]),
            Op::CreateNamespace,
            class(2, &[(1, false, 2)]),
            one(insert(2, [N, Some(0), N, N])),
            Op::ArmFailure { writes: 0 },
            Op::DropNamespace,
            Op::Reopen,
        ],
    );
    // Two-bit value hashes: distinct values share hash index entries.
    put_program(
        "hash_collisions",
        Config {
            few_hash_bits: true,
            unique_cache: false,
            ..base
        },
        {
            let mut ops = vec![class(0, &[(1, true, 2), (3, true, 1), (2, true, 2)])];
            for i in 0..4u8 {
                ops.push(one(insert(0, [N, Some(i), Some(3 - i), Some(i)])));
            }
            ops.extend([
                one(update(1, [N, Some(0), N, N])),
                one(update(2, [N, N, N, Some(0)])),
                one(delete(0)),
                Op::Reindex {
                    slot: 0,
                    field: None,
                    defer: false,
                },
            ]);
            ops
        },
    );
    // Non-unique builds left pending across writes and a reopen.
    put_program(
        "deferred_builds",
        chunked,
        vec![
            class(0, &[(0, true, 1), (1, true, 3), (3, true, 0)]),
            one(insert(0, [Some(0), Some(0), N, Some(0)])),
            one(insert(0, [Some(0), Some(1), N, Some(1)])),
            one(insert(0, [Some(1), Some(2), N, Some(1)])),
            Op::Reindex {
                slot: 0,
                field: None,
                defer: true,
            },
            set_index(0, 3, 3, true),
            one(update(0, [Some(2), Some(3), N, Some(2)])),
            one(delete(1)),
            Op::Reopen,
            one(insert(0, [Some(3), Some(0), N, Some(3)])),
            Op::Settle,
        ],
    );
    // Unique builds left pending while writes duplicate values: the first
    // duplicate stays (the build fails and the index is removed), the second
    // is deleted before the build (it succeeds).
    put_program(
        "deferred_unique_builds",
        base,
        vec![
            class(0, &[(0, true, 0), (1, true, 0)]),
            one(insert(0, [Some(0), Some(0), N, N])),
            one(insert(0, [Some(1), Some(1), N, N])),
            set_index(0, 0, 2, true),
            one(insert(0, [Some(0), Some(2), N, N])),
            one(insert(0, [Some(2), N, N, N])),
            one(insert(0, [Some(2), N, N, N])),
            one(update(1, [Some(3), N, N, N])),
            Op::Settle,
            set_index(0, 1, 4, true),
            one(insert(0, [N, Some(1), N, N])),
            Op::Txn(vec![
                insert(0, [N, Some(3), N, N]),
                insert(0, [N, Some(3), N, N]),
            ]),
            one(delete(4)),
            Op::Reopen,
            Op::Settle,
        ],
    );
    // Failures at reopen and on DDL; required fields refused.
    put_program(
        "failing_ddl_and_reopen",
        base,
        vec![
            Op::ArmFailure { writes: 0 },
            Op::Reopen,
            Op::ArmFailure { writes: 0 },
            class(0, &[(0, false, 2)]),
            class(0, &[(0, false, 2)]),
            one(insert(0, [Some(1), N, N, N])),
            Op::ArmFailure { writes: 0 },
            set_index(0, 0, 4, false),
            Op::ArmFailure { writes: 0 },
            Op::ToggleField {
                slot: 0,
                field: 1,
                optional: true,
                index: 3,
            },
            Op::ToggleField {
                slot: 0,
                field: 2,
                optional: false,
                index: 0,
            },
            Op::SetOptional {
                slot: 0,
                field: 0,
                optional: true,
            },
            Op::SetOptional {
                slot: 0,
                field: 0,
                optional: false,
            },
            Op::ArmFailure { writes: 0 },
            Op::CreateNamespace,
        ],
    );
}
