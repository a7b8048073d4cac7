//! # rockhold-fuzz
//!
//! The checks behind the cargo-fuzz targets of rockhold. Every
//! target in `fuzz_targets/` is a one-line call of a `check_*` function of
//! this crate, so the same checks also run without libFuzzer:
//! `tests/replay.rs` feeds them every file of `corpus/<target>/` and
//! `regressions/<target>/` under a plain `cargo test`.
//!
//! A check panics (which libFuzzer reports as a crash) when a decoder panics
//! or when a documented property of the format crate does not hold:
//!
//! - every key that decodes re-encodes to exactly its input bytes;
//! - ordered value encodings compare like the values, are prefix-free and
//!   canonical (a decoded value re-encodes to the bytes it came from);
//! - every record that decodes re-encodes to a frame that decodes to an equal
//!   record; a body behind a valid frame of the right kind either decodes or
//!   is `Error::Malformed` or `Error::Truncated`, never anything else;
//! - object records read in place (`RecordView`, `ValueRef`) agree with
//!   the owned decoding, and stored values keep their exact bits.
//!
//! One target, [`engine_model`], runs the engine itself (in memory, without
//! RocksDB) against a model, with storage failures injected: see its module.

#![forbid(unsafe_code)]

pub mod engine_model;

pub use engine_model::check_engine_model;

use std::fmt::Debug;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rockhold_format::{
    decode_hash_holders, decode_holders, decode_tuple, encode_hash_holders, encode_holders,
    encode_tuple_into, frame_raw, next_counter, prefix_successor, unframe, unframe_any, AnyKey,
    ClassDef, ClassId, ClassKey, Error, Family, FieldId, FieldType, GenerationKey, HashKey,
    HashSeed, IndexId, IndexShape, Key, LocatorKey, MetaKey, MetaValue, NameEntry, NameKey,
    NamespaceId, ObjectId, ObjectKey, ObjectRecord, OrderedKey, RawOrderedKey, Record, RecordKind,
    RecordView, TaskKey, TaskRecord, Value, ValueRef, FRAME_HEADER_LEN, FRAME_VERSION,
    HASH_POINT_KEY_LEN, MAX_DEPTH,
};

/// A fuzz target: its name (the `[[bin]]` name and the folder name under
/// `corpus/` and `regressions/`) and its check.
#[derive(Clone, Copy)]
pub struct Target {
    /// The target's name.
    pub name: &'static str,
    /// The check the target runs on every input.
    pub check: fn(&[u8]),
}

/// Every fuzz target of this crate.
pub const TARGETS: &[Target] = &[
    Target {
        name: "key_decode",
        check: check_key_decode,
    },
    Target {
        name: "value_order",
        check: check_value_order,
    },
    Target {
        name: "record_frame",
        check: check_record_frame,
    },
    Target {
        name: "record_body",
        check: check_record_body,
    },
    Target {
        name: "task_record",
        check: check_task_record,
    },
    Target {
        name: "class_def",
        check: check_class_def,
    },
    Target {
        name: "record_view",
        check: check_record_view,
    },
    Target {
        name: "stored_value",
        check: check_stored_value,
    },
    Target {
        name: "index_key",
        check: check_index_key,
    },
    Target {
        name: "engine_model",
        check: check_engine_model,
    },
];

/// Every record kind, in kind-byte order.
const KINDS: [RecordKind; 5] = [
    RecordKind::Meta,
    RecordKind::Name,
    RecordKind::Class,
    RecordKind::Object,
    RecordKind::Task,
];

// ---------------------------------------------------------------------------
// key_decode

/// Target `key_decode`: any bytes as a key.
///
/// `AnyKey::decode` must not panic; a key that decodes must re-encode to the
/// input, agree with the typed decoder of its family (every other typed
/// decoder answers `WrongFamily`), and start with the scan prefixes the
/// engine builds for it. Also checks `prefix_successor` on the input.
pub fn check_key_decode(data: &[u8]) {
    let any = AnyKey::decode(data);
    let mut typed_ok = Vec::new();
    for family in Family::ALL {
        let Some(result) = decode_as(family, data) else {
            continue; // a family added after this crate was written
        };
        match result {
            Ok(key) => typed_ok.push(key),
            Err(e) if !data.starts_with(family.prefix()) => {
                assert_eq!(
                    e,
                    Error::WrongFamily { expected: family },
                    "{family} decoder"
                )
            }
            Err(e) => {
                black_box(e.to_string());
            }
        }
    }
    match any {
        Ok(key) => {
            assert_eq!(
                key.encode(),
                data,
                "{key:?} does not re-encode to its input"
            );
            assert_eq!(Family::of(data), Some(key.family()));
            assert_eq!(
                typed_ok,
                std::slice::from_ref(&key),
                "typed decoders disagree with AnyKey::decode"
            );
            check_key_prefixes(&key, data);
        }
        Err(e) => {
            black_box(e.to_string());
            assert!(
                typed_ok.is_empty(),
                "a typed decoder accepts what AnyKey::decode refuses ({e}): {typed_ok:?}"
            );
        }
    }
    check_prefix_successor(data);
}

