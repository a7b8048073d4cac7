//! The uniqueness rule, in one place: under a unique index, at most one
//! object holds each value. Every path that can find a second holder (a
//! commit, a backfill chunk, a bulk build's sorted entries, `verify`) feeds
//! the (value, holder) pairs it sees to a [`UniqueCheck`], which reports
//! each value with two holders, however the pairs are interleaved.

use std::collections::HashMap;

use rockhold_format::{
    encode_hash_holders, ClassId, Family, Holder, IndexId, NamespaceId, ObjectId, MAX_HELD_TUPLE,
};

use super::entries::{tuple_value, Entry};
use super::plan::{Plan, UniqueValue};
use crate::error::{Error, Result};
use crate::kv::WriteBatch;

/// Claims of unique values, and the conflicts among them.
#[derive(Debug, Default)]
pub(crate) struct UniqueCheck {
    /// (class, index, ordered encoding of the tuple) → its first holder.
    holders: HashMap<(ClassId, IndexId, Vec<u8>), ObjectId>,
    /// Pairs of holders of one value: (the first seen, the other).
    conflicts: Vec<(ObjectId, ObjectId)>,
}

impl UniqueCheck {
    pub fn new() -> UniqueCheck {
        UniqueCheck::default()
    }

    /// Records that `id` holds the (encoded) `tuple` in a unique index.
    /// Returns the other holder when the tuple already has one (recorded as
    /// a conflict); claiming a tuple twice for the same object is not a
    /// conflict.
    pub fn claim(
        &mut self,
        class: ClassId,
        index: IndexId,
        tuple: &[u8],
        id: ObjectId,
    ) -> Option<ObjectId> {
        match self.holders.entry((class, index, tuple.to_vec())) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(id);
                None
            }
            std::collections::hash_map::Entry::Occupied(slot) => {
                let first = *slot.get();
                if first == id {
                    return None;
                }
                self.conflicts.push((first, id));
                Some(first)
            }
        }
    }

    /// Forgets every claim (conflicts are kept): for callers that check
    /// group by group (one index prefix at a time) to bound memory.
    pub fn next_group(&mut self) {
        self.holders.clear();
    }
}

/// A holder of a unique point key as stored: the object, and the encoded
/// tuple the value keeps for it (a hash index's, when kept; never an
/// ordered index's, whose key is the tuple).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub id: ObjectId,
    pub tuple: Option<Vec<u8>>,
}

impl Held {
    /// The holder `id` of `tuple` in a key of `family`, keeping the tuple
    /// where the value does ([`MAX_HELD_TUPLE`]).
    pub fn of(family: Family, id: ObjectId, tuple: &[u8]) -> Held {
        Held {
            id,
            tuple: (family == Family::Hash && tuple.len() <= MAX_HELD_TUPLE)
                .then(|| tuple.to_vec()),
        }
    }

    /// From a decoded point value.
    pub fn from_stored(h: &Holder<'_>) -> Held {
        Held {
            id: h.id,
            tuple: h.tuple.map(<[u8]>::to_vec),
        }
    }
}

/// A holder as the rule below sees it: owned ([`Held`], read from
/// storage) or borrowed ([`Holder`], a bulk build's sorted claims).
pub(crate) trait HolderOf {
    fn id(&self) -> ObjectId;
    fn tuple(&self) -> Option<&[u8]>;
    fn forget_tuple(&mut self);
}

impl HolderOf for Held {
    fn id(&self) -> ObjectId {
        self.id
    }
    fn tuple(&self) -> Option<&[u8]> {
        self.tuple.as_deref()
    }
    fn forget_tuple(&mut self) {
        self.tuple = None;
    }
}

impl HolderOf for Holder<'_> {
    fn id(&self) -> ObjectId {
        self.id
    }
    fn tuple(&self) -> Option<&[u8]> {
        self.tuple
    }
    fn forget_tuple(&mut self) {
        self.tuple = None;
    }
}

/// Sorts holders by id, one entry per object: an object holding two
/// tuples under one hash key (a collision within a multi-valued index)
/// keeps no tuple, so a reader verifies it on its record.
pub(crate) fn sort_holders<H: HolderOf>(holders: &mut Vec<H>) {
    holders.sort_by_key(|h| h.id());
    holders.dedup_by(|later, kept| {
        if later.id() != kept.id() {
            return false;
        }
        if later.tuple() != kept.tuple() {
            kept.forget_tuple();
        }
        true
    });
}

