//! The commit plan: given the class version, the committed and the final
//! record of each object a commit (or an index build) touches, what must
//! change in the indexes, which unique values must be checked, and which
//! cached lookups become wrong. Pure: the callers read the records and
//! write the batch.

use std::cmp::Ordering;

use rockhold_format::{ClassDef, ClassId, IndexDef, IndexId, NamespaceId, ObjectId, ObjectRecord};

use super::entries::{check_indexable, entry_key, index_tuples, point_key, Entry, ValueHasher};
use crate::error::Error;

/// Which indexes a plan maintains.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Every index of the class: a commit, ingest, and what `verify`
    /// expects of a record (whose record and locator the writer writes).
    Record,
    /// Only these indexes: an index build.
    Indexes(&'a [IndexDef]),
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

/// A value tuple of a unique index held by a final record, or given up by
/// a committed one.
#[derive(Debug, Clone)]
pub(crate) struct UniqueValue<'a> {
    pub ns: NamespaceId,
    pub class: &'a ClassDef,
    pub index: &'a IndexDef,
    /// The ordered encoding of the tuple.
    pub tuple: Vec<u8>,
    /// Its point key.
    pub key: Entry,
    pub id: ObjectId,
    /// Held: the object did not hold this tuple before, so committed
    /// holders of it must be looked for (and its stripe locked). Released:
    /// always true.
    pub new: bool,
}

/// What a set of changes implies.
#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// Entries of non-unique indexes to delete.
    pub delete: Vec<Entry>,
    /// Entries of non-unique indexes to put (empty values).
    pub put: Vec<Entry>,
    /// Every unique tuple the final records hold, changed or not, in the
    /// order of the changes.
    pub unique: Vec<UniqueValue<'a>>,
    /// Unique tuples given up (changed or deleted): their point keys lose a
    /// holder, and cached lookups of them must be invalidated.
    pub released: Vec<UniqueValue<'a>>,
    /// The objects the plan changes, sorted.
    touched: Vec<(NamespaceId, ObjectId)>,
}

/// A final record that no index can hold (a value over the ordered-key
/// limit), naming the object.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub id: ObjectId,
    pub error: Box<Error>,
}

impl From<Rejected> for Error {
    fn from(r: Rejected) -> Error {
        *r.error
    }
}

impl<'a> Plan<'a> {
    /// Whether the plan changes this object (its final state is then the
    /// one in the plan, whatever is committed).
    pub fn touches(&self, ns: NamespaceId, id: ObjectId) -> bool {
        self.touched.binary_search(&(ns, id)).is_ok()
    }

    /// The unique tuples that must be checked against committed holders.
    pub fn new_unique(&self) -> impl Iterator<Item = &UniqueValue<'a>> + '_ {
        self.unique.iter().filter(|u| u.new)
    }

    /// Every unique tuple whose point key the plan may rewrite (new or
    /// given up): the stripes a writer locks.
    pub fn changed_unique(&self) -> impl Iterator<Item = &UniqueValue<'a>> + '_ {
        self.new_unique().chain(&self.released)
    }

    /// (class, index, tuple) of every given-up unique tuple: cached lookups to invalidate.
    pub fn released_keys(&self) -> Vec<(rockhold_format::ClassId, IndexId, Vec<u8>)> {
        self.released
            .iter()
            .map(|u| (u.class.id, u.index.id, u.tuple.clone()))
            .collect()
    }
}

/// The plan of `changes` for the indexes in `scope`. A final record with a
/// value no index can hold is rejected.
pub(crate) fn plan<'a>(
    hasher: &ValueHasher,
    changes: impl IntoIterator<Item = Change<'a>>,
    scope: Scope<'a>,
) -> Result<Plan<'a>, Rejected> {
    plan_checked(hasher, changes, scope, true)
}

/// Every non-unique entry and every unique point key (with the object as
/// its holder) a stored record implies, without rejecting values over the
/// ordered-key limit: what `verify` expects to find (such a value's index
/// cannot be ready, and is exempt there).
pub(crate) fn expected_entries(
    hasher: &ValueHasher,
    change: Change<'_>,
) -> (Vec<Entry>, Vec<Entry>) {
    match plan_checked(hasher, [change], Scope::Record, false) {
        Ok(plan) => (plan.put, plan.unique.into_iter().map(|u| u.key).collect()),
        Err(_) => (Vec::new(), Vec::new()), // not reached: nothing is checked
    }
}

