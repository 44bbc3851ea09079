//! Tests of the `pitstop` command line (`main.rs`): every numeric flag is range-checked
//! when parsed, so no accepted value can panic where it becomes a `Duration`; secrets
//! stay out of `--help`. They go through [`try_parse_cli`] and the config builders, the
//! functions `main` uses.

use super::*;
use pitstop_workloads::model::TIMESTAMPS_MS;
use proptest::prelude::*;

/// Proptest cases: `PROPTEST_CASES` when set (a longer run), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    try_parse_cli(std::iter::once("pitstop").chain(args.iter().copied()))
}

/// Every numeric flag, with the arguments its subcommand needs besides it.
const NUMERIC_FLAGS: &[(&[&str], &str)] = &[
    (&["simulate"], "--time-scale"),
    (&["simulate"], "--rate"),
    (&["simulate"], "--batch"),
    (&["simulate"], "--partitions"),
    (&["simulate"], "--maxlen"),
    (&["simulate"], "--laps"),
    (&["simulate"], "--cars"),
    (&["simulate"], "--seed"),
    (&["simulate"], "--sample-hz"),
    (&["simulate"], "--anomaly-rate"),
    (&["process"], "--max-batch"),
    (&["process"], "--lease-ttl-s"),
    (&["process"], "--max-body-bytes"),
    (&["process"], "--partitions"),
    (&["process"], "--maxlen"),
    (&["demo"], "--time-scale"),
    (&["demo"], "--laps"),
    (&["demo"], "--sample-hz"),
    (&["bench"], "--samples"),
    (&["bench"], "--rate"),
    (&["bench"], "--seconds"),
    (&["job", "report", "--session", "s"], "--attempt"),
    (&["job", "report", "--session", "s"], "--partitions"),
    (&["replay", "race.csv"], "--speed"),
    (&["replay", "race.csv"], "--car"),
    (&["replay", "race.csv"], "--partitions"),
];

/// The longest wait the publisher (and a replay to the API) can compute for a pace and
/// a rate: a race spanning every accepted timestamp, and `u32::MAX` samples of each of
/// 99 cars. It is the formula of `sim::publisher` (race seconds / scale, samples /
/// rate); `Duration::from_secs_f64` panics where this is `Err`.
fn longest_wait(time_scale: Option<f64>, rate: Option<f64>) -> Result<Duration, String> {
    let race_s = (TIMESTAMPS_MS.end() - TIMESTAMPS_MS.start()) as f64 / 1000.0;
    let samples = 99.0 * u32::MAX as f64;
    let by_clock = time_scale.map_or(0.0, |scale| race_s / scale);
    let by_rate = rate.map_or(0.0, |r| samples / r);
    let longest = by_clock.max(by_rate);
    Duration::try_from_secs_f64(longest).map_err(|e| format!("{longest} s: {e}"))
}

/// Turns a parsed command into the runtime values it feeds, as `main` and the
/// subcommands do, failing where one of them would panic.
fn runtime_values(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Simulate(a) => {
            let _ = a.race.config();
            let cfg = a.publish_config();
            assert!((1..=10_000).contains(&cfg.batch_max));
            longest_wait(cfg.time_scale, cfg.rate).map(drop)
        }
        Command::Demo(a) => {
            let _ = a.race.config();
            longest_wait(Some(a.time_scale), None).map(drop)
        }
        Command::Bench(a) => {
            // bench.rs: the latency phase publishes rate × seconds samples at `rate`.
            let latency_samples = a.rate * a.seconds as f64;
            assert!(latency_samples.is_finite() && latency_samples >= 1.0);
            longest_wait(None, Some(a.rate)).map(drop)
        }
        Command::Process(a) => {
            let _ = Duration::from_secs(a.lease_ttl_s);
            assert!(a.max_batch >= 1 && a.max_body_bytes >= 1_024);
            Ok(())
        }
        Command::Replay(a) => longest_wait(a.speed.0, None).map(drop),
        Command::Ingest(a) => a.check(),
        Command::GameRace(_) | Command::Openapi => Ok(()),
        Command::Job(a) => {
            assert!(a.attempt >= 1);
            Ok(())
        }
    }
}

