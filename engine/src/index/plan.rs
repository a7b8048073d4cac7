//! The commit plan: given the class version, the committed and the final
//! record of each object a commit (or an index build) touches, what must
//! change in the indexes, which unique values must be checked, and which
//! cached lookups become wrong. Pure: the callers read the records and
//! write the batch.

use std::collections::BTreeSet;

use rockhold_format::{
    ClassDef, ClassId, FieldDef, FieldId, NamespaceId, ObjectId, ObjectRecord, Value,
};

use super::entries::{check_indexable, field_entry, full_scan_entry, Entry, ValueHasher};
use crate::error::Error;

/// Which indexes a plan maintains.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Every index of the class and the full-scan entry: a commit, ingest,
    /// and what `verify` expects of a record.
    Record,
    /// Only the indexes of these fields: an index build.
    Fields(&'a [FieldDef]),
}

/// One object's change: `before` is its committed record (`None`: it is
/// new), `after` its final one (`None`: it is deleted). Both are of `class`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    pub ns: NamespaceId,
    pub id: ObjectId,
    pub class: &'a ClassDef,
    pub before: Option<&'a ObjectRecord>,
    pub after: Option<&'a ObjectRecord>,
}

/// A value of a unique field held by a final record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UniqueValue<'a> {
    pub ns: NamespaceId,
    pub class: &'a ClassDef,
    pub field: &'a FieldDef,
    pub value: &'a Value,
    pub id: ObjectId,
    /// The object did not hold this value before: committed holders of it
    /// must be looked for (and its stripe locked).
    pub new: bool,
}

/// What a set of changes implies.
#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// Index entries to delete.
    pub delete: Vec<Entry>,
    /// Index entries to put (empty values).
    pub put: Vec<Entry>,
    /// Every unique value the final records hold, changed or not, in the
    /// order of the changes.
    pub unique: Vec<UniqueValue<'a>>,
    /// Unique values given up (changed or deleted): cached lookups of them
    /// must be invalidated. (class, field, ordered encoding.)
    pub released: Vec<(ClassId, FieldId, Vec<u8>)>,
    /// The objects the plan changes, sorted.
    touched: Vec<(NamespaceId, ObjectId)>,
}

/// A final record that no index can hold (a value over the ordered-key
/// limit), naming the object.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub id: ObjectId,
    pub error: Error,
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Error {
        r.error
    }
}

impl<'a> Plan<'a> {
    /// Whether the plan changes this object (its final state is then the
    /// one in the plan, whatever is committed).
    pub fn touches(&self, ns: NamespaceId, id: ObjectId) -> bool {
        self.touched.binary_search(&(ns, id)).is_ok()
    }

    /// The unique values that must be checked against committed holders
    /// (and whose stripes a writer locks first).
    pub fn new_unique(&self) -> impl Iterator<Item = &UniqueValue<'a>> + '_ {
        self.unique.iter().filter(|u| u.new)
    }
}

/// The plan of `changes` for the indexes in `scope`. A final record with a
/// value no index can hold is rejected.
pub(crate) fn plan<'a>(
    seed: &ValueHasher,
    changes: impl IntoIterator<Item = Change<'a>>,
    scope: Scope<'a>,
) -> Result<Plan<'a>, Rejected> {
    plan_checked(seed, changes, scope, true)
}

/// Every entry a stored record implies (its plan of creation), without
/// rejecting values over the ordered-key limit: what `verify` expects to
/// find (such a value's index cannot be ready, and is exempt there).
pub(crate) fn expected_entries(seed: &ValueHasher, change: Change<'_>) -> Vec<Entry> {
    match plan_checked(seed, [change], Scope::Record, false) {
        Ok(plan) => plan.put,
        Err(_) => Vec::new(), // not reached: nothing is checked
    }
}

