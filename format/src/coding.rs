//! Primitive coding of record bodies (format v2).
//!
//! Every record body (meta, name, class, object, task) is a sequence of the
//! items below, written by the `put_*` functions and read back by [`Input`].
//! Unlike keys (big endian, so that byte order is numeric order), bodies are
//! little endian: they are never compared, only decoded.
//!
//! | item            | bytes                                                       |
//! |-----------------|-------------------------------------------------------------|
//! | `u8`            | 1 byte                                                      |
//! | `u32`           | 4 bytes, little endian                                      |
//! | `u64`           | 8 bytes, little endian                                      |
//! | `bool`          | `u8`: `00` false, `01` true; any other byte is malformed    |
//! | length, count   | `u32`; checked against the bytes left before anything is allocated |
//! | string          | length (`u32`) + that many bytes of UTF-8                   |
//! | bytes           | length (`u32`) + that many bytes                            |
//! | `Option<T>`     | `u8` `00` (none), or `u8` `01` followed by the `T`           |
//! | enum            | `u8` tag followed by the variant's fields                   |
//! | sequence of `T` | count (`u32`) + that many `T`s                              |
//!
//! Example: the string `"ab"` is `02 00 00 00 61 62`; `Some(7u64)` is
//! `01 07 00 00 00 00 00 00 00`.
//!
//! A length that does not fit a `u32` is written as `u32::MAX`, which no
//! decoder accepts (no body is that long: [`crate::MAX_BODY_LEN`]), so an
//! oversized item is a loud error on read, never a silently wrapped length.
//! Writers refuse such records earlier, in [`crate::Record::encode_checked`].

// Some items serve only the hand codecs of the records still coded by
// bincode, which replace it next.
#![allow(dead_code)]

use crate::error::{Error, Result};

/// Appends one byte.
pub(crate) fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

/// Appends a `u32`, little endian.
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a `u64`, little endian.
pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a bool as `00` or `01`.
pub(crate) fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}

/// A length or count as it is stored: `u32::MAX` when it does not fit.
pub(crate) fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Appends a length or count.
pub(crate) fn put_len(out: &mut Vec<u8>, len: usize) {
    put_u32(out, len_u32(len));
}

/// Appends a string: length + UTF-8.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

/// Appends bytes: length + bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// Appends an option: `00`, or `01` and what `put` writes of the value.
pub(crate) fn put_option<T>(out: &mut Vec<u8>, v: Option<&T>, put: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

/// Overwrites the `u32` at `at` (a placeholder written earlier).
pub(crate) fn patch_u32(out: &mut [u8], at: usize, v: u32) {
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&v.to_le_bytes());
    }
}

/// A bounds-checked little-endian cursor over an untrusted record body:
/// every read that runs past the end is `Error::Truncated { what }`, every
/// impossible value `Error::Malformed`, never a panic.
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Input<'a> {
    /// A cursor over `bytes`; `what` names the item in errors.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Input { bytes, what }
    }

    fn truncated(&self) -> Error {
        Error::Truncated { what: self.what }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(self.truncated());
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian `u64`.
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A bool: `00` or `01`.
    pub(crate) fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::malformed(format!(
                "{}: bool byte {b:#04x}",
                self.what
            ))),
        }
    }

    /// A count of items that take at least `min_item_len` bytes each (at
    /// least 1): refused as truncated when the bytes left cannot hold that
    /// many, so a corrupt count never makes a caller allocate.
    pub(crate) fn count(&mut self, min_item_len: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_len.max(1)) > self.bytes.len() {
            return Err(self.truncated());
        }
        Ok(n)
    }

    /// Length-prefixed bytes.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map_err(|_| Error::malformed(format!("{}: string is not UTF-8", self.what)))
    }

    /// An option's tag: whether a value follows.
    pub(crate) fn option(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::malformed(format!(
                "{}: option tag {b:#04x}",
                self.what
            ))),
        }
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// What the cursor reads (for error messages).
    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(self) -> Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Error::malformed(format!(
                "{}: {} trailing byte(s)",
                self.what,
                self.bytes.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_examples() {
        let mut out = Vec::new();
        put_str(&mut out, "ab");
        assert_eq!(out, [2, 0, 0, 0, b'a', b'b']);
        out.clear();
        put_option(&mut out, Some(&7u64), |o, v| put_u64(o, *v));
        assert_eq!(out, [1, 7, 0, 0, 0, 0, 0, 0, 0]);
        out.clear();
        put_u32(&mut out, 0x0102_0304);
        put_bool(&mut out, true);
        assert_eq!(out, [4, 3, 2, 1, 1]);
    }

    #[test]
    fn reads_are_bounds_checked() {
        let mut i = Input::new(&[5, 0, 0, 0, b'a'], "test");
        assert_eq!(i.clone().str(), Err(Error::Truncated { what: "test" }));
        assert_eq!(i.count(1), Err(Error::Truncated { what: "test" }));
        let mut i = Input::new(&[0xFF, 0xFF, 0xFF, 0xFF], "test");
        assert!(i.bytes().is_err());
        assert!(Input::new(&[2], "t").bool().is_err());
        assert!(Input::new(&[2], "t").option().is_err());
        assert!(Input::new(&[1, 0, 0, 0, 0xFF], "t").str().is_err());
        assert!(Input::new(&[1], "t").finish().is_err());
        let mut i = Input::new(&[1, 2, 3, 4, 5, 6, 7, 8], "t");
        assert_eq!(i.u64(), Ok(0x0807_0605_0403_0201));
        assert!(i.is_empty());
    }
}
