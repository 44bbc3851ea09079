//! The command blocks of docs/getting-started.md marked `sh runnable` run, in order, in one
//! `bash -euo pipefail` shell, with the `pitstop` binary of this build: a short demo, a
//! processor and a simulator as separate processes, the API read back with curl and a
//! sample posted. The first page a user reads cannot rot unnoticed. The page says what
//! the test changes (ports, servers) and why the other blocks are not run.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fence info string of a block the test runs.
const MARK: &str = "```sh runnable";

/// Whole runs took 10–20 s here; the bound leaves room for a loaded machine while keeping
/// CI's budget.
const BOUND: Duration = Duration::from_secs(80);

/// The runnable blocks of `markdown`: the line of each fence, and its body.
fn runnable_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match open.as_mut() {
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(open.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None if line.trim_end() == MARK => open = Some((i + 1, String::new())),
            None => {}
        }
    }
    blocks
}

/// One script of the blocks, each announced on stderr so a failure names its block, with
/// the page's ports 8000 and 8001 moved to free ones.
fn script(blocks: &[(usize, String)], metrics_port: u16, api_port: u16) -> String {
    let mut s = String::from("set -euo pipefail\n");
    for (line, body) in blocks {
        s.push_str(&format!(
            "echo '### getting-started.md, block at line {line}' >&2\n"
        ));
        s.push_str(
            &body
                .replace("127.0.0.1:8001", &format!("127.0.0.1:{api_port}"))
                .replace("127.0.0.1:8000", &format!("127.0.0.1:{metrics_port}")),
        );
    }
    s
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `script` in `dir` in a process group of its own, so that the processor it starts
/// in the background goes with it whatever happens; `None` past the bound.
fn run(script: &str, dir: &Path, env: &[(&str, String)]) -> Option<(bool, String, String)> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_pitstop"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = format!("-{}", child.id());
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The group: the script, and a processor a failed block left running.
    Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status()
        .ok();
    child.wait().ok();
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    status.map(|s| (s.success(), stdout, stderr))
}

/// Deletes the demo's stream keys (the test's own session, `StreamKeys` of base
/// `pitstop:demo:<session>`), which [`common::Env`] does not know; the patterns end at the
/// base's `:` so that a concurrent run's session (`gs-12` beside `gs-123`) is left alone.
async fn drop_demo_keys(redis_url: &str, session: &str) {
    use redis::AsyncCommands;
    let client = redis::Client::open(redis_url).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    for pattern in [
        format!("pitstop:demo:{session}:*"),
        format!("{{pitstop:demo:{session}:p*"),
    ] {
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter = con.scan_match::<_, String>(pattern).await.unwrap();
            while let Some(k) = futures_util::StreamExt::next(&mut iter).await {
                keys.push(k.unwrap());
            }
        }
        if !keys.is_empty() {
            let _: () = con.del(keys).await.unwrap();
        }
    }
}

/// Whether this run must not skip (CI, or a machine that must run everything).
fn required() -> bool {
    ["CI", "PITSTOP_KIT_REQUIRED"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !matches!(s.as_str(), "" | "0" | "false")))
}

/// Every port the page names is moved, and every server it starts names its port: the
/// defaults (:8000, :8001) would collide with the tests running beside this one.
fn servers_name_their_ports(script: &str) {
    for fixed in [":8000", ":8001"] {
        assert!(
            !script.contains(fixed),
            "the page names {fixed} other than as 127.0.0.1{fixed}"
        );
    }
    for server in script
        .lines()
        .filter(|l| l.contains("pitstop process") || l.contains("pitstop simulate"))
    {
        let whole = script[script.find(server).unwrap()..]
            .split_inclusive('\n')
            .scan(true, |more, l| {
                let take = *more;
                *more = l.trim_end().ends_with('\\');
                take.then_some(l)
            })
            .collect::<String>();
        assert!(
            whole.contains("--listen"),
            "a server without --listen: {whole}"
        );
    }
}

/// Every `sh runnable` block of the page succeeds, and does what the page says: the demo
/// writes its report, the race finishes and is classified, the posted sample is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_getting_started_page_runs() {
    if !on_path("curl") {
        assert!(
            !required(),
            "no curl on PATH: the page's blocks read the API with it"
        );
        eprintln!("SKIPPED: no curl on PATH (the page's blocks read the API with it)");
        return;
    }
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/getting-started.md"),
    )
    .unwrap();
    let blocks = runnable_blocks(&page);
    assert!(blocks.len() >= 3, "runnable blocks found: {}", blocks.len());
    let env = common::Env::new("getting_started").await;
    let dir = std::env::temp_dir().join(format!("pitstop-getting-started-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let session = format!("gs-{}", std::process::id());
    let report = dir.join("report.html");
    let metrics_port = common::servers::free_port();
    let api_port = std::iter::repeat_with(common::servers::free_port)
        .find(|p| *p != metrics_port)
        .unwrap();
    let script = script(&blocks, metrics_port, api_port);
    servers_name_their_ports(&script);
    let started = Instant::now();
    let ran = run(
        &script,
        &dir,
        &[
            ("REDIS_URL", env.redis_url.clone()),
            ("DATABASE_URL", env.database_url.clone()),
            ("PITSTOP_STREAM", env.keys.base.clone()),
            ("PITSTOP_SESSION", session.clone()),
            ("PITSTOP_DEMO_REPORT", report.display().to_string()),
        ],
    );
    let report_written = report.exists();
    drop_demo_keys(&env.redis_url, &session).await;
    env.cleanup().await;
    std::fs::remove_dir_all(&dir).ok();
    let (ok, stdout, stderr) = ran.unwrap_or_else(|| panic!("not done within {BOUND:?}"));
    let shown = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(ok, "a block failed:\n{shown}");
    eprintln!("ran {} blocks in {:.1?}", blocks.len(), started.elapsed());
    assert!(report_written, "the demo wrote no report:\n{shown}");
    assert!(
        !stdout.contains("(downstream tasks skipped"),
        "a post-race step failed in the demo:\n{shown}"
    );
    for expected in [
        r#""session_id":"first-race""#,
        r#""finished":true"#,
        r#""accepted":1"#,
    ] {
        assert!(stdout.contains(expected), "no {expected} in:\n{shown}");
    }
}

/// Only blocks marked runnable are taken, whole, with their line; the ports the page
/// names are moved and nothing else is.
#[test]
fn only_marked_blocks_are_run_with_their_ports_moved() {
    let page = "text\n```sh\nnot run\n```\n```sh runnable\na --listen 127.0.0.1:8001\nb :8000\n```\n```yaml\nx: 1\n```\n```sh runnable\nc 127.0.0.1:8000\n```\n";
    let blocks = runnable_blocks(page);
    assert_eq!(
        blocks,
        [
            (5, "a --listen 127.0.0.1:8001\nb :8000\n".to_string()),
            (12, "c 127.0.0.1:8000\n".to_string()),
        ]
    );
    let s = script(&blocks, 18000, 18001);
    assert!(s.starts_with("set -euo pipefail\n"));
    assert!(s.contains("a --listen 127.0.0.1:18001\nb :8000\n"));
    assert!(s.contains("c 127.0.0.1:18000\n"));
    assert!(!s.contains("not run"));
}
