use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(unique)]
    email: String,
    #[index(ordered)]
    age: u32,
}

/// The bounds of `Collection::range`.
fn range<M, K, I: rockhold::Range>(_: rockhold::IndexRef<M, K, I>) {}

fn main() {
    range(User::AGE);
    range(User::EMAIL);
}