/// Decodes `bytes` with the typed decoder of `family` only.
fn decode_as(family: Family, bytes: &[u8]) -> Option<rockhold_format::Result<AnyKey>> {
    Some(match family {
        Family::Meta => MetaKey::decode(bytes).map(AnyKey::Meta),
        Family::Name => NameKey::decode(bytes).map(AnyKey::Name),
        Family::Class => ClassKey::decode(bytes).map(AnyKey::Class),
        Family::Object => ObjectKey::decode(bytes).map(AnyKey::Object),
        Family::Locator => LocatorKey::decode(bytes).map(AnyKey::Locator),
        Family::Hash => HashKey::decode(bytes).map(AnyKey::Hash),
        Family::Ordered => RawOrderedKey::decode(bytes).map(AnyKey::Ordered),
        Family::Task => TaskKey::decode(bytes).map(AnyKey::Task),
        Family::Generation => GenerationKey::decode(bytes).map(AnyKey::Generation),
        _ => return None,
    })
}

/// A decoded key lies under every prefix the engine scans it by.
fn check_key_prefixes(key: &AnyKey, bytes: &[u8]) {
    let under = |prefix: Vec<u8>, what: &str| {
        assert!(
            bytes.starts_with(&prefix),
            "{key:?} is not under its {what} prefix {prefix:02x?}"
        );
        if let Some(end) = prefix_successor(&prefix) {
            assert!(
                *bytes < *end,
                "{key:?} is not below the end of its {what} range"
            );
        }
    };
    let ns = match key {
        AnyKey::Meta(_) => None,
        AnyKey::Name(k) => {
            under(NameKey::scope_prefix(k.kind, k.parent), "scope");
            None
        }
        AnyKey::Class(k) => Some(k.ns),
        AnyKey::Object(k) => {
            under(ObjectKey::class_prefix(k.ns, k.class), "class");
            Some(k.ns)
        }
        AnyKey::Locator(k) => Some(k.ns),
        AnyKey::Hash(k) => {
            under(HashKey::index_prefix(k.ns, k.class, k.index), "index");
            under(HashKey::hash_prefix(k.ns, k.class, k.index, k.hash), "hash");
            assert_eq!(
                bytes.len() == HASH_POINT_KEY_LEN,
                k.id.is_none(),
                "{k:?}: point key by its length"
            );
            Some(k.ns)
        }
        AnyKey::Ordered(k) => {
            under(OrderedKey::index_prefix(k.ns, k.class, k.index), "index");
            // Every shape the tuple decodes with gives back the same key.
            for parts in 1..=3 {
                for unique in [false, true] {
                    check_ordered_shape(k, bytes, IndexShape { parts, unique });
                }
            }
            Some(k.ns)
        }
        AnyKey::Task(k) => Some(k.ns),
        _ => None,
    };
    let family = key.family();
    under(family.prefix().to_vec(), "family");
    match (
        ns,
        family.namespace_prefix(ns.unwrap_or(NamespaceId::DEFAULT)),
    ) {
        (Some(_), Some(prefix)) => under(prefix, "namespace"),
        (None, None) => {}
        (ns, prefix) => panic!("{family}: namespace {ns:?} but namespace prefix {prefix:?}"),
    }
}

/// `prefix_successor(p)` is above every string that starts with `p`, and
/// nothing between `p` and it fails to start with `p`.
fn check_prefix_successor(prefix: &[u8]) {
    match prefix_successor(prefix) {
        None => assert!(
            prefix.iter().all(|&b| b == 0xFF),
            "no successor for {prefix:02x?}"
        ),
        Some(end) => {
            assert!(end.len() <= prefix.len() && *prefix < *end);
            let mut longest = prefix.to_vec();
            longest.extend_from_slice(&[0xFF; 4]);
            assert!(longest < end);
            // `end` minus its last byte's increment is a prefix of `prefix`:
            // the only strings in [prefix, end) are those starting with prefix.
            let (last, head) = end.split_last().expect("a successor is never empty");
            assert!(prefix.starts_with(head) && prefix[head.len()] == last - 1);
            assert!(prefix[head.len() + 1..].iter().all(|&b| b == 0xFF));
        }
    }
}

// ---------------------------------------------------------------------------
// value_order

/// Target `value_order`: two ordered value encodings.
///
/// The first byte is a split point; the rest is cut there into `a` and `b`.
/// A value decoded from the front of either must re-encode to the bytes it
/// used; when both decode, their encodings must compare (and be equal) like
/// the values, also followed by object ids and inside ordered index keys.
/// `decode_tuple` of `a`, `b` and the whole rest must not panic and must
/// round-trip through `encode_tuple_into`; tuples compare like their encodings.
pub fn check_value_order(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (a_bytes, b_bytes) = rest.split_at(usize::from(split).min(rest.len()));
    let a = decode_value(a_bytes);
    let b = decode_value(b_bytes);
    if let (Some(a), Some(b)) = (&a, &b) {
        compare_values(a, b);
        compare_values(b, a);
    }
    let ta = decode_tuple_checked(a_bytes);
    let tb = decode_tuple_checked(b_bytes);
    if let (Some(ta), Some(tb)) = (&ta, &tb) {
        assert_eq!(
            ta.cmp(tb),
            a_bytes.cmp(b_bytes),
            "tuples {ta:?} and {tb:?} order unlike their encodings"
        );
    }
    decode_tuple_checked(rest);
}

