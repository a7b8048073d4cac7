//! `#[derive(Model)]` and `#[derive(Schema)]` for rockhold's typed API.
//!
//! Use them through `rockhold` (`use rockhold::{Model, Schema};`): the code
//! they write names `::rockhold::...`. See each macro for its attributes.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod model;
mod schema;
mod serde_attrs;

/// Derives `rockhold::Model` for a struct with named fields: its class
/// (one class field per struct field, under serde's name for it), its
/// indexes, and a typed handle per index as an associated constant.
///
/// The struct also derives `Serialize` and `Deserialize`; each field's type
/// implements `rockhold::Schema` (the scalars, `String`, `Option`, the
/// sequences, string-keyed maps, tuples, `Id<T>`, `Value`, and any type with
/// `#[derive(Schema)]`). The field's declared type is
/// `<T as Schema>::field_type()`, optional when `<T as Schema>::OPTIONAL`
/// (an `Option<T>`).
///
/// ```
/// use rockhold::{Model, Schema};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Schema)]
/// struct Address { city: String, zip: Option<String> }
///
/// #[derive(Serialize, Deserialize, Model)]
/// #[model(class = "user", namespace = "app", key = "email")]
/// #[model(index(name = "name_age", ordered, fields("name", "age")))]
/// #[model(index(name = "by_city", hash, fields("address.city"), key = String))]
/// #[serde(rename_all = "camelCase")]
/// pub struct User {
///     #[index(unique)]
///     email: String,
///     name: String,
///     #[index(ordered)]
///     age: u32,
///     #[index(multi)]
///     tags: Vec<String>,
///     address: Option<Address>,
///     #[serde(rename = "nick")]
///     nickname: Option<String>,
/// }
///
/// // Typed handles: the index's name, key type and kind.
/// let _: rockhold::IndexRef<User, String, rockhold::kind::UniqueHash> = User::EMAIL;
/// let _: rockhold::IndexRef<User, (String, u32), rockhold::kind::Ordered> = User::NAME_AGE;
/// assert_eq!(User::BY_CITY.name(), "by_city");
/// assert_eq!(<User as rockhold::KeyedModel>::KEY.name(), "email");
/// ```
///
/// # Struct attributes: `#[model(...)]`
///
/// - `class = "name"`: the class; default the struct's name in snake_case
///   (`UserProfile` → `user_profile`).
/// - `namespace = "name"`: default `"default"`.
/// - `key = "index"`: the natural key; also derives `rockhold::KeyedModel`
///   with `KEY` = that index's handle. It names an index (or a field by its
///   Rust name, meaning the field's own index), which must be unique.
/// - `index(name = "..", fields("a", "b.c", ..), KIND, key = Type)`: an
///   index over one or more parts (at most 8), in key order. A part is a
///   field, or a dotted path into a nested value (`"address.city"`): its
///   first step names a field of this struct (by Rust name, or by its stored
///   name), the further steps name stored member names (or map keys). KIND
///   is as for a field (below; default a non-unique hash index). The key
///   type of the handle is the part's `<T as Schema>::Key` for one field,
///   the tuple of the parts' for several, with `rockhold::Value` for a
///   nested path; `key = Type` replaces the whole key type. `multi` is
///   accepted as a no-op.
///
/// Several `#[model(...)]` attributes may be given; each key at most once.
///
/// # Field attributes: `#[index(...)]`
///
/// An index over the field, named after the field's stored name:
/// `#[index]` or `#[index(hash)]` (hash), `#[index(unique)]` (unique hash),
/// `#[index(ordered)]`, `#[index(unique, ordered)]`. On a list field the
/// index is multi-valued (one entry per element) with the element's key
/// type; `multi` documents that and is refused on a type that is not
/// syntactically a `Vec`, `VecDeque`, `BTreeSet`, `HashSet` or an `Option`
/// of one.
///
/// # Handles
///
/// One associated constant per index, with the struct's visibility:
/// `User::EMAIL: IndexRef<User, String, kind::UniqueHash>`. A field's index
/// is named by the field's Rust name in SCREAMING_SNAKE_CASE, a struct
/// index by its name (characters that cannot be in an identifier become
/// `_`). Two indexes with one constant name are refused.
///
/// # serde
///
/// Class fields take serde's names: `#[serde(rename = "..")]` on a field
/// and `#[serde(rename_all = "..")]` on the struct are honoured (one name
/// for both directions). A field with `#[serde(skip)]` or
/// `#[serde(skip_serializing)]` is not a class field (and cannot be
/// indexed). `#[serde(flatten)]`, `transparent`, `into`/`from`/`try_from`
/// and `remote` are refused. `serialize_with`/`with` are not seen: the
/// field's declared type is its Rust type's `Schema`, and a value of
/// another shape is refused by the engine at run time.
///
/// # Refused at compile time
///
/// An enum, a tuple or unit struct, a generic struct, an unknown attribute
/// key, an index part or key naming no field, a key that is not a unique
/// index, two indexes of one name.
#[proc_macro_derive(Model, attributes(model, index))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `rockhold::Schema` for a type used inside a model's fields: the
/// stored type of its values, exactly as rockhold stores serde's data
/// model.
///
/// - a struct with named fields: `FieldType::Struct`, one member per field
///   (skipped ones left out) under serde's name, of the member type's
///   `field_type()`, optional when its `OPTIONAL` (an `Option`);
/// - a newtype struct (`struct Email(String)`) or a
///   `#[serde(transparent)]` struct: its field's type, optionality and key
///   type (serde stores it as its value);
/// - a tuple struct: `FieldType::Tuple` of its fields' element types;
///   a unit struct: the empty tuple;
/// - an enum: `FieldType::Enum`, a `VariantDef` per variant (skipped ones
///   left out) under serde's name: a unit variant has no payload, a newtype
///   variant its field's element type, a tuple variant a `Tuple`, a struct
///   variant a `Struct` (its fields renamed by the variant's `rename_all`,
///   else the enum's `rename_all_fields`).
///
/// Its `Key` (what an index over such a value is queried by) is
/// `rockhold::Value`, but for a newtype, whose key is its field's. A
/// generic type gets a `Schema` bound on each type parameter. Refused:
/// unions, `#[serde(tag/content/untagged)]` (rockhold stores enums
/// externally tagged), `flatten`, `into/from/try_from/remote`, a skipped
/// field in a tuple struct or variant.
///
/// ```
/// use rockhold::{FieldType, Schema};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Schema)]
/// #[serde(rename_all = "snake_case")]
/// enum Shape { Empty, Circle(f64), Rect { w: f64, h: f64 } }
///
/// assert!(matches!(Shape::field_type(), FieldType::Enum(v) if v[0].name == "empty"));
/// ```
#[proc_macro_derive(Schema)]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    schema::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
