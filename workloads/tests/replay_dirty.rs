//! `pitstop replay` on dirty input, as the binary: one car's glitch rows (gear codes
//! 10–17, as a real 2025 trace has while the car slid off) cost only those values; a row
//! without a usable speed is left out; the end says what and where; `--strict` keeps the
//! all-or-nothing read; a file that is not telemetry (`/dev/zero`) is refused at once.

mod common;

use common::Env;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn pitstop(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitstop"));
    c.args(args)
        .env_remove("STREAM_PROCESSOR_API_KEY")
        .env_remove("PITSTOP_LOG")
        .env("RUST_BACKTRACE", "0");
    c
}

/// 300 rows of one lap: rows 50–80 carry gear codes 10–17, row 120 a speed of "-3".
fn dirty_lap() -> String {
    let mut csv = String::from("Driver,LapNumber,Time,Speed,RPM,nGear,Throttle,Brake,DRS\n");
    for row in 1..=300 {
        let gear = if (50..=80).contains(&row) {
            10 + row % 8
        } else {
            5
        };
        let speed = if row == 120 {
            "-3".into()
        } else {
            format!("{}", 150 + row % 50)
        };
        csv.push_str(&format!(
            "VER,1,{:.3},{speed},9000,{gear},80,False,0\n",
            row as f64 * 0.25
        ));
    }
    csv
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Replayed into Redis: 299 samples published, 31 gears unknown, one row left out, and
/// the summary names the first of each; --strict stops at the first glitch instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glitch_costs_its_value_not_the_race() {
    let env = Env::new("replay_dirty").await;
    let dir = std::env::temp_dir().join(format!("pitstop-dirty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("VER.csv");
    std::fs::write(&file, dirty_lap()).unwrap();
    let common_args = [
        file.to_str().unwrap(),
        "--session",
        "dirty",
        "--start",
        "2025-08-31T13:03:00Z",
        "--speed",
        "max",
        "--quiet",
        "--redis-url",
        &env.redis_url,
        "--stream",
        &env.keys.base,
    ];
    let strict = pitstop(&[&["replay", "--strict"], &common_args[..]].concat())
        .output()
        .unwrap();
    let (_, err) = text(&strict);
    assert!(!strict.status.success());
    assert!(
        err.contains("row 50 (line 51): nGear: 12 is outside 0..=8"),
        "{err}"
    );

    let out = pitstop(&[&["replay"], &common_args[..]].concat())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("replayed 299 samples of 1 cars"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dirty input: 31 values made unknown, 1 rows or records left out"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "31 gear values out_of_range -> unknown (first: row 50 (line 51): nGear: 12 is outside 0..=8)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "1 left out, required (first: row 120 (line 121): Speed: -3 is outside 0..=500 km/h)"
        ),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
    env.cleanup().await;
}

/// `/dev/zero` (or any binary file) is refused after its first chunk, not read into
/// memory until it runs out (it reached 4.5 GB in 6 s).
#[test]
fn a_file_that_is_not_telemetry_is_refused_at_once() {
    let t = Instant::now();
    let out = pitstop(&["replay", "/dev/zero", "--session", "zero", "--quiet"])
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("reading /dev/zero") && err.contains("NUL"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}