/// Decodes one value from the front of `bytes` and checks it is canonical.
fn decode_value(bytes: &[u8]) -> Option<Value> {
    let (value, used) = match Value::decode_ordered(bytes) {
        Ok(ok) => ok,
        Err(e) => {
            black_box(e.to_string());
            return None;
        }
    };
    assert!(
        used >= 1 && used <= bytes.len(),
        "used {used} of {} bytes",
        bytes.len()
    );
    let encoded = value.encode_ordered();
    assert_eq!(
        encoded,
        bytes[..used],
        "{value:?} does not re-encode to the bytes it was decoded from"
    );
    // Prefix-free: the value's own bytes decode alone to the same value.
    let (again, used_again) = Value::decode_ordered(&encoded).expect("re-encoding decodes");
    assert_eq!((&again, used_again), (&value, used));
    black_box((value.to_string(), value.type_name()));
    if let Some(prefix) = value.ordered_prefix() {
        assert!(
            encoded.starts_with(&prefix) && prefix.len() + 2 == encoded.len(),
            "ordered_prefix of {value:?} is not its encoding without the terminator"
        );
    }
    Some(value)
}

/// `a` and `b` compare like their encodings, in every context the engine
/// puts encodings in.
fn compare_values(a: &Value, b: &Value) {
    let (ea, eb) = (a.encode_ordered(), b.encode_ordered());
    assert_eq!(a.ordered_len(), ea.len(), "ordered_len of {a:?}");
    assert_eq!(b.ordered_len(), eb.len(), "ordered_len of {b:?}");
    let order = a.cmp(b);
    assert_eq!(
        order,
        ea.cmp(&eb),
        "{a:?} vs {b:?}: value and encoding order differ"
    );
    assert_eq!(a.partial_cmp(b), Some(order));
    assert_eq!(a == b, ea == eb, "{a:?} vs {b:?}: equality differs");

    // A value followed by an object id (what an IR key ends with).
    for (ia, ib) in [(0u64, u64::MAX), (u64::MAX, 0), (7, 7)] {
        let mut ka = ea.clone();
        ka.extend_from_slice(&ia.to_be_bytes());
        let mut kb = eb.clone();
        kb.extend_from_slice(&ib.to_be_bytes());
        assert_eq!(
            ka.cmp(&kb),
            order.then(ia.cmp(&ib)),
            "{a:?}+{ia} vs {b:?}+{ib}"
        );
    }

    // Whole ordered index keys: round trip, and order by tuple then id.
    let key = |values: Vec<Value>, id: Option<u64>| OrderedKey {
        ns: NamespaceId(1),
        class: ClassId(2),
        index: IndexId(3),
        values,
        id: id.map(ObjectId),
    };
    let entry = IndexShape {
        parts: 1,
        unique: false,
    };
    let (ka, kb) = (key(vec![a.clone()], Some(9)), key(vec![b.clone()], Some(4)));
    let (kea, keb) = (ka.encode(), kb.encode());
    assert_eq!(OrderedKey::decode_as(&kea, entry).as_ref(), Ok(&ka));
    assert_eq!(
        kea.cmp(&keb),
        order.then(9.cmp(&4)),
        "IR keys of {a:?}, {b:?}"
    );
    // Unique point keys (no id) order by the tuple alone.
    let (pa, pb) = (key(vec![a.clone()], None), key(vec![b.clone()], None));
    let point = IndexShape {
        parts: 1,
        unique: true,
    };
    assert_eq!(OrderedKey::decode_as(&pa.encode(), point).as_ref(), Ok(&pa));
    assert_eq!(pa.encode().cmp(&pb.encode()), order);
    // Compound keys: (a, b) against (b, a), element by element.
    let (ca, cb) = (
        key(vec![a.clone(), b.clone()], Some(1)),
        key(vec![b.clone(), a.clone()], Some(2)),
    );
    let pair = IndexShape {
        parts: 2,
        unique: false,
    };
    assert_eq!(OrderedKey::decode_as(&ca.encode(), pair).as_ref(), Ok(&ca));
    assert_eq!(
        ca.encode().cmp(&cb.encode()),
        (a, b).cmp(&(b, a)).then(1.cmp(&2)),
        "compound IR keys of {a:?}, {b:?}"
    );
    assert!(ca.encode().starts_with(&OrderedKey::tuple_prefix(
        NamespaceId(1),
        ClassId(2),
        IndexId(3),
        std::slice::from_ref(a)
    )));

    // The same values stored in a record: bit-exact round trip, and the
    // borrowed value's ordered encoding is the owned one's.
    check_stored(a);

    // Equal values hash the same (the IH key of a value).
    let seed = HashSeed { k0: 1, k1: 2 };
    assert_eq!(seed.hash_value(a), seed.hash_bytes(&ea));
    if a == b {
        assert_eq!(seed.hash_value(a), seed.hash_value(b), "{a:?} == {b:?}");
    }

    // Prefix scans: the encoding of `b` starts with the prefix encoding of
    // `a` exactly when `b` is a string (bytes) value starting with `a`.
    if let Some(prefix) = a.ordered_prefix() {
        let starts = match (a, b) {
            (Value::String(x), Value::String(y)) => y.starts_with(x.as_str()),
            (Value::Bytes(x), Value::Bytes(y)) => y.starts_with(x),
            _ => false,
        };
        assert_eq!(
            eb.starts_with(&prefix),
            starts,
            "prefix of {a:?} vs encoding of {b:?}"
        );
    }
}

