//! `kubectl pitstop` without a cluster: the status screen drawn from fixed JSON, the
//! arguments, the error messages and exit codes, the run/retry decisions, task and pod
//! selection, the processor's own JSON (and every answer its OpenAPI document allows)
//! read by the plugin's types, and the krew manifest. (`apiserver_plugin.rs` runs the
//! binary against the real API server.)

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use pitstop_operator::api::{PipelineStatus, RaceSession};
use pitstop_operator::plugin::cli::{Cli, Command, PipelineArgs, parse_duration};
use pitstop_operator::plugin::error::{Access, PluginError, exit};
use pitstop_operator::plugin::processor::{Anomaly, ClassifiedCar, Session, Stop};
use pitstop_operator::plugin::proxy::{self, Answer};
use pitstop_operator::plugin::request::{self, Kind, Outcome};
use pitstop_operator::plugin::screen::{Live, LiveData, Snapshot, render};
use pitstop_operator::plugin::strategy::{Call, Strategy};
use pitstop_operator::plugin::tasks::{self, Lookup};
use serde_json::{Value, json};
use std::process::Command as Process;
use std::time::Duration;

const NOW: &str = "2026-12-03T12:10:00Z";

/// A race in lap 34 of 72 at Zandvoort, with a failed post-race run of an earlier
/// session's name (what a status carries once the operator wrote it).
fn race() -> RaceSession {
    serde_json::from_value(json!({
        "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
        "metadata": {"name": "dutch", "namespace": "racing"},
        "spec": {"circuit": "zandvoort", "laps": 72},
        "status": {
            "observedGeneration": 1,
            "phase": "Racing",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Ready",
                 "message": "every component ready", "lastTransitionTime": "2026-12-03T12:00:00Z"},
                {"type": "ProcessorReady", "status": "True", "reason": "Ready",
                 "message": "3/3 replicas ready", "lastTransitionTime": "2026-12-03T12:00:00Z"},
                {"type": "PipelineRequestRefused", "status": "False", "reason": "AsExpected",
                 "message": "", "lastTransitionTime": "2026-12-03T12:00:00Z"}
            ],
            "components": [
                {"name": "simulator", "ready": true, "replicas": 1, "readyReplicas": 1},
                {"name": "processor", "ready": true, "replicas": 3, "readyReplicas": 3},
                {"name": "redis", "ready": false, "replicas": 1, "readyReplicas": 0}
            ],
            "race": {"lap": 33, "totalLaps": 72, "leader": "NOR (McLaren)", "pitStops": 6,
                     "anomalies": 2, "samplesProcessed": 1000, "finished": false},
            "source": {"type": "simulator"},
            "pipeline": {
                "run": 2, "phase": "Failed", "trigger": "annotation",
                "startedAt": "2026-12-03T12:00:00Z", "finishedAt": "2026-12-03T12:07:30Z",
                "tasks": [
                    {"name": "collect-telemetry", "phase": "Succeeded", "attempts": 1, "round": 0,
                     "job": "dutch-p2-collect-telemetry-0-1"},
                    {"name": "report", "phase": "Failed", "attempts": 3, "round": 0,
                     "job": "dutch-p2-report-0-3", "message": "BackoffLimitExceeded: Job has reached the specified backoff limit"},
                    {"name": "notify", "phase": "Skipped", "attempts": 0, "round": 0,
                     "message": "report failed"}
                ],
                "history": [{"run": 1, "phase": "Succeeded", "trigger": "race-finished"}]
            }
        }
    }))
    .expect("a RaceSession")
}

fn session() -> Session {
    serde_json::from_value(json!({
        "session_id": "dutch", "circuit": "zandvoort", "total_laps": 72, "lap": 34,
        "finished": false, "samples_processed": 1234567, "started_at_ms": 1,
        "leader": {"position": 1, "car": 4, "driver": "NOR", "team": "McLaren", "laps": 34,
                   "best_lap_ms": 72001, "race_time_ms": 2500000, "gap": "", "dnf": false},
        "cars": 20, "samples_published": null, "pit_stops": 7, "anomalies": 3, "laps_recorded": 600
    }))
    .unwrap()
}

fn classification() -> Vec<ClassifiedCar> {
    serde_json::from_value(json!([
        {"position": 1, "car": 4, "driver": "NOR", "team": "McLaren", "laps": 34, "gap": "", "dnf": false},
        {"position": 2, "car": 1, "driver": "VER", "team": "Red Bull Racing", "laps": 34, "gap": "+1.200 s", "dnf": false},
        {"position": 3, "car": 81, "driver": "PIA", "team": "McLaren", "laps": 34, "gap": "+3.300 s", "dnf": false},
        {"position": 4, "car": 2, "driver": "SAR", "team": "Williams", "laps": 12, "gap": "DNF", "dnf": true}
    ]))
    .unwrap()
}

fn stops() -> Vec<Stop> {
    (0..7)
        .map(|i| Stop {
            car: 10 + i,
            driver: format!("D{i}"),
            team: "Alpine".into(),
            lap: Some(20 + i),
            stationary_s: 2.41,
            pit_lane_s: 21.3,
            compound_in: Some("MEDIUM".into()),
            compound_out: Some("HARD".into()),
            score: 90.0 + f64::from(i),
            slow: i == 6,
        })
        .collect()
}

fn anomalies() -> Vec<Anomaly> {
    serde_json::from_value(json!([
        {"car": 16, "driver": "LEC", "team": "Ferrari", "lap": 30, "kind": "brake_temp",
         "severity": "warning", "detector": "zscore", "channel": "brake_temp_fl",
         "value": 1012.5, "expected_low": 300.0, "expected_high": 900.0, "detected_at_ms": 1}
    ]))
    .unwrap()
}

