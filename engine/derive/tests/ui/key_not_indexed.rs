use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[model(key = "email")]
struct User {
    email: String,
}

fn main() {}
