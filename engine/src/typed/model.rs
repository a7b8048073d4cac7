//! Models: a Rust type stored as a class, its typed ids and typed index
//! handles.
//!
//! [`Model`] says where a type lives (namespace, class) and what class its
//! fields and indexes imply; [`Schema`] gives the stored type of each
//! field's Rust type; [`IndexRef`] names one of the model's indexes with the
//! type of the values it is queried by and its kind, so a range scan on a
//! hash index, or a `u64` passed for a `String` key, does not compile.
//! `#[derive(Model)]` and `#[derive(Schema)]` write these impls.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

use serde::{de::DeserializeOwned, Serialize};

use rockhold_format::{FieldType, IndexKind, ObjectId, Value};

use crate::catalog::schema::ClassSpec;

/// A Rust type stored as objects of one class.
///
/// Usually derived: `#[derive(Serialize, Deserialize, Model)]`, see the
/// crate documentation. A hand-written impl must keep [`Model::class_spec`]
/// in step with the type's serde shape: the typed calls check every value
/// against the class anyway, so a mismatch is an error, never bad data.
pub trait Model: Serialize + DeserializeOwned + 'static {
    /// The namespace of its class.
    const NAMESPACE: &'static str;
    /// The name of its class.
    const CLASS: &'static str;
    /// The class its fields and indexes imply: what
    /// [`crate::Db::collection`] creates, or checks the stored class against.
    fn class_spec() -> ClassSpec;
}

/// A model with a natural key: a unique index whose value names one object
/// (a UUID, a slug, an email), so an application needs no key → id map.
/// Derived with `#[model(key = "field")]`.
pub trait KeyedModel: Model {
    /// The type of the key's values.
    type Key: Key;
    /// The kind of the key's index (unique, hash or ordered).
    type KeyKind: Unique;
    /// The unique index that is the key.
    const KEY: IndexRef<Self, Self::Key, Self::KeyKind>;
}

/// The stored type of a Rust type, for the fields of a [`Model`] and the
/// members of nested structs. Implemented for the scalars, `String`,
/// `Option`, the sequences, string-keyed maps and tuples;
/// `#[derive(Schema)]` implements it for a nested struct or enum.
pub trait Schema {
    /// Whether a value may be absent: `true` for `Option<T>` only.
    const OPTIONAL: bool = false;
    /// The declared type of its values (for `Option<T>`, `T`'s: an optional
    /// field says so by [`Schema::OPTIONAL`]).
    fn field_type() -> FieldType;
    /// The type an index over a value of this type is queried by: a scalar
    /// itself, an `Option<T>`'s or a list's elements' `T` (an index over a
    /// list has one entry per element), [`Value`] for nested structs, maps,
    /// tuples and enums.
    type Key: Key;
}

/// A type whose values query an index. [`Key::Ref`] is what a lookup takes
/// (`&str` for a `String` key, the number itself for an integer, a tuple of
/// the parts' for a compound index).
pub trait Key {
    /// The borrowed form a lookup takes.
    type Ref<'a>;
    /// The stored value it stands for.
    fn to_value(key: &Self::Ref<'_>) -> Value;
}

/// The kinds of index, as types: the `I` of an [`IndexRef`].
pub mod kind {
    use super::{IndexKind, IndexKindOf, Range, Unique};

    /// A non-unique hash index: equality lookups.
    #[derive(Debug, Clone, Copy)]
    pub struct Hash;
    /// A unique hash index: equality lookups, one holder per value.
    #[derive(Debug, Clone, Copy)]
    pub struct UniqueHash;
    /// A non-unique ordered index: equality lookups and range scans.
    #[derive(Debug, Clone, Copy)]
    pub struct Ordered;
    /// A unique ordered index: lookups and range scans, one holder per value.
    #[derive(Debug, Clone, Copy)]
    pub struct UniqueOrdered;