/// The strategy answer of the issue, plus a car whose every estimate is hidden.
fn strategy() -> Strategy {
    serde_json::from_value(json!({
        "session_id": "dutch", "as_of_lap": 34, "total_laps": 72,
        "pit_loss": {"ms": 21300, "uncertainty_ms": 800, "source": "measured", "stops": 5},
        "cars": [
            {"car": 1, "driver": "VER", "team": "Red Bull Racing", "position": 2, "lap": 34,
             "gap_ahead_ms": 1200, "gap_leader_ms": 1200,
             "stint": {"number": 2, "compound": "HARD", "laps": 12},
             "degradation": {"ms_per_lap": 48.0, "ci95_ms_per_lap": 20.0, "green_laps": 10}, "degradation_hidden": null,
             "rejoin": {"position": 7, "ahead": {"car": 16, "driver": "LEC", "gap_ms": 900}, "behind": {"car": 44, "driver": "HAM", "gap_ms": 1500}},
             "window": {"optimal_lap": 40, "first_lap": 38, "last_lap": 43, "stop_required": true}, "window_hidden": null,
             "undercut": {"ahead": {"car": 4, "driver": "NOR", "gap_ms": 1200, "call": "jump", "margin_ms": 800},
                          "behind": {"car": 81, "driver": "PIA", "gap_ms": 2100, "call": "threat", "margin_ms": 300}}},
            {"car": 4, "driver": "NOR", "team": "McLaren", "position": 1, "lap": 34,
             "gap_ahead_ms": null, "gap_leader_ms": 0,
             "stint": {"number": 1, "compound": "MEDIUM", "laps": 34},
             "degradation": null, "degradation_hidden": "fewer than 5 green laps",
             "rejoin": null,
             "window": null, "window_hidden": "safety car",
             "undercut": {"ahead": null, "behind": {"car": 1, "driver": "VER", "gap_ms": 1200, "call": "safe", "margin_ms": -400}}}
        ]
    }))
    .unwrap()
}

fn snapshot(strategy: Result<Option<Strategy>, String>) -> Snapshot {
    Snapshot {
        race: race(),
        live: Live::Available(Box::new(LiveData {
            session: session(),
            classification: Ok(classification()),
            stops: Ok(stops()),
            anomalies: Ok(anomalies()),
            strategy,
        })),
        now: NOW.parse::<Timestamp>().unwrap(),
    }
}

/// The screen's lines, trimmed, for assertions on whole lines.
fn lines(s: &str) -> Vec<String> {
    s.lines().map(|l| l.trim().to_string()).collect()
}

/// `line` is on the screen (whitespace between cells collapsed to one space).
fn has(screen: &str, line: &str) -> bool {
    let want = line.split_whitespace().collect::<Vec<_>>().join(" ");
    screen
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want)
}

#[track_caller]
fn assert_has(screen: &str, line: &str) {
    assert!(has(screen, line), "missing line {line:?} in:\n{screen}");
}

