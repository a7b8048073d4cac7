//! `rockhold dump`: every key decoded by family, with its value. Bytes that
//! do not decode are shown escaped with the decode error, and the dump goes
//! on. Decoding is `rockhold-format`'s; nothing is re-implemented here.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use rockhold::{Db, Family};
use rockhold_format::{
    decode_holders, decode_locator, AnyKey, ClassDef, ClassId, ClassKey, FieldId, IndexDef,
    IndexId, IndexKind, IndexShape, Key, MetaValue, NameEntry, NameKey, NameKind, NamespaceId,
    ObjectRecord, Record, TaskRecord, Value,
};
use serde_json::{json, Value as Json};

use crate::open::{read_only, Result};

pub struct DumpArgs {
    pub families: Vec<String>,
    pub namespace: Option<String>,
    pub class: Option<String>,
    pub limit: Option<usize>,
    pub json: bool,
}

/// Names for ids, read from the database's own name and class records.
#[derive(Default)]
pub(crate) struct Names {
    namespaces: HashMap<NamespaceId, String>,
    classes: HashMap<ClassId, ClassDef>,
}

impl Names {
    pub(crate) fn load(db: &Db) -> Result<Names> {
        let mut names = Names::default();
        db.raw_scan(
            Family::Name,
            &NameKey::scope_prefix(NameKind::Namespace, 0),
            |k, v| {
                if let (Ok(key), Ok(entry)) = (NameKey::decode(k), NameEntry::decode(v)) {
                    names.namespaces.insert(NamespaceId(entry.id), key.name);
                }
                true
            },
        )?;
        db.raw_scan(Family::Class, Family::Class.prefix(), |_, v| {
            if let Ok(def) = ClassDef::decode(v) {
                names.classes.insert(def.id, def);
            }
            true
        })?;
        Ok(names)
    }

    pub(crate) fn ns(&self, id: NamespaceId) -> String {
        self.namespaces
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    pub(crate) fn class(&self, id: ClassId) -> String {
        self.classes
            .get(&id)
            .map_or_else(|| format!("#{id}"), |c| c.name.clone())
    }

    pub(crate) fn field(&self, class: ClassId, field: FieldId) -> String {
        self.classes
            .get(&class)
            .and_then(|c| c.field_by_id(field))
            .map_or_else(|| format!("#{field}"), |f| f.name.clone())
    }

    /// The definition of an index, where the class record is readable.
    pub(crate) fn index_def(&self, class: ClassId, index: IndexId) -> Option<&IndexDef> {
        self.classes.get(&class)?.index_by_id(index)
    }

    pub(crate) fn index(&self, class: ClassId, index: IndexId) -> String {
        if index == IndexId::WHOLE_CLASS {
            return "*".into();
        }
        self.index_def(class, index)
            .map_or_else(|| format!("#{index}"), |i| i.name.clone())
    }

    /// An index's parts as dotted paths (`address.city`).
    fn parts(&self, class: ClassId, index: &IndexDef) -> Vec<String> {
        index
            .parts
            .iter()
            .map(|p| {
                let mut path = self.field(class, p.field);
                for m in &p.members {
                    path.push('.');
                    path.push_str(m);
                }
                path
            })
            .collect()
    }
}

fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

pub(crate) fn value_json(v: &Value) -> Json {
    match v {
        Value::Absent => Json::Null,
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::U64(u) => json!(u),
        Value::F64(f) if f.is_finite() => json!(f),
        Value::F64(f) => json!(f.to_string()),
        Value::String(s) => json!(s),
        Value::Bytes(b) => {
            json!({ "bytes": b.iter().map(|x| format!("{x:02x}")).collect::<String>() })
        }
        Value::Ref(id) => json!({ "ref": id.0 }),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ),
        Value::Variant(v) => json!({ "variant": v.0, "value": value_json(&v.1) }),
    }
}

fn index_name(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Hash { unique: true } => "unique-hash",
        IndexKind::Hash { unique: false } => "hash",
        IndexKind::Ordered { unique: true } => "unique-ordered",
        IndexKind::Ordered { unique: false } => "ordered",
    }
}

