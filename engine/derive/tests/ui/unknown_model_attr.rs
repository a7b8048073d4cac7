use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[model(table = "users")]
struct User {
    email: String,
}

fn main() {}
