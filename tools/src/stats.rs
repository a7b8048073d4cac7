//! `rockhold stats`: counts and bytes per family, namespace, class and index;
//! task states; RocksDB size properties.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use rockhold::Family;
use rockhold_format::{
    decode_locator, AnyKey, ClassId, IndexId, NamespaceId, ObjectRecord, Record,
};

use crate::dump::Names;
use crate::open::{read_only, Result};

#[derive(Default)]
struct Tally {
    keys: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, k: &[u8], v: &[u8]) {
        self.keys += 1;
        self.bytes += (k.len() + v.len()) as u64;
    }
}

pub fn run(path: &Path) -> Result<ExitCode> {
    let ro = read_only(path)?;
    let db = &ro.db;
    let mut families: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut namespaces: BTreeMap<u32, Tally> = BTreeMap::new();
    let mut classes: BTreeMap<(u32, u32), Tally> = BTreeMap::new();
    let mut indexes: BTreeMap<(u32, u32, u32, &str), Tally> = BTreeMap::new();
    let mut undecodable = 0u64;
    for family in Family::ALL {
        db.raw_scan(family, family.prefix(), |k, v| {
            families.entry(family.name()).or_default().add(k, v);
            let ids = match AnyKey::decode(k) {
                Ok(AnyKey::Object(o)) => ObjectRecord::decode(v)
                    .ok()
                    .map(|r| (o.ns.0, Some(r.class.0), None)),
                Ok(AnyKey::Class(c)) => Some((c.ns.0, Some(c.class.0), None)),
                Ok(AnyKey::Locator(l)) => decode_locator(v).ok().map(|c| (l.ns.0, Some(c.0), None)),
                Ok(AnyKey::Hash(h)) => Some((h.ns.0, Some(h.class.0), Some((h.index.0, "hash")))),
                Ok(AnyKey::Ordered(r)) => {
                    Some((r.ns.0, Some(r.class.0), Some((r.index.0, "ordered"))))
                }
                Ok(AnyKey::Task(t)) => Some((t.ns.0, Some(t.class.0), None)),
                Ok(_) => None,
                Err(_) => {
                    undecodable += 1;
                    None
                }
            };
            if let Some((ns, class, index)) = ids {
                namespaces.entry(ns).or_default().add(k, v);
                if let Some(class) = class {
                    classes.entry((ns, class)).or_default().add(k, v);
                    if let Some((field, kind)) = index {
                        indexes
                            .entry((ns, class, field, kind))
                            .or_default()
                            .add(k, v);
                    }
                }
            }
            true
        })?;
    }
    let names = Names::load(db)?;
    let ns_name = |id: u32| names.ns(NamespaceId(id));
    outln!("{:<28} {:>12} {:>14}", "family", "keys", "bytes");
    for (name, t) in &families {
        outln!("{name:<28} {:>12} {:>14}", t.keys, t.bytes);
    }
    outln!("\n{:<28} {:>12} {:>14}", "namespace", "keys", "bytes");
    for (ns, t) in &namespaces {
        outln!("{:<28} {:>12} {:>14}", ns_name(*ns), t.keys, t.bytes);
    }
    outln!("\n{:<28} {:>12} {:>14}", "class", "keys", "bytes");
    for ((ns, class), t) in &classes {
        outln!(
            "{:<28} {:>12} {:>14}",
            format!("{}.{}", ns_name(*ns), names.class(ClassId(*class))),
            t.keys,
            t.bytes
        );
    }
    outln!("\n{:<28} {:>12} {:>14}", "index", "entries", "bytes");
    for ((ns, class, field, kind), t) in &indexes {
        let (class, index) = (ClassId(*class), IndexId(*field));
        let name = format!(
            "{}.{}.{} ({kind})",
            ns_name(*ns),
            names.class(class),
            names.index(class, index)
        );
        outln!("{name:<28} {:>12} {:>14}", t.keys, t.bytes);
    }
    outln!("\ntasks:");
    for (state, n) in db.task_counts()? {
        outln!("  {:<12} {n}", state.name());
    }
    outln!("\nRocksDB (per column family):");
    outln!(
        "{:<12} {:>16} {:>16} {:>16}",
        "family",
        "est. keys",
        "SST bytes",
        "memtable bytes"
    );
    for family in [
        Family::Meta,
        Family::Object,
        Family::Hash,
        Family::Ordered,
        Family::Task,
    ] {
        let p = |name: &str| {
            db.rocksdb_property(family, name)
                .ok()
                .flatten()
                .map_or("-".to_string(), |v| v.to_string())
        };
        outln!(
            "{:<16} {:>12} {:>14} {:>14}",
            rockhold::column_family(family),
            p("rocksdb.estimate-num-keys"),
            p("rocksdb.total-sst-files-size"),
            p("rocksdb.cur-size-all-mem-tables")
        );
    }
    if undecodable > 0 {
        outln!("\n{undecodable} key(s) do not decode (see `rockhold dump`)");
    }
    Ok(ExitCode::SUCCESS)
}
