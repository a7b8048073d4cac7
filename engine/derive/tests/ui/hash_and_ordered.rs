use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(hash, ordered)]
    email: String,
}

fn main() {}
