//! The operator at league scale: N RaceSessions in ten namespaces, the real
//! `pitstop-operator run` (all namespaces, leader election on) against the in-memory API
//! server over TCP, which streams watch events and answers metadata-only requests as a
//! real one does. Measured: time until every race has its first full status, reconciles
//! per second, API requests per race, p50/p99 reconcile time (from the operator's own
//! histogram), RSS once settled and at its peak.
//!
//! `make bench-operator` runs [`bench`] with the release build (`RACES=1000` by default;
//! a list such as `RACES=200,1000` also prints the growth per race), then
//! [`bench_real_apiserver`]: `RACES_REAL` races (default 200) on the real kube-apiserver of
//! the local kit (skipped with a message when there is none). `make test` runs [`smoke`]: twenty races
//! through the debug build, checking the figures come out.

mod kit;
#[path = "at_scale/real.rs"]
mod real;
mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::FakeApi;
use support::operator::Operator;

const NAMESPACES: usize = 10;
const RACES: &str = "/apis/pitstop.io/v1alpha1/namespaces/";

fn race_path(i: usize) -> String {
    format!("{RACES}league-{}/racesessions/race-{i}", i % NAMESPACES)
}

fn race(i: usize) -> Value {
    json!({
        "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
        "metadata": {"name": format!("race-{i}"), "namespace": format!("league-{}", i % NAMESPACES),
            "uid": format!("race-uid-{i}"), "generation": 1},
        "spec": {"timeScale": 40}
    })
}

/// A race past its first full reconcile: the status lists its components.
fn has_full_status(v: &Value) -> bool {
    v["status"]["components"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
}

/// One run's figures.
struct Figures {
    races: usize,
    to_status: Duration,
    settled: Duration,
    reconciles: f64,
    errors: f64,
    requests: usize,
    by_kind: BTreeMap<String, usize>,
    expired_watches: usize,
    p50: f64,
    p99: f64,
    rss_kib: u64,
    peak_kib: u64,
    /// CPU time of the operator, and of this process (the API server), until settled.
    cpu: Duration,
    server_cpu: Duration,
}

/// `name{labels} value` lines of a Prometheus exposition, by series.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The `q` quantile of a histogram from its cumulative buckets, interpolated within the
/// bucket as Prometheus' `histogram_quantile` does.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let Some(&(_, total)) = buckets.last() else {
        return f64::NAN;
    };
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return prev.0;
            }
            let width = count - prev.1;
            let within = if width > 0.0 {
                (rank - prev.1) / width
            } else {
                1.0
            };
            return prev.0 + (le - prev.0) * within;
        }
        prev = (le, count);
    }
    prev.0
}

/// The operator's reconcile histogram as (le, cumulative count).
fn reconcile_buckets(metrics: &BTreeMap<String, f64>) -> Vec<(f64, f64)> {
    let prefix = "pitstop_operator_reconcile_duration_seconds_bucket{le=\"";
    let mut b: Vec<(f64, f64)> = metrics
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(prefix)?.strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, *v))
        })
        .collect();
    b.sort_by(|a, b| a.0.total_cmp(&b.0));
    b
}

/// What a request was: a watch, a list, or the verb on one object.
fn request_kind(l: &support::Logged) -> String {
    if l.method == "GET" && l.query.contains("watch=true") {
        "WATCH".into()
    } else if l.method == "GET" && support::is_collection(&l.path) {
        "LIST".into()
    } else {
        l.method.clone()
    }
}

