//! The house rules that habit alone would not keep, checked over the whole tree: every Rust
//! file opens with a `//!` saying what it is for, no test is switched off, every workspace
//! member takes the workspace lints, and no crate has a cycle between its modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every file under `dir` whose name ends with `ext`, build outputs left out.
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&path, ext, out);
            }
        } else if name.ends_with(ext) {
            out.push(path);
        }
    }
}

fn rust_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["crates", "plugins", "tests"] {
        files(&repo().join(dir), ".rs", &mut out);
    }
    out.sort();
    out
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap().display().to_string()
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let bad: Vec<String> = rust_files()
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|p| rel(p))
        .collect();
    assert!(
        bad.is_empty(),
        "these files do not open with a `//!` saying what they are for: {bad:?}"
    );
}

#[test]
fn no_test_is_switched_off() {
    // Spelled in two parts so this file does not find itself.
    let needles = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    let bad: Vec<String> = rust_files()
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            needles.iter().any(|n| text.contains(n))
        })
        .map(|p| rel(p))
        .collect();
    assert!(
        bad.is_empty(),
        "a skipped test hides what it was meant to catch, and a should_panic test passes on \
         any panic: {bad:?}"
    );
}

#[test]
fn every_member_takes_the_workspace_lints() {
    let root = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let members = &root[root.find("members = [").unwrap()..];
    let members = &members[..members.find(']').unwrap()];
    let mut bad = Vec::new();
    for m in members.split('"').skip(1).step_by(2) {
        let manifest = std::fs::read_to_string(repo().join(m).join("Cargo.toml")).unwrap();
        if !manifest.contains("[lints]\nworkspace = true") {
            bad.push(m.to_owned());
        }
    }
    assert!(bad.is_empty(), "add `[lints] workspace = true` to: {bad:?}");
}

/// Text with comments, strings and character literals blanked out, so that only code is read.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            i = end;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A character literal such as '"'.
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') && b.get(i + 3) == Some(&b'\'') {
            i += 4;
        } else if b[i..].starts_with(b"r#\"") {
            let end = text[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            i = end;
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The paths a file names: `crate::a::b`, `super::a`, and each name of a `crate::{a, b::c}`
/// group, as written after the prefix.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    out.push(item.to_owned());
                }
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
        }
    }
    out
}

/// The module graph of the crate whose sources are in `src`: an edge from each module to every
/// other module of the crate whose items it uses (through re-exports of the crate root too).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut sources = BTreeMap::new();
    let mut paths = Vec::new();
    files(src, ".rs", &mut paths);
    for p in paths {
        let r = p.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = r.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        if parts
            .last()
            .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
        {
            parts.pop();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        // Unit tests may use anything of their parent.
        let text = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
        sources.insert(parts.join("::"), code_only(&text));
    }
    let modules: BTreeSet<String> = sources.keys().filter(|m| !m.is_empty()).cloned().collect();
    // `pub use a::b::{X, Y};` and `pub use a::X;` in the crate root: X is defined in `a::b`.
    let mut reexported = BTreeMap::new();
    let root = sources.get("").cloned().unwrap_or_default();
    for stmt in root.split(';') {
        let Some(at) = stmt.find("pub use ") else {
            continue;
        };
        let path = stmt[at + 8..].trim();
        let (module, names) = match path.find("::{") {
            Some(b) => (&path[..b], path[b + 3..].trim_end_matches('}').to_owned()),
            None => match path.rfind("::") {
                Some(b) => (&path[..b], path[b + 2..].to_owned()),
                None => continue,
            },
        };
        for name in names.split(',') {
            let name = name.trim().split("::").next().unwrap_or("").to_owned();
            if !name.is_empty() {
                reexported.insert(name, module.to_owned());
            }
        }
    }
    let owner = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").collect();
        for i in (1..=parts.len()).rev() {
            let candidate = parts[..i].join("::");
            if modules.contains(&candidate) {
                return Some(candidate);
            }
        }
        let via = reexported.get(parts[0])?;
        let parts: Vec<&str> = via.split("::").collect();
        (1..=parts.len())
            .rev()
            .map(|i| parts[..i].join("::"))
            .find(|c| modules.contains(c))
    };
    let mut graph = BTreeMap::new();
    for (module, code) in &sources {
        if module.is_empty() {
            continue;
        }
        let mut to = BTreeSet::new();
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p).to_owned();
        let mut named: Vec<String> = paths_after(code, "crate::");
        for p in paths_after(code, "super::") {
            named.push(if parent.is_empty() {
                p
            } else {
                format!("{parent}::{p}")
            });
        }
        // A module's own children, used by name (`stream::RowStream`).
        for child in modules.iter().filter(|c| {
            c.strip_prefix(&format!("{module}::"))
                .is_some_and(|rest| !rest.contains("::"))
        }) {
            let name = child.rsplit("::").next().unwrap_or("");
            if code.contains(&format!("{name}::")) {
                named.push(child.clone());
            }
        }
        for p in named {
            let target = owner(&p).or_else(|| (!parent.is_empty()).then(|| parent.clone()));
            if let Some(t) = target
                && &t != module
                && !t.starts_with(&format!("{module}::"))
            {
                to.insert(t);
            }
        }
        graph.insert(module.clone(), to);
    }
    graph
}

