//! Record framing: every value stored under a meta, name, class, object or
//! task key is a frame.
//!
//! ```text
//! offset 0  u8      frame version (FRAME_VERSION)
//! offset 1  u8      record kind (RecordKind)
//! offset 2  u32 BE  crc32 (crc32fast, IEEE) of bytes 0..2 followed by the body
//! offset 6  ..      body: the record kind's encoding (records/), no trailing bytes
//! ```
//!
//! The checksum covers the header bytes too, so any damage, including to the
//! version or kind byte, reads as `ChecksumMismatch` rather than as a record of
//! another version or kind. The two header bytes and the checksum position are
//! fixed for every future frame version.

use bincode::Options;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Result};
use crate::reader::Reader;

/// The frame version this build writes and reads.
pub const FRAME_VERSION: u8 = 2;

/// Bytes of header before the body.
pub const FRAME_HEADER_LEN: usize = 6;

/// The largest body a frame may hold; a length field in a corrupt body can
/// therefore never make the decoder allocate more than this.
pub const MAX_BODY_LEN: u64 = 64 << 20;

/// What a framed record holds. The byte values are part of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A meta value (`M` keys).
    Meta = 1,
    /// A name registry entry (`N` keys).
    Name = 2,
    /// A class definition (`C` keys).
    Class = 3,
    /// An object record (`O` keys).
    Object = 4,
    /// A reindex task (`IT` keys).
    Task = 5,
}

impl TryFrom<u8> for RecordKind {
    type Error = Error;

    fn try_from(b: u8) -> Result<Self> {
        Ok(match b {
            1 => RecordKind::Meta,
            2 => RecordKind::Name,
            3 => RecordKind::Class,
            4 => RecordKind::Object,
            5 => RecordKind::Task,
            other => return Err(Error::malformed(format!("record kind {other}"))),
        })
    }
}

pub(crate) fn bincode_options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// Body of a record still coded by bincode (being replaced by hand codecs).
pub(crate) fn bincode_body_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    // Serializing into a Vec cannot fail; should it, the body stays empty,
    // which no record type decodes from: a loud error on read.
    if bincode_options().serialize_into(&mut *out, value).is_err() {
        out.truncate(start);
    }
}

/// Decodes a body written by [`bincode_body_into`].
pub(crate) fn bincode_body_decode<T: DeserializeOwned>(kind: RecordKind, body: &[u8]) -> Result<T> {
    bincode_options()
        .with_limit(MAX_BODY_LEN)
        .deserialize(body)
        .map_err(|e| Error::malformed(format!("{kind:?} record body: {e}")))
}

pub(crate) fn checksum(header: [u8; 2], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header);
    h.update(body);
    h.finalize()
}

/// A value stored as a framed record.
pub trait Record: Sized {
    /// The kind byte written in the frame header.
    const KIND: RecordKind;

    /// Appends the record's body (without the frame) to `out`.
    fn encode_body(&self, out: &mut Vec<u8>);

    /// Decodes a whole body (the frame already checked and removed).
    fn decode_body(body: &[u8]) -> Result<Self>;

    /// Checks that `body` decodes, as [`Record::encode_checked`] does before
    /// it hands a record out for storing. By default the body is decoded;
    /// a record type may check without building the value.
    fn check_body(body: &[u8]) -> Result<()> {
        Self::decode_body(body).map(drop)
    }