/// Decodes `bytes` as a tuple; on success checks it re-encodes to `bytes`.
fn decode_tuple_checked(bytes: &[u8]) -> Option<Vec<Value>> {
    let values = match decode_tuple(bytes) {
        Ok(values) => values,
        Err(e) => {
            black_box(e.to_string());
            return None;
        }
    };
    let mut encoded = vec![0xAB];
    encode_tuple_into(&values, &mut encoded);
    assert_eq!(
        encoded[1..],
        *bytes,
        "tuple {values:?} does not re-encode to its input"
    );
    assert_eq!(
        decode_tuple(&encoded[1..]).as_ref(),
        Ok(&values),
        "re-encoded tuple"
    );
    // Decoding value by value finds the same values.
    let mut at = 0;
    for v in &values {
        let (one, used) = Value::decode_ordered(&bytes[at..]).expect("tuple element decodes");
        assert_eq!(&one, v);
        at += used;
    }
    assert_eq!(at, bytes.len());
    Some(values)
}

// ---------------------------------------------------------------------------
// Records

/// Checks of a decoded record beyond its round trip: lookups that must not
/// panic and must agree with the record's contents.
trait Inspect {
    fn inspect(&self);
}

impl Inspect for ClassDef {
    fn inspect(&self) {
        for (i, f) in self.fields.iter().enumerate() {
            let first_named = self.fields.iter().position(|g| g.name == f.name);
            let by_name = self
                .field(&f.name)
                .expect("field() finds a field of the class");
            assert_eq!(by_name.name, f.name);
            assert_eq!(Some(by_name), first_named.map(|j| &self.fields[j]));
            assert!(first_named <= Some(i));
            let by_id = self
                .field_by_id(f.id)
                .expect("field_by_id() finds a field of the class");
            assert_eq!(by_id.id, f.id);
            check_type(&f.ty);
        }
        for (i, index) in self.indexes.iter().enumerate() {
            let first_named = self.indexes.iter().position(|j| j.name == index.name);
            assert_eq!(
                self.index(&index.name),
                first_named.map(|j| &self.indexes[j])
            );
            assert!(first_named <= Some(i));
            assert_eq!(
                self.index_by_id(index.id).map(|j| j.id),
                Some(index.id),
                "index_by_id({})",
                index.id
            );
            assert_eq!(index.is_unique(), index.kind.is_unique());
            for part in &index.parts {
                assert!(index.reads(part.field));
            }
        }
        // Lookups of what the class does not have.
        for name in ["", "\u{0}", "no such field", self.name.as_str()] {
            assert_eq!(
                self.field(name).is_some(),
                self.fields.iter().any(|f| f.name == name),
                "field({name:?})"
            );
            assert_eq!(
                self.index(name).is_some(),
                self.indexes.iter().any(|i| i.name == name),
                "index({name:?})"
            );
        }
        for id in [0, 1, self.next_field_id, u32::MAX] {
            assert_eq!(
                self.field_by_id(FieldId(id)).is_some(),
                self.fields.iter().any(|f| f.id == FieldId(id)),
                "field_by_id({id})"
            );
            assert_eq!(
                self.index_by_id(IndexId(id)).is_some(),
                self.indexes.iter().any(|i| i.id == IndexId(id)),
                "index_by_id({id})"
            );
        }
        // Counter steps: total, and a refusal changes nothing.
        match self.next_revision() {
            Ok(r) => assert_eq!(Some(r), self.revision.checked_add(1)),
            Err(e) => {
                assert_eq!(self.revision, u64::MAX, "next_revision: {e}");
                assert!(matches!(e, Error::CounterExhausted { .. }));
            }
        }
        let mut next = self.clone();
        match next.allocate_field_id() {
            Ok(id) => {
                assert_eq!(id, FieldId(self.next_field_id));
                assert_ne!(id, FieldId(0));
                assert_eq!(Some(next.next_field_id), self.next_field_id.checked_add(1));
            }
            Err(e) => {
                assert!(
                    matches!(self.next_field_id, 0 | u32::MAX),
                    "allocate_field_id: {e}"
                );
                assert!(matches!(e, Error::CounterExhausted { .. }));
                assert_eq!(&next, self, "a refused allocate_field_id changes nothing");
            }
        }
        let mut next = self.clone();
        match next.allocate_index_id() {
            Ok(id) => {
                assert_eq!(id, IndexId(self.next_index_id));
                assert_ne!(id, IndexId::WHOLE_CLASS);
                assert_eq!(Some(next.next_index_id), self.next_index_id.checked_add(1));
            }
            Err(e) => {
                assert!(
                    matches!(self.next_index_id, 0 | u32::MAX),
                    "allocate_index_id: {e}"
                );
                assert!(matches!(e, Error::CounterExhausted { .. }));
                assert_eq!(&next, self, "a refused allocate_index_id changes nothing");
            }
        }
    }
}

