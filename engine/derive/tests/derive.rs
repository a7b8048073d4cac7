//! What the derives expand to: `class_spec()` against a hand-written
//! `ClassSpec`, the `Schema` of nested types against hand-written
//! `FieldType`s, the handles' types, and a round trip through the in-memory
//! engine, whose serializer checks every value against the declared type
//! (so a wrong `Schema` mapping fails there). Checked to fail: with the
//! serde renames ignored (stored name = Rust name), with a newtype variant's
//! payload declared as a one-element tuple, and with `OPTIONAL` dropped
//! from members, each of these tests failed.

use std::collections::HashMap;

use rockhold::{
    kind, ClassSpec, Db, FieldSpec, FieldType, IndexKind, IndexRef, IndexSpec, Key, KeyedModel,
    MemStore, MemberDef, Model, Options, Schema, Value, VariantDef,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
struct Address {
    city: String,
    #[serde(rename = "postCode")]
    zip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "snake_case")]
enum Role {
    Guest,
    Member(u32),
    Pair(String, i16),
    #[serde(rename = "boss")]
    Admin {
        level: u8,
        since: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
struct Email(String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
struct Point(i32, i32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
struct Marker;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[model(class = "user", key = "email")]
#[model(index(name = "name_age", ordered, fields("name", "age")))]
#[model(index(name = "by_city", hash, fields("address.city"), key = String))]
#[model(index(name = "by_zip", fields("address.postCode")))]
#[serde(rename_all = "camelCase")]
struct User {
    #[index(unique)]
    email: String,
    name: String,
    #[index(ordered)]
    age: u32,
    #[index(multi)]
    tags: Vec<String>,
    address: Option<Address>,
    role: Role,
    scores: HashMap<String, u32>,
    #[serde(rename = "nick")]
    nickname: Option<String>,
    a_u8: u8,
    a_u16: u16,
    a_u64: u64,
    a_i8: i8,
    a_i16: i16,
    a_i32: i32,
    a_i64: i64,
    a_f32: f32,
    a_f64: f64,
    a_bool: bool,
    a_char: char,
    #[index(unique, ordered)]
    contact: Email,
    at: Point,
    mark: Marker,
    maybe: Vec<Option<u8>>,
    #[serde(skip)]
    scratch: u32,
}

fn address_type() -> FieldType {
    FieldType::Struct(vec![
        MemberDef {
            name: "city".into(),
            ty: FieldType::String,
            optional: false,
        },
        MemberDef {
            name: "postCode".into(),
            ty: FieldType::String,
            optional: true,
        },
    ])
}

fn role_type() -> FieldType {
    FieldType::Enum(vec![
        VariantDef {
            name: "guest".into(),
            payload: None,
        },
        VariantDef {
            name: "member".into(),
            payload: Some(FieldType::U64),
        },
        VariantDef {
            name: "pair".into(),
            payload: Some(FieldType::Tuple(vec![FieldType::String, FieldType::I64])),
        },
        VariantDef {
            name: "boss".into(),
            payload: Some(FieldType::Struct(vec![
                MemberDef {
                    name: "level".into(),
                    ty: FieldType::U64,
                    optional: false,
                },
                MemberDef {
                    name: "since".into(),
                    ty: FieldType::U64,
                    optional: true,
                },
            ])),
        },
    ])
}

#[test]
fn schema_of_nested_types() {
    assert_eq!(Address::field_type(), address_type());
    const { assert!(!Address::OPTIONAL) };
    assert_eq!(Role::field_type(), role_type());
    assert_eq!(Email::field_type(), FieldType::String);
    assert_eq!(
        Point::field_type(),
        FieldType::Tuple(vec![FieldType::I64, FieldType::I64])
    );
    assert_eq!(Marker::field_type(), FieldType::Tuple(vec![]));
}

#[test]
fn class_spec_is_the_hand_written_one() {
    let unique_hash = IndexKind::Hash { unique: true };
    let expected = ClassSpec::new("user")
        .field(FieldSpec::new("email", FieldType::String))
        .field(FieldSpec::new("name", FieldType::String))
        .field(FieldSpec::new("age", FieldType::U64))
        .field(FieldSpec::new(
            "tags",
            FieldType::List(Box::new(FieldType::String)),
        ))
        .field(FieldSpec::new("address", address_type()).optional())
        .field(FieldSpec::new("role", role_type()))
        .field(FieldSpec::new(
            "scores",
            FieldType::Map(Box::new(FieldType::U64)),
        ))
        .field(FieldSpec::new("nick", FieldType::String).optional())
        .field(FieldSpec::new("aU8", FieldType::U64))
        .field(FieldSpec::new("aU16", FieldType::U64))
        .field(FieldSpec::new("aU64", FieldType::U64))
        .field(FieldSpec::new("aI8", FieldType::I64))
        .field(FieldSpec::new("aI16", FieldType::I64))
        .field(FieldSpec::new("aI32", FieldType::I64))
        .field(FieldSpec::new("aI64", FieldType::I64))
        .field(FieldSpec::new("aF32", FieldType::F64))
        .field(FieldSpec::new("aF64", FieldType::F64))
        .field(FieldSpec::new("aBool", FieldType::Bool))
        .field(FieldSpec::new("aChar", FieldType::String))
        .field(FieldSpec::new("contact", FieldType::String))
        .field(FieldSpec::new(
            "at",
            FieldType::Tuple(vec![FieldType::I64, FieldType::I64]),
        ))
        .field(FieldSpec::new("mark", FieldType::Tuple(vec![])))
        .field(FieldSpec::new(
            "maybe",
            FieldType::List(Box::new(FieldType::Optional(Box::new(FieldType::U64)))),
        ))
        .index(IndexSpec::new("email", unique_hash, ["email"]))
        .index(IndexSpec::new(
            "age",
            IndexKind::Ordered { unique: false },
            ["age"],
        ))
        .index(IndexSpec::new(
            "tags",
            IndexKind::Hash { unique: false },
            ["tags"],
        ))
        .index(IndexSpec::new(
            "contact",
            IndexKind::Ordered { unique: true },
            ["contact"],
        ))
        .index(IndexSpec::new(
            "name_age",
            IndexKind::Ordered { unique: false },
            ["name", "age"],
        ))
        .index(IndexSpec::new(
            "by_city",
            IndexKind::Hash { unique: false },
            ["address.city"],
        ))
        .index(IndexSpec::new(
            "by_zip",
            IndexKind::Hash { unique: false },
            ["address.postCode"],
        ));
    assert_eq!(User::class_spec(), expected);
    assert_eq!(User::NAMESPACE, "default");
    assert_eq!(User::CLASS, "user");
}

#[test]
fn handles_have_the_declared_types() {
    let _: IndexRef<User, String, kind::UniqueHash> = User::EMAIL;
    let _: IndexRef<User, u32, kind::Ordered> = User::AGE;
    let _: IndexRef<User, String, kind::Hash> = User::TAGS;
    let _: IndexRef<User, String, kind::UniqueOrdered> = User::CONTACT;
    let _: IndexRef<User, (String, u32), kind::Ordered> = User::NAME_AGE;
    let _: IndexRef<User, String, kind::Hash> = User::BY_CITY;
    let _: IndexRef<User, Value, kind::Hash> = User::BY_ZIP;
    let _: IndexRef<User, String, kind::UniqueHash> = <User as KeyedModel>::KEY;
    assert_eq!(User::KEY.name(), "email");
    assert_eq!(User::NAME_AGE.name(), "name_age");
    assert_eq!(User::CONTACT.name(), "contact");
}

/// Defaults: class = the struct's name in snake_case, namespace "default".
#[derive(Serialize, Deserialize, Model)]
struct LogEntry {
    line: String,
}

#[test]
fn defaults() {
    assert_eq!(LogEntry::CLASS, "log_entry");
    assert_eq!(LogEntry::NAMESPACE, "default");
    assert_eq!(
        LogEntry::class_spec(),
        ClassSpec::new("log_entry").field(FieldSpec::new("line", FieldType::String))
    );
}

fn user(email: &str, role: Role) -> User {
    User {
        email: email.into(),
        name: "Alice".into(),
        age: 31,
        tags: vec!["a".into(), "b".into()],
        address: Some(Address {
            city: "Lyon".into(),
            zip: None,
        }),
        role,
        scores: HashMap::from([("x".into(), 7)]),
        nickname: Some("al".into()),
        a_u8: u8::MAX,
        a_u16: u16::MAX,
        a_u64: u64::MAX,
        a_i8: i8::MIN,
        a_i16: i16::MIN,
        a_i32: i32::MIN,
        a_i64: i64::MIN,
        a_f32: -0.5,
        a_f64: f64::MAX,
        a_bool: true,
        a_char: 'é',
        contact: Email(format!("c-{email}")),
        at: Point(-1, 2),
        mark: Marker,
        maybe: vec![Some(1), None],
        scratch: 0,
    }
}

#[test]
fn round_trip_through_the_engine() -> rockhold::Result<()> {
    let db = Db::open_memory(&MemStore::new(), Options::default())?;
    db.create_class(User::NAMESPACE, &User::class_spec())?;
    let roles = [
        Role::Guest,
        Role::Member(3),
        Role::Pair("p".into(), -4),
        Role::Admin {
            level: 9,
            since: Some(1),
        },
        Role::Admin {
            level: 1,
            since: None,
        },
    ];
    for (i, role) in roles.into_iter().enumerate() {
        let u = user(&format!("u{i}@x.io"), role);
        let id = db.insert_typed(User::NAMESPACE, User::CLASS, &u)?;
        let back: Option<User> = db.get_typed(User::NAMESPACE, id)?;
        assert_eq!(back, Some(u.clone()));
        let email = <String as Key>::to_value(&u.email.as_str());
        assert_eq!(
            db.find_unique(User::NAMESPACE, User::CLASS, User::EMAIL.name(), &email)?,
            Some(id)
        );
        let contact = <String as Key>::to_value(&u.contact.0.as_str());
        assert_eq!(
            db.find_unique(User::NAMESPACE, User::CLASS, User::CONTACT.name(), &contact)?,
            Some(id)
        );
    }
    let city = <String as Key>::to_value(&"Lyon");
    assert_eq!(
        db.find_all(User::NAMESPACE, User::CLASS, User::BY_CITY.name(), &city)?
            .len(),
        5
    );
    let tag = <String as Key>::to_value(&"b");
    assert_eq!(
        db.find_all(User::NAMESPACE, User::CLASS, User::TAGS.name(), &tag)?
            .len(),
        5
    );
    let name_age = <(String, u32) as Key>::to_value(&("Alice", 31));
    assert_eq!(
        db.find_all(
            User::NAMESPACE,
            User::CLASS,
            User::NAME_AGE.name(),
            &name_age
        )?
        .len(),
        5
    );
    Ok(())
}
