//! RocksDB's errors as the engine's: by RocksDB's status kind, the original
//! error kept as the source.

use rocksdb::ErrorKind as K;

use crate::error::{BackendError, Error};

impl From<rocksdb::Error> for Error {
    fn from(e: rocksdb::Error) -> Self {
        let kind = e.kind();
        let message = e.as_ref().to_string();
        map(kind, &message, Box::new(e))
    }
}

/// RocksDB reports "no space" as an I/O error whose message carries the OS
/// error text; the C API has no separate kind.
fn map(kind: K, message: &str, source: BackendError) -> Error {
    match kind {
        K::Corruption => Error::StorageCorruption { source },
        K::IOError
            if message.contains("No space left on device") || message.contains("NoSpace") =>
        {
            Error::StorageFull { path: None, source }
        }
        K::IOError => Error::Io { path: None, source },
        kind => Error::Storage {
            kind: kind_name(kind),
            source,
        },
    }
}

fn kind_name(kind: K) -> &'static str {
    match kind {
        K::NotFound => "not found",
        K::Corruption => "corruption",
        K::NotSupported => "not supported",
        K::InvalidArgument => "invalid argument",
        K::IOError => "io",
        K::MergeInProgress => "merge in progress",
        K::Incomplete => "incomplete",
        K::ShutdownInProgress => "shutdown in progress",
        K::TimedOut => "timed out",
        K::Aborted => "aborted",
        K::Busy => "busy",
        K::Expired => "expired",
        K::TryAgain => "try again",
        K::CompactionTooLarge => "compaction too large",
        K::ColumnFamilyDropped => "column family dropped",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// What `From<rocksdb::Error>` does with an error of this kind and text.
    fn rocks(kind: K, message: &str) -> Error {
        map(
            kind,
            message,
            Box::new(std::io::Error::other(message.to_string())),
        )
    }

    #[test]
    fn rocksdb_errors_map_by_kind_and_keep_their_source() {
        assert!(matches!(
            rocks(K::Corruption, "Corruption: bad block"),
            Error::StorageCorruption { .. }
        ));
        assert!(matches!(
            rocks(
                K::IOError,
                "IO error: No space left on device: While appending to file"
            ),
            Error::StorageFull { .. }
        ));
        let io = rocks(K::IOError, "IO error: Permission denied");
        assert!(matches!(io, Error::Io { .. }));
        let source = io.source().expect("the RocksDB error is kept");
        assert!(source.to_string().contains("Permission denied"), "{source}");
        assert!(matches!(
            rocks(K::Busy, "Resource busy: lock"),
            Error::Storage { kind: "busy", .. }
        ));
    }
}
