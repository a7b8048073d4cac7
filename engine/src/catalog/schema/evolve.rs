//! Additive type evolution: which changes of a field's declared type keep
//! every stored value valid (a new enum variant, a new optional struct
//! member, a required member or element made optional, anything made
//! `Any`), and the one type that holds both a stored type and a model's.
//!
//! A class update may widen a field's type ([`widens`]); `ensure_class`
//! applies the [`union`] of the stored type and the model's, so a newer
//! model adds what it adds and an older one (a subset: fewer variants or
//! members) fits the stored class as it is. Anything else names the place
//! inside the field and says what changed.

use rockhold_format::{FieldType, MemberDef, VariantDef};

/// Where inside a field two types part, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Narrowing {
    /// The place below the field (`.member`, `[]`, `{}`, `::Variant`;
    /// empty for the field's own type).
    pub path: String,
    /// What changed, in words.
    pub what: String,
}

impl Narrowing {
    fn at(path: &str, what: impl Into<String>) -> Self {
        Narrowing {
            path: path.to_owned(),
            what: what.into(),
        }
    }

    /// `what`, with the place when below the field (`field.path: what`).
    pub fn describe(&self, field: &str) -> String {
        if self.path.is_empty() {
            self.what.clone()
        } else {
            format!("at {field}{}: {}", self.path, self.what)
        }
    }
}

type R<T> = Result<T, Narrowing>;

fn retyped(path: &str, from: &FieldType, to: &FieldType) -> Narrowing {
    Narrowing::at(
        path,
        format!("stored as {}, now {}", from.name(), to.name()),
    )
}

/// The type holding every value of `stored` and of `model`, when each
/// place of one is the other's or an addition to it; otherwise where and
/// how they part. `has_objects`: whether a new required member would leave
/// stored values without it.
pub(crate) fn union(stored: &FieldType, model: &FieldType, has_objects: bool) -> R<FieldType> {
    union_at(stored, model, has_objects, &mut String::new())
}

fn with<T>(path: &mut String, step: &str, f: impl FnOnce(&mut String) -> T) -> T {
    let len = path.len();
    path.push_str(step);
    let r = f(path);
    path.truncate(len);
    r
}

fn union_at(a: &FieldType, b: &FieldType, objects: bool, path: &mut String) -> R<FieldType> {
    use FieldType as T;
    if a == b {
        return Ok(a.clone());
    }
    Ok(match (a, b) {
        (T::Any, _) | (_, T::Any) => T::Any,
        (T::Optional(x), T::Optional(y)) => T::Optional(Box::new(union_at(x, y, objects, path)?)),
        (T::Optional(x), y) => T::Optional(Box::new(union_at(x, y, objects, path)?)),
        (x, T::Optional(y)) => T::Optional(Box::new(union_at(x, y, objects, path)?)),
        (T::List(x), T::List(y)) => {
            T::List(Box::new(with(path, "[]", |p| union_at(x, y, objects, p))?))
        }
        (T::Map(x), T::Map(y)) => {
            T::Map(Box::new(with(path, "{}", |p| union_at(x, y, objects, p))?))
        }
        (T::Tuple(xs), T::Tuple(ys)) if xs.len() == ys.len() => T::Tuple(
            xs.iter()
                .zip(ys)
                .enumerate()
                .map(|(i, (x, y))| with(path, &format!("[{i}]"), |p| union_at(x, y, objects, p)))
                .collect::<R<_>>()?,
        ),
        (T::Struct(ms), T::Struct(ns)) => {
            let mut out = Vec::with_capacity(ms.len().max(ns.len()));
            for m in ms {
                match ns.iter().find(|n| n.name == m.name) {
                    Some(n) => out.push(MemberDef {
                        name: m.name.clone(),
                        ty: with(path, &format!(".{}", m.name), |p| {
                            union_at(&m.ty, &n.ty, objects, p)
                        })?,
                        // Made optional by the model: optional; made
                        // required by it (an older model): kept optional.
                        optional: m.optional || n.optional,
                    }),
                    None if m.optional => out.push(m.clone()),
                    None => {
                        return Err(Narrowing::at(
                            path,
                            format!(
                                "member {:?} is required in the stored class and the model \
                                 lacks it: values written through the model would have none",
                                m.name
                            ),
                        ))
                    }
                }
            }
            for n in ns.iter().filter(|n| !ms.iter().any(|m| m.name == n.name)) {
                if objects && !n.optional {
                    return Err(new_required(path, &n.name));
                }
                out.push(n.clone());
            }
            T::Struct(out)
        }
        (T::Enum(vs), T::Enum(ws)) => {
            let mut out = Vec::with_capacity(vs.len().max(ws.len()));
            for v in vs {
                match ws.iter().find(|w| w.name == v.name) {
                    Some(w) => out.push(VariantDef {
                        name: v.name.clone(),
                        payload: with(path, &format!("::{}", v.name), |p| {
                            payload_union(&v.payload, &w.payload, objects, p)
                        })?,
                    }),
                    // An older model without the variant: kept.
                    None => out.push(v.clone()),
                }
            }
            out.extend(
                ws.iter()
                    .filter(|w| !vs.iter().any(|v| v.name == w.name))
                    .cloned(),
            );
            T::Enum(out)
        }
        (a, b) => return Err(retyped(path, a, b)),
    })
}

fn new_required(path: &str, name: &str) -> Narrowing {
    Narrowing::at(
        path,
        format!(
            "new member {name:?} is required, and the class has objects without it: \
             declare it optional (an Option)"
        ),
    )
}

