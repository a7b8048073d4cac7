//! The parts of `#[serde(...)]` that decide a stored name or shape: renames,
//! skips, and the attributes that change the shape beyond what the derives
//! can describe (refused). Every other serde key is read over and ignored.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Token};

/// serde's `rename_all` rules, applied exactly as `serde_derive` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    fn parse(lit: &LitStr) -> syn::Result<Self> {
        Ok(match lit.value().as_str() {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            other => {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("unknown serde rename_all rule {other:?}"),
                ))
            }
        })
    }

    /// A field name (snake_case in Rust) under this rule.
    pub fn field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            RenameRule::Camel => {
                let pascal = RenameRule::Pascal.field(field);
                lower_first(&pascal)
            }
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }

    /// A variant name (PascalCase in Rust) under this rule.
    pub fn variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => lower_first(variant),
            RenameRule::Snake => snake(variant),
            RenameRule::ScreamingSnake => snake(variant).to_ascii_uppercase(),
            RenameRule::Kebab => snake(variant).replace('_', "-"),
            RenameRule::ScreamingKebab => snake(variant).to_ascii_uppercase().replace('_', "-"),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `PascalCase` → `snake_case`, as serde does for variants (and as the
/// default class name is made from a struct's name).
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.char_indices() {
        if i > 0 && ch.is_uppercase() {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// Reads over the value of a serde key this derive does not look at:
/// `key`, `key = value` or `key(...)`.
fn ignore(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: TokenStream = content.parse()?;
    }
    Ok(())
}

/// `rename = "x"` or `rename(serialize = "x", deserialize = "y")`: the
/// serialize and deserialize names, each `None` when not given.
type Names<T> = (Option<T>, Option<T>);

fn names<T>(
    meta: &ParseNestedMeta<'_>,
    parse: impl Fn(&LitStr) -> syn::Result<T>,
) -> syn::Result<Names<T>>
where
    T: Clone,
{
    if meta.input.peek(Token![=]) {
        let lit: LitStr = meta.value()?.parse()?;
        let v = parse(&lit)?;
        return Ok((Some(v.clone()), Some(v)));
    }
    let mut ser = None;
    let mut de = None;
    meta.parse_nested_meta(|m| {
        let lit: LitStr = m.value()?.parse()?;
        if m.path.is_ident("serialize") {
            ser = Some(parse(&lit)?);
        } else if m.path.is_ident("deserialize") {
            de = Some(parse(&lit)?);
        } else {
            return Err(m.error("expected `serialize` or `deserialize`"));
        }
        Ok(())
    })?;
    Ok((ser, de))
}

/// One name for both directions: the engine reads an object back by the
/// name it stored it under.
fn one_name<T: PartialEq>(span: Span, (ser, de): Names<T>, what: &str) -> syn::Result<Option<T>> {
    if ser != de {
        return Err(syn::Error::new(
            span,
            format!(
                "rockhold needs one {what} for serialize and deserialize: \
                 an object is read back by the names it was stored under"
            ),
        ));
    }
    Ok(ser)
}

fn serde_attrs(
    attrs: &[Attribute],
    mut each: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<bool>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if !each(&meta)? {
                ignore(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

fn refused(meta: &ParseNestedMeta<'_>, why: &str) -> syn::Error {
    let key = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    meta.error(format!(
        "#[serde({key})] is not supported by rockhold: {why}"
    ))
}

/// The serde attributes of a struct or an enum.
#[derive(Default)]
pub struct Container {
    /// `rename_all`: the fields' (or variants') names.
    pub rename_all: Option<RenameRule>,
    /// `rename_all_fields` (enums): the names of struct variants' fields.
    pub rename_all_fields: Option<RenameRule>,
    /// `transparent`, with the attribute's span.
    pub transparent: Option<Span>,
}

impl Container {
    pub fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut c = Container::default();
        serde_attrs(attrs, |meta| {
            let p = &meta.path;
            if p.is_ident("rename_all") {
                c.rename_all = one_name(
                    p_span(p),
                    names(meta, RenameRule::parse)?,
                    "rename_all rule",
                )?;
            } else if p.is_ident("rename_all_fields") {
                c.rename_all_fields = one_name(
                    p_span(p),
                    names(meta, RenameRule::parse)?,
                    "rename_all_fields rule",
                )?;
            } else if p.is_ident("transparent") {
                c.transparent = Some(p_span(p));
            } else if p.is_ident("tag") || p.is_ident("content") || p.is_ident("untagged") {
                return Err(refused(
                    meta,
                    "an enum is stored externally tagged (a variant value), serde's default",
                ));
            } else if p.is_ident("into")
                || p.is_ident("from")
                || p.is_ident("try_from")
                || p.is_ident("remote")
            {
                return Err(refused(
                    meta,
                    "the stored shape is derived from this type's own fields; \
                     implement rockhold::Schema by hand instead",
                ));
            } else {
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(c)
    }
}

fn p_span(p: &syn::Path) -> Span {
    p.segments
        .first()
        .map_or_else(Span::call_site, |s| s.ident.span())
}

/// The serde attributes of a field (or a variant).
#[derive(Default)]
pub struct Member {
    /// `rename`.
    pub rename: Option<String>,
    /// `rename_all` (a variant's: its struct fields' names).
    pub rename_all: Option<RenameRule>,
    /// `skip` or `skip_serializing`, with the span: not stored.
    pub skip: Option<Span>,
}

impl Member {
    /// A field's or variant's attributes; `variant` says which.
    pub fn parse(attrs: &[Attribute], variant: bool) -> syn::Result<Self> {
        let mut m = Member::default();
        serde_attrs(attrs, |meta| {
            let p = &meta.path;
            if p.is_ident("rename") {
                m.rename = one_name(p_span(p), names(meta, |l| Ok(l.value()))?, "name")?;
            } else if variant && p.is_ident("rename_all") {
                m.rename_all = one_name(
                    p_span(p),
                    names(meta, RenameRule::parse)?,
                    "rename_all rule",
                )?;
            } else if p.is_ident("skip") || p.is_ident("skip_serializing") {
                m.skip = Some(p_span(p));
            } else if p.is_ident("flatten") {
                return Err(refused(
                    meta,
                    "a flattened field has no one declared type; \
                     declare its fields in the struct, or make it a nested struct",
                ));
            } else if variant && p.is_ident("untagged") {
                return Err(refused(
                    meta,
                    "an enum is stored externally tagged (a variant value)",
                ));
            } else {
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(m)
    }
}
