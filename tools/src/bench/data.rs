//! The benchmark's data, generated before any clock starts.
//!
//! [`Person`] is also the typed rockhold system's model (`#[derive(Model)]`):
//! the typed API takes the struct as a user's code has it, while the other
//! systems read its fields.

use rockhold::{Bytes, Model};
use serde::{Deserialize, Serialize};

/// One object of the benchmark's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[model(class = "person")]
pub struct Person {
    // Unique hash, the default, as the dynamic system's (see rockhold_store.rs).
    #[index(unique)]
    pub email: String,
    pub name: String,
    #[index(ordered)]
    pub age: u64,
    pub payload: Bytes,
}

/// A small deterministic generator (xorshift64*), so every system gets the
/// same data and the same query order.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Everything a run needs: the objects, and the order of lookups/updates/deletes.
pub struct Data {
    pub people: Vec<Person>,
    /// Indexes into `people`, a permutation prefix: lookups, updates and deletes use it.
    pub order: Vec<usize>,
    /// Lower bounds of the W8 range queries on age.
    pub ranges: Vec<u64>,
}

/// Distinct ages: about n/1000 objects share each age.
pub const AGES: u64 = 1000;

pub fn generate(n: usize, lookups: usize, range_queries: usize) -> Data {
    let mut rng = Rng::new(0x5EED);
    let people = (0..n)
        .map(|i| {
            let mut payload = vec![0u8; 100];
            for chunk in payload.chunks_mut(8) {
                let r = rng.next().to_le_bytes();
                chunk.copy_from_slice(&r[..chunk.len()]);
            }
            Person {
                email: format!("user{i:08}@example.com"),
                name: format!("Name {}", rng.next() % 100_000),
                age: rng.next() % AGES,
                payload: Bytes(payload),
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order.truncate(lookups.min(n));
    let ranges = (0..range_queries)
        .map(|_| rng.next() % (AGES - 1))
        .collect();
    Data {
        people,
        order,
        ranges,
    }
}
