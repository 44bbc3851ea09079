//! Headless Chromium for the report's browser test: find it (or skip, or fail where CI
//! says everything must run), load a page with a probe that reads back every SVG text's
//! box and any script error, collect what the browser logged to its console, find text
//! boxes that overlap, and take a screenshot.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

pub const WIDTH: u32 = 1280;
/// Two text boxes may touch by this much (px): antialiasing, not overlap.
pub const TOLERANCE: f64 = 1.0;

/// Chromium to drive: `PITSTOP_CHROMIUM`, else `chromium` (Debian's package, which
/// scripts/tools.sh installs) or `chromium-browser` on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PITSTOP_CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file());
    if found.is_none() {
        let required = ["CI", "PITSTOP_KIT_REQUIRED"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|s| !matches!(s.as_str(), "" | "0" | "false")));
        assert!(
            !required,
            "chromium not found on PATH: install Debian's `chromium` (scripts/tools.sh does) \
             or set PITSTOP_CHROMIUM"
        );
        eprintln!("SKIPPED: chromium not found on PATH (scripts/tools.sh installs it)");
    }
    found
}

/// A fresh directory under the target dir, kept after the test for a person to look at.
pub fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One run of headless Chromium on a file; returns (stdout, stderr).
pub async fn run_chromium(
    chromium: &Path,
    page: &Path,
    height: u32,
    extra: &[&str],
) -> (String, String) {
    let profile = page.with_extension("profile");
    let mut cmd = tokio::process::Command::new(chromium);
    // As root Chromium refuses its sandbox; a fresh profile keeps runs independent.
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ])
    .args([
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={WIDTH},{height}"))
    .args(extra)
    .arg(format!("file://{}", page.display()))
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("chromium finished within 30 s")
        .expect("chromium starts");
    let _ = std::fs::remove_dir_all(&profile);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "chromium failed: {}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// An SVG `<text>` element's box as the browser laid it out, px.
#[derive(Debug, serde::Deserialize)]
pub struct TextBox {
    pub text: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// What the probe script reads from the laid-out page.
#[derive(Debug, serde::Deserialize)]
pub struct Probe {
    pub width: f64,
    pub height: f64,
    pub errors: Vec<String>,
    pub texts: Vec<TextBox>,
}

/// Recorded script errors (first in `<head>`) and every SVG text's box (last in `<body>`,
/// once everything is laid out), written into the page for `--dump-dom` to return.
const PROBE_HEAD: &str = "<script>window.__errors=[];addEventListener('error',e=>__errors.push(String(e.message)));\
const __ce=console.error;console.error=(...a)=>{__errors.push(a.join(' '));__ce(...a)};</script>";
const PROBE_TAIL: &str = "<script>(()=>{const texts=[...document.querySelectorAll('svg text')].map(t=>{\
const r=t.getBoundingClientRect();return {text:t.textContent,x:r.left,y:r.top,w:r.width,h:r.height}});\
const p=document.createElement('pre');p.id='pitstop-probe';p.textContent=JSON.stringify({width:innerWidth,\
height:document.documentElement.scrollHeight,errors:__errors,texts});document.body.append(p)})()</script>";

/// Loads a copy of `html` with the probe in it; returns what it read and the console
/// messages Chromium logged (script errors, invalid SVG attributes, console calls).
pub async fn probe(chromium: &Path, dir: &Path, name: &str, html: &str) -> (Probe, Vec<String>) {
    let page = dir.join(format!("{name}.probe.html"));
    let with_probe = html
        .replacen("<head>", &format!("<head>{PROBE_HEAD}"), 1)
        .replacen("</body>", &format!("{PROBE_TAIL}</body>"), 1);
    std::fs::write(&page, with_probe).unwrap();
    let (dom, stderr) = run_chromium(chromium, &page, 900, &["--dump-dom"]).await;
    let json = dom
        .split_once("<pre id=\"pitstop-probe\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| {
            json.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .unwrap_or_else(|| panic!("the probe ran and wrote its results\n{stderr}"));
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (serde_json::from_str(&json).unwrap(), console)
}

/// Pairs of text boxes that overlap by more than `TOLERANCE` both ways.
pub fn overlaps(boxes: &[TextBox]) -> Vec<(&TextBox, &TextBox)> {
    let visible: Vec<&TextBox> = boxes.iter().filter(|b| b.w > 0.0 && b.h > 0.0).collect();
    let mut out = Vec::new();
    for (i, a) in visible.iter().enumerate() {
        for b in &visible[i + 1..] {
            let dx = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
            let dy = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
            if dx > TOLERANCE && dy > TOLERANCE {
                out.push((*a, *b));
            }
        }
    }
    out
}

pub fn describe(pairs: &[(&TextBox, &TextBox)]) -> String {
    pairs
        .iter()
        .map(|(a, b)| {
            format!(
                "  {:?} at ({:.0},{:.0} {:.0}×{:.0}) and {:?} at ({:.0},{:.0} {:.0}×{:.0})",
                a.text, a.x, a.y, a.w, a.h, b.text, b.x, b.y, b.w, b.h
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The width a PNG says it has (IHDR, bytes 16–19).
pub fn png_width(png: &[u8]) -> u32 {
    assert_eq!(&png[1..4], b"PNG", "a PNG file");
    u32::from_be_bytes(png[16..20].try_into().unwrap())
}

/// What a clean page measured.
pub struct Checked {
    pub texts: usize,
    pub screenshot: PathBuf,
}

/// Writes `html` to `dir/name.html`, loads it at [`WIDTH`] px and asserts that the browser
/// logged nothing to its console and that no two SVG text boxes overlap; then takes a
/// screenshot of the whole page, `dir/name-1280.png`.
pub async fn check_page(chromium: &Path, dir: &Path, name: &str, html: &str) -> Checked {
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let (probe, console) = probe(chromium, dir, name, html).await;
    assert_eq!(
        probe.width,
        f64::from(WIDTH),
        "{name}: laid out at {WIDTH} px"
    );
    assert!(
        console.is_empty() && probe.errors.is_empty(),
        "{name}: console messages:\n{}\n{:?}",
        console.join("\n"),
        probe.errors
    );
    let pairs = overlaps(&probe.texts);
    assert!(
        pairs.is_empty(),
        "{name}: {} overlapping SVG text boxes at {WIDTH} px:\n{}",
        pairs.len(),
        describe(&pairs)
    );
    let screenshot = dir.join(format!("{name}-{WIDTH}.png"));
    let arg = format!("--screenshot={}", screenshot.display());
    run_chromium(chromium, &page, probe.height.ceil() as u32, &[arg.as_str()]).await;
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert_eq!(png_width(&png), WIDTH, "{name}: screenshot width");
    Checked {
        texts: probe.texts.len(),
        screenshot,
    }
}