/// The value of a unique point key with `holders` (sorted by id, distinct).
pub(crate) fn encode_point_value(holders: &[Held], out: &mut Vec<u8>) {
    encode_hash_holders(
        holders.iter().map(|h| Holder {
            id: h.id,
            tuple: h.tuple.as_deref(),
        }),
        out,
    );
}

/// The new value of one unique point key (borrowed from the plan): its
/// holders, sorted (empty: delete the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PointWrite<'p> {
    pub family: Family,
    pub key: &'p [u8],
    pub holders: Vec<Held>,
    /// The stored holders are the same objects: only the tuples kept
    /// beside them change (a value in the bare form gaining them), which a
    /// self-check writes but does not count as a repair.
    pub tuples_only: bool,
}

/// What the commit of a plan needs to read to rewrite unique point keys.
pub(crate) trait Committed {
    /// The holders stored under a point key (none when it is absent).
    fn holders(&mut self, family: Family, key: &[u8]) -> Result<Vec<Held>>;
    /// `holders` of every key, in order: one batched read where the store
    /// has one (a batch of inserts checks all its values at once).
    fn holders_many(&mut self, keys: &[&(Family, Vec<u8>)]) -> Result<Vec<Vec<Held>>> {
        keys.iter().map(|k| self.holders(k.0, &k.1)).collect()
    }
    /// The encoded tuples a committed object holds in a unique hash index
    /// (to tell a second holder of a tuple from a hash collision, for a
    /// holder whose tuple the value does not keep).
    fn tuples(&mut self, u: &UniqueValue<'_>, holder: ObjectId) -> Result<Vec<Vec<u8>>>;
}

/// What to do with a second holder of a unique tuple.
pub(crate) trait OnConflict {
    /// `u` claims a tuple that `existing` holds: `Err` stops the check.
    fn conflict(&mut self, u: &UniqueValue<'_>, existing: ObjectId) -> Result<()>;
}

/// A writer's rule: the first second holder refuses the commit.
struct Refuse;

impl OnConflict for Refuse {
    fn conflict(&mut self, u: &UniqueValue<'_>, existing: ObjectId) -> Result<()> {
        Err(Error::UniqueViolation {
            class: u.class.name.clone(),
            index: u.index.name.clone(),
            value: tuple_value(u.index, &u.tuple),
            existing,
        })
    }
}

/// An index build's rule: every object involved in a conflict is noted.
#[derive(Debug, Default)]
pub(crate) struct Conflicts(Vec<ObjectId>);

impl Conflicts {
    /// Notes two holders of one tuple.
    pub fn note(&mut self, a: ObjectId, b: ObjectId) {
        self.0.extend([a, b]);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every object involved, sorted, once each.
    pub fn objects(mut self) -> Vec<ObjectId> {
        self.0.sort_unstable();
        self.0.dedup();
        self.0
    }
}

impl OnConflict for Conflicts {
    fn conflict(&mut self, u: &UniqueValue<'_>, existing: ObjectId) -> Result<()> {
        self.note(u.id, existing);
        Ok(())
    }
}

/// The uniqueness rule applied to a plan, and the point keys it rewrites:
/// refuses a tuple held twice in the plan, or held by a committed object
/// the plan does not change; otherwise every point key that gains or loses
/// a holder, with its final holders. Callers hold the stripes of
/// `plan.changed_unique()`.
pub(crate) fn point_writes<'p>(
    plan: &'p Plan<'_>,
    committed: &mut dyn Committed,
) -> Result<Vec<PointWrite<'p>>> {
    point_writes_with(plan, committed, &mut Refuse)
}

/// `point_writes`, telling each conflict to `on_conflict` (which may let
/// the check go on: the point keys it returns are then not to be written).
pub(crate) fn point_writes_with<'p>(
    plan: &'p Plan<'_>,
    committed: &mut dyn Committed,
    on_conflict: &mut dyn OnConflict,
) -> Result<Vec<PointWrite<'p>>> {
    // Every final holder in the plan, changed or not, claims its tuple (a
    // lone claim has no second holder to meet: a one-object commit skips
    // the check's map).
    if plan.unique.len() > 1 {
        let mut check = UniqueCheck::new();
        for u in &plan.unique {
            if let Some(other) = check.claim(u.class.id, u.index.id, &u.tuple, u.id) {
                on_conflict.conflict(u, other)?;
            }
        }
    }
    // The point keys that change, sorted and distinct, each with its
    // namespace; and every final claim sorted by its key, in plan order
    // within a key: walked side by side (a batch of N inserts sorts two
    // vectors and allocates no map).
    let mut keys: Vec<(&'p Entry, NamespaceId)> =
        plan.changed_unique().map(|u| (&u.key, u.ns)).collect();
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    keys.dedup_by(|a, b| a.0 == b.0);
    let mut claims: Vec<&'p UniqueValue<'_>> = plan.unique.iter().collect();
    claims.sort_by(|a, b| a.key.cmp(&b.key)); // stable: plan order kept
    let mut claims = claims.into_iter().peekable();
    let stored_all = committed.holders_many(&keys.iter().map(|(k, _)| *k).collect::<Vec<_>>())?;
    let mut out = Vec::with_capacity(keys.len());
    for ((key, ns), stored) in keys.into_iter().zip(stored_all) {
        while claims.next_if(|u| u.key < *key).is_some() {}
        let mut holders: Vec<Held> = stored
            .iter()
            .filter(|h| !plan.touches(ns, h.id))
            .cloned()
            .collect();
        let kept = holders.len();
        while let Some(u) = claims.next_if(|u| u.key == *key) {
            if u.new {
                for h in &holders[..kept] {
                    // A hash key's holders may hold other tuples (a
                    // collision): compared on the tuple the value keeps,
                    // or else on the holder's record.
                    let same = match &h.tuple {
                        Some(t) => *t == u.tuple,
                        None => committed.tuples(u, h.id)?.contains(&u.tuple),
                    };
                    if same {
                        on_conflict.conflict(u, h.id)?;
                    }
                }
            }
            holders.push(Held::of(key.0, u.id, &u.tuple));
        }
        sort_holders(&mut holders);
        if holders != stored {
            out.push(PointWrite {
                family: key.0,
                key: &key.1,
                tuples_only: holders.iter().map(|h| h.id).eq(stored.iter().map(|h| h.id)),
                holders,
            });
        }
    }
    Ok(out)
}

