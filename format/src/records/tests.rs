//! Round trips, truncation, bad tags and arbitrary input of the record
//! codecs of meta values, name entries, class definitions and tasks (object
//! records: object.rs; frames: frame.rs).

use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::frame::{frame_raw, Record, RecordKind, FRAME_HEADER_LEN, FRAME_VERSION};
use crate::hash::HashSeed;
use crate::ids::{ClassId, FieldId, IndexId, ObjectId};
use crate::value::MAX_DEPTH;

fn name() -> impl Strategy<Value = String> {
    "[a-zé_]{0,6}"
}

fn any_type() -> impl Strategy<Value = FieldType> {
    let scalar = prop_oneof![
        Just(FieldType::Bool),
        Just(FieldType::I64),
        Just(FieldType::U64),
        Just(FieldType::F64),
        Just(FieldType::String),
        Just(FieldType::Bytes),
        Just(FieldType::Ref),
        Just(FieldType::Any),
    ];
    scalar.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| FieldType::Optional(Box::new(t))),
            inner.clone().prop_map(|t| FieldType::List(Box::new(t))),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(FieldType::Tuple),
            inner.clone().prop_map(|t| FieldType::Map(Box::new(t))),
            proptest::collection::vec((name(), inner.clone(), any::<bool>()), 0..4).prop_map(
                |ms| FieldType::Struct(
                    ms.into_iter()
                        .map(|(name, ty, optional)| MemberDef { name, ty, optional })
                        .collect()
                )
            ),
            proptest::collection::vec((name(), proptest::option::of(inner)), 0..4).prop_map(|vs| {
                FieldType::Enum(
                    vs.into_iter()
                        .map(|(name, payload)| VariantDef { name, payload })
                        .collect(),
                )
            }),
        ]
    })
}