/// What a numeric flag may be handed: anything, and the values that broke it before.
fn numeric_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "-0",
            "0.0",
            "-1",
            "-5",
            "1",
            "max",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "1e-300",
            "1e300",
            "1e308",
            "1e309",
            "5e-324",
            "0.001",
            "0.01",
            "1e6",
            "1e7",
            "1e9",
            "1.7976931348623157e308",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "4294967296",
            "65536",
            "",
            " ",
            "1_000",
            "0x10",
            "+3",
            " 2 ",
        ])
        .prop_map(str::to_owned),
        any::<f64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:e}")),
        any::<i64>().prop_map(|x| x.to_string()),
        any::<u64>().prop_map(|x| x.to_string()),
        "[-+]?[0-9]{0,22}(\\.[0-9]{0,8})?([eE][-+]?[0-9]{1,4})?",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(3_000)))]

    /// Any value of any numeric flag is either refused by the parser or becomes runtime
    /// values without a panic (`--time-scale 0`, `--rate=-1`, `1e-300` once panicked).
    #[test]
    fn numeric_flags_parse_or_refuse(
        flag in prop::sample::select(NUMERIC_FLAGS),
        value in numeric_text(),
    ) {
        let (before, name) = flag;
        let arg = format!("{name}={value}");
        let mut args = before.to_vec();
        args.push(&arg);
        if let Ok(cli) = parse(&args) {
            prop_assert_eq!(runtime_values(cli), Ok(()), "{:?}", args);
        }
    }
}

/// The values that panicked or meant nothing are refused with the valid range named.
#[test]
fn bad_numbers_are_refused_with_the_range() {
    let cases: &[(&[&str], &str)] = &[
        (&["demo", "--time-scale", "0"], "0.01..=1000000"),
        (&["demo", "--time-scale=-5"], "0.01..=1000000"),
        (&["demo", "--time-scale", "1e-300"], "0.01..=1000000"),
        (&["demo", "--time-scale", "NaN"], "0.01..=1000000"),
        (&["simulate", "--time-scale", "0"], "nor max"),
        (&["simulate", "--time-scale", "inf"], "nor max"),
        (&["simulate", "--time-scale", "1e-300"], "nor max"),
        (
            &["simulate", "--rate", "0", "--time-scale", "max"],
            "1..=10000000",
        ),
        (&["simulate", "--rate=-1"], "1..=10000000"),
        (&["simulate", "--rate", "NaN"], "1..=10000000"),
        (&["simulate", "--batch", "0"], "1..=10000"),
        (&["simulate", "--sample-hz", "0"], "1..=120"),
        (&["simulate", "--anomaly-rate", "NaN"], "0..=1"),
        (&["simulate", "--maxlen", "0"], "1000..=1000000000"),
        (&["process", "--lease-ttl-s", "0"], "2..=300"),
        (&["process", "--max-batch", "0"], "1..=1000000"),
        (&["process", "--max-body-bytes", "0"], "1024..=268435456"),
        (&["bench", "--rate", "0"], "1..=10000000"),
        (&["bench", "--seconds", "0"], "1..=3600"),
        (&["bench", "--samples", "0"], "1..=1000000000"),
        (&["job", "report", "--attempt", "0"], "1.."),
        (&["replay", "x.csv", "--speed", "1e-300"], "nor max"),
        (&["replay", "x.csv", "--speed", "0"], "nor max"),
    ];
    for (args, range) in cases {
        let err = match parse(args) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(range), "{args:?}: {err}");
    }
}

/// The documented extremes are accepted, and every wait they lead to fits a `Duration`.
#[test]
fn extreme_valid_values_cannot_panic() {
    let accepted: &[&[&str]] = &[
        &["simulate", "--time-scale", "max", "--rate", "1"],
        &["simulate", "--time-scale", "0.01", "--rate", "1e7"],
        &["simulate", "--time-scale", "1e6"],
        &["demo", "--time-scale", "0.01"],
        &["demo", "--time-scale", "1e6"],
        &[
            "bench",
            "--rate",
            "1",
            "--seconds",
            "3600",
            "--samples",
            "1",
        ],
        &["replay", "x.csv", "--speed", "0.01"],
        &["replay", "x.csv", "--speed", "max"],
    ];
    for args in accepted {
        let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(runtime_values(cli), Ok(()), "{args:?}");
    }
    assert!(longest_wait(Some(*PACE.start()), Some(*RATE.start())).is_ok());
    assert!(
        longest_wait(Some(1e-300), None).is_err(),
        "the check itself catches what used to panic"
    );
}

