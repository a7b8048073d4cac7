//! Where a value sits inside an object (`field.member[2]{"key"}::Variant`),
//! and the typed errors of the serializer and deserializer, which name it.
//!
//! A path is a chain of steps on the stack, one per level of the value
//! being written or read: nothing is allocated until an error renders it.

use std::fmt;

use rockhold_format::FieldType;

use crate::error::Error;

/// One step down into a value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step<'a> {
    /// A top-level field of the class.
    Field(&'a str),
    /// A member of a nested struct (`.name`).
    Member(&'a str),
    /// An element of a list or tuple (`[i]`).
    Index(usize),
    /// The value of a map entry (`{"key"}`).
    Key(&'a str),
    /// The payload of an enum variant (`::Name`).
    Variant(&'a str),
}

/// A value's place in an object: a step and the path of its parent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    step: Step<'a>,
}

impl<'a> Path<'a> {
    /// The path of top-level field `name`.
    pub(crate) fn field(name: &'a str) -> Self {
        Path {
            parent: None,
            step: Step::Field(name),
        }
    }

    /// The path one step below this one.
    pub(crate) fn then(&'a self, step: Step<'a>) -> Path<'a> {
        Path {
            parent: Some(self),
            step,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.step {
            Step::Field(name) => f.write_str(name),
            Step::Member(name) => write!(f, ".{name}"),
            Step::Index(i) => write!(f, "[{i}]"),
            Step::Key(key) => write!(f, "{{{key:?}}}"),
            Step::Variant(name) => write!(f, "::{name}"),
        }
    }
}

/// The name of a type's kind, as `Error::WrongType` and
/// `Error::OutOfRange` say what a field holds.
pub(crate) fn kind_name(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::Bool => "bool",
        FieldType::I64 => "i64",
        FieldType::U64 => "u64",
        FieldType::F64 => "f64",
        FieldType::String => "string",
        FieldType::Bytes => "bytes",
        FieldType::Ref => "ref",
        FieldType::Optional(_) => "optional",
        FieldType::List(_) => "list",
        FieldType::Tuple(_) => "tuple",
        FieldType::Map(_) => "map",
        FieldType::Struct(_) => "struct",
        FieldType::Enum(_) => "enum",
        FieldType::Any => "any",
    }
}

/// The errors of the typed API, each naming the class and the path of the
/// value inside the object (the top-level field alone for a field's own
/// value).
pub(crate) struct Errors<'a> {
    /// The class's name.
    pub(crate) class: &'a str,
}

impl Errors<'_> {
    /// A value of a shape the declared type does not hold.
    pub(crate) fn wrong(
        &self,
        path: &Path<'_>,
        expected: &FieldType,
        found: &'static str,
    ) -> Error {
        Error::WrongType {
            class: self.class.to_string(),
            field: path.to_string(),
            expected: kind_name(expected),
            found,
        }
    }

    /// An integer the declared type (or the Rust type read into) cannot hold.
    pub(crate) fn out_of_range(
        &self,
        path: &Path<'_>,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Error {
        Error::OutOfRange {
            class: self.class.to_string(),
            field: path.to_string(),
            value: value.to_string(),
            expected,
        }
    }

    /// A required field or struct member without a value.
    pub(crate) fn missing(&self, path: &Path<'_>) -> Error {
        Error::MissingField {
            class: self.class.to_string(),
            field: path.to_string(),
        }
    }

    /// A member name that the declared struct type does not have.
    pub(crate) fn unknown_member(&self, path: &Path<'_>) -> Error {
        Error::UnknownField {
            class: self.class.to_string(),
            field: path.to_string(),
        }
    }

    /// Anything else that does not map, with what is wrong in words.
    pub(crate) fn serde(&self, path: &Path<'_>, why: impl Into<String>) -> Error {
        Error::Serde {
            class: self.class.to_string(),
            what: format!("field {path}"),
            source: why.into().into(),
        }
    }

    /// An error of a `Serialize` or `Deserialize` implementation (serde's
    /// `custom`, an invalid type or length seen by a visitor) gets the path
    /// where it happened; errors already built here keep theirs.
    pub(crate) fn at(&self, path: &Path<'_>, e: Error) -> Error {
        match e {
            Error::InvalidRequest(why) => self.serde(path, why),
            other => other,
        }
    }
}
