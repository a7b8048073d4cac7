//! What a database records about itself in meta: the format version, the
//! hash seed, and the generation markers that detect a column family that
//! lost data behind the backend's back.

use std::hash::{BuildHasher, Hasher};

use rockhold_format::{
    Family, FormatVersion, HashSeed, Key, MetaKey, MetaValue, NameEntry, NameKey, NameKind,
    NamespaceId, Record,
};

use crate::catalog::DEFAULT_NAMESPACE;
use crate::error::{Error, Result};
use crate::kv::generation::read_generations;
use crate::kv::{KeyRange, Kv, Space, WriteBatch};
use crate::options::Options;

fn random_u64() -> u64 {
    // std's RandomState is seeded from the OS's random source; hashing the
    // time through a fresh one gives an unpredictable 64-bit value without
    // another dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Refuses a database one of whose column families lost data behind
/// RocksDB's back: every column family holds the same open generation
/// (docs/FORMAT.md, section 2.9). A writable open then moves all of them to
/// the next generation in one synced batch.
pub(super) fn check_generations(kv: &dyn Kv) -> Result<()> {
    if kv.is_read_only() {
        // Inspection opens go on; `verify` reports lagging markers.
        return Ok(());
    }
    let found = read_generations(kv.latest())?;
    let newest = found.iter().flatten().copied().max().unwrap_or(0);
    for (tag, g) in found.iter().enumerate() {
        if *g != Some(newest) {
            return Err(Error::Inconsistent(format!(
                "column family {} lost data: its generation marker is {}, the database is at generation {newest}; \
                 refusing to serve indexes that may contradict the records",
                crate::kv::COLUMN_FAMILIES[tag],
                g.map_or("missing".to_string(), |g| g.to_string()),
            )));
        }
    }
    let mut batch = WriteBatch::new();
    let next =
        rockhold_format::next_counter("generation marker", newest).map_err(Error::counter)?;
    batch.put_generation(next);
    kv.write(&batch, true)
}

/// Whether the database directory `path` holds what only a database
/// whose creation finished holds: the durable mark (written at every
/// writable open after the format version) or SST files.
fn written_before(path: &std::path::Path) -> bool {
    path.join("ROCKHOLD-DURABLE").is_file()
        || std::fs::read_dir(path).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".sst"))
        })
}

/// Reads the format version and hash seed, writing them (and the default
/// namespace) when the database is new.
pub(super) fn init_or_check_meta(kv: &dyn Kv, opts: &Options) -> Result<HashSeed> {
    let where_ = || {
        kv.path()
            .map_or("(in memory)".to_string(), |p| p.display().to_string())
    };
    let version_key = MetaKey::FormatVersion.encode();
    let seed_key = MetaKey::HashSeed.encode();
    match kv.latest().get(Space::Catalog, &version_key)? {
        Some(bytes) => {
            let found = FormatVersion::decode(&bytes)
                .map_err(|e| Error::format_version(&version_key, e))?;
            if found != FormatVersion::CURRENT {
                return Err(Error::version_refused(found));
            }
            let bytes = kv
                .latest()
                .get(Space::Catalog, &seed_key)?
                .ok_or_else(|| Error::Inconsistent("hash seed is missing".into()))?;
            match MetaValue::decode(&bytes).map_err(|e| Error::corruption(&seed_key, e))? {
                MetaValue::HashSeed(seed) => Ok(seed),
                other => Err(Error::Inconsistent(format!("hash_seed holds {other:?}"))),
            }
        }
        None if kv.is_read_only() => match kv.path().filter(|p| written_before(p)) {
            // Files only a finished database has, and no format version in
            // what RocksDB recovered: its MANIFEST lost the records of
            // those files (truncated or damaged). Damage, not a stranger.
            Some(path) => Err(Error::StorageCorruption {
                source: format!(
                    "{}: no format version is recovered, yet the directory holds the files of a \
                     database that was opened (ROCKHOLD-DURABLE, SST files): its MANIFEST is \
                     damaged or truncated; restore a backup",
                    path.display()
                )
                .into(),
            }),
            None => Err(Error::NotADatabase {
                path: where_(),
                reason: "it has no format version (or its creation is not finished)".into(),
            }),
        },
        None => {
            let mut any = false;
            kv.latest()
                .scan(Space::Catalog, KeyRange::new(&[], None), &mut |_, _| {
                    any = true;
                    Ok(false)
                })?;
            if any {
                return Err(Error::NotADatabase {
                    path: where_(),
                    reason: "it has data but no format version".into(),
                });
            }
            let seed = match opts.fixed_hash_seed {
                Some((k0, k1)) => HashSeed { k0, k1 },
                None => HashSeed {
                    k0: random_u64(),
                    k1: random_u64(),
                },
            };
            let mut batch = WriteBatch::new();
            batch.put(Family::Meta, &version_key, &FormatVersion::CURRENT.encode());
            batch.put(Family::Meta, &seed_key, &MetaValue::HashSeed(seed).encode());
            let default_ns = NameKey {
                kind: NameKind::Namespace,
                parent: 0,
                name: DEFAULT_NAMESPACE.into(),
            };
            batch.put(
                Family::Name,
                &default_ns.encode(),
                &NameEntry {
                    id: NamespaceId::DEFAULT.0,
                }
                .encode(),
            );
            batch.put_generation(0);
            kv.write(&batch, true)?;
            Ok(seed)
        }
    }
}