/// A decoded field type: within the depth limit, named, and consistent
/// about `Absent` at its top.
fn check_type(ty: &FieldType) {
    assert!(
        ty.depth() <= MAX_DEPTH,
        "{ty:?} decoded deeper than MAX_DEPTH"
    );
    black_box((ty.name(), ty.is_scalar()));
    let admits_absent = ty.admits(&Value::Absent);
    assert_eq!(
        admits_absent,
        matches!(ty, FieldType::Any | FieldType::Optional(_)),
        "{ty:?} and Absent"
    );
    if let Err(m) = ty.check(&Value::List(vec![Value::Absent])) {
        black_box((m.path, m.expected, m.found));
    }
}

impl Inspect for ObjectRecord {
    fn inspect(&self) {
        let sorted = self.fields.windows(2).all(|w| w[0].0 < w[1].0);
        for (id, value) in &self.fields {
            let found = self.value(*id);
            if sorted {
                assert_eq!(found, value, "value({id}) of a sorted record");
            }
        }
        let max = self.fields.iter().map(|(id, _)| id.0).max();
        if let Some(past) = max.and_then(|m| m.checked_add(1)) {
            if sorted {
                assert_eq!(self.value(FieldId(past)), &Value::Absent);
            }
        }
        black_box(self.value(FieldId(0)));
        // What encode_checked accepts reads back in place, field by field.
        if let Ok(framed) = self.encode_checked() {
            let view = RecordView::new(&framed).expect("an encode_checked record opens");
            check_view(&view, &framed);
        }
    }
}

impl Inspect for TaskRecord {
    fn inspect(&self) {
        assert!(!self.state.name().is_empty());
        // The step functions the engine advances the persisted counters with
        // are total: the next value, or CounterExhausted with the record unchanged.
        let mut next = self.clone();
        match next.begin_attempt() {
            Ok(n) => assert_eq!(Some(n), self.attempts.checked_add(1)),
            Err(e) => {
                assert_eq!(self.attempts, u32::MAX, "begin_attempt: {e}");
                assert!(matches!(e, Error::CounterExhausted { .. }));
                assert_eq!(&next, self, "a refused begin_attempt changes nothing");
            }
        }
        check_next_counter("task.revision", self.revision);
    }
}

/// `next_counter` is `checked_add(1)`, and names the counter when it refuses.
fn check_next_counter(counter: &'static str, value: u64) {
    match next_counter(counter, value) {
        Ok(n) => assert_eq!(Some(n), value.checked_add(1)),
        Err(e) => {
            assert_eq!(value, u64::MAX);
            assert_eq!(e, Error::CounterExhausted { counter });
        }
    }
}

impl Inspect for MetaValue {
    fn inspect(&self) {
        if let MetaValue::HashSeed(seed) = self {
            black_box(seed.hash_value(&Value::Absent));
        }
    }
}

impl Inspect for NameEntry {
    fn inspect(&self) {}
}

/// Decodes `framed` as an `R`; a record that decodes must re-encode to a frame
/// that decodes to an equal record.
fn decode_record<R>(framed: &[u8]) -> rockhold_format::Result<R>
where
    R: Record + Inspect + PartialEq + Debug,
{
    let record = R::decode(framed)?;
    let (kind, _) = unframe_any(framed).expect("a decoded record has a valid frame");
    assert_eq!(kind, R::KIND as u8);
    let encoded = record.encode();
    assert_eq!(encoded[..2], [FRAME_VERSION, R::KIND as u8]);
    let back = R::decode(&encoded).unwrap_or_else(|e| {
        panic!(
            "{:?} record {record:?} re-encodes to {encoded:02x?}, which does not decode: {e}",
            R::KIND
        )
    });
    assert_eq!(back, record, "{:?} record changes in a round trip", R::KIND);
    assert_eq!(
        back.encode(),
        encoded,
        "{:?} encoding is not deterministic",
        R::KIND
    );
    let mut appended = vec![0xAA; 3];
    record.encode_into(&mut appended);
    assert_eq!(
        appended[3..],
        encoded[..],
        "encode_into differs from encode"
    );
    record.inspect();
    Ok(record)
}

/// Decodes `framed` as the record type of `kind`; `Ok(true)` if it decoded.
fn decode_kind(kind: RecordKind, framed: &[u8]) -> rockhold_format::Result<bool> {
    match kind {
        RecordKind::Meta => decode_record::<MetaValue>(framed).map(|_| true),
        RecordKind::Name => decode_record::<NameEntry>(framed).map(|_| true),
        RecordKind::Class => decode_record::<ClassDef>(framed).map(|_| true),
        RecordKind::Object => decode_record::<ObjectRecord>(framed).map(|_| true),
        RecordKind::Task => decode_record::<TaskRecord>(framed).map(|_| true),
    }
}

