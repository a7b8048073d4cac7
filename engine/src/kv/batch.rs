//! Backend-neutral write batches: puts, deletes and range deletes addressed
//! by key family, packed in one buffer; a backend applies one whole or not
//! at all ([`super::Kv::write`]).

use std::ops::Range;

use rockhold_format::{
    encode_locator, Family, GenerationKey, Key, LocatorKey, MetaValue, ObjectKey, Record,
};

use super::Space;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Put,
    Delete,
    DeleteRange,
}

#[derive(Debug, Clone)]
struct Op {
    kind: Kind,
    space: Space,
    key: Range<usize>,
    /// The value of a put, the (exclusive) end key of a range delete.
    arg: Range<usize>,
}

/// One operation of a batch, as a backend applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchOp<'a> {
    /// Sets `key` to `value`.
    Put(Space, &'a [u8], &'a [u8]),
    /// Removes `key`.
    Delete(Space, &'a [u8]),
    /// Removes every key in `[start, end)`.
    DeleteRange(Space, &'a [u8], &'a [u8]),
}

/// Puts and deletes that commit together. Operations apply in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct WriteBatch {
    buf: Vec<u8>,
    ops: Vec<Op>,
}

thread_local! {
    /// This thread's last committed batch, kept for its buffers.
    static SPARE: std::cell::Cell<Option<WriteBatch>> = const { std::cell::Cell::new(None) };
}

/// A spare batch whose key bytes or operation list is larger than this is
/// dropped, not kept (a bulk write's buffers are not held for the thread's
/// lifetime).
const SPARE_MAX_BYTES: usize = 1 << 20;

impl WriteBatch {
    pub(crate) fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// An empty batch with the buffers of this thread's last
    /// [`WriteBatch::recycle`]d one: a writer's steady state allocates no
    /// batch.
    pub(crate) fn reused() -> WriteBatch {
        SPARE.take().unwrap_or_default()
    }

    /// Empties the batch and keeps it as this thread's spare.
    pub(crate) fn recycle(mut self) {
        let ops_bytes = self.ops.capacity() * std::mem::size_of::<Op>();
        if self.buf.capacity() <= SPARE_MAX_BYTES && ops_bytes <= SPARE_MAX_BYTES {
            self.buf.clear();
            self.ops.clear();
            SPARE.set(Some(self));
        }
    }

    fn push(&mut self, kind: Kind, space: Space, key: &[u8], arg: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(key);
        let mid = self.buf.len();
        self.buf.extend_from_slice(arg);
        self.ops.push(Op {
            kind,
            space,
            key: start..mid,
            arg: mid..self.buf.len(),
        });
    }

    /// Sets `key` of `family` to `value`.
    pub(crate) fn put(&mut self, family: Family, key: &[u8], value: &[u8]) {
        self.push(Kind::Put, Space::of(family), key, value);
    }

    /// Sets `key` of `space` to `value`, whatever family the key is of (a
    /// raw copy).
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    pub(crate) fn put_in(&mut self, space: Space, key: &[u8], value: &[u8]) {
        self.push(Kind::Put, space, key, value);
    }

    /// Puts an object's record under `key`; for a new object (`new`), its
    /// locator too. The one place a record is written: a record and its
    /// locator always go in the same batch (docs/FORMAT.md, 2.5).
    pub(crate) fn put_object(&mut self, key: &ObjectKey, record: &[u8], new: bool) {
        let mut buf = Vec::with_capacity(rockhold_format::OBJECT_KEY_LEN);
        key.encode_into(&mut buf);
        self.put(Family::Object, &buf, record);
        if new {
            buf.clear();
            LocatorKey {
                ns: key.ns,
                id: key.id,
            }
            .encode_into(&mut buf);
            self.put(Family::Locator, &buf, &encode_locator(key.class));
        }
    }

