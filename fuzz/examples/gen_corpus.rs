//! Regenerates the checked-in seed corpus from the format crate's encoders
//! and, for `engine_model`, from typed programs:
//! `cargo run --example gen_corpus` (after a format or decoder change).

use rockhold_format::*;
use rockhold_fuzz::engine_model::{
    Config, FieldChoice, Given, Op, Program, Read, Target, TxStep, Values, Write,
};
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
        "object_ns1_class1_id7",
        &ObjectKey {
            ns,
            class,
            id: ObjectId(7),
        }
        .encode(),
    );
    put(
        "key_decode",
        "locator_ns1_id7",
        &LocatorKey {
            ns,
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
    let mut held = vec![0];
    encode_hash_holders(
        [
            Holder {
                id: ObjectId(7),
                tuple: Some(b"\x06a@x\x00\x01"),
            },
            Holder {
                id: ObjectId(9),
                tuple: None,
            },
        ],
        &mut held,
    );
    put("index_key", "hash_holders_7_9", &held);

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
        ("meta_format_version", FormatVersion::CURRENT.encode()),
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

// Pool fields (see `engine_model::FIELDS`): a u64, b string, c f64, d bytes,
// e struct { city, zip? }, f list<string>.
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
const E: usize = 4;
const F: usize = 5;
// Indexes (see `engine_model::INDEXES`): the own indexes of a, b, c, d, f,
// then city (e.city), ab (a, b), zf (e.zip, f).
const IA: usize = 0;
const IB: usize = 1;
const IC: usize = 2;
const ID: usize = 3;
const IF: usize = 4;
const ICITY: usize = 5;
const IAB: usize = 6;
const IZF: usize = 7;
// Kind bytes (see `engine_model::KINDS`).
const NONE: u8 = 0;
const HASH: u8 = 1;
const UHASH: u8 = 2;
const ORD: u8 = 3;
const UORD: u8 = 4;

/// A class: its fields (pool index, optional) and indexes (index number,
/// kind byte).
fn class(slot: u8, fields: &[(usize, bool)], indexes: &[(usize, u8)]) -> Op {
    let mut choice = [FieldChoice {
        present: false,
        optional: true,
    }; 6];
    for &(pool, optional) in fields {
        choice[pool] = FieldChoice {
            present: true,
            optional,
        };
    }
    let mut kinds = [NONE; 8];
    for &(index, kind) in indexes {
        kinds[index] = kind;
    }
    Op::CreateClass {
        slot,
        fields: choice,
        indexes: kinds,
    }
}

/// Values by pool field: `Some(i)` the i-th pool value, `None` not given.
fn vals(v: [Option<u8>; 6]) -> Values {
    v.map(|x| x.map_or(Given::No, Given::Value))
}

fn insert(slot: u8, v: [Option<u8>; 6]) -> Write {
    Write::Insert {
        slot,
        strict: false,
        values: vals(v),
    }
}

fn update(n: u8, v: [Option<u8>; 6]) -> Write {
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

fn set_index(slot: u8, index: usize, kind: u8, defer: bool) -> Op {
    Op::SetIndex {
        slot,
        index: index as u8,
        kind,
        defer,
    }
}

fn reindex(slot: u8, index: Option<usize>, defer: bool) -> Op {
    Op::Reindex {
        slot,
        index: index.map(|i| i as u8),
        defer,
    }
}

fn toggle(slot: u8, field: usize, optional: bool, kind: u8) -> Op {
    Op::ToggleField {
        slot,
        field: field as u8,
        optional,
        kind,
    }
}

fn set_optional(slot: u8, field: usize, optional: bool) -> Op {
    Op::SetOptional {
        slot,
        field: field as u8,
        optional,
    }
}

const N: Option<u8> = None;

fn w(write: Write) -> TxStep {
    TxStep::Write(write)
}

fn get(n: u8) -> TxStep {
    TxStep::Read(Read::Get {
        target: Target::Live(n),
    })
}

/// `find_unique` on the `index`-th ready unique index of the slot, of its
/// `probe`-th tuple (the tuples the staged state holds, and one more).
fn unique(slot: u8, index: u8, probe: u8) -> TxStep {
    TxStep::Read(Read::Unique { slot, index, probe })
}

/// `find_page(first(limit))` on the `index`-th ready non-unique index.
fn page(slot: u8, index: u8, probe: u8, limit: u8, next: bool) -> TxStep {
    TxStep::Read(Read::Page {
        slot,
        index,
        probe,
        limit,
        next,
    })
}

/// `scan(all().limit(limit))` of the `index`-th ready ordered index.
fn scan(slot: u8, index: u8, limit: u8, reverse: bool, next: bool) -> TxStep {
    TxStep::Read(Read::Scan {
        slot,
        index,
        limit,
        reverse,
        next,
    })
}

fn read_txn(steps: Vec<TxStep>, blind: Option<Write>) -> Op {
    Op::ReadTxn { steps, blind }
}

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
                &[(A, false), (B, true), (C, true), (D, true)],
                &[(IA, UHASH), (IB, ORD), (IC, HASH), (ID, UORD)],
            ),
            one(insert(0, [Some(0), Some(1), Some(0), Some(1), N, N])),
            one(insert(0, [Some(1), Some(2), Some(1), Some(2), N, N])),
            one(insert(0, [Some(0), Some(3), N, N, N, N])),
            one(update(0, [Some(1), N, N, N, N, N])),
            one(update(0, [Some(2), N, Some(3), None, N, N])),
            one(insert(0, [Some(3), Some(1), Some(1), Some(2), N, N])),
            one(delete(1)),
            one(insert(0, [Some(1), Some(0), Some(2), Some(4), N, N])),
            Op::Reopen,
            one(update(1, [N, Some(4), N, Some(3), N, N])),
        ],
    );
    // Transactions: swapping unique values, duplicates within a batch,
    // a value freed and taken in one batch, an unknown object.
    put_program(
        "transactions",
        snapshots,
        vec![
            class(0, &[(A, false), (B, true)], &[(IA, UHASH), (IB, HASH)]),
            class(1, &[(B, true), (C, true)], &[(IB, UORD), (IC, ORD)]),
            one(insert(0, [Some(0), Some(1), N, N, N, N])),
            one(insert(0, [Some(1), Some(1), N, N, N, N])),
            Op::Txn(vec![
                update(0, [Some(1), N, N, N, N, N]),
                update(1, [Some(0), N, N, N, N, N]),
            ]),
            Op::Txn(vec![
                insert(1, [N, Some(2), Some(0), N, N, N]),
                insert(1, [N, Some(2), Some(1), N, N, N]),
            ]),
            Op::Txn(vec![
                delete(0),
                insert(0, [Some(1), N, N, N, N, N]),
                insert(1, [N, Some(0), Some(2), N, N, N]),
            ]),
            Op::Txn(vec![
                insert(1, [N, Some(3), Some(3), N, N, N]),
                Write::Update {
                    target: Target::Gone(0),
                    strict: false,
                    values: vals([Some(2), N, N, N, N, N]),
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
            class(0, &[(A, false), (B, true), (D, true)], &[]),
            one(insert(0, [Some(0), Some(1), N, N, N, N])),
            one(insert(0, [Some(1), Some(1), N, Some(1), N, N])),
            one(insert(0, [Some(2), Some(3), N, Some(2), N, N])),
            set_index(0, IB, UHASH, false),
            set_index(0, IB, ORD, true),
            one(insert(0, [Some(3), Some(2), N, N, N, N])),
            one(update(0, [N, Some(0), N, N, N, N])),
            one(delete(2)),
            Op::Settle,
            set_index(0, IB, UORD, false),
            set_index(0, IA, UORD, false),
            toggle(0, D, true, HASH),
            toggle(0, D, true, HASH),
            one(insert(0, [Some(0), Some(3), N, Some(1), N, N])),
            set_optional(0, A, true),
            set_optional(0, A, false),
        ],
    );
    // Injected failures on writes: the id mark, a single insert, a
    // transaction, an update and a delete.
    put_program(
        "failing_writes",
        snapshots,
        vec![
            class(0, &[(A, false), (B, true)], &[(IA, UHASH), (IB, ORD)]),
            Op::ArmFailure { writes: 0 },
            one(insert(0, [Some(0), N, N, N, N, N])),
            one(insert(0, [Some(0), Some(1), N, N, N, N])),
            Op::ArmFailure { writes: 0 },
            Op::Txn(vec![
                insert(0, [Some(1), N, N, N, N, N]),
                update(0, [N, Some(2), N, N, N, N]),
            ]),
            Op::ArmFailure { writes: 0 },
            one(update(0, [Some(2), Some(3), N, N, N, N])),
            Op::ArmFailure { writes: 0 },
            one(delete(0)),
            Op::ArmFailure { writes: 1 },
            one(insert(0, [Some(3), N, N, N, N, N])),
            one(insert(0, [Some(1), N, N, N, N, N])),
        ],
    );
    // Injected failures inside index builds, chunk by chunk and by ingest.
    let build_failures = |config: Config, name: &str| {
        let mut ops = vec![class(1, &[(A, false), (B, true), (C, true)], &[])];
        for i in 0..6u8 {
            ops.push(one(insert(
                1,
                [Some(i % 4), Some(i % 3), Some(i % 2), N, N, N],
            )));
        }
        ops.extend([
            Op::ArmFailure { writes: 2 },
            set_index(1, IB, ORD, false),
            Op::ArmFailure { writes: 3 },
            set_index(1, IA, UHASH, false),
            Op::ArmFailure { writes: 1 },
            reindex(1, None, false),
            Op::ArmFailure { writes: 4 },
            set_index(1, IC, HASH, true),
            one(update(0, [N, N, Some(3), N, N, N])),
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
            class(2, &[(B, false)], &[(IB, UHASH)]),
            Op::CreateNamespace,
            class(
                2,
                &[(B, false), (D, true), (F, true)],
                &[(IB, UHASH), (ID, ORD), (IF, UHASH)],
            ),
            one(insert(2, [N, Some(0), N, Some(0), N, Some(1)])),
            one(insert(2, [N, Some(1), N, Some(1), N, Some(3)])),
            Op::DropNamespace,
            Op::Txn(vec![Write::Delete {
                target: Target::Gone(1),
            }]),
            Op::CreateNamespace,
            class(2, &[(B, false)], &[(IB, UHASH)]),
            one(insert(2, [N, Some(0), N, N, N, N])),
            Op::ArmFailure { writes: 0 },
            Op::DropNamespace,
            Op::Reopen,
        ],
    );
    // Two-bit value hashes: distinct values (and tuples, and list
    // elements) share hash index entries and unique point keys.
    put_program(
        "hash_collisions",
        Config {
            few_hash_bits: true,
            unique_cache: false,
            ..base
        },
        {
            let mut ops = vec![class(
                0,
                &[(A, true), (B, true), (C, true), (D, true), (F, true)],
                &[
                    (IB, UHASH),
                    (ID, HASH),
                    (IC, UHASH),
                    (IF, UHASH),
                    (IAB, UHASH),
                ],
            )];
            for i in 0..5u8 {
                ops.push(one(insert(
                    0,
                    [Some(i), Some(i), Some(4 - i), Some(i), N, Some(i)],
                )));
            }
            ops.extend([
                one(update(1, [N, Some(0), N, N, N, N])),
                one(update(2, [N, N, N, Some(0), N, Some(1)])),
                one(delete(0)),
                one(update(0, [N, N, N, N, N, Some(2)])),
                reindex(0, None, false),
            ]);
            ops
        },
    );
    // Non-unique builds left pending across writes and a reopen.
    put_program(
        "deferred_builds",
        chunked,
        vec![
            class(
                0,
                &[(A, true), (B, true), (D, true), (F, true)],
                &[(IA, HASH), (IB, ORD), (IF, ORD)],
            ),
            one(insert(0, [Some(0), Some(0), N, Some(0), N, Some(2)])),
            one(insert(0, [Some(0), Some(1), N, Some(1), N, Some(3)])),
            one(insert(0, [Some(1), Some(2), N, Some(1), N, Some(0)])),
            reindex(0, None, true),
            set_index(0, ID, ORD, true),
            set_index(0, IAB, HASH, true),
            one(update(0, [Some(2), Some(3), N, Some(2), N, Some(4)])),
            one(delete(1)),
            Op::Reopen,
            one(insert(0, [Some(3), Some(0), N, Some(3), N, Some(1)])),
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
            class(0, &[(A, true), (B, true)], &[]),
            one(insert(0, [Some(0), Some(0), N, N, N, N])),
            one(insert(0, [Some(1), Some(1), N, N, N, N])),
            set_index(0, IA, UHASH, true),
            one(insert(0, [Some(0), Some(2), N, N, N, N])),
            one(insert(0, [Some(2), N, N, N, N, N])),
            one(insert(0, [Some(2), N, N, N, N, N])),
            one(update(1, [Some(3), N, N, N, N, N])),
            Op::Settle,
            set_index(0, IB, UORD, true),
            one(insert(0, [N, Some(1), N, N, N, N])),
            Op::Txn(vec![
                insert(0, [N, Some(3), N, N, N, N]),
                insert(0, [N, Some(3), N, N, N, N]),
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
            class(0, &[(A, false)], &[(IA, UHASH)]),
            class(0, &[(A, false)], &[(IA, UHASH)]),
            one(insert(0, [Some(1), N, N, N, N, N])),
            Op::ArmFailure { writes: 0 },
            set_index(0, IA, UORD, false),
            Op::ArmFailure { writes: 0 },
            toggle(0, B, true, ORD),
            toggle(0, C, false, NONE),
            set_optional(0, A, true),
            set_optional(0, A, false),
            Op::ArmFailure { writes: 0 },
            Op::CreateNamespace,
        ],
    );
    // A nested struct (city required, zip optional: missing, explicitly
    // absent, or a struct without city, refused as WrongType) indexed on
    // its nested path, and a list with a unique multi-valued index: no two
    // objects share an element, repeats inside one object are one entry,
    // an empty list has none.
    put_program(
        "nested_and_list_indexes",
        snapshots,
        vec![
            class(
                0,
                &[(A, true), (E, true), (F, true)],
                &[(ICITY, ORD), (IF, UHASH), (IZF, ORD)],
            ),
            // f = ["x", "x"]: one entry; e = {city: "x"} without zip.
            one(insert(0, [Some(0), Some(0), N, N, Some(0), Some(2)])),
            // f = ["y", "x", "y"] shares "x": refused.
            one(insert(0, [Some(1), N, N, N, Some(1), Some(3)])),
            // f = ["xy", "y"], e = {city: "y", zip: 1}.
            one(insert(0, [Some(1), N, N, N, Some(1), Some(4)])),
            // f = [] (no entry), e = {city: "", zip: absent}.
            one(insert(0, [Some(2), N, N, N, Some(3), Some(0)])),
            one(insert(0, [Some(2), N, N, N, Some(3), Some(0)])),
            // e without city: WrongType.
            one(insert(0, [Some(3), N, N, N, Some(4), Some(1)])),
            // The first gives up "x"; then another takes it.
            one(update(0, [N, N, N, N, Some(2), Some(0)])),
            one(insert(0, [Some(3), N, N, N, Some(2), Some(1)])),
            // Swapping elements in one transaction.
            Op::Txn(vec![
                update(1, [N, N, N, N, N, Some(1)]),
                update(3, [N, N, N, N, N, Some(4)]),
            ]),
            Op::Reopen,
            set_index(0, IF, ORD, false),
            one(insert(0, [N, N, N, N, Some(0), Some(3)])),
            set_index(0, ICITY, UHASH, false),
            one(delete(0)),
            set_index(0, IZF, UORD, false),
        ],
    );
    // Compound indexes: (a, b) unique ordered, (e.zip, f) unique hash;
    // tuples sharing one part are distinct, a whole tuple twice is refused;
    // kinds changed over data; scans by the leading part.
    put_program(
        "compound_indexes",
        base,
        vec![
            class(
                1,
                &[(A, false), (B, true), (E, true), (F, true)],
                &[(IAB, UORD), (IZF, UHASH), (IA, ORD)],
            ),
            one(insert(1, [Some(1), Some(1), N, N, Some(1), Some(1)])),
            one(insert(1, [Some(1), Some(2), N, N, Some(2), Some(1)])),
            one(insert(1, [Some(2), Some(1), N, N, Some(0), Some(3)])),
            // (1, "x") again: refused.
            one(insert(1, [Some(1), Some(1), N, N, N, N])),
            // (zip 1, "x") again: refused; without zip, no zf entry.
            one(insert(1, [Some(3), Some(1), N, N, Some(1), Some(2)])),
            one(insert(1, [Some(3), Some(1), N, N, Some(0), Some(2)])),
            // Without b: no ab entry.
            one(insert(1, [Some(1), N, N, N, N, N])),
            one(insert(1, [Some(4), Some(4), N, N, Some(2), Some(4)])),
            one(update(0, [N, Some(2), N, N, N, N])),
            one(update(1, [N, Some(1), N, N, N, N])),
            Op::Txn(vec![
                update(0, [N, Some(3), N, N, N, N]),
                update(1, [N, Some(2), N, N, N, N]),
                update(0, [N, Some(1), N, N, N, N]),
            ]),
            set_index(1, IAB, ORD, false),
            one(insert(1, [Some(1), Some(1), N, N, N, N])),
            set_index(1, IAB, UHASH, false),
            set_index(1, IZF, ORD, false),
            Op::Reopen,
        ],
    );
    // Multi-valued and compound unique builds over data: duplicates across
    // objects fail the build (the index is removed), repeats within one
    // object do not; pending builds while writes go on; chunked.
    put_program(
        "multi_valued_builds",
        chunked,
        vec![
            class(0, &[(A, true), (B, true), (E, true), (F, true)], &[]),
            one(insert(0, [Some(0), Some(0), N, N, Some(0), Some(2)])),
            one(insert(0, [Some(1), Some(1), N, N, Some(1), Some(3)])),
            one(insert(0, [Some(0), Some(1), N, N, Some(3), Some(0)])),
            set_index(0, IF, UHASH, false),
            one(update(1, [N, N, N, N, N, Some(4)])),
            set_index(0, IF, UORD, false),
            set_index(0, IAB, UHASH, true),
            set_index(0, ICITY, UORD, true),
            one(insert(0, [Some(0), Some(0), N, N, Some(2), Some(1)])),
            one(update(2, [N, Some(2), N, N, Some(1), N])),
            Op::Settle,
            set_index(0, IZF, UHASH, true),
            one(insert(0, [N, N, N, N, Some(1), Some(4)])),
            Op::Settle,
            reindex(0, Some(IF), false),
        ],
    );
    // Injected failures on writes and builds of nested, list and compound
    // indexes (several point keys per object).
    put_program(
        "failing_nested_writes",
        chunked,
        vec![
            class(
                0,
                &[(A, false), (B, true), (E, true), (F, true)],
                &[(IF, UHASH), (ICITY, HASH), (IAB, UORD), (IZF, ORD)],
            ),
            one(insert(0, [Some(0), Some(0), N, N, Some(1), Some(3)])),
            Op::ArmFailure { writes: 0 },
            one(insert(0, [Some(1), Some(1), N, N, Some(2), Some(4)])),
            Op::ArmFailure { writes: 0 },
            one(update(0, [N, N, N, N, Some(0), Some(1)])),
            Op::ArmFailure { writes: 0 },
            Op::Txn(vec![
                insert(0, [Some(2), Some(2), N, N, Some(2), Some(4)]),
                delete(0),
            ]),
            one(insert(0, [Some(2), Some(2), N, N, Some(2), Some(4)])),
            Op::ArmFailure { writes: 2 },
            set_index(0, IF, ORD, false),
            Op::ArmFailure { writes: 1 },
            set_index(0, IZF, UHASH, false),
            Op::ArmFailure { writes: 3 },
            reindex(0, None, false),
            Op::ArmFailure { writes: 0 },
            one(delete(0)),
        ],
    );
    // Read transactions (issue 24 items 1, 3, 4): a `limit(1)` scan past a
    // staged delete of the head, then a blind insert before the head it
    // saw (a conflict); the same scan with the insert beyond what it
    // covered (commits); reverse scans and a second page by cursor with an
    // insert inside the first page; `find_page(first(1))` after moving an
    // object out of the value, then another moved in before the holder it
    // saw.
    put_program(
        "read_txn_limited_reads",
        base,
        vec![
            class(1, &[(B, true)], &[(IB, HASH)]),
            class(0, &[(A, false), (B, true)], &[(IA, ORD), (IB, HASH)]),
            // Objects 0, 1, 2 of c1: b = "x", "", "x".
            one(insert(1, [N, Some(1), N, N, N, N])),
            one(insert(1, [N, Some(0), N, N, N, N])),
            one(insert(1, [N, Some(1), N, N, N, N])),
            // 0 moves to "xy": first(1) of "x" is 2 (and its next page is
            // empty); 1 moves into "x", before 2: a conflict.
            read_txn(
                vec![
                    w(update(0, [N, Some(2), N, N, N, N])),
                    page(1, 0, 1, 1, true),
                ],
                Some(update(1, [N, Some(1), N, N, N, N])),
            ),
            // Objects 3, 4, 5 of c0: a = 1, 3, 4.
            one(insert(0, [Some(1), Some(1), N, N, N, N])),
            one(insert(0, [Some(3), Some(0), N, N, N, N])),
            one(insert(0, [Some(4), Some(1), N, N, N, N])),
            // Delete the head (a = 1), scan limit 1: sees 3; a = 2 is
            // inserted before it: a conflict.
            read_txn(
                vec![w(delete(3)), scan(0, 0, 1, false, false)],
                Some(insert(0, [Some(2), N, N, N, N, N])),
            ),
            // Again (the head is 1, then 2): a = 4 is inserted beyond the
            // covered range: commits.
            read_txn(
                vec![w(delete(3)), scan(0, 0, 1, false, false)],
                Some(insert(0, [Some(4), N, N, N, N, N])),
            ),
            // Delete a = 3; pages of 2 by cursor, forward and reversed;
            // a = 2 is inserted inside the first page: a conflict.
            read_txn(
                vec![
                    w(delete(3)),
                    scan(0, 0, 2, false, true),
                    scan(0, 0, 2, true, true),
                ],
                Some(insert(0, [Some(2), Some(2), N, N, N, N])),
            ),
            // Read-only: a blind write never conflicts with it.
            read_txn(
                vec![scan(0, 0, 1, true, false), page(0, 1, 1, 2, true)],
                Some(delete(0)),
            ),
        ],
    );
    // Stale reads (item 3): an object read, then deleted or updated in the
    // transaction, is deleted by a blind write; a unique lookup gone stale
    // the same way: conflicts, not UnknownObject.
    put_program(
        "read_txn_stale_reads",
        snapshots,
        vec![
            class(
                0,
                &[(A, false), (B, true), (D, true)],
                &[(IA, ORD), (IB, UORD), (ID, UHASH)],
            ),
            one(insert(0, [Some(0), Some(1), N, Some(1), N, N])),
            one(insert(0, [Some(1), Some(3), N, Some(2), N, N])),
            one(insert(0, [Some(2), Some(2), N, Some(3), N, N])),
            read_txn(vec![get(0), w(delete(0))], Some(delete(0))),
            read_txn(
                vec![get(0), w(update(0, [Some(3), N, N, N, N, N]))],
                Some(delete(0)),
            ),
            one(insert(0, [Some(3), Some(1), N, Some(1), N, N])),
            // Unique lookup of d = [0] (object 3), then its delete.
            read_txn(vec![unique(0, 1, 1), w(delete(1))], Some(delete(1))),
        ],
    );
    // Unique swaps with reads between (item 4): the value held twice fails
    // its lookup and a unique ordered scan reaching it, every other read
    // answers, and the swap commits; a state left broken is refused at
    // commit.
    put_program(
        "read_txn_unique_swaps",
        base,
        vec![
            class(0, &[(A, false), (B, true)], &[(IA, ORD), (IB, UORD)]),
            class(1, &[(D, true)], &[(ID, UHASH)]),
            // b = "x", "xy", "y".
            one(insert(0, [Some(0), Some(1), N, N, N, N])),
            one(insert(0, [Some(1), Some(2), N, N, N, N])),
            one(insert(0, [Some(2), Some(3), N, N, N, N])),
            read_txn(
                vec![
                    w(update(0, [N, Some(2), N, N, N, N])),
                    get(1),
                    // "xy" (held twice).
                    unique(0, 0, 1),
                    // By b: reaches "xy" first; by a: answers.
                    scan(0, 1, 3, false, false),
                    page(0, 0, 1, 1, true),
                    w(update(1, [N, Some(1), N, N, N, N])),
                    // "x", then the whole index.
                    unique(0, 0, 1),
                    scan(0, 1, 2, false, true),
                ],
                Some(insert(1, [N, N, N, Some(1), N, N])),
            ),
            // Left broken: "y" held twice at commit.
            read_txn(
                vec![
                    w(update(0, [N, Some(3), N, N, N, N])),
                    get(0),
                    unique(0, 0, 2),
                    scan(0, 1, 2, true, true),
                ],
                None,
            ),
        ],
    );
    // Injected failures in read transactions: at the id of a staged insert,
    // at the blind write, at the commit after the blind write.
    put_program(
        "failing_read_txns",
        base,
        vec![
            class(0, &[(A, false), (B, true)], &[(IA, ORD), (IB, UHASH)]),
            one(insert(0, [Some(1), Some(1), N, N, N, N])),
            one(insert(0, [Some(3), Some(2), N, N, N, N])),
            Op::ArmFailure { writes: 0 },
            read_txn(
                vec![
                    w(insert(0, [Some(2), Some(3), N, N, N, N])),
                    scan(0, 0, 2, false, true),
                ],
                Some(insert(0, [Some(0), N, N, N, N, N])),
            ),
            Op::ArmFailure { writes: 0 },
            read_txn(
                vec![w(delete(0)), scan(0, 0, 1, false, false)],
                Some(insert(0, [Some(0), N, N, N, N, N])),
            ),
            Op::ArmFailure { writes: 2 },
            read_txn(
                vec![w(update(0, [N, Some(4), N, N, N, N])), unique(0, 0, 1)],
                Some(insert(0, [Some(4), N, N, N, N, N])),
            ),
            read_txn(
                vec![w(update(0, [N, Some(4), N, N, N, N])), unique(0, 0, 1)],
                Some(insert(0, [Some(4), N, N, N, N, N])),
            ),
        ],
    );
    // Index DDL refused or cascading: an index over a field the class
    // lacks (InvalidIndex), a field removed with the indexes that read it,
    // added back, reindex of an index the class does not have (UnknownIndex).
    put_program(
        "index_ddl",
        base,
        vec![
            class(1, &[(A, true), (B, true)], &[(ICITY, ORD), (IAB, ORD)]),
            set_index(1, ICITY, HASH, false),
            set_index(1, IZF, UORD, false),
            one(insert(1, [Some(0), Some(1), N, N, N, N])),
            toggle(1, E, true, NONE),
            set_index(1, ICITY, UHASH, false),
            one(insert(1, [Some(1), Some(1), N, N, Some(0), N])),
            one(insert(1, [Some(2), Some(2), N, N, Some(2), N])),
            toggle(1, F, true, UHASH),
            set_index(1, IZF, ORD, true),
            one(insert(1, [Some(2), Some(3), N, N, Some(1), Some(3)])),
            reindex(1, Some(ID), false),
            reindex(1, Some(IZF), false),
            toggle(1, E, true, NONE),
            toggle(1, B, true, NONE),
            reindex(1, None, true),
            set_optional(1, A, false),
            Op::Settle,
        ],
    );
}
