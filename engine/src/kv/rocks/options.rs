//! How RocksDB is configured: every option chosen explicitly, with the
//! reason, for the database and for each column family.

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, DBRecoveryMode};

use crate::kv::{Config, Space, HASH_LOOKUP_PREFIX_LEN};

/// Options of the database as a whole.
pub(super) fn db_options(config: &Config) -> rocksdb::Options {
    let mut o = rocksdb::Options::default();
    o.create_if_missing(config.create_if_missing);
    o.create_missing_column_families(true);
    // Check every file's checksums and consistency at open and fail loudly.
    o.set_paranoid_checks(true);
    // The default (PointInTime) silently drops everything after a corrupt WAL
    // record. Tolerating only a torn *tail* (the write in flight at a crash)
    // makes corruption in the middle of the log an error at open instead.
    o.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    // Record WAL files in the MANIFEST, so a missing WAL is detected at open.
    o.set_track_and_verify_wals_in_manifest(true);
    // Flush all column families together: records and their index entries
    // always reach SST files in the same flush.
    o.set_atomic_flush(true);
    o.increase_parallelism(2);
    o.set_max_background_jobs(4);
    o.set_bytes_per_sync(1 << 20);
    o.set_keep_log_file_num(4);
    o
}

/// Options of the column family of `space`; SST files written for
/// ingestion into it are built with the same table options.
pub(super) fn cf_options(space: Space, config: &Config, cache: &Cache) -> rocksdb::Options {
    let mut table = BlockBasedOptions::default();
    // XXH3 block checksums: the strongest fast checksum RocksDB offers.
    table.set_checksum_type(rocksdb::ChecksumType::XXH3);
    // Full (not block-based) bloom filters, 10 bits/key: ~1% false positives,
    // so point reads of absent keys rarely touch a data block.
    table.set_bloom_filter(10.0, false);
    table.set_block_cache(cache);
    // Index and filter blocks stay in the table readers, outside the block
    // cache: in the cache, data blocks evicted them, and at 1M objects a
    // cold lookup re-read a ~0.5 MiB index block from the file almost every
    // time (W3 at 7.9k lookups/s). They cost about 2 bytes per key of
    // memory: rocksdb.estimate-table-readers-mem was 7.8 MB for 1M objects
    // (4 keys each) in the benchmark.
    table.set_cache_index_and_filter_blocks(false);
    let mut o = rocksdb::Options::default();
    o.set_block_based_table_factory(&table);
    // A column family's memtable fills to at most half the memtables'
    // share of the budget (two may exist while one flushes).
    o.set_write_buffer_size(
        config
            .write_buffer_bytes
            .min(super::memtable_budget(config) / 2)
            .max(1 << 20),
    );
    o.set_level_compaction_dynamic_level_bytes(true);
    // Object records compress; index keys are all key and prefix-compressed
    // by the block format already.
    if space == Space::Hash {
        // Lookups and uniqueness checks seek one (field, hash) prefix: a
        // prefix bloom filter (in SSTs and the memtable) skips every file
        // that cannot hold it, so a check for an absent value rarely reads
        // a data block.
        o.set_prefix_extractor(rocksdb::SliceTransform::create_fixed_prefix(
            HASH_LOOKUP_PREFIX_LEN,
        ));
        o.set_memtable_prefix_bloom_ratio(0.1);
    }
    o.set_compression_type(if space == Space::Objects {
        DBCompressionType::Lz4
    } else {
        DBCompressionType::None
    });
    o
}