/// Target `record_frame`: any bytes as a framed record.
///
/// `unframe_any`, `unframe` and the decoder of every record type must not
/// panic and must agree: at most the type named by a valid header decodes,
/// and whatever decodes round-trips.
pub fn check_record_frame(data: &[u8]) {
    let frame = unframe_any(data);
    if let Ok((kind, body)) = frame {
        assert_eq!(data[0], FRAME_VERSION);
        assert_eq!(kind, data[1]);
        assert_eq!(body, &data[FRAME_HEADER_LEN..]);
        assert_eq!(
            frame_raw(FRAME_VERSION, kind, body),
            data,
            "frame_raw rebuilds it"
        );
    }
    for kind in KINDS {
        let unframed = unframe(data, kind);
        match (&frame, &unframed) {
            (Ok((found, body)), Ok(b)) => assert!(*found == kind as u8 && body == b),
            (Ok((found, _)), Err(e)) => assert_eq!(
                *e,
                Error::WrongKind {
                    expected: kind as u8,
                    found: *found
                }
            ),
            (Err(e), Err(e2)) => assert_eq!(e, e2, "unframe and unframe_any disagree"),
            (Err(e), Ok(_)) => panic!("unframe accepts what unframe_any refuses: {e}"),
        }
        match decode_kind(kind, data) {
            Ok(_) => assert!(unframed.is_ok(), "{kind:?} decodes without a valid frame"),
            Err(e) => {
                black_box(e.to_string());
                if unframed.is_ok() {
                    // Past a valid frame of the right kind only the body is wrong.
                    assert!(body_error(&e), "{kind:?} body: {e:?}");
                } else {
                    assert_eq!(Err(e), unframed.map(drop), "{kind:?}: frame error");
                }
            }
        }
    }
}

/// Target `record_body`: the first byte is a kind byte, the rest a record
/// body, framed with a correct checksum by `frame_raw` so that the fuzzer
/// reaches the body decoders. Kind bytes 1..=5 reach the decoder of that
/// record type (see `RecordKind`); other bytes check that every decoder
/// refuses the frame as `WrongKind`. Then as `check_record_frame`.
pub fn check_record_body(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let framed = frame_raw(FRAME_VERSION, kind, body);
    assert_eq!(unframe_any(&framed), Ok((kind, body)));
    check_record_frame(&framed);
}

/// Target `task_record`: the whole input is a task record body, framed by
/// `frame_raw`; decodes as `TaskRecord` or is `Malformed`/`Truncated`, round-trips.
pub fn check_task_record(data: &[u8]) {
    check_body_of(RecordKind::Task, data);
}

/// Target `class_def`: the whole input is a class definition body, framed by
/// `frame_raw`; decodes as `ClassDef` or is `Malformed`/`Truncated`,
/// round-trips, and its field and index lookups agree with its lists.
pub fn check_class_def(data: &[u8]) {
    check_body_of(RecordKind::Class, data);
}

fn check_body_of(kind: RecordKind, body: &[u8]) {
    let framed = frame_raw(FRAME_VERSION, kind as u8, body);
    if let Err(e) = decode_kind(kind, &framed) {
        assert!(body_error(&e), "{kind:?} body: {e:?}");
    }
}

/// The errors a bad body behind a valid frame may give: it ends early, or
/// it does not make sense.
fn body_error(e: &Error) -> bool {
    matches!(e, Error::Malformed(_) | Error::Truncated { .. })
}

// ---------------------------------------------------------------------------
// record_view

/// Target `record_view`: the whole input is an object record body, framed
/// with a correct checksum by `frame_raw`.
///
/// `RecordView::new` checks the directory only; every present field is
/// then read on its own. Whatever happens must agree with the owned decoder
/// (`ObjectRecord::decode` succeeds exactly when every field reads), and a
/// record that decodes re-encodes to exactly the input (the v2 record
/// encoding is canonical and keeps float bits).
pub fn check_record_view(data: &[u8]) {
    let framed = frame_raw(FRAME_VERSION, RecordKind::Object as u8, data);
    let owned = ObjectRecord::decode(&framed);
    match RecordView::new(&framed) {
        Err(e) => {
            assert!(body_error(&e), "RecordView::new: {e:?}");
            assert_eq!(owned.map(drop), Err(e), "the owned decoder disagrees");
        }
        Ok(view) => {
            let all_ok = check_view(&view, &framed);
            match owned {
                Ok(record) => {
                    assert!(all_ok, "decodes although a field fails to read");
                    assert_eq!(record.encode(), framed, "not re-encoded bit for bit");
                }
                Err(e) => {
                    assert!(body_error(&e), "ObjectRecord::decode: {e:?}");
                    assert!(
                        !all_ok,
                        "every field reads but the record does not decode: {e}"
                    );
                }
            }
        }
    }
}

/// Reads every field of `view` (from the framed record `framed`) and checks
/// the view's accessors agree; returns whether every field read.
fn check_view(view: &RecordView<'_>, framed: &[u8]) -> bool {
    let ids: Vec<FieldId> = view.field_ids().collect();
    assert_eq!(ids.len(), view.len());
    assert_eq!(view.is_empty(), ids.is_empty());
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "field ids not increasing"
    );
    let mut all_ok = true;
    let mut fields = view.fields();
    for &id in &ids {
        assert!(view.contains(id));
        let one = view.field(id);
        let iterated = fields.next().expect("fields() yields every field");
        match (&one, &iterated) {
            (Ok(v), Ok((fid, w))) => {
                assert_eq!(*fid, id);
                assert!(!v.is_absent(), "field {id} reads as absent");
                assert_eq!(v.encode_ordered(), w.encode_ordered());
                check_value_ref(v);
            }
            (Err(e), Err(f)) => {
                assert_eq!(e, f, "field() and fields() disagree on field {id}");
                assert!(body_error(e), "field {id}: {e:?}");
                all_ok = false;
            }
            _ => panic!("field({id}) is {one:?}, fields() gives {iterated:?}"),
        }
    }
    assert!(
        fields.next().is_none(),
        "fields() yields more than field_ids()"
    );
    // Ids the record does not hold read as absent.
    for id in [0, 1, u32::MAX] {
        if !ids.contains(&FieldId(id)) {
            assert!(!view.contains(FieldId(id)));
            assert!(matches!(view.field(FieldId(id)), Ok(ValueRef::Absent)));
        }
    }
    assert_eq!(view.validate().is_ok(), all_ok);
    match view.to_record() {
        Ok(record) => {
            assert!(all_ok);
            assert_eq!(record.class, view.class());
            assert_eq!(
                record.encode(),
                framed,
                "to_record does not re-encode bit for bit"
            );
            for (id, value) in &record.fields {
                let v = view.field(*id).expect("read above");
                assert_eq!(v.to_value().encode_stored(), value.encode_stored());
            }
        }
        Err(e) => assert!(!all_ok, "to_record fails although every field reads: {e}"),
    }
    all_ok
}