/// One decoded entry: its text line and its JSON form.
fn describe(names: &Names, family: Family, k: &[u8], v: &[u8]) -> (String, Json) {
    let key = match AnyKey::decode(k) {
        Ok(key) if key.family() == family => key,
        Ok(key) => {
            return undecodable(
                family,
                k,
                v,
                &format!("{} key in the {family} column family", key.family()),
            )
        }
        Err(e) => return undecodable(family, k, v, &e.to_string()),
    };
    let result: std::result::Result<(String, Json), rockhold_format::Error> = (|| {
        Ok(match &key {
            AnyKey::Meta(m) => {
                let value = match MetaValue::decode(v)? {
                    MetaValue::FormatVersion(n) => json!(n),
                    MetaValue::Counter(n) => json!(n),
                    // Knowing the seed lets a writer choose colliding values: never shown.
                    MetaValue::HashSeed(_) => json!("(set, not shown)"),
                };
                (
                    format!("{} = {value}", m.name()),
                    json!({ "name": m.name(), "value": value }),
                )
            }
            AnyKey::Name(n) => {
                let entry = NameEntry::decode(v)?;
                let kind = match n.kind {
                    NameKind::Namespace => "namespace",
                    NameKind::Class => "class",
                };
                let text = match n.kind {
                    NameKind::Namespace => format!("namespace {:?} -> id {}", n.name, entry.id),
                    NameKind::Class => {
                        format!(
                            "class {:?} in ns={} -> id {}",
                            n.name,
                            names.ns(NamespaceId(n.parent)),
                            entry.id
                        )
                    }
                };
                (
                    text,
                    json!({ "kind": kind, "parent": n.parent, "name": n.name, "id": entry.id }),
                )
            }
            AnyKey::Class(ClassKey { ns, class }) => {
                let def = ClassDef::decode(v)?;
                let fields: Vec<String> = def
                    .fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}#{}:{}{}",
                            f.name,
                            f.id,
                            f.ty.name(),
                            if f.optional { "?" } else { "" },
                        )
                    })
                    .collect();
                let indexes: Vec<String> = def
                    .indexes
                    .iter()
                    .map(|i| {
                        format!(
                            "{}#{}:{}({})",
                            i.name,
                            i.id,
                            index_name(i.kind),
                            names.parts(def.id, i).join(", ")
                        )
                    })
                    .collect();
                (
                    format!(
                        "ns={} class={} id={class} rev={}{} fields: {} indexes: {}",
                        names.ns(*ns),
                        def.name,
                        def.revision,
                        if def.provisional { " provisional" } else { "" },
                        fields.join(", "),
                        indexes.join(", ")
                    ),
                    json!({
                        "namespace": names.ns(*ns), "class": def.name, "id": class.0, "revision": def.revision,
                        "provisional": def.provisional, "next_field_id": def.next_field_id,
                        "next_index_id": def.next_index_id,
                        "fields": def.fields.iter().map(|f| json!({
                            "id": f.id.0, "name": f.name, "type": f.ty.name(), "optional": f.optional,
                        })).collect::<Vec<_>>(),
                        "indexes": def.indexes.iter().map(|i| json!({
                            "id": i.id.0, "name": i.name, "kind": index_name(i.kind),
                            "parts": names.parts(def.id, i),
                        })).collect::<Vec<_>>(),
                    }),
                )
            }
            AnyKey::Object(o) => {
                let rec = ObjectRecord::decode(v)?;
                let fields: Vec<(String, &Value)> = rec
                    .fields
                    .iter()
                    .map(|(f, val)| (names.field(rec.class, *f), val))
                    .collect();
                let text: Vec<String> = fields
                    .iter()
                    .map(|(n, val)| format!("{n}: {val}"))
                    .collect();
                (
                    format!(
                        "ns={} id={} {} {{ {} }}",
                        names.ns(o.ns),
                        o.id,
                        names.class(rec.class),
                        text.join(", ")
                    ),
                    json!({
                        "namespace": names.ns(o.ns), "id": o.id.0, "class": names.class(rec.class),
                        "fields": fields.iter().map(|(n, val)| (n.clone(), value_json(val))).collect::<serde_json::Map<_, _>>(),
                    }),
                )
            }
            AnyKey::Locator(l) => {
                let class = decode_locator(v)?;
                (
                    format!(
                        "ns={} id={} class={}",
                        names.ns(l.ns),
                        l.id,
                        names.class(class)
                    ),
                    json!({ "namespace": names.ns(l.ns), "id": l.id.0, "class": names.class(class) }),
                )
            }
            AnyKey::Hash(h) => {
                // A unique index's point key lists its holders in the value.
                let holders = match h.id {
                    Some(id) => vec![id],
                    None => decode_holders(v)?,
                };
                let ids: Vec<String> = holders.iter().map(|i| i.to_string()).collect();
                (
                    format!(
                        "ns={} class={} index={} hash={:016x} {}={}",
                        names.ns(h.ns),
                        names.class(h.class),
                        names.index(h.class, h.index),
                        h.hash,
                        if h.id.is_some() { "id" } else { "holders" },
                        ids.join(",")
                    ),
                    json!({
                        "namespace": names.ns(h.ns), "class": names.class(h.class), "index": names.index(h.class, h.index),
                        "hash": format!("{:016x}", h.hash), "unique": h.id.is_none(),
                        "ids": holders.iter().map(|i| i.0).collect::<Vec<_>>(),
                    }),
                )
            }
            AnyKey::Ordered(r) => {
                let Some(def) = names.index_def(r.class, r.index) else {
                    return Err(rockhold_format::Error::Malformed(format!(
                        "ordered entry of index {} that class {} does not define",
                        r.index, r.class
                    )));
                };
                let shape = IndexShape {
                    parts: def.parts.len(),
                    unique: def.is_unique(),
                };
                let key = r.decode_as(shape)?;
                let holders = match key.id {
                    Some(id) => vec![id],
                    None => decode_holders(v)?,
                };
                let ids: Vec<String> = holders.iter().map(|i| i.to_string()).collect();
                let parts = names.parts(r.class, def);
                let text: Vec<String> = parts
                    .iter()
                    .zip(&key.values)
                    .map(|(p, v)| format!("{p}={v}"))
                    .collect();
                (
                    format!(
                        "ns={} class={} index={} {} {}={}",
                        names.ns(r.ns),
                        names.class(r.class),
                        def.name,
                        text.join(" "),
                        if key.id.is_some() { "id" } else { "holder" },
                        ids.join(",")
                    ),
                    json!({
                        "namespace": names.ns(r.ns), "class": names.class(r.class), "index": def.name,
                        "values": parts.iter().zip(&key.values).map(|(p, v)| (p.clone(), value_json(v))).collect::<serde_json::Map<_, _>>(),
                        "unique": key.id.is_none(), "ids": holders.iter().map(|i| i.0).collect::<Vec<_>>(),
                    }),
                )
            }
            AnyKey::Task(t) => {
                let task = TaskRecord::decode(v)?;
                (
                    format!(
                        "ns={} class={} index={} state={} rev={} attempts={} cursor={} added={} stale={}{}",
                        names.ns(t.ns),
                        names.class(t.class),
                        names.index(t.class, t.index),
                        task.state.name(),
                        task.revision,
                        task.attempts,
                        task.cursor.map_or("-".to_string(), |c| c.to_string()),
                        task.entries_added,
                        task.stale_removed,
                        task.last_error.as_ref().map_or(String::new(), |e| format!(" error={e:?}")),
                    ),
                    json!({
                        "namespace": names.ns(t.ns), "class": names.class(t.class), "index": names.index(t.class, t.index),
                        "state": task.state.name(), "revision": task.revision, "attempts": task.attempts,
                        "cursor": task.cursor.map(|c| c.0), "entries_added": task.entries_added,
                        "stale_removed": task.stale_removed, "last_error": task.last_error,
                        "conflicts": task.conflicts.iter().map(|c| c.0).collect::<Vec<_>>(),
                        "created_at_ms": task.created_at_ms, "updated_at_ms": task.updated_at_ms,
                    }),
                )
            }
            AnyKey::Generation(g) => {
                let generation = match MetaValue::decode(v)? {
                    MetaValue::Counter(n) => n,
                    other => {
                        return Err(rockhold_format::Error::Malformed(format!(
                            "generation marker holds {other:?}"
                        )))
                    }
                };
                let cf = rockhold::COLUMN_FAMILIES
                    .get(usize::from(g.cf))
                    .copied()
                    .unwrap_or("?");
                (
                    format!("cf={cf} generation={generation}"),
                    json!({ "column_family": cf, "generation": generation }),
                )
            }
            _ => return Err(rockhold_format::Error::Malformed("unknown key kind".into())),
        })
    })();
    match result {
        Ok((text, mut j)) => {
            if let Json::Object(m) = &mut j {
                m.insert("family".into(), json!(family.name()));
            }
            (format!("{:<9} {text}", family.name()), j)
        }
        Err(e) => undecodable(family, k, v, &e.to_string()),
    }
}

