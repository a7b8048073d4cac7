//! `#[derive(Model)]`: `impl Model`, `impl KeyedModel` and the typed index
//! handles of a struct with named fields.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Token, Type};

use crate::schema::stored_name;
use crate::serde_attrs::{snake, Container, Member};

/// The most parts an index may have (the engine's `MAX_INDEX_PARTS`).
const MAX_INDEX_PARTS: usize = 8;

/// An index kind as written: `unique`, `hash`, `ordered`.
#[derive(Default)]
struct KindAttr {
    unique: bool,
    hash: Option<Span>,
    ordered: Option<Span>,
}

impl KindAttr {
    /// Reads a kind flag; `false` if `meta` is none.
    fn flag(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
        let span = meta.path.span();
        if meta.path.is_ident("unique") {
            self.unique = true;
        } else if meta.path.is_ident("hash") {
            self.hash = Some(span);
        } else if meta.path.is_ident("ordered") {
            self.ordered = Some(span);
        } else {
            return Ok(false);
        }
        if self.hash.is_some() && self.ordered.is_some() {
            return Err(syn::Error::new(
                span,
                "an index is either `hash` or `ordered`, not both",
            ));
        }
        Ok(true)
    }

    fn ordered(&self) -> bool {
        self.ordered.is_some()
    }

    /// The `IndexKind` value.
    fn kind(&self) -> TokenStream {
        let unique = self.unique;
        if self.ordered() {
            quote!(::rockhold::IndexKind::Ordered { unique: #unique })
        } else {
            quote!(::rockhold::IndexKind::Hash { unique: #unique })
        }
    }

    /// The kind as a type (`::rockhold::kind::...`).
    fn kind_type(&self) -> TokenStream {
        match (self.unique, self.ordered()) {
            (false, false) => quote!(::rockhold::kind::Hash),
            (true, false) => quote!(::rockhold::kind::UniqueHash),
            (false, true) => quote!(::rockhold::kind::Ordered),
            (true, true) => quote!(::rockhold::kind::UniqueOrdered),
        }
    }

    fn describe(&self) -> &'static str {
        match (self.unique, self.ordered()) {
            (false, false) => "hash",
            (true, false) => "unique hash",
            (false, true) => "ordered",
            (true, true) => "unique ordered",
        }
    }
}

/// One field of the struct, as stored.
struct FieldInfo<'a> {
    ident: &'a Ident,
    /// Its Rust name (raw identifiers unraw'd).
    rust: String,
    /// Its serde name: the class field's name.
    stored: String,
    ty: &'a Type,
    /// `Some(span)` when serde skips it: not a class field.
    skip: Option<Span>,
}

/// One index of the class, resolved.
struct Index {
    name: String,
    span: Span,
    /// The handle's constant.
    konst: Ident,
    kind: KindAttr,
    parts: Vec<String>,
    key: TokenStream,
    /// What the handle's doc says it covers.
    covers: String,
    /// The Rust field it is the own index of, if any.
    field: Option<String>,
}

#[derive(Default)]
struct ModelAttrs {
    class: Option<LitStr>,
    namespace: Option<LitStr>,
    key: Option<LitStr>,
    indexes: Vec<IndexAttr>,
}

struct IndexAttr {
    span: Span,
    name: Option<LitStr>,
    kind: KindAttr,
    fields: Vec<LitStr>,
    key: Option<Type>,
}

fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if slot.is_some() {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(meta.error(format!("`{key}` given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_model_attrs(input: &DeriveInput) -> syn::Result<ModelAttrs> {
    let mut out = ModelAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("class") {
                let v = meta.value()?.parse()?;
                set_once(&mut out.class, v, &meta)
            } else if meta.path.is_ident("namespace") {
                let v = meta.value()?.parse()?;
                set_once(&mut out.namespace, v, &meta)
            } else if meta.path.is_ident("key") {
                let v = meta.value()?.parse()?;
                set_once(&mut out.key, v, &meta)
            } else if meta.path.is_ident("index") {
                out.indexes.push(parse_index_attr(&meta)?);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown model attribute `{}`; expected `class`, `namespace`, `key` or `index(...)`",
                    path_name(&meta.path)
                )))
            }
        })?;
    }
    Ok(out)
}

