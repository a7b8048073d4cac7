//! The typed mapping without a database: structs written by `ser` into a
//! record's values, the record encoded, and read back by `de` from a
//! `RecordView` over the encoded bytes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use rockhold_format::{
    ClassDef, ClassId, FieldDef, FieldId, FieldType, MemberDef, ObjectId, ObjectRecord, Record,
    RecordView, Value, VariantDef, MAX_DEPTH,
};

use super::de::from_view;
use super::ser::to_fields;
use crate::error::Error;

// ------------------------------------------------------------------ helpers

fn class(fields: Vec<(&str, FieldType, bool)>) -> ClassDef {
    ClassDef {
        id: ClassId(7),
        name: "thing".into(),
        revision: 1,
        next_field_id: fields.len() as u32 + 1,
        next_index_id: 1,
        fields: fields
            .into_iter()
            .enumerate()
            .map(|(i, (name, ty, optional))| FieldDef {
                // Ids in reverse of declaration order: the output is by id.
                id: FieldId(100 - i as u32),
                name: name.into(),
                ty,
                optional,
            })
            .collect(),
        indexes: Vec::new(),
        provisional: false,
    }
}

fn list(t: FieldType) -> FieldType {
    FieldType::List(Box::new(t))
}
fn map(t: FieldType) -> FieldType {
    FieldType::Map(Box::new(t))
}
fn opt(t: FieldType) -> FieldType {
    FieldType::Optional(Box::new(t))
}
fn member(name: &str, ty: FieldType, optional: bool) -> MemberDef {
    MemberDef {
        name: name.into(),
        ty,
        optional,
    }
}
fn variant(name: &str, payload: Option<FieldType>) -> VariantDef {
    VariantDef {
        name: name.into(),
        payload,
    }
}

/// The record bytes of `item`; every value written passes its field's
/// type check (the write path may rely on it).
fn store<T: Serialize>(class: &ClassDef, item: &T) -> Result<Vec<u8>, Error> {
    let fields = to_fields(class, item)?;
    assert!(
        fields.windows(2).all(|w| w[0].0 < w[1].0),
        "by id: {fields:?}"
    );
    for (id, value) in &fields {
        let f = class.field_by_id(*id).expect("a field of the class");
        if matches!(value, Value::Absent) {
            assert!(f.optional, "{} absent", f.name);
        } else if let Err(e) = f.ty.check(value) {
            panic!("{} = {value} does not pass its type: {e:?}", f.name);
        }
        assert!(value.depth() <= MAX_DEPTH);
    }
    let record = ObjectRecord {
        class: class.id,
        fields: fields
            .into_iter()
            .filter(|(_, v)| !matches!(v, Value::Absent))
            .collect(),
    };
    Ok(record.encode())
}

fn load<'de, T: Deserialize<'de>>(class: &ClassDef, bytes: &'de [u8]) -> Result<T, Error> {
    let view = RecordView::new(bytes).expect("a valid record");
    from_view(class, view, b"key")
}

fn round_trip<T: Serialize + DeserializeOwned>(class: &ClassDef, item: &T) -> T {
    let bytes = store(class, item).expect("store");
    load(class, &bytes).expect("load")
}

/// An `f64` compared by its bits (NaN payloads, -0.0).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
struct F64(f64);
impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// An `f32` compared by its bits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
struct F32(f32);
impl PartialEq for F32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

