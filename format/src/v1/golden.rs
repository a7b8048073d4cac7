//! Golden bytes of format v1, captured from the v1 code (commit 0be2302,
//! bincode 1) by a throwaway program before bincode was removed, and the
//! v2 values the v1 decoders must turn them into.

use proptest::prelude::*;

use super::*;
use crate::frame::{frame_raw, FRAME_HEADER_LEN};
use crate::Record;

/// (name, framed v1 record as hex), as the v1 code wrote them.
const GOLDEN: &[(&str, &str)] = &[
    ("meta_format_version", "0101ef3de2d80001"),
    ("meta_hash_seed", "0101b161748201fdefcdab8967452301fdffffffffffffffff"),
    ("meta_counter_0", "0101aa0cb0cc0200"),
    ("meta_counter_250", "0101f764abce02fa"),
    ("meta_counter_251", "0101a32e377a02fbfb00"),
    ("meta_counter_65535", "0101ea401df302fbffff"),
    ("meta_counter_65536", "0101d6e8f95502fc00000100"),
    ("meta_counter_u32max", "01011148e8f702fcffffffff"),
    ("meta_counter_u32max_plus1", "0101fa0ec65502fd0000000001000000"),
    ("meta_counter_u64max", "010106d4a14502fdffffffffffffffff"),
    ("name_1", "0102bbb2e13101"),
    ("name_300", "0102a6ecd12ffb2c01"),
    ("name_u32max", "010225ace87efcffffffff"),
    ("class_all", "010364d38740070a65766572795f7479706503fb2c010701026631000000020266320101010003026633020001010402663403010200050266350400020106026636050100070266370600010000"),
    ("class_empty_provisional", "010396721457fcffffffff0170fdffffffffffffffff010001"),
    ("class_user", "0103ef2fe5a50104757365720103020105656d61696c0400010102036167650201020000"),
    ("object_all", "010430236122070e0101000201010302fdffffffffffffffff0402010502fdfeffffffffffffff0603fdffffffffffffffff0704ab0000000000f47f080400000000000000800904000000000000f83f0a05000b0504c3a900780c060200ff0d07fdfffffffffffffffffb2c010300"),
    ("object_with_absent", "010492553bf401020100020200"),
    ("object_empty", "0104acc772270200"),
    ("task_pending", "0105890f615c000100fd0068e5cf8b010000fd0068e5cf8b010000000000000000"),
    ("task_in_progress", "010515d497e5010200fd0068e5cf8b010000fd0068e5cf8b010000000000000000"),
    ("task_done", "0105415d1cb1020300fd0068e5cf8b010000fd0068e5cf8b010000000000000000"),
    ("task_failed", "0105f7127cd6030400fd0068e5cf8b010000fd0068e5cf8b010000000000000000"),
    ("task_remove", "0105c2da9cc7040500fd0068e5cf8b010000fd0068e5cf8b010000000000000000"),
    ("task_full", "0105940f977403fdfffffffffffffffffcfffffffffd0068e5cf8b010000fdf469e5cf8b010000fd6052e6cf8b01000001fd0000000000010000fbe80303010f6475706c69636174652076616c75650201fd0000000000010000"),
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn golden(name: &str) -> Vec<u8> {
    let (_, hex) = GOLDEN
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a golden sample");
    unhex(hex)
}

fn kind_of(name: &str) -> RecordKind {
    match name.split('_').next() {
        Some("meta") => RecordKind::Meta,
        Some("name") => RecordKind::Name,
        Some("class") => RecordKind::Class,
        Some("object") => RecordKind::Object,
        _ => RecordKind::Task,
    }
}

/// Decodes with the decoder of `kind`, re-encodes the result as v2 (and
/// checks that the v2 record decodes back to it).
fn decode_any(kind: RecordKind, framed: &[u8]) -> Result<Vec<u8>> {
    fn v2<R: Record + PartialEq + std::fmt::Debug>(r: R) -> Vec<u8> {
        let bytes = r
            .encode_checked()
            .expect("a converted record is a valid v2 record");
        assert_eq!(R::decode(&bytes).expect("v2 decodes"), r);
        bytes
    }
    Ok(match kind {
        RecordKind::Meta => v2(decode_meta(framed)?),
        RecordKind::Name => v2(decode_name(framed)?),
        RecordKind::Class => v2(decode_class(framed)?),
        RecordKind::Object => v2(decode_object(framed)?),
        RecordKind::Task => v2(decode_task(framed)?),
    })
}

fn field(id: u32, name: &str, ty: FieldType, optional: bool) -> FieldDef {
    FieldDef {
        id: FieldId(id),
        name: name.into(),
        ty,
        optional,
    }
}

fn index(id: u32, name: &str, kind: IndexKind) -> IndexDef {
    IndexDef {
        id: IndexId(id),
        name: name.into(),
        kind,
        parts: vec![FieldPath {
            field: FieldId(id),
            members: vec![],
        }],
    }
}

#[test]
fn meta_values() {
    assert_eq!(
        decode_meta(&golden("meta_format_version")),
        Ok(MetaValue::FormatVersion(1))
    );
    assert_eq!(
        decode_meta(&golden("meta_hash_seed")),
        Ok(MetaValue::HashSeed(HashSeed {
            k0: 0x0123_4567_89ab_cdef,
            k1: u64::MAX
        }))
    );
    for (name, c) in [
        ("0", 0u64),
        ("250", 250),
        ("251", 251),
        ("65535", 65535),
        ("65536", 65536),
        ("u32max", u64::from(u32::MAX)),
        ("u32max_plus1", u64::from(u32::MAX) + 1),
        ("u64max", u64::MAX),
    ] {
        assert_eq!(
            decode_meta(&golden(&format!("meta_counter_{name}"))),
            Ok(MetaValue::Counter(c)),
            "{name}"
        );
    }
}

#[test]
fn name_entries() {
    for (name, id) in [("1", 1u32), ("300", 300), ("u32max", u32::MAX)] {
        assert_eq!(
            decode_name(&golden(&format!("name_{name}"))),
            Ok(NameEntry { id })
        );
    }
}

#[test]
fn class_definitions_become_v2_with_index_defs() {
    let all = ClassDef {
        id: ClassId(7),
        name: "every_type".into(),
        revision: 3,
        next_field_id: 300,
        next_index_id: 300,
        fields: vec![
            field(1, "f1", FieldType::Bool, false),
            field(2, "f2", FieldType::I64, true),
            field(3, "f3", FieldType::U64, false),
            field(4, "f4", FieldType::F64, true),
            field(5, "f5", FieldType::String, false),
            field(6, "f6", FieldType::Bytes, true),
            field(7, "f7", FieldType::Ref, false),
        ],
        indexes: vec![
            index(2, "f2", IndexKind::Hash { unique: false }),
            index(3, "f3", IndexKind::Hash { unique: true }),
            index(4, "f4", IndexKind::Ordered { unique: false }),
            index(5, "f5", IndexKind::Ordered { unique: true }),
            index(7, "f7", IndexKind::Hash { unique: false }),
        ],
        provisional: false,
    };
    assert_eq!(decode_class(&golden("class_all")), Ok(all));
    let provisional = ClassDef {
        id: ClassId(u32::MAX),
        name: "p".into(),
        revision: u64::MAX,
        next_field_id: 1,
        next_index_id: 1,
        fields: vec![],
        indexes: vec![],
        provisional: true,
    };
    assert_eq!(
        decode_class(&golden("class_empty_provisional")),
        Ok(provisional)
    );
    let user = ClassDef {
        id: ClassId(1),
        name: "user".into(),
        revision: 1,
        next_field_id: 3,
        next_index_id: 3,
        fields: vec![
            field(1, "email", FieldType::String, false),
            field(2, "age", FieldType::U64, true),
        ],
        indexes: vec![
            index(1, "email", IndexKind::Hash { unique: true }),
            index(2, "age", IndexKind::Ordered { unique: false }),
        ],
        provisional: false,
    };
    assert_eq!(decode_class(&golden("class_user")), Ok(user));
}

/// Compares stored bits (NaN payloads and -0.0 included).
fn same_bits(a: &ObjectRecord, b: &ObjectRecord) -> bool {
    a.encode() == b.encode()
}

#[test]
fn object_records_keep_every_value_bit_for_bit() {
    let f = |id: u32, v: Value| (FieldId(id), v);
    let all = ObjectRecord {
        class: ClassId(7),
        fields: vec![
            f(1, Value::Bool(false)),
            f(2, Value::Bool(true)),
            f(3, Value::I64(i64::MIN)),
            f(4, Value::I64(-1)),
            f(5, Value::I64(i64::MAX)),
            f(6, Value::U64(u64::MAX)),
            f(7, Value::F64(f64::from_bits(0x7FF4_0000_0000_00AB))),
            f(8, Value::F64(-0.0)),
            f(9, Value::F64(1.5)),
            f(10, Value::String(String::new())),
            f(11, Value::String("é\0x".into())),
            f(12, Value::Bytes(vec![0, 0xFF])),
            f(13, Value::Ref(ObjectId(u64::MAX))),
            f(300, Value::U64(0)),
        ],
    };
    let got = decode_object(&golden("object_all")).expect("decodes");
    assert_eq!(got, all);
    assert!(same_bits(&got, &all));
    assert_eq!(
        decode_object(&golden("object_with_absent")),
        Ok(ObjectRecord {
            class: ClassId(1),
            fields: vec![f(2, Value::I64(0))],
        })
    );
    assert_eq!(
        decode_object(&golden("object_empty")),
        Ok(ObjectRecord {
            class: ClassId(2),
            fields: vec![],
        })
    );
}

#[test]
fn task_records() {
    for (i, state) in [
        TaskState::Pending,
        TaskState::InProgress,
        TaskState::Done,
        TaskState::Failed,
        TaskState::Remove,
    ]
    .into_iter()
    .enumerate()
    {
        let mut want = TaskRecord::pending(i as u64 + 1, 1_700_000_000_000);
        want.state = state;
        assert_eq!(
            decode_task(&golden(&format!("task_{}", state.name()))),
            Ok(want)
        );
    }
    let full = TaskRecord {
        state: TaskState::Failed,
        revision: u64::MAX,
        attempts: u32::MAX,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_500,
        not_before_ms: 1_700_000_060_000,
        cursor: Some(ObjectId(1 << 40)),
        entries_added: 1000,
        stale_removed: 3,
        last_error: Some("duplicate value".into()),
        conflicts: vec![ObjectId(1), ObjectId(1 << 40)],
    };
    assert_eq!(decode_task(&golden("task_full")), Ok(full));
}

#[test]
fn task_keys_read_the_field_id_as_the_index_id() {
    let key = [b'I', b'T', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    assert_eq!(
        decode_task_key(&key),
        Ok(TaskKey {
            ns: crate::NamespaceId(1),
            class: ClassId(2),
            index: IndexId(3),
        })
    );
}

#[test]
fn every_golden_sample_converts_to_a_valid_v2_record() {
    for (name, hex) in GOLDEN {
        decode_any(kind_of(name), &unhex(hex)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_truncation_fails() {
    for (name, hex) in GOLDEN {
        let framed = unhex(hex);
        let kind = kind_of(name);
        for len in 0..framed.len() {
            assert!(
                decode_any(kind, &framed[..len]).is_err(),
                "{name} cut at {len}"
            );
        }
        // The body cut short under a valid checksum: the body decoder's errors.
        let body = &framed[FRAME_HEADER_LEN..];
        for len in 0..body.len() {
            let cut = frame_raw(FRAME_VERSION, kind as u8, &body[..len]);
            assert!(decode_any(kind, &cut).is_err(), "{name} body cut at {len}");
        }
        let mut trailing = body.to_vec();
        trailing.push(0);
        let framed = frame_raw(FRAME_VERSION, kind as u8, &trailing);
        assert!(
            matches!(decode_any(kind, &framed), Err(Error::Malformed(_))),
            "{name} with a trailing byte"
        );
    }
}

#[test]
fn bit_flips_versions_and_kinds_are_refused() {
    for (name, hex) in GOLDEN {
        let framed = unhex(hex);
        let kind = kind_of(name);
        for bit in 0..framed.len() * 8 {
            let mut damaged = framed.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(
                    decode_any(kind, &damaged),
                    Err(Error::ChecksumMismatch { .. })
                ),
                "{name}: flip of bit {bit}"
            );
        }
        let body = &framed[FRAME_HEADER_LEN..];
        for version in [0u8, 2, 3] {
            assert_eq!(
                decode_any(kind, &frame_raw(version, kind as u8, body)),
                Err(Error::UnsupportedVersion(version)),
                "{name}"
            );
        }
        let other = if kind == RecordKind::Task {
            RecordKind::Meta
        } else {
            RecordKind::Task
        };
        assert!(matches!(
            decode_any(other, &framed),
            Err(Error::WrongKind { .. })
        ));
    }
}

#[test]
fn bad_variants_and_varints_are_malformed() {
    // An unknown Value variant, a varint marker 254 (u128), a u32 that does
    // not fit, a bool byte 2, a count larger than the body.
    let bodies: [(RecordKind, &[u8]); 5] = [
        (RecordKind::Object, &[1, 1, 1, 8]),
        (RecordKind::Meta, &[2, 254]),
        (RecordKind::Name, &[253, 0, 0, 0, 0, 1, 0, 0, 0]),
        (RecordKind::Object, &[1, 1, 1, 1, 2]),
        (
            RecordKind::Object,
            &[1, 253, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F],
        ),
    ];
    for (kind, body) in bodies {
        let framed = frame_raw(FRAME_VERSION, kind as u8, body);
        assert!(
            matches!(
                decode_any(kind, &framed),
                Err(Error::Malformed(_) | Error::Truncated { .. })
            ),
            "{body:?}"
        );
    }
    // Field ids out of order in a v1 object.
    let framed = frame_raw(FRAME_VERSION, RecordKind::Object as u8, &[1, 2, 2, 0, 1, 0]);
    assert!(matches!(decode_object(&framed), Err(Error::Malformed(_))));
}

#[test]
fn varints_as_bincode_wrote_them() {
    let read = |bytes: &[u8]| Bincode::new(bytes, "t").varint();
    assert_eq!(read(&[250]), Ok(250));
    assert_eq!(read(&[251, 0x2C, 0x01]), Ok(300));
    assert_eq!(read(&[252, 1, 0, 0, 0]), Ok(1));
    assert_eq!(read(&[253, 0, 0, 0, 0, 0, 0, 0, 0x80]), Ok(1 << 63));
    assert!(read(&[251, 0]).is_err());
    let zigzag = |bytes: &[u8]| Bincode::new(bytes, "t").i64();
    assert_eq!(zigzag(&[0]), Ok(0));
    assert_eq!(zigzag(&[1]), Ok(-1));
    assert_eq!(zigzag(&[2]), Ok(1));
    assert_eq!(
        zigzag(&[253, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        Ok(i64::MIN)
    );
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(kind in 1u8..=5, body in proptest::collection::vec(any::<u8>(), 0..48)) {
        let kind = RecordKind::try_from(kind).expect("a kind");
        let _ = decode_any(kind, &frame_raw(FRAME_VERSION, kind as u8, &body));
    }

    #[test]
    fn damaged_golden_bodies_never_panic(sample in 0..GOLDEN.len(), at in any::<prop::sample::Index>(),
                                          byte in any::<u8>()) {
        let (name, hex) = GOLDEN[sample];
        let kind = kind_of(name);
        let mut body = unhex(hex)[FRAME_HEADER_LEN..].to_vec();
        let i = at.index(body.len());
        body[i] = byte;
        let _ = decode_any(kind, &frame_raw(FRAME_VERSION, kind as u8, &body));
    }
}
