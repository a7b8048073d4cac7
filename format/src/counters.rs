//! Step functions of the counters that live in stored records and meta
//! values. Every one is total: a counter at its maximum answers
//! [`Error::CounterExhausted`] naming it, never an overflow panic or a
//! silent wrap. A checksum-valid record may hold any value, so the engine
//! advances persisted counters only through these functions.

use crate::error::{Error, Result};
use crate::ids::{FieldId, IndexId};
use crate::records::{ClassDef, TaskRecord};

/// `value + 1`, or `CounterExhausted { counter }` at `u64::MAX`.
pub fn next_counter(counter: &'static str, value: u64) -> Result<u64> {
    value
        .checked_add(1)
        .ok_or(Error::CounterExhausted { counter })
}

impl TaskRecord {
    /// Counts a new attempt (`attempts + 1`) and returns the new count;
    /// `CounterExhausted` (record unchanged) when `attempts` is `u32::MAX`.
    pub fn begin_attempt(&mut self) -> Result<u32> {
        self.attempts = self
            .attempts
            .checked_add(1)
            .ok_or(Error::CounterExhausted {
                counter: "task.attempts",
            })?;
        Ok(self.attempts)
    }
}

impl ClassDef {
    /// The revision the next change of this definition gets (`revision + 1`).
    pub fn next_revision(&self) -> Result<u64> {
        next_counter("class.revision", self.revision)
    }

    /// Hands out the id of a newly added field (`next_field_id`) and
    /// advances `next_field_id`; `CounterExhausted` (definition unchanged)
    /// when it is at `u32::MAX`, or still 0 (never a field's id).
    pub fn allocate_field_id(&mut self) -> Result<FieldId> {
        allocate("class.next_field_id", &mut self.next_field_id).map(FieldId)
    }

    /// Hands out the id of a newly added index (`next_index_id`) and
    /// advances it; `CounterExhausted` (definition unchanged) when it is at
    /// `u32::MAX`, or still 0 (`IndexId::WHOLE_CLASS`, never an index's id).
    pub fn allocate_index_id(&mut self) -> Result<IndexId> {
        allocate("class.next_index_id", &mut self.next_index_id).map(IndexId)
    }
}

/// Hands out `*next` and advances it; ids start at 1.
fn allocate(counter: &'static str, next: &mut u32) -> Result<u32> {
    let id = *next;
    *next = id
        .checked_add(1)
        .filter(|_| id != 0)
        .ok_or(Error::CounterExhausted { counter })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::samples;

    #[test]
    fn counters_at_their_maximum_are_errors_not_panics() {
        assert_eq!(next_counter("x", 1), Ok(2));
        assert_eq!(
            next_counter("x", u64::MAX),
            Err(Error::CounterExhausted { counter: "x" })
        );
        let mut task = samples::task();
        task.attempts = u32::MAX;
        assert!(matches!(
            task.begin_attempt(),
            Err(Error::CounterExhausted { .. })
        ));
        assert_eq!(task.attempts, u32::MAX);
        let mut class = samples::class_def();
        class.revision = u64::MAX;
        assert!(class.next_revision().is_err());
        class.next_field_id = u32::MAX;
        assert!(class.allocate_field_id().is_err());
        assert_eq!(class.next_field_id, u32::MAX);
        class.next_field_id = 0;
        assert!(class.allocate_field_id().is_err());
        class.next_field_id = 7;
        assert_eq!(class.allocate_field_id(), Ok(FieldId(7)));
        assert_eq!(class.next_field_id, 8);
    }
}
