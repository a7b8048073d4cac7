//! The layering, checked: every layer's root file (`x.rs` or `x/mod.rs`)
//! declares what it may call in a `May call:` paragraph (the backticked
//! layer names in it), and this test holds every `crate::` path under
//! `engine/src` to its layer's list:
//!
//! - a file belongs to the layer of its top folder (or is the layer, for
//!   a top-level file); `lib.rs` is the crate root and is not checked;
//! - a path `crate::x::…` (or `rockhold::x::…`, the crate's own name)
//!   names layer `x`; a name the crate root re-exports (`crate::Db`)
//!   names the layer it comes from; nested groups (`crate::{a, b::c}`)
//!   are followed, and so are `super::` chains that climb to the crate
//!   root; a glob of the crate root (`crate::*`) is refused, since it hides
//!   what it names; comments and the contents of string and character
//!   literals (raw strings too) are not code and are skipped;
//! - a layer may call itself and what it lists, nothing else; the table
//!   must have no cycle, so the layers stack in floors;
//! - no file outside `db/` names `Db` or `Inner` in its code: the handle
//!   and the shared state are the facade's;
//! - `docs/ARCHITECTURE.md` holds the diagram drawn from the same table,
//!   between `<!-- layers:begin -->` and `<!-- layers:end -->`
//!   (`ROCKHOLD_BLESS=1` rewrites it).
//!
//! Checked to fail: with `use crate::db::Db;` added to `read/mod.rs` (two
//! breaches reported), `use super::build::BuildCtx;` there, `use
//! crate::catalog::CatalogCell;`, `use crate::{catalog::CatalogCell};` and
//! `use crate::MemStore;` in `catalog/schema/`, `use crate::*;` in
//! `index/entries.rs`, and with `txn` taken out of `build`'s list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The source folder of the engine.
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("read the source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `text` without its comments (line, doc and block comments) and without
/// the contents of its string and character literals (raw strings too);
/// lifetimes are kept.
fn code_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|p| chars[p]);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && !prev.is_some_and(ident)
            && matches!(next, Some('"') | Some('#'))
            && chars[i + 1..].iter().find(|c| **c != '#') == Some(&'"')
        {
            // A raw string: r"…", r#"…"#, … ends at the quote followed by
            // as many #.
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            i += 2 + hashes;
            while i < chars.len() {
                if chars[i] == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|c| **c == '#')
                        .count()
                        == hashes
                {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\"', '\u{…}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A plain char literal ('"', 'a'); a lifetime ('a) has no
            // closing quote after one char.
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The first segments of the paths a `crate::` (or `rockhold::`) path in
/// `code` reaches: `crate::a::b` gives `a`, `crate::{a::x, b}` gives `a`
/// and `b`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["crate::", "rockhold::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let start = from + at;
            from = start + prefix.len();
            // Not the tail of a longer identifier (`my_crate::`).
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[from..];
            if let Some(group) = rest.strip_prefix('{') {
                // The names at the top level of the group.
                let (mut level, mut name, mut expect_name) = (0usize, String::new(), true);
                for c in group.chars() {
                    match c {
                        '{' => level += 1,
                        '}' if level == 0 => break,
                        '}' => level -= 1,
                        ',' if level == 0 => expect_name = true,
                        c if level == 0 && expect_name && (c.is_alphanumeric() || c == '_') => {
                            name.push(c)
                        }
                        _ if level == 0 && !name.is_empty() => {
                            out.push(std::mem::take(&mut name));
                            expect_name = false;
                        }
                        _ => {}
                    }
                }
                if !name.is_empty() {
                    out.push(name);
                }
            } else if rest.starts_with('*') {
                out.push("*".to_string());
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// The spans of the inline modules (`mod name { … }`) in `code`.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("mod ") {
        let start = from + at;
        from = start + 4;
        if code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &code[from..];
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let after = rest[name_len..].trim_start();
        if name_len == 0 || !after.starts_with('{') {
            continue; // `mod name;`: a file of its own
        }
        let open = from + name_len + (rest[name_len..].len() - after.len());
        let mut level = 0usize;
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        out.push((open, open + i));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// What `super::` chains in `code` reach at the crate root, as
/// `crate_paths` gives them (`*` for a glob), for a file whose module is
/// `depth` levels below the root (`read/mod.rs` 1, `read/cache.rs` 2); an
/// inline module adds a level to the code inside it.
fn super_paths(code: &str, depth: usize) -> Vec<String> {
    let modules = inline_modules(code);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("super::") {
        let start = from + at;
        if code[..start].ends_with("super::") {
            from = start + "super::".len();
            continue; // inside a chain counted from its first link
        }
        let mut end = start;
        let mut climbs = 0;
        while code[end..].starts_with("super::") {
            end += "super::".len();
            climbs += 1;
        }
        from = end;
        let inside = modules
            .iter()
            .filter(|(a, b)| *a < start && start < *b)
            .count();
        if climbs >= depth + inside {
            let name: String = code[end..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '*' || *c == '{')
                .collect();
            out.push(if name.starts_with('{') {
                "{".to_string()
            } else {
                name
            });
        }
    }
    out
}

/// The crate root's re-exports: name → the module path it comes from
/// (`Db` → `db`, `ClassSpec` → `catalog::schema`).
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(at) = stmt.find("pub use ") else {
            continue;
        };
        let path = stmt[at + "pub use ".len()..].trim();
        let Some((root, rest)) = path.split_once("::") else {
            continue;
        };
        let (module, names) = match rest.find('{') {
            Some(open) => (
                rest[..open].trim_end_matches("::"),
                rest[open + 1..].trim_end_matches('}').to_string(),
            ),
            None => match rest.rsplit_once("::") {
                Some((module, name)) => (module, name.to_string()),
                None => ("", rest.to_string()),
            },
        };
        let module = if module.is_empty() {
            root.to_string()
        } else {
            format!("{root}::{module}")
        };
        for name in names.split(',') {
            let name = name.trim().rsplit("::").next().unwrap_or_default().trim();
            if !name.is_empty() {
                out.insert(name.to_string(), module.clone());
            }
        }
    }
    out
}