fn plan_checked<'a>(
    hasher: &ValueHasher,
    changes: impl IntoIterator<Item = Change<'a>>,
    scope: Scope<'a>,
    check: bool,
) -> Result<Plan<'a>, Rejected> {
    let mut out = Plan::default();
    // One object's entries before and after, reused across the changes.
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for c in changes {
        out.touched.push((c.ns, c.id));
        let indexes: &'a [IndexDef] = match scope {
            Scope::Record => &c.class.indexes,
            Scope::Indexes(indexes) => indexes,
        };
        for index in indexes {
            let before = c
                .before
                .map(|r| index_tuples(c.class, index, r))
                .unwrap_or_default();
            let after = c
                .after
                .map(|r| index_tuples(c.class, index, r))
                .unwrap_or_default();
            if check {
                for t in &after {
                    check_indexable(c.class, index, t).map_err(|error| Rejected {
                        id: c.id,
                        error: Box::new(error),
                    })?;
                }
            }
            if index.is_unique() {
                let value = |tuple: &Vec<u8>, new: bool| UniqueValue {
                    ns: c.ns,
                    class: c.class,
                    index,
                    key: point_key(hasher, c.ns, c.class.id, index, tuple),
                    tuple: tuple.clone(),
                    id: c.id,
                    new,
                };
                for t in &after {
                    out.unique.push(value(t, before.binary_search(t).is_err()));
                }
                for t in before.iter().filter(|t| after.binary_search(t).is_err()) {
                    out.released.push(value(t, true));
                }
            } else {
                let key = |t: &Vec<u8>| entry_key(hasher, c.ns, c.class.id, index, t, c.id);
                old.extend(before.iter().map(key));
                new.extend(after.iter().map(key));
            }
        }
        diff_into(&mut old, &mut new, &mut out.delete, &mut out.put);
    }
    out.touched.sort_unstable();
    Ok(out)
}

/// Moves the entries only in `old` to `delete` and those only in `new` to
/// `put` (each sorted, without duplicates), and leaves both empty: a merge
/// of two sorted small vectors, no set and no copy of a key.
fn diff_into(
    old: &mut Vec<Entry>,
    new: &mut Vec<Entry>,
    delete: &mut Vec<Entry>,
    put: &mut Vec<Entry>,
) {
    for v in [&mut *old, &mut *new] {
        v.sort_unstable();
        v.dedup();
    }
    let (mut o, mut n) = (old.drain(..), new.drain(..));
    let (mut a, mut b) = (o.next(), n.next());
    loop {
        match (a.take(), b.take()) {
            (Some(x), Some(y)) => match x.cmp(&y) {
                Ordering::Less => {
                    delete.push(x);
                    (a, b) = (o.next(), Some(y));
                }
                Ordering::Greater => {
                    put.push(y);
                    (a, b) = (Some(x), n.next());
                }
                Ordering::Equal => (a, b) = (o.next(), n.next()),
            },
            (Some(x), None) => {
                delete.push(x);
                delete.extend(o);
                break;
            }
            (None, Some(y)) => {
                put.push(y);
                put.extend(n);
                break;
            }
            (None, None) => break,
        }
    }
}

