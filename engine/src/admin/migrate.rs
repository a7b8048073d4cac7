//! Migrating a database of format version 1 to version 2, offline (no `Db`
//! is open on it): `rockhold migrate`, or [`Db::migrate`](crate::Db::migrate).
//!
//! Every record is rewritten in the v2 encoding; index entries are not
//! converted but rebuilt: the v1 hash and ordered entries are deleted and
//! each class gets a whole-class reindex task, which the runner of the next
//! open (or `check_reindex_tasks`) runs. The steps, each idempotent, so a
//! migration that stops anywhere (a crash, a full disk) is finished by
//! running it again:
//!
//! 1. every record still in a v1 frame (meta, names, classes, objects, in
//!    chunks) is decoded by `rockhold_format::v1` and written back in v2;
//!    records already in v2 (a rerun) are left alone;
//! 2. one batch: delete every `IH`, `IR` and `IT` key, put a `Pending`
//!    whole-class task per class, and the generation markers in v2;
//! 3. the format version becomes 2, synced: only now does `Db::open`
//!    accept the database. Until then it refuses it with `NeedsMigration`.

use rockhold_format::{
    v1, ClassDef, Family, FormatVersion, GenerationKey, IndexId, Key, MetaKey, MetaValue, Record,
    TaskKey, TaskRecord, FRAME_VERSION,
};

use crate::catalog::{now_ms, put_counter};
use crate::error::{Error, Result};
use crate::kv::{KeyRange, Kv, Space, WriteBatch};

/// What [`Db::migrate`](crate::Db::migrate) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The format version found ([`FormatVersion::CURRENT`] when there was
    /// nothing to do).
    pub from: FormatVersion,
    /// Records rewritten in the v2 encoding (a rerun counts only those
    /// still in v1).
    pub records: u64,
    /// Whole-class reindex tasks queued: the indexes are rebuilt by the
    /// runner after the next open.
    pub tasks: u64,
}

/// A report of nothing done: the database is at the current version.
impl Default for MigrationReport {
    fn default() -> Self {
        MigrationReport {
            from: FormatVersion::CURRENT,
            records: 0,
            tasks: 0,
        }
    }
}

/// How many records one batch of step 1 rewrites.
const CHUNK: usize = 1024;

/// The v2 bytes of a v1 record under `key` of `family`; `None` for a value
/// that is not a framed record (index entries) or already v2.
fn convert(family: Family, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
    if value.first() == Some(&FRAME_VERSION) || value.is_empty() {
        return Ok(None);
    }
    let corrupt = |e| Error::corruption(key, e);
    Ok(Some(match family {
        Family::Meta => v1::decode_meta(value).map_err(corrupt)?.encode(),
        Family::Name => v1::decode_name(value).map_err(corrupt)?.encode(),
        Family::Class => v1::decode_class(value).map_err(corrupt)?.encode(),
        Family::Object => v1::decode_object(value).map_err(corrupt)?.encode(),
        _ => return Ok(None),
    }))
}

/// Step 1 for one space: rewrites its v1 records, a chunk per batch.
fn rewrite_space(kv: &dyn Kv, space: Space, report: &mut MigrationReport) -> Result<()> {
    let mut lower: Vec<u8> = Vec::new();
    loop {
        let mut batch = WriteBatch::new();
        let mut seen = 0usize;
        let mut last = None;
        kv.latest()
            .scan(space, KeyRange::new(&lower, None), &mut |k, v| {
                seen += 1;
                last = Some(k.to_vec());
                if let Some(family) = Family::of(k).filter(|f| Space::of(*f) == space) {
                    // The format version is written last (step 3).
                    if k != MetaKey::FormatVersion.encode().as_slice() {
                        if let Some(v2) = convert(family, k, v)? {
                            batch.put(family, k, &v2);
                        }
                    }
                }
                Ok(seen < CHUNK)
            })?;
        if !batch.is_empty() {
            report.records += batch.len() as u64;
            kv.write(&batch, false)?;
        }
        match last {
            Some(mut k) if seen == CHUNK => {
                k.push(0);
                lower = k;
            }
            _ => return Ok(()),
        }
    }
}

