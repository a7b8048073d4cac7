//! The uniqueness rule, in one place: under a unique index, at most one
//! object holds each value. Every path that can find a second holder (a
//! commit, a backfill chunk, a bulk build's sorted entries, `verify`) feeds
//! the (value, holder) pairs it sees to a [`UniqueCheck`], which reports
//! each value with two holders, however the pairs are interleaved.

use std::collections::HashMap;

use rockhold_format::{ClassId, FieldId, ObjectId, Value};

/// Claims of unique values, and the conflicts among them.
#[derive(Debug, Default)]
pub(crate) struct UniqueCheck {
    /// (class, field, ordered encoding of the value) → its first holder.
    holders: HashMap<(ClassId, FieldId, Vec<u8>), ObjectId>,
    /// Pairs of holders of one value: (the first seen, the other).
    conflicts: Vec<(ObjectId, ObjectId)>,
}

impl UniqueCheck {
    pub fn new() -> UniqueCheck {
        UniqueCheck::default()
    }

    /// Records that `id` holds `value` in a unique field. Returns the other
    /// holder when the value already has one (recorded as a conflict);
    /// claiming a value twice for the same object is not a conflict.
    pub fn claim(
        &mut self,
        class: ClassId,
        field: FieldId,
        value: &Value,
        id: ObjectId,
    ) -> Option<ObjectId> {
        match self.holders.entry((class, field, value.encode_ordered())) {
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

    /// Every object involved in a conflict, sorted, once each.
    pub fn conflicting_objects(&self) -> Vec<ObjectId> {
        let mut ids: Vec<ObjectId> = self.conflicts.iter().flat_map(|(a, b)| [*a, *b]).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Forgets every claim (conflicts are kept): for callers that check
    /// group by group (one index prefix at a time) to bound memory.
    pub fn next_group(&mut self) {
        self.holders.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: ClassId = ClassId(1);
    const F: FieldId = FieldId(2);

    #[test]
    fn a_second_holder_is_a_conflict_wherever_it_comes() {
        let mut u = UniqueCheck::new();
        let (a, b) = (Value::from("a"), Value::from("b"));
        // a, b, a: the two holders of "a" are not neighbours.
        assert_eq!(u.claim(C, F, &a, ObjectId(1)), None);
        assert_eq!(u.claim(C, F, &b, ObjectId(2)), None);
        assert_eq!(u.claim(C, F, &a, ObjectId(3)), Some(ObjectId(1)));
        assert_eq!(u.conflicting_objects(), vec![ObjectId(1), ObjectId(3)]);
        assert_eq!(u.conflicts, vec![(ObjectId(1), ObjectId(3))]);
    }

    #[test]
    fn the_same_holder_twice_and_other_fields_are_not_conflicts() {
        let mut u = UniqueCheck::new();
        let v = Value::U64(7);
        assert_eq!(u.claim(C, F, &v, ObjectId(1)), None);
        assert_eq!(u.claim(C, F, &v, ObjectId(1)), None);
        assert_eq!(u.claim(C, FieldId(3), &v, ObjectId(2)), None);
        assert_eq!(u.claim(ClassId(9), F, &v, ObjectId(2)), None);
        assert!(u.conflicts.is_empty());
    }
}
