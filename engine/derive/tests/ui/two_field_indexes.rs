use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(unique)]
    #[index(ordered)]
    email: String,
}

fn main() {}