// ------------------------------------------------------- every serde shape

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    zip: u32,
    unit: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot,
    Circle(F64),
    Rect(u32, u32),
    Poly { sides: u8, name: Option<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Color {
    Red,
    Green,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(i8, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(F64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    tags: Vec<String>,
    home: Option<Address>,
    work: Option<Address>,
    counts: HashMap<String, u32>,
    by_id: BTreeMap<u64, String>,
    by_char: BTreeMap<char, i8>,
    by_color: BTreeMap<Color, bool>,
    shapes: Vec<Shape>,
    small: u8,
    medium: u32,
    signed: i16,
    ratio: F32,
    letter: char,
    nan: F64,
    neg_zero: F64,
    big: u64,
    least: i64,
    huge: i128,
    pair: (u8, String, bool),
    tuple_struct: Pair,
    unit: (),
    marker: Marker,
    length: Meters,
    maybe_maybe: Option<Option<u32>>,
    sparse: Vec<Option<u32>>,
    avatar: Vec<u8>,
    owner: ObjectId,
    level: Color,
    matrix: Vec<Vec<i64>>,
    nothing: Option<String>,
}

fn address_type() -> FieldType {
    FieldType::Struct(vec![
        member("street", FieldType::String, false),
        member("zip", FieldType::U64, false),
        member("unit", FieldType::U64, true),
    ])
}

fn shape_type() -> FieldType {
    FieldType::Enum(vec![
        variant("Dot", None),
        variant("Circle", Some(FieldType::F64)),
        variant(
            "Rect",
            Some(FieldType::Tuple(vec![FieldType::U64, FieldType::U64])),
        ),
        variant(
            "Poly",
            Some(FieldType::Struct(vec![
                member("sides", FieldType::U64, false),
                member("name", FieldType::String, true),
            ])),
        ),
    ])
}

fn everything_class() -> ClassDef {
    use FieldType as T;
    class(vec![
        ("tags", list(T::String), false),
        ("home", address_type(), true),
        ("work", address_type(), true),
        ("counts", map(T::U64), false),
        ("by_id", map(T::String), false),
        ("by_char", map(T::I64), false),
        ("by_color", map(T::Bool), false),
        ("shapes", list(shape_type()), false),
        ("small", T::U64, false),
        ("medium", T::U64, false),
        ("signed", T::I64, false),
        ("ratio", T::F64, false),
        ("letter", T::String, false),
        ("nan", T::F64, false),
        ("neg_zero", T::F64, false),
        ("big", T::U64, false),
        ("least", T::I64, false),
        ("huge", T::I64, false),
        ("pair", T::Tuple(vec![T::U64, T::String, T::Bool]), false),
        ("tuple_struct", T::Tuple(vec![T::I64, T::String]), false),
        ("unit", T::Tuple(vec![]), false),
        ("marker", T::Tuple(vec![]), false),
        ("length", T::F64, false),
        ("maybe_maybe", T::U64, true),
        ("sparse", list(opt(T::U64)), false),
        ("avatar", T::Bytes, false),
        ("owner", T::Ref, false),
        ("level", T::String, false),
        ("matrix", list(list(T::I64)), false),
        ("nothing", T::String, true),
    ])
}

/// The same fields, every one schemaless (`Any`, optional).
fn any_class() -> ClassDef {
    let mut c = everything_class();
    for f in &mut c.fields {
        f.ty = FieldType::Any;
        f.optional = true;
    }
    c
}

fn everything() -> Everything {
    Everything {
        tags: vec!["a".into(), String::new(), "ünï".into()],
        home: Some(Address {
            street: "Main St".into(),
            zip: 12345,
            unit: None,
        }),
        work: None,
        counts: [("x".to_string(), 1), ("y".to_string(), u32::MAX)]
            .into_iter()
            .collect(),
        by_id: [
            (10, "ten".to_string()),
            (9, "nine".into()),
            (u64::MAX, "max".into()),
        ]
        .into_iter()
        .collect(),
        by_char: [('z', -1), ('é', i8::MIN)].into_iter().collect(),
        by_color: [(Color::Red, true), (Color::Green, false)]
            .into_iter()
            .collect(),
        shapes: vec![
            Shape::Dot,
            Shape::Circle(F64(-0.0)),
            Shape::Rect(3, u32::MAX),
            Shape::Poly {
                sides: 5,
                name: Some("pentagon".into()),
            },
            Shape::Poly {
                sides: 0,
                name: None,
            },
        ],
        small: u8::MAX,
        medium: u32::MAX,
        signed: i16::MIN,
        ratio: F32(f32::from_bits(0x7FC0_1234)), // a NaN with a payload
        letter: 'ß',
        nan: F64(f64::from_bits(0xFFF0_0000_DEAD_BEEF)), // a negative signalling NaN
        neg_zero: F64(-0.0),
        big: u64::MAX,
        least: i64::MIN,
        huge: -5,
        pair: (7, "seven".into(), true),
        tuple_struct: Pair(-8, "eight".into()),
        unit: (),
        marker: Marker,
        length: Meters(F64(f64::INFINITY)),
        maybe_maybe: Some(Some(3)),
        sparse: vec![Some(1), None, Some(u32::MAX)],
        avatar: vec![0, 1, 255],
        owner: ObjectId(42),
        level: Color::Green,
        matrix: vec![vec![], vec![i64::MIN, i64::MAX]],
        nothing: None,
    }
}

#[test]
fn every_serde_shape_round_trips_through_its_declared_types() {
    let class = everything_class();
    let item = everything();
    assert_eq!(round_trip(&class, &item), item);
    let empty = Everything {
        maybe_maybe: None,
        home: None,
        tags: vec![],
        ..item
    };
    assert_eq!(round_trip(&class, &empty), empty);
}

#[test]
fn every_serde_shape_round_trips_through_schemaless_fields() {
    let class = any_class();
    let item = everything();
    assert_eq!(round_trip(&class, &item), item);
}

#[test]
fn stored_values_are_those_of_the_design() {
    let class = everything_class();
    let fields = to_fields(&class, &everything()).expect("fields");
    let get = |name: &str| {
        let id = class.field(name).expect("field").id;
        fields
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, v)| v.clone())
            .expect("present")
    };
    assert_eq!(get("small"), Value::U64(255));
    assert_eq!(get("signed"), Value::I64(-32768));
    assert_eq!(get("letter"), Value::from("ß"));
    assert_eq!(get("unit"), Value::List(vec![]));
    assert_eq!(get("level"), Value::from("Green"));
    assert_eq!(get("owner"), Value::Ref(ObjectId(42)));
    assert_eq!(get("avatar"), Value::Bytes(vec![0, 1, 255]));
    assert_eq!(get("maybe_maybe"), Value::U64(3));
    assert_eq!(get("nothing"), Value::Absent);
    assert_eq!(
        get("sparse"),
        Value::List(vec![
            Value::U64(1),
            Value::Absent,
            Value::U64(u32::MAX.into())
        ])
    );
    // Integer keys as decimal strings (so in string order), chars as strings.
    let Value::Map(by_id) = get("by_id") else {
        panic!("a map")
    };
    let keys: Vec<&str> = by_id.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["10", "18446744073709551615", "9"]);
    assert_eq!(
        get("home"),
        Value::map([
            ("street".to_string(), Value::from("Main St")),
            ("zip".to_string(), Value::U64(12345)),
        ])
        .expect("map"),
        "a None member is left out"
    );
    let Value::List(shapes) = get("shapes") else {
        panic!("a list")
    };
    assert_eq!(shapes[0], Value::variant("Dot", Value::Absent));
    assert_eq!(
        shapes[2],
        Value::variant(
            "Rect",
            Value::List(vec![Value::U64(3), Value::U64(u32::MAX.into())])
        )
    );
    // The NaN's bits, as written.
    let Value::F64(nan) = get("nan") else {
        panic!("a float")
    };
    assert_eq!(nan.to_bits(), 0xFFF0_0000_DEAD_BEEF);
    let Value::F64(ratio) = get("ratio") else {
        panic!("a float")
    };
    assert!(ratio.is_nan());
}

