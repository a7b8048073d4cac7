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

    /// The top-level field the path starts at.
    pub(crate) fn root(&self) -> &'a str {
        match (self.parent, self.step) {
            (Some(parent), _) => parent.root(),
            (None, Step::Field(name)) => name,
            // Every path starts at a field (`Path::field`).
            (None, _) => "",
        }
    }

    /// The steps below the top-level field (`.city[2]`; empty for the
    /// field's own value), as `TypeMismatch::path` writes them.
    pub(crate) fn below(&self) -> String {
        let mut out = String::new();
        self.write_below(&mut out);
        out
    }

    fn write_below(&self, out: &mut String) {
        use std::fmt::Write;
        if let Some(parent) = self.parent {
            parent.write_below(out);
        }
        // Writing to a String cannot fail.
        let _ = match self.step {
            Step::Field(_) => Ok(()),
            Step::Member(name) => write!(out, ".{name}"),
            Step::Index(i) => write!(out, "[{i}]"),
            Step::Key(key) => write!(out, "{{{key:?}}}"),
            Step::Variant(name) => write!(out, "::{name}"),
        };
    }
}

/// The whole path: the field, then the steps below it.
impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.root(), self.below())
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
    pub(crate) fn wrong(&self, path: &Path<'_>, expected: &FieldType, found: &str) -> Error {
        Error::WrongType {
            class: self.class.to_string(),
            field: path.root().to_string(),
            path: path.below(),
            expected: expected.name(),
            found: found.to_string(),
        }
    }

    /// An integer the declared type (or the Rust type read into) cannot
    /// hold. `field` is the whole path (`history{"7"}[1]`).
    pub(crate) fn out_of_range(
        &self,
        path: &Path<'_>,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Error {
        Error::OutOfRange {
            class: self.class.to_string(),
            field: path.to_string(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// A required field or struct member without a value (`field` is the
    /// whole path: `home.zip`).
    pub(crate) fn missing(&self, path: &Path<'_>) -> Error {
        Error::MissingField {
            class: self.class.to_string(),
            field: path.to_string(),
        }
    }

    /// A member name that the declared struct type does not have (`field`
    /// is the whole path: `home.floor`).
    pub(crate) fn unknown_member(&self, path: &Path<'_>) -> Error {
        Error::UnknownField {
            class: self.class.to_string(),
            field: path.to_string(),
        }
    }

    /// A value nesting deeper than `MAX_DEPTH`: `depth` is the depth where
    /// the serializer stopped (more than the limit; the value may go
    /// deeper still).
    pub(crate) fn too_deep(&self, path: &Path<'_>, depth: usize) -> Error {
        Error::TooDeep {
            class: self.class.to_string(),
            field: path.root().to_string(),
            depth,
            max: rockhold_format::MAX_DEPTH,
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