fn undecodable(family: Family, k: &[u8], v: &[u8], error: &str) -> (String, Json) {
    (
        format!(
            "{:<9} UNDECODABLE key={} value={} error: {error}",
            family.name(),
            escaped(k),
            escaped(v)
        ),
        json!({ "family": family.name(), "undecodable": true, "key": escaped(k), "value": escaped(v), "error": error }),
    )
}

pub fn run(path: &Path, args: DumpArgs) -> Result<std::process::ExitCode> {
    let ro = read_only(path)?;
    let db = &ro.db;
    let names = Names::load(db)?;
    let families: Vec<Family> = if args.families.is_empty() {
        Family::ALL.to_vec()
    } else {
        args.families
            .iter()
            .map(|f| {
                Family::ALL
                    .into_iter()
                    .find(|x| x.name() == f || String::from_utf8_lossy(x.prefix()).eq_ignore_ascii_case(f))
                    .ok_or_else(|| format!("unknown family {f}; known: meta name class object locator hash ordered task generation"))
            })
            .collect::<std::result::Result<_, _>>()?
    };
    let ns = match &args.namespace {
        Some(n) => Some(
            *names
                .namespaces
                .iter()
                .find(|(_, name)| *name == n)
                .ok_or_else(|| format!("unknown namespace {n}"))?
                .0,
        ),
        None => None,
    };
    let class = match &args.class {
        Some(c) => {
            let ns = ns.unwrap_or(NamespaceId::DEFAULT);
            let id = db
                .classes(&names.ns(ns))?
                .into_iter()
                .find(|d| &d.name == c)
                .ok_or_else(|| format!("unknown class {c}"))?
                .id;
            Some((ns, id))
        }
        None => None,
    };
    let ns = ns.or(class.map(|(n, _)| n));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut shown = 0usize;
    let limit = args.limit.unwrap_or(usize::MAX);
    let mut json_entries = Vec::new();
    for family in families {
        let mut prefix = family.prefix().to_vec();
        if let Some(ns) = ns {
            match family.namespace_prefix(ns) {
                Some(p) => prefix = p,
                None if family == Family::Name => {
                    prefix = NameKey::scope_prefix(NameKind::Class, ns.0)
                }
                None => continue, // meta has no namespace
            }
            if let (Some((_, cid)), true) = (
                class,
                matches!(
                    family,
                    Family::Class | Family::Object | Family::Hash | Family::Ordered | Family::Task
                ),
            ) {
                prefix.extend_from_slice(&cid.0.to_be_bytes());
            }
        }
        let mut io_error = None;
        db.raw_scan(family, &prefix, |k, v| {
            if shown >= limit {
                return false;
            }
            if let (Some((_, cid)), Family::Object) = (class, family) {
                if ObjectRecord::decode(v).is_ok_and(|r| r.class != cid) {
                    return true;
                }
            }
            let (text, j) = describe(&names, family, k, v);
            shown += 1;
            if args.json {
                json_entries.push(j);
            } else if let Err(e) = writeln!(out, "{text}") {
                io_error = Some(e);
                return false;
            }
            true
        })?;
        if let Some(e) = io_error {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(std::process::ExitCode::SUCCESS);
            }
            return Err(e.into());
        }
    }
    if args.json {
        // Serialised first: a write error stays an io::Error (a closed pipe ends normally).
        let text = serde_json::to_string_pretty(&json_entries)?;
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}
