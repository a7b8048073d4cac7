//! Reading format v2 keys, for the migration of v2 databases.
//!
//! Format v2 stored its records and bodies as v3 does; only where a record
//! lives changed. A v2 object key is `O` + namespace u32 + object u64 (13
//! bytes, records in id order across classes), and every object had a
//! full-scan entry `IF` + namespace + class + object with an empty value,
//! in a column family of its own. v3 keys records by class
//! ([`ObjectKey`](crate::ObjectKey), 17 bytes) and finds an object's class
//! by its locator ([`LocatorKey`](crate::LocatorKey)); the full-scan family
//! is gone. The two object key lengths differ, so a migration tells a moved
//! record from one still to move by its key alone.
//!
//! ```
//! use rockhold_format::{v2, Key, NamespaceId, ObjectId};
//!
//! let key = [b'O', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
//! assert_eq!(v2::decode_object_key(&key)?, (NamespaceId(1), ObjectId(7)));
//! assert!(v2::decode_object_key(&key[..12]).is_err());
//! # Ok::<(), rockhold_format::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::ids::{NamespaceId, ObjectId};
use crate::keys::OBJECT_PREFIX;
use crate::reader::Reader;

/// Length of a v2 object key: `O` + ns u32 + object u64.
pub const OBJECT_KEY_LEN: usize = 1 + 4 + 8;

/// Decodes a v2 object key into its namespace and object id.
pub fn decode_object_key(bytes: &[u8]) -> Result<(NamespaceId, ObjectId)> {
    let rest = bytes
        .strip_prefix(OBJECT_PREFIX)
        .ok_or(Error::WrongFamily {
            expected: crate::Family::Object,
        })?;
    let mut r = Reader::new(rest, "v2 object");
    let key = (NamespaceId(r.u32()?), ObjectId(r.u64()?));
    r.finish()?;
    Ok(key)
}