fn payload_union(
    a: &Option<FieldType>,
    b: &Option<FieldType>,
    objects: bool,
    path: &mut String,
) -> R<Option<FieldType>> {
    match (a, b) {
        (None, None) => Ok(None),
        (Some(x), Some(y)) => union_at(x, y, objects, path).map(Some),
        (None, Some(_)) => Err(Narrowing::at(
            path,
            "a unit variant in the stored class, with data in the model",
        )),
        (Some(_), None) => Err(Narrowing::at(
            path,
            "a variant with data in the stored class, a unit variant in the model",
        )),
    }
}

/// Whether every value of `old` is a value of `new`, with only additions
/// (see the module doc); otherwise the first place where not, and how.
/// `has_objects`: whether stored values could lack a member made required.
pub(crate) fn widens(old: &FieldType, new: &FieldType, has_objects: bool) -> R<()> {
    widens_at(old, new, has_objects, &mut String::new())
}

fn widens_at(a: &FieldType, b: &FieldType, objects: bool, path: &mut String) -> R<()> {
    use FieldType as T;
    if a == b {
        return Ok(());
    }
    match (a, b) {
        (_, T::Any) => Ok(()),
        (T::Optional(x), T::Optional(y)) => widens_at(x, y, objects, path),
        (x, T::Optional(y)) => widens_at(x, y, objects, path),
        (T::Optional(_), _) if objects => Err(Narrowing::at(
            path,
            "optional elements made required, and stored values may hold absent ones",
        )),
        (T::Optional(x), y) => widens_at(x, y, objects, path),
        (T::List(x), T::List(y)) => with(path, "[]", |p| widens_at(x, y, objects, p)),
        (T::Map(x), T::Map(y)) => with(path, "{}", |p| widens_at(x, y, objects, p)),
        (T::Tuple(xs), T::Tuple(ys)) if xs.len() == ys.len() => {
            for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
                with(path, &format!("[{i}]"), |p| widens_at(x, y, objects, p))?;
            }
            Ok(())
        }
        (T::Struct(ms), T::Struct(ns)) => {
            for m in ms {
                let Some(n) = ns.iter().find(|n| n.name == m.name) else {
                    return Err(Narrowing::at(path, format!("member {:?} removed", m.name)));
                };
                if m.optional && !n.optional && objects {
                    return Err(Narrowing::at(
                        path,
                        format!(
                            "member {:?} made required, and stored values may lack it",
                            m.name
                        ),
                    ));
                }
                with(path, &format!(".{}", m.name), |p| {
                    widens_at(&m.ty, &n.ty, objects, p)
                })?;
            }
            if objects {
                if let Some(n) = ns
                    .iter()
                    .find(|n| !n.optional && !ms.iter().any(|m| m.name == n.name))
                {
                    return Err(new_required(path, &n.name));
                }
            }
            Ok(())
        }
        (T::Enum(vs), T::Enum(ws)) => {
            for v in vs {
                let Some(w) = ws.iter().find(|w| w.name == v.name) else {
                    return Err(Narrowing::at(path, format!("variant {:?} removed", v.name)));
                };
                with(path, &format!("::{}", v.name), |p| {
                    match (&v.payload, &w.payload) {
                        (Some(x), Some(y)) => widens_at(x, y, objects, p),
                        _ => payload_union(&v.payload, &w.payload, objects, p).map(drop),
                    }
                })?;
            }
            Ok(())
        }
        (a, b) => Err(retyped(path, a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldType as T;

    fn member(name: &str, ty: T, optional: bool) -> MemberDef {
        MemberDef {
            name: name.into(),
            ty,
            optional,
        }
    }

    fn variant(name: &str) -> VariantDef {
        VariantDef {
            name: name.into(),
            payload: None,
        }
    }

    /// Additions widen and their union is the wider type, both ways round
    /// (an older model fits the newer stored type); removals and retypes
    /// name the place.
    #[test]
    fn additive_changes_widen_and_others_name_the_place() {
        let e1 = T::Enum(vec![variant("A")]);
        let e2 = T::Enum(vec![variant("A"), variant("B")]);
        assert_eq!(widens(&e1, &e2, true), Ok(()));
        assert_eq!(union(&e1, &e2, true), Ok(e2.clone()));
        assert_eq!(union(&e2, &e1, true), Ok(e2.clone()), "rollback keeps B");
        let removed = widens(&e2, &e1, true).expect_err("a variant removed");
        assert!(
            removed.what.contains("variant \"B\" removed"),
            "{removed:?}"
        );

        let s1 = T::Struct(vec![member("a", T::U64, false)]);
        let s2 = T::Struct(vec![
            member("a", T::U64, true),
            member("b", e1.clone(), true),
        ]);
        assert_eq!(widens(&s1, &s2, true), Ok(()));
        assert_eq!(union(&s2, &s1, true), Ok(s2.clone()));
        let s1_optional = T::Struct(vec![member("a", T::U64, true)]);
        let gone = widens(&s2, &s1_optional, true).expect_err("a member removed");
        assert!(gone.what.contains("\"b\" removed"), "{gone:?}");
        let nested = T::List(Box::new(s2.clone()));
        let retype = T::List(Box::new(T::Struct(vec![
            member("a", T::String, true),
            member("b", e1, true),
        ])));
        let n = widens(&nested, &retype, true).expect_err("a member retyped");
        assert_eq!(n.path, "[].a");
        assert!(n.what.contains("stored as u64, now string"), "{n:?}");
        let required = T::Struct(vec![member("a", T::U64, false), member("c", T::U64, false)]);
        assert!(union(&s1, &required, true).is_err());
        assert!(union(&s1, &required, false).is_ok());
    }
}
