use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[model(index(name = "by_x", fields("nope")))]
struct User {
    name: String,
}

fn main() {}
