use rockhold::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
#[model(index(name = "email", ordered, fields("email")))]
struct User {
    #[index(unique)]
    email: String,
}

fn main() {}
