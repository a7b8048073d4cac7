//! `rockhold get`: one object, by its id or by the value it holds in a
//! unique index, read-only (a live database another process writes to is
//! read as of the call, as `dump` reads it).
//!
//! A `--key` is typed by the index part it stands for (the part's type in
//! the class's schema, `Class::part_types`): an integer part takes `42`, a
//! string part the text as given (so does a part of type `any`), a bytes
//! part hex digits, a reference an object id. A compound index takes one `--key` per part, in its order.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rockhold::{FieldType, Object, ObjectId, Value};
use serde_json::json;

use crate::open::{fail, Result};

/// Options of `rockhold get`.
pub struct GetArgs {
    pub namespace: String,
    pub class: String,
    pub id: Option<u64>,
    pub keys: Vec<String>,
    pub index: Option<String>,
    pub json: bool,
}

pub fn run(path: &Path, args: GetArgs) -> Result<ExitCode> {
    let ro = crate::open::read_only(path)?;
    let class = ro.db.class(&args.namespace, &args.class)?;
    let (found, what) = match (args.id, args.keys.is_empty()) {
        (Some(id), true) => (class.get(ObjectId(id))?, format!("id {id}")),
        (None, false) => {
            let def = class.def()?;
            let index = match &args.index {
                Some(name) => def.index(name).filter(|i| i.is_unique()).ok_or_else(|| {
                    fail(
                        2,
                        format!(
                            "class {} has no unique index {name} (its unique indexes: {})",
                            args.class,
                            unique_names(&def)
                        ),
                    )
                })?,
                None => {
                    let mut unique = def.indexes.iter().filter(|i| i.is_unique());
                    match (unique.next(), unique.next()) {
                        (Some(only), None) => only,
                        (None, _) => {
                            return Err(fail(
                                2,
                                format!("class {} has no unique index to look up", args.class),
                            ))
                        }
                        (Some(_), Some(_)) => {
                            return Err(fail(
                                2,
                                format!(
                                "class {} has several unique indexes ({}): name one with --index",
                                args.class,
                                unique_names(&def)
                            ),
                            ))
                        }
                    }
                }
            };
            let types = class.part_types(&index.name)?;
            if types.len() != args.keys.len() {
                return Err(fail(
                    2,
                    format!(
                        "index {} has {} part(s), and {} --key value(s) were given (one per part, in order)",
                        index.name,
                        types.len(),
                        args.keys.len()
                    ),
                ));
            }
            let mut parts = Vec::with_capacity(types.len());
            for (i, (ty, text)) in types.iter().zip(&args.keys).enumerate() {
                parts.push(parse_value(ty, text).map_err(|why| {
                    fail(
                        2,
                        format!(
                            "--key {text:?} (part {} of index {}): {why}",
                            i + 1,
                            index.name
                        ),
                    )
                })?);
            }
            let value = if parts.len() == 1 {
                parts.remove(0)
            } else {
                Value::List(parts)
            };
            let what = format!("{} = {value}", index.name);
            (class.get_unique(&index.name, &value)?, what)
        }
        _ => {
            return Err(fail(
                2,
                "give either --id N or --key VALUE (one per part of the index)".into(),
            ))
        }
    };
    let Some(object) = found else {
        eprintln!(
            "no object of class {} in namespace {} with {what}",
            args.class, args.namespace
        );
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        serde_json::to_string_pretty(&object_json(&args.namespace, &object))?
    } else {
        object_text(&args.namespace, &object)
    };
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
    }
}

fn unique_names(def: &rockhold::ClassDef) -> String {
    let names: Vec<&str> = def
        .indexes
        .iter()
        .filter(|i| i.is_unique())
        .map(|i| i.name.as_str())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `text` as a value of `ty`, or why it is not one.
fn parse_value(ty: &FieldType, text: &str) -> std::result::Result<Value, String> {
    let bad = |what: &str| format!("not {what}");
    Ok(match ty {
        FieldType::Bool => Value::Bool(text.parse().map_err(|_| bad("true or false"))?),
        FieldType::I64 => Value::I64(text.parse().map_err(|_| bad("a signed integer"))?),
        FieldType::U64 => Value::U64(text.parse().map_err(|_| bad("an unsigned integer"))?),
        FieldType::F64 => Value::F64(text.parse().map_err(|_| bad("a number"))?),
        FieldType::String | FieldType::Any => Value::String(text.to_string()),
        FieldType::Ref => Value::Ref(ObjectId(text.parse().map_err(|_| bad("an object id"))?)),
        FieldType::Bytes => {
            let hex = text.strip_prefix("0x").unwrap_or(text);
            // Checked first: the slicing below is then on ASCII, never
            // inside a character.
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !hex.len().is_multiple_of(2) {
                return Err(bad("hex digits in pairs"));
            }
            Value::Bytes(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| bad("hex digits"))?,
            )
        }
        FieldType::Optional(inner) => parse_value(inner, text)?,
        other => {
            return Err(format!(
                "the part is of type {}, which --key cannot spell",
                other.name()
            ))
        }
    })
}

fn object_text(namespace: &str, object: &Object) -> String {
    let mut text = format!(
        "object {} of class {} in namespace {namespace}",
        object.id, object.class
    );
    for (name, value) in &object.fields {
        text.push_str(&format!("\n  {name}: {value}"));
    }
    text
}

fn object_json(namespace: &str, object: &Object) -> serde_json::Value {
    let fields: serde_json::Map<String, serde_json::Value> = object
        .fields
        .iter()
        .map(|(name, value)| (name.clone(), crate::dump::value_json(value)))
        .collect();
    json!({
        "id": object.id.0,
        "class": object.class,
        "namespace": namespace,
        "fields": fields,
    })
}
