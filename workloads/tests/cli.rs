//! The `pitstop` binary as an operator or a CI job meets it: `--help` never shows a
//! secret from the environment, logs to a pipe carry no colour codes, and an unusable
//! API key stops the binary before it connects anywhere. No Redis or PostgreSQL is
//! needed: the URLs point at a closed port, and nothing here gets far enough to use them.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "s3cr3t";
/// A closed port: a binary that wrongly gets as far as connecting fails there.
const DATABASE_URL: &str = "postgres://u:s3cr3t@127.0.0.1:1/db";
const REDIS_URL: &str = "redis://:s3cr3t@127.0.0.1:1/";

/// `pitstop` with the variables these tests set and none of the caller's.
fn pitstop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitstop"));
    for var in [
        "STREAM_PROCESSOR_API_KEY",
        "STREAM_PROCESSOR_API_KEY_FILE",
        "PITSTOP_LOG",
        "PITSTOP_LOG_FORMAT",
        "NO_COLOR",
    ] {
        c.env_remove(var);
    }
    c.env("DATABASE_URL", DATABASE_URL)
        .env("REDIS_URL", REDIS_URL)
        .env("RUST_BACKTRACE", "0");
    c
}

struct Run {
    /// `None` when it was still running at the deadline (and was then killed).
    exited: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` for at most `limit`, capturing both streams (pipes, not a terminal).
fn run(cmd: Command, limit: Duration) -> Run {
    run_until(cmd, limit, None)
}

/// [`run`], but stops the binary early once its stderr contains `seen` (a long-running
/// subcommand need not be waited for).
fn run_until(mut cmd: Command, limit: Duration, seen: Option<&str>) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pitstop starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = text.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .expect("not poisoned")
                    .extend_from_slice(&buf[..n]);
            }
        });
        (text, reader)
    };
    let (out, out_reader) = drain(Box::new(child.stdout.take().expect("piped")));
    let (err, err_reader) = drain(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + limit;
    let exited = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break Some(status);
        }
        let done = seen.is_some_and(|s| {
            String::from_utf8_lossy(&err.lock().expect("not poisoned")).contains(s)
        });
        if done || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    out_reader.join().expect("stdout read");
    err_reader.join().expect("stderr read");
    let text = |t: Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&t.lock().expect("not poisoned")).into_owned()
    };
    Run {
        exited,
        stdout: text(out),
        stderr: text(err),
    }
}

/// `--help` of every subcommand, in both spellings, shows no value of `DATABASE_URL`,
/// `REDIS_URL` or the API key (it used to print the URLs, passwords included).
#[test]
fn help_never_shows_secrets_from_the_environment() {
    let subcommands = ["simulate", "process", "demo", "bench", "job", "replay"];
    let top = run(
        {
            let mut c = pitstop();
            c.arg("--help");
            c
        },
        Duration::from_secs(30),
    );
    for sub in subcommands {
        assert!(
            top.stdout.contains(sub),
            "{sub} missing from:\n{}",
            top.stdout
        );
    }
    for sub in subcommands {
        for args in [vec![sub, "--help"], vec!["help", sub]] {
            let mut c = pitstop();
            c.args(&args).env(
                "STREAM_PROCESSOR_API_KEY",
                format!("{SECRET}-0123456789abcdef"),
            );
            let r = run(c, Duration::from_secs(30));
            assert!(
                r.exited.is_some_and(|s| s.success()),
                "{args:?}: {}",
                r.stderr
            );
            let shown = format!("{}{}", r.stdout, r.stderr);
            assert!(!shown.contains(SECRET), "{args:?} shows a secret:\n{shown}");
            assert!(shown.contains("--"), "{args:?} printed no help:\n{shown}");
        }
    }
    let process = run(
        {
            let mut c = pitstop();
            c.args(["process", "--help"]);
            c
        },
        Duration::from_secs(30),
    );
    assert!(
        process.stdout.contains("[env: DATABASE_URL]"),
        "the variable's name is still shown:\n{}",
        process.stdout
    );
}

/// Logs written to a pipe are plain text: no ANSI colour codes for a log collector to
/// store as garbage.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let mut c = pitstop();
    // No key: the processor logs a warning at once, then its start.
    c.args(["process", "--listen", "127.0.0.1:0"])
        .env("PITSTOP_LOG", "info");
    let r = run_until(c, Duration::from_secs(20), Some("processor starting"));
    assert!(
        r.stderr.contains("no STREAM_PROCESSOR_API_KEY"),
        "expected the no-key warning:\n{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("\x1b["),
        "colour codes in piped logs:\n{:?}",
        r.stderr
    );
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
}

/// An empty, whitespace-only or short key (file or variable) stops `pitstop process`
/// at once with the source and the problem, and never the key: with an empty key, a
/// request with an empty `X-API-Key:` header used to be accepted.
#[test]
fn process_refuses_an_unusable_api_key() {
    let dir = std::env::temp_dir().join(format!("pitstop-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.key");
    std::fs::write(&empty, "").unwrap();
    let newline = dir.join("newline.key");
    std::fs::write(&newline, "\n\n").unwrap();
    let short = dir.join("short.key");
    std::fs::write(&short, format!("{SECRET}\n")).unwrap();

    let file = |path: &std::path::Path| {
        let mut c = pitstop();
        c.args(["process", "--listen", "127.0.0.1:0", "--api-key-file"])
            .arg(path);
        c
    };
    let env = |value: &str| {
        let mut c = pitstop();
        c.args(["process", "--listen", "127.0.0.1:0"])
            .env("STREAM_PROCESSOR_API_KEY", value);
        c
    };
    let cases = [
        (file(&empty), empty.display().to_string(), "is empty"),
        (file(&newline), newline.display().to_string(), "is empty"),
        (file(&short), short.display().to_string(), "6 bytes long"),
        (env(""), "STREAM_PROCESSOR_API_KEY".into(), "is empty"),
        (env(" \n"), "STREAM_PROCESSOR_API_KEY".into(), "is empty"),
        (
            env(SECRET),
            "STREAM_PROCESSOR_API_KEY".into(),
            "at least 16",
        ),
        (
            env(&format!("{SECRET}-0123456789 abcdef")),
            "STREAM_PROCESSOR_API_KEY".into(),
            "whitespace",
        ),
    ];
    for (cmd, source, problem) in cases {
        let r = run(cmd, Duration::from_secs(20));
        assert!(
            r.exited.is_some_and(|s| !s.success()),
            "{source} ({problem}): still running or succeeded:\n{}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&source) && r.stderr.contains(problem),
            "{source} ({problem}):\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
        assert!(
            !r.stderr.contains("connect"),
            "it got as far as connecting:\n{}",
            r.stderr
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pitstop replay --api-url` loads its key the same way, and a short one stops it
/// before the recording is read or the processor is contacted.
#[test]
fn replay_refuses_an_unusable_api_key() {
    let mut c = pitstop();
    c.args([
        "replay",
        "no-such-recording.csv",
        "--api-url",
        "http://127.0.0.1:1",
    ])
    .env("STREAM_PROCESSOR_API_KEY", SECRET);
    let r = run(c, Duration::from_secs(20));
    assert!(r.exited.is_some_and(|s| !s.success()), "{}", r.stderr);
    assert!(
        r.stderr.contains("STREAM_PROCESSOR_API_KEY") && r.stderr.contains("at least 16"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
}

/// A database that refuses: the error names the server once, the cause once, and never
/// the password of the URL.
#[test]
fn connection_errors_name_the_server_once() {
    let mut cmd = pitstop();
    cmd.args(["job", "collect-telemetry", "--session", "s"]);
    let r = run(cmd, Duration::from_secs(30));
    assert!(r.exited.is_some_and(|s| !s.success()), "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line in {}", r.stderr));
    assert_eq!(line.matches("127.0.0.1:1").count(), 1, "{line}");
    assert_eq!(line.matches("refused").count(), 1, "{line}");
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
}

/// Starting twice against the same database logs no PostgreSQL notice (the migrations'
/// `already exists, skipping` used to appear at INFO on every start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_logs_no_database_notices() {
    let env = common::Env::new("notices").await;
    for _ in 0..2 {
        let mut cmd = pitstop();
        cmd.args(["process", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &env.database_url)
            .env("REDIS_URL", &env.redis_url)
            .env("PITSTOP_STREAM", &env.keys.base)
            .env("PITSTOP_LOG", "info");
        let r = tokio::task::spawn_blocking(move || {
            run_until(
                cmd,
                Duration::from_secs(30),
                Some("processor API listening"),
            )
        })
        .await
        .unwrap();
        assert!(r.stderr.contains("processor API listening"), "{}", r.stderr);
        for noise in ["already exists", "NOTICE"] {
            assert!(!r.stderr.contains(noise), "{noise} in: {}", r.stderr);
        }
    }
    env.cleanup().await;
}

/// PostgreSQL's own message reaches the log, and never the URL's password: tokio-postgres
/// says only `db error` and keeps the server's `FATAL: …` as its cause (the processor
/// logged `db error` alone while its password was refused). The server here refuses a
/// database that does not exist; a refused password is the same kind of error.
#[test]
fn the_servers_own_message_reaches_the_log() {
    let shared = common::Env::shared_database_url();
    let (base, _) = shared.rsplit_once('/').unwrap();
    let base = base.replacen("://postgres@", "://postgres:s3cr3t@", 1);
    let missing = format!("pitstop_no_such_db_{}", std::process::id());
    let url = format!("{base}/{missing}");
    let why = format!("database \"{missing}\" does not exist");

    let mut process = pitstop();
    process
        .args(["process", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env("REDIS_URL", common::Env::shared_redis_url())
        .env("PITSTOP_LOG", "warn");
    let r = run_until(process, Duration::from_secs(30), Some("does not exist"));
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("database not ready"))
        .unwrap_or_else(|| panic!("no 'database not ready' line in {}", r.stderr));
    assert!(line.contains(&why), "{line}");
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);

    let mut job = pitstop();
    job.args(["job", "collect-telemetry", "--session", "s"])
        .env("DATABASE_URL", &url)
        .env("REDIS_URL", common::Env::shared_redis_url());
    let r = run(job, Duration::from_secs(30));
    assert!(r.exited.is_some_and(|s| !s.success()), "{}", r.stderr);
    assert!(r.stderr.contains(&why), "{}", r.stderr);
    assert!(!r.stderr.contains(SECRET), "{}", r.stderr);
}