/// The screen with strategy: the header prefers the processor's lap and leader to the
/// status's, sections come in order, each with its rows; pit stops and anomalies newest
/// first and at most five; a DNF and the leader spelled out. Would break if a section
/// went missing, moved, or showed the operator's stale lap.
#[test]
fn status_screen_with_strategy() {
    let screen = render(&snapshot(Ok(Some(strategy()))));
    for l in [
        "Race: racing/dutch",
        "Phase: Racing",
        "Ready: True (Ready)",
        "Circuit: zandvoort",
        "Lap: 34 / 72",
        "Leader: NOR (McLaren)",
        "Source: simulator",
        "Samples: 1234567 processed, 20 cars, 7 pit stops, 3 anomalies",
        "TYPE STATUS REASON MESSAGE",
        "Ready True Ready every component ready",
        "Classification (lap 34)",
        "POS CAR DRIVER TEAM LAPS GAP",
        "1 4 NOR McLaren 34 leader",
        "2 1 VER Red Bull Racing 34 +1.200 s",
        "4 2 SAR Williams 12 DNF",
        "Pit stops (latest 5 of 7, newest first)",
        "26 16 D6 Alpine 2.41 s 21.3 s MEDIUM -> HARD 96 slow",
        "22 12 D2 Alpine 2.41 s 21.3 s MEDIUM -> HARD 92",
        "Strategy (as of lap 34 of 72; pit loss 21.3 s ± 0.8 s, measured from 5 stops)",
        "POS CAR DRIVER STINT DEG MS/LAP WINDOW REJOIN IF STOPPING NOW",
        "P2 1 VER 2 HARD 12L 48.0 ± 20.0 L38-43, best 40 P7 (LEC 0.9 s ahead, HAM 1.5 s behind)",
        "P1 4 NOR 1 MEDIUM 34L - (fewer than 5 green laps) - (safety car) -",
        "Undercuts",
        "VER (1) can undercut NOR (4): 1.2 s behind, margin 0.8 s",
        "PIA (81) threatens VER (1) with an undercut: 2.1 s behind, margin 0.3 s",
        "Anomalies (latest 1 of 1, newest first)",
        "30 16 LEC brake_temp warning brake_temp_fl 1012.5 300.0..900.0",
        "NAME READY REPLICAS",
        "processor yes 3/3",
        "redis no 0/1",
        "Post-race pipeline: run 2 Failed (trigger annotation), started 10m0s ago, finished 2m30s ago",
        "report Failed 3 dutch-p2-report-0-3 BackoffLimitExceeded: Job has reached the specified backoff limit",
        "notify Skipped 0 - report failed",
        "previous: run 1 Succeeded",
    ] {
        assert_has(&screen, l);
    }
    assert!(
        !screen.contains("D1 "),
        "only the latest five stops:\n{screen}"
    );
    // A "safe" call and a null duel make no undercut line.
    assert!(!screen.contains("threatens NOR"), "{screen}");
    let order: Vec<usize> = [
        "Race:",
        "Conditions",
        "Classification",
        "Pit stops",
        "Strategy",
        "Anomalies",
        "Components",
        "Post-race pipeline",
    ]
    .iter()
    .map(|title| {
        lines(&screen)
            .iter()
            .position(|l| l.starts_with(title))
            .unwrap_or_else(|| panic!("{title} missing:\n{screen}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{screen}");
    // Columns line up: the header's GAP sits where the rows' gaps start.
    let table: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("Classification"))
        .skip(1)
        .take(3)
        .collect();
    let col = table[0].find("GAP").unwrap();
    assert_eq!(table[2].get(col..col + 8), Some("+1.200 s"), "{table:#?}");
}

/// A processor without `/strategy` (404) gives one line and the rest of the screen; a
/// failed read says why. Would break if the 404 were shown as an error or hid the rest.
#[test]
fn status_screen_without_strategy() {
    let screen = render(&snapshot(Ok(None)));
    assert_has(&screen, "Strategy: not available from this processor");
    assert_has(&screen, "2 1 VER Red Bull Racing 34 +1.200 s");
    assert!(!screen.contains("Undercuts"), "{screen}");
    let screen = render(&snapshot(Err("the processor answered 500: boom".into())));
    assert_has(
        &screen,
        "Strategy: not available: the processor answered 500: boom",
    );
}

/// Without the processor the screen says why and falls back to what the operator last
/// saw (lap 33, its leader). Would break if the header went blank or live sections were
/// drawn empty.
#[test]
fn status_screen_without_the_processor() {
    let mut s = snapshot(Ok(None));
    s.live =
        Live::Unavailable("no processor pod is ready behind Service \"dutch-processor\"".into());
    let screen = render(&s);
    assert_has(&screen, "Lap: 33 / 72");
    assert_has(&screen, "Leader: NOR (McLaren)");
    assert_has(
        &screen,
        "Samples: 1000 processed, 6 pit stops, 2 anomalies (as the operator last saw)",
    );
    assert_has(
        &screen,
        "Live data: not available: no processor pod is ready behind Service \"dutch-processor\"",
    );
    assert!(!screen.contains("Classification"), "{screen}");
    assert!(screen.contains("Post-race pipeline: run 2"), "{screen}");
}

/// Counts of one read in the singular, live and as the operator last saw them; a
/// stationary time keeps its two decimals even when the second is a zero. Would break if
/// a count were written as "1 anomalies" again or a time lost its resolution.
#[test]
fn status_screen_counts_of_one() {
    let mut s = snapshot(Ok(Some(strategy())));
    let Live::Available(d) = &mut s.live else {
        unreachable!("the snapshot has live data")
    };
    (d.session.cars, d.session.pit_stops, d.session.anomalies) = (1, 1, 1);
    d.stops = Ok(vec![Stop {
        stationary_s: 2.4,
        ..stops().remove(0)
    }]);
    if let Ok(Some(st)) = &mut d.strategy {
        st.pit_loss.as_mut().expect("a pit loss").stops = Some(1);
    }
    let screen = render(&s);
    assert_has(
        &screen,
        "Samples: 1234567 processed, 1 car, 1 pit stop, 1 anomaly",
    );
    assert_has(&screen, "20 10 D0 Alpine 2.40 s 21.3 s MEDIUM -> HARD 90");
    assert_has(
        &screen,
        "Strategy (as of lap 34 of 72; pit loss 21.3 s ± 0.8 s, measured from 1 stop)",
    );
    let mut s = snapshot(Ok(None));
    s.live = Live::Unavailable("no processor".into());
    let status = s.race.status.as_mut().expect("a status");
    let progress = status.race.as_mut().expect("the race's progress");
    (progress.pit_stops, progress.anomalies) = (1, 1);
    assert_has(
        &render(&s),
        "Samples: 1000 processed, 1 pit stop, 1 anomaly (as the operator last saw)",
    );
}

/// A race the operator has not seen yet: no status at all still draws a screen.
#[test]
fn status_screen_of_a_new_race() {
    let mut race = race();
    race.status = None;
    let screen = render(&Snapshot {
        race,
        live: Live::Unavailable("it has no processor Service \"dutch-processor\" yet".into()),
        now: NOW.parse().unwrap(),
    });
    assert_has(&screen, "Phase: -");
    assert_has(&screen, "Ready: unknown (no status yet)");
    assert_has(&screen, "Lap: - / 72 (not started)");
    assert_has(
        &screen,
        "Conditions: none yet (the operator has not written a status)",
    );
    assert_has(
        &screen,
        "Post-race pipeline: no run yet (it starts when the race finishes, or: kubectl pitstop run-pipeline dutch)",
    );
}

/// The strategy JSON of the issue reads in full, calls included; unknown calls and
/// missing fields do not fail the read.
#[test]
fn strategy_json_reads() {
    let s = strategy();
    let ver = &s.cars[0];
    let u = ver.undercut.as_ref().unwrap();
    assert_eq!(u.ahead.as_ref().unwrap().call, Call::Jump);
    assert_eq!(u.behind.as_ref().unwrap().call, Call::Threat);
    assert_eq!(s.pit_loss.as_ref().unwrap().ms, 21300.0);
    let odd: Strategy = serde_json::from_value(json!({"as_of_lap": 3, "cars": [
        {"car": 5, "undercut": {"ahead": {"car": 6, "call": "maybe"}}, "future_field": 1}]}))
    .unwrap();
    let call = odd.cars[0]
        .undercut
        .as_ref()
        .unwrap()
        .ahead
        .as_ref()
        .unwrap()
        .call;
    assert_eq!(call, Call::Unknown);
}

/// The processor's own types, serialized as its API does, read by the plugin's: a field
/// renamed on either side shows here. Would break if `gap`, `score` or `leader` moved.
#[test]
fn the_processors_json_reads() {
    use pitstop_workloads::processor::queries as q;
    let car = q::ClassifiedCar {
        position: 2,
        car: 1,
        driver: "VER".into(),
        team: "Red Bull Racing".into(),
        laps: 34,
        best_lap_ms: Some(72000),
        race_time_ms: Some(1),
        gap: "+1.200 s".into(),
        dnf: false,
    };
    let detail = q::SessionDetail {
        summary: q::SessionSummary {
            session_id: "dutch".into(),
            circuit: Some("zandvoort".into()),
            total_laps: Some(72),
            lap: 34,
            finished: false,
            samples_processed: 99,
            started_at_ms: None,
        },
        leader: Some(car.clone()),
        cars: 20,
        samples_published: None,
        pit_stops: 4,
        anomalies: 1,
        laps_recorded: 600,
    };
    let s: Session = serde_json::from_value(serde_json::to_value(&detail).unwrap()).unwrap();
    assert_eq!(
        (s.lap, s.total_laps, s.samples_processed, s.cars),
        (34, Some(72), 99, 20)
    );
    assert_eq!(s.leader.unwrap().driver, "VER");
    let c: ClassifiedCar = serde_json::from_value(serde_json::to_value(&car).unwrap()).unwrap();
    assert_eq!((c.position, c.gap.as_str()), (2, "+1.200 s"));
    let stop = q::ScoredStop {
        car: 1,
        driver: "VER".into(),
        team: "Red Bull Racing".into(),
        lap: Some(30),
        stationary_s: 2.3,
        pit_lane_s: 21.0,
        compound_in: Some("MEDIUM".into()),
        compound_out: None,
        score: 88.5,
        slow: false,
    };
    let st: Stop = serde_json::from_value(serde_json::to_value(&stop).unwrap()).unwrap();
    assert_eq!((st.lap, st.score, st.compound_out), (Some(30), 88.5, None));
    let anomaly = q::AnomalyRow {
        car: 16,
        driver: "LEC".into(),
        team: "Ferrari".into(),
        lap: Some(3),
        kind: "k".into(),
        severity: "critical".into(),
        detector: "d".into(),
        channel: "c".into(),
        value: 1.5,
        expected_low: 0.0,
        expected_high: 1.0,
        detected_at_ms: 5,
    };
    let a: Anomaly = serde_json::from_value(serde_json::to_value(&anomaly).unwrap()).unwrap();
    assert_eq!((a.severity.as_str(), a.value), ("critical", 1.5));
}

/// The processor's strategy, computed on a race and serialized as its API answers it,
/// read by the plugin's types: a just-stopped car (its new stint with no lap, no
/// compound, degradation hidden), a car whose compound no source named, and one fitted.
/// Would break if any field the processor can send as null were a plain value in the
/// plugin (as the stint's compound was).
#[test]
fn the_processors_strategy_reads() {
    use pitstop_workloads::analytics::strategy::{self as st, Entrant, Lap, PitEntry, Race};
    use pitstop_workloads::model::Compound;
    let laps = (1..=3u8)
        .flat_map(|car| {
            (1..=12u16).map(move |lap| Lap {
                car,
                lap,
                lap_time_ms: 90_000 + 100 * i64::from(lap),
                crossed_at_ms: i64::from(lap) * 90_000
                    + 100 * i64::from(lap * lap) / 2
                    + i64::from(car) * 1_500,
                compound: (car != 3).then_some(Compound::Hard),
                tyre_age: (car != 3).then_some(lap),
                neutralised: false,
            })
        })
        .collect();
    let race = Race {
        circuit: Some("zandvoort".into()),
        total_laps: Some(40),
        entrants: (1..=3)
            .map(|car| Entrant {
                car,
                driver: format!("D{car}"),
                team: "T".into(),
            })
            .collect(),
        laps,
        pit_entries: vec![PitEntry {
            car: 1,
            lap: Some(13),
            entry_ms: 12 * 90_000 + 7_300,
        }],
        ..Race::default()
    };
    let mut answer = serde_json::to_value(st::compute(&race)).unwrap();
    answer["session_id"] = json!("t");
    let s: Strategy = serde_json::from_value(answer.clone()).expect("the plugin reads it");
    assert_eq!(s.cars.len(), 3, "{answer}");
    let car = |n: i32| s.cars.iter().find(|c| c.car == n).unwrap();
    let stopping = car(1);
    assert!(stopping.in_pit_lane);
    let stint = stopping.stint.as_ref().unwrap();
    assert_eq!(
        (stint.number, stint.compound.as_deref(), stint.laps),
        (2, None, 0)
    );
    assert!(stopping.degradation.is_none() && stopping.degradation_hidden.is_some());
    let fitted = car(2);
    assert_eq!(
        fitted.stint.as_ref().unwrap().compound.as_deref(),
        Some("hard")
    );
    assert!(fitted.degradation.is_some() && fitted.rejoin.is_some());
    assert_eq!(car(3).stint.as_ref().unwrap().compound, None);
}

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    use clap::Parser;
    Cli::try_parse_from(std::iter::once("kubectl-pitstop").chain(args.iter().copied()))
}

/// kubectl's flags before or after the command, durations as kubectl writes them, and
/// usage errors as clap's exit code 2.
#[test]
fn arguments() {
    let cli = parse(&[
        "-n",
        "racing",
        "status",
        "dutch",
        "--watch",
        "--interval",
        "500ms",
    ])
    .unwrap();
    assert_eq!(cli.kube.namespace.as_deref(), Some("racing"));
    assert_eq!(
        cli.command,
        Command::Status {
            race: "dutch".into(),
            watch: true,
            interval: Duration::from_millis(500)
        }
    );
    let cli = parse(&[
        "run-pipeline",
        "dutch",
        "--context",
        "prod",
        "--namespace=racing",
        "--kubeconfig",
        "/tmp/kc",
        "--wait",
        "0",
    ])
    .unwrap();
    assert_eq!(cli.kube.context.as_deref(), Some("prod"));
    assert_eq!(cli.kube.namespace.as_deref(), Some("racing"));
    assert_eq!(
        cli.kube.kubeconfig.as_deref(),
        Some(std::path::Path::new("/tmp/kc"))
    );
    assert_eq!(
        cli.command,
        Command::RunPipeline(PipelineArgs {
            race: "dutch".into(),
            wait: Duration::ZERO
        })
    );
    let cli = parse(&["report", "dutch", "-o", "r.html"]).unwrap();
    assert_eq!(
        cli.command,
        Command::Report {
            race: "dutch".into(),
            output: Some("r.html".into())
        }
    );
    let cli = parse(&["logs", "dutch", "report", "--tail", "20"]).unwrap();
    assert_eq!(
        cli.command,
        Command::Logs {
            race: "dutch".into(),
            task: "report".into(),
            tail: Some(20)
        }
    );
    let cli = parse(&["retry-pipeline", "dutch"]).unwrap();
    assert!(
        matches!(cli.command, Command::RetryPipeline(ref a) if a.wait == Duration::from_secs(30))
    );
    assert_eq!(cli.kube.request_timeout, Duration::from_secs(10));
    for bad in [
        vec!["status"],
        vec!["logs", "dutch"],
        vec!["status", "dutch", "--interval", "soon"],
        vec!["launch", "dutch"],
    ] {
        let e = parse(&bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?} parsed"));
        assert_eq!(e.exit_code(), 2, "{bad:?}");
    }
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("3 fortnights").is_err());
}

