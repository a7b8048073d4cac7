//! The operator's way past a damaged object record: [`Db::quarantine`](crate::Db::quarantine)
//! removes the record and every index entry that names the object without
//! decoding the record (which the ordinary delete, update and ingest paths
//! must do, and fail on when it is corrupt).

use rockhold_format::{
    decode_hash_holders, decode_locator, encode_hash_holders, Family, Holder, Key, LocatorKey,
    NamespaceId, ObjectId, ObjectKey,
};

use crate::build::BuildCtx;
use crate::catalog::Effects;
use crate::error::{Error, Result};
use crate::kv::{KeyRange, Space, WriteBatch};

/// What [`Db::quarantine`](crate::Db::quarantine) removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineReport {
    /// Whether an object record was found and removed (it may have been
    /// missing, leaving only entries behind).
    pub record_removed: bool,
    /// Full-scan and non-unique index entries of the object removed.
    pub entries_removed: u64,
    /// Unique index keys the object was a holder of: the key removed when
    /// it was the only holder, its holder list rewritten otherwise.
    pub unique_keys_changed: u64,
}

impl BuildCtx {
    /// Removes object `id` of `namespace` whatever its record holds, in one
    /// synced batch: the raw record (under whichever class of the
    /// namespace holds it), its locator, every non-unique index entry that ends with its id,
    /// and its id from the holders of every unique index key (the key goes
    /// when it was the only holder). Index entries are found by scanning
    /// the namespace's index families, not from the record, so a record
    /// that does not decode (`Corruption` on delete, update, transactions
    /// and ingest over it, and index builds that end `Failed` on it) can be
    /// removed. The rest of the database is kept; requeue failed builds
    /// with [`Db::retry_failed_tasks`](crate::Db::retry_failed_tasks) after.
    pub(crate) fn quarantine(
        &self,
        fx: &mut Effects,
        namespace: &str,
        id: ObjectId,
    ) -> Result<QuarantineReport> {
        self.writable()?;
        let mut cat = self.catalog.change();
        let ns = cat.namespace_id(namespace)?;
        let mut report = QuarantineReport::default();
        let mut batch = WriteBatch::new();
        let kv = self.kv.latest();
        // The record under every class of the namespace (a damaged locator
        // may name another), and its locator.
        let locator = LocatorKey { ns, id }.encode();
        let located = kv.get(Space::of(Family::Locator), &locator)?;
        let mut classes: Vec<_> = cat
            .all_classes()
            .filter(|c| c.ns == ns)
            .map(|c| c.def.id)
            .collect();
        // A record of a class the catalog does not know, where its locator
        // says (a damaged record moved by a migration).
        classes.extend(located.as_deref().and_then(|v| decode_locator(v).ok()));
        classes.sort_unstable();
        classes.dedup();
        for class in classes {
            let key = ObjectKey { ns, class, id }.encode();
            if kv.get(Space::Objects, &key)?.is_some() {
                batch.delete(Family::Object, &key);
                report.record_removed = true;
            }
        }
        if located.is_some() {
            batch.delete(Family::Locator, &locator);
            report.entries_removed += 1;
        }
        for family in [Family::Hash, Family::Ordered] {
            scan_index_family(&*self.kv, family, ns, id, &mut batch, &mut report)?;
        }
        if batch.is_empty() {
            return Err(Error::UnknownObject {
                namespace: namespace.to_string(),
                id,
            });
        }
        // Nothing cached about the object is true any more.
        let stale = Effects {
            clear_caches: true,
            ..Effects::default()
        };
        *fx = fx.and(cat.commit(&*self.kv, &batch)?).and(stale);
        Ok(report)
    }
}

/// Every entry of `family` in namespace `ns` naming `id`: a non-unique
/// entry (empty value) whose key ends with the id is deleted; a unique
/// point key (its holders in the value) loses the id.
fn scan_index_family(
    kv: &dyn crate::kv::Kv,
    family: Family,
    ns: NamespaceId,
    id: ObjectId,
    batch: &mut WriteBatch,
    report: &mut QuarantineReport,
) -> Result<()> {
    let mut prefix = family.prefix().to_vec();
    prefix.extend_from_slice(&ns.0.to_be_bytes());
    kv.latest()
        .scan(Space::of(family), KeyRange::prefix(&prefix), &mut |k, v| {
            if v.is_empty() {
                if crate::index::entries::entry_id(k) == Some(id) {
                    batch.delete(family, k);
                    report.entries_removed += 1;
                }
            } else if let Ok(holders) = decode_hash_holders(v) {
                if holders.iter().any(|h| h.id == id) {
                    // The others keep their tuples.
                    let rest: Vec<Holder<'_>> =
                        holders.into_iter().filter(|h| h.id != id).collect();
                    if rest.is_empty() {
                        batch.delete(family, k);
                    } else {
                        let mut value = Vec::with_capacity(v.len());
                        encode_hash_holders(rest.iter().copied(), &mut value);
                        batch.put(family, k, &value);
                    }
                    report.unique_keys_changed += 1;
                }
            }
            Ok(true)
        })
}