/// The layers (top-level modules of the crate) and the root file of each.
fn layers(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_string();
        if path.is_dir() {
            out.insert(name, path.join("mod.rs"));
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            out.insert(name, path);
        }
    }
    out
}

/// The layers a root file's `May call:` paragraph names.
fn may_call<V>(root: &str, known: &BTreeMap<String, V>) -> Option<BTreeSet<String>> {
    let mut lines = root.lines().map(|l| l.trim_start());
    let first = lines.find(|l| l.starts_with("//! May call:"))?;
    let mut text = first.to_string();
    for line in lines {
        let body = line.strip_prefix("//!").unwrap_or_default().trim();
        if body.is_empty() {
            break;
        }
        text.push(' ');
        text.push_str(body);
    }
    let mut out = BTreeSet::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let first = part
                .trim_start_matches("crate::")
                .split("::")
                .next()
                .unwrap_or("");
            if known.contains_key(first) {
                out.insert(first.to_string());
            }
        }
    }
    Some(out)
}

/// The table: each layer with what it may call.
fn table(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let known = layers(src);
    known
        .iter()
        .map(|(name, root)| {
            let text = std::fs::read_to_string(root).expect("read a layer's root");
            let list = may_call(&text, &known)
                .unwrap_or_else(|| panic!("{} declares no `May call:` paragraph", root.display()));
            (name.clone(), list)
        })
        .collect()
}

