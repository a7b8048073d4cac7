use rockhold::{Model, Schema};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct Address {
    city: String,
}

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[serde(flatten)]
    address: Address,
}

fn main() {}