async fn run(n: usize) -> Figures {
    let api = FakeApi::new();
    api.forget_bodies();
    for i in 0..n {
        api.put(&race_path(i), race(i));
    }
    let addr = api.serve_tcp().await;
    api.clear_log();
    let server_cpu0 = support::operator::cpu_of("/proc/self/stat").unwrap_or_default();
    let t0 = Instant::now();
    let mut op = Operator::start(addr, &[]);
    let deadline = t0 + Duration::from_secs(120 + n as u64 / 2);
    let full = || api.count_where(RACES, has_full_status);
    while full() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} races reconciled",
            full()
        );
        assert!(op.running(), "operator exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let to_status = t0.elapsed();
    // Settled: the reconciles its own writes woke have run (no request for 2 s; the
    // Lease renewal every 5 s leaves such gaps), or at most a minute more.
    let mut seen = api.requests();
    let mut quiet_since = Instant::now();
    let settle_by = Instant::now() + Duration::from_secs(60);
    while quiet_since.elapsed() < Duration::from_secs(2) && Instant::now() < settle_by {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = api.requests();
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        }
    }
    let settled = t0.elapsed();
    let rss_kib = op.rss_kib().unwrap_or(0);
    let peak_kib = op.peak_rss_kib().unwrap_or(0);
    let cpu = op.cpu().unwrap_or_default();
    let server_cpu = support::operator::cpu_of("/proc/self/stat").unwrap_or_default() - server_cpu0;
    let (_, text) = op.get("/metrics").await;
    let metrics = samples(&text);
    let buckets = reconcile_buckets(&metrics);
    let log = api.log();
    let mut by_kind = BTreeMap::new();
    for l in &log {
        *by_kind.entry(request_kind(l)).or_insert(0) += 1;
    }
    Figures {
        races: n,
        to_status,
        settled,
        reconciles: metrics["pitstop_operator_reconciles_total{result=\"success\"}"],
        errors: metrics["pitstop_operator_reconciles_total{result=\"error\"}"],
        requests: log.len(),
        by_kind,
        expired_watches: api.expired_watches(),
        p50: quantile(0.5, &buckets),
        p99: quantile(0.99, &buckets),
        rss_kib,
        peak_kib,
        cpu,
        server_cpu,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn report(f: &Figures) {
    let n = f.races as f64;
    let kinds: Vec<String> = f.by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "\noperator at {} races ({} build; in-memory API server over TCP)\n\
         \x20 every race's first full status  {:>8.1} s  ({:.0} races/s)\n\
         \x20 settled (no request for 2 s)    {:>8.1} s\n\
         \x20 reconciles                      {:>8.0}     ({:.0}/s until settled; {} failed)\n\
         \x20 reconcile time                  p50 {:.3} s, p99 {:.3} s (interpolated in the histogram's buckets)\n\
         \x20 API requests                    {:>8}     ({:.1} per race: {})\n\
         \x20 watches answered 410 Gone       {:>8}\n\
         \x20 CPU until settled               operator {:.1} s ({:.1} ms per race), API server {:.1} s\n\
         \x20 RSS                             settled {:.1} MiB, peak {:.1} MiB",
        f.races,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        f.to_status.as_secs_f64(),
        n / f.to_status.as_secs_f64(),
        f.settled.as_secs_f64(),
        f.reconciles,
        f.reconciles / f.settled.as_secs_f64(),
        f.errors,
        f.p50,
        f.p99,
        f.requests,
        f.requests as f64 / n,
        kinds.join(", "),
        f.expired_watches,
        f.cpu.as_secs_f64(),
        f.cpu.as_secs_f64() * 1000.0 / n,
        f.server_cpu.as_secs_f64(),
        mib(f.rss_kib),
        mib(f.peak_kib),
    );
}

/// Twenty races through the debug build: every race gets a full status without a failed
/// reconcile, and the figures the benchmark prints come out (a broken histogram or
/// request count would fail here rather than in `make bench-operator`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let f = run(20).await;
    report(&f);
    assert_eq!(f.errors, 0.0, "failed reconciles");
    assert!(f.reconciles >= 20.0, "{} reconciles", f.reconciles);
    assert!(f.p50 > 0.0 && f.p99 >= f.p50, "p50 {} p99 {}", f.p50, f.p99);
    assert!(f.requests > 20 && f.by_kind.contains_key("WATCH"));
    assert!(f.peak_kib >= f.rss_kib && f.rss_kib > 0);
}

/// `RACES` races (default 1,000; a comma-separated list runs each and prints the
/// growth per race between the first and the last).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "league-scale benchmark: `make bench-operator` (release build, minutes)"]
async fn bench() {
    let sizes: Vec<usize> = std::env::var("RACES")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("RACES: numbers, comma-separated"))
        .collect();
    let mut all = Vec::new();
    for n in sizes {
        let f = run(n).await;
        report(&f);
        assert_eq!(f.errors, 0.0, "failed reconciles");
        all.push(f);
    }
    if let [first, .., last] = all.as_slice() {
        let per_race =
            |a: u64, b: u64| (b as f64 - a as f64) / (last.races as f64 - first.races as f64);
        eprintln!(
            "\ngrowth from {} to {} races: settled RSS {:.1} KiB per race, peak {:.1} KiB per race",
            first.races,
            last.races,
            per_race(first.rss_kib, last.rss_kib),
            per_race(first.peak_kib, last.peak_kib),
        );
    }
}

/// Bucket interpolation as Prometheus does it: linear within the bucket holding the rank.
#[test]
fn quantiles_interpolate_within_buckets() {
    let b = [(0.1, 50.0), (1.0, 100.0), (f64::INFINITY, 100.0)];
    assert!((quantile(0.5, &b) - 0.1).abs() < 1e-9);
    assert!((quantile(0.75, &b) - 0.55).abs() < 1e-9);
    assert!((quantile(0.25, &b) - 0.05).abs() < 1e-9);
}

/// `RACES_REAL` races (default 200) on the real kube-apiserver of the local kit (`kit/`),
/// reconciled by the same release binary: the figures to set beside [`bench`]'s. Skipped
/// with a message when no real API server answers. Not 1,000 by default: no pod of these
/// races may run, so none ever gets ready, and the 30 s safety net of every converging
/// race (a full reconcile, ~24 server-side applies) is what the kit's API server serves
/// on 2 cores; at 1,000 that saturates it (docs/performance.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "league-scale benchmark on the real API server: `make bench-operator` (needs the kit: scripts/kit.sh up)"]
async fn bench_real_apiserver() {
    let Some(kit) = kit::Kit::connect("bench_real_apiserver").await else {
        return;
    };
    let n: usize = std::env::var("RACES_REAL")
        .unwrap_or_else(|_| "200".into())
        .trim()
        .parse()
        .expect("RACES_REAL: a number");
    real::run(&kit, n).await;
}
