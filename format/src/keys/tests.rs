//! Round trip, truncation, wrong-family and ordering tests of every key type.

use proptest::prelude::*;

use super::*;
use crate::ids::{ClassId, IndexId, NamespaceId, ObjectId};
use crate::value::Value;

fn any_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.é-]{0,20}"
}

fn any_key() -> impl Strategy<Value = AnyKey> {
    let ns = any::<u32>().prop_map(NamespaceId);
    let class = any::<u32>().prop_map(ClassId);
    let index = any::<u32>().prop_map(IndexId);
    let id = proptest::option::of(any::<u64>().prop_map(ObjectId));
    let tuple = proptest::collection::vec(crate::value::tests::any_value(), 1..4);
    prop_oneof![
        proptest::sample::select(MetaKey::ALL.to_vec()).prop_map(AnyKey::Meta),
        (
            prop_oneof![Just(NameKind::Namespace), Just(NameKind::Class)],
            any::<u32>(),
            any_name()
        )
            .prop_map(|(kind, parent, name)| AnyKey::Name(NameKey { kind, parent, name })),
        (ns.clone(), class.clone()).prop_map(|(ns, class)| AnyKey::Class(ClassKey { ns, class })),
        (ns.clone(), class.clone(), any::<u64>()).prop_map(|(ns, class, id)| AnyKey::Object(
            ObjectKey {
                ns,
                class,
                id: ObjectId(id)
            }
        )),
        (ns.clone(), any::<u64>()).prop_map(|(ns, id)| AnyKey::Locator(LocatorKey {
            ns,
            id: ObjectId(id)
        })),
        (
            ns.clone(),
            class.clone(),
            index.clone(),
            any::<u64>(),
            id.clone()
        )
            .prop_map(|(ns, class, index, hash, id)| AnyKey::Hash(HashKey {
                ns,
                class,
                index,
                hash,
                id
            })),
        (ns.clone(), class.clone(), index.clone(), tuple, id).prop_map(
            |(ns, class, index, values, id)| AnyKey::Ordered(
                RawOrderedKey::decode(
                    &OrderedKey {
                        ns,
                        class,
                        index,
                        values,
                        id
                    }
                    .encode()
                )
                .expect("an encoded key splits")
            )
        ),
        (ns, class, index).prop_map(|(ns, class, index)| AnyKey::Task(TaskKey {
            ns,
            class,
            index
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
        Family::Locator => AnyKey::Locator(LocatorKey::decode(bytes)?),
        Family::Hash => AnyKey::Hash(HashKey::decode(bytes)?),
        Family::Ordered => AnyKey::Ordered(RawOrderedKey::decode(bytes)?),
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
            // An IR key splits anywhere after its head (the tuple is decoded
            // by shape: ordered_keys_decode_with_their_shape); an IH entry
            // cut before its id is a point key.
            if matches!(key, AnyKey::Ordered(_)) && len >= 14 {
                continue;
            }
            if matches!(key, AnyKey::Hash(_)) && len == HASH_POINT_KEY_LEN {
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
    fn object_keys_sort_by_class_then_id_and_locators_by_id(
        a in any::<u64>(), b in any::<u64>(), ca in any::<u32>(), cb in any::<u32>(),
    ) {
        let key = |class, id| ObjectKey { ns: NamespaceId(3), class: ClassId(class), id: ObjectId(id) };
        prop_assert_eq!(ca.cmp(&cb).then(a.cmp(&b)), key(ca, a).encode().cmp(&key(cb, b).encode()));
        // A class's records are exactly its prefix's range.
        let prefix = ObjectKey::class_prefix(NamespaceId(3), ClassId(ca));
        prop_assert!(key(ca, a).encode().starts_with(&prefix));
        prop_assert_eq!(key(cb, b).encode().starts_with(&prefix), ca == cb);
        prop_assert_eq!(ObjectKey::id_of(&key(ca, a).encode()), Ok(ObjectId(a)));
        let fa = LocatorKey { ns: NamespaceId(3), id: ObjectId(a) }.encode();
        let fb = LocatorKey { ns: NamespaceId(3), id: ObjectId(b) }.encode();
        prop_assert_eq!(a.cmp(&b), fa.cmp(&fb));
    }

    #[test]
    fn locator_values_round_trip(class in any::<u32>(), junk in proptest::collection::vec(any::<u8>(), 0..8)) {
        prop_assert_eq!(decode_locator(&encode_locator(ClassId(class))), Ok(ClassId(class)));
        if junk.len() != 4 {
            prop_assert!(decode_locator(&junk).is_err());
        }
    }

    #[test]
    fn ordered_keys_sort_by_tuple_then_id(
        va in proptest::collection::vec(crate::value::tests::any_value(), 2),
        vb in proptest::collection::vec(crate::value::tests::any_value(), 2),
        a in any::<u64>(), b in any::<u64>(),
    ) {
        let key = |values: Vec<Value>, id: u64| OrderedKey {
            ns: NamespaceId(1), class: ClassId(2), index: IndexId(3), values,
            id: Some(ObjectId(id)),
        }.encode();
        prop_assert_eq!(va.cmp(&vb).then(a.cmp(&b)), key(va, a).cmp(&key(vb, b)));
    }

    #[test]
    fn ordered_keys_decode_with_their_shape(
        values in proptest::collection::vec(crate::value::tests::any_value(), 1..4),
        id in proptest::option::of(any::<u64>().prop_map(ObjectId)),
    ) {
        let key = OrderedKey { ns: NamespaceId(1), class: ClassId(2), index: IndexId(3),
                               values: values.clone(), id };
        let bytes = key.encode();
        let shape = IndexShape { parts: values.len(), unique: id.is_none() };
        prop_assert_eq!(OrderedKey::decode_as(&bytes, shape).expect("decodes"), key.clone());
        let other_parts = IndexShape { parts: values.len() + 1, ..shape };
        prop_assert!(OrderedKey::decode_as(&bytes, other_parts).is_err());
        for len in 0..bytes.len() {
            prop_assert!(OrderedKey::decode_as(&bytes[..len], shape).is_err(), "len {}", len);
        }
        // Borrowed: the same head, id and value (one part alone, more as a list).
        let split = OrderedKeyRef::split(&bytes, shape).expect("splits");
        prop_assert_eq!((split.ns, split.class, split.index, split.id),
                        (key.ns, key.class, key.index, key.id));
        let want = if values.len() == 1 { values[0].clone() } else { Value::List(values.clone()) };
        prop_assert_eq!(split.value(shape).expect("value"), want);
        prop_assert!(OrderedKeyRef::split(&bytes, other_parts)
            .and_then(|k| k.value(other_parts)).is_err());
        for len in 0..bytes.len() {
            prop_assert!(OrderedKeyRef::split(&bytes[..len], shape)
                .and_then(|k| k.value(shape)).is_err(), "len {}", len);
        }
    }

    #[test]
    fn holders_round_trip(ids in proptest::collection::btree_set(any::<u64>(), 1..5)) {
        let ids: Vec<ObjectId> = ids.into_iter().map(ObjectId).collect();
        let mut out = Vec::new();
        encode_holders(&ids, &mut out);
        prop_assert_eq!(decode_holders(&out).expect("decodes"), ids);
        for len in (0..out.len()).filter(|l| !l.is_multiple_of(8)) {
            prop_assert!(decode_holders(&out[..len]).is_err());
        }
        prop_assert!(decode_holders(&[]).is_err());
    }

    #[test]
    fn hash_holders_round_trip(
        held in proptest::collection::btree_map(
            any::<u64>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
            1..5,
        ),
        long in any::<bool>(),
    ) {
        let long_tuple = vec![7u8; MAX_HELD_TUPLE + 1];
        let holders: Vec<Holder<'_>> = held
            .iter()
            .enumerate()
            .map(|(i, (id, t))| Holder {
                id: ObjectId(*id),
                tuple: if long && i == 0 { Some(&long_tuple[..]) } else { t.as_deref() },
            })
            .collect();
        let mut out = Vec::new();
        encode_hash_holders(holders.iter().copied(), &mut out);
        // What the decoder gives back: every tuple kept but the long one.
        let want: Vec<Holder<'_>> = holders
            .iter()
            .map(|h| Holder { id: h.id, tuple: h.tuple.filter(|t| t.len() <= MAX_HELD_TUPLE) })
            .collect();
        prop_assert_eq!(decode_hash_holders(&out).expect("decodes"), want.clone());
        prop_assert_eq!(
            decode_holders(&out).expect("ids decode"),
            want.iter().map(|h| h.id).collect::<Vec<_>>()
        );
        if want.iter().all(|h| h.tuple.is_none()) {
            // No tuple kept: the bare form, byte for byte.
            let mut bare = Vec::new();
            encode_holders(&want.iter().map(|h| h.id).collect::<Vec<_>>(), &mut bare);
            prop_assert_eq!(&out, &bare);
        } else {
            for len in 0..out.len() {
                // A truncated tagged value is refused (its count says how
                // many holders follow), unless cut to the tag alone: a bare
                // holder u64::MAX.
                match decode_hash_holders(&out[..len]) {
                    Err(_) => {}
                    Ok(h) => prop_assert!(h.iter().all(|h| h.tuple.is_none()) && len <= 8),
                }
            }
        }
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
    assert_eq!(prefix_successor(b"IH"), Some(b"II".to_vec()));
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
        class: ClassId(u32::MAX),
        id: ObjectId(u64::MAX),
    }
    .encode();
    let in_ns2 = ObjectKey {
        ns: NamespaceId(2),
        class: ClassId(0),
        id: ObjectId(0),
    }
    .encode();
    let in_ns256 = ObjectKey {
        ns: NamespaceId(256),
        class: ClassId(0),
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
    let mut key =
        OrderedKey::tuple_prefix(NamespaceId(0), ClassId(1), IndexId(1), &[Value::U64(5)]);
    key.push(0x01); // an extra byte
    key.extend_from_slice(&7u64.to_be_bytes());
    let shape = IndexShape {
        parts: 1,
        unique: false,
    };
    assert!(OrderedKey::decode_as(&key, shape).is_err());
    let split = OrderedKeyRef::split(&key, shape).expect("the head and id split");
    assert!(split.value(shape).is_err());
}

#[test]
fn unsorted_or_repeated_holders_are_refused() {
    let mut out = Vec::new();
    encode_holders(&[ObjectId(2), ObjectId(1)], &mut out);
    assert!(decode_holders(&out).is_err());
    out.clear();
    encode_holders(&[ObjectId(2), ObjectId(2)], &mut out);
    assert!(decode_holders(&out).is_err());
    assert!(decode_holders(&[]).is_err());
}

#[test]
fn malformed_hash_holders_are_refused() {
    let tag = [0xFFu8; 8];
    let entry = |id: u64, len: u32, tuple: &[u8]| {
        let mut e = id.to_be_bytes().to_vec();
        e.extend_from_slice(&len.to_be_bytes());
        e.extend_from_slice(tuple);
        e
    };
    let value = |entries: &[Vec<u8>]| {
        let mut v = tag.to_vec();
        v.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        entries.iter().for_each(|e| v.extend_from_slice(e));
        v
    };
    let ok = value(&[entry(1, 2, b"ab"), entry(3, u32::MAX, b"")]);
    assert_eq!(
        decode_hash_holders(&ok).expect("well formed"),
        vec![
            Holder {
                id: ObjectId(1),
                tuple: Some(&b"ab"[..])
            },
            Holder {
                id: ObjectId(3),
                tuple: None
            },
        ]
    );
    // Holders out of order, repeated; a length past the end; a tuple over
    // the limit (which the encoder leaves out rather than write).
    assert!(decode_hash_holders(&value(&[entry(3, 0, b""), entry(1, 0, b"")])).is_err());
    assert!(decode_hash_holders(&value(&[entry(1, 0, b""), entry(1, 0, b"")])).is_err());
    assert!(decode_hash_holders(&value(&[entry(1, 5, b"ab")])).is_err());
    // A count that disagrees with the holders, or none at all.
    let mut extra = ok.clone();
    extra.extend_from_slice(&entry(4, 0, b""));
    assert!(decode_hash_holders(&extra).is_err());
    assert!(decode_hash_holders(&value(&[])).is_err());
    let long = vec![0u8; MAX_HELD_TUPLE + 1];
    let over = MAX_HELD_TUPLE as u32 + 1;
    assert!(decode_hash_holders(&value(&[entry(1, over, &long)])).is_err());
    // A bare value of the one id u64::MAX is not mistaken for the tag.
    assert_eq!(
        decode_holders(&tag).expect("bare"),
        vec![ObjectId(u64::MAX)]
    );
}

#[test]
fn hash_point_keys_and_entries() {
    let point = HashKey {
        ns: NamespaceId(1),
        class: ClassId(2),
        index: IndexId(3),
        hash: 9,
        id: None,
    };
    assert_eq!(point.encode().len(), HASH_POINT_KEY_LEN);
    assert_eq!(
        point.encode(),
        HashKey::hash_prefix(NamespaceId(1), ClassId(2), IndexId(3), 9)
    );
    let entry = HashKey {
        id: Some(ObjectId(4)),
        ..point
    };
    assert!(entry.encode().starts_with(&point.encode()));
    let mut bad = entry.encode();
    bad.pop();
    assert!(HashKey::decode(&bad).is_err());
}
