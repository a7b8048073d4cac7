//! `N` keys: `N` + kind (u8) + parent id (u32 BE) + name (UTF-8, to the end).

use super::{decode_key, Family, Key};
use crate::error::{Error, Result};

/// The longest name, in bytes, of a namespace, class or field.
pub const MAX_NAME_LEN: usize = 128;

/// Checks a namespace, class or field name: 1 to `MAX_NAME_LEN` bytes of
/// UTF-8 without control characters. Returns what is wrong otherwise.
pub fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        Err("name is empty")
    } else if name.len() > MAX_NAME_LEN {
        Err("name is longer than 128 bytes")
    } else if name.chars().any(char::is_control) {
        Err("name contains a control character")
    } else {
        Ok(())
    }
}

/// What a registered name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum NameKind {
    /// A namespace name; its parent is 0.
    Namespace = 1,
    /// A class name; its parent is the namespace id.
    Class = 2,
}

impl TryFrom<u8> for NameKind {
    type Error = Error;

    fn try_from(b: u8) -> Result<Self> {
        match b {
            1 => Ok(NameKind::Namespace),
            2 => Ok(NameKind::Class),
            other => Err(Error::malformed(format!("name kind {other}"))),
        }
    }
}

/// A name registry key: maps (kind, parent, name) to an id (the value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameKey {
    /// What the name names.
    pub kind: NameKind,
    /// The namespace a class name belongs to; 0 for namespace names.
    pub parent: u32,
    /// The name itself.
    pub name: String,
}

impl NameKey {
    /// The prefix of every name of `kind` under `parent`.
    pub fn scope_prefix(kind: NameKind, parent: u32) -> Vec<u8> {
        let mut out = NAME_SCOPE_PREFIX.to_vec();
        out.push(kind as u8);
        out.extend_from_slice(&parent.to_be_bytes());
        out
    }
}

const NAME_SCOPE_PREFIX: &[u8] = super::NAME_PREFIX;

impl Key for NameKey {
    const FAMILY: Family = Family::Name;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.parent.to_be_bytes());
        out.extend_from_slice(self.name.as_bytes());
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            let kind = NameKind::try_from(r.u8()?)?;
            let parent = r.u32()?;
            let name = String::from_utf8(r.rest().to_vec())
                .map_err(|_| Error::malformed("name is not UTF-8"))?;
            check_name(&name).map_err(Error::malformed)?;
            Ok(NameKey { kind, parent, name })
        })
    }
}
