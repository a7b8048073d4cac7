//! Round trip, truncation, wrong-family and ordering tests of every key type.

use proptest::prelude::*;

use super::*;
use crate::ids::{ClassId, FieldId, NamespaceId, ObjectId};
use crate::value::Value;

fn any_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.é-]{0,20}"
}

fn any_key() -> impl Strategy<Value = AnyKey> {
    let ns = any::<u32>().prop_map(NamespaceId);
    let class = any::<u32>().prop_map(ClassId);
    let field = any::<u32>().prop_map(FieldId);
    let id = any::<u64>().prop_map(ObjectId);
    prop_oneof![
        proptest::sample::select(MetaKey::ALL.to_vec()).prop_map(AnyKey::Meta),
        (
            prop_oneof![Just(NameKind::Namespace), Just(NameKind::Class)],
            any::<u32>(),
            any_name()
        )
            .prop_map(|(kind, parent, name)| AnyKey::Name(NameKey { kind, parent, name })),
        (ns.clone(), class.clone()).prop_map(|(ns, class)| AnyKey::Class(ClassKey { ns, class })),
        (ns.clone(), id.clone()).prop_map(|(ns, id)| AnyKey::Object(ObjectKey { ns, id })),
        (ns.clone(), class.clone(), id.clone())
            .prop_map(|(ns, class, id)| AnyKey::FullScan(FullScanKey { ns, class, id })),
        (
            ns.clone(),
            class.clone(),
            field.clone(),
            any::<u64>(),
            id.clone()
        )
            .prop_map(|(ns, class, field, hash, id)| AnyKey::Hash(HashKey {
                ns,
                class,
                field,
                hash,
                id
            })),
        (
            ns.clone(),
            class.clone(),
            field.clone(),
            crate::value::tests::any_value(),
            id
        )
            .prop_map(|(ns, class, field, value, id)| AnyKey::Ordered(OrderedKey {
                ns,
                class,
                field,
                value,
                id
            })),
        (ns, class, field).prop_map(|(ns, class, field)| AnyKey::Task(TaskKey {
            ns,
            class,
            field
        })),
        (0..=GenerationKey::MAX_CF).prop_map(|cf| AnyKey::Generation(GenerationKey { cf })),
    ]
}

