//! Object records (`O` family), format v2: a directory of the present
//! fields followed by their values, readable field by field in place.
//!
//! ```text
//! u32 LE  class id
//! u32 LE  n, the number of present fields (absent fields are not stored)
//! n ×     (u32 LE field id, u32 LE offset): the directory. Field ids strictly
//!         increasing; offsets strictly increasing, the first 0, each less than
//!         the values region's length: field i's value is the region's bytes
//!         from its offset to the next field's offset (the last: to the end)
//! ..      the values region: each value in the stored value encoding
//!         (stored.rs), exactly filling its slot; never `Absent` at the top
//! ```
//!
//! (Since no value encodes in zero bytes, the design's "non-decreasing"
//! offsets are necessarily strictly increasing in a valid record, and a first
//! offset other than 0 would leave bytes belonging to no field: both are
//! refused as directory corruption.)

use crate::coding::{patch_u32, put_u32, Input};
use crate::error::{Error, Result};
use crate::frame::{check_body_len, unframe, Record, RecordKind};
use crate::ids::{ClassId, FieldId};
use crate::stored::ValueRef;
use crate::value::Value;

/// An object as stored: its class and the values of its present fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// The object's class.
    pub class: ClassId,
    /// Present fields by id, in strictly increasing id order. An `Absent`
    /// value is the same as no entry: it is not stored.
    pub fields: Vec<(FieldId, Value)>,
}

impl ObjectRecord {
    /// The value of field `id`, `Absent` when the record does not hold it.
    pub fn value(&self, id: FieldId) -> &Value {
        const ABSENT: &Value = &Value::Absent;
        self.fields
            .binary_search_by_key(&id, |(f, _)| *f)
            .map_or(ABSENT, |i| &self.fields[i].1)
    }
}

const WHAT: &str = "object record";
/// Bytes of one directory entry.
const DIR_ENTRY: usize = 8;

impl Record for ObjectRecord {
    const KIND: RecordKind = RecordKind::Object;

    /// Writes the fields in the order given, skipping `Absent` ones; fields
    /// out of id order are written as such and refused by the decoder (and
    /// by [`Record::encode_checked`]).
    fn encode_body(&self, out: &mut Vec<u8>) {
        let present = self
            .fields
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Absent));
        let n = present.clone().count();
        put_u32(out, self.class.0);
        put_u32(out, crate::coding::len_u32(n));
        let dir = out.len();
        out.resize(dir + n * DIR_ENTRY, 0);
        let region = out.len();
        for (k, (id, v)) in present.enumerate() {
            let entry = dir + k * DIR_ENTRY;
            patch_u32(out, entry, id.0);
            let offset = crate::coding::len_u32(out.len() - region);
            patch_u32(out, entry + 4, offset);
            v.encode_stored_into(out);
        }
    }

    fn decode_body(body: &[u8]) -> Result<Self> {
        RecordView::from_body(body)?.to_record()
    }

    fn check_body(body: &[u8]) -> Result<()> {
        RecordView::from_body(body)?.validate()
    }
}

/// An object record read in place: the frame and the directory are checked
/// by [`RecordView::new`]; each field's value is validated when it is read.
///
/// ```
/// use rockhold_format::{ClassId, FieldId, ObjectRecord, Record, RecordView, Value, ValueRef};
///
/// let record = ObjectRecord {
///     class: ClassId(7),
///     fields: vec![(FieldId(1), Value::from("alice")), (FieldId(4), Value::U64(30))],
/// };
/// let bytes = record.encode();
/// let view = RecordView::new(&bytes)?;
/// assert_eq!(view.class(), ClassId(7));
/// assert!(matches!(view.field(FieldId(4))?, ValueRef::U64(30)));
/// assert!(view.field(FieldId(2))?.is_absent());
/// assert_eq!(view.to_record()?, record);
/// # Ok::<(), rockhold_format::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    class: ClassId,
    directory: &'a [u8],
    values: &'a [u8],
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

/// A record's class against the class its key names.
fn check_class(held: ClassId, keyed: ClassId) -> Result<()> {
    if held == keyed {
        return Ok(());
    }
    Err(Error::malformed(format!(
        "object record: holds class {held}, its key names class {keyed}"
    )))
}

impl ObjectRecord {
    /// [`Record::decode`] for the record stored under an object key of
    /// `class`, checked as [`RecordView::in_class`] checks it.
    pub fn decode_in(framed: &[u8], class: ClassId) -> Result<ObjectRecord> {
        let rec = ObjectRecord::decode(framed)?;
        check_class(rec.class, class)?;
        Ok(rec)
    }
}