/// The value stripes of the unique point keys a plan may rewrite.
pub(crate) fn unique_stripes<'p>(
    hasher: &'p ValueHasher,
    plan: &'p Plan<'_>,
) -> impl Iterator<Item = (ClassId, IndexId, u64)> + 'p {
    plan.changed_unique()
        .map(|u| (u.class.id, u.index.id, hasher.hash_bytes(&u.tuple)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rockhold_format::{
        ClassId, Family, FieldDef, FieldId, FieldPath, FieldType, IndexKind, Value,
    };

    fn class() -> ClassDef {
        let field = |id, name: &str, ty| FieldDef {
            id: FieldId(id),
            name: name.into(),
            ty,
            optional: true,
        };
        let index = |id, name: &str, kind, fields: &[u32]| IndexDef {
            id: IndexId(id),
            name: name.into(),
            kind,
            parts: fields
                .iter()
                .map(|f| FieldPath {
                    field: FieldId(*f),
                    members: Vec::new(),
                })
                .collect(),
        };
        ClassDef {
            id: ClassId(1),
            name: "user".into(),
            revision: 1,
            next_field_id: 5,
            next_index_id: 5,
            fields: vec![
                field(1, "email", FieldType::String),
                field(2, "city", FieldType::String),
                field(3, "note", FieldType::String),
                field(4, "tags", FieldType::List(Box::new(FieldType::String))),
            ],
            indexes: vec![
                index(1, "email", IndexKind::Hash { unique: true }, &[1]),
                index(2, "city", IndexKind::Ordered { unique: false }, &[2]),
                index(3, "tags", IndexKind::Hash { unique: false }, &[4]),
                index(
                    4,
                    "city_email",
                    IndexKind::Ordered { unique: true },
                    &[2, 1],
                ),
            ],
            provisional: false,
        }
    }

    fn rec(email: Option<&str>, city: Option<&str>, tags: &[&str]) -> ObjectRecord {
        let mut fields = Vec::new();
        if let Some(e) = email {
            fields.push((FieldId(1), Value::from(e)));
        }
        if let Some(c) = city {
            fields.push((FieldId(2), Value::from(c)));
        }
        if !tags.is_empty() {
            fields.push((
                FieldId(4),
                Value::List(tags.iter().map(|t| Value::from(*t)).collect()),
            ));
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
        let mut f: Vec<Family> = entries.iter().map(|(f, _)| *f).collect();
        f.sort();
        f
    }

    #[test]
    fn an_insert_puts_every_entry_and_claims_its_unique_values() {
        let class = class();
        let after = rec(Some("a@x"), Some("Oslo"), &["x", "y", "x"]);
        let change = change(&class, 5, None, Some(&after));
        let p = plan(&seed(), [change], Scope::Record).expect("plan");
        assert!(p.delete.is_empty());
        // City and one entry per distinct tag.
        assert_eq!(
            families(&p.put),
            vec![Family::Hash, Family::Hash, Family::Ordered]
        );
        // email and (city, email): unique point keys, claimed as new.
        assert_eq!(p.unique.len(), 2);
        assert!(p.unique.iter().all(|u| u.new));
        assert!(p.released.is_empty());
        assert!(p.touches(NS, ObjectId(5)) && !p.touches(NS, ObjectId(6)));
    }

    #[test]
    fn an_update_changes_only_what_differs_and_releases_the_old_value() {
        let class = class();
        let (before, after) = (
            rec(Some("a@x"), Some("Oslo"), &["x", "y"]),
            rec(Some("b@x"), Some("Oslo"), &["y", "z"]),
        );
        let change = change(&class, 5, Some(&before), Some(&after));
        let p = plan(&seed(), [change], Scope::Record).expect("plan");
        // The tag x goes, z comes; y stays untouched.
        assert_eq!(families(&p.delete), vec![Family::Hash]);
        assert_eq!(families(&p.put), vec![Family::Hash]);
        // email and (city, email) both changed.
        assert_eq!(p.released.len(), 2);
        assert_eq!(p.released_keys()[0].2, Value::from("a@x").encode_ordered());
        assert!(p.unique.iter().all(|u| u.new));
        // Unchanged: still a holder (for the check within the batch), not new.
        let same = Change {
            before: Some(&after),
            ..change
        };
        let p = plan(&seed(), [same], Scope::Record).expect("plan");
        assert!(p.put.is_empty() && p.delete.is_empty() && p.released.is_empty());
        assert_eq!(p.unique.len(), 2);
        assert!(p.unique.iter().all(|u| !u.new));
    }

    #[test]
    fn a_compound_index_needs_every_part() {
        let class = class();
        let after = rec(None, Some("Oslo"), &[]);
        let p = plan(
            &seed(),
            [change(&class, 5, None, Some(&after))],
            Scope::Record,
        )
        .expect("plan");
        // No email: neither the email index nor (city, email) has an entry.
        assert!(p.unique.is_empty());
        assert_eq!(families(&p.put), vec![Family::Ordered]);
    }

    #[test]
    fn a_delete_removes_every_entry() {
        let class = class();
        let before = rec(Some("a@x"), None, &["t"]);
        let change = change(&class, 5, Some(&before), None);
        let p = plan(&seed(), [change], Scope::Record).expect("plan");
        assert_eq!(families(&p.delete), vec![Family::Hash]);
        assert!(p.put.is_empty() && p.unique.is_empty());
        assert_eq!(p.released.len(), 1);
    }

    #[test]
    fn a_build_scope_covers_only_its_indexes() {
        let class = class();
        let after = rec(Some("a@x"), Some("Oslo"), &[]);
        let change = change(&class, 5, None, Some(&after));
        let p = plan(&seed(), [change], Scope::Indexes(&class.indexes[1..2])).expect("plan");
        assert_eq!(families(&p.put), vec![Family::Ordered]);
        assert!(p.unique.is_empty());
    }

    #[test]
    fn entries_diff_as_sets_do() {
        use std::collections::BTreeSet;
        proptest::proptest!(|(old in proptest::collection::vec(0u8..6, 0..8),
                              new in proptest::collection::vec(0u8..6, 0..8))| {
            let entry = |b: &u8| (Family::Ordered, vec![*b]);
            let (mut o, mut n): (Vec<Entry>, Vec<Entry>) =
                (old.iter().map(entry).collect(), new.iter().map(entry).collect());
            let (mut delete, mut put) = (vec![(Family::Hash, vec![9])], Vec::new());
            diff_into(&mut o, &mut n, &mut delete, &mut put);
            let (so, sn): (BTreeSet<Entry>, BTreeSet<Entry>) =
                (old.iter().map(entry).collect(), new.iter().map(entry).collect());
            let mut want_delete = vec![(Family::Hash, vec![9])];
            want_delete.extend(so.difference(&sn).cloned());
            proptest::prop_assert_eq!(delete, want_delete);
            proptest::prop_assert_eq!(put, sn.difference(&so).cloned().collect::<Vec<_>>());
            proptest::prop_assert!(o.is_empty() && n.is_empty());
        });
    }

    #[test]
    fn an_unindexable_value_is_rejected_naming_the_object() {
        let class = class();
        let long = "x".repeat(rockhold_format::MAX_ORDERED_VALUE_LEN + 1);
        let after = rec(None, Some(&long), &[]);
        let change = change(&class, 9, None, Some(&after));
        let r = plan(&seed(), [change], Scope::Record).expect_err("too long");
        assert_eq!(r.id, ObjectId(9));
        assert!(matches!(*r.error, Error::ValueTooLarge { .. }));
    }
}
