//! Import cycles between a crate's modules, found from its source text.
//!
//! Each `.rs` file under `src/` is a module (`lib.rs` the root, `a/mod.rs` or `a.rs` the
//! module `a`). A module refers to another when its code names it: a `use` of `crate::`,
//! `super::` or `self::` paths (braces expanded), or such a path written inline. A parent
//! naming its own children is ownership (declaring, routing, re-exporting), not a
//! dependency, and is left out; so is a child naming its ancestors' items.
//!
//! The check: under every module, its children — each taken with everything below it —
//! must depend on each other without a cycle. That finds a cycle between two files
//! (`api/openapi.rs` ⇄ `api/predict.rs`) and between two layers (`swap/` ⇄ `api/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path from the crate root, e.g. `["api", "v2"]`; the root is empty.
pub type ModulePath = Vec<String>;

/// Every module of the crate whose sources are in `src` and the modules each refers to
/// (outside itself and its own descendants). `main.rs` (a binary) is left out.
pub fn module_graph(src: &Path) -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
    let files = rust_files(src);
    let modules: BTreeMap<ModulePath, PathBuf> = files
        .iter()
        .filter_map(|file| Some((module_of(src, file)?, file.clone())))
        .collect();
    let known: BTreeSet<ModulePath> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, file)| {
            let text = strip_comments(&std::fs::read_to_string(file).expect("readable source"));
            let targets = referenced_paths(&text)
                .into_iter()
                .filter_map(|path| resolve(module, &path, &known))
                .filter(|target| !target.starts_with(module) && !module.starts_with(target))
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// Every cycle among sibling modules (each with its descendants), as `a -> b -> a`
/// with paths joined by `::`. Empty when the crate's layers are acyclic.
pub fn sibling_cycles(src: &Path) -> Vec<String> {
    let graph = module_graph(src);
    let parents: BTreeSet<ModulePath> = graph
        .keys()
        .filter(|m| !m.is_empty())
        .map(|m| m[..m.len() - 1].to_vec())
        .collect();
    let mut cycles = Vec::new();
    for parent in parents {
        let child_of = |module: &ModulePath| -> Option<String> {
            (module.len() > parent.len() && module.starts_with(&parent))
                .then(|| module[parent.len()].clone())
        };
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in &graph {
            let Some(a) = child_of(from) else { continue };
            for target in targets {
                if let Some(b) = child_of(target).filter(|b| *b != a) {
                    edges.entry(a.clone()).or_default().insert(b);
                }
            }
        }
        let prefix = if parent.is_empty() {
            String::new()
        } else {
            format!("{}::", parent.join("::"))
        };
        for cycle in find_cycles(&edges) {
            let named: Vec<String> = cycle.iter().map(|m| format!("{prefix}{m}")).collect();
            cycles.push(named.join(" -> "));
        }
    }
    cycles
}

/// Cycles in `edges`, closed (`a, b, a`): at least one through every module that lies on
/// one (a module already in a reported cycle starts no search of its own).
fn find_cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut cycles = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for start in edges.keys() {
        if reported.contains(start) {
            continue;
        }
        // Depth-first from `start`, looking for a way back to it.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start.clone());
                    reported.extend(path.iter().cloned());
                    cycles.push(cycle);
                    stack.clear();
                    break;
                }
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    cycles
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn module_of(src: &Path, file: &Path) -> Option<ModulePath> {
    let relative = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    match last.as_str() {
        "main.rs" if parts.is_empty() => None,
        "lib.rs" if parts.is_empty() => Some(parts),
        "mod.rs" => Some(parts),
        name => {
            parts.push(name.strip_suffix(".rs")?.to_owned());
            Some(parts)
        }
    }
}

/// The text without comments (doc links name modules without depending on them), string
/// literals and character literals (a `'"'` must not open a string).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match (c, next) {
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            ('\'', Some('\\')) => {
                // An escaped character literal ('\'', '\u{..}'): past the escape, then to
                // the closing quote.
                chars.by_ref().skip(2).find(|&c| c == '\'');
            }
            ('\'', Some(_)) if chars.clone().nth(1) == Some('\'') => {
                // 'x' is skipped; a lifetime ('a) has no closing quote and is kept.
                chars.nth(1);
            }
            ('"', _) => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every `crate::`/`super::`/`self::` path the text names: in `use` trees (expanded) and
/// inline.
fn referenced_paths(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = find_use(rest) {
        let tree_start = &rest[at..];
        let end = tree_start.find(';').unwrap_or(tree_start.len());
        expand_use_tree(&tree_start[..end], &mut Vec::new(), &mut paths);
        rest = &tree_start[end..];
    }
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .collect();
    for word in words {
        let segments: Vec<String> = word
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if segments.len() > 1 && matches!(segments[0].as_str(), "crate" | "super" | "self") {
            paths.push(segments);
        }
    }
    paths
}

/// Byte offset just past the next `use ` keyword at a statement start.
fn find_use(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find("use ") {
        let at = from + found;
        let before = text[..at].trim_end();
        let starts_statement = before.is_empty()
            || before.ends_with([';', '{', '}', ']'])
            || before.ends_with("pub")
            || before.ends_with(')');
        let whole_word =
            at == 0 || !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        if starts_statement && whole_word {
            return Some(at + 4);
        }
        from = at + 4;
    }
    None
}

/// `a::{b, c::{d, self}}` → `a::b`, `a::c::d`, `a::c`.
fn expand_use_tree(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = segments(&tree[..open]);
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let depth = prefix.len();
        prefix.extend(head);
        for part in split_top_level(inner) {
            expand_use_tree(part, prefix, out);
        }
        prefix.truncate(depth);
    } else {
        let tree = tree.split(" as ").next().unwrap_or(tree);
        let mut path = prefix.clone();
        for segment in segments(tree) {
            if segment != "self" || path.is_empty() {
                path.push(segment);
            }
        }
        if path
            .first()
            .is_some_and(|s| matches!(s.as_str(), "crate" | "super" | "self"))
        {
            out.push(path);
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| s.trim().trim_end_matches('*').trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The known module `path` (written in `module`) lands in: its longest module prefix.
fn resolve(
    module: &ModulePath,
    path: &[String],
    known: &BTreeSet<ModulePath>,
) -> Option<ModulePath> {
    let mut absolute: ModulePath = Vec::new();
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => rest = &rest[1..],
        "self" => {
            absolute = module.clone();
            rest = &rest[1..];
        }
        "super" => {
            absolute = module.clone();
            while rest.first().is_some_and(|s| s == "super") {
                absolute.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    absolute.extend(rest.iter().cloned());
    (0..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|candidate| known.contains(candidate))
}