impl<'a> RecordView<'a> {
    /// Checks a framed object record (checksum, frame version, kind, body
    /// length) and its directory, without reading any value.
    pub fn new(framed: &'a [u8]) -> Result<RecordView<'a>> {
        let body = unframe(framed, RecordKind::Object)?;
        check_body_len(body.len() as u64)?;
        RecordView::from_body(body)
    }

    /// [`RecordView::new`] for the record stored under an object key of
    /// `class` ([`crate::ObjectKey`]): a record naming another class is
    /// `Malformed`, for the key is where a record's class is read from.
    pub fn in_class(framed: &'a [u8], class: ClassId) -> Result<RecordView<'a>> {
        let view = RecordView::new(framed)?;
        check_class(view.class, class)?;
        Ok(view)
    }

    /// Checks an unframed object record body's directory.
    pub(crate) fn from_body(body: &'a [u8]) -> Result<RecordView<'a>> {
        let mut i = Input::new(body, WHAT);
        let class = ClassId(i.u32()?);
        // Each field takes its directory entry and at least one value byte.
        let n = i.count(DIR_ENTRY + 1)?;
        let directory = i.take(n * DIR_ENTRY)?;
        let values = i.remaining();
        let bad = |what: &str| Err(Error::malformed(format!("object record directory: {what}")));
        if n == 0 && !values.is_empty() {
            return bad("values without fields");
        }
        let mut last: Option<(u32, u32)> = None;
        for k in 0..n {
            let (id, offset) = (
                le_u32(directory, k * DIR_ENTRY),
                le_u32(directory, k * DIR_ENTRY + 4),
            );
            match last {
                None if offset != 0 => return bad("the first value does not start the region"),
                Some((last_id, _)) if id <= last_id => {
                    return bad("field ids not strictly increasing")
                }
                Some((_, last_offset)) if offset <= last_offset => {
                    return bad("offsets not increasing (an empty value slot)")
                }
                _ => {}
            }
            if offset as usize >= values.len() {
                return bad("offset past the values region");
            }
            last = Some((id, offset));
        }
        Ok(RecordView {
            class,
            directory,
            values,
        })
    }

    /// The object's class.
    pub fn class(&self) -> ClassId {
        self.class
    }

    /// The number of present fields.
    pub fn len(&self) -> usize {
        self.directory.len() / DIR_ENTRY
    }

    /// Whether no field is present.
    pub fn is_empty(&self) -> bool {
        self.directory.is_empty()
    }

    fn id_at(&self, k: usize) -> FieldId {
        FieldId(le_u32(self.directory, k * DIR_ENTRY))
    }

    /// The bytes of the value of the field at directory position `k`.
    fn slot(&self, k: usize) -> &'a [u8] {
        let start = le_u32(self.directory, k * DIR_ENTRY + 4) as usize;
        let end = if k + 1 < self.len() {
            le_u32(self.directory, (k + 1) * DIR_ENTRY + 4) as usize
        } else {
            self.values.len()
        };
        self.values.get(start..end).unwrap_or_default()
    }

    /// The ids of the present fields, increasing.
    pub fn field_ids(&self) -> impl Iterator<Item = FieldId> + 'a {
        let view = *self;
        (0..self.len()).map(move |k| view.id_at(k))
    }

    fn position(&self, id: FieldId) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id_at(mid).cmp(&id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Whether field `id` is present.
    pub fn contains(&self, id: FieldId) -> bool {
        self.position(id).is_some()
    }

    /// The value of field `id` (`Absent` when the record does not hold
    /// it), validated completely (structure, UTF-8, depth, map key order,
    /// that it fills its slot exactly) without allocating.
    pub fn field(&self, id: FieldId) -> Result<ValueRef<'a>> {
        match self.position(id) {
            None => Ok(ValueRef::Absent),
            Some(k) => self.value_at(k),
        }
    }

    fn value_at(&self, k: usize) -> Result<ValueRef<'a>> {
        let slot = self.slot(k);
        if slot.first() == Some(&0) {
            return Err(Error::malformed(format!(
                "object record: field {} stored as absent",
                self.id_at(k)
            )));
        }
        ValueRef::decode(slot).map_err(|e| match e {
            Error::Malformed(m) => {
                Error::Malformed(format!("object record field {}: {m}", self.id_at(k)))
            }
            other => other,
        })
    }

