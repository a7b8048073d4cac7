// A range scan on a hash index does not compile, through the real
// collection API.
use rockhold::{Db, MemStore, Model, Options};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Model)]
struct User {
    #[index(unique)]
    email: String,
}

fn main() -> rockhold::Result<()> {
    let db = Db::open_memory(&MemStore::new(), Options::default())?;
    let users = db.collection::<User>()?;
    let _ = users.range(User::EMAIL, "a".."b")?;
    let _ = users.find_unique(User::EMAIL, 3u64)?;
    Ok(())
}