fn path_name(p: &syn::Path) -> String {
    quote!(#p).to_string().replace(' ', "")
}

fn parse_index_attr(meta: &ParseNestedMeta<'_>) -> syn::Result<IndexAttr> {
    let mut out = IndexAttr {
        span: meta.path.span(),
        name: None,
        kind: KindAttr::default(),
        fields: Vec::new(),
        key: None,
    };
    let mut fields_given = false;
    meta.parse_nested_meta(|m| {
        if out.kind.flag(&m)? || m.path.is_ident("multi") {
            Ok(())
        } else if m.path.is_ident("name") {
            let v = m.value()?.parse()?;
            set_once(&mut out.name, v, &m)
        } else if m.path.is_ident("key") {
            let v = m.value()?.parse()?;
            set_once(&mut out.key, v, &m)
        } else if m.path.is_ident("fields") {
            if fields_given {
                return Err(m.error("`fields` given twice"));
            }
            fields_given = true;
            let content;
            syn::parenthesized!(content in m.input);
            let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
            out.fields = list.into_iter().collect();
            Ok(())
        } else {
            Err(m.error(format!(
                "unknown index attribute `{}`; expected `name = \"..\"`, `fields(\"..\", ..)`, \
                 `unique`, `hash`, `ordered`, `multi` or `key = Type`",
                path_name(&m.path)
            )))
        }
    })?;
    if out.name.is_none() {
        return Err(syn::Error::new(
            out.span,
            "an index(...) needs a `name = \"...\"`",
        ));
    }
    if out.fields.is_empty() {
        return Err(syn::Error::new(
            out.span,
            "an index(...) needs `fields(\"...\", ...)`: at least one field or path",
        ));
    }
    if out.fields.len() > MAX_INDEX_PARTS {
        return Err(syn::Error::new(
            out.fields[MAX_INDEX_PARTS].span(),
            format!("an index has at most {MAX_INDEX_PARTS} parts"),
        ));
    }
    Ok(out)
}

/// A field's own `#[index(...)]`, if any.
fn field_index(field: &syn::Field) -> syn::Result<Option<(Span, KindAttr)>> {
    let mut found: Option<(Span, KindAttr)> = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("index")) {
        if found.is_some() {
            return Err(syn::Error::new(
                attr.path().span(),
                "a field has at most one #[index(...)]; declare more with \
                 #[model(index(name = \"..\", fields(\"..\")))] on the struct",
            ));
        }
        let mut kind = KindAttr::default();
        let mut multi = None;
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            attr.parse_nested_meta(|m| {
                if kind.flag(&m)? {
                    Ok(())
                } else if m.path.is_ident("multi") {
                    multi = Some(m.path.span());
                    Ok(())
                } else {
                    Err(m.error(format!(
                        "unknown index attribute `{}`; expected `unique`, `hash`, `ordered` or `multi`",
                        path_name(&m.path)
                    )))
                }
            })?;
        }
        if let Some(span) = multi {
            if !is_list(&field.ty) {
                return Err(syn::Error::new(
                    span,
                    "`multi` is for a list field (Vec, VecDeque, BTreeSet, HashSet, \
                     or an Option of one): an index over a list has an entry per element",
                ));
            }
        }
        found = Some((attr.path().span(), kind));
    }
    Ok(found)
}

/// Whether `ty` is syntactically a list (or an `Option` of one).
fn is_list(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    match last.ident.to_string().as_str() {
        "Vec" | "VecDeque" | "BTreeSet" | "HashSet" => true,
        "Option" => match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().any(|a| match a {
                syn::GenericArgument::Type(t) => is_list(t),
                _ => false,
            }),
            _ => false,
        },
        _ => false,
    }
}

