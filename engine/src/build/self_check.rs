//! The optional periodic self-check (off by default): re-verifies every built
//! index against the records, repairing missing and stale entries under the
//! write path's locks, and counts what it fixed.

use rockhold_format::FieldId;

use crate::build::task::repair_index;
use crate::db::Inner;
use crate::error::Result;

/// Checks every ready index; returns the number of entries repaired.
pub(crate) fn self_check(inner: &Inner) -> Result<u64> {
    let targets: Vec<(rockhold_format::ClassId, FieldId)> = {
        let cat = inner.catalog.peek();
        cat.all_classes()
            .flat_map(|c| {
                c.def
                    .fields
                    .iter()
                    .filter(|f| f.index.is_indexed() && c.not_ready(f.id).is_none())
                    .map(|f| (c.def.id, f.id))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut repaired = 0;
    for id in targets {
        if inner.shutting_down() {
            break;
        }
        repaired += repair_index(inner, id)?;
    }
    inner.metrics.self_check_repairs.inc_by(repaired);
    Ok(repaired)
}

impl crate::Db {
    /// Runs the self-check once, now: re-verifies every built index and
    /// repairs what is missing or stale. Returns the number of entries fixed.
    pub fn self_check(&self) -> Result<u64> {
        self.inner.writable()?;
        self_check(&self.inner)
    }
}
