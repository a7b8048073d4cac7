//! The typed API over the whole serde data model (format v2): nested
//! structs, lists, maps, enums with data, every integer width, `f32`,
//! `char` and NaN stored with `insert_typed` into a class with nested field
//! types and read back equal (bit for bit) with `get_typed`; bad input is a
//! typed error naming the class and the value's path, with nothing written.

use std::collections::{BTreeMap, HashMap};

use rockhold::{ClassSpec, Error, FieldSpec, FieldType, ObjectId, Options, Value};
use rockhold_format::{MemberDef, VariantDef, MAX_DEPTH};
use rockhold_tests::{assert_invariant, TempDb};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    street: String,
    city: String,
    zip: u32,
    floor: Option<i16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Contact {
    Nobody,
    Email(String),
    Phone(u16, u64),
    Post { to: Address, signed: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Person {
    name: String,
    tags: Vec<String>,
    home: Option<Address>,
    scores: HashMap<String, u32>,
    history: BTreeMap<u64, Vec<i64>>,
    contact: Contact,
    others: Vec<Contact>,
    age: u8,
    visits: u32,
    offset: i16,
    ratio: f32,
    weight: f64,
    initial: char,
    pair: (u8, String),
    friend: Option<ObjectId>,
    anything: Option<BTreeMap<String, Vec<u8>>>,
}

fn member(name: &str, ty: FieldType, optional: bool) -> MemberDef {
    MemberDef {
        name: name.into(),
        ty,
        optional,
    }
}

fn address_type() -> FieldType {
    FieldType::Struct(vec![
        member("street", FieldType::String, false),
        member("city", FieldType::String, false),
        member("zip", FieldType::U64, false),
        member("floor", FieldType::I64, true),
    ])
}

fn contact_type() -> FieldType {
    let variant = |name: &str, payload: Option<FieldType>| VariantDef {
        name: name.into(),
        payload,
    };
    FieldType::Enum(vec![
        variant("Nobody", None),
        variant("Email", Some(FieldType::String)),
        variant(
            "Phone",
            Some(FieldType::Tuple(vec![FieldType::U64, FieldType::U64])),
        ),
        variant(
            "Post",
            Some(FieldType::Struct(vec![
                member("to", address_type(), false),
                member("signed", FieldType::Bool, false),
            ])),
        ),
    ])
}

fn person_spec() -> ClassSpec {
    let list = |t| FieldType::List(Box::new(t));
    let map = |t| FieldType::Map(Box::new(t));
    ClassSpec::new("person")
        .field(FieldSpec::new("name", FieldType::String))
        .field(FieldSpec::new("tags", list(FieldType::String)))
        .field(FieldSpec::new("home", address_type()).optional())
        .field(FieldSpec::new("scores", map(FieldType::U64)))
        .field(FieldSpec::new("history", map(list(FieldType::I64))))
        .field(FieldSpec::new("contact", contact_type()))
        .field(FieldSpec::new("others", list(contact_type())))
        .field(FieldSpec::new("age", FieldType::U64))
        .field(FieldSpec::new("visits", FieldType::U64))
        .field(FieldSpec::new("offset", FieldType::I64))
        .field(FieldSpec::new("ratio", FieldType::F64))
        .field(FieldSpec::new("weight", FieldType::F64))
        .field(FieldSpec::new("initial", FieldType::String))
        .field(FieldSpec::new(
            "pair",
            FieldType::Tuple(vec![FieldType::U64, FieldType::String]),
        ))
        .field(FieldSpec::new("friend", FieldType::Ref).optional())
        .field(FieldSpec::new("anything", FieldType::Any).optional())
}

fn address() -> Address {
    Address {
        street: "1 Main St".into(),
        city: "Springfield".into(),
        zip: 12345,
        floor: Some(-1),
    }
}

fn person() -> Person {
    Person {
        name: "Ann".into(),
        tags: vec!["admin".into(), String::new(), "ünïcödé".into()],
        home: Some(address()),
        scores: [("chess".to_string(), 1200), ("go".to_string(), u32::MAX)]
            .into_iter()
            .collect(),
        history: [
            (9, vec![i64::MIN, 0]),
            (10, vec![]),
            (u64::MAX, vec![i64::MAX]),
        ]
        .into_iter()
        .collect(),
        contact: Contact::Post {
            to: Address {
                floor: None,
                ..address()
            },
            signed: true,
        },
        others: vec![
            Contact::Nobody,
            Contact::Email("ann@x".into()),
            Contact::Phone(44, u64::MAX),
        ],
        age: u8::MAX,
        visits: u32::MAX,
        offset: i16::MIN,
        ratio: f32::from_bits(0x7FC0_0ABC), // a NaN with a payload
        weight: f64::NAN,
        initial: 'ß',
        pair: (1, "one".into()),
        friend: None,
        anything: Some([("blob".to_string(), vec![0, 255])].into_iter().collect()),
    }
}

/// Equal, with floats compared by their bits (NaN != NaN under `==`).
fn assert_same(back: &Person, sent: &Person) {
    assert_eq!(back.ratio.to_bits(), sent.ratio.to_bits());
    assert_eq!(back.weight.to_bits(), sent.weight.to_bits());
    let strip = |p: &Person| Person {
        ratio: 0.0,
        weight: 0.0,
        ..p.clone()
    };
    assert_eq!(strip(back), strip(sent));
}

fn dbs() -> [TempDb; 2] {
    [TempDb::new(), TempDb::in_memory(Options::default())]
}

fn count(db: &TempDb) -> usize {
    db.scan_class("default", "person", None, usize::MAX)
        .expect("scan")
        .len()
}

#[test]
fn nested_structs_lists_maps_and_enums_round_trip() {
    for db in dbs() {
        db.create_class("default", &person_spec()).expect("class");
        let mut ann = person();
        let ann_id = db.insert_typed("default", "person", &ann).expect("insert");
        let back: Person = db
            .get_typed("default", ann_id)
            .expect("get")
            .expect("present");
        assert_same(&back, &ann);

        // A second object referring to the first; -0.0 and no home.
        let bob = Person {
            name: "Bob".into(),
            home: None,
            friend: Some(ann_id),
            weight: -0.0,
            ratio: -0.0,
            contact: Contact::Nobody,
            anything: None,
            ..person()
        };
        let bob_id = db.insert_typed("default", "person", &bob).expect("insert");
        let back: Person = db.get_typed("default", bob_id).expect("get").expect("bob");
        assert_same(&back, &bob);

        // Updates replace the struct's fields; None clears.
        ann.home = None;
        ann.tags.push("new".into());
        ann.contact = Contact::Phone(1, 2);
        db.update_typed("default", ann_id, &ann).expect("update");
        let back: Person = db.get_typed("default", ann_id).expect("get").expect("ann");
        assert_same(&back, &ann);

        // The dynamic API sees the nested values of the design.
        let stored = db.get("default", ann_id).expect("get").expect("object");
        assert_eq!(
            stored.get("contact"),
            Some(&Value::variant(
                "Phone",
                Value::List(vec![Value::U64(1), Value::U64(2)])
            ))
        );
        assert_eq!(stored.get("initial"), Some(&Value::from("ß")));
        assert_eq!(stored.get("home"), None);
        assert_eq!(count(&db), 2);
        assert_invariant(db.db());
    }
}

/// Each bad input is a typed error naming the class and the path of the
/// value; nothing is written.
#[test]
fn bad_nested_input_is_a_typed_error_and_writes_nothing() {
    for db in dbs() {
        db.create_class("default", &person_spec()).expect("class");

        // A wrong nested shape: a member of the wrong type.
        #[derive(Serialize)]
        struct BadAddress {
            street: String,
            city: u32,
            zip: u32,
        }
        #[derive(Serialize)]
        struct BadHome {
            home: BadAddress,
        }
        let e = db
            .insert_typed(
                "default",
                "person",
                &BadHome {
                    home: BadAddress {
                        street: "s".into(),
                        city: 5,
                        zip: 1,
                    },
                },
            )
            .expect_err("a number for a string member");
        assert!(
            matches!(&e, Error::WrongType { class, field, path, .. } if class == "person" && field == "home" && path == ".city"),
            "{e:?}"
        );
        assert!(e.is_caller_error());

        // A list where a map is declared, inside an enum's struct variant.
        #[derive(Serialize)]
        enum BadContact {
            Post { to: Vec<String>, signed: bool },
        }
        #[derive(Serialize)]
        struct WithBadContact {
            contact: BadContact,
        }
        let e = db
            .insert_typed(
                "default",
                "person",
                &WithBadContact {
                    contact: BadContact::Post {
                        to: vec![],
                        signed: false,
                    },
                },
            )
            .expect_err("a list for a struct member");
        assert!(
            matches!(&e, Error::WrongType { field, path, .. } if field == "contact" && path == "::Post.to"),
            "{e:?}"
        );

        // An integer out of range for the declared width, deep inside.
        #[derive(Serialize)]
        struct BadHistory {
            history: BTreeMap<u64, Vec<u64>>,
        }
        let e = db
            .insert_typed(
                "default",
                "person",
                &BadHistory {
                    history: [(7, vec![1, u64::MAX])].into_iter().collect(),
                },
            )
            .expect_err("u64::MAX into i64");
        assert!(
            matches!(&e, Error::OutOfRange { class, field, expected, .. }
                if class == "person" && field == "history{\"7\"}[1]" && expected == "i64"),
            "{e:?}"
        );
        #[derive(Serialize)]
        struct NegativeAge {
            age: i32,
        }
        let e = db
            .insert_typed("default", "person", &NegativeAge { age: -1 })
            .expect_err("negative into u64");
        assert!(
            matches!(&e, Error::OutOfRange { field, .. } if field == "age"),
            "{e:?}"
        );

        // Nesting too deep (in the schemaless field).
        #[derive(Serialize)]
        struct Tree(Vec<Tree>);
        let mut tree = Tree(vec![]);
        for _ in 0..MAX_DEPTH {
            tree = Tree(vec![tree]);
        }
        #[derive(Serialize)]
        struct Deep {
            anything: Tree,
        }
        let e = db
            .insert_typed("default", "person", &Deep { anything: tree })
            .expect_err("65 levels");
        assert!(
            matches!(&e, Error::TooDeep { class, field, max: MAX_DEPTH, .. } if class == "person" && field == "anything"),
            "{e:?}"
        );

        // Some(None) would read back as None: refused.
        #[derive(Serialize)]
        struct DoubleOption {
            friend: Option<Option<ObjectId>>,
        }
        let e = db
            .insert_typed("default", "person", &DoubleOption { friend: Some(None) })
            .expect_err("Some(None)");
        assert!(
            matches!(&e, Error::Serde { what, .. } if what.contains("friend")),
            "{e:?}"
        );

        // A valid object updated with bad input stays as it was.
        let ann = person();
        let id = db.insert_typed("default", "person", &ann).expect("insert");
        let e = db
            .update_typed("default", id, &NegativeAge { age: -1 })
            .expect_err("bad update");
        assert!(matches!(e, Error::OutOfRange { .. }), "{e:?}");
        let back: Person = db.get_typed("default", id).expect("get").expect("ann");
        assert_same(&back, &ann);
        assert_eq!(count(&db), 1, "only the valid insert was written");
        assert_invariant(db.db());
    }
}

/// A stored value the Rust type cannot hold reads as a typed error naming
/// the object and field, not a panic or a silent change.
#[test]
fn reading_into_a_narrower_type_is_a_typed_error() {
    for db in dbs() {
        db.create_class("default", &person_spec()).expect("class");
        let mut wide = person();
        wide.visits = 1000;
        let id = db.insert_typed("default", "person", &wide).expect("insert");
        #[derive(Debug, Deserialize)]
        struct Narrow {
            #[allow(dead_code)]
            visits: u8,
        }
        let e = db
            .get_typed::<Narrow>("default", id)
            .expect_err("1000 into u8");
        assert!(
            matches!(&e, Error::OutOfRange { class, field, expected, .. }
                if class == "person" && field == "visits" && expected == "u8"),
            "{e:?}"
        );
        #[derive(Debug, Deserialize)]
        struct WrongShape {
            #[allow(dead_code)]
            home: Vec<String>,
        }
        let e = db
            .get_typed::<WrongShape>("default", id)
            .expect_err("a struct into a Vec");
        assert!(
            matches!(&e, Error::Serde { what, .. } if what.contains(&format!("object {id}")) && what.contains("home")),
            "{e:?}"
        );
    }
}