/// The floor of each layer: 0 for one that calls nothing, else one above
/// the highest it may call. Panics on a cycle.
fn floors(table: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, usize> {
    fn floor(
        layer: &str,
        table: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeMap<String, usize>,
        path: &mut Vec<String>,
    ) -> usize {
        if let Some(f) = done.get(layer) {
            return *f;
        }
        assert!(
            !path.iter().any(|p| p == layer),
            "the declared layers call each other in a circle: {} -> {layer}",
            path.join(" -> ")
        );
        path.push(layer.to_string());
        let f = table[layer]
            .iter()
            .map(|below| floor(below, table, done, path) + 1)
            .max()
            .unwrap_or(0);
        path.pop();
        done.insert(layer.to_string(), f);
        f
    }
    let mut done = BTreeMap::new();
    for layer in table.keys() {
        floor(layer, table, &mut done, &mut Vec::new());
    }
    done
}

/// The diagram ARCHITECTURE.md holds: floors from the top, each layer with
/// what it may call.
fn diagram(table: &BTreeMap<String, BTreeSet<String>>) -> String {
    let floors = floors(table);
    let top = floors.values().copied().max().unwrap_or(0);
    let mut out = String::from("```text\nfloor  layer     may call (nothing above its floor)\n");
    for f in (0..=top).rev() {
        for (layer, _) in floors.iter().filter(|(_, g)| **g == f) {
            let calls: Vec<&str> = table[layer].iter().map(String::as_str).collect();
            let calls = if calls.is_empty() {
                "-".to_string()
            } else {
                calls.join(", ")
            };
            out.push_str(&format!("{f:>5}  {layer:<9} {calls}\n"));
        }
    }
    out.push_str("```\n");
    out
}

/// Whether `code` names `word` as an identifier.
fn names(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// A folder inside a layer may declare a `May call:` paragraph of its own
/// (the pure schema rule in `catalog/schema/`): its files may then call
/// the layers it lists and their own folder, not the rest of their layer.
/// Returns the first breach in `code` of the file `rel`, if any.
fn outside_its_folder(
    src: &Path,
    rel: &Path,
    layer: &str,
    code: &str,
    table: &BTreeMap<String, BTreeSet<String>>,
    reexported: &BTreeMap<String, String>,
) -> Option<String> {
    // The deepest folder above the file (below the layer's) that declares.
    let mut folder = rel.parent()?.to_path_buf();
    let declared = loop {
        if folder.components().count() < 2 {
            return None;
        }
        let root = src.join(&folder).join("mod.rs");
        if let Some(list) = std::fs::read_to_string(&root)
            .ok()
            .and_then(|text| may_call(&text, table))
        {
            break list;
        }
        folder = folder.parent()?.to_path_buf();
    };
    let own: Vec<String> = folder
        .components()
        .skip(1)
        .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
        .collect();
    // How far `super::` may climb: to the folder's root, no further.
    let depth = rel.components().count() - folder.components().count() - 1;
    let depth = if rel.ends_with("mod.rs") {
        depth
    } else {
        depth + 1
    };
    let escape = "super::".repeat(depth + 1);
    let own_path = format!("{layer}::{}", own.join("::"));
    for name in crate_paths(code) {
        // A layer by name, or the module a crate-root re-export comes from.
        let module = if table.contains_key(&name) {
            None
        } else {
            reexported.get(&name).cloned()
        };
        let target = match &module {
            Some(m) => m.split("::").next().unwrap_or_default().to_string(),
            None if table.contains_key(&name) => name.clone(),
            None => continue,
        };
        let inside_own = module
            .as_ref()
            .is_some_and(|m| m == &own_path || m.starts_with(&format!("{own_path}::")));
        if target == layer && module.is_some() && !inside_own {
            return Some(format!(
                "{}: {} reaches into the rest of `{layer}` (through crate::{name})",
                rel.display(),
                folder.display()
            ));
        }
        if target != layer && !declared.contains(&target) {
            return Some(format!(
                "{}: {} may call {declared:?} only, not `{target}`",
                rel.display(),
                folder.display()
            ));
        }
    }
    for root in ["crate::", "rockhold::"] {
        if code.contains(&format!("{root}{{")) {
            return Some(format!(
                "{}: {} names the crate's items in a group (`{root}{{…}}`): name each path",
                rel.display(),
                folder.display()
            ));
        }
        let prefix = format!("{root}{layer}");
        let inside = format!("{root}{own_path}");
        let mut from = 0;
        while let Some(at) = code[from..].find(&prefix) {
            let start = from + at;
            from = start + prefix.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            if !code[start..].starts_with(&inside) {
                return Some(format!(
                    "{}: {} reaches into the rest of `{layer}` ({}…)",
                    rel.display(),
                    folder.display(),
                    &code[start..(start + 40).min(code.len())]
                ));
            }
        }
    }
    if code.contains(&escape) {
        return Some(format!(
            "{}: `{escape}` climbs out of {}",
            rel.display(),
            folder.display()
        ));
    }
    None
}

/// What breaks the layering in the tree at `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let table = table(src);
    let lib = code_of(&std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs"));
    let reexported = reexports(&lib);
    let mut out = Vec::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).expect("under src").to_path_buf();
        let first = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a path")
            .trim_end_matches(".rs")
            .to_string();
        if first == "lib" {
            continue;
        }
        let allowed = &table[&first];
        let code = code_of(&std::fs::read_to_string(&file).expect("read a source file"));
        if let Some(problem) = outside_its_folder(src, &rel, &first, &code, &table, &reexported) {
            out.push(problem);
        }
        let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
        let mut reached = crate_paths(&code);
        reached.extend(super_paths(&code, depth));
        for name in reached {
            if name == "*" || name == "{" || name.is_empty() {
                out.push(format!(
                    "{}: a glob or group of the crate root's items (through `crate::`/`super::`) hides what it names",
                    rel.display()
                ));
                continue;
            }
            let target = if table.contains_key(&name) {
                name.clone()
            } else if let Some(module) = reexported.get(&name) {
                module.split("::").next().unwrap_or_default().to_string()
            } else {
                out.push(format!(
                    "{}: crate::{name} is neither a layer nor a re-export",
                    rel.display()
                ));
                continue;
            };
            if !table.contains_key(&target) {
                continue; // a re-export of another crate (rockhold_format)
            }
            if target != first && !allowed.contains(&target) {
                out.push(format!(
                    "{}: layer `{first}` calls `{target}` (through crate::{name}), which it may not",
                    rel.display()
                ));
            }
        }
        if first != "db" {
            for word in ["Db", "Inner"] {
                if names(&code, word) {
                    out.push(format!(
                        "{}: names `{word}`, which only db/ may",
                        rel.display()
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_crate_path_stays_inside_its_layers_list() {
    let found = violations(&src());
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

#[test]
fn the_architecture_diagram_is_drawn_from_the_table() {
    let table = table(&src());
    let drawn = diagram(&table);
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ARCHITECTURE.md");
    let doc = std::fs::read_to_string(&doc_path).expect("read docs/ARCHITECTURE.md");
    let (begin, end) = ("<!-- layers:begin -->\n", "<!-- layers:end -->");
    let start = doc.find(begin).expect("the diagram's begin marker") + begin.len();
    let stop = doc.find(end).expect("the diagram's end marker");
    if doc[start..stop] != drawn {
        if std::env::var_os("ROCKHOLD_BLESS").is_some() {
            let blessed = format!("{}{drawn}{}", &doc[..start], &doc[stop..]);
            std::fs::write(&doc_path, blessed).expect("rewrite the diagram");
        } else {
            panic!(
                "docs/ARCHITECTURE.md's diagram is not the table's (ROCKHOLD_BLESS=1 rewrites it); \
                 expected:\n{drawn}"
            );
        }
    }
}

#[test]
fn the_checks_see_what_they_must() {
    // Paths in groups, re-exports, comments and identifiers: the parsing
    // the two tests above rest on.
    let code = code_of(
        "use crate::{a::X, b::{c, d}, e};\n// crate::f\n/* crate::g */ let s = \"//\"; crate::h::y();\nstruct MyDb; let db: Db;",
    );
    assert_eq!(crate_paths(&code), ["a", "b", "e", "h"]);
    assert!(names(&code, "Db") && !names(&code, "Inner"));
    let lib = "pub use db::Db;\npub use read::{Cursor, FindAll};\npub use x::y::{Z};";
    let r = reexports(lib);
    assert_eq!(r["Db"], "db");
    assert_eq!(r["FindAll"], "read");
    assert_eq!(r["Z"], "x::y");
    // Literals that look like quotes or comments do not hide code.
    let code = code_of(
        "let q = '\"'; let e = '\\''; let r = r#\"a \"b\" crate::no\"#; let l: &'a str; crate::kv::X",
    );
    assert_eq!(crate_paths(&code), ["kv"], "{code}");
    // `super::` chains that reach the crate root name a layer; globs are seen.
    let code = code_of("use super::kv::Kv; mod tests { use super::*; }");
    assert_eq!(super_paths(&code, 1), ["kv"]);
    assert_eq!(super_paths(&code_of("use super::super::kv;"), 2), ["kv"]);
    assert!(super_paths(&code_of("use super::cache;"), 2).is_empty());
    assert_eq!(crate_paths(&code_of("use crate::*;")), ["*"]);
    // A table with a circle is refused.
    let circle: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into();
    assert!(std::panic::catch_unwind(|| floors(&circle)).is_err());
}
