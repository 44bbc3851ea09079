//! Every log field that carries an error, in both crates, shows the error's whole chain:
//! `error = %chain(&e)` (each crate's `errors::chain`), never `error = %e`, whose
//! `Display` may be all an error says of itself (tokio-postgres' `db error`, with the
//! server's `FATAL: password authentication failed …` only in its `source()`). A field
//! whose value is already a text (a message the code composed) is named here with why.

use std::path::{Path, PathBuf};

/// `(file, expression)` of `error = %<expression>` fields that are texts, not errors.
const TEXTS: [(&str, &str); 5] = [
    // The API server's own message of a refused list (a String of its Status).
    ("operator/src/reconcile/apply.rs", "e.message"),
    // The HTTP client's answer: a text with its causes (`connection failed: …`), no URL.
    ("workloads/src/jobs/notify.rs", "last"),
    ("workloads/src/replay/api.rs", "e"),
    ("workloads/src/game/send.rs", "why"),
    ("workloads/src/replay/api.rs", "why"),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Log fields named `error` go through `chain`, or are texts listed in [`TEXTS`].
#[test]
fn logged_errors_show_their_causes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["operator/src", "workloads/src"] {
        sources(&root.join(krate), &mut files);
    }
    let mut fields = 0;
    let mut bare = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for sigil in ["error = %", "error = ?", "err = %", "err = ?"] {
                for (i, _) in line.match_indices(sigil) {
                    let rest = &line[i + sigil.len()..];
                    let expr = rest
                        .split([',', ')'])
                        .next()
                        .unwrap_or(rest)
                        .trim()
                        .to_string();
                    fields += 1;
                    let is_text = TEXTS.iter().any(|(f, e)| *f == rel && *e == expr);
                    if !(expr.starts_with("chain(") || is_text) {
                        bare.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(fields > 20, "only {fields} error fields found");
    assert!(
        bare.is_empty(),
        "errors logged without their causes (use `error = %chain(&e)`):\n{}",
        bare.join("\n")
    );
}