    impl IndexKindOf for Hash {
        const KIND: IndexKind = IndexKind::Hash { unique: false };
    }
    impl IndexKindOf for UniqueHash {
        const KIND: IndexKind = IndexKind::Hash { unique: true };
    }
    impl IndexKindOf for Ordered {
        const KIND: IndexKind = IndexKind::Ordered { unique: false };
    }
    impl IndexKindOf for UniqueOrdered {
        const KIND: IndexKind = IndexKind::Ordered { unique: true };
    }
    impl Unique for UniqueHash {}
    impl Unique for UniqueOrdered {}
    impl Range for Ordered {}
    impl Range for UniqueOrdered {}
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::kind::Hash {}
    impl Sealed for super::kind::UniqueHash {}
    impl Sealed for super::kind::Ordered {}
    impl Sealed for super::kind::UniqueOrdered {}
}

/// An index kind as a type (one of [`kind`]'s).
pub trait IndexKindOf: sealed::Sealed {
    /// The kind it stands for.
    const KIND: IndexKind;
}

/// A unique index kind: [`crate::Collection::find_unique`] and
/// [`crate::Collection::get_unique`] take only these.
pub trait Unique: IndexKindOf {}

/// An ordered index kind: [`crate::Collection::range`] takes only these.
pub trait Range: IndexKindOf {}

/// One index of model `M`, queried by values of `K`, of kind `I` (one of
/// [`kind`]'s). The derive writes one as an associated constant per index
/// (`User::EMAIL`); a hand-written one names the index of
/// [`Model::class_spec`].
pub struct IndexRef<M, K, I> {
    name: &'static str,
    #[allow(clippy::type_complexity)] // a variance marker, never named
    _types: PhantomData<fn() -> (M, K, I)>,
}

impl<M, K, I> IndexRef<M, K, I> {
    /// The handle of the index named `name`.
    pub const fn new(name: &'static str) -> Self {
        IndexRef {
            name,
            _types: PhantomData,
        }
    }

    /// The index's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<M, K, I> Clone for IndexRef<M, K, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, K, I> Copy for IndexRef<M, K, I> {}

impl<M, K, I> fmt::Debug for IndexRef<M, K, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexRef({})", self.name)
    }
}

/// The id of an object of model `T`: an [`ObjectId`] that cannot be passed
/// where another model's id is expected.
pub struct Id<T> {
    raw: ObjectId,
    _model: PhantomData<fn() -> T>,
}

impl<T> Id<T> {
    /// The id of object `raw`, trusted to be a `T` (a typed call on an
    /// object of another class answers `ClassMismatch`).
    pub const fn from_raw(raw: ObjectId) -> Self {
        Id {
            raw,
            _model: PhantomData,
        }
    }

    /// The untyped id, for the dynamic API.
    pub const fn raw(self) -> ObjectId {
        self.raw
    }
}

impl<T> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Id<T> {}
impl<T> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T> Eq for Id<T> {}
impl<T> PartialOrd for Id<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Id<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}
impl<T> Hash for Id<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state)
    }
}
impl<T> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.raw)
    }
}
impl<T> fmt::Display for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.raw, f)
    }
}
impl<T> From<Id<T>> for ObjectId {
    fn from(id: Id<T>) -> ObjectId {
        id.raw
    }
}

// ---- Key impls ----

macro_rules! key_by_value {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl Key for $t {
            type Ref<'a> = $t;
            fn to_value(key: &$t) -> Value {
                let $v = *key;
                $e
            }
        }
    )*};
}

key_by_value!(
    bool => |v| Value::Bool(v),
    u8 => |v| Value::U64(v.into()),
    u16 => |v| Value::U64(v.into()),
    u32 => |v| Value::U64(v.into()),
    u64 => |v| Value::U64(v),
    i8 => |v| Value::I64(v.into()),
    i16 => |v| Value::I64(v.into()),
    i32 => |v| Value::I64(v.into()),
    i64 => |v| Value::I64(v),
    f32 => |v| Value::F64(super::ser::widen(v)),
    f64 => |v| Value::F64(v),
    char => |v| Value::String(v.to_string()),
    ObjectId => |v| Value::Ref(v),
);

impl Key for String {
    type Ref<'a> = &'a str;
    fn to_value(key: &&str) -> Value {
        Value::String((*key).to_owned())
    }
}

impl Key for Value {
    type Ref<'a> = &'a Value;
    fn to_value(key: &&Value) -> Value {
        (*key).clone()
    }
}

impl<T> Key for Id<T> {
    type Ref<'a> = Id<T>;
    fn to_value(key: &Id<T>) -> Value {
        Value::Ref(key.raw)
    }
}

