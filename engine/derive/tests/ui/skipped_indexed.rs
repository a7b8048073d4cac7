use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(unique)]
    #[serde(skip)]
    email: String,
}

fn main() {}
