// A transaction cannot be used after its commit: commit consumes it.
use rockhold::{Db, MemStore, Options};

fn main() -> rockhold::Result<()> {
    let db = Db::open_memory(&MemStore::new(), Options::default())?;
    let mut tx = db.begin();
    tx.delete("default", rockhold::ObjectId(1));
    tx.commit()?;
    tx.delete("default", rockhold::ObjectId(2));
    Ok(())
}
