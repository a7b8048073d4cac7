//! `#[derive(Schema)]`: the stored type of a nested struct or enum, as
//! `engine/src/typed/ser.rs` maps serde's data model.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Type};

use crate::serde_attrs::{Container, Member, RenameRule};

pub fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let container = Container::parse(&input.attrs)?;
    let body = match &input.data {
        Data::Struct(s) => struct_body(&s.fields, &container)?,
        Data::Enum(e) => {
            if let Some(span) = container.transparent {
                return Err(syn::Error::new(span, "an enum cannot be transparent"));
            }
            let mut variants = Vec::new();
            for v in &e.variants {
                let attrs = Member::parse(&v.attrs, true)?;
                if attrs.skip.is_some() {
                    continue;
                }
                let ident = v.ident.unraw().to_string();
                let name = match (&attrs.rename, container.rename_all) {
                    (Some(n), _) => n.clone(),
                    (None, Some(rule)) => rule.variant(&ident),
                    (None, None) => ident,
                };
                let step = format!("::{name}");
                let payload = match &v.fields {
                    Fields::Unit => quote!(::core::option::Option::None),
                    Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                        let ty = &f.unnamed[0].ty;
                        quote!(::core::option::Option::Some(::rockhold::__private::member(
                            #step,
                            ::rockhold::__private::element::<#ty>,
                        )))
                    }
                    Fields::Unnamed(f) => {
                        let tys = unnamed_types(f)?;
                        quote!(::core::option::Option::Some(::rockhold::__private::member(
                            #step,
                            || ::rockhold::FieldType::Tuple(
                                ::std::vec![#(::rockhold::__private::element::<#tys>()),*]
                            ),
                        )))
                    }
                    Fields::Named(f) => {
                        let rule = attrs.rename_all.or(container.rename_all_fields);
                        let members = members(f, rule)?;
                        quote!(::core::option::Option::Some(::rockhold::__private::member(
                            #step,
                            || #members,
                        )))
                    }
                };
                variants.push(quote! {
                    ::rockhold::VariantDef {
                        name: ::std::string::String::from(#name),
                        payload: #payload,
                    }
                });
            }
            SchemaBody {
                optional: None,
                field_type: quote!(::rockhold::FieldType::Enum(::std::vec![#(#variants),*])),
                key: quote!(::rockhold::Value),
            }
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Schema)] is for structs and enums (serde does not serialize unions)",
            ))
        }
    };

    let ident = &input.ident;
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(::rockhold::Schema));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let SchemaBody {
        optional,
        field_type,
        key,
    } = body;
    let optional = optional.map(|o| quote!(const OPTIONAL: bool = #o;));
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::rockhold::Schema for #ident #ty_generics #where_clause {
            #optional
            fn field_type() -> ::rockhold::FieldType {
                // A type that contains itself is refused, not expanded
                // forever (`Db::collection` answers `RecursiveType`).
                ::rockhold::__private::expand(::core::any::type_name::<Self>(), || #field_type)
            }
            type Key = #key;
        }
    })
}

struct SchemaBody {
    /// `OPTIONAL`, when not the default `false`.
    optional: Option<TokenStream>,
    field_type: TokenStream,
    key: TokenStream,
}

/// A newtype (or a transparent struct) is stored as its one field's value.
fn transparent(ty: &Type) -> SchemaBody {
    SchemaBody {
        optional: Some(quote!(<#ty as ::rockhold::Schema>::OPTIONAL)),
        field_type: quote!(<#ty as ::rockhold::Schema>::field_type()),
        key: quote!(<#ty as ::rockhold::Schema>::Key),
    }
}

fn struct_body(fields: &Fields, container: &Container) -> syn::Result<SchemaBody> {
    if container.transparent.is_some() {
        // serde: exactly one field not skipped; serde itself checks that.
        let mut kept = Vec::new();
        for f in fields {
            if Member::parse(&f.attrs, false)?.skip.is_none() {
                kept.push(&f.ty);
            }
        }
        if let [ty] = kept[..] {
            return Ok(transparent(ty));
        }
        return Ok(SchemaBody {
            optional: None,
            field_type: quote!(::rockhold::FieldType::Any),
            key: quote!(::rockhold::Value),
        });
    }
    Ok(match fields {
        Fields::Named(f) => SchemaBody {
            optional: None,
            field_type: members(f, container.rename_all)?,
            key: quote!(::rockhold::Value),
        },
        // serde: a newtype struct by its syntax, one unnamed field.
        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
            unnamed_types(f)?;
            transparent(&f.unnamed[0].ty)
        }
        Fields::Unnamed(f) => {
            let tys = unnamed_types(f)?;
            SchemaBody {
                optional: None,
                field_type: quote!(::rockhold::FieldType::Tuple(
                    ::std::vec![#(::rockhold::__private::element::<#tys>()),*]
                )),
                key: quote!(::rockhold::Value),
            }
        }
        // A unit struct serializes as unit: the empty tuple.
        Fields::Unit => SchemaBody {
            optional: None,
            field_type: quote!(::rockhold::FieldType::Tuple(::std::vec::Vec::new())),
            key: quote!(::rockhold::Value),
        },
    })
}

/// The types of a tuple struct's (or variant's) fields; a skipped one is
/// refused (serde's choice of newtype or tuple does not follow skips).
fn unnamed_types(f: &syn::FieldsUnnamed) -> syn::Result<Vec<&Type>> {
    f.unnamed
        .iter()
        .map(|field| match Member::parse(&field.attrs, false)?.skip {
            Some(span) => Err(syn::Error::new(
                span,
                "rockhold does not support a skipped field in a tuple struct or variant",
            )),
            None => Ok(&field.ty),
        })
        .collect()
}

/// `FieldType::Struct` of named fields, each under its serde name; skipped
/// fields are not members.
fn members(f: &syn::FieldsNamed, rule: Option<RenameRule>) -> syn::Result<TokenStream> {
    let mut out = Vec::new();
    for field in &f.named {
        let attrs = Member::parse(&field.attrs, false)?;
        if attrs.skip.is_some() {
            continue;
        }
        let name = stored_name(field, &attrs, rule);
        let step = format!(".{name}");
        let ty = &field.ty;
        out.push(quote_spanned! {ty.span()=>
            ::rockhold::MemberDef {
                name: ::std::string::String::from(#name),
                ty: ::rockhold::__private::member(
                    #step,
                    <#ty as ::rockhold::Schema>::field_type,
                ),
                optional: <#ty as ::rockhold::Schema>::OPTIONAL,
            }
        });
    }
    Ok(quote!(::rockhold::FieldType::Struct(
        ::std::vec![#(#out),*]
    )))
}

/// A named field's serde name.
pub fn stored_name(field: &syn::Field, attrs: &Member, rule: Option<RenameRule>) -> String {
    let ident = field
        .ident
        .as_ref()
        .map(|i| i.unraw().to_string())
        .unwrap_or_default();
    match (&attrs.rename, rule) {
        (Some(n), _) => n.clone(),
        (None, Some(rule)) => rule.field(&ident),
        (None, None) => ident,
    }
}