    /// Appends the framed record to `out`.
    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let header = [FRAME_VERSION, Self::KIND as u8];
        out.extend_from_slice(&header);
        out.extend_from_slice(&[0; 4]);
        self.encode_body(out);
        let crc = checksum(header, &out[start + FRAME_HEADER_LEN..]);
        out[start + 2..start + FRAME_HEADER_LEN].copy_from_slice(&crc.to_be_bytes());
    }

    /// The framed record as a new vector.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// The framed record, or an error when [`Record::decode`] would refuse
    /// it: `TooLarge` when its body is longer than [`MAX_BODY_LEN`],
    /// `Malformed` when it does not decode (an object record whose field ids
    /// are not increasing, a map with unsorted keys, a value nested deeper
    /// than [`crate::MAX_DEPTH`]). Every writer stores records through
    /// this, so no record that `decode` refuses reaches disk.
    fn encode_checked(&self) -> Result<Vec<u8>> {
        let bytes = self.encode();
        let body = bytes.get(FRAME_HEADER_LEN..).unwrap_or_default();
        check_body_len(body.len() as u64)?;
        Self::check_body(body)?;
        Ok(bytes)
    }

    /// Checks the frame and decodes the body. A body longer than
    /// [`MAX_BODY_LEN`] is refused (`TooLarge`) before decoding.
    fn decode(bytes: &[u8]) -> Result<Self> {
        let body = unframe(bytes, Self::KIND)?;
        check_body_len(body.len() as u64)?;
        Self::decode_body(body)
    }
}

/// The one record-size rule: a body of `len` bytes may be stored and
/// decoded when it is at most [`MAX_BODY_LEN`]; `TooLarge` otherwise.
pub fn check_body_len(len: u64) -> Result<()> {
    if len > MAX_BODY_LEN {
        return Err(Error::TooLarge {
            what: "record body",
            len,
            max: MAX_BODY_LEN,
        });
    }
    Ok(())
}

/// Checks a frame's checksum, version and kind; returns its body.
pub fn unframe(bytes: &[u8], kind: RecordKind) -> Result<&[u8]> {
    let (found_kind, body) = unframe_any(bytes)?;
    if found_kind != kind as u8 {
        return Err(Error::WrongKind {
            expected: kind as u8,
            found: found_kind,
        });
    }
    Ok(body)
}

/// Checks a frame's checksum and version; returns its kind byte and body.
pub fn unframe_any(bytes: &[u8]) -> Result<(u8, &[u8])> {
    let mut r = Reader::new(bytes, "record frame");
    let header: [u8; 2] = r.array()?;
    let expected = r.u32()?;
    let body = r.rest();
    let actual = checksum(header, body);
    if expected != actual {
        return Err(Error::ChecksumMismatch { expected, actual });
    }
    if header[0] != FRAME_VERSION {
        return Err(Error::UnsupportedVersion(header[0]));
    }
    Ok((header[1], body))
}

