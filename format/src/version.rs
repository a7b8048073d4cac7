//! The database format version: which encodings a database's records use,
//! stored once per database under `M format_version` (a framed
//! [`MetaValue::FormatVersion`] holding the version's number, `u32`).
//!
//! The stored number is kept as a number in [`MetaValue`], so that a
//! database written by a newer build still decodes and can be reported
//! (`found 4`); [`FormatVersion`] is the versions this build knows, and
//! [`FormatVersion::decode`] reads the stored record into one (or into
//! [`Error::UnknownFormatVersion`]).

use crate::error::{Error, Result};
use crate::frame::Record;
use crate::records::MetaValue;

/// A database format version this build knows.
///
/// ```
/// use rockhold_format::{Error, FormatVersion, Record, MetaValue};
///
/// assert_eq!(FormatVersion::CURRENT, FormatVersion::V3);
/// assert_eq!(FormatVersion::try_from(1), Ok(FormatVersion::V1));
/// assert_eq!(FormatVersion::V3.as_u32(), 3);
/// assert_eq!(FormatVersion::V3.to_string(), "3");
/// assert_eq!(FormatVersion::from_u32(9), Err(Error::UnknownFormatVersion(9)));
///
/// // Stored under `M format_version`: a framed meta value.
/// let stored = FormatVersion::CURRENT.encode();
/// assert_eq!(stored, MetaValue::FormatVersion(3).encode());
/// assert_eq!(FormatVersion::decode(&stored), Ok(FormatVersion::CURRENT));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FormatVersion {
    /// Format v1: bodies coded with bincode 1 in frame version 1
    /// ([`crate::v1::FRAME_VERSION`]). Read only by [`crate::v1`], to
    /// migrate a database to the current version.
    V1,
    /// Format v2: hand-coded bodies in frame version 2
    /// ([`crate::FRAME_VERSION`]), compound and nested indexes; records
    /// keyed by object id, a full-scan index per class ([`crate::v2`]).
    /// Read only to migrate a database to the current version.
    V2,
    /// Format v3: v2's records and indexes, the records clustered by class
    /// (`O` + ns + class + object) and found by id through a locator (`L`).
    V3,
}

impl FormatVersion {
    /// The version this build writes (and the only one it opens without a
    /// migration).
    pub const CURRENT: FormatVersion = FormatVersion::V3;

    /// Every version this build knows, oldest first.
    pub const ALL: [FormatVersion; 3] = [FormatVersion::V1, FormatVersion::V2, FormatVersion::V3];

    /// The version's number, as stored.
    pub const fn as_u32(self) -> u32 {
        match self {
            FormatVersion::V1 => 1,
            FormatVersion::V2 => 2,
            FormatVersion::V3 => 3,
        }
    }

    /// The version numbered `n`; [`Error::UnknownFormatVersion`] for a
    /// number this build does not know (a newer build's, or garbage).
    pub fn from_u32(n: u32) -> Result<FormatVersion> {
        FormatVersion::ALL
            .into_iter()
            .find(|v| v.as_u32() == n)
            .ok_or(Error::UnknownFormatVersion(n))
    }

    /// Appends the record stored under `M format_version` for this version:
    /// a framed [`MetaValue::FormatVersion`] in the current frame.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        MetaValue::from(*self).encode_into(out);
    }

    /// [`FormatVersion::encode_into`] into a new vector.
    pub fn encode(&self) -> Vec<u8> {
        MetaValue::from(*self).encode()
    }

    /// Reads the record stored under `M format_version`, in either frame
    /// version (a v1 database frames its records in v1):
    /// [`Error::UnknownFormatVersion`] when it holds a number this build
    /// does not know, `Malformed` when it holds another meta value, and the
    /// frame's errors (checksum, truncation, frame version) otherwise.
    pub fn decode(bytes: &[u8]) -> Result<FormatVersion> {
        let value = if bytes.first() == Some(&crate::v1::FRAME_VERSION) {
            crate::v1::decode_meta(bytes)?
        } else {
            MetaValue::decode(bytes)?
        };
        match value {
            MetaValue::FormatVersion(n) => FormatVersion::from_u32(n),
            other => Err(Error::malformed(format!(
                "format version record: holds {other:?}"
            ))),
        }
    }
}

impl TryFrom<u32> for FormatVersion {
    type Error = Error;

