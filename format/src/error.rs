//! The one error type of the format crate.

use crate::keys::Family;

/// Why bytes could not be decoded.
///
/// Every decoder in this crate returns this type and never panics: bytes read
/// from disk are untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before `what` was complete.
    #[error("truncated {what}: input ended early")]
    Truncated {
        /// The item being decoded when the input ran out.
        what: &'static str,
    },
    /// A framed record's stored crc32 does not match the crc32 of its bytes.
    #[error("checksum mismatch: stored crc32 {expected:#010x}, computed {actual:#010x}")]
    ChecksumMismatch {
        /// The checksum stored in the record header.
        expected: u32,
        /// The checksum computed over the bytes read.
        actual: u32,
    },
    /// A framed record carries a frame version this build does not know.
    #[error("unsupported record format version {0}")]
    UnsupportedVersion(u8),
    /// A database format version number this build does not know
    /// ([`crate::FormatVersion`]).
    #[error("unknown database format version {0}")]
    UnknownFormatVersion(u32),
    /// A key does not start with the prefix of the family it was decoded as.
    #[error("key is not of family {expected:?}")]
    WrongFamily {
        /// The family the caller asked for.
        expected: Family,
    },
    /// A framed record is of another kind than the one asked for
    /// (for example a task record decoded as an object record).
    #[error("record kind {found} found where kind {expected} was expected")]
    WrongKind {
        /// The kind byte the caller asked for.
        expected: u8,
        /// The kind byte found in the record header.
        found: u8,
    },
    /// The bytes have the right length and checksum but do not make sense.
    #[error("malformed {0}")]
    Malformed(String),
    /// A persisted counter (a task's attempts, a class's revision or next
    /// field id, a task revision, a generation marker) is at its type's
    /// maximum and cannot advance.
    #[error("counter {counter} is exhausted: it is at its maximum value and cannot advance")]
    CounterExhausted {
        /// The counter, e.g. `task.attempts`.
        counter: &'static str,
    },
    /// A record body longer than [`crate::MAX_BODY_LEN`], refused before
    /// decoding (or before it is written).
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its length in bytes.
        len: u64,
        /// The limit.
        max: u64,
    },
}

impl Error {
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        Error::Malformed(what.into())
    }
}

/// Result alias of the format crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