#[test]
fn schemaless_fields_get_serdes_own_mapping() {
    let class = any_class();
    let fields = to_fields(&class, &everything()).expect("fields");
    let get = |name: &str| {
        let id = class.field(name).expect("field").id;
        fields
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("level"), Some(Value::variant("Green", Value::Absent)));
    assert_eq!(get("owner"), Some(Value::U64(42)));
    assert_eq!(get("huge"), Some(Value::I64(-5)));
    assert_eq!(
        get("avatar"),
        Some(Value::List(vec![
            Value::U64(0),
            Value::U64(1),
            Value::U64(255)
        ]))
    );
}

#[test]
fn borrowed_strings_and_bytes_are_lent_from_the_record() {
    #[derive(Serialize, Deserialize)]
    struct Borrowed<'a> {
        name: &'a str,
        raw: &'a [u8],
        #[serde(borrow)]
        cow: Cow<'a, str>,
        #[serde(borrow)]
        words: Vec<&'a str>,
    }
    let class = class(vec![
        ("name", FieldType::String, false),
        ("raw", FieldType::Bytes, false),
        ("cow", FieldType::String, false),
        ("words", list(FieldType::String), false),
    ]);
    let bytes = store(
        &class,
        &Borrowed {
            name: "alice",
            raw: b"\x00\x01",
            cow: Cow::Borrowed("bob"),
            words: vec!["x", "yz"],
        },
    )
    .expect("store");
    let back: Borrowed<'_> = load(&class, &bytes).expect("load");
    let inside = |p: *const u8| bytes.as_ptr_range().contains(&p);
    assert_eq!(back.name, "alice");
    assert!(inside(back.name.as_ptr()));
    assert_eq!(back.raw, b"\x00\x01");
    assert!(inside(back.raw.as_ptr()));
    assert!(matches!(back.cow, Cow::Borrowed("bob")));
    assert_eq!(back.words, ["x", "yz"]);
    assert!(inside(back.words[1].as_ptr()));
}