/// Builds a frame around arbitrary body bytes with a correct checksum.
/// For fuzzers and corruption tests that must reach the body decoder.
pub fn frame_raw(version: u8, kind: u8, body: &[u8]) -> Vec<u8> {
    let header = [version, kind];
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&checksum(header, body).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::samples;
    use crate::records::{ClassDef, MetaValue, NameEntry, ObjectRecord, TaskRecord};

    /// Every framed sample, with its encoding.
    fn framed_samples() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("class", samples::class_def().encode()),
            ("object", samples::object().encode()),
            ("task", samples::task().encode()),
            ("meta counter", samples::meta_counter().encode()),
            ("meta seed", samples::meta_seed().encode()),
            ("name", samples::name_entry().encode()),
        ]
    }

    fn decode_same_kind(name: &str, bytes: &[u8]) -> Result<()> {
        match name {
            "class" => ClassDef::decode(bytes).map(drop),
            "object" => ObjectRecord::decode(bytes).map(drop),
            "task" => TaskRecord::decode(bytes).map(drop),
            "name" => NameEntry::decode(bytes).map(drop),
            _ => MetaValue::decode(bytes).map(drop),
        }
    }

    #[test]
    fn round_trips() {
        assert_eq!(
            ClassDef::decode(&samples::class_def().encode()),
            Ok(samples::class_def())
        );
        assert_eq!(
            ObjectRecord::decode(&samples::object().encode()),
            Ok(samples::object())
        );
        assert_eq!(
            TaskRecord::decode(&samples::task().encode()),
            Ok(samples::task())
        );
        assert_eq!(
            MetaValue::decode(&samples::meta_seed().encode()),
            Ok(samples::meta_seed())
        );
        assert_eq!(
            NameEntry::decode(&samples::name_entry().encode()),
            Ok(samples::name_entry())
        );
    }

    #[test]
    fn every_single_bit_flip_is_a_checksum_mismatch() {
        for (name, bytes) in framed_samples() {
            for i in 0..bytes.len() * 8 {
                let mut damaged = bytes.clone();
                damaged[i / 8] ^= 1 << (i % 8);
                assert!(
                    matches!(
                        decode_same_kind(name, &damaged),
                        Err(Error::ChecksumMismatch { .. })
                    ),
                    "{name}: flip of bit {i} not caught"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        for (name, bytes) in framed_samples() {
            for len in 0..bytes.len() {
                let err = decode_same_kind(name, &bytes[..len]).expect_err("truncated decodes");
                assert!(
                    matches!(
                        err,
                        Error::Truncated { .. } | Error::ChecksumMismatch { .. }
                    ),
                    "{name} cut at {len}: {err}"
                );
            }
        }
    }

    #[test]
    fn unknown_version_is_refused_even_with_a_valid_checksum() {
        let good = samples::object().encode();
        let future = frame_raw(
            FRAME_VERSION + 1,
            RecordKind::Object as u8,
            &good[FRAME_HEADER_LEN..],
        );
        assert_eq!(
            ObjectRecord::decode(&future),
            Err(Error::UnsupportedVersion(FRAME_VERSION + 1))
        );
    }

    #[test]
    fn wrong_kind_is_refused() {
        let task = samples::task().encode();
        assert_eq!(
            ObjectRecord::decode(&task),
            Err(Error::WrongKind {
                expected: RecordKind::Object as u8,
                found: RecordKind::Task as u8
            })
        );
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        let kind = RecordKind::Object as u8;
        // Empty body, a trailing byte, and a field count of 2^32 - 1.
        let mut trailing = samples::object().encode()[FRAME_HEADER_LEN..].to_vec();
        trailing.push(0);
        let huge_count = [1u8, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0];
        for body in [&[][..], &trailing, &huge_count] {
            let framed = frame_raw(FRAME_VERSION, kind, body);
            assert!(
                matches!(
                    ObjectRecord::decode(&framed),
                    Err(Error::Malformed(_) | Error::Truncated { .. })
                ),
                "{body:?}"
            );
        }
    }

    /// Bug: bincode ignores `with_limit` for slices, so a checksum-valid
    /// 64 MiB + 1 body decoded (seen: `Ok` before the length check).
    #[test]
    fn bodies_over_the_limit_are_refused_before_decoding() {
        let mut big = ObjectRecord {
            class: crate::ClassId(1),
            fields: vec![(
                crate::FieldId(1),
                crate::Value::Bytes(vec![7; MAX_BODY_LEN as usize]),
            )],
        };
        let framed = big.encode();
        assert!(framed.len() - FRAME_HEADER_LEN > MAX_BODY_LEN as usize);
        assert!(matches!(
            ObjectRecord::decode(&framed),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(big.encode_checked(), Err(Error::TooLarge { .. })));
        big.fields[0].1 = crate::Value::Bytes(vec![7; 1000]);
        assert_eq!(
            ObjectRecord::decode(&big.encode_checked().expect("under the limit")),
            Ok(big)
        );
    }

    #[test]
    fn record_kind_bytes_are_stable() {
        for (byte, kind) in [
            (1, RecordKind::Meta),
            (2, RecordKind::Name),
            (3, RecordKind::Class),
            (4, RecordKind::Object),
            (5, RecordKind::Task),
        ] {
            assert_eq!(RecordKind::try_from(byte), Ok(kind));
            assert_eq!(kind as u8, byte);
        }
        assert!(RecordKind::try_from(0).is_err());
        assert!(RecordKind::try_from(6).is_err());
    }
}
