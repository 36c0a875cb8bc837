//! The crate's shape: no import circle between its top-level modules, the layout in the crate
//! docs lists the modules bottom up (each imports only from those listed before it), and no
//! source file is too long to read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longer source files are split by concern.
const MAX_LINES: usize = 800;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a source text names through `crate::` paths, comments left out.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c, d::{e, f}}`: the first name of each top-level item.
                let mut depth = 0;
                let mut start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if start && !c.is_whitespace() => {
                            start = false;
                            out.insert(ident(&group[i..]).to_owned());
                        }
                        _ => {}
                    }
                }
            } else {
                out.insert(ident(rest).to_owned());
            }
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Top-level module -> the other top-level modules it imports from.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap_or(&file);
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let top = first.trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let deps = graph.entry(top.clone()).or_default();
        deps.extend(crate_paths(&read(&file)).into_iter().filter(|m| *m != top));
    }
    graph
}

/// A circle of imports, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // Depth-first search; a module met again while still on the path closes a circle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_owned());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for dep in graph.get(m).into_iter().flatten() {
            if graph.contains_key(dep)
                && let Some(cycle) = visit(dep, graph, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let graph = module_graph(&src_dir());
    assert!(graph.len() > 20, "only {} modules found", graph.len());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checks_see_a_circle_and_a_grouped_import() {
    let a = "use crate::{b::X, c::{Y, Z}};\n// crate::d in a comment\nfn f() { crate::e::g(); }";
    let names: Vec<String> = crate_paths(a).into_iter().collect();
    assert_eq!(names, ["b", "c", "e"]);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c", "std_only"]),
        ("c", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, ds)| (m.to_owned(), ds.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn the_crate_docs_list_modules_bottom_up() {
    let graph = module_graph(&src_dir());
    let lib = read(&src_dir().join("lib.rs"));
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|rest| ident(rest).to_owned())
        .collect();
    let layout: String = lib
        .lines()
        .skip_while(|l| *l != "//! # Layout")
        .skip(1)
        .take_while(|l| !l.starts_with("//! #"))
        .collect::<Vec<_>>()
        .join("\n");
    // Modules in the order the layout first names them (in backticks, linked or not).
    let mut order: Vec<String> = Vec::new();
    for (i, piece) in layout.split('`').enumerate() {
        if i % 2 == 1 && declared.contains(piece) && !order.iter().any(|m| m == piece) {
            order.push(piece.to_owned());
        }
    }
    let missing: Vec<&String> = declared.iter().filter(|m| !order.contains(m)).collect();
    assert!(missing.is_empty(), "the layout does not list {missing:?}");
    for (i, m) in order.iter().enumerate() {
        for dep in graph.get(m).into_iter().flatten() {
            let listed_after = order[i + 1..].contains(dep);
            assert!(
                !listed_after,
                "the layout lists {m} before {dep}, which it imports from"
            );
        }
    }
}

#[test]
fn no_source_file_is_over_the_limit() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, read(f).lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(f, n)| format!("{} ({n} lines)", f.display()))
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}
