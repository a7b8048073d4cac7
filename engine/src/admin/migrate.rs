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
    encode_locator, v1, v2, ClassDef, Family, FormatVersion, IndexId, Key, LocatorKey, MetaKey,
    MetaValue, ObjectKey, Record, RecordView, TaskKey, TaskRecord, FRAME_HEADER_LEN, FRAME_VERSION,
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

/// Migrates the database in `kv` to the current format version, one
/// version at a time: v1 → v2 (its step 3 records version 2), then v2 → v3.
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
        FormatVersion::V1 => v1_to_v2(kv, &mut report)?,
        FormatVersion::V2 => {}
        other => return Err(Error::version_refused(other)),
    }
    v2_to_v3(kv, &mut report)?;
    Ok(report)
}

/// Records `version` as the database's, synced: the last step of each
/// migration, after which `Db::open` accepts what it wrote.
fn record_version(kv: &dyn Kv, version: FormatVersion) -> Result<()> {
    let mut batch = WriteBatch::new();
    batch.put(
        Family::Meta,
        &MetaKey::FormatVersion.encode(),
        &version.encode(),
    );
    kv.write(&batch, true)
}

/// v1 → v2: records re-encoded, indexes deleted and queued for a rebuild.
fn v1_to_v2(kv: &dyn Kv, report: &mut MigrationReport) -> Result<()> {
    // 1. Every record in v2.
    for space in [Space::Catalog, Space::Objects] {
        rewrite_space(kv, space, report)?;
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
    // The v1 generation markers, rewritten in v2 (v3 renumbers them).
    rewrite_generations(kv, &mut batch)?;
    kv.write(&batch, true)?;
    // 3. The database is v2 from here on.
    record_version(kv, FormatVersion::V2)
}

/// The generation markers, each space's deleted and written again at the
/// generation they hold, under the tags of this version (v3 numbers the
/// spaces without v2's full-scan family). Markers of either frame version
/// are read (none at all: a database from before them). Markers that
/// disagree (or one missing) mean a column family
/// lost data, which `Db::open` would refuse: the migration refuses too,
/// rather than write markers that hide it.
fn rewrite_generations(kv: &dyn Kv, batch: &mut WriteBatch) -> Result<()> {
    let mut found = Vec::with_capacity(Space::ALL.len());
    for space in Space::ALL {
        let mut marker = None;
        kv.latest().scan(
            space,
            KeyRange::prefix(Family::Generation.prefix()),
            &mut |k, v| {
                let value = if v.first() == Some(&v1::FRAME_VERSION) {
                    v1::decode_meta(v)
                } else {
                    MetaValue::decode(v)
                };
                if let MetaValue::Counter(g) = value.map_err(|e| Error::corruption(k, e))? {
                    marker = Some(g);
                }
                Ok(true)
            },
        )?;
        found.push(marker);
    }
    let generation = match found.first() {
        Some(Some(g)) if found.iter().all(|m| *m == Some(*g)) => *g,
        // None at all: written before the markers were.
        _ if found.iter().all(Option::is_none) => 0,
        _ => {
            return Err(Error::Inconsistent(format!(
                "the generation markers of the column families disagree ({found:?}, in the \
                 order default, objects, index_hash, index_ordered, tasks): a column family \
                 lost data; the database is not migrated (restore a backup)"
            )))
        }
    };
    for space in Space::ALL {
        batch.delete_prefix_in(space, Family::Generation.prefix());
    }
    batch.put_generation(generation);
    Ok(())
}

/// The class a v2 record names: read from its verified frame, or, for a
/// record that does not verify, from where the class id sits (the first
/// four bytes of the body), so that one damaged record does not stop the
/// migration: it moves as it is, and v3's `verify` and `repair
/// --drop-object` deal with it.
fn class_of_v2_record(key: &[u8], value: &[u8]) -> Result<rockhold_format::ClassId> {
    match RecordView::new(value) {
        Ok(view) => Ok(view.class()),
        Err(e) => value
            .get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + 4)
            .and_then(|b| b.try_into().ok())
            .map(|b| rockhold_format::ClassId(u32::from_le_bytes(b)))
            .ok_or_else(|| Error::corruption(key, e)),
    }
}

/// v2 → v3: the generation markers take the v3 tags; every record moves
/// under its class's key with a locator, in chunks (one batch each: the
/// move and the locator together); the version is recorded. The full-scan
/// family is left to the reopen after the migration (`migrate_path`),
/// which drops its column family. A record under a v3 key is already
/// moved (a rerun).
fn v2_to_v3(kv: &dyn Kv, report: &mut MigrationReport) -> Result<()> {
    // 1. The markers first: from here on a v2 build refuses the database
    // (its index_hash marker is gone), so a migration stopped halfway is
    // never served by the build whose layout it has left.
    let mut batch = WriteBatch::new();
    rewrite_generations(kv, &mut batch)?;
    kv.write(&batch, true)?;
    // 2. The records.
    let mut lower = Family::Object.prefix().to_vec();
    let upper = rockhold_format::prefix_successor(Family::Object.prefix());
    loop {
        let mut batch = WriteBatch::new();
        let mut seen = 0usize;
        let mut last = None;
        kv.latest().scan(
            Space::Objects,
            KeyRange::new(&lower, upper.clone()),
            &mut |k, v| {
                seen += 1;
                last = Some(k.to_vec());
                if k.len() == v2::OBJECT_KEY_LEN {
                    let (ns, id) = v2::decode_object_key(k).map_err(|e| Error::corruption(k, e))?;
                    let class = class_of_v2_record(k, v)?;
                    batch.delete(Family::Object, k);
                    batch.put(Family::Object, &ObjectKey { ns, class, id }.encode(), v);
                    batch.put(
                        Family::Locator,
                        &LocatorKey { ns, id }.encode(),
                        &encode_locator(class),
                    );
                }
                Ok(seen < CHUNK)
            },
        )?;
        if !batch.is_empty() {
            report.records += (batch.len() / 3) as u64;
            kv.write(&batch, false)?;
        }
        match last {
            Some(mut k) if seen == CHUNK => {
                k.push(0);
                lower = k;
            }
            _ => break,
        }
    }
    // 3. The database is v3 from here on.
    record_version(kv, FormatVersion::V3)
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
    drop(kv);
    let report = report?;
    // The first writable open of the migrated database drops the column
    // families the old version had and this one does not.
    if report.from != FormatVersion::CURRENT {
        crate::kv::rocks::RocksKv::open(path, &opts.clone().create_if_missing(false).kv_config())?
            .close()?;
    }
    Ok(report)
}

/// Migrates the database held by `store` (see `Db::migrate_memory`).
pub(crate) fn migrate_memory(store: &crate::MemStore) -> Result<MigrationReport> {
    let kv = store.open()?;
    let report = migrate_kv(&kv);
    kv.close()?;
    report
}
