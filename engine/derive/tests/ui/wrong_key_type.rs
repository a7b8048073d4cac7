use rockhold::{Key, Model};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(unique)]
    email: String,
    #[index(hash)]
    age: u32,
}

/// The bounds of `Collection::find_unique`.
fn find_unique<M, K: Key, I: rockhold::Unique>(_: rockhold::IndexRef<M, K, I>, _: K::Ref<'_>) {}

fn main() {
    find_unique(User::EMAIL, "a@x.io");
    find_unique(User::EMAIL, 42u64);
    find_unique(User::AGE, 42u32);
}