/// A cycle of the graph, if it has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut manifests = Vec::new();
    for dir in ["crates", "plugins", "tests/plugins"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let src = entry.unwrap().path().join("src");
            if src.is_dir() {
                manifests.push(src);
            }
        }
    }
    manifests.sort();
    let mut cycles = Vec::new();
    for src in &manifests {
        if let Some(c) = find_cycle(&module_graph(src)) {
            cycles.push(format!("{}: {}", rel(src), c.join(" → ")));
        }
    }
    assert!(
        cycles.is_empty(),
        "modules that import from each other; move what both need into a module of its own:\n{}",
        cycles.join("\n")
    );
}

/// The checker finds a cycle where there is one: the shape `pipeline` and `stream` had.
#[test]
fn the_cycle_check_sees_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(
        src.join("lib.rs"),
        "//! x\nmod a;\nmod b;\npub use b::Thing;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.rs"),
        "//! a\nuse crate::Thing;\npub(crate) fn f() {}\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "//! b\n// crate::c in a comment is no edge\npub struct Thing;\nfn g() { crate::a::f() }\n",
    )
    .unwrap();
    let graph = module_graph(src);
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned()]));
    assert_eq!(graph["b"], BTreeSet::from(["a".to_owned()]));
    assert!(find_cycle(&graph).is_some());
    std::fs::write(src.join("b.rs"), "//! b\npub struct Thing;\n").unwrap();
    assert!(find_cycle(&module_graph(src)).is_none());
}

/// The crates that read runs link nothing that reads inputs, loads plugins or clusters: the
/// "comparing reads outputs, never inputs" invariant of ARCHITECTURE.md, held by Cargo.toml.
/// The `[dependencies]` section of a crate's manifest.
fn dependencies(krate: &str) -> String {
    let manifest =
        std::fs::read_to_string(repo().join("crates").join(krate).join("Cargo.toml")).unwrap();
    manifest
        .split("\n[")
        .filter(|section| section.starts_with("dependencies]"))
        .collect()
}

/// The host and the pipeline link the frozen ABI, not the author SDK: a change to the SDK
/// cannot change what the host accepts.
#[test]
fn the_host_links_the_abi_not_the_sdk() {
    for krate in ["strata-host", "strata-core", "strata-format"] {
        let deps = dependencies(krate);
        assert!(
            !deps.contains("strata-plugin-api"),
            "{krate} depends on the SDK"
        );
    }
    assert!(dependencies("strata-host").contains("strata-abi"));
    assert_eq!(
        dependencies("strata-abi").trim(),
        "dependencies]",
        "the ABI crate has no dependencies"
    );
}

#[test]
fn readers_of_runs_depend_on_no_input_code() {
    let forbidden = [
        "strata-ingest",
        "strata-host",
        "strata-kmeans",
        "strata-gpu",
        "strata-core",
        "strata-behavior",
    ];
    for krate in ["strata-format", "strata-compare"] {
        let deps = dependencies(krate);
        for f in forbidden {
            assert!(
                !deps.lines().any(|l| l.trim_start().starts_with(f)),
                "{krate} depends on {f}"
            );
        }
    }
}