#[test]
fn a_struct_reads_only_its_fields_and_absent_ones_take_their_defaults() {
    let class = everything_class();
    let bytes = store(&class, &everything()).expect("store");
    #[derive(Debug, PartialEq, Deserialize)]
    struct Part {
        small: u8,
        work: Option<Address>,
        #[serde(default)]
        nothing: String,
        /// Not a field of the class: its default.
        #[serde(default)]
        extra: u32,
    }
    let part: Part = load(&class, &bytes).expect("load");
    assert_eq!(
        part,
        Part {
            small: 255,
            work: None,
            nothing: String::new(),
            extra: 0
        }
    );
    // A map reads every present field.
    let all: BTreeMap<String, serde::de::IgnoredAny> = load(&class, &bytes).expect("load");
    assert!(all.contains_key("pair") && !all.contains_key("work"));
}

// ----------------------------------------------------------------- refusals

fn err<T: Serialize>(class: &ClassDef, item: &T) -> Error {
    match to_fields(class, item) {
        Ok(fields) => panic!("accepted: {fields:?}"),
        Err(e) => e,
    }
}

#[test]
fn some_none_is_refused_not_stored_as_none() {
    #[derive(Serialize)]
    struct Doubled {
        maybe_maybe: Option<Option<u32>>,
    }
    let class = everything_class();
    let e = err(
        &class,
        &Doubled {
            maybe_maybe: Some(None),
        },
    );
    assert!(
        matches!(&e, Error::Serde { class, what, .. } if class == "thing" && what.contains("maybe_maybe")),
        "{e:?}"
    );
    assert!(e.to_string().contains("Some(None)"), "{e}");
    // Inside a list too.
    #[derive(Serialize)]
    struct Sparse {
        sparse: Vec<Option<Option<u32>>>,
    }
    let e = err(
        &class,
        &Sparse {
            sparse: vec![Some(Some(1)), Some(None)],
        },
    );
    assert!(
        matches!(&e, Error::Serde { what, .. } if what.contains("sparse[1]")),
        "{e:?}"
    );
    // Some(Some(x)) and None are fine.
    #[derive(Serialize)]
    struct Fine {
        maybe_maybe: Option<Option<u32>>,
    }
    to_fields(
        &class,
        &Fine {
            maybe_maybe: Some(Some(1)),
        },
    )
    .expect("Some(Some)");
    to_fields(&class, &Fine { maybe_maybe: None }).expect("None");
}

#[test]
fn integers_out_of_the_declared_range_name_the_path() {
    let class = class(vec![
        ("count", FieldType::U64, false),
        ("delta", FieldType::I64, false),
        ("xs", list(FieldType::U64), false),
        ("raw", FieldType::Bytes, false),
        ("home", address_type(), false),
    ]);
    fn out_of_range(e: &Error) -> (&str, &str, &str) {
        match e {
            Error::OutOfRange {
                field,
                value,
                expected,
                ..
            } => (field.as_str(), value.as_str(), expected.as_str()),
            other => panic!("not OutOfRange: {other:?}"),
        }
    }
    #[derive(Serialize)]
    struct Count<T> {
        count: T,
    }
    let e = err(&class, &Count { count: -1i32 });
    assert_eq!(out_of_range(&e), ("count", "-1", "u64"));
    let e = err(&class, &Count { count: u128::MAX });
    assert_eq!(out_of_range(&e).0, "count");
    let e = err(&class, &Count { count: -1i128 });
    assert_eq!(out_of_range(&e).0, "count");
    #[derive(Serialize)]
    struct Delta {
        delta: u64,
    }
    let e = err(&class, &Delta { delta: u64::MAX });
    assert_eq!(out_of_range(&e), ("delta", "18446744073709551615", "i64"));
    #[derive(Serialize)]
    struct Xs {
        xs: Vec<i64>,
    }
    let e = err(&class, &Xs { xs: vec![1, -2] });
    assert_eq!(out_of_range(&e), ("xs[1]", "-2", "u64"));
    #[derive(Serialize)]
    struct Raw {
        raw: Vec<u16>,
    }
    let e = err(&class, &Raw { raw: vec![1, 300] });
    assert_eq!(out_of_range(&e), ("raw[1]", "300", "u8"));
    #[derive(Serialize)]
    struct Zip {
        street: String,
        zip: i64,
    }
    #[derive(Serialize)]
    struct Home {
        home: Zip,
    }
    let e = err(
        &class,
        &Home {
            home: Zip {
                street: "s".into(),
                zip: -3,
            },
        },
    );
    assert_eq!(out_of_range(&e), ("home.zip", "-3", "u64"));
}