/// Puts a plan's index changes into `batch`: its entries, and the unique
/// point keys `point_writes` decided.
pub(crate) fn write_plan(batch: &mut WriteBatch, plan: &Plan<'_>, points: &[PointWrite<'_>]) {
    for (family, key) in &plan.delete {
        batch.delete(*family, key);
    }
    for (family, key) in &plan.put {
        batch.put(*family, key, &[]);
    }
    let mut value = Vec::new();
    for p in points {
        if p.holders.is_empty() {
            batch.delete(p.family, p.key);
        } else {
            value.clear();
            encode_point_value(&p.holders, &mut value);
            batch.put(p.family, p.key, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: ClassId = ClassId(1);
    const F: IndexId = IndexId(2);

    #[test]
    fn a_second_holder_is_a_conflict_wherever_it_comes() {
        let mut u = UniqueCheck::new();
        let (a, b) = (&b"a"[..], &b"b"[..]);
        // a, b, a: the two holders of "a" are not neighbours.
        assert_eq!(u.claim(C, F, a, ObjectId(1)), None);
        assert_eq!(u.claim(C, F, b, ObjectId(2)), None);
        assert_eq!(u.claim(C, F, a, ObjectId(3)), Some(ObjectId(1)));
        assert_eq!(u.conflicts, vec![(ObjectId(1), ObjectId(3))]);
    }

    #[test]
    fn the_same_holder_twice_and_other_fields_are_not_conflicts() {
        let mut u = UniqueCheck::new();
        let v = &b"7"[..];
        assert_eq!(u.claim(C, F, v, ObjectId(1)), None);
        assert_eq!(u.claim(C, F, v, ObjectId(1)), None);
        assert_eq!(u.claim(C, IndexId(3), v, ObjectId(2)), None);
        assert_eq!(u.claim(ClassId(9), F, v, ObjectId(2)), None);
        assert!(u.conflicts.is_empty());
    }
}
