//! Index parts: resolving a declared path (`address.city`) against a class's
//! schema, and reading the values a part covers out of a record. The one
//! place that decides what a path means:
//!
//! - the first step names a top-level field; each further step names a
//!   struct member, a map key, or a member of an `Any` value;
//! - a list (`FieldType::List`) met on the way, or at the end, is traversed
//!   element by element: the part is *multi-valued* and yields every
//!   element (an index has at most one multi-valued part);
//! - `Optional` is looked through; an absent value yields nothing;
//! - a tuple, an enum or a scalar has no members: a path into one is not in
//!   the schema. (An `Any` value is followed by map keys only; its lists
//!   are whole values.)

use rockhold_format::{
    FieldDef, FieldPath, FieldType, ObjectRecord, RecordView, Value, ValueRef, MAX_DEPTH,
};

use super::{IndexSpec, MAX_INDEX_PARTS};
use crate::error::{Error, Result};

/// One step of a compiled part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// The value of a struct member or map key.
    Member(&'a str),
    /// Every element of a list.
    Elements,
}

/// Whether `c` is a bidirectional control or an invisible (zero-width)
/// character: a name holding one displays as another name (or reorders the
/// text around it), so two names that look alike could differ.
pub(crate) fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{00AD}' // soft hyphen
        | '\u{061C}' // Arabic letter mark
        | '\u{180E}' // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{FEFF}' // zero-width no-break space
    )
}

/// Checks a field's declared type: nesting within `MAX_DEPTH`, member and
/// variant names unique, `Optional` only as an element type.
pub(crate) fn check_field_type(class: &str, field: &str, ty: &FieldType) -> Result<()> {
    let invalid = |reason: String| {
        Err(Error::InvalidRequest(format!(
            "field {class}.{field}: {reason}"
        )))
    };
    if ty.depth() > MAX_DEPTH {
        return Err(Error::TooDeep {
            class: class.to_string(),
            field: field.to_string(),
            depth: ty.depth(),
            max: MAX_DEPTH,
        });
    }
    if matches!(ty, FieldType::Optional(_)) {
        return invalid(
            "an optional field is declared with FieldSpec::optional, not an Optional type".into(),
        );
    }
    fn walk(ty: &FieldType) -> std::result::Result<(), String> {
        match ty {
            FieldType::Optional(t) | FieldType::List(t) | FieldType::Map(t) => walk(t),
            FieldType::Tuple(ts) => ts.iter().try_for_each(walk),
            FieldType::Struct(ms) => {
                for (i, m) in ms.iter().enumerate() {
                    if ms[..i].iter().any(|o| o.name == m.name) {
                        return Err(format!("struct member {:?} declared twice", m.name));
                    }
                    if m.name.contains('.') {
                        return Err(format!(
                            "struct member {:?}: '.' separates the segments of an index path",
                            m.name
                        ));
                    }
                    if m.name.chars().any(is_invisible_or_bidi) {
                        return Err(format!(
                            "struct member {:?}: a bidirectional control or invisible character",
                            m.name
                        ));
                    }
                    if matches!(m.ty, FieldType::Optional(_)) {
                        return Err(format!(
                            "member {:?}: an optional member sets `optional`, not an Optional type",
                            m.name
                        ));
                    }
                    walk(&m.ty)?;
                }
                Ok(())
            }
            FieldType::Enum(vs) => {
                for (i, v) in vs.iter().enumerate() {
                    if vs[..i].iter().any(|o| o.name == v.name) {
                        return Err(format!("enum variant {:?} declared twice", v.name));
                    }
                    if let Some(p) = &v.payload {
                        walk(p)?;
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(ty).or_else(invalid)
}

/// Resolves an index spec's parts against the class's fields: every path in
/// the schema, no part twice, at most one multi-valued part.
pub(crate) fn resolve(
    class: &str,
    spec: &IndexSpec,
    fields: &[FieldDef],
) -> Result<Vec<FieldPath>> {
    let invalid = |reason: String| Error::InvalidIndex {
        class: class.to_string(),
        index: spec.name.clone(),
        reason,
    };
    if spec.parts.is_empty() || spec.parts.len() > MAX_INDEX_PARTS {
        return Err(invalid(format!(
            "an index has 1 to {MAX_INDEX_PARTS} parts, not {}",
            spec.parts.len()
        )));
    }
    let mut out: Vec<FieldPath> = Vec::new();
    let mut multi = 0;
    for part in &spec.parts {
        let mut steps = part.split('.');
        let name = steps.next().unwrap_or_default();
        let field = fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| invalid(format!("no field {name:?}")))?;
        let path = FieldPath {
            field: field.id,
            members: steps.map(str::to_string).collect(),
        };
        let compiled = compile(&field.ty, &path.members)
            .ok_or_else(|| invalid(format!("path {part:?} is not in the schema")))?;
        if compiled.contains(&Step::Elements) {
            multi += 1;
        }
        if out.contains(&path) {
            return Err(invalid(format!("part {part:?} appears twice")));
        }
        out.push(path);
    }
    if multi > 1 {
        return Err(invalid(
            "more than one part goes through a list (at most one multi-valued part)".into(),
        ));
    }
    Ok(out)
}

/// The steps of a path below a field of type `ty`; `None` when a member is
/// not in the schema.
pub(crate) fn compile<'a>(ty: &FieldType, members: &'a [String]) -> Option<Vec<Step<'a>>> {
    compile_typed(ty, members).map(|(steps, _)| steps)
}

/// The type of the values part `path` covers (an element's type for a
/// multi-valued part); `None` when it is not in the schema.
pub(crate) fn part_type<'t>(fields: &'t [FieldDef], path: &FieldPath) -> Option<&'t FieldType> {
    let field = fields.iter().find(|f| f.id == path.field)?;
    compile_typed(&field.ty, &path.members).map(|(_, ty)| ty)
}