macro_rules! key_tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Key),+> Key for ($($name,)+) {
            type Ref<'a> = ($($name::Ref<'a>,)+);
            fn to_value(key: &Self::Ref<'_>) -> Value {
                Value::List(vec![$($name::to_value(&key.$idx)),+])
            }
        }
    };
}

key_tuple!(A 0, B 1);
key_tuple!(A 0, B 1, C 2);
key_tuple!(A 0, B 1, C 2, D 3);
key_tuple!(A 0, B 1, C 2, D 3, E 4);
key_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
key_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
key_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

// ---- Schema impls ----

macro_rules! schema_scalar {
    ($($t:ty => $ft:ident),* $(,)?) => {$(
        impl Schema for $t {
            fn field_type() -> FieldType { FieldType::$ft }
            type Key = $t;
        }
    )*};
}

schema_scalar!(
    bool => Bool,
    u8 => U64, u16 => U64, u32 => U64, u64 => U64,
    i8 => I64, i16 => I64, i32 => I64, i64 => I64,
    f32 => F64, f64 => F64,
    char => String,
    String => String,
    ObjectId => Ref,
);

impl<T> Schema for Id<T> {
    fn field_type() -> FieldType {
        FieldType::Ref
    }
    type Key = Id<T>;
}

impl Schema for Value {
    fn field_type() -> FieldType {
        FieldType::Any
    }
    type Key = Value;
}

/// The declared type of `T` as an element or member of another type:
/// `Option<T>` inside a list is `Optional(T)`.
pub fn element<T: Schema>() -> FieldType {
    if T::OPTIONAL {
        FieldType::Optional(Box::new(T::field_type()))
    } else {
        T::field_type()
    }
}

impl<T: Schema> Schema for Option<T> {
    const OPTIONAL: bool = true;
    fn field_type() -> FieldType {
        T::field_type()
    }
    type Key = T::Key;
}

impl<T: Schema + ?Sized> Schema for Box<T> {
    const OPTIONAL: bool = T::OPTIONAL;
    fn field_type() -> FieldType {
        T::field_type()
    }
    type Key = T::Key;
}

macro_rules! schema_list {
    ($($t:ident),*) => {$(
        impl<T: Schema> Schema for $t<T> {
            fn field_type() -> FieldType {
                FieldType::List(Box::new(element::<T>()))
            }
            type Key = T::Key;
        }
    )*};
}

schema_list!(Vec, VecDeque, BTreeSet);

impl<T: Schema, S> Schema for HashSet<T, S> {
    fn field_type() -> FieldType {
        FieldType::List(Box::new(element::<T>()))
    }
    type Key = T::Key;
}

impl<V: Schema> Schema for BTreeMap<String, V> {
    fn field_type() -> FieldType {
        FieldType::Map(Box::new(element::<V>()))
    }
    type Key = Value;
}

impl<V: Schema, S> Schema for HashMap<String, V, S> {
    fn field_type() -> FieldType {
        FieldType::Map(Box::new(element::<V>()))
    }
    type Key = Value;
}

impl Schema for () {
    fn field_type() -> FieldType {
        FieldType::Tuple(Vec::new())
    }
    type Key = Value;
}

macro_rules! schema_tuple {
    ($($name:ident),+) => {
        impl<$($name: Schema),+> Schema for ($($name,)+) {
            fn field_type() -> FieldType {
                FieldType::Tuple(vec![$(element::<$name>()),+])
            }
            type Key = Value;
        }
    };
}

schema_tuple!(A);
schema_tuple!(A, B);
schema_tuple!(A, B, C);
schema_tuple!(A, B, C, D);
schema_tuple!(A, B, C, D, E);
schema_tuple!(A, B, C, D, E, F);

impl<T: Schema, const N: usize> Schema for [T; N] {
    fn field_type() -> FieldType {
        FieldType::Tuple(vec![element::<T>(); N])
    }
    type Key = Value;
}