#[test]
fn wrong_nested_shapes_name_the_path() {
    let class = everything_class();
    /// The whole path, the expected type, what was found.
    fn wrong(e: &Error) -> (String, &str, &str) {
        match e {
            Error::WrongType {
                field,
                path,
                expected,
                found,
                ..
            } => (format!("{field}{path}"), expected.as_str(), found.as_str()),
            other => panic!("not WrongType: {other:?}"),
        }
    }
    #[derive(Serialize)]
    struct Tags {
        tags: Address,
    }
    let e = err(
        &class,
        &Tags {
            tags: Address {
                street: "s".into(),
                zip: 1,
                unit: None,
            },
        },
    );
    assert_eq!(wrong(&e), ("tags".into(), "list<string>", "nested struct"));
    #[derive(Serialize)]
    struct Home {
        home: HashMap<&'static str, &'static str>,
    }
    let e = err(
        &class,
        &Home {
            home: [("street", "s"), ("zip", "12")].into_iter().collect(),
        },
    );
    assert_eq!(wrong(&e), ("home.zip".into(), "u64", "string"));
    #[derive(Serialize)]
    struct Matrix {
        matrix: Vec<Vec<&'static str>>,
    }
    let e = err(
        &class,
        &Matrix {
            matrix: vec![vec![], vec!["x"]],
        },
    );
    assert_eq!(wrong(&e), ("matrix[1][0]".into(), "i64", "string"));
    #[derive(Serialize)]
    enum OtherShape {
        Circle(String),
    }
    #[derive(Serialize)]
    struct Shapes {
        shapes: Vec<OtherShape>,
    }
    let e = err(
        &class,
        &Shapes {
            shapes: vec![OtherShape::Circle("round".into())],
        },
    );
    assert_eq!(wrong(&e), ("shapes[0]::Circle".into(), "f64", "string"));
    #[derive(Serialize)]
    struct Counts {
        counts: BTreeMap<&'static str, bool>,
    }
    let e = err(
        &class,
        &Counts {
            counts: [("k", true)].into_iter().collect(),
        },
    );
    assert_eq!(wrong(&e), ("counts{\"k\"}".into(), "u64", "bool"));
    // A member the struct type does not have, or a required one missing.
    #[derive(Serialize)]
    struct Extra {
        street: String,
        zip: u32,
        floor: u8,
    }
    #[derive(Serialize)]
    struct WithExtra {
        home: Extra,
    }
    let e = err(
        &class,
        &WithExtra {
            home: Extra {
                street: "s".into(),
                zip: 1,
                floor: 2,
            },
        },
    );
    assert!(
        matches!(&e, Error::UnknownField { class, field } if class == "thing" && field == "home.floor"),
        "{e:?}"
    );
    #[derive(Serialize)]
    struct NoZip {
        street: String,
        zip: Option<u32>,
    }
    #[derive(Serialize)]
    struct WithNoZip {
        home: NoZip,
    }
    let e = err(
        &class,
        &WithNoZip {
            home: NoZip {
                street: "s".into(),
                zip: None,
            },
        },
    );
    assert!(
        matches!(&e, Error::MissingField { field, .. } if field == "home.zip"),
        "{e:?}"
    );
    // A variant the enum type does not declare; a tuple of another length.
    #[derive(Serialize)]
    enum Hex {
        Hexagon,
    }
    #[derive(Serialize)]
    struct Hexes {
        shapes: Vec<Hex>,
    }
    let e = err(
        &class,
        &Hexes {
            shapes: vec![Hex::Hexagon],
        },
    );
    assert!(
        matches!(&e, Error::Serde { what, .. } if what.contains("shapes[0]")),
        "{e:?}"
    );
    #[derive(Serialize)]
    struct Pair2 {
        pair: (u8, String),
    }
    let e = err(
        &class,
        &Pair2 {
            pair: (1, "x".into()),
        },
    );
    assert!(
        matches!(&e, Error::Serde { what, .. } if what.contains("pair")),
        "{e:?}"
    );
    // Map keys that are not strings, integers, chars or unit variants.
    #[derive(Serialize)]
    struct FloatKeys {
        counts: Vec<(u8, u8)>,
    }
    let e = err(
        &class,
        &FloatKeys {
            counts: vec![(1, 2)],
        },
    );
    assert_eq!(wrong(&e), ("counts".into(), "map<u64>", "list"));
    #[derive(Serialize)]
    struct Keys {
        counts: BTreeMap<(u8, u8), u32>,
    }
    let e = err(
        &class,
        &Keys {
            counts: [((1, 2), 3)].into_iter().collect(),
        },
    );
    assert!(
        matches!(&e, Error::Serde { what, .. } if what.contains("counts")),
        "{e:?}"
    );
}