    fn try_from(n: u32) -> Result<FormatVersion> {
        FormatVersion::from_u32(n)
    }
}

impl From<FormatVersion> for u32 {
    fn from(v: FormatVersion) -> u32 {
        v.as_u32()
    }
}

impl From<FormatVersion> for MetaValue {
    fn from(v: FormatVersion) -> MetaValue {
        MetaValue::FormatVersion(v.as_u32())
    }
}

/// The version's number (`3`), as error messages and the command line
/// print it.
impl std::fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{frame_raw, RecordKind, FRAME_VERSION};
    use proptest::prelude::*;

    #[test]
    fn every_version_round_trips_through_its_number_and_its_record() {
        for v in FormatVersion::ALL {
            assert_eq!(FormatVersion::try_from(v.as_u32()), Ok(v));
            assert_eq!(FormatVersion::try_from(u32::from(v)), Ok(v));
            assert_eq!(v.to_string(), v.as_u32().to_string());
            let mut out = vec![0xAA];
            v.encode_into(&mut out);
            assert_eq!(out[1..], v.encode()[..]);
            assert_eq!(FormatVersion::decode(&v.encode()), Ok(v));
            assert_eq!(
                MetaValue::decode(&v.encode()),
                Ok(MetaValue::FormatVersion(v.as_u32()))
            );
        }
        assert_eq!(FormatVersion::CURRENT, FormatVersion::V3);
        assert!(FormatVersion::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    /// The numbers are part of the format: they never change.
    #[test]
    fn the_numbers_are_fixed() {
        assert_eq!(FormatVersion::V1.as_u32(), 1);
        assert_eq!(FormatVersion::V2.as_u32(), 2);
        assert_eq!(FormatVersion::V3.as_u32(), 3);
    }

    /// A v1 database's record, as the v1 code wrote it (frame version 1,
    /// bincode body; `v1/golden.rs`), reads as `V1`.
    #[test]
    fn a_v1_record_reads_as_v1() {
        let v1_record = [0x01, 0x01, 0xef, 0x3d, 0xe2, 0xd8, 0x00, 0x01];
        assert_eq!(FormatVersion::decode(&v1_record), Ok(FormatVersion::V1));
    }

    #[test]
    fn unknown_versions_are_a_typed_error_and_still_decode_as_numbers() {
        for n in [0, 4, 99, u32::MAX] {
            assert_eq!(
                FormatVersion::try_from(n),
                Err(Error::UnknownFormatVersion(n))
            );
            let stored = MetaValue::FormatVersion(n).encode();
            assert_eq!(
                MetaValue::decode(&stored),
                Ok(MetaValue::FormatVersion(n)),
                "the record itself decodes, so the number can be reported"
            );
            assert_eq!(
                FormatVersion::decode(&stored),
                Err(Error::UnknownFormatVersion(n))
            );
        }
    }

    #[test]
    fn other_records_are_not_a_version() {
        let counter = MetaValue::Counter(2).encode();
        assert!(matches!(
            FormatVersion::decode(&counter),
            Err(Error::Malformed(_))
        ));
        let body = &FormatVersion::CURRENT.encode()[crate::FRAME_HEADER_LEN..];
        assert_eq!(
            FormatVersion::decode(&frame_raw(FRAME_VERSION + 1, RecordKind::Meta as u8, body)),
            Err(Error::UnsupportedVersion(FRAME_VERSION + 1))
        );
        assert!(matches!(
            FormatVersion::decode(&frame_raw(FRAME_VERSION, RecordKind::Name as u8, body)),
            Err(Error::WrongKind { .. })
        ));
        assert!(FormatVersion::decode(&[]).is_err());
    }

    proptest! {
        /// Total: any bytes decode to a version or an error, never a panic;
        /// what decodes re-encodes (in the current frame) to a record that
        /// decodes the same.
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(v) = FormatVersion::decode(&bytes) {
                prop_assert_eq!(FormatVersion::decode(&v.encode()), Ok(v));
            }
        }

        /// Every number: a known version exactly when `ALL` lists it.
        #[test]
        fn from_u32_knows_exactly_all(n in any::<u32>()) {
            let known = FormatVersion::ALL.iter().any(|v| v.as_u32() == n);
            prop_assert_eq!(FormatVersion::from_u32(n).is_ok(), known);
        }
    }
}
