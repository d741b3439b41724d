//! The crate's layering (DESIGN.md, "Module layout"): a module imports only modules of a
//! lower layer, never one of its own layer or above, and no two files import each other.
//! `mod.rs` files declare and re-export only.
//!
//! The check reads `src/` as text: every `crate::a::…` path and every `super::…` path
//! outside comments and `#[cfg(test)]` blocks is an import of the file it resolves to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, lowest first: a module may import only modules of an earlier entry.
const LAYERS: &[&[&str]] = &[
    &["error", "report"],
    &["device"],
    &["data"],
    &["sim", "emulator"],
    &["metrics"],
    &["plot"],
    &["freeze"],
    &["nn"],
    &["optim"],
    &["checkpoint"],
    &["tokeniser", "processor"],
    &["patch", "physix", "baselines"],
    &["model"],
    &["train"],
    &["experiment"],
    &["prelude"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/nn/kernels/conv.rs` → `["nn", "kernels", "conv"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("file under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The source without comments, string literals and `#[cfg(test)]` items.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_test = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        if trimmed.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        if pending_test {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
            } else if line.trim_end().ends_with(';') {
                // `#[cfg(test)] mod tests;` or a test-only `use`
                continue;
            }
        }
        depth = (depth + opens).saturating_sub(closes);
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        // drop string literals (doc strings may name paths)
        let mut in_str = false;
        for ch in line.chars() {
            if ch == '"' {
                in_str = !in_str;
                continue;
            }
            if !in_str {
                out.push(ch);
            }
        }
        out.push('\n');
    }
    out
}

/// Paths `a::b::c` (identifier segments) starting at each occurrence of `prefix`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut start = 0;
    while let Some(i) = code[start..].find(prefix) {
        let at = start + i;
        start = at + prefix.len();
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !before_ok {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        // the path's segments, then a group `{a, b::c}` if any
        let mut segs = Vec::new();
        let mut r = rest;
        loop {
            let ident: String = r
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if ident.is_empty() {
                break;
            }
            r = &r[ident.len()..];
            segs.push(ident);
            if let Some(next) = r.strip_prefix("::") {
                r = next;
            } else {
                break;
            }
        }
        if let Some(group) = r.strip_prefix('{') {
            let body: String = group.chars().take_while(|c| *c != '}').collect();
            for item in body.split(',') {
                let first: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() && first != "self" {
                    let mut p = segs.clone();
                    p.push(first);
                    found.push(p);
                }
            }
        }
        found.push(segs);
    }
    found
}

struct Graph {
    /// file → files it imports
    edges: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
    /// module path → file
    files: BTreeMap<Vec<String>, PathBuf>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    rust_files(&src, &mut all);
    let files: BTreeMap<Vec<String>, PathBuf> = all
        .iter()
        .filter(|f| !f.starts_with(src.join("bin")))
        .map(|f| (module_path(&src, f), f.clone()))
        .collect();
    let resolve = |parts: &[String]| -> Option<PathBuf> {
        (1..=parts.len())
            .rev()
            .find_map(|n| files.get(&parts[..n]).cloned())
    };
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).expect("source is readable");
        let code = code_of(&text);
        let mut targets = Vec::new();
        for p in paths_after(&code, "crate::") {
            targets.push(p);
        }
        for mut p in paths_after(&code, "super::") {
            // `super::super::x`
            let mut ups = 1;
            while p.first().is_some_and(|s| s == "super") {
                p.remove(0);
                ups += 1;
            }
            // `super` of module `a::b` (file `a/b.rs` or `a/b/mod.rs`) is `a`
            let mut full = module[..module.len().saturating_sub(ups)].to_vec();
            full.extend(p);
            targets.push(full);
        }
        let set = edges.entry(file.clone()).or_default();
        for t in targets {
            if let Some(f) = resolve(&t).filter(|f| f != file) {
                set.insert(f);
            }
        }
    }
    Graph { edges, files }
}

fn top_module(src_file: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    module_path(&src, src_file)
        .first()
        .cloned()
        .unwrap_or_else(|| "lib".into())
}

#[test]
fn every_module_imports_only_lower_layers() {
    let g = graph();
    let mut wrong = Vec::new();
    for (from, tos) in &g.edges {
        let a = top_module(from);
        if a == "lib" {
            continue;
        }
        let la = layer_of(&a).unwrap_or_else(|| panic!("module `{a}` has no layer in LAYERS"));
        for to in tos {
            let b = top_module(to);
            if a == b || b == "lib" {
                continue;
            }
            let lb = layer_of(&b).unwrap_or_else(|| panic!("module `{b}` has no layer"));
            if lb >= la {
                wrong.push(format!(
                    "{} imports {} ({a} is layer {la}, {b} layer {lb})",
                    from.display(),
                    to.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let g = graph();
    let mut circles = Vec::new();
    for (a, tos) in &g.edges {
        for b in tos {
            if a < b && g.edges.get(b).is_some_and(|s| s.contains(a)) {
                circles.push(format!("{} <-> {}", a.display(), b.display()));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other:\n{}",
        circles.join("\n")
    );
}

#[test]
fn mod_files_declare_and_reexport_only() {
    let g = graph();
    let mut wrong = Vec::new();
    for file in g.files.values() {
        if file.file_name().is_none_or(|n| n != "mod.rs") {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        for line in code.lines().map(str::trim) {
            let item = line
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub(super) ")
                .trim_start_matches("pub ");
            let defines = [
                "fn ", "struct ", "enum ", "trait ", "impl ", "impl<", "const ", "static ", "type ",
            ]
            .iter()
            .any(|k| item.starts_with(k));
            if defines {
                wrong.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "definitions in mod.rs files:\n{}",
        wrong.join("\n")
    );
}

/// The checker itself: a known import, a known group, and a test block that is skipped.
#[test]
fn the_checker_reads_paths_groups_and_skips_tests() {
    let code = code_of(
        "use crate::a::{b, c::d};\nfn f() { crate::e::g(); } // crate::h\n#[cfg(test)]\nmod tests {\n    use crate::z;\n}\n",
    );
    let paths = paths_after(&code, "crate::");
    assert!(paths.contains(&vec!["a".to_string(), "b".to_string()]));
    assert!(paths.contains(&vec!["a".to_string(), "c".to_string()]));
    assert!(paths.contains(&vec!["e".to_string(), "g".to_string()]));
    assert!(!paths.iter().any(|p| p[0] == "z" || p[0] == "h"));
}