fn status(code: u16, reason: &str, message: &str) -> Box<kube::core::Status> {
    Box::new(
        serde_json::from_value(
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "code": code, "reason": reason, "message": message}),
        )
        .unwrap(),
    )
}

/// Each error is one line naming what to do, with its exit code; a 403 names the verb
/// and resource (not the API server's long sentence), a transport error its innermost
/// cause. Would break if RBAC errors became "ApiError: ..." dumps.
#[test]
fn error_messages() {
    let access = Access {
        verb: "get",
        resource: "racesessions.pitstop.io",
        namespace: "racing",
    };
    let forbidden = kube::Error::Api(status(
        403,
        "Forbidden",
        "racesessions.pitstop.io \"dutch\" is forbidden: User \"bob\" cannot get resource \"racesessions\" in API group \"pitstop.io\" in the namespace \"racing\"",
    ));
    let e = PluginError::from_kube(&forbidden, access, "https://k8s:6443").unwrap();
    assert_eq!(
        e.to_string(),
        "you cannot get racesessions.pitstop.io in namespace \"racing\" (RBAC): ask for a Role granting get on racesessions.pitstop.io there (docs/kubectl-plugin.md#rbac)"
    );
    assert_eq!(e.exit_code(), exit::FORBIDDEN);
    let proxy = PluginError::forbidden(Access {
        verb: "get",
        resource: "services/proxy",
        namespace: "racing",
    });
    assert!(
        proxy
            .to_string()
            .starts_with("you cannot get services/proxy in namespace \"racing\" (RBAC)")
    );
    let not_found = kube::Error::Api(status(404, "NotFound", "racesessions \"x\" not found"));
    assert_eq!(PluginError::from_kube(&not_found, access, "s"), None);
    let e = PluginError::RaceNotFound {
        name: "x".into(),
        namespace: "y".into(),
    };
    assert_eq!(
        e.to_string(),
        "racesession \"x\" not found in namespace \"y\""
    );
    assert_eq!(e.exit_code(), exit::NOT_FOUND);
    let e = PluginError::from_kube(
        &kube::Error::Api(status(401, "Unauthorized", "Unauthorized")),
        access,
        "https://k8s:6443",
    )
    .unwrap();
    assert!(
        e.to_string().contains("did not accept your credentials"),
        "{e}"
    );
    let e = PluginError::from_kube(
        &kube::Error::Api(status(500, "InternalError", "etcd\nunavailable")),
        access,
        "s",
    )
    .unwrap();
    assert_eq!(
        e.to_string(),
        "get racesessions.pitstop.io in namespace \"racing\": the API server answered 500 InternalError: etcd unavailable"
    );
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    let transport = kube::Error::ReadEvents(io);
    let e = PluginError::from_kube(&transport, access, "https://127.0.0.1:1").unwrap();
    assert_eq!(
        e.to_string(),
        "cannot reach the API server at https://127.0.0.1:1: connection refused"
    );
    let e = PluginError::NotRunning {
        name: "dutch".into(),
        why: "no processor pod is ready".into(),
    };
    assert_eq!(e.exit_code(), exit::NOT_RUNNING);
    assert_eq!(PluginError::Refused("r".into()).exit_code(), exit::REFUSED);
    assert_eq!(
        PluginError::NoAnswer("n".into()).exit_code(),
        exit::NO_ANSWER
    );
    for e in [e, PluginError::Kubeconfig("a\nb".into())] {
        assert!(!e.to_string().contains('\n') || matches!(e, PluginError::Kubeconfig(_)));
    }
}