fn compile_typed<'a, 't>(
    ty: &'t FieldType,
    members: &'a [String],
) -> Option<(Vec<Step<'a>>, &'t FieldType)> {
    let mut steps = Vec::new();
    let mut ty = ty;
    let mut members = members.iter();
    loop {
        match ty {
            FieldType::Optional(t) => ty = t,
            FieldType::List(t) => {
                steps.push(Step::Elements);
                ty = t;
            }
            _ => {
                let Some(m) = members.next() else {
                    return Some((steps, ty));
                };
                if m.is_empty() {
                    return None;
                }
                ty = match ty {
                    FieldType::Struct(ms) => &ms.iter().find(|d| d.name == *m)?.ty,
                    FieldType::Map(t) => t,
                    FieldType::Any => ty,
                    _ => return None,
                };
                steps.push(Step::Member(m));
            }
        }
    }
}

/// Appends to `out` every value `steps` reach from `value` (absent values
/// and missing members reach nothing).
pub(crate) fn collect<'v>(value: &'v Value, steps: &[Step<'_>], out: &mut Vec<&'v Value>) {
    match steps.split_first() {
        None => {
            if !matches!(value, Value::Absent) {
                out.push(value);
            }
        }
        Some((Step::Elements, rest)) => {
            if let Value::List(items) = value {
                items.iter().for_each(|v| collect(v, rest, out));
            }
        }
        Some((Step::Member(m), rest)) => {
            if let Some(v) = value.get(m) {
                collect(v, rest, out);
            }
        }
    }
}

/// `collect` over a value read in place.
fn collect_ref<'v>(value: ValueRef<'v>, steps: &[Step<'_>], out: &mut Vec<ValueRef<'v>>) {
    match steps.split_first() {
        None => {
            if !value.is_absent() {
                out.push(value);
            }
        }
        Some((Step::Elements, rest)) => {
            if let ValueRef::List(items) = value {
                items.iter().for_each(|v| collect_ref(v, rest, out));
            }
        }
        Some((Step::Member(m), rest)) => {
            if let Some(v) = value.get(m) {
                collect_ref(v, rest, out);
            }
        }
    }
}