/// Migrates the database in `kv` to the current format version.
pub(crate) fn migrate_kv(kv: &dyn Kv) -> Result<MigrationReport> {
    if kv.is_read_only() {
        return Err(Error::ReadOnly);
    }
    let version_key = MetaKey::FormatVersion.encode();
    let Some(bytes) = kv.latest().get(Space::Catalog, &version_key)? else {
        return Err(Error::NotADatabase {
            path: kv
                .path()
                .map_or("(in memory)".to_string(), |p| p.display().to_string()),
            reason: "it has no format version".into(),
        });
    };
    let from = FormatVersion::decode(&bytes).map_err(|e| Error::format_version(&version_key, e))?;
    let mut report = MigrationReport {
        from,
        ..MigrationReport::default()
    };
    match from {
        FormatVersion::CURRENT => return Ok(report),
        FormatVersion::V1 => {}
        other => return Err(Error::version_refused(other)),
    }
    // 1. Every record in v2.
    for space in [Space::Catalog, Space::Objects] {
        rewrite_space(kv, space, &mut report)?;
    }
    // 2. Index entries and tasks: deleted; one whole-class task per class.
    let mut batch = WriteBatch::new();
    for family in [Family::Hash, Family::Ordered, Family::Task] {
        batch.delete_prefix(family, family.prefix());
    }
    let revision_key = MetaKey::NextTaskRevision.encode();
    let mut next_revision = match kv.latest().get(Space::Catalog, &revision_key)? {
        Some(v) => match MetaValue::decode(&v).map_err(|e| Error::corruption(&revision_key, e))? {
            MetaValue::Counter(c) => c,
            other => {
                return Err(Error::Inconsistent(format!(
                    "next_task_revision holds {other:?}"
                )))
            }
        },
        None => 1,
    };
    let mut classes = Vec::new();
    kv.latest().scan(
        Space::Catalog,
        KeyRange::prefix(Family::Class.prefix()),
        &mut |k, v| {
            let key = rockhold_format::ClassKey::decode(k).map_err(|e| Error::corruption(k, e))?;
            let def = ClassDef::decode(v).map_err(|e| Error::corruption(k, e))?;
            classes.push((key.ns, def.id));
            Ok(true)
        },
    )?;
    for (ns, class) in classes {
        let task = TaskRecord::pending(next_revision, now_ms());
        next_revision = rockhold_format::next_counter("meta.next_task_revision", next_revision)
            .map_err(Error::counter)?;
        let key = TaskKey {
            ns,
            class,
            index: IndexId::WHOLE_CLASS,
        };
        batch.put(Family::Task, &key.encode(), &task.encode());
        report.tasks += 1;
    }
    put_counter(&mut batch, MetaKey::NextTaskRevision, next_revision);
    // The generation markers, at the newest generation any space recorded.
    let mut newest = 0u64;
    for space in Space::ALL {
        let key = GenerationKey { cf: space.tag() }.encode();
        if let Some(v) = kv.latest().get(space, &key)? {
            let value = if v.first() == Some(&v1::FRAME_VERSION) {
                v1::decode_meta(&v)
            } else {
                MetaValue::decode(&v)
            };
            if let MetaValue::Counter(g) = value.map_err(|e| Error::corruption(&key, e))? {
                newest = newest.max(g);
            }
        }
    }
    batch.put_generation(newest);
    kv.write(&batch, true)?;
    // 3. The database is v2 from here on.
    let mut batch = WriteBatch::new();
    batch.put(Family::Meta, &version_key, &FormatVersion::CURRENT.encode());
    kv.write(&batch, true)?;
    Ok(report)
}

/// Migrates the database at `path` in place, offline (see `Db::migrate`).
#[cfg(feature = "rocksdb")]
pub(crate) fn migrate_path(
    path: &std::path::Path,
    opts: &crate::Options,
) -> Result<MigrationReport> {
    let kv = crate::kv::rocks::RocksKv::open_accepting(
        path,
        &opts.clone().create_if_missing(false).kv_config(),
        crate::kv::rocks::Versions::Migratable,
    )?;
    let report = migrate_kv(&kv);
    kv.close()?;
    report
}

/// Migrates the database held by `store` (see `Db::migrate_memory`).
pub(crate) fn migrate_memory(store: &crate::MemStore) -> Result<MigrationReport> {
    let kv = store.open()?;
    let report = migrate_kv(&kv);
    kv.close()?;
    report
}