/// What the API server and the processor answer on the proxy path, told apart (bodies as
/// the real v1.36 API server sends them). Would break if a processor's 404 ("no
/// session") were taken for a missing Service, or a dial error for a 404.
#[test]
fn proxy_answers() {
    assert_eq!(
        proxy::processor_path("racing", "dutch", "/api/v1/sessions/dutch"),
        "/api/v1/namespaces/racing/services/dutch-processor:8001/proxy/api/v1/sessions/dutch"
    );
    let api = |code: u16, reason: &str, message: &str| {
        serde_json::to_vec(
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code}),
        )
        .unwrap()
    };
    assert_eq!(proxy::classify(200, b"{}"), Answer::Ok(b"{}".to_vec()));
    assert_eq!(
        proxy::classify(
            403,
            &api(
                403,
                "Forbidden",
                "services \"dutch-processor\" is forbidden"
            )
        ),
        Answer::Forbidden
    );
    assert_eq!(
        proxy::classify(
            404,
            &api(404, "NotFound", "services \"dutch-processor\" not found")
        ),
        Answer::NoService
    );
    assert_eq!(
        proxy::classify(
            503,
            &api(
                503,
                "ServiceUnavailable",
                "no endpoints available for service \"dutch-processor:8001\""
            )
        ),
        Answer::NoEndpoints
    );
    let refused =
        "error trying to reach service: dial tcp 10.88.0.5:8001: connect: connection refused";
    assert_eq!(
        proxy::classify(503, &api(503, "ServiceUnavailable", refused)),
        Answer::Unreachable(refused.into())
    );
    assert_eq!(
        proxy::classify(404, br#"{"error":"no session \"dutch\""}"#),
        Answer::NotFound("no session \"dutch\"".into())
    );
    assert_eq!(
        proxy::classify(503, br#"{"error":"postgres unavailable"}"#),
        Answer::Unavailable("postgres unavailable".into())
    );
    assert_eq!(
        proxy::classify(500, b"boom"),
        Answer::Other(500, "boom".into())
    );
    assert_eq!(
        Answer::NoEndpoints.why_not("dutch").unwrap(),
        "no processor pod is ready behind Service \"dutch-processor\""
    );
}

fn pipeline(v: Value) -> PipelineStatus {
    serde_json::from_value(v).unwrap()
}

/// What the operator does with a run or retry request, predicted from the status before
/// and read from the status after (the messages of `post_race::plan::requests`).
#[test]
fn run_and_retry_requests() {
    let failed = race().status.unwrap().pipeline.unwrap();
    assert_eq!(
        request::predict(Kind::Run, None),
        Outcome::Started { run: 1 }
    );
    assert_eq!(
        request::predict(Kind::Run, Some(&failed)),
        Outcome::Started { run: 3 }
    );
    assert_eq!(
        request::predict(Kind::Retry, Some(&failed)),
        Outcome::Retried {
            run: 2,
            tasks: vec!["report".into(), "notify".into()]
        }
    );
    assert_eq!(
        request::predict(Kind::Retry, None),
        Outcome::Refused("no run to retry".into())
    );
    let running = pipeline(json!({"run": 3, "phase": "Running", "trigger": "annotation"}));
    assert_eq!(
        request::predict(Kind::Run, Some(&running)),
        Outcome::Refused("run 3 is still running (one run at a time)".into())
    );
    let succeeded = pipeline(json!({"run": 3, "phase": "Succeeded", "trigger": "annotation"}));
    assert_eq!(
        request::predict(Kind::Retry, Some(&succeeded)),
        Outcome::Refused("run 3 succeeded, nothing to retry".into())
    );

    let v = "2026-12-03T12:00:00.123Z";
    assert_eq!(
        request::answer(Kind::Run, v, Some(&failed)),
        None,
        "not seen yet"
    );
    let started =
        pipeline(json!({"run": 3, "phase": "Running", "trigger": "annotation", "runRequest": v}));
    assert_eq!(
        request::answer(Kind::Run, v, Some(&started)),
        Some(Outcome::Started { run: 3 })
    );
    let why = format!("pitstop.io/retry-pipeline={v} refused: no run to retry");
    let refused = pipeline(json!({"run": 0, "phase": "Running", "trigger": "",
        "retryRequest": v, "requestRefused": why}));
    assert_eq!(
        request::answer(Kind::Retry, v, Some(&refused)),
        Some(Outcome::Refused(why.clone()))
    );
    // An older refusal of the other annotation is not this request's.
    let other = pipeline(json!({"run": 2, "phase": "Running", "trigger": "retry",
        "retryRequest": v, "runRequest": "old",
        "requestRefused": "pitstop.io/run-pipeline=old refused: run 2 is still running (one run at a time)",
        "tasks": [{"name": "report", "phase": "Pending", "round": 1}, {"name": "collect-telemetry", "phase": "Succeeded"}]}));
    assert_eq!(
        request::answer(Kind::Retry, v, Some(&other)),
        Some(Outcome::Retried {
            run: 2,
            tasks: vec!["report".into()]
        })
    );
    assert_eq!(
        request::describe("dutch", &Outcome::Refused(why)),
        format!(
            "race \"dutch\": the operator refused: pitstop.io/retry-pipeline={v} refused: no run to retry"
        )
    );
    // A new value every time, so the operator sees a new request.
    let a = request::value(Timestamp::now());
    std::thread::sleep(Duration::from_millis(2));
    assert_ne!(a, request::value(Timestamp::now()));
}

fn pod(name: &str, created: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "creationTimestamp": created}}))
        .unwrap()
}

