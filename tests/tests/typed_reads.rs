//! Typed streaming reads: `Collection::range` (pages that grow from 16 to
//! 1,024 entries, each page's objects read in one batched lookup),
//! `Collection::range_ids` (the index alone, pages from 128 entries) and
//! `Collection::iter` (every object in id order, a page of records at a
//! time) yield exactly what a model says, across page boundaries, and skip
//! objects deleted while they stream (from the next page on: a page's
//! objects are read with it).
//! Checked to fail: with `RangeIter::fill` not following the page's cursor
//! (`self.scan = None`), the range proptest stops after 16 items (128
//! for `RangeIds::next`, checked the same way); with
//! `ObjectIter::fill` resuming at the last id instead of after it, `iter`
//! yields duplicates.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rockhold::{Db, Id, MemStore, Model, Options};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Model)]
#[model(class = "item")]
struct Item {
    #[index(ordered)]
    age: u32,
    name: String,
}

fn db() -> Db {
    Db::open_memory(&MemStore::new(), Options::default()).expect("open")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_range_yields_what_the_model_says(
        ages in proptest::collection::vec(0u32..40, 0..2500),
        lo in 0u32..40,
        len in 0u32..45,
        take in 0usize..3000,
    ) {
        let db = db();
        let items = db.collection::<Item>().expect("collection");
        let mut model: BTreeMap<(u32, u64), Item> = BTreeMap::new();
        for (i, age) in ages.iter().enumerate() {
            let item = Item { age: *age, name: format!("n{i}") };
            let id = items.insert(&item).expect("insert");
            model.insert((*age, id.raw().0), item);
        }
        let hi = lo.saturating_add(len);
        let got: Vec<(u64, Item)> = items
            .range(Item::AGE, lo..hi)
            .expect("range")
            .take(take)
            .map(|r| r.map(|(id, item)| (id.raw().0, item)))
            .collect::<Result<_, _>>()
            .expect("read");
        let want: Vec<(u64, Item)> = model
            .range((lo, 0)..(hi, 0))
            .take(take)
            .map(|((_, id), item)| (*id, item.clone()))
            .collect();
        prop_assert_eq!(&got, &want);
        // The index-only range: the same ids, in the same order.
        let ids: Vec<u64> = items
            .range_ids(Item::AGE, lo..hi)
            .expect("range_ids")
            .take(take)
            .map(|r| r.map(|id| id.raw().0))
            .collect::<Result<_, _>>()
            .expect("read ids");
        prop_assert_eq!(ids, want.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    }
}

#[test]
fn iter_yields_every_object_once_in_id_order() {
    let db = db();
    let items = db.collection::<Item>().expect("collection");
    let mut want = Vec::new();
    for i in 0..1300u32 {
        let item = Item {
            age: i % 7,
            name: format!("n{i}"),
        };
        want.push((items.insert(&item).expect("insert"), item));
    }
    // Some gone before the scan: not yielded.
    for (id, _) in want.iter().step_by(5) {
        items.delete(*id).expect("delete");
    }
    let want: Vec<(Id<Item>, Item)> = want
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 5 != 0)
        .map(|(_, x)| x)
        .collect();
    let got: Vec<(Id<Item>, Item)> = items.iter().collect::<Result<_, _>>().expect("iter");
    assert_eq!(got, want);
}

#[test]
fn objects_deleted_while_a_range_streams_are_skipped() {
    let db = db();
    let items = db.collection::<Item>().expect("collection");
    let ids: Vec<Id<Item>> = (0..200u32)
        .map(|i| {
            items
                .insert(&Item {
                    age: i,
                    name: String::new(),
                })
                .expect("insert")
        })
        .collect();
    let mut range = items.range(Item::AGE, 0..).expect("range");
    let first = range.next().expect("first").expect("read");
    assert_eq!(first.0, ids[0]);
    // The first page (16 entries and their objects) is read: an object of
    // it deleted now is still yielded, as read; one past it is skipped.
    items.delete(ids[5]).expect("delete");
    items.delete(ids[100]).expect("delete");
    let rest: Vec<Id<Item>> = range
        .map(|r| r.map(|(id, _)| id))
        .collect::<Result<_, _>>()
        .expect("rest");
    let want: Vec<Id<Item>> = ids[1..]
        .iter()
        .copied()
        .filter(|id| *id != ids[100])
        .collect();
    assert_eq!(rest, want);
}