/// The handle constant for an index name: SCREAMING_SNAKE, every
/// character that cannot be in an identifier made `_`.
fn const_ident(name: &str, span: Span) -> syn::Result<Ident> {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) || s == "_" {
        return Err(syn::Error::new(
            span,
            format!("index name {name:?} makes no constant name for its handle"),
        ));
    }
    Ok(Ident::new(&s, span))
}

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => f,
            Fields::Unnamed(_) | Fields::Unit => return Err(syn::Error::new(
                ident.span(),
                "#[derive(Model)] is for a struct with named fields: they are the class's fields",
            )),
        },
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "#[derive(Model)] is for a struct with named fields; an enum can be a field's \
                 type with #[derive(Schema)]",
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Model)] is for a struct with named fields",
            ))
        }
    };
    if let Some(param) = input.generics.params.first() {
        return Err(syn::Error::new(
            param.span(),
            "#[derive(Model)] does not support generic structs: a class has one fixed schema",
        ));
    }
    let container = Container::parse(&input.attrs)?;
    if let Some(span) = container.transparent {
        return Err(syn::Error::new(
            span,
            "a model cannot be transparent: a typed object is stored as a struct",
        ));
    }
    let attrs = parse_model_attrs(input)?;

    let mut fields = Vec::new();
    let mut indexes: Vec<Index> = Vec::new();
    let mut errors: Vec<syn::Error> = Vec::new();
    for f in &named.named {
        let m = Member::parse(&f.attrs, false)?;
        let Some(fident) = f.ident.as_ref() else {
            continue;
        };
        fields.push(FieldInfo {
            ident: fident,
            rust: fident.unraw().to_string(),
            stored: stored_name(f, &m, container.rename_all),
            ty: &f.ty,
            skip: m.skip,
        });
    }
    for (f, info) in named.named.iter().zip(&fields) {
        let Some((span, kind)) = field_index(f)? else {
            continue;
        };
        if let Some(skip) = info.skip {
            let mut e = syn::Error::new(span, "an indexed field cannot be skipped by serde");
            e.combine(syn::Error::new(skip, "skipped here"));
            errors.push(e);
            continue;
        }
        let ty = info.ty;
        indexes.push(Index {
            name: info.stored.clone(),
            span,
            konst: const_ident(&info.rust, info.ident.span())?,
            key: quote_spanned!(ty.span()=> <#ty as ::rockhold::Schema>::Key),
            kind,
            parts: vec![info.stored.clone()],
            covers: format!("field `{}`", info.stored),
            field: Some(info.rust.clone()),
        });
    }
    for ia in attrs.indexes {
        let Some(name) = ia.name else { continue };
        let mut parts = Vec::new();
        let mut keys = Vec::new();
        for lit in &ia.fields {
            let path = lit.value();
            let (first, rest) = match path.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (path.as_str(), None),
            };
            match resolve(&fields, first, lit.span()) {
                Ok(field) => {
                    let ty = field.ty;
                    match rest {
                        Some(rest) => {
                            parts.push(format!("{}.{rest}", field.stored));
                            keys.push(quote!(::rockhold::Value));
                        }
                        None => {
                            parts.push(field.stored.clone());
                            keys.push(quote!(<#ty as ::rockhold::Schema>::Key));
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        let key = match (&ia.key, &keys[..]) {
            (Some(ty), _) => quote!(#ty),
            (None, [one]) => one.clone(),
            (None, many) => quote!((#(#many,)*)),
        };
        let konst = match const_ident(&name.value(), name.span()) {
            Ok(k) => k,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        indexes.push(Index {
            name: name.value(),
            span: name.span(),
            konst,
            kind: ia.kind,
            covers: parts.join(", "),
            parts,
            key,
            field: None,
        });
    }
    for (i, idx) in indexes.iter().enumerate() {
        if let Some(first) = indexes[..i].iter().find(|o| o.name == idx.name) {
            let mut e = syn::Error::new(idx.span, format!("duplicate index name {:?}", idx.name));
            e.combine(syn::Error::new(first.span, "first declared here"));
            errors.push(e);
        } else if let Some(first) = indexes[..i].iter().find(|o| o.konst == idx.konst) {
            let mut e = syn::Error::new(
                idx.span,
                format!(
                    "index {:?} and index {:?} would both have the handle `{}`",
                    idx.name, first.name, idx.konst
                ),
            );
            e.combine(syn::Error::new(first.span, "first declared here"));
            errors.push(e);
        }
    }

    // The natural key: an index by name, or a field by its Rust name.
    let keyed = match &attrs.key {
        None => None,
        Some(lit) => {
            let v = lit.value();
            let found = indexes
                .iter()
                .find(|i| i.name == v)
                .or_else(|| indexes.iter().find(|i| i.field.as_deref() == Some(&v)));
            match found {
                Some(idx) if idx.kind.unique => Some(idx),
                Some(idx) => {
                    errors.push(syn::Error::new(
                        lit.span(),
                        format!(
                            "the key must be a unique index; index {:?} is {}: \
                             write #[index(unique)] (or `unique` in its index(...))",
                            idx.name,
                            idx.kind.describe()
                        ),
                    ));
                    None
                }
                None => {
                    let msg = if fields.iter().any(|f| f.rust == v || f.stored == v) {
                        format!(
                            "field `{v}` has no index; the key must be a unique index: \
                             write #[index(unique)] on it"
                        )
                    } else {
                        format!("no index or field named {v:?} in `{ident}`")
                    };
                    errors.push(syn::Error::new(lit.span(), msg));
                    None
                }
            }
        }
    };

    if let Some(mut e) = errors.pop() {
        for other in errors {
            e.combine(other);
        }
        return Err(e);
    }

    let class = attrs
        .class
        .map_or_else(|| snake(&ident.to_string()), |l| l.value());
    let namespace = attrs
        .namespace
        .map_or_else(|| "default".to_owned(), |l| l.value());
    let vis = &input.vis;

    let field_specs = fields.iter().filter(|f| f.skip.is_none()).map(|f| {
        let name = &f.stored;
        let ty = f.ty;
        quote_spanned! {ty.span()=>
            .field({
                let spec = ::rockhold::FieldSpec::new(
                    #name,
                    ::rockhold::__private::member(
                        #name,
                        <#ty as ::rockhold::Schema>::field_type,
                    ),
                );
                if <#ty as ::rockhold::Schema>::OPTIONAL {
                    spec.optional()
                } else {
                    spec
                }
            })
        }
    });
    let index_specs = indexes.iter().map(|i| {
        let name = &i.name;
        let kind = i.kind.kind();
        let parts = &i.parts;
        quote! {
            .index(::rockhold::IndexSpec::new(#name, #kind, [#(#parts),*]))
        }
    });
    let handles = indexes.iter().map(|i| {
        let doc = format!(
            "The {} index `{}` over {}.",
            i.kind.describe(),
            i.name,
            i.covers
        );
        let konst = &i.konst;
        let key = &i.key;
        let kind = i.kind.kind_type();
        let name = &i.name;
        quote! {
            #[doc = #doc]
            #vis const #konst: ::rockhold::IndexRef<#ident, #key, #kind> =
                ::rockhold::IndexRef::new(#name);
        }
    });
    let keyed = keyed.map(|idx| {
        let key = &idx.key;
        let kind = idx.kind.kind_type();
        let konst = &idx.konst;
        quote! {
            #[automatically_derived]
            impl ::rockhold::KeyedModel for #ident {
                type Key = #key;
                type KeyKind = #kind;
                const KEY: ::rockhold::IndexRef<Self, Self::Key, Self::KeyKind> = #ident::#konst;
            }
        }
    });
    let handles = if indexes.is_empty() {
        quote!()
    } else {
        quote! {
            #[automatically_derived]
            impl #ident {
                #(#handles)*
            }
        }
    };
    Ok(quote! {
        #handles
        #[automatically_derived]
        impl ::rockhold::Model for #ident {
            const NAMESPACE: &'static str = #namespace;
            const CLASS: &'static str = #class;
            fn class_spec() -> ::rockhold::ClassSpec {
                ::rockhold::ClassSpec::new(#class)
                    #(#field_specs)*
                    #(#index_specs)*
            }
        }
        #keyed
    })
}

/// The field a path's first step names: by Rust name, else by stored name.
fn resolve<'f, 'a>(
    fields: &'f [FieldInfo<'a>],
    step: &str,
    span: Span,
) -> syn::Result<&'f FieldInfo<'a>> {
    let by_rust = fields.iter().find(|f| f.rust == step);
    let by_stored = fields.iter().find(|f| f.stored == step);
    let found = match (by_rust, by_stored) {
        (Some(a), Some(b)) if a.rust != b.rust => {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{step}` is the Rust name of field `{}` and the stored name of field `{}`: \
                     rename one",
                    a.rust, b.rust
                ),
            ))
        }
        (Some(f), _) | (None, Some(f)) => f,
        (None, None) => {
            return Err(syn::Error::new(
                span,
                format!("no field `{step}` in this struct (an index path starts with a field)"),
            ))
        }
    };
    if found.skip.is_some() {
        return Err(syn::Error::new(
            span,
            format!("field `{step}` is skipped by serde: it is not stored, so not indexed"),
        ));
    }
    Ok(found)
}
