//! The generation markers: one per column family, moved together at every
//! writable open, so a column family that lost data behind the backend's
//! back is seen (docs/FORMAT.md, section 2.9).

use rockhold_format::{GenerationKey, Key, MetaValue, Record};

use crate::error::{Error, Result};
use crate::kv::{KvRead, Space};

/// The generation marker of every column family (`None` where missing).
pub(crate) fn read_generations(kv: &dyn KvRead) -> Result<Vec<Option<u64>>> {
    Space::ALL
        .into_iter()
        .map(|space| {
            let key = GenerationKey { cf: space.tag() }.encode();
            match kv.get(space, &key)? {
                None => Ok(None),
                Some(bytes) => {
                    match MetaValue::decode(&bytes).map_err(|e| Error::corruption(&key, e))? {
                        MetaValue::Counter(g) => Ok(Some(g)),
                        other => Err(Error::Inconsistent(format!(
                            "generation marker holds {other:?}"
                        ))),
                    }
                }
            }
        })
        .collect()
}