    /// Deletes an object's record and its locator.
    pub(crate) fn delete_object(&mut self, key: &ObjectKey) {
        self.delete(Family::Object, &key.encode());
        let locator = LocatorKey {
            ns: key.ns,
            id: key.id,
        };
        self.delete(Family::Locator, &locator.encode());
    }

    /// Removes `key` of `family`.
    pub(crate) fn delete(&mut self, family: Family, key: &[u8]) {
        self.push(Kind::Delete, Space::of(family), key, &[]);
    }

    /// Removes every key of `family` that starts with `prefix`.
    pub(crate) fn delete_prefix(&mut self, family: Family, prefix: &[u8]) {
        self.delete_prefix_in(Space::of(family), prefix);
    }

    /// Removes every key of `space` that starts with `prefix` (as
    /// [`WriteBatch::delete_prefix`], for a family kept in every space).
    pub(crate) fn delete_prefix_in(&mut self, space: Space, prefix: &[u8]) {
        match rockhold_format::prefix_successor(prefix) {
            Some(end) => self.push(Kind::DeleteRange, space, prefix, &end),
            // A prefix of all 0xFF runs to the end of the keyspace: bound it
            // by a key longer than any key rockhold writes.
            None => self.push(Kind::DeleteRange, space, prefix, &[0xFF; 64]),
        }
    }

    /// Writes the generation marker `generation` into every space.
    pub(crate) fn put_generation(&mut self, generation: u64) {
        let value = MetaValue::Counter(generation).encode();
        for space in Space::ALL {
            let key = GenerationKey { cf: space.tag() }.encode();
            self.push(Kind::Put, space, &key, &value);
        }
    }

    /// About the bytes RocksDB's encoding of the batch takes: every key
    /// and value, with a few bytes of tag, column family and lengths each.
    #[cfg_attr(not(feature = "rocksdb"), allow(dead_code))]
    pub(crate) fn encoded_len_hint(&self) -> usize {
        12 + self.buf.len() + 12 * self.ops.len()
    }

    /// Number of operations.
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, in order.
    pub(crate) fn ops(&self) -> impl Iterator<Item = BatchOp<'_>> + '_ {
        self.ops.iter().map(|op| {
            let key = &self.buf[op.key.clone()];
            let arg = &self.buf[op.arg.clone()];
            match op.kind {
                Kind::Put => BatchOp::Put(op.space, key, arg),
                Kind::Delete => BatchOp::Delete(op.space, key),
                Kind::DeleteRange => BatchOp::DeleteRange(op.space, key, arg),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_batch_is_empty_and_keeps_its_buffers() {
        let mut b = WriteBatch::reused();
        b.put(Family::Object, b"Oa", &[7; 100]);
        let capacity = b.buf.capacity();
        b.recycle();
        let b = WriteBatch::reused();
        assert!(b.is_empty());
        assert_eq!(b.ops().count(), 0);
        assert_eq!(b.buf.capacity(), capacity);
        // Taken: the next one is new.
        assert_eq!(WriteBatch::reused().buf.capacity(), 0);
    }

    #[test]
    fn operations_come_back_in_order_with_their_bytes() {
        let mut b = WriteBatch::new();
        b.put(Family::Object, b"Oa", b"v1");
        b.delete(Family::Hash, b"IHx");
        b.delete_prefix(Family::Ordered, b"IR\x01");
        let ops: Vec<_> = b.ops().collect();
        assert_eq!(
            ops,
            vec![
                BatchOp::Put(Space::Objects, b"Oa", b"v1"),
                BatchOp::Delete(Space::Hash, b"IHx"),
                BatchOp::DeleteRange(Space::Ordered, b"IR\x01", b"IR\x02"),
            ]
        );
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn a_generation_marker_goes_into_every_space() {
        let mut b = WriteBatch::new();
        b.put_generation(7);
        let spaces: Vec<Space> = b
            .ops()
            .map(|op| match op {
                BatchOp::Put(s, _, _) => s,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(spaces, Space::ALL.to_vec());
    }
}