fn plan_checked<'a>(
    seed: &ValueHasher,
    changes: impl IntoIterator<Item = Change<'a>>,
    scope: Scope<'a>,
    check: bool,
) -> Result<Plan<'a>, Rejected> {
    let mut out = Plan::default();
    for c in changes {
        out.touched.push((c.ns, c.id));
        let fields: &'a [FieldDef] = match scope {
            Scope::Record => &c.class.fields,
            Scope::Fields(fields) => fields,
        };
        let entries = |rec: Option<&ObjectRecord>| -> BTreeSet<Entry> {
            let Some(rec) = rec else {
                return BTreeSet::new();
            };
            let mut set: BTreeSet<Entry> = fields
                .iter()
                .filter_map(|f| field_entry(seed, c.ns, c.class, f, rec.value(f.id), c.id))
                .collect();
            if matches!(scope, Scope::Record) {
                set.insert(full_scan_entry(c.ns, c.class, c.id));
            }
            set
        };
        if let Some(after) = c.after.filter(|_| check) {
            for f in fields {
                check_indexable(c.class, f, after.value(f.id))
                    .map_err(|error| Rejected { id: c.id, error })?;
            }
        }
        let (old, new) = (entries(c.before), entries(c.after));
        out.delete.extend(old.difference(&new).cloned());
        out.put.extend(new.difference(&old).cloned());
        for f in fields.iter().filter(|f| f.index.is_unique()) {
            let before = c.before.map_or(&Value::Absent, |r| r.value(f.id));
            let after = c.after.map_or(&Value::Absent, |r| r.value(f.id));
            if !matches!(after, Value::Absent) {
                out.unique.push(UniqueValue {
                    ns: c.ns,
                    class: c.class,
                    field: f,
                    value: after,
                    id: c.id,
                    new: before != after,
                });
            }
            if before != after && !matches!(before, Value::Absent) {
                out.released
                    .push((c.class.id, f.id, before.encode_ordered()));
            }
        }
    }
    out.touched.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rockhold_format::{Family, FieldType, IndexKind};

    fn class() -> ClassDef {
        let field = |id, name: &str, index| FieldDef {
            id: FieldId(id),
            name: name.into(),
            ty: FieldType::String,
            optional: true,
            index,
        };
        ClassDef {
            id: ClassId(1),
            name: "user".into(),
            revision: 1,
            next_field_id: 4,
            fields: vec![
                field(1, "email", IndexKind::Hash { unique: true }),
                field(2, "city", IndexKind::Ordered { unique: false }),
                field(3, "note", IndexKind::None),
            ],
            provisional: false,
        }
    }

    fn rec(email: Option<&str>, city: Option<&str>) -> ObjectRecord {
        let mut fields = Vec::new();
        if let Some(e) = email {
            fields.push((FieldId(1), Value::from(e)));
        }
        if let Some(c) = city {
            fields.push((FieldId(2), Value::from(c)));
        }
        ObjectRecord {
            class: ClassId(1),
            fields,
        }
    }

    fn seed() -> ValueHasher {
        ValueHasher::new(rockhold_format::HashSeed { k0: 1, k1: 2 }, 64)
    }
    const NS: NamespaceId = NamespaceId(1);

    fn change<'a>(
        class: &'a ClassDef,
        id: u64,
        before: Option<&'a ObjectRecord>,
        after: Option<&'a ObjectRecord>,
    ) -> Change<'a> {
        Change {
            ns: NS,
            id: ObjectId(id),
            class,
            before,
            after,
        }
    }

    fn families(entries: &[Entry]) -> Vec<Family> {
        entries.iter().map(|(f, _)| *f).collect()
    }

    #[test]
    fn an_insert_puts_every_entry_and_claims_its_unique_values() {
        let class = class();
        let after = rec(Some("a@x"), Some("Oslo"));
        let change = change(&class, 5, None, Some(&after));
        let p = plan(&seed(), [change], Scope::Record).expect("plan");
        assert!(p.delete.is_empty());
        let mut put = families(&p.put);
        put.sort();
        assert_eq!(put, vec![Family::FullScan, Family::Hash, Family::Ordered]);
        assert_eq!(p.unique.len(), 1);
        assert!(p.unique[0].new);
        assert!(p.released.is_empty());
        assert!(p.touches(NS, ObjectId(5)) && !p.touches(NS, ObjectId(6)));
    }

    #[test]
    fn an_update_changes_only_what_differs_and_releases_the_old_value() {
        let class = class();
        let (before, after) = (
            rec(Some("a@x"), Some("Oslo")),
            rec(Some("b@x"), Some("Oslo")),
        );
        let change = change(&class, 5, Some(&before), Some(&after));
        let p = plan(&seed(), [change], Scope::Record).expect("plan");
        assert_eq!(families(&p.delete), vec![Family::Hash]);
        assert_eq!(families(&p.put), vec![Family::Hash]);
        assert_eq!(
            p.released,
            vec![(ClassId(1), FieldId(1), Value::from("a@x").encode_ordered())]
        );
        assert!(p.unique[0].new);
        // Unchanged: still a holder (for the check within the batch), not new.
        let same = Change {
            before: Some(&after),
            ..change
        };
        let p = plan(&seed(), [same], Scope::Record).expect("plan");
        assert!(p.put.is_empty() && p.delete.is_empty());
        assert_eq!(p.unique.len(), 1);
        assert!(!p.unique[0].new);
    }

    #[test]
    fn a_delete_removes_every_entry() {
        let class = class();
        let before = rec(Some("a@x"), None);
        let change = change(&class, 5, Some(&before), None);
        let p = plan(&seed(), [change], Scope::Record).expect("plan");
        let mut delete = families(&p.delete);
        delete.sort();
        assert_eq!(delete, vec![Family::FullScan, Family::Hash]);
        assert!(p.put.is_empty() && p.unique.is_empty());
        assert_eq!(p.released.len(), 1);
    }

    #[test]
    fn a_build_scope_covers_only_its_fields() {
        let class = class();
        let after = rec(Some("a@x"), Some("Oslo"));
        let change = change(&class, 5, None, Some(&after));
        let p = plan(&seed(), [change], Scope::Fields(&class.fields[1..2])).expect("plan");
        assert_eq!(families(&p.put), vec![Family::Ordered]);
        assert!(p.unique.is_empty());
    }

    #[test]
    fn an_unindexable_value_is_rejected_naming_the_object() {
        let class = class();
        let long = "x".repeat(rockhold_format::MAX_ORDERED_VALUE_LEN + 1);
        let after = rec(None, Some(&long));
        let change = change(&class, 9, None, Some(&after));
        let r = plan(&seed(), [change], Scope::Record).expect_err("too long");
        assert_eq!(r.id, ObjectId(9));
        assert!(matches!(r.error, Error::ValueTooLarge { .. }));
    }
}