#[test]
fn top_level_refusals() {
    let class = everything_class();
    #[derive(Serialize)]
    struct Unknown {
        nope: u8,
    }
    assert!(matches!(
        err(&class, &Unknown { nope: 1 }),
        Error::UnknownField { field, .. } if field == "nope"
    ));
    #[derive(Serialize)]
    struct Required {
        small: Option<u8>,
    }
    assert!(matches!(
        err(&class, &Required { small: None }),
        Error::MissingField { field, .. } if field == "small"
    ));
    assert!(matches!(err(&class, &5u8), Error::Serde { .. }));
    assert!(matches!(err(&class, &vec![1u8]), Error::Serde { .. }));
    // A map naming a field twice (a string-keyed map is an object too).
    struct Twice;
    impl Serialize for Twice {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("small", &1u8)?;
            m.serialize_entry("small", &2u8)?;
            m.end()
        }
    }
    assert!(matches!(
        err(&class, &Twice),
        Error::DuplicateName { kind: "field", name } if name == "small"
    ));
    // A Serialize impl's own error gets the path where it happened.
    struct Failing;
    impl Serialize for Failing {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("cannot serialize this"))
        }
    }
    #[derive(Serialize)]
    struct WithFailing {
        tags: Vec<Failing>,
    }
    let e = err(
        &class,
        &WithFailing {
            tags: vec![Failing],
        },
    );
    assert!(
        matches!(&e, Error::Serde { what, source, .. }
            if what.contains("tags[0]") && source.to_string() == "cannot serialize this"),
        "{e:?}"
    );
}

/// Lists nested `n` deep: `Tree(vec![Tree(vec![..])])`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Tree(Vec<Tree>);

fn tree(n: usize) -> Tree {
    (0..n.saturating_sub(1)).fold(Tree(vec![]), |t, _| Tree(vec![t]))
}

#[test]
fn nesting_deeper_than_max_depth_is_a_typed_error() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        tree: Tree,
    }
    let class = class(vec![("tree", FieldType::Any, false)]);
    let deepest = Holder {
        tree: tree(MAX_DEPTH),
    };
    assert_eq!(round_trip(&class, &deepest), deepest);
    let e = err(
        &class,
        &Holder {
            tree: tree(MAX_DEPTH + 1),
        },
    );
    assert!(
        matches!(&e, Error::TooDeep { class, field, depth: 65, max: MAX_DEPTH } if class == "thing" && field == "tree"),
        "{e:?}"
    );
    // Variants count as a level too.
    #[derive(Serialize)]
    enum Nest {
        Leaf,
        In(Box<Nest>),
    }
    let nest = |n: usize| (1..n).fold(Nest::Leaf, |t, _| Nest::In(Box::new(t)));
    #[derive(Serialize)]
    struct Nests {
        tree: Nest,
    }
    to_fields(
        &class,
        &Nests {
            tree: nest(MAX_DEPTH),
        },
    )
    .expect("64 levels");
    assert!(matches!(
        err(
            &class,
            &Nests {
                tree: nest(MAX_DEPTH + 1)
            }
        ),
        Error::TooDeep { .. }
    ));
}

// --------------------------------------------------- reading what was written

/// A record written by the dynamic API, read into narrower Rust types.
fn record_of(class: &ClassDef, values: Vec<(&str, Value)>) -> Vec<u8> {
    let mut fields: Vec<(FieldId, Value)> = values
        .into_iter()
        .map(|(n, v)| (class.field(n).expect("field").id, v))
        .collect();
    fields.sort_by_key(|(id, _)| *id);
    ObjectRecord {
        class: class.id,
        fields,
    }
    .encode()
}

