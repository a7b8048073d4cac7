use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[model(index(name = "by_city", fields("adress.city")))]
struct User {
    address: String,
}

fn main() {}