/// Opaque bytes for a model field, stored as one `FieldType::Bytes` value.
/// (A bare `Vec<u8>` is a list of integers to serde, and so to the
/// derive.) Derefs to the bytes; indexable with a `&[u8]` key.
///
/// ```
/// use rockhold::{Bytes, Db, MemStore, Model, Options};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize, Model)]
/// struct Blob { #[index(unique)] digest: Bytes, body: Bytes }
///
/// let db = Db::open_memory(&MemStore::new(), Options::default())?;
/// let blobs = db.collection::<Blob>()?;
/// let id = blobs.insert(&Blob { digest: Bytes(vec![1, 2]), body: Bytes(b"hello".to_vec()) })?;
/// let (found, blob) = blobs.get_unique(Blob::DIGEST, &[1, 2])?.expect("stored");
/// assert_eq!((found, &blob.body[..]), (id, &b"hello"[..]));
/// assert_eq!(db.get("default", id.raw())?.and_then(|o| o.get("body").cloned()),
///            Some(rockhold::Value::Bytes(b"hello".to_vec())));
/// # Ok::<(), rockhold::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes(v)
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Vec<u8> {
        b.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            // Formats without a bytes type (JSON) give a list of numbers.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bytes, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

impl Schema for Bytes {
    fn field_type() -> FieldType {
        FieldType::Bytes
    }
    type Key = Bytes;
}

impl Key for Bytes {
    type Ref<'a> = &'a [u8];
    fn to_value(key: &&[u8]) -> Value {
        Value::Bytes(key.to_vec())
    }
}

// ---- recursive types ----

/// What the `Schema` derives are expanding on this thread: the types (by
/// name) and the path of members down to the current one, and the first
/// type found inside itself.
#[derive(Default)]
struct Expanding {
    types: Vec<&'static str>,
    path: Vec<String>,
    found: Option<(String, String)>,
}

thread_local! {
    static EXPANDING: std::cell::RefCell<Expanding> = std::cell::RefCell::new(Expanding::default());
}

/// More derived types nested inside each other than a stored value may
/// nest: a type recursive through ever-new generic instances.
const MAX_EXPANSION: usize = 2 * rockhold_format::MAX_DEPTH + 2;

/// Pops what a scope pushed, also when the body unwinds.
struct Pop(fn(&mut Expanding));

impl Drop for Pop {
    fn drop(&mut self) {
        let pop = self.0;
        EXPANDING.with(|e| pop(&mut e.borrow_mut()));
    }
}

/// The stored type of the derived type `name`, `body` its expansion. A
/// type already being expanded (a recursive type: `struct Node { next:
/// Option<Box<Node>> }`) is not expanded again, which would never end:
/// it is noted, for [`spec_of`] to refuse, and stands as `Any` meanwhile.
/// Called by `#[derive(Schema)]`.
pub fn expand(name: &'static str, body: impl FnOnce() -> FieldType) -> FieldType {
    let recursive = EXPANDING.with(|e| {
        let mut e = e.borrow_mut();
        if e.types.contains(&name) || e.types.len() >= MAX_EXPANSION {
            if e.found.is_none() {
                let path = e.path.concat();
                e.found = Some((name.to_owned(), path));
            }
            true
        } else {
            e.types.push(name);
            false
        }
    });
    if recursive {
        return FieldType::Any;
    }
    let _pop = Pop(|e| {
        e.types.pop();
    });
    body()
}

/// The stored type of a field or member (`step`: `name`, `.name` or
/// `::Variant`), `body` its type's: the step names the place of a
/// recursive type in [`spec_of`]'s error. Called by the derives.
pub fn member(step: &str, body: impl FnOnce() -> FieldType) -> FieldType {
    EXPANDING.with(|e| e.borrow_mut().path.push(step.to_owned()));
    let _pop = Pop(|e| {
        e.path.pop();
    });
    body()
}

/// `M::class_spec()`, or `RecursiveType` when a type of the model
/// contains itself (which no stored value can hold).
pub(crate) fn spec_of<M: Model>() -> crate::error::Result<ClassSpec> {
    EXPANDING.with(|e| e.borrow_mut().found = None);
    let spec = M::class_spec();
    match EXPANDING.with(|e| e.borrow_mut().found.take()) {
        None => Ok(spec),
        Some((type_name, path)) => Err(crate::error::Error::RecursiveType {
            class: M::CLASS.to_owned(),
            type_name,
            path,
        }),
    }
}