/// `logs`: a task of the run finds its Job, a pending one says so, a wrong name lists the
/// valid ones (from the run, else from the spec's pipeline); the newest pod is read.
#[test]
fn task_and_pod_selection() {
    let r = race();
    assert_eq!(
        tasks::lookup(&r, "report"),
        Lookup::Job(Some("dutch-p2-report-0-3".into()))
    );
    assert_eq!(tasks::lookup(&r, "notify"), Lookup::NotStarted);
    assert_eq!(
        tasks::lookup(&r, "reprot"),
        Lookup::Unknown(vec![
            "collect-telemetry".into(),
            "report".into(),
            "notify".into()
        ])
    );
    let mut fresh = race();
    fresh.status = None;
    let names = tasks::names(&fresh);
    assert!(names.contains(&"persist-mclaren".to_string()), "{names:?}");
    assert!(names.contains(&"on-exit".to_string()), "{names:?}");
    assert_eq!(tasks::lookup(&fresh, "aggregate"), Lookup::Job(None));
    assert_eq!(
        tasks::job_selector("dutch", "report"),
        "app.kubernetes.io/instance=dutch,pitstop.io/task=report"
    );
    let pods = [
        pod("a-old", "2026-12-03T12:00:00Z"),
        pod("a-new", "2026-12-03T12:05:00Z"),
        pod("a-mid", "2026-12-03T12:01:00Z"),
    ];
    assert_eq!(
        tasks::pick_pod(&pods).unwrap().metadata.name.as_deref(),
        Some("a-new")
    );
    assert!(tasks::pick_pod(&[]).is_none());
    // A pod that has not run has no logs yet; one that ran has, whatever its end.
    assert_eq!(
        tasks::not_started(&pods[0]).as_deref(),
        Some("it is not scheduled yet (Pending)")
    );
    let waiting: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
        "spec": {"nodeName": "n", "containers": []},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "step", "ready": false,
            "restartCount": 0, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}))
    .unwrap();
    assert_eq!(
        tasks::not_started(&waiting).as_deref(),
        Some("its container is waiting (ImagePullBackOff)")
    );
    let failed: Pod =
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"phase": "Failed"}}))
            .unwrap();
    assert_eq!(tasks::not_started(&failed), None);
}

