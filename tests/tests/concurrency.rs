//! Unique constraints under concurrency: threads insert, rename and delete
//! objects with colliding unique values; in the end every value has at most
//! one holder, lookups agree with the records, and the invariant holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use rockhold::{ClassSpec, Db, Error, FieldSpec, FieldType, Options, Value};
use rockhold_tests::assert_invariant;

const VALUES: u64 = 6;
const THREADS: u64 = 6;
const ROUNDS: u64 = 1500;

fn email(i: u64) -> Value {
    Value::from(format!("user{}@x", i % VALUES))
}

/// Two classes with a unique email: one hash-indexed, one ordered.
fn unique_email_classes(db: &Db) {
    for (class, spec) in [
        (
            "hashed",
            FieldSpec::new("email", FieldType::String).unique_hash(),
        ),
        (
            "ordered",
            FieldSpec::new("email", FieldType::String).unique_ordered(),
        ),
    ] {
        db.create_class("default", &ClassSpec::new(class).field(spec))
            .expect("class");
    }
}

#[test]
fn one_holder_per_unique_value_under_concurrent_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(dir.path(), Options::default()).expect("open"));
    unique_email_classes(&db);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                let mut owned = Vec::new();
                let (mut ok, mut refused) = (0u64, 0u64);
                let mut rng = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..ROUNDS {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let class = if rng & 1 == 0 { "hashed" } else { "ordered" };
                    let value = email(rng >> 8);
                    let result = match (rng >> 4) % 4 {
                        0 | 1 => db
                            .insert("default", class, [("email", value)])
                            .map(|id| owned.push((class, id))),
                        2 if !owned.is_empty() => {
                            let (_, id) = owned[(rng >> 16) as usize % owned.len()];
                            let mut tx = db.transaction();
                            // Rename to a value of the object's own class.
                            tx.update("default", id, [("email", email(rng >> 24))]);
                            tx.commit()
                        }
                        _ if !owned.is_empty() => {
                            let (_, id) = owned.swap_remove((rng >> 16) as usize % owned.len());
                            db.delete("default", id)
                        }
                        _ => Ok(()),
                    };
                    match result {
                        Ok(()) => ok += 1,
                        Err(Error::UniqueViolation { .. }) => refused += 1,
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for w in workers {
        let (o, r) = w.join().expect("worker");
        ok += o;
        refused += r;
    }
    assert!(
        ok > 0 && refused > 0,
        "the workload must both succeed and collide ({ok} ok, {refused} refused)"
    );
    for class in ["hashed", "ordered"] {
        let mut holders = std::collections::BTreeMap::<String, Vec<_>>::new();
        for id in db
            .scan_class("default", class, None, usize::MAX)
            .expect("scan")
        {
            let obj = db.get("default", id).expect("get").expect("exists");
            holders
                .entry(obj.get("email").expect("email").to_string())
                .or_default()
                .push(id);
        }
        for (value, ids) in &holders {
            assert_eq!(ids.len(), 1, "{class}: {value} is held by {ids:?}");
        }
        for i in 0..VALUES {
            let v = email(i);
            let found = db
                .find_unique("default", class, "email", &v)
                .expect("lookup");
            assert_eq!(
                found,
                holders.get(&v.to_string()).map(|ids| ids[0]),
                "{class} {v}"
            );
        }
    }
    assert_invariant(&db);
}

/// Every round, all threads are released at once to claim the same new value
/// (by insert, then by renaming an object they own): exactly one may win.
#[test]
fn simultaneous_claims_of_one_value_have_exactly_one_winner() {
    const ROUNDS: usize = 200;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(dir.path(), Options::default()).expect("open"));
    unique_email_classes(&db);
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let wins: Arc<Vec<AtomicU64>> = Arc::new((0..ROUNDS * 2).map(|_| AtomicU64::new(0)).collect());
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, barrier, wins) = (db.clone(), barrier.clone(), wins.clone());
            thread::spawn(move || {
                let class = |r: usize| {
                    if r.is_multiple_of(2) {
                        "hashed"
                    } else {
                        "ordered"
                    }
                };
                let own: Vec<_> = ["hashed", "ordered"]
                    .iter()
                    .map(|c| {
                        db.insert("default", c, [("email", format!("own-{t}"))])
                            .expect("own")
                    })
                    .collect();
                for r in 0..ROUNDS {
                    barrier.wait();
                    match db.insert("default", class(r), [("email", format!("insert-{r}"))]) {
                        Ok(_) => {
                            wins[r].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::UniqueViolation { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                    barrier.wait();
                    match db.update("default", own[r % 2], [("email", format!("rename-{r}"))]) {
                        Ok(()) => {
                            wins[ROUNDS + r].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::UniqueViolation { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    for (i, w) in wins.iter().enumerate() {
        assert_eq!(
            w.load(Ordering::Relaxed),
            1,
            "round {i}: {} winners",
            w.load(Ordering::Relaxed)
        );
    }
    assert_invariant(&db);
}
