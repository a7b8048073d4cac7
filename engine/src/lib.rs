//! rockhold: an embedded, typed object store with secondary indexes on RocksDB.
//! The engine arrives with the engine-core issue.
