//! The committed state the uniqueness rule reads: the holders stored under
//! unique point keys and the tuples a committed record holds, at one state
//! of the store (the latest, a snapshot, or a transaction's overlay); and
//! where an object's record is (its locator). The write path, the builds
//! and the reads all ask it through here.

use rockhold_format::{
    decode_hash_holders, decode_locator, ClassDef, ClassId, Family, IndexDef, Key, LocatorKey,
    NamespaceId, ObjectId, ObjectKey, RecordView,
};

use crate::error::{Error, Result};
use crate::index::entries::index_tuples_in;
use crate::index::plan::UniqueValue;
use crate::index::unique::{Committed, Held};
use crate::kv::{KvRead, Space};

/// An object's class and stored record bytes, as a transaction saw them.
pub(crate) type LocatedRecord = (ClassId, Vec<u8>);

/// The committed state of one store state.
#[derive(Clone, Copy)]
pub(crate) struct Stored<'a>(pub &'a dyn KvRead);

impl Stored<'_> {
    /// The class of object `id`, as its locator has it; `None` when the
    /// object does not exist. One point read.
    pub fn locate(&self, ns: NamespaceId, id: ObjectId) -> Result<Option<ClassId>> {
        let mut out = None;
        let key = LocatorKey { ns, id }.encode();
        self.0.get_with(Space::Objects, &key, &mut |bytes| {
            out = Some(decode_locator(bytes));
        })?;
        out.transpose().map_err(|e| Error::corruption(&key, e))
    }

    /// Whether object `id` is still as `seen` ([`Stored::located_record`]
    /// at an earlier state): one read of the record under the class seen
    /// (a record there means the locator still names that class: an id has
    /// one record), or, for an object that did not exist, of its locator.
    pub fn still(
        &self,
        ns: NamespaceId,
        id: ObjectId,
        seen: &Option<LocatedRecord>,
    ) -> Result<bool> {
        match seen {
            Some((class, bytes)) => {
                let key = ObjectKey {
                    ns,
                    class: *class,
                    id,
                };
                Ok(self.0.get(Space::Objects, &key.encode())?.as_ref() == Some(bytes))
            }
            None => Ok(self.locate(ns, id)?.is_none()),
        }
    }

    /// The class and stored bytes of object `id` found by id alone (its
    /// locator, then its record); `None` when it does not exist. What a
    /// transaction records of an object it read, and checks at commit
    /// ([`Stored::still`]).
    pub fn located_record(&self, ns: NamespaceId, id: ObjectId) -> Result<Option<LocatedRecord>> {
        let Some(class) = self.locate(ns, id)? else {
            return Ok(None);
        };
        let key = ObjectKey { ns, class, id }.encode();
        Ok(self
            .0
            .get(Space::Objects, &key)?
            .map(|bytes| (class, bytes)))
    }

    /// [`Stored::locate`] of each id, in one batched read.
    pub fn locate_many(&self, ns: NamespaceId, ids: &[ObjectId]) -> Result<Vec<Option<ClassId>>> {
        let keys: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| LocatorKey { ns, id }.encode())
            .collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut out = vec![None; ids.len()];
        let mut corrupt = None;
        self.0.multi_get_with(
            Space::Objects,
            &refs,
            &mut |i, bytes| match decode_locator(bytes) {
                Ok(class) => out[i] = Some(class),
                Err(e) => {
                    corrupt.get_or_insert_with(|| Error::corruption(&keys[i], e));
                }
            },
        )?;
        corrupt.map_or(Ok(out), Err)
    }

    /// The tuples the committed record of `id` holds in `index` (none when
    /// it is missing: its class's records hold no other).
    pub fn tuples_of(
        &self,
        ns: NamespaceId,
        class: &ClassDef,
        index: &IndexDef,
        id: ObjectId,
    ) -> Result<Vec<Vec<u8>>> {
        let key = ObjectKey {
            ns,
            class: class.id,
            id,
        }
        .encode();
        let mut out = None;
        self.0.get_with(Space::Objects, &key, &mut |bytes| {
            out = Some(
                RecordView::in_class(bytes, class.id)
                    .and_then(|rec| index_tuples_in(class, index, &rec)),
            );
        })?;
        Ok(out
            .transpose()
            .map_err(|e| Error::corruption(&key, e))?
            .unwrap_or_default())
    }

    /// The holders stored under a unique index's point key, with the
    /// tuples the value keeps.
    pub fn point_holders(&self, family: Family, key: &[u8]) -> Result<Vec<Held>> {
        let mut decoded = None;
        self.0.get_with(Space::of(family), key, &mut |bytes| {
            decoded = Some(held(bytes));
        })?;
        Ok(decoded
            .transpose()
            .map_err(|e| Error::corruption(key, e))?
            .unwrap_or_default())
    }

    /// `point_holders` of every key, in order: one batched read per run of
    /// keys of one family.
    pub fn point_holders_many(&self, keys: &[&(Family, Vec<u8>)]) -> Result<Vec<Vec<Held>>> {
        let mut out: Vec<Vec<Held>> = vec![Vec::new(); keys.len()];
        let mut corrupt = None;
        let mut start = 0;
        while start < keys.len() {
            let family = keys[start].0;
            let end = start + keys[start..].iter().take_while(|k| k.0 == family).count();
            if end == start + 1 {
                // One key (a single write's check): a plain point read.
                out[start] = self.point_holders(family, &keys[start].1)?;
                start = end;
                continue;
            }
            let run: Vec<&[u8]> = keys[start..end].iter().map(|k| k.1.as_slice()).collect();
            self.0
                .multi_get_with(Space::of(family), &run, &mut |i, bytes| match held(bytes) {
                    Ok(holders) => out[start + i] = holders,
                    Err(e) => {
                        corrupt.get_or_insert_with(|| Error::corruption(run[i], e));
                    }
                })?;
            if let Some(e) = corrupt.take() {
                return Err(e);
            }
            start = end;
        }
        Ok(out)
    }
}

/// A point value's holders, owned.
fn held(bytes: &[u8]) -> std::result::Result<Vec<Held>, rockhold_format::Error> {
    Ok(decode_hash_holders(bytes)?
        .iter()
        .map(Held::from_stored)
        .collect())
}

impl Committed for Stored<'_> {
    fn holders(&mut self, family: Family, key: &[u8]) -> Result<Vec<Held>> {
        self.point_holders(family, key)
    }

    fn holders_many(&mut self, keys: &[&(Family, Vec<u8>)]) -> Result<Vec<Vec<Held>>> {
        self.point_holders_many(keys)
    }

    fn tuples(&mut self, u: &UniqueValue<'_>, holder: ObjectId) -> Result<Vec<Vec<u8>>> {
        self.tuples_of(u.ns, u.class, u.index, holder)
    }
}