// ---------------------------------------------------------------------------
// stored_value

/// Target `stored_value`: the whole input as one stored value (the
/// encoding of a field's value in an object record).
///
/// `ValueRef::decode` and `Value::decode_stored` never panic and agree; a
/// value that decodes re-encodes to exactly the input, and reads the same
/// in place as owned (ordered encoding, length, type, map lookups, list
/// elements, variant payload).
pub fn check_stored_value(data: &[u8]) {
    let owned = Value::decode_stored(data);
    match ValueRef::decode(data) {
        Err(e) => {
            black_box(e.to_string());
            assert_eq!(owned, Err(e), "Value::decode_stored disagrees");
        }
        Ok(v) => {
            let owned = owned.expect("ValueRef decodes it");
            assert_eq!(owned.encode_stored(), data, "not re-encoded bit for bit");
            assert_eq!(v.to_value().encode_stored(), data);
            assert!(owned.depth() <= MAX_DEPTH, "decoded deeper than MAX_DEPTH");
            check_value_ref(&v);
        }
    }
}

/// A stored value written and read back: the same bits, the same ordered
/// encoding in place.
fn check_stored(value: &Value) {
    let stored = value.encode_stored();
    let v = ValueRef::decode(&stored)
        .unwrap_or_else(|e| panic!("{value:?} does not read back from its stored encoding: {e}"));
    assert_eq!(
        v.to_value().encode_stored(),
        stored,
        "{value:?} changes bits"
    );
    assert_eq!(v.encode_ordered(), value.encode_ordered(), "{value:?}");
    check_value_ref(&v);
}

