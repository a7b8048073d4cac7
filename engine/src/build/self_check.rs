//! The optional periodic self-check (off by default): re-verifies every built
//! index against the records, repairing missing and stale entries under the
//! write path's locks, and counts what it fixed.

use rockhold_format::IndexId;

use crate::build::task::repair_index;
use crate::build::BuildCtx;
use crate::error::Result;

/// Checks every ready index; returns the number of entries repaired.
pub(crate) fn self_check(cx: &BuildCtx) -> Result<u64> {
    let targets: Vec<(rockhold_format::ClassId, IndexId)> = {
        let cat = cx.catalog.peek();
        cat.all_classes()
            .flat_map(|c| {
                c.def
                    .indexes
                    .iter()
                    .filter(|i| c.not_ready(i.id).is_none())
                    .map(|i| (c.def.id, i.id))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut repaired = 0;
    for id in targets {
        if cx.shutting_down() {
            break;
        }
        repaired += repair_index(cx, id)?;
    }
    cx.metrics.self_check_repairs.inc_by(repaired);
    Ok(repaired)
}

impl BuildCtx {
    /// Runs the self-check once, now: re-verifies every built index and
    /// repairs what is missing or stale. Returns the number of entries fixed.
    pub(crate) fn self_check(&self) -> Result<u64> {
        self.writable()?;
        self_check(self)
    }
}