/// `--time-scale` and `--rate` reach the publisher as given; `max` means flat out.
#[test]
fn simulate_builds_its_publish_config() {
    let Command::Simulate(a) = parse(&["simulate", "--time-scale", "2.5", "--rate", "100"])
        .unwrap()
        .command
    else {
        panic!("not simulate")
    };
    let cfg = a.publish_config();
    assert_eq!(
        (cfg.time_scale, cfg.rate, cfg.batch_max),
        (Some(2.5), Some(100.0), 256)
    );
    let Command::Simulate(a) = parse(&["simulate", "--time-scale", "max"]).unwrap().command else {
        panic!("not simulate")
    };
    assert_eq!(a.publish_config().time_scale, None);
}

/// Every argument read from the environment hides its value in `--help` (URLs carry
/// passwords), including any added later.
#[test]
fn env_values_are_hidden_everywhere() {
    fn check(cmd: &clap::Command, path: &str, seen: &mut usize) {
        for a in cmd.get_arguments() {
            if a.get_env().is_some() {
                *seen += 1;
                assert!(a.is_hide_env_values_set(), "{path} --{}", a.get_id());
            }
        }
        for sub in cmd.get_subcommands() {
            check(sub, &format!("{path} {}", sub.get_name()), seen);
        }
    }
    let mut seen = 0;
    check(&cli_command(), "pitstop", &mut seen);
    assert!(seen > 20, "only {seen} env arguments found");
}

/// A cause the message already quotes is not repeated; one it does not is appended.
#[test]
fn errors_name_each_cause_once() {
    #[derive(Debug, thiserror::Error)]
    #[error("redis at 127.0.0.1:6391: {0}")]
    struct At(#[source] std::io::Error);
    let refused =
        || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
    let e = anyhow::Error::new(At(refused())).context("starting the processor");
    assert_eq!(
        chain(&*e).to_string(),
        "starting the processor: redis at 127.0.0.1:6391: Connection refused"
    );
}

/// What the operator writes into pods parses, and the names it uses are the ones the CLI
/// defines: every contract flag of `simulate` and `job notify` is accepted, the default
/// listen ports are the contract's, and the operator's environment variables are read.
#[test]
fn the_operator_contract_is_what_the_cli_takes() {
    use pitstop_contract::{commands, env as var, flags, ports};
    let f = |name: &str| format!("--{name}");
    let sim = [
        commands::SIMULATE.to_string(),
        f(flags::SESSION),
        "monza".into(),
        f(flags::CIRCUIT),
        "monza".into(),
        f(flags::LAPS),
        "10".into(),
        f(flags::SEED),
        "7".into(),
        f(flags::SAMPLE_HZ),
        "20".into(),
        f(flags::ANOMALY_RATE),
        "0.03".into(),
        f(flags::TIME_SCALE),
        "40".into(),
        f(flags::RATE),
        "500".into(),
        f(flags::GRID),
        "16:LEC:Ferrari".into(),
    ];
    let Command::Simulate(a) = parse(&sim.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap()
        .command
    else {
        panic!("not simulate")
    };
    assert_eq!(a.listen.port(), ports::SIMULATOR);
    assert_eq!(a.race.session.as_deref(), Some("monza"));
    assert_eq!(a.stream.partitions, pitstop_contract::PARTITIONS);
    let Command::Process(p) = parse(&[commands::PROCESS]).unwrap().command else {
        panic!("not process")
    };
    assert_eq!(p.listen.port(), ports::PROCESSOR);
    let notify = [
        commands::JOB.to_string(),
        commands::NOTIFY_STEP.into(),
        f(flags::OUTCOME),
        "failed".into(),
        f(flags::FAILED_TASKS),
        "a,b".into(),
    ];
    let Command::Job(j) = parse(&notify.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap()
        .command
    else {
        panic!("not job")
    };
    assert_eq!(j.failed_tasks, ["a", "b"]);
    // Every environment variable of the contract that is an argument's is one the CLI
    // reads (the API key and the log format are read by their contract names directly).
    let mut read = std::collections::BTreeSet::new();
    fn collect(cmd: &clap::Command, read: &mut std::collections::BTreeSet<String>) {
        for a in cmd.get_arguments() {
            if let Some(e) = a.get_env() {
                read.insert(e.to_string_lossy().into_owned());
            }
        }
        for s in cmd.get_subcommands() {
            collect(s, read);
        }
    }
    collect(&cli_command(), &mut read);
    for v in [
        var::REDIS_URL,
        var::DATABASE_URL,
        var::STREAM,
        var::PARTITIONS,
        var::SESSION,
        var::REPORT_URL,
        var::WEBHOOK_URL,
        var::RUN_ID,
        var::TASK,
        var::ATTEMPT,
    ] {
        assert!(read.contains(v), "{v} is not read by pitstop");
    }
}
