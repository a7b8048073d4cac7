//! The object-id allocator: ids are handed out once, never reused, and
//! persisted ahead of use (see `IdAllocator::allocate`).

use parking_lot::Mutex;
use rockhold_format::{Family, Key, MetaKey, MetaValue, ObjectId, Record};

use crate::error::{Error, Result};
use crate::kv::{Kv, WriteBatch};

/// Object ids are reserved in blocks of this many: the high-water mark is
/// persisted once per block, ahead of the ids it covers.
const ID_BLOCK: u64 = 1024;

/// The object-id allocator's state.
///
/// `mark` is the persisted high-water mark: no id at or above it has been
/// handed out, except that a mark of `u64::MAX` covers every id (there is no
/// `u64::MAX + 1` to store). `next` is the next id to hand out, `None` once
/// `u64::MAX` itself has been used: ids are never reused, so the space is
/// then exhausted.
struct IdState {
    next: Option<u64>,
    mark: u64,
}

/// Hands out object ids (see `allocate`).
pub(crate) struct IdAllocator(Mutex<IdState>);

impl IdState {
    fn covers(&self, id: u64) -> bool {
        self.mark == u64::MAX || id < self.mark
    }
}

impl IdAllocator {
    /// The state at open: ids from the persisted mark on are free. A mark
    /// of `u64::MAX` cannot say whether `u64::MAX` itself was used, so it
    /// counts as used.
    pub fn at_open(mark: u64) -> IdAllocator {
        IdAllocator(Mutex::new(IdState {
            next: (mark != u64::MAX).then_some(mark),
            mark,
        }))
    }

    /// Hands out a fresh object id. When the id reaches the persisted mark,
    /// the mark is raised by a block in its own write first: WAL order
    /// makes any later batch that uses the id durable only together with
    /// the mark, so an id is never handed out twice, even across a crash.
    /// After `u64::MAX` has been used, every call fails with `IdsExhausted`.
    pub fn allocate(&self, kv: &dyn Kv) -> Result<ObjectId> {
        let mut ids = self.0.lock();
        let id = ids.next.ok_or(Error::IdsExhausted)?;
        cover_id(kv, &mut ids, id)?;
        ids.next = id.checked_add(1);
        Ok(ObjectId(id))
    }

    /// Makes sure `id` and every id below it are never handed out: ids that
    /// arrive with ingested objects come from elsewhere.
    pub fn reserve_through(&self, kv: &dyn Kv, id: ObjectId) -> Result<()> {
        let mut ids = self.0.lock();
        cover_id(kv, &mut ids, id.0)?;
        ids.next = match (ids.next, id.0.checked_add(1)) {
            (Some(next), Some(after)) => Some(next.max(after)),
            _ => None, // u64::MAX is taken: nothing is left
        };
        Ok(())
    }
}

/// Makes the persisted high-water mark cover `id`, raising it a block
/// ahead in a write of its own when it does not.
fn cover_id(kv: &dyn Kv, ids: &mut IdState, id: u64) -> Result<()> {
    if ids.covers(id) {
        return Ok(());
    }
    let new_mark = id.saturating_add(1).saturating_add(ID_BLOCK);
    let mut batch = WriteBatch::new();
    batch.put(
        Family::Meta,
        &MetaKey::NextObjectId.encode(),
        &MetaValue::Counter(new_mark).encode(),
    );
    kv.write(&batch, false)?;
    ids.mark = new_mark;
    Ok(())
}