#[test]
fn reading_into_narrower_types_is_range_checked() {
    let class = class(vec![
        ("small", FieldType::U64, false),
        ("ratio", FieldType::F64, false),
        ("ids", map(FieldType::U64), false),
    ]);
    #[derive(Debug, Deserialize)]
    struct Small {
        #[allow(dead_code)]
        small: u8,
    }
    let bytes = record_of(&class, vec![("small", Value::U64(256))]);
    let e = load::<Small>(&class, &bytes).expect_err("256 into u8");
    assert!(
        matches!(&e, Error::OutOfRange { field, value, expected, .. } if field == "small" && value == "256" && expected == "u8"),
        "{e:?}"
    );
    #[derive(Debug, Deserialize)]
    struct Ratio {
        #[allow(dead_code)]
        ratio: f32,
    }
    let bytes = record_of(&class, vec![("ratio", Value::F64(1e300))]);
    let e = load::<Ratio>(&class, &bytes).expect_err("1e300 into f32");
    assert!(
        matches!(&e, Error::OutOfRange { field, expected, .. } if field == "ratio" && expected == "f32"),
        "{e:?}"
    );
    let bytes = record_of(&class, vec![("ratio", Value::F64(0.1))]);
    let r: Ratio = load(&class, &bytes).expect("0.1 narrows");
    assert_eq!(r.ratio, 0.1f32);
    #[derive(Debug, Deserialize)]
    struct Ids {
        #[allow(dead_code)]
        ids: BTreeMap<u32, u64>,
    }
    let ids = Value::map([
        ("1".to_string(), Value::U64(1)),
        ("x".to_string(), Value::U64(2)),
    ])
    .expect("map");
    let bytes = record_of(&class, vec![("ids", ids)]);
    let e = load::<Ids>(&class, &bytes).expect_err("x is not a u32");
    assert!(
        matches!(&e, Error::Serde { what, source, .. } if what.contains("ids{\"x\"}") && source.to_string().contains("u32")),
        "{e:?}"
    );
    // A struct member of the wrong type names its path.
    #[derive(Debug, Deserialize)]
    struct Wrong {
        #[allow(dead_code)]
        ids: BTreeMap<String, String>,
    }
    let ids = Value::map([("a".to_string(), Value::U64(1))]).expect("map");
    let bytes = record_of(&class, vec![("ids", ids)]);
    let e = load::<Wrong>(&class, &bytes).expect_err("u64 into String");
    assert!(
        matches!(&e, Error::Serde { what, .. } if what.contains("ids{\"a\"}")),
        "{e:?}"
    );
}

#[test]
fn a_unit_variant_stored_as_its_name_reads_back() {
    let class = class(vec![("level", FieldType::String, false)]);
    #[derive(Debug, PartialEq, Deserialize)]
    struct Level {
        level: Color,
    }
    let bytes = record_of(&class, vec![("level", Value::from("Red"))]);
    assert_eq!(
        load::<Level>(&class, &bytes).expect("load"),
        Level { level: Color::Red }
    );
}

// --------------------------------------------------------------- proptests

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Generated {
    ints: Vec<i64>,
    words: HashMap<String, Option<u32>>,
    floats: Vec<F64>,
    singles: Vec<F32>,
    shapes: Vec<(u8, Shape)>,
    deep: BTreeMap<u64, Vec<Option<String>>>,
    keyed: BTreeMap<i16, char>,
    home: Option<Address>,
    blob: Vec<u8>,
}

fn generated_class() -> ClassDef {
    use FieldType as T;
    class(vec![
        ("ints", list(T::I64), false),
        ("words", map(opt(T::U64)), false),
        ("floats", list(T::F64), false),
        ("singles", list(T::F64), false),
        ("shapes", list(T::Tuple(vec![T::U64, shape_type()])), false),
        ("deep", map(list(opt(T::String))), false),
        ("keyed", map(T::String), false),
        ("home", address_type(), true),
        ("blob", T::Bytes, false),
    ])
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Dot),
        any::<u64>().prop_map(|b| Shape::Circle(F64(f64::from_bits(b)))),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| Shape::Rect(a, b)),
        (any::<u8>(), proptest::option::of(".{0,4}"))
            .prop_map(|(sides, name)| Shape::Poly { sides, name }),
    ]
}

fn generated() -> impl Strategy<Value = Generated> {
    use proptest::collection::{btree_map, hash_map, vec};
    (
        vec(any::<i64>(), 0..4),
        hash_map(".{0,3}", proptest::option::of(any::<u32>()), 0..4),
        vec(any::<u64>().prop_map(|b| F64(f64::from_bits(b))), 0..4),
        vec(any::<u32>().prop_map(|b| F32(f32::from_bits(b))), 0..4),
        vec((any::<u8>(), shape()), 0..4),
        btree_map(
            any::<u64>(),
            vec(proptest::option::of(".{0,3}"), 0..3),
            0..3,
        ),
        btree_map(any::<i16>(), any::<char>(), 0..3),
        proptest::option::of(
            (".{0,4}", any::<u32>(), proptest::option::of(any::<u16>()))
                .prop_map(|(street, zip, unit)| Address { street, zip, unit }),
        ),
        vec(any::<u8>(), 0..6),
    )
        .prop_map(
            |(ints, words, floats, singles, shapes, deep, keyed, home, blob)| Generated {
                ints,
                words,
                floats,
                singles,
                shapes,
                deep,
                keyed,
                home,
                blob,
            },
        )
}