/// The in-place reading of a validated value agrees with its owned form,
/// level by level.
fn check_value_ref(v: &ValueRef<'_>) {
    let owned = v.to_value();
    let ordered = owned.encode_ordered();
    assert_eq!(
        v.encode_ordered(),
        ordered,
        "ordered encoding in place vs owned"
    );
    assert_eq!(v.ordered_len(), ordered.len());
    assert_eq!(v.type_name(), owned.type_name());
    assert_eq!(v.is_scalar(), owned.is_scalar());
    assert_eq!(v.is_absent(), matches!(owned, Value::Absent));
    black_box(v.to_string());
    match (v, &owned) {
        (ValueRef::List(l), Value::List(items)) => {
            assert_eq!(l.len(), items.len());
            assert_eq!(l.is_empty(), items.is_empty());
            assert_eq!(l.iter().count(), items.len());
            assert!(l.get(items.len()).is_none());
            for (i, (e, item)) in l.iter().zip(items).enumerate() {
                assert_eq!(e.to_value().encode_stored(), item.encode_stored());
                let got = l.get(i).expect("element");
                assert_eq!(got.encode_ordered(), e.encode_ordered());
                check_value_ref(&e);
            }
        }
        (ValueRef::Map(m), Value::Map(entries)) => {
            assert_eq!(m.len(), entries.len());
            assert_eq!(m.iter().count(), entries.len());
            for ((k, e), (key, item)) in m.iter().zip(entries) {
                assert_eq!(k, key);
                assert_eq!(e.to_value().encode_stored(), item.encode_stored());
                let got = m.get(k).expect("every key is found");
                assert_eq!(got.encode_ordered(), e.encode_ordered());
                assert!(owned.get(k).is_some());
                check_value_ref(&e);
            }
            for missing in ["", "\u{0}", "\u{10FFFF}"] {
                assert_eq!(
                    m.get(missing).is_some(),
                    entries.iter().any(|(k, _)| k == missing)
                );
            }
        }
        (ValueRef::Variant(var), Value::Variant(b)) => {
            assert_eq!(var.name(), b.0);
            let payload = var.payload();
            assert_eq!(payload.to_value().encode_stored(), b.1.encode_stored());
            check_value_ref(&payload);
        }
        (ValueRef::List(_) | ValueRef::Map(_) | ValueRef::Variant(_), other) => {
            panic!("{v:?} reads as {other:?}")
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// index_key

/// Target `index_key`: the first byte is an index shape (bits 0-1: parts
/// 1 to 4; bit 2: unique), the rest the key after the family prefix.
///
/// The rest is decoded as an `IR` key (`"IR"` + rest) with that shape, as an
/// `IH` key (`"IH"` + rest) and as the holders of a unique entry. Whatever
/// decodes re-encodes to its input; an ordered key lies under its index and
/// tuple prefixes and has exactly `parts` values; a hash key is a point key
/// exactly when it has no id.
pub fn check_index_key(data: &[u8]) {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let shape = IndexShape {
        parts: usize::from(shape & 3) + 1,
        unique: shape & 4 != 0,
    };
    let mut ordered = b"IR".to_vec();
    ordered.extend_from_slice(rest);
    match RawOrderedKey::decode(&ordered) {
        Ok(raw) => {
            assert_eq!(raw.encode(), ordered);
            check_ordered_shape(&raw, &ordered, shape);
        }
        Err(e) => {
            black_box(e.to_string());
            assert!(OrderedKey::decode_as(&ordered, shape).is_err());
        }
    }
    let mut hash = b"IH".to_vec();
    hash.extend_from_slice(rest);
    match HashKey::decode(&hash) {
        Ok(k) => {
            assert_eq!(k.encode(), hash);
            assert_eq!(k.id.is_none(), hash.len() == HASH_POINT_KEY_LEN);
            assert!(hash.starts_with(&HashKey::hash_prefix(k.ns, k.class, k.index, k.hash)));
        }
        Err(e) => {
            black_box(e.to_string());
        }
    }
    match decode_hash_holders(rest) {
        Ok(holders) => {
            assert!(!holders.is_empty() && holders.windows(2).all(|w| w[0].id < w[1].id));
            let ids: Vec<ObjectId> = holders.iter().map(|h| h.id).collect();
            assert_eq!(decode_holders(rest).ok(), Some(ids.clone()));
            let mut again = Vec::new();
            encode_hash_holders(holders.iter().copied(), &mut again);
            if holders.iter().any(|h| h.tuple.is_some()) {
                assert_eq!(again, rest, "holders re-encode to their input");
            } else {
                // No tuple kept: the encoder writes the bare form, which a
                // tagged input without tuples reads the same as.
                let mut bare = Vec::new();
                encode_holders(&ids, &mut bare);
                assert_eq!(again, bare);
                assert!(again == rest || rest.starts_with(&[0xFF; 8]));
            }
        }
        Err(e) => {
            black_box(e.to_string());
        }
    }
}

/// Decodes an `IR` key (split as `raw`, bytes `bytes`) with `shape`; what
/// decodes re-encodes to `bytes`, has `shape.parts` values, an id exactly
/// when not unique, and lies under the prefix of each leading subset of
/// its tuple.
fn check_ordered_shape(raw: &RawOrderedKey, bytes: &[u8], shape: IndexShape) {
    let decoded = raw.decode_as(shape);
    assert_eq!(
        decoded,
        OrderedKey::decode_as(bytes, shape),
        "RawOrderedKey::decode_as and OrderedKey::decode_as disagree"
    );
    let Ok(key) = decoded else {
        return;
    };
    assert_eq!(
        key.encode(),
        bytes,
        "{key:?} does not re-encode to its input"
    );
    assert_eq!(key.values.len(), shape.parts);
    assert_eq!(key.id.is_none(), shape.unique);
    assert_eq!(
        (key.ns, key.class, key.index),
        (raw.ns, raw.class, raw.index)
    );
    for k in 0..=key.values.len() {
        let prefix = OrderedKey::tuple_prefix(key.ns, key.class, key.index, &key.values[..k]);
        assert!(
            bytes.starts_with(&prefix),
            "{key:?} not under its {k}-value prefix"
        );
    }
    let mut tuple = Vec::new();
    encode_tuple_into(&key.values, &mut tuple);
    assert_eq!(decode_tuple(&tuple).as_ref(), Ok(&key.values));
}

// ---------------------------------------------------------------------------
// Replay without libFuzzer

/// The seed corpus folder of a target: `fuzz/corpus/<target>/`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// The folder of saved crash inputs of a target: `fuzz/regressions/<target>/`.
pub fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(target)
}

/// The input files of a folder, sorted, without hidden files (`.gitkeep`).
pub fn inputs_of(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type()?.is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The `main` of a target binary built without libFuzzer (`cargo run --bin
/// <target> -- [FILE|DIR]...`): runs the check on every file named, or on
/// the target's corpus and regressions when none is. A failing input panics
/// with the check's message, after its path is printed.
pub fn replay_main(target: &str, check: fn(&[u8])) -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let roots = if args.is_empty() {
        vec![corpus_dir(target), regressions_dir(target)]
    } else {
        args
    };
    let mut count = 0usize;
    for root in roots {
        let files = if root.is_dir() {
            inputs_of(&root)
        } else {
            Ok(vec![root.clone()])
        };
        let files = match files {
            Ok(files) => files,
            Err(e) => {
                eprintln!("{target}: cannot list {}: {e}", root.display());
                return ExitCode::FAILURE;
            }
        };
        for file in files {
            let data = match std::fs::read(&file) {
                Ok(data) => data,
                Err(e) => {
                    eprintln!("{target}: cannot read {}: {e}", file.display());
                    return ExitCode::FAILURE;
                }
            };
            eprintln!("{target}: {}", file.display());
            check(&data);
            count += 1;
        }
    }
    eprintln!("{target}: {count} input(s) passed (replay build: no libFuzzer, no fuzzing)");
    ExitCode::SUCCESS
}
