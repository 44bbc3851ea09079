//! Every relative link in README.md and docs/*.md reaches a file that exists, and every
//! `#anchor` a heading of its page, by GitHub's rules for heading ids. The manual is split
//! into pages that link to each other; a page moved or a heading reworded would otherwise
//! leave links that lead nowhere, and nobody notices until a reader does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// GitHub's id of a heading: lower case; letters, digits, `-` and `_` kept, spaces made
/// `-`, everything else dropped (code spans' backticks, colons, dots, apostrophes).
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Lines outside fenced code blocks, numbered from 1.
fn prose(markdown: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fenced = false;
    markdown.lines().enumerate().filter_map(move |(i, line)| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return None;
        }
        (!fenced).then_some((i + 1, line))
    })
}

/// The ids of a page's headings; a repeated heading gets `-1`, `-2`, … as on GitHub.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (_, line) in prose(markdown) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let Some(text) = line[hashes..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base = slug(text);
        let mut id = base.clone();
        let mut n = 0;
        while !ids.insert(id.clone()) {
            n += 1;
            id = format!("{base}-{n}");
        }
    }
    ids
}

/// A line without its code spans, whose brackets are not links.
fn without_code_spans(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// Inline link targets `[text](target)` with their line numbers, outside code.
fn links(markdown: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in prose(markdown) {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find([')', ' ']).unwrap_or(rest.len());
            found.push((n, rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    found
}

/// A target with a scheme (`https:`, `mailto:`) leaves the repository: not checked here.
fn is_external(target: &str) -> bool {
    target.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
    })
}

/// Every link of `pages` that leads nowhere, as `page:line: target: why`.
fn broken(root: &Path, pages: &[PathBuf]) -> Vec<String> {
    let mut bad = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(page).unwrap();
        let name = page.strip_prefix(root).unwrap_or(page).display();
        for (line, target) in links(&text) {
            if is_external(&target) {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !dest.exists() {
                bad.push(format!("{name}:{line}: {target}: no such file"));
                continue;
            }
            let is_page = dest.extension().is_some_and(|e| e == "md");
            if !anchor.is_empty() && is_page {
                let ids = anchors(&std::fs::read_to_string(&dest).unwrap());
                if !ids.contains(anchor) {
                    bad.push(format!(
                        "{name}:{line}: {target}: no heading #{anchor} there"
                    ));
                }
            }
        }
    }
    bad
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every page of docs/.
fn manual(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// Every relative link and anchor of the README and docs/ resolves.
#[test]
fn every_link_of_the_manual_resolves() {
    let root = root();
    let pages = manual(&root);
    assert!(pages.len() > 10, "only {} pages found", pages.len());
    let checked: usize = pages
        .iter()
        .map(|p| links(&std::fs::read_to_string(p).unwrap()).len())
        .sum();
    assert!(
        checked > 100,
        "only {checked} links found: is the parser blind?"
    );
    let bad = broken(&root, &pages);
    assert!(
        bad.is_empty(),
        "links that lead nowhere:\n{}",
        bad.join("\n")
    );
}

/// The README links to every page of docs/ (it is where a reader starts).
#[test]
fn the_readme_links_to_every_page() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let linked: BTreeSet<String> = links(&readme)
        .into_iter()
        .map(|(_, t)| t.split('#').next().unwrap().to_string())
        .collect();
    let missing: Vec<String> = manual(&root)[1..]
        .iter()
        .map(|p| format!("docs/{}", p.file_name().unwrap().to_string_lossy()))
        .filter(|p| !linked.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "pages the README does not link: {missing:?}"
    );
}

/// Heading ids follow GitHub: code spans and punctuation dropped, spaces made dashes,
/// repeats numbered.
#[test]
fn heading_ids_follow_github() {
    assert_eq!(slug("The operator's port :8002"), "the-operators-port-8002");
    assert_eq!(
        slug("Session events: `POST /api/v1/sessions/{id}/events`"),
        "session-events-post-apiv1sessionsidevents"
    );
    assert_eq!(slug("OpenF1 (`type: openf1`)"), "openf1-type-openf1");
    assert_eq!(slug("snake_case and Ünïcode"), "snake_case-and-ünïcode");
    let ids = anchors("# A\n## A\n```sh\n# not a heading\n```\n### A\n#no space\n");
    let want: BTreeSet<String> = ["a", "a-1", "a-2"].map(String::from).into();
    assert_eq!(ids, want);
}

/// The check bites: a link to a missing page and one to a missing heading are both
/// reported with page and line; good links, external ones and code are not.
#[test]
fn a_bad_link_and_a_bad_anchor_are_reported() {
    let dir = std::env::temp_dir().join(format!("pitstop-docs-links-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(
        dir.join("docs/target.md"),
        "# Target\n\n## The operator's port :8002\n",
    )
    .unwrap();
    let page = dir.join("docs/page.md");
    std::fs::write(
        &page,
        "# Page\n\n\
         [good](target.md#the-operators-port-8002), [self](#page), [web](https://example.com/x#y)\n\
         [gone](missing.md)\n\
         `[code](nowhere.md)`\n\
         [renamed](target.md#the-operator-port)\n\
         ```\n[fenced](nowhere.md)\n```\n",
    )
    .unwrap();
    let bad = broken(&dir, &[page]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        bad,
        [
            "docs/page.md:4: missing.md: no such file",
            "docs/page.md:6: target.md#the-operator-port: no heading #the-operator-port there",
        ]
    );
}
