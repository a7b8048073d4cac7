use rockhold::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[serde(tag = "type")]
enum Shape {
    Circle { r: f64 },
}

fn main() {}
