//! No import cycles between the modules of either crate.
//!
//! A module is a source file (`foo.rs` or `foo/mod.rs`; inline modules belong to their
//! file). Module A depends on module B when A names a path that resolves into B: a `use`
//! line, or a path such as `crate::x::y` or `child::f` in code. Declaring `mod b;` is not a
//! dependency, and neither is test code (`#[cfg(test)]` items). A parent that uses its
//! children while a child reaches back up for a shared helper is a cycle: the helper
//! belongs in a leaf module both can import.
//!
//! This reads `use` lines rather than running a compiler plugin: the check has to run in
//! `make test` on a fresh machine in a second. It resolves paths the way rustc does for
//! this code base (2018+ paths, `pub use` re-exports count as a dependency of the module
//! that re-exports); a path it cannot resolve (a dependency crate, std) is not an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path from the crate root, `[]` being the root.
type ModPath = Vec<String>;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Sep, // ::
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other(char),
}

/// Source without comments and string or char literal contents, as tokens with lines.
fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                line += usize::from(c[i] == '\n');
                i += 1;
            }
            i += 2;
        } else if ch == 'r' && matches!(c.get(i + 1), Some('#') | Some('"')) && {
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            // Raw string r#"..."#: skip to the same number of hashes after a quote.
            let mut j = i + 1;
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '\n' {
                    line += 1;
                }
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push((Tok::Other('"'), line));
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                line += usize::from(c.get(i) == Some(&'\n'));
                i += 1;
            }
            i += 1;
            out.push((Tok::Other('"'), line));
        } else if ch == '\'' {
            // A char literal ('a', '\n', '\u{1F}') or a lifetime ('a).
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
            out.push((Tok::Other('\''), line));
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Sep, line));
            i += 2;
        } else {
            out.push((
                match ch {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    ';' => Tok::Semi,
                    '*' => Tok::Star,
                    o => Tok::Other(o),
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Drops `#[cfg(test)]` items: the attribute and the item after it.
fn without_test_items(t: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let is = |i: usize, want: &Tok| t.get(i).map(|x| &x.0) == Some(want);
    let ident = |i: usize, s: &str| matches!(t.get(i), Some((Tok::Ident(x), _)) if x == s);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let cfg_test = is(i, &Tok::Other('#'))
            && is(i + 1, &Tok::Other('['))
            && ident(i + 2, "cfg")
            && is(i + 3, &Tok::Other('('))
            && ident(i + 4, "test")
            && is(i + 5, &Tok::Other(')'))
            && is(i + 6, &Tok::Other(']'));
        if !cfg_test {
            out.push(t[i].clone());
            i += 1;
            continue;
        }
        i += 7;
        let mut depth = 0;
        while i < t.len() {
            match t[i].0 {
                Tok::Open => depth += 1,
                Tok::Close => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                Tok::Semi if depth == 0 => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
    }
    out
}

/// Expands a `use` tree (the tokens after `use`, up to `;`) into paths; a glob keeps its
/// prefix, a rename keeps the original path.
fn use_paths(t: &[(Tok, usize)]) -> Vec<Vec<String>> {
    fn tree(t: &[(Tok, usize)], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        loop {
            match t.get(*i).map(|x| &x.0) {
                Some(Tok::Ident(s)) if s == "as" => {
                    *i += 2;
                    out.push(path);
                    return;
                }
                Some(Tok::Ident(s)) => {
                    path.push(s.clone());
                    *i += 1;
                }
                Some(Tok::Sep) => *i += 1,
                Some(Tok::Star) => {
                    *i += 1;
                    out.push(path);
                    return;
                }
                Some(Tok::Open) => {
                    *i += 1;
                    loop {
                        match t.get(*i).map(|x| &x.0) {
                            Some(Tok::Close) => {
                                *i += 1;
                                return;
                            }
                            Some(Tok::Comma) => *i += 1,
                            None => return,
                            _ => tree(t, i, &path, out),
                        }
                    }
                }
                _ => {
                    out.push(path);
                    return;
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    tree(t, &mut i, &[], &mut out);
    out
}

struct Crate {
    /// Every module of the library and the file it lives in.
    files: BTreeMap<ModPath, PathBuf>,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).expect("source directory") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut all = Vec::new();
        walk(src, &mut all);
        let mut files = BTreeMap::new();
        for p in all {
            let rel = p.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            // The binary (main.rs and what it declares) only consumes the library.
            if parts
                .first()
                .is_some_and(|f| f == "main" || f == "cli_tests")
            {
                continue;
            }
            files.insert(parts, p);
        }
        Crate { files }
    }

    fn is_mod(&self, m: &[String]) -> bool {
        self.files.contains_key(m)
    }

    /// The module a path (as written in module `cur`) resolves into, if any of ours.
    fn resolve(
        &self,
        cur: &[String],
        aliases: &BTreeMap<String, ModPath>,
        p: &[String],
    ) -> Option<ModPath> {
        let (mut base, rest): (ModPath, &[String]) = match p.first()?.as_str() {
            "crate" => (vec![], &p[1..]),
            "self" => (cur.to_vec(), &p[1..]),
            "super" => {
                let mut b = cur.to_vec();
                let mut k = 0;
                while p.get(k).is_some_and(|s| s == "super") {
                    b.pop();
                    k += 1;
                }
                (b, &p[k..])
            }
            first => {
                let mut child = cur.to_vec();
                child.push(first.to_string());
                if self.is_mod(&child) {
                    (child, &p[1..])
                } else if let Some(a) = aliases.get(first) {
                    (a.clone(), &p[1..])
                } else {
                    return None;
                }
            }
        };
        for seg in rest {
            let mut next = base.clone();
            next.push(seg.clone());
            if !self.is_mod(&next) {
                break;
            }
            base = next;
        }
        Some(base)
    }

    /// Module → (module it depends on → first line that says so).
    fn edges(&self) -> BTreeMap<ModPath, BTreeMap<ModPath, usize>> {
        let mut edges = BTreeMap::new();
        for (m, file) in &self.files {
            let src = std::fs::read_to_string(file).expect("readable source");
            let t = without_test_items(tokens(&src));
            let mut deps: BTreeMap<ModPath, usize> = BTreeMap::new();
            let mut aliases: BTreeMap<String, ModPath> = BTreeMap::new();
            let add = |target: ModPath, line: usize, deps: &mut BTreeMap<ModPath, usize>| {
                if &target != m {
                    deps.entry(target).or_insert(line);
                }
            };
            let mut i = 0;
            while i < t.len() {
                if t[i].0 == Tok::Ident("use".into()) {
                    let end = (i..t.len())
                        .find(|&j| t[j].0 == Tok::Semi)
                        .unwrap_or(t.len());
                    for p in use_paths(&t[i + 1..end]) {
                        if let Some(target) = self.resolve(m, &aliases, &p) {
                            if self.is_mod(&target) && !target.is_empty() {
                                aliases
                                    .insert(p.last().cloned().unwrap_or_default(), target.clone());
                            }
                            add(target, t[i].1, &mut deps);
                        }
                    }
                    i = end + 1;
                    continue;
                }
                // A path in code: ident (:: ident)+, not itself a continuation.
                let starts = matches!(t[i].0, Tok::Ident(_))
                    && t.get(i + 1).map(|x| &x.0) == Some(&Tok::Sep)
                    && (i == 0 || t[i - 1].0 != Tok::Sep);
                if starts {
                    let mut p = Vec::new();
                    let mut j = i;
                    while let Some((Tok::Ident(s), _)) = t.get(j) {
                        p.push(s.clone());
                        if t.get(j + 1).map(|x| &x.0) != Some(&Tok::Sep) {
                            break;
                        }
                        j += 2;
                    }
                    if let Some(target) = self.resolve(m, &aliases, &p) {
                        add(target, t[i].1, &mut deps);
                    }
                    i = j + 1;
                    continue;
                }
                i += 1;
            }
            edges.insert(m.clone(), deps);
        }
        edges
    }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<ModPath, BTreeMap<ModPath, usize>>) -> Vec<Vec<ModPath>> {
    struct S<'a> {
        e: &'a BTreeMap<ModPath, BTreeMap<ModPath, usize>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on: BTreeSet<&'a ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut S<'a>, v: &'a ModPath) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.e.get(v).into_iter().flat_map(|d| d.keys()) {
            let Some((w, _)) = s.e.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let l = s.low[w].min(s.low[v]);
                s.low.insert(v, l);
            } else if s.on.contains(w) {
                let l = s.index[w].min(s.low[v]);
                s.low.insert(v, l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        e: edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// The report a failing check prints: each cycle with the lines that close it.
fn report(krate: &str, src: &Path) -> Vec<String> {
    let c = Crate::read(src);
    let e = c.edges();
    cycles(&e)
        .into_iter()
        .map(|comp| {
            let mut s = format!("{krate}: cycle between {}", {
                let names: Vec<String> = comp.iter().map(|m| name(m)).collect();
                names.join(", ")
            });
            for a in &comp {
                for (b, line) in &e[a] {
                    if comp.contains(b) {
                        let file = c.files[a].strip_prefix(src).unwrap_or(&c.files[a]);
                        s += &format!(
                            "\n    {} → {}  ({}:{line})",
                            name(a),
                            name(b),
                            file.display()
                        );
                    }
                }
            }
            s
        })
        .collect()
}

fn src_of(krate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("src")
}

/// Fails when a module of the operator and a module it imports (directly or not) import
/// each other: the layering in docs/architecture.md would no longer hold.
#[test]
fn operator_modules_have_no_cycles() {
    let r = report("operator", &src_of("operator"));
    assert!(r.is_empty(), "{}", r.join("\n"));
}

/// The same for the workloads crate.
#[test]
fn workloads_modules_have_no_cycles() {
    let r = report("workloads", &src_of("workloads"));
    assert!(r.is_empty(), "{}", r.join("\n"));
}

/// The checker itself finds a parent ↔ child cycle, a cycle through `use` groups and
/// aliases, and ignores test code, comments and strings.
#[test]
fn checker_finds_cycles_and_ignores_tests() {
    let dir = std::env::temp_dir().join(format!("pitstop-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(
        dir.join("a/mod.rs"),
        "mod x;\npub const K: u8 = 1;\npub fn f() { x::g() }\n",
    )
    .unwrap();
    std::fs::write(dir.join("a/x.rs"), "pub fn g() { let _ = super::K; }\n").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "use crate::{a, c::{self as see}};\n// crate::c::z\nfn f() { let _ = \"crate::c\"; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("c.rs"),
        "#[cfg(test)]\nmod tests { use crate::b; }\npub fn z() {}\n",
    )
    .unwrap();
    let r = report("t", &dir);
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("a, a::x"), "{}", r[0]);
    std::fs::write(dir.join("c.rs"), "pub fn z() { crate::b::f() }\n").unwrap();
    let r = report("t", &dir);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r.iter().any(|c| c.contains("cycle between b, c")), "{r:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
