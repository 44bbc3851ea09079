//! `pitstop demo` as a newcomer meets it in a CI log or a pipe (stdout not a terminal),
//! through real Redis and PostgreSQL: one progress line per lap instead of carriage-return
//! redraws, counts whose nouns agree with them, stationary times to the hundredth (the
//! data's resolution), and a report line still true once the demo has exited.

mod common;

use common::Env;
use pitstop_workloads::stream::StreamKeys;
use std::process::Command;

const LAPS: usize = 4;

/// Words the summary counts; "1 <plural>" must never appear before any of them.
const PLURALS: &[&str] = &[
    "anomalies",
    "pit stops",
    "laps",
    "stints",
    "cars",
    "samples",
    "checks",
    "team summaries",
    "false alarms",
    "stream entries",
];

/// The stationary column of the PIT STOPS table, as printed.
fn stationary_cells(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| !l.starts_with("PIT STOPS ("))
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        // DRV TEAM… LAP STATIONARY s: the team may hold spaces, so count from "s".
        .filter_map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            let unit = cells.iter().position(|c| *c == "s")?;
            Some(cells[unit - 1].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_reads_well_in_a_log() {
    let mut env = Env::new("demo").await;
    let session = format!("demo-log-{}", std::process::id());
    let report = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{session}.html"));
    let _ = std::fs::remove_file(&report);
    let run = Command::new(env!("CARGO_BIN_EXE_pitstop"))
        .args([
            "demo",
            "--laps",
            &LAPS.to_string(),
            "--cars",
            "3",
            "--seed",
            "3",
        ])
        .args(["--time-scale", "60", "--session", &session])
        .env("REDIS_URL", &env.redis_url)
        .env("DATABASE_URL", &env.database_url)
        .env("PITSTOP_DEMO_REPORT", &report)
        .env_remove("PITSTOP_LOG")
        .output()
        .expect("pitstop runs");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // Progress: one line per lap, in order, nothing redrawn.
    assert!(!out.contains('\r'), "carriage returns in a log:\n{out}");
    let progress: Vec<&str> = out.lines().filter(|l| l.starts_with("  lap ")).collect();
    let laps: Vec<String> = (1..=LAPS)
        .map(|l| format!("  lap {l:>2}/{LAPS} "))
        .collect();
    assert_eq!(progress.len(), LAPS, "{out}");
    for (line, want) in progress.iter().zip(&laps) {
        assert!(line.starts_with(want.as_str()), "{line:?}, want {want:?}");
    }
    assert!(out.contains("\n  chequered flag after "), "{out}");

    // Counts: "1 pit stop", never "1 pit stops". Three cars leave Ferrari with one (LEC),
    // and every car stops once in four laps.
    assert!(
        out.contains(", 1 pit stop, "),
        "no team of one stop:\n{out}"
    );
    for plural in PLURALS {
        for before in [' ', '('] {
            let wrong = format!("{before}1 {plural}");
            assert!(!out.contains(&wrong), "{wrong:?} in:\n{out}");
        }
    }

    // Stationary times: two decimals.
    let cells = stationary_cells(&out);
    assert!(!cells.is_empty(), "no pit stop in this race:\n{out}");
    for c in &cells {
        let decimals = c.split_once('.').map(|(_, d)| d.len());
        assert_eq!(decimals, Some(2), "stationary {c:?} in:\n{out}");
    }

    // The report: a file that outlives the demo, named by its absolute path.
    let line = out
        .lines()
        .find(|l| l.starts_with("REPORT  "))
        .unwrap_or_else(|| panic!("no REPORT line:\n{out}"));
    assert!(line.contains(&report.display().to_string()), "{line}");
    assert!(out.contains("The file stays;"), "{out}");
    assert!(!out.contains("while the processor runs"), "{out}");
    let html = std::fs::read_to_string(&report).expect("the report file");
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..80]);

    let _ = std::fs::remove_file(&report);
    env.keys = StreamKeys::new(format!("pitstop:demo:{session}"), 4);
    env.cleanup().await;
}