/// `part_values` of a record read in place: only the part's field is
/// decoded (and validated). `Err` when its bytes do not decode.
pub(crate) fn part_values_in<'v>(
    fields: &[FieldDef],
    record: &RecordView<'v>,
    path: &FieldPath,
) -> rockhold_format::Result<Vec<ValueRef<'v>>> {
    let mut out = Vec::new();
    let Some(field) = fields.iter().find(|f| f.id == path.field) else {
        return Ok(out);
    };
    if let Some(steps) = compile(&field.ty, &path.members) {
        collect_ref(record.field(path.field)?, &steps, &mut out);
    }
    Ok(out)
}

/// The values part `path` covers in `record` (several for a multi-valued
/// part; none when absent).
pub(crate) fn part_values<'v>(
    fields: &[FieldDef],
    record: &'v ObjectRecord,
    path: &FieldPath,
) -> Vec<&'v Value> {
    let mut out = Vec::new();
    let Some(field) = fields.iter().find(|f| f.id == path.field) else {
        return out;
    };
    if let Some(steps) = compile(&field.ty, &path.members) {
        collect(record.value(path.field), &steps, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rockhold_format::{FieldId, IndexKind, MemberDef};

    fn fields() -> Vec<FieldDef> {
        let address = FieldType::Struct(vec![
            MemberDef {
                name: "city".into(),
                ty: FieldType::String,
                optional: false,
            },
            MemberDef {
                name: "zips".into(),
                ty: FieldType::List(Box::new(FieldType::U64)),
                optional: true,
            },
        ]);
        let f = |id, name: &str, ty| FieldDef {
            id: FieldId(id),
            name: name.into(),
            ty,
            optional: true,
        };
        vec![
            f(1, "tags", FieldType::List(Box::new(FieldType::String))),
            f(2, "address", address.clone()),
            f(3, "homes", FieldType::List(Box::new(address))),
            f(4, "age", FieldType::U64),
            f(5, "extra", FieldType::Any),
        ]
    }

    fn spec(parts: &[&str]) -> IndexSpec {
        IndexSpec::new(
            "i",
            IndexKind::Hash { unique: false },
            parts.iter().copied(),
        )
    }

    #[test]
    fn paths_resolve_through_structs_lists_and_any() {
        let f = fields();
        for ok in [
            &["tags"][..],
            &["address.city"],
            &["homes.city"],
            &["homes.zips"],
            &["age", "tags"],
            &["extra.anything.below"],
        ] {
            resolve("c", &spec(ok), &f).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }

    #[test]
    fn bad_paths_are_refused_naming_the_index() {
        let f = fields();
        for bad in [
            &["nope"][..],
            &["address.street"],
            &["age.x"],
            &["age", "age"],
            &["tags", "homes.city"],
            &[],
            &["address."],
        ] {
            let e = resolve("c", &spec(bad), &f).expect_err("refused");
            assert!(
                matches!(e, Error::InvalidIndex { ref index, .. } if index == "i"),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn values_are_collected_per_element() {
        let f = fields();
        let home = |city: &str| Value::map([("city".to_string(), Value::from(city))]).expect("map");
        let record = ObjectRecord {
            class: rockhold_format::ClassId(1),
            fields: vec![
                (FieldId(1), Value::List(vec!["a".into(), "b".into()])),
                (FieldId(3), Value::List(vec![home("Oslo"), home("Rome")])),
            ],
        };
        let path = |field, m: &[&str]| FieldPath {
            field: FieldId(field),
            members: m.iter().map(|s| s.to_string()).collect(),
        };
        let strings = |vs: Vec<&Value>| vs.into_iter().map(|v| v.to_string()).collect::<Vec<_>>();
        assert_eq!(
            strings(part_values(&f, &record, &path(1, &[]))),
            ["\"a\"", "\"b\""]
        );
        assert_eq!(
            strings(part_values(&f, &record, &path(3, &["city"]))),
            ["\"Oslo\"", "\"Rome\""]
        );
        assert!(part_values(&f, &record, &path(2, &["city"])).is_empty());
        assert!(part_values(&f, &record, &path(4, &[])).is_empty());
    }
}