/// The krew manifest: a valid `krew.googlecontainertools.github.com/v1alpha2` Plugin
/// named pitstop, one platform per OS/arch we ship, each a release archive of
/// pitstop-io/pitstop with a sha256 and `bin: kubectl-pitstop`.
#[test]
fn krew_manifest() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/krew/pitstop.yaml");
    let text = std::fs::read_to_string(path).expect("operator/krew/pitstop.yaml");
    let m: Value = serde_yaml::from_str(&text).expect("YAML");
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(m["metadata"]["name"], "pitstop");
    let spec = &m["spec"];
    let version = spec["version"].as_str().expect("version");
    assert!(
        version.starts_with('v'),
        "krew wants a v-prefixed semver: {version}"
    );
    assert_eq!(
        version.trim_start_matches('v'),
        env!("CARGO_PKG_VERSION"),
        "the manifest's version follows the crate's"
    );
    assert_eq!(spec["homepage"], "https://github.com/pitstop-io/pitstop");
    for key in ["shortDescription", "description"] {
        assert!(spec[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    let platforms = spec["platforms"].as_array().expect("platforms");
    let mut seen = Vec::new();
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        let (os, arch) = (
            labels["os"].as_str().unwrap(),
            labels["arch"].as_str().unwrap(),
        );
        seen.push(format!("{os}/{arch}"));
        assert_eq!(p["bin"], "kubectl-pitstop", "{os}/{arch}");
        let uri = p["uri"].as_str().unwrap();
        assert!(
            uri.starts_with(&format!(
                "https://github.com/pitstop-io/pitstop/releases/download/{version}/"
            )) && uri.ends_with(".tar.gz")
                && uri.contains(os)
                && uri.contains(if arch == "amd64" { "x86_64" } else { "aarch64" }),
            "{uri}"
        );
        let sha = p["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64, "{os}/{arch}: sha256 of 64 hex digits");
        assert!(sha.chars().all(|c| c.is_ascii_hexdigit()), "{sha}");
    }
    seen.sort();
    assert_eq!(
        seen,
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );
}

fn plugin(args: &[&str]) -> (i32, String, String) {
    let out = Process::new(env!("CARGO_BIN_EXE_kubectl-pitstop"))
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("the plugin runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The binary: `--help` names every command; a server that does not answer is one line
/// on stderr with exit code 1, no backtrace; bad arguments exit 2.
#[test]
fn binary_errors_are_one_line() {
    let (code, help, _) = plugin(&["--help"]);
    assert_eq!(code, 0);
    for c in ["status", "run-pipeline", "retry-pipeline", "report", "logs"] {
        assert!(help.contains(c), "{c} missing:\n{help}");
    }
    let dir = std::env::temp_dir().join(format!("pitstop-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: c\n  context: {cluster: c, user: u, namespace: racing}\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let kc = kc.to_str().unwrap();
    let (code, out, err) = plugin(&["--kubeconfig", kc, "status", "dutch"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot reach the API server at https://127.0.0.1:1: ")
            && err.to_lowercase().contains("refused"),
        "{err}"
    );
    let (code, _, err) = plugin(&["--kubeconfig", kc, "--context", "nope", "status", "dutch"]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "error: kubeconfig: no context \"nope\" in it (`kubectl config get-contexts` lists them)"
        )
    );
    let missing = dir.join("absent");
    let (code, _, err) = plugin(&["--kubeconfig", missing.to_str().unwrap(), "status", "dutch"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: kubeconfig: cannot read {}: ",
            missing.display()
        )),
        "{err}"
    );
    // --interval is bounded below: 0s would redraw as fast as the API server answers.
    let (code, _, err) = plugin(&["status", "dutch", "--watch", "--interval", "0s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at least 500ms"), "{err}");
    let (code, _, err) = plugin(&["status"]);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// How [`instance`] fills a schema: every nullable field null and every optional one
/// left out, or every field there with a value.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    Sparse,
    Full,
}

/// A value the processor's OpenAPI document allows for `schema`, filled as `fill` says
/// (a list holds one item; an enum its first value).
fn instance(doc: &Value, schema: &Value, fill: Fill) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return instance(doc, &doc["components"]["schemas"][name], fill);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = serde_json::Map::new();
        for p in parts {
            match instance(doc, p, fill) {
                Value::Object(o) => merged.extend(o),
                other => panic!("an allOf part that is no object: {other}"),
            }
        }
        return Value::Object(merged);
    }
    for unknown in [
        "anyOf",
        "not",
        "if",
        "additionalProperties",
        "patternProperties",
    ] {
        assert!(
            schema.get(unknown).is_none(),
            "the instance builder does not know `{unknown}`: {schema}"
        );
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let is_null = |c: &&Value| c["type"] == "null";
        let pick = match fill {
            Fill::Sparse => choices.iter().find(is_null),
            Fill::Full => choices.iter().find(|c| !is_null(c)),
        };
        return instance(doc, pick.unwrap_or(&choices[0]), fill);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() => vec!["object"],
        _ => panic!("a schema with no type: {schema}"),
    };
    if fill == Fill::Sparse && types.contains(&"null") {
        return Value::Null;
    }
    match types
        .iter()
        .find(|t| **t != "null")
        .copied()
        .unwrap_or("null")
    {
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "string" => json!("x"),
        "array" => json!([instance(doc, &schema["items"], fill)]),
        "null" => Value::Null,
        _ => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut o = serde_json::Map::new();
            for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
                if fill == Fill::Full || required.contains(&name.as_str()) {
                    o.insert(name.clone(), instance(doc, prop, fill));
                }
            }
            Value::Object(o)
        }
    }
}

/// The keys of `read` (the plugin's types, serialized back) that `sent` (what the
/// processor's document allows, every field filled) does not have, with their paths: a
/// field the plugin reads that the processor never sends (its `serde(default)` would
/// read it as nothing, silently).
fn unknown_keys(read: &Value, sent: &Value, path: &str) -> Vec<String> {
    match (read, sent) {
        (Value::Object(r), Value::Object(s)) => r
            .iter()
            .flat_map(|(k, v)| match s.get(k) {
                Some(sv) => unknown_keys(v, sv, &format!("{path}.{k}")),
                None => vec![format!("{path}.{k}")],
            })
            .collect(),
        (Value::Array(r), Value::Array(s)) => match (r.first(), s.first()) {
            (Some(rv), Some(sv)) => unknown_keys(rv, sv, &format!("{path}[]")),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Every answer the processor's OpenAPI document (docs/openapi.json, generated from its
/// types) allows for the endpoints the plugin reads, with every nullable field null and
/// every optional one left out, and with every field filled, reads with the plugin's
/// types: a field the processor may send as null but the plugin takes as a plain value
/// (as the stint's compound was) fails here, whichever part of the screen it feeds, as
/// does a field the plugin reads that the processor never sends (the rejoin's hidden
/// reason the screen showed was one: always empty).
#[test]
fn every_answer_the_processors_document_allows_reads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let answer = |sub: &str, fill: Fill| {
        let p = format!("/api/v1/sessions/{{id}}{sub}");
        let schema =
            &doc["paths"][&p]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{p} has no JSON answer in the document");
        instance(&doc, schema, fill)
    };
    // Every field the plugin reads is one the processor sends.
    fn same_keys<T: serde::de::DeserializeOwned + serde::Serialize>(sent: Value) {
        let read: T = serde_json::from_value(sent.clone()).unwrap();
        let unknown = unknown_keys(&serde_json::to_value(read).unwrap(), &sent, "");
        assert!(unknown.is_empty(), "the processor never sends {unknown:?}");
    }
    same_keys::<Session>(answer("", Fill::Full));
    same_keys::<Vec<ClassifiedCar>>(answer("/classification", Fill::Full));
    same_keys::<Vec<Stop>>(answer("/pitstops", Fill::Full));
    same_keys::<Vec<Anomaly>>(answer("/anomalies", Fill::Full));
    same_keys::<Strategy>(answer("/strategy", Fill::Full));
    for fill in [Fill::Sparse, Fill::Full] {
        let read = |sub: &str| answer(sub, fill);
        let session: Session = serde_json::from_value(read("")).expect("session");
        assert_eq!(session.session_id, "x");
        let cars: Vec<ClassifiedCar> =
            serde_json::from_value(read("/classification")).expect("classification");
        let stops: Vec<Stop> = serde_json::from_value(read("/pitstops")).expect("pitstops");
        let anomalies: Vec<Anomaly> =
            serde_json::from_value(read("/anomalies")).expect("anomalies");
        let strategy: Strategy = serde_json::from_value(read("/strategy")).expect("strategy");
        assert_eq!(
            (
                cars.len(),
                stops.len(),
                anomalies.len(),
                strategy.cars.len()
            ),
            (1, 1, 1, 1)
        );
        let car = &strategy.cars[0];
        let full = fill == Fill::Full;
        assert_eq!(session.leader.is_some(), full);
        assert_eq!(stops[0].compound_in.is_some(), full);
        assert_eq!(car.rejoin.is_some() && car.window.is_some(), full);
        assert_eq!(car.stint.as_ref().unwrap().compound.is_some(), full);
    }
}
