use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[model(key = "mail")]
struct User {
    #[index(unique)]
    email: String,
}

fn main() {}