/// Decodes `bytes` as the given family only.
fn decode_as(family: Family, bytes: &[u8]) -> crate::Result<AnyKey> {
    Ok(match family {
        Family::Meta => AnyKey::Meta(MetaKey::decode(bytes)?),
        Family::Name => AnyKey::Name(NameKey::decode(bytes)?),
        Family::Class => AnyKey::Class(ClassKey::decode(bytes)?),
        Family::Object => AnyKey::Object(ObjectKey::decode(bytes)?),
        Family::FullScan => AnyKey::FullScan(FullScanKey::decode(bytes)?),
        Family::Hash => AnyKey::Hash(HashKey::decode(bytes)?),
        Family::Ordered => AnyKey::Ordered(OrderedKey::decode(bytes)?),
        Family::Task => AnyKey::Task(TaskKey::decode(bytes)?),
        Family::Generation => AnyKey::Generation(GenerationKey::decode(bytes)?),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn every_key_round_trips(key in any_key()) {
        let bytes = key.encode();
        prop_assert_eq!(Family::of(&bytes), Some(key.family()));
        prop_assert_eq!(&AnyKey::decode(&bytes).expect("decodes"), &key);
        prop_assert_eq!(decode_as(key.family(), &bytes).expect("decodes"), key);
    }

    #[test]
    fn every_truncation_is_an_error(key in any_key()) {
        let bytes = key.encode();
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            // A meta key cut inside its name is a different, unknown name;
            // a name key cut inside its name is a different, valid name.
            if matches!(key, AnyKey::Name(_)) && len > 6 {
                continue;
            }
            prop_assert!(decode_as(key.family(), cut).is_err(), "len {} of {:?}", len, key);
        }
    }

    #[test]
    fn other_families_are_refused(key in any_key()) {
        let bytes = key.encode();
        for family in Family::ALL {
            if family != key.family() {
                prop_assert_eq!(
                    decode_as(family, &bytes),
                    Err(crate::Error::WrongFamily { expected: family })
                );
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_valid_keys_round_trip(
        bytes in proptest::collection::vec(any::<u8>(), 0..40)
    ) {
        if let Ok(key) = AnyKey::decode(&bytes) {
            prop_assert_eq!(key.encode(), bytes);
        }
    }

    #[test]
    fn object_and_full_scan_keys_sort_by_id(a in any::<u64>(), b in any::<u64>()) {
        let ka = ObjectKey { ns: NamespaceId(3), id: ObjectId(a) }.encode();
        let kb = ObjectKey { ns: NamespaceId(3), id: ObjectId(b) }.encode();
        prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        let fa = FullScanKey { ns: NamespaceId(3), class: ClassId(9), id: ObjectId(a) }.encode();
        let fb = FullScanKey { ns: NamespaceId(3), class: ClassId(9), id: ObjectId(b) }.encode();
        prop_assert_eq!(a.cmp(&b), fa.cmp(&fb));
    }

    #[test]
    fn ordered_keys_sort_by_value_then_id(
        va in crate::value::tests::any_value(), vb in crate::value::tests::any_value(),
        a in any::<u64>(), b in any::<u64>(),
    ) {
        let key = |value: Value, id: u64| OrderedKey {
            ns: NamespaceId(1), class: ClassId(2), field: FieldId(3), value, id: ObjectId(id),
        }.encode();
        prop_assert_eq!(va.cmp(&vb).then(a.cmp(&b)), key(va, a).cmp(&key(vb, b)));
    }

    #[test]
    fn prefix_successor_bounds_the_prefix(
        prefix in proptest::collection::vec(any::<u8>(), 0..6),
        tail in proptest::collection::vec(any::<u8>(), 0..6),
        other in proptest::collection::vec(any::<u8>(), 0..12),
    ) {
        let mut inside = prefix.clone();
        inside.extend_from_slice(&tail);
        match prefix_successor(&prefix) {
            Some(succ) => {
                prop_assert!(inside < succ);
                // Everything >= prefix and < succ starts with prefix.
                if other >= prefix && other < succ {
                    prop_assert!(other.starts_with(&prefix));
                }
            }
            None => prop_assert!(prefix.iter().all(|&b| b == 0xFF)),
        }
    }
}

#[test]
fn prefix_successor_examples() {
    assert_eq!(prefix_successor(b"IF"), Some(b"IG".to_vec()));
    assert_eq!(prefix_successor(&[1, 0xFF, 0xFF]), Some(vec![2]));
    assert_eq!(prefix_successor(&[0xFF]), None);
    assert_eq!(prefix_successor(&[]), None);
}

#[test]
fn family_prefixes_are_distinct_and_in_key_order() {
    for (i, a) in Family::ALL.iter().enumerate() {
        for b in &Family::ALL[i + 1..] {
            assert!(!a.prefix().starts_with(b.prefix()) && !b.prefix().starts_with(a.prefix()));
            assert!(a.prefix() < b.prefix(), "{a} sorts before {b}");
        }
    }
    assert!(Family::of(b"I").is_none());
    assert!(Family::of(b"IX").is_none());
    assert!(AnyKey::decode(b"Zzz").is_err());
}

#[test]
fn namespace_prefix_of_a_namespace_does_not_cover_its_neighbours() {
    let p1 = Family::Object
        .namespace_prefix(NamespaceId(1))
        .expect("object family has ns");
    let in_ns1 = ObjectKey {
        ns: NamespaceId(1),
        id: ObjectId(u64::MAX),
    }
    .encode();
    let in_ns2 = ObjectKey {
        ns: NamespaceId(2),
        id: ObjectId(0),
    }
    .encode();
    let in_ns256 = ObjectKey {
        ns: NamespaceId(256),
        id: ObjectId(0),
    }
    .encode();
    assert!(in_ns1.starts_with(&p1));
    assert!(!in_ns2.starts_with(&p1) && !in_ns256.starts_with(&p1));
    assert!(Family::Meta.namespace_prefix(NamespaceId(1)).is_none());
}

#[test]
fn bad_names_are_refused() {
    let mut key = NameKey::scope_prefix(NameKind::Class, 1);
    assert!(NameKey::decode(&key).is_err(), "empty name");
    key.extend_from_slice(&[0xFF, 0xFE]);
    assert!(matches!(
        NameKey::decode(&key),
        Err(crate::Error::Malformed(_))
    ));
    assert!(check_name(&"x".repeat(MAX_NAME_LEN)).is_ok());
    assert!(check_name(&"x".repeat(MAX_NAME_LEN + 1)).is_err());
    assert!(check_name("a\nb").is_err());
    let mut bad_kind = b"N".to_vec();
    bad_kind.extend_from_slice(&[9, 0, 0, 0, 0, b'x']);
    assert!(matches!(
        NameKey::decode(&bad_kind),
        Err(crate::Error::Malformed(_))
    ));
}

#[test]
fn ordered_key_with_junk_between_value_and_id_is_refused() {
    let mut key = OrderedKey::value_prefix(NamespaceId(0), ClassId(1), FieldId(1), &Value::U64(5));
    key.push(0x01); // an extra byte
    key.extend_from_slice(&7u64.to_be_bytes());
    assert!(OrderedKey::decode(&key).is_err());
}