fn any_index() -> impl Strategy<Value = IndexDef> {
    (
        any::<u32>(),
        name(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(
            (any::<u32>(), proptest::collection::vec(name(), 0..3)),
            0..3,
        ),
    )
        .prop_map(|(id, name, ordered, unique, parts)| IndexDef {
            id: IndexId(id),
            name,
            kind: if ordered {
                IndexKind::Ordered { unique }
            } else {
                IndexKind::Hash { unique }
            },
            parts: parts
                .into_iter()
                .map(|(field, members)| FieldPath {
                    field: FieldId(field),
                    members,
                })
                .collect(),
        })
}

fn any_class() -> impl Strategy<Value = ClassDef> {
    (
        (
            any::<u32>(),
            name(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
        ),
        proptest::collection::vec((any::<u32>(), name(), any_type(), any::<bool>()), 0..4),
        proptest::collection::vec(any_index(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |((id, name, revision, next_field_id, next_index_id), fields, indexes, provisional)| {
                ClassDef {
                    id: ClassId(id),
                    name,
                    revision,
                    next_field_id,
                    next_index_id,
                    fields: fields
                        .into_iter()
                        .map(|(id, name, ty, optional)| FieldDef {
                            id: FieldId(id),
                            name,
                            ty,
                            optional,
                        })
                        .collect(),
                    indexes,
                    provisional,
                }
            },
        )
}

fn any_task() -> impl Strategy<Value = TaskRecord> {
    (
        (
            prop_oneof![
                Just(TaskState::Pending),
                Just(TaskState::InProgress),
                Just(TaskState::Done),
                Just(TaskState::Failed),
                Just(TaskState::Remove),
            ],
            any::<u64>(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (
            proptest::option::of(any::<u64>().prop_map(ObjectId)),
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(".{0,8}"),
            proptest::collection::vec(any::<u64>().prop_map(ObjectId), 0..4),
        ),
    )
        .prop_map(
            |(
                (state, revision, attempts, created_at_ms, updated_at_ms, not_before_ms),
                (cursor, entries_added, stale_removed, last_error, conflicts),
            )| TaskRecord {
                state,
                revision,
                attempts,
                created_at_ms,
                updated_at_ms,
                not_before_ms,
                cursor,
                entries_added,
                stale_removed,
                last_error,
                conflicts,
            },
        )
}

fn any_meta() -> impl Strategy<Value = MetaValue> {
    prop_oneof![
        any::<u32>().prop_map(MetaValue::FormatVersion),
        (any::<u64>(), any::<u64>()).prop_map(|(k0, k1)| MetaValue::HashSeed(HashSeed { k0, k1 })),
        any::<u64>().prop_map(MetaValue::Counter),
    ]
}

/// Round trip, every truncation of the body under a valid checksum, a
/// trailing byte, and a frame of another version.
fn check_codec<R: Record + PartialEq + std::fmt::Debug>(r: &R) -> Result<(), TestCaseError> {
    let framed = r.encode_checked().expect("valid record");
    prop_assert_eq!(&R::decode(&framed).expect("decodes"), r);
    let body = &framed[FRAME_HEADER_LEN..];
    for len in 0..body.len() {
        let cut = frame_raw(FRAME_VERSION, R::KIND as u8, &body[..len]);
        prop_assert!(
            matches!(
                R::decode(&cut),
                Err(Error::Truncated { .. } | Error::Malformed(_))
            ),
            "body cut at {}",
            len
        );
    }
    let mut trailing = body.to_vec();
    trailing.push(0);
    prop_assert!(matches!(
        R::decode(&frame_raw(FRAME_VERSION, R::KIND as u8, &trailing)),
        Err(Error::Malformed(_))
    ));
    for version in [1, FRAME_VERSION + 1] {
        prop_assert_eq!(
            R::decode(&frame_raw(version, R::KIND as u8, body)),
            Err(Error::UnsupportedVersion(version))
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn class_definitions(c in any_class()) {
        check_codec(&c)?;
    }

    #[test]
    fn tasks(t in any_task()) {
        check_codec(&t)?;
    }

    #[test]
    fn meta_values(m in any_meta()) {
        check_codec(&m)?;
    }

    #[test]
    fn names(id in any::<u32>()) {
        check_codec(&NameEntry { id })?;
    }

    #[test]
    fn arbitrary_bodies_never_panic(kind in 1u8..=5, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let framed = frame_raw(FRAME_VERSION, kind, &body);
        // Whatever decodes re-encodes to exactly the same bytes.
        match RecordKind::try_from(kind).expect("kind") {
            RecordKind::Meta => if let Ok(r) = MetaValue::decode(&framed) { prop_assert_eq!(r.encode(), framed) },
            RecordKind::Name => if let Ok(r) = NameEntry::decode(&framed) { prop_assert_eq!(r.encode(), framed) },
            RecordKind::Class => if let Ok(r) = ClassDef::decode(&framed) { prop_assert_eq!(r.encode(), framed) },
            RecordKind::Object => if let Ok(r) = ObjectRecord::decode(&framed) { prop_assert_eq!(r.encode(), framed) },
            RecordKind::Task => if let Ok(r) = TaskRecord::decode(&framed) { prop_assert_eq!(r.encode(), framed) },
        }
    }

    #[test]
    fn damaged_class_bodies_never_panic(c in any_class(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let framed = c.encode();
        let mut body = framed[FRAME_HEADER_LEN..].to_vec();
        let i = at.index(body.len());
        body[i] = byte;
        let framed = frame_raw(FRAME_VERSION, RecordKind::Class as u8, &body);
        if let Ok(back) = ClassDef::decode(&framed) {
            prop_assert_eq!(back.encode(), framed);
        }
    }
}

fn class_with_type(ty: FieldType) -> ClassDef {
    let mut c = samples::class_def();
    c.fields[0].ty = ty;
    c
}

#[test]
fn type_depth_limit() {
    let mut at_limit = FieldType::U64;
    for _ in 0..MAX_DEPTH {
        at_limit = FieldType::Optional(Box::new(FieldType::List(Box::new(at_limit))));
    }
    let c = class_with_type(at_limit.clone());
    assert_eq!(
        ClassDef::decode(&c.encode_checked().expect("at the limit")),
        Ok(c)
    );
    let too_deep = class_with_type(FieldType::List(Box::new(at_limit)));
    assert!(matches!(
        too_deep.encode_checked(),
        Err(Error::Malformed(_))
    ));
    assert!(ClassDef::decode(&too_deep.encode()).is_err());
    // A long chain of `optional` tags is refused by the nesting limit.
    let mut chain = FieldType::Bool;
    for _ in 0..1000 {
        chain = FieldType::Optional(Box::new(chain));
    }
    assert!(ClassDef::decode(&class_with_type(chain).encode()).is_err());
}

#[test]
fn bad_tags_are_malformed() {
    let bad = |kind: RecordKind, body: &[u8]| {
        let framed = frame_raw(FRAME_VERSION, kind as u8, body);
        match kind {
            RecordKind::Meta => MetaValue::decode(&framed).map(drop),
            RecordKind::Task => TaskRecord::decode(&framed).map(drop),
            _ => ClassDef::decode(&framed).map(drop),
        }
    };
    assert!(matches!(
        bad(RecordKind::Meta, &[3, 0, 0, 0, 0]),
        Err(Error::Malformed(_))
    ));
    let mut task = samples::task().encode()[FRAME_HEADER_LEN..].to_vec();
    task[0] = 5;
    assert!(matches!(
        bad(RecordKind::Task, &task),
        Err(Error::Malformed(_))
    ));
    // The sample class's first field type tag (byte 45: after id, name "user",
    // revision, the two counters, the field count, the field's id and name "email").
    let mut class = samples::class_def().encode()[FRAME_HEADER_LEN..].to_vec();
    assert_eq!(class[45], 0x04, "the string type tag");
    class[45] = 0x0E;
    assert!(matches!(
        bad(RecordKind::Class, &class),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn counts_larger_than_the_body_are_refused_before_allocating() {
    // A class whose field count claims 2^32 - 1 fields.
    let mut body = Vec::new();
    crate::coding::put_u32(&mut body, 1);
    crate::coding::put_str(&mut body, "c");
    crate::coding::put_u64(&mut body, 1);
    crate::coding::put_u32(&mut body, 1);
    crate::coding::put_u32(&mut body, 1);
    crate::coding::put_u32(&mut body, u32::MAX);
    let framed = frame_raw(FRAME_VERSION, RecordKind::Class as u8, &body);
    assert!(matches!(
        ClassDef::decode(&framed),
        Err(Error::Truncated { .. })
    ));
}
