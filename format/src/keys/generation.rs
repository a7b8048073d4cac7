//! `G` keys: `G` + column-family tag (u8). One in every column family, all
//! holding the same open generation; a column family whose generation lags
//! the others lost data behind RocksDB's back and is refused at open.

use super::{decode_key, Family, Key};
use crate::error::{Error, Result};

/// The generation marker of one column family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GenerationKey {
    /// Which column family the marker lives in (`0` catalog, `1` objects,
    /// `2` hash, `3` ordered, `4` tasks; format v2 had a sixth: FORMAT.md,
    /// section 8).
    pub cf: u8,
}

impl GenerationKey {
    /// The largest column-family tag.
    pub const MAX_CF: u8 = 4;
}

impl Key for GenerationKey {
    const FAMILY: Family = Family::Generation;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(Self::FAMILY.prefix());
        out.push(self.cf);
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        decode_key(bytes, Self::FAMILY, |r| {
            let cf = r.u8()?;
            if cf > Self::MAX_CF {
                return Err(Error::malformed(format!(
                    "generation marker of column family {cf}"
                )));
            }
            Ok(GenerationKey { cf })
        })
    }
}
