use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(multi)]
    email: String,
}

fn main() {}
