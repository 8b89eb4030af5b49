//! The layers point one way (README, "Architecture"): the embedded registry stands alone; the
//! engine imports neither checks nor reporters nor the binary; checks use the engine; reporters
//! read the run record; the binary wires them. Read from the sources, so a new `use` that
//! breaks a layer or closes a cycle fails here, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Registry,
    Engine,
    Checks,
    Reporters,
    Binary,
}

/// The layer of a top-level module of the crate.
fn layer(module: &str) -> Layer {
    match module {
        "registry" => Layer::Registry,
        "suites" => Layer::Checks,
        "report" | "results_yaml" | "bundle" | "verify" => Layer::Reporters,
        "app" | "cli" | "main" | "lib" | "bench" => Layer::Binary,
        _ => Layer::Engine,
    }
}

/// What a layer may import besides itself.
fn allowed(from: Layer, to: Layer) -> bool {
    use Layer::*;
    from == to
        || match from {
            Registry => false,
            Engine => false,
            Checks => to == Engine,
            Reporters => to == Engine,
            Binary => true,
        }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// (top-level module, file's own module within it) of a source file: `src/registry/auth.rs` →
/// ("registry", "auth"); `suites/pull.rs` → ("suites", "pull").
fn module_of(p: &Path) -> (String, String) {
    let rel = p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
    let parts: Vec<&str> = rel.trim_end_matches(".rs").split('/').collect();
    match parts.as_slice() {
        ["suites", f] => ("suites".into(), f.to_string()),
        ["src", f] => (f.to_string(), "mod".into()),
        ["src", d, f] => (d.to_string(), f.to_string()),
        _ => panic!("unexpected source file {rel}"),
    }
}

/// The source without its unit tests (they may reach anywhere) and without comments.
fn code(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Names after `prefix`: `prefix::a` and `prefix::{a, b::c}` give a and b.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != "self" {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

struct Graph {
    /// top-level module → (imported top-level module → files that import it)
    top: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// (directory module, file) → sibling files it imports through `super::`
    inner: BTreeMap<(String, String), BTreeSet<String>>,
}

fn graph() -> Graph {
    let mut files = vec![];
    rs_files(&root().join("src"), &mut files);
    rs_files(&root().join("suites"), &mut files);
    let mut top: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut inner = BTreeMap::new();
    let tops: BTreeSet<String> = files.iter().map(|p| module_of(p).0).collect();
    for p in &files {
        let (m, f) = module_of(p);
        let c = code(p);
        let rel = p.strip_prefix(root()).unwrap().display().to_string();
        let entry = top.entry(m.clone()).or_default();
        let mut refs = names_after(&c, "crate::");
        refs.extend(names_after(&c, "oci_conformance::"));
        for r in refs {
            // `crate::prelude` is the checks' import of the engine (lib.rs re-exports).
            let r = if r == "prelude" { "runner".to_string() } else { r };
            if r != m && tops.contains(&r) {
                entry.entry(r).or_default().insert(rel.clone());
            }
        }
        // In a directory module's files `super::` names a sibling (in mod.rs, the crate root).
        if f != "mod" {
            let siblings: BTreeSet<String> = names_after(&c, "super::").into_iter().filter(|s| s != &f).collect();
            inner.insert((m.clone(), f.clone()), siblings);
        }
    }
    Graph { top, inner }
}

fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(n: &str, edges: &BTreeMap<String, BTreeSet<String>>, stack: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut vec![], &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn layers_point_one_way() {
    let g = graph();
    let mut wrong = vec![];
    for (from, tos) in &g.top {
        for (to, files) in tos {
            if !allowed(layer(from), layer(to)) {
                wrong.push(format!(
                    "{from} ({:?}) imports {to} ({:?}) in {}",
                    layer(from),
                    layer(to),
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n  {}", wrong.join("\n  "));
}

#[test]
fn no_import_cycles() {
    let g = graph();
    let top: BTreeMap<String, BTreeSet<String>> = g.top.iter().map(|(k, v)| (k.clone(), v.keys().cloned().collect())).collect();
    if let Some(c) = cycle(&top) {
        panic!("modules import each other: {}", c.join(" → "));
    }
    let dirs: BTreeSet<&String> = g.inner.keys().map(|(d, _)| d).collect();
    for d in dirs {
        let edges: BTreeMap<String, BTreeSet<String>> =
            g.inner.iter().filter(|((m, _), _)| m == d).map(|((_, f), s)| (f.clone(), s.clone())).collect();
        if let Some(c) = cycle(&edges) {
            panic!("files of {d} import each other: {}", c.join(" → "));
        }
    }
}

/// The test itself sees the edges it must: a reporter importing the checks, an engine module
/// importing a reporter, and a cycle, are all found in made-up sources.
#[test]
fn the_reader_finds_imports() {
    assert_eq!(names_after("use crate::suites::catalog; x crate::plan::checks_of(", "crate::"), ["plan", "suites"].map(String::from).into());
    assert_eq!(names_after("use super::{auth, blobs::x, self};", "super::"), ["auth", "blobs"].map(String::from).into());
    assert!(names_after("oci_crate::x", "crate::").is_empty());
    assert!(!allowed(Layer::Reporters, Layer::Checks));
    assert!(!allowed(Layer::Engine, Layer::Reporters));
    assert!(!allowed(Layer::Registry, Layer::Engine));
    let e: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a")].iter().map(|(x, y)| (x.to_string(), [y.to_string()].into())).collect();
    assert!(cycle(&e).is_some());
}