/// Any value, nested at most `depth` levels.
fn value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Absent),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<u64>().prop_map(Value::U64),
        any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
        ".{0,4}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        any::<u64>().prop_map(|u| Value::Ref(ObjectId(u))),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::btree_map(".{0,3}", inner.clone(), 0..4)
                .prop_map(|m| Value::Map(m.into_iter().collect())),
            (".{0,3}", inner).prop_map(|(n, v)| Value::variant(n, v)),
        ]
    })
}

proptest! {
    #[test]
    fn generated_structs_round_trip_bit_for_bit(item in generated()) {
        let class = generated_class();
        prop_assert_eq!(&round_trip(&class, &item), &item);
        let mut any = class.clone();
        for f in &mut any.fields {
            f.ty = FieldType::Any;
        }
        prop_assert_eq!(&round_trip(&any, &item), &item);
    }

    /// `Value` itself through a schemaless field: stored as the value (not
    /// as serde's tagging of the enum) and read back equal. `Absent` at the
    /// top is no value: a required field refuses it, as the dynamic API
    /// does (it once went in as a variant named "Absent").
    #[test]
    fn nested_values_round_trip_through_a_schemaless_field(v in value(4)) {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Holder { v: Value }
        let class = class(vec![("v", FieldType::Any, false)]);
        let item = Holder { v };
        if matches!(item.v, Value::Absent) {
            let refused = matches!(store(&class, &item), Err(Error::MissingField { .. }));
            prop_assert!(refused);
        } else {
            let bytes = store(&class, &item).expect("store");
            let view = RecordView::new(&bytes).expect("a valid record");
            let stored = view.field(class.fields[0].id).expect("decodes").to_value();
            prop_assert_eq!(&stored, &item.v);
            prop_assert_eq!(&load::<Holder>(&class, &bytes).expect("load"), &item);
        }
    }

    /// Whatever the declared type, a struct is stored with values of that
    /// type (checked in `store`) or refused with a typed error; it never
    /// panics.
    #[test]
    fn any_struct_against_any_declared_type_fits_or_is_refused(
        item in generated(),
        pick in proptest::collection::vec(0usize..9, 9),
    ) {
        let base = generated_class();
        let types: Vec<FieldType> = base.fields.iter().map(|f| f.ty.clone()).collect();
        let mut shuffled = base.clone();
        for (f, p) in shuffled.fields.iter_mut().zip(pick) {
            f.ty = types[p].clone();
        }
        if let Ok(bytes) = store(&shuffled, &item) {
            // Read back as the same struct: equal, or a typed error.
            let _ = load::<Generated>(&shuffled, &bytes);
        }
    }
}

#[test]
fn f32_widening_and_narrowing_keep_every_bit() {
    use super::de::narrow;
    use super::ser::widen;
    for bits in [
        0u32,
        0x8000_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0000,
        0x7F80_0001,
        0xFFC1_2345,
        0x0000_0001,
        0x3DCC_CCCD,
    ] {
        let f = f32::from_bits(bits);
        assert_eq!(narrow(widen(f)).map(f32::to_bits), Some(bits), "{bits:#x}");
    }
    assert_eq!(narrow(f64::MAX), None);
    assert_eq!(narrow(f64::NEG_INFINITY), Some(f32::NEG_INFINITY));
}

/// serde's buffered shapes (flatten, internally tagged and untagged enums)
/// go through `deserialize_any`: the stored values describe themselves.
#[test]
fn flattened_structs_and_tagged_enums_round_trip() {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Tagged {
        Circle { r: u32 },
        Square { side: u32 },
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Number(u64),
        Text(String),
        Pair(Vec<u8>),
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Common {
        name: String,
        level: Color,
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Flat {
        #[serde(flatten)]
        common: Common,
        tagged: Tagged,
        loose: Vec<Loose>,
        shape: Shape,
    }
    let class = class(vec![
        ("name", FieldType::String, false),
        ("level", FieldType::Any, false),
        ("tagged", FieldType::Any, false),
        ("loose", FieldType::Any, false),
        ("shape", FieldType::Any, false),
    ]);
    let item = Flat {
        common: Common {
            name: "n".into(),
            level: Color::Red,
        },
        tagged: Tagged::Square { side: 3 },
        loose: vec![
            Loose::Number(7),
            Loose::Text("t".into()),
            Loose::Pair(vec![1, 2]),
        ],
        shape: Shape::Rect(1, 2),
    };
    assert_eq!(round_trip(&class, &item), item);
}
