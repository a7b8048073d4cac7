//! The object-id allocator's state: ids are handed out once, never reused,
//! and persisted ahead of use (see `Inner::allocate_object_id`).

/// Object ids are reserved in blocks of this many: the high-water mark is
/// persisted once per block, ahead of the ids it covers.
pub(super) const ID_BLOCK: u64 = 1024;

/// The object-id allocator's state.
///
/// `mark` is the persisted high-water mark: no id at or above it has been
/// handed out, except that a mark of `u64::MAX` covers every id (there is no
/// `u64::MAX + 1` to store). `next` is the next id to hand out, `None` once
/// `u64::MAX` itself has been used: ids are never reused, so the space is
/// then exhausted.
pub(super) struct IdAllocator {
    pub next: Option<u64>,
    pub mark: u64,
}

impl IdAllocator {
    /// The state at open: ids from the mark on are free. A mark of
    /// `u64::MAX` cannot say whether `u64::MAX` itself was used, so it counts
    /// as used.
    pub fn at_open(mark: u64) -> IdAllocator {
        IdAllocator {
            next: (mark != u64::MAX).then_some(mark),
            mark,
        }
    }

    pub fn covers(&self, id: u64) -> bool {
        self.mark == u64::MAX || id < self.mark
    }
}
