//! The memory budget (`Options::memory_budget`): RocksDB's block cache and
//! memtables stay under the one limit the user sets, whatever the number of
//! column families and however much is written and read.
//!
//! Checked to fail: as before the budget (no write buffer manager, each
//! memtable sized by `write_buffer_bytes` alone, 32 MiB), the memtables of
//! a 16 MiB budget peaked at 53 MiB.

use rockhold::{ClassSpec, Family, FieldSpec, FieldType, Options, Value};
use rockhold_tests::TempDb;

const BUDGET: u64 = 16 << 20;

/// The bytes of every column family's memtables, and the block cache's
/// usage (which the memtables are charged to).
fn usage(db: &TempDb) -> (u64, u64) {
    let prop = |family, name| {
        db.rocksdb_property(family, name)
            .expect("property")
            .expect("known")
    };
    let memtables = [
        Family::Meta,
        Family::Object,
        Family::Hash,
        Family::Ordered,
        Family::Task,
    ]
    .into_iter()
    .map(|f| prop(f, "rocksdb.cur-size-all-mem-tables"))
    .sum();
    (memtables, prop(Family::Object, "rocksdb.block-cache-usage"))
}

#[test]
fn memtables_and_the_block_cache_stay_within_the_budget() {
    let db = TempDb::with_options(Options::default().memory_budget(BUDGET as usize));
    db.create_class(
        "default",
        &ClassSpec::new("blob")
            .field(FieldSpec::new("key", FieldType::String).unique_ordered())
            .field(FieldSpec::new("n", FieldType::U64).ordered())
            .field(FieldSpec::new("body", FieldType::Bytes)),
    )
    .expect("class");
    let mut peak = (0, 0);
    // About 48 MiB of records, three times the budget, in batches of 100.
    for batch in 0..120u64 {
        let mut tx = db.transaction();
        for i in 0..100u64 {
            let n = batch * 100 + i;
            tx.insert(
                "default",
                "blob",
                [
                    ("key", Value::from(format!("k{n:08}"))),
                    ("n", Value::U64(n)),
                    ("body", Value::Bytes(vec![(n % 251) as u8; 4000])),
                ],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
        let (m, c) = usage(&db);
        peak = (peak.0.max(m), peak.1.max(c));
    }
    // Read everything back: the cache fills with blocks, up to the budget.
    assert_eq!(db.count("default", "blob").expect("count"), 12_000);
    let mut after = None;
    loop {
        let page = db
            .scan_objects("default", "blob", after, 500)
            .expect("scan");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let (m, c) = usage(&db);
        peak = (peak.0.max(m), peak.1.max(c));
    }
    let (memtables, cache) = peak;
    // A memtable is counted by its arena blocks: allow one block of slack
    // per column family over the half that is the memtables' share.
    assert!(
        memtables <= BUDGET / 2 + 5 * (1 << 20),
        "memtables peaked at {memtables} bytes, over half the budget of {BUDGET}"
    );
    assert!(
        cache <= BUDGET + (1 << 20),
        "the block cache (with the memtables charged to it) peaked at {cache} bytes, over {BUDGET}"
    );
    assert!(
        cache >= BUDGET / 2,
        "the cache never filled ({cache} bytes): the test reads too little to show the limit"
    );
}
