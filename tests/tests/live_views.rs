//! Read-only views of a live database (issue 11, item 7): a RocksDB
//! secondary instance could miss a WAL that the primary flushed and deleted
//! during the open and still replay the next one, so `verify` on the view
//! saw batch k+1 without batch k and reported damage that was not on disk.
//! The outside tester's load saw 9-12 unclean views of 61-96; on this
//! machine the race did not show in 60 views without the consistent
//! catch-up, so this test guards the whole view path (open, file check,
//! verify) under that load rather than reproducing the race itself. It did
//! catch the file check of verify reporting SST files that the primary's
//! compactions had deleted (8 of 60 views unclean before verify stopped
//! checking files on views of a live primary).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rockhold::{ClassSpec, Db, FieldSpec, FieldType, ObjectId, Options, Value};
use rockhold_tests::{assert_invariant, TempDb};

/// A database with small memtables (its writers flush and delete WAL files
/// often) and the class the writers fill.
fn busy_db(memtable: usize) -> TempDb {
    let db = TempDb::with_options(Options::default().write_buffer_bytes(memtable));
    db.create_class(
        "default",
        &ClassSpec::new("item")
            .field(FieldSpec::new("name", FieldType::String).unique_hash())
            .field(FieldSpec::new("rank", FieldType::U64).ordered()),
    )
    .expect("class");
    db
}

/// Stops the writers however the views end (a panic included).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn verify_on_a_view_of_a_busy_writer_reports_no_false_damage() {
    let db = busy_db(64 << 10);
    let stop = Arc::new(AtomicBool::new(false));
    let views = 60;
    let unclean = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut round = 0u64;
            let mut previous: Vec<ObjectId> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                // Insert a batch, then update all of it in the next one.
                let mut tx = db.transaction();
                let mut ids: Vec<ObjectId> = Vec::new();
                for i in 0..50 {
                    let id = tx
                        .insert(
                            "default",
                            "item",
                            [
                                ("name", Value::from(format!("r{round}-{i}"))),
                                ("rank", (round * 100 + i).into()),
                            ],
                        )
                        .expect("stage");
                    ids.push(id);
                }
                tx.commit().expect("insert batch");
                let mut tx = db.transaction();
                for (i, id) in ids.iter().enumerate() {
                    tx.update(
                        "default",
                        *id,
                        [("rank", Value::from(round * 100 + i as u64 + 1_000_000))],
                    );
                }
                tx.commit().expect("update batch");
                // Keep the database small, so each verify stays quick.
                let mut tx = db.transaction();
                for id in previous.drain(..) {
                    tx.delete("default", id);
                }
                tx.commit().expect("delete batch");
                previous = ids;
                round += 1;
            }
            round
        });
        let stopper = StopOnDrop(&stop);
        let mut unclean = Vec::new();
        for view in 0..views {
            let scratch = tempfile::tempdir().expect("scratch");
            let ro = Db::open_read_only(db.path(), scratch.path(), Options::default())
                .expect("open a view");
            let report = ro.verify().expect("verify the view");
            if !report.is_clean() {
                unclean.push((view, report.problems[0].what.clone()));
            }
        }
        drop(stopper);
        let rounds = writer.join().expect("writer");
        assert!(
            rounds > 10,
            "the writer was busy during the views ({rounds} rounds)"
        );
        unclean
    });
    assert!(
        unclean.is_empty(),
        "{} of {views} views unclean: {unclean:?}",
        unclean.len()
    );
    assert_invariant(&db);
}

/// Issue 24 item 20: views gave up under a busy writer (`ViewNotConsistent`
/// in 1 of 37 opens, 3 of 40 at load 5.5): a catch-up was accepted only if
/// the primary's MANIFEST did not change while it ran, which a writer that
/// flushes every few milliseconds rarely allows. A catch-up during which no
/// WAL file was deleted is now a consistent cut too, and retries start at
/// once. Two writers with 32 KiB memtables here, every view must open.
#[test]
fn views_open_under_writers_that_flush_all_the_time() {
    let db = busy_db(32 << 10);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (db, stop) = (&db, &stop);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 2_000_000 {
                    let mut tx = db.transaction();
                    for i in 0..20 {
                        tx.insert(
                            "default",
                            "item",
                            [
                                ("name", Value::from(format!("w{w}-{n}-{i}"))),
                                ("rank", (n * 20 + i).into()),
                            ],
                        )
                        .expect("stage");
                    }
                    tx.commit().expect("commit");
                    n += 1;
                }
            });
        }
        let _stopper = StopOnDrop(&stop);
        for _ in 0..40 {
            let scratch = tempfile::tempdir().expect("scratch");
            let ro = Db::open_read_only(db.path(), scratch.path(), Options::default())
                .expect("every view opens");
            drop(ro);
        }
    });
}
