//! The `rockhold` command.

fn main() {
    println!("demo arrives with the engine");
}