    /// The present fields with their values, in increasing id order; each
    /// value is validated as by [`RecordView::field`].
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            view: *self,
            next: 0,
        }
    }

    /// Validates every field's value.
    pub fn validate(&self) -> Result<()> {
        self.fields().try_for_each(|f| f.map(drop))
    }

    /// The owned record, every field validated.
    pub fn to_record(&self) -> Result<ObjectRecord> {
        Ok(ObjectRecord {
            class: self.class,
            fields: self
                .fields()
                .map(|f| f.map(|(id, v)| (id, v.to_value())))
                .collect::<Result<_>>()?,
        })
    }
}

/// The fields of a [`RecordView`]: `(id, value)` in increasing id order, or
/// the error of a field whose value is malformed.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    view: RecordView<'a>,
    next: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(FieldId, ValueRef<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.view.len() {
            return None;
        }
        let k = self.next;
        self.next += 1;
        Some(self.view.value_at(k).map(|v| (self.view.id_at(k), v)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.view.len() - self.next;
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{frame_raw, FRAME_HEADER_LEN, FRAME_VERSION};
    use crate::value::tests::any_value;
    use crate::value::MAX_DEPTH;
    use proptest::prelude::*;

    fn any_record() -> impl Strategy<Value = ObjectRecord> {
        (
            any::<u32>(),
            proptest::collection::btree_map(any::<u32>(), any_value(), 0..6),
        )
            .prop_map(|(class, fields)| ObjectRecord {
                class: ClassId(class),
                fields: fields
                    .into_iter()
                    .filter(|(_, v)| !matches!(v, Value::Absent))
                    .map(|(id, v)| (FieldId(id), v))
                    .collect(),
            })
    }

    fn body(r: &ObjectRecord) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode_body(&mut out);
        out
    }

    fn framed_body(body: &[u8]) -> Vec<u8> {
        frame_raw(FRAME_VERSION, RecordKind::Object as u8, body)
    }

    /// Compares stored bits (Value's `==` is the index's equality).
    fn same_bits(a: &ObjectRecord, b: &ObjectRecord) -> bool {
        body(a) == body(b)
    }

    fn extremes() -> ObjectRecord {
        ObjectRecord {
            class: ClassId(9),
            fields: vec![
                (
                    FieldId(1),
                    Value::F64(f64::from_bits(0x7FF4_0000_0000_00AB)),
                ),
                (FieldId(2), Value::F64(-0.0)),
                (FieldId(3), Value::U64(u64::MAX)),
                (FieldId(4), Value::I64(i64::MIN)),
                (
                    FieldId(5),
                    Value::List(vec![
                        Value::F64(f64::from_bits(0xFFF8_0000_0000_0001)),
                        Value::F64(-0.0),
                        Value::Absent,
                        Value::map([
                            ("x".to_string(), Value::U64(u64::MAX)),
                            ("y".to_string(), Value::variant("V", Value::I64(i64::MIN))),
                        ])
                        .expect("distinct keys"),
                    ]),
                ),
                (FieldId(u32::MAX), Value::from("last")),
            ],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn round_trip_is_bit_exact(r in any_record()) {
            let bytes = r.encode_checked().expect("valid record");
            let back = ObjectRecord::decode(&bytes).expect("decodes");
            prop_assert!(same_bits(&back, &r), "{:?}", back);
            prop_assert_eq!(back.encode(), bytes.clone());
            let view = RecordView::new(&bytes).expect("view");
            prop_assert_eq!(view.class(), r.class);
            prop_assert_eq!(view.len(), r.fields.len());
            for (id, v) in &r.fields {
                let got = view.field(*id).expect("field");
                prop_assert_eq!(got.encode_ordered(), v.encode_ordered());
                prop_assert_eq!(got.to_value().encode_stored(), v.encode_stored());
            }
            prop_assert!(view.field_ids().eq(r.fields.iter().map(|(id, _)| *id)));
        }

        #[test]
        fn every_body_truncation_fails(r in any_record()) {
            let b = body(&r);
            for len in 0..b.len() {
                let framed = framed_body(&b[..len]);
                prop_assert!(ObjectRecord::decode(&framed).is_err(), "len {}", len);
                if let Ok(view) = RecordView::new(&framed) {
                    prop_assert!(view.validate().is_err(), "len {}", len);
                }
            }
        }

        #[test]
        fn arbitrary_bodies_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let framed = framed_body(&b);
            if let Ok(view) = RecordView::new(&framed) {
                for id in view.field_ids().collect::<Vec<_>>() {
                    if let Ok(v) = view.field(id) {
                        let _ = (v.to_value(), v.encode_ordered());
                    }
                }
                if let Ok(r) = view.to_record() {
                    prop_assert_eq!(body(&r), b);
                }
            }
        }

        #[test]
        fn single_byte_damage_is_caught_or_consistent(r in any_record(),
                                                      at in any::<prop::sample::Index>(),
                                                      byte in any::<u8>()) {
            let mut b = body(&r);
            let i = at.index(b.len());
            b[i] = byte;
            if let Ok(back) = ObjectRecord::decode(&framed_body(&b)) {
                // Whatever decodes re-encodes to exactly the damaged bytes.
                prop_assert_eq!(body(&back), b);
            }
        }
    }

    #[test]
    fn extremes_are_kept_bit_for_bit() {
        let r = extremes();
        let bytes = r.encode_checked().expect("valid");
        let back = ObjectRecord::decode(&bytes).expect("decodes");
        assert!(same_bits(&back, &r));
        let view = RecordView::new(&bytes).expect("view");
        let ValueRef::F64(nan) = view.field(FieldId(1)).expect("f1") else {
            panic!("not a float")
        };
        assert_eq!(nan.to_bits(), 0x7FF4_0000_0000_00AB);
        let ValueRef::F64(z) = view.field(FieldId(2)).expect("f2") else {
            panic!("not a float")
        };
        assert_eq!(z.to_bits(), (-0.0f64).to_bits());
        let ValueRef::List(list) = view.field(FieldId(5)).expect("f5") else {
            panic!("not a list")
        };
        assert_eq!(list.len(), 4);
        let map = list.get(3).expect("4th");
        assert!(matches!(map.get("x"), Some(ValueRef::U64(u64::MAX))));
        let Some(ValueRef::Variant(v)) = map.get("y") else {
            panic!("not a variant")
        };
        assert_eq!(v.name(), "V");
        assert!(matches!(v.payload(), ValueRef::I64(i64::MIN)));
    }

    #[test]
    fn documented_layout() {
        let r = ObjectRecord {
            class: ClassId(1),
            fields: vec![
                (FieldId(1), Value::from("a@x.io")),
                (FieldId(2), Value::U64(30)),
                (FieldId(3), Value::Absent),
            ],
        };
        #[rustfmt::skip]
        let want = [
            1, 0, 0, 0,             // class 1
            2, 0, 0, 0,             // two present fields (the absent one is not stored)
            1, 0, 0, 0, 0, 0, 0, 0, // field 1 at offset 0
            2, 0, 0, 0, 11, 0, 0, 0, // field 2 at offset 11
            6, 6, 0, 0, 0, b'a', b'@', b'x', b'.', b'i', b'o',
            4, 30, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(body(&r), want);
    }

    #[test]
    fn bad_version_and_kind_are_refused() {
        let good = extremes().encode();
        let body = &good[FRAME_HEADER_LEN..];
        for version in [0, 1, FRAME_VERSION + 1] {
            let framed = frame_raw(version, RecordKind::Object as u8, body);
            assert_eq!(
                RecordView::new(&framed).err(),
                Some(Error::UnsupportedVersion(version))
            );
            assert_eq!(
                ObjectRecord::decode(&framed),
                Err(Error::UnsupportedVersion(version))
            );
        }
        let task = frame_raw(FRAME_VERSION, RecordKind::Task as u8, body);
        assert!(matches!(
            RecordView::new(&task),
            Err(Error::WrongKind { .. })
        ));
        let mut flipped = good.clone();
        flipped[FRAME_HEADER_LEN + 3] ^= 1;
        assert!(matches!(
            RecordView::new(&flipped),
            Err(Error::ChecksumMismatch { .. })
        ));
    }

    /// Directory corruption is caught by `RecordView::new`, before any
    /// value is read.
    #[test]
    fn directory_corruption_is_caught() {
        let b = body(&extremes());
        let entry = |k: usize| 8 + k * DIR_ENTRY;
        let set = |b: &mut Vec<u8>, at: usize, v: u32| patch_u32(b, at, v);
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut x = b.clone();
        set(&mut x, entry(1), 1);
        cases.push(("repeated field id", x));
        let mut x = b.clone();
        set(&mut x, entry(1), 0);
        cases.push(("decreasing field id", x));
        let mut x = b.clone();
        set(&mut x, entry(0) + 4, 1);
        cases.push(("first offset not 0", x));
        let mut x = b.clone();
        let second = le_u32(&x, entry(1) + 4);
        set(&mut x, entry(2) + 4, second);
        cases.push(("empty slot", x));
        let mut x = b.clone();
        set(&mut x, entry(2) + 4, second - 1);
        cases.push(("decreasing offset", x));
        let mut x = b.clone();
        set(&mut x, entry(5) + 4, u32::MAX);
        cases.push(("offset past the region", x));
        let mut x = b.clone();
        set(&mut x, 4, 1000);
        cases.push(("count larger than the body", x));
        let mut x = b.clone();
        set(&mut x, 4, 0);
        cases.push(("count 0 with values", x));
        for (what, body) in cases {
            assert!(
                RecordView::new(&framed_body(&body)).is_err(),
                "{what} not caught"
            );
            assert!(ObjectRecord::decode(&framed_body(&body)).is_err(), "{what}");
        }
        // A slot boundary moved inside a value: the view opens, the
        // affected fields fail to validate, the record does not decode.
        let mut x = b.clone();
        let third = le_u32(&x, entry(2) + 4);
        set(&mut x, entry(2) + 4, third + 1);
        let framed = framed_body(&x);
        let view = RecordView::new(&framed).expect("directory is well-formed");
        assert!(view.field(FieldId(2)).is_err());
        assert!(view.field(FieldId(3)).is_err());
        assert!(view.field(FieldId(1)).is_ok());
        assert!(view.to_record().is_err());
    }

    #[test]
    fn records_the_decoder_refuses_are_refused_by_encode_checked() {
        let unsorted = ObjectRecord {
            class: ClassId(1),
            fields: vec![(FieldId(2), Value::U64(1)), (FieldId(1), Value::U64(1))],
        };
        let repeated = ObjectRecord {
            class: ClassId(1),
            fields: vec![(FieldId(1), Value::U64(1)), (FieldId(1), Value::U64(2))],
        };
        let bad_map = ObjectRecord {
            class: ClassId(1),
            fields: vec![(
                FieldId(1),
                Value::Map(vec![
                    ("b".into(), Value::Absent),
                    ("a".into(), Value::Absent),
                ]),
            )],
        };
        let mut deep = Value::U64(1);
        for _ in 0..=MAX_DEPTH {
            deep = Value::List(vec![deep]);
        }
        let too_deep = ObjectRecord {
            class: ClassId(1),
            fields: vec![(FieldId(1), deep)],
        };
        for r in [unsorted, repeated, bad_map, too_deep] {
            assert!(
                matches!(r.encode_checked(), Err(Error::Malformed(_))),
                "{r:?}"
            );
            assert!(ObjectRecord::decode(&r.encode()).is_err());
        }
        // Absent fields are simply not stored.
        let with_absent = ObjectRecord {
            class: ClassId(1),
            fields: vec![(FieldId(1), Value::Absent), (FieldId(2), Value::Bool(true))],
        };
        let back = ObjectRecord::decode(&with_absent.encode_checked().expect("ok")).expect("ok");
        assert_eq!(back.fields, vec![(FieldId(2), Value::Bool(true))]);
        // A top-level absent value written by hand is refused.
        let mut b = Vec::new();
        put_u32(&mut b, 1);
        put_u32(&mut b, 1);
        put_u32(&mut b, 1);
        put_u32(&mut b, 0);
        b.push(0);
        let framed = framed_body(&b);
        let view = RecordView::new(&framed).expect("directory ok");
        assert!(view.field(FieldId(1)).is_err());
    }

    #[test]
    fn depth_limit_in_records() {
        let mut at_limit = Value::Bool(true);
        for _ in 0..MAX_DEPTH {
            at_limit = Value::variant("v", at_limit);
        }
        let r = ObjectRecord {
            class: ClassId(1),
            fields: vec![(FieldId(1), at_limit.clone())],
        };
        assert!(ObjectRecord::decode(&r.encode_checked().expect("at the limit")).is_ok());
        let r = ObjectRecord {
            class: ClassId(1),
            fields: vec![(FieldId(1), Value::List(vec![at_limit]))],
        };
        let framed = r.encode();
        let view = RecordView::new(&framed).expect("directory ok");
        assert!(matches!(view.field(FieldId(1)), Err(Error::Malformed(_))));
    }
}
