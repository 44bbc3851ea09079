//! Table tests of the post-race planner, a pure function: the recorded run, the two
//! annotations, the race's end and the observed Jobs go in as plain values at a fixed
//! `now`; the status, the Jobs to create, the patches, Events, metrics and requeue come
//! out and are compared exactly. No cluster, no clock.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use pitstop_operator::api::{PipelineStatus, RunPhase, RunSummary, TaskPhase, TaskStatus};
use pitstop_operator::event::Event;
use pitstop_operator::model::{Defaults, Model, validate};
use pitstop_operator::plugin::request::{Kind, Outcome, answer};
use pitstop_operator::post_race::plan::{
    self, Inputs, KeepJob, Observation, Plan, Requested, job_state,
};
use pitstop_operator::post_race::scheduler::JobState;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

/// A recorded time, as the status has it.
fn ts(s: i64) -> Option<String> {
    Some(at(s).to_string())
}

/// Two tasks (collect: one retry after 10 s; dq: none) and the default final `on-exit`
/// (notify), plus `extra` lines of `postRace`.
fn model(extra: &str) -> Model {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata:\n  name: monza\n  namespace: racing\n  uid: race-uid-1\nspec:\n  circuit: monza\n  postRace:\n    tasks:\n    - {{name: collect, step: collect-telemetry, retries: 1, retryBackoffSeconds: 10}}\n    - {{name: dq, step: data-quality, dependsOn: [collect], retries: 0}}\n{}",
        extra
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let race = serde_yaml::from_str(&yaml).unwrap();
    let secrets = BTreeMap::from([("slack".to_string(), BTreeSet::from(["url".to_string()]))]);
    validate(&race, &secrets, &Defaults::default()).unwrap()
}

fn task(name: &str, phase: TaskPhase, attempts: i32, job: Option<&str>) -> TaskStatus {
    TaskStatus {
        name: name.into(),
        phase,
        attempts,
        job: job.map(str::to_string),
        ..TaskStatus::default()
    }
}

/// Run `run` in `phase` with `tasks`, started at 0 by the annotation value "a".
fn run(run: i32, phase: RunPhase, tasks: Vec<TaskStatus>) -> PipelineStatus {
    PipelineStatus {
        run,
        phase,
        trigger: "annotation".into(),
        started_at: ts(0),
        tasks,
        run_request: Some("a".into()),
        ..PipelineStatus::default()
    }
}

fn failed_job(end: i64) -> JobState {
    JobState {
        failed: true,
        started: Some(at(0)),
        finished: Some(at(end)),
        message: "BackoffLimitExceeded: Job has reached the specified backoff limit".into(),
        ..JobState::default()
    }
}

fn succeeded_job(end: i64) -> JobState {
    JobState {
        succeeded: true,
        started: Some(at(0)),
        finished: Some(at(end)),
        ..JobState::default()
    }
}

/// Both phases at `now`, with `jobs` observed.
fn step(m: &Model, input: Inputs, jobs: &[(&str, JobState)], now: i64) -> Plan {
    let jobs: BTreeMap<String, JobState> = jobs
        .iter()
        .map(|(n, j)| (n.to_string(), j.clone()))
        .collect();
    plan::plan(m, plan::requests(m, &input, at(now)), &jobs, at(now))
}

fn names(jobs: &[Job]) -> Vec<&str> {
    jobs.iter()
        .map(|j| j.metadata.name.as_deref().unwrap())
        .collect()
}

fn args(j: &Job) -> Vec<String> {
    j.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .args
        .clone()
        .unwrap()
}

fn normal(reason: &'static str, note: &str) -> Event {
    Event::normal(reason, note.into(), "Pipeline")
}

fn warning(reason: &'static str, note: &str) -> Event {
    Event::warning(reason, note.into(), "Pipeline")
}

/// A new value of the run annotation starts run 1 and its first task; the same value
/// again is not a new request.
#[test]
fn annotation_starts_a_run_once() {
    let m = model("enabled: false");
    let input = Inputs {
        run_request: Some("a"),
        ..Inputs::default()
    };
    let requested = plan::requests(&m, &input, at(0));
    let started = PipelineStatus {
        run_request: Some("a".into()),
        ..run(1, RunPhase::Running, vec![])
    };
    assert_eq!(
        requested,
        Requested {
            status: Some(started),
            events: vec![normal(
                "PipelineStarted",
                "run 1 started by pitstop.io/run-pipeline"
            )],
            observe: Some(1),
        }
    );
    let p = plan::plan(&m, requested, &BTreeMap::new(), at(0));
    assert_eq!(names(&p.create), ["monza-p1-collect-0-1"]);
    assert_eq!(
        p.events[1..],
        [normal(
            "TaskStarted",
            "collect (collect-telemetry) attempt 1 started"
        )]
    );
    assert_eq!(p.requeue, Some(Duration::from_secs(15)));
    assert!(p.keep.is_empty() && p.observations.is_empty());
    let status = p.status.unwrap();
    assert_eq!(status.tasks[0].phase, TaskPhase::Running);

    let again = plan::requests(
        &m,
        &Inputs {
            prior: Some(&status),
            ..input
        },
        at(1),
    );
    assert_eq!(again.status.as_ref(), Some(&status), "acted on already");
    assert!(again.events.is_empty());
}

/// A run request while a run runs is refused, recorded and said: one run at a time.
#[test]
fn run_request_refused_while_running() {
    let m = model("");
    let prior = run(
        1,
        RunPhase::Running,
        vec![task(
            "collect",
            TaskPhase::Running,
            1,
            Some("monza-p1-collect-0-1"),
        )],
    );
    let requested = plan::requests(
        &m,
        &Inputs {
            prior: Some(&prior),
            run_request: Some("again"),
            ..Inputs::default()
        },
        at(3),
    );
    let why = "pitstop.io/run-pipeline=again refused: run 1 is still running (one run at a time)";
    assert_eq!(
        requested,
        Requested {
            status: Some(PipelineStatus {
                request_refused: Some(why.into()),
                run_request: Some("again".into()),
                ..prior.clone()
            }),
            events: vec![warning("PipelineRunRefused", why)],
            observe: Some(1),
        }
    );
}

/// A retry of a failed run keeps what succeeded, starts the rest in round 1 and clears
/// an earlier refusal.
#[test]
fn retry_from_failed_starts_a_new_round() {
    let m = model("");
    let prior = PipelineStatus {
        finished_at: ts(9),
        request_refused: Some("an earlier refusal".into()),
        ..run(
            1,
            RunPhase::Failed,
            vec![
                task(
                    "collect",
                    TaskPhase::Succeeded,
                    1,
                    Some("monza-p1-collect-0-1"),
                ),
                task("dq", TaskPhase::Failed, 1, Some("monza-p1-dq-0-1")),
                task(
                    "on-exit",
                    TaskPhase::Succeeded,
                    1,
                    Some("monza-p1-on-exit-0-1"),
                ),
            ],
        )
    };
    let input = Inputs {
        prior: Some(&prior),
        retry_request: Some("1"),
        ..Inputs::default()
    };
    let requested = plan::requests(&m, &input, at(10));
    let round_1 = |name: &str| TaskStatus {
        name: name.into(),
        round: 1,
        ..TaskStatus::default()
    };
    assert_eq!(
        requested,
        Requested {
            status: Some(PipelineStatus {
                phase: RunPhase::Running,
                trigger: "retry".into(),
                finished_at: None,
                request_refused: None,
                retry_request: Some("1".into()),
                tasks: vec![prior.tasks[0].clone(), round_1("dq"), round_1("on-exit")],
                ..prior.clone()
            }),
            events: vec![normal(
                "PipelineRetried",
                "run 1 retried from its failed tasks"
            )],
            observe: Some(1),
        }
    );
    let p = step(&m, input, &[], 10);
    assert_eq!(names(&p.create), ["monza-p1-dq-1-1"]);
}

/// A retry with nothing to retry is refused with the reason, and recorded.
#[test]
fn retry_refused() {
    let m = model("enabled: false");
    let running = run(2, RunPhase::Running, vec![]);
    let succeeded = run(2, RunPhase::Succeeded, vec![]);
    for (prior, why) in [
        (None, "no run to retry"),
        (Some(&running), "run 2 is still running"),
        (Some(&succeeded), "run 2 succeeded, nothing to retry"),
    ] {
        let requested = plan::requests(
            &m,
            &Inputs {
                prior,
                retry_request: Some("x"),
                ..Inputs::default()
            },
            at(5),
        );
        let why = format!("pitstop.io/retry-pipeline=x refused: {why}");
        let status = requested.status.clone().unwrap();
        assert_eq!(status.request_refused.as_deref(), Some(why.as_str()));
        assert_eq!(status.retry_request.as_deref(), Some("x"));
        assert_eq!(status.run, prior.map_or(0, |p| p.run), "{why}");
        assert_eq!(requested.events, [warning("PipelineRetryRefused", &why)]);
        if prior.is_none() {
            assert_eq!(requested.observe, None, "no run 0 to schedule");
            let p = plan::plan(&m, requested, &BTreeMap::new(), at(5));
            assert!(p.create.is_empty(), "no Jobs for a run that never started");
        }
    }
}

/// A retry refused before any run leaves run 0 in the status; a run asked for next is
/// not refused as "run 0 is still running".
#[test]
fn a_refused_retry_before_any_run_does_not_hold_up_a_run() {
    let m = model("enabled: false");
    let refused = plan::requests(
        &m,
        &Inputs {
            retry_request: Some("x"),
            ..Inputs::default()
        },
        at(5),
    );
    let prior = refused.status.unwrap();
    assert_eq!((prior.run, prior.phase), (0, RunPhase::Running));
    let requested = plan::requests(
        &m,
        &Inputs {
            prior: Some(&prior),
            retry_request: Some("x"),
            run_request: Some("y"),
            ..Inputs::default()
        },
        at(6),
    );
    let status = requested.status.unwrap();
    assert_eq!((status.run, status.phase), (1, RunPhase::Running));
    assert_eq!(status.request_refused, None);
    assert_eq!(
        requested.events,
        [normal(
            "PipelineStarted",
            "run 1 started by pitstop.io/run-pipeline"
        )]
    );
    assert_eq!(requested.observe, Some(1));
}

/// Both annotations set in one reconcile (the operator was down): the retry is judged
/// against the run that existed, then the run request; the status keeps each refusal and
/// the plugin reads each request's own answer.
#[test]
fn a_retry_and_a_run_asked_together_are_each_answered() {
    let m = model("enabled: false");
    let failed = run(
        2,
        RunPhase::Failed,
        vec![task("dq", TaskPhase::Failed, 1, None)],
    );
    let running = run(2, RunPhase::Running, vec![]);
    let (retry_refused, run_refused) = (
        "pitstop.io/retry-pipeline=x refused: run 2 is still running",
        "pitstop.io/run-pipeline=y refused: run 2 is still running (one run at a time)",
    );
    let both = format!("{retry_refused}; {run_refused}");
    for (prior, events, refused) in [
        (
            None,
            vec![
                warning(
                    "PipelineRetryRefused",
                    "pitstop.io/retry-pipeline=x refused: no run to retry",
                ),
                normal(
                    "PipelineStarted",
                    "run 1 started by pitstop.io/run-pipeline",
                ),
            ],
            "pitstop.io/retry-pipeline=x refused: no run to retry",
        ),
        (
            Some(&failed),
            vec![
                normal("PipelineRetried", "run 2 retried from its failed tasks"),
                warning(
                    "PipelineRunRefused",
                    "pitstop.io/run-pipeline=y refused: run 2 is still running (one run at a time)",
                ),
            ],
            "pitstop.io/run-pipeline=y refused: run 2 is still running (one run at a time)",
        ),
        (
            Some(&running),
            vec![
                warning("PipelineRetryRefused", retry_refused),
                warning("PipelineRunRefused", run_refused),
            ],
            both.as_str(),
        ),
    ] {
        let requested = plan::requests(
            &m,
            &Inputs {
                prior,
                retry_request: Some("x"),
                run_request: Some("y"),
                ..Inputs::default()
            },
            at(5),
        );
        assert_eq!(requested.events, events);
        let status = requested.status.unwrap();
        assert_eq!(status.request_refused.as_deref(), Some(refused));
        let run = prior.map_or(1, |p| p.run);
        assert_eq!((status.run, status.phase), (run, RunPhase::Running));
        assert_eq!(status.retry_request.as_deref(), Some("x"));
        assert_eq!(status.run_request.as_deref(), Some("y"));
        // The plugin reads each request's own answer out of the status.
        let says = |kind, value| match answer(kind, value, Some(&status)) {
            Some(Outcome::Refused(why)) => why,
            other => format!("{other:?}"),
        };
        let (retry, run) = (says(Kind::Retry, "x"), says(Kind::Run, "y"));
        if prior == Some(&running) {
            assert_eq!((retry.as_str(), run.as_str()), (retry_refused, run_refused));
        } else if prior.is_none() {
            assert_eq!(
                retry,
                "pitstop.io/retry-pipeline=x refused: no run to retry"
            );
            assert_eq!(run, "Some(Started { run: 1 })");
        } else {
            assert_eq!(retry, "Some(Retried { run: 2, tasks: [\"dq\"] })");
            assert_eq!(run, run_refused);
        }
    }
}

/// The race's end starts run 1 when enabled and no run has happened; never a second one.
#[test]
fn race_finished_starts_the_first_run() {
    let done = run(1, RunPhase::Succeeded, vec![]);
    for (extra, prior, started) in [
        ("", None, true),
        ("enabled: false", None, false),
        ("", Some(&done), false),
    ] {
        let m = model(extra);
        let requested = plan::requests(
            &m,
            &Inputs {
                prior,
                race_finished: true,
                ..Inputs::default()
            },
            at(0),
        );
        if started {
            assert_eq!(
                requested,
                Requested {
                    status: Some(PipelineStatus {
                        trigger: "race-finished".into(),
                        run_request: None,
                        ..run(1, RunPhase::Running, vec![])
                    }),
                    events: vec![normal(
                        "PipelineStarted",
                        "run 1 started: the race has finished"
                    )],
                    observe: Some(1),
                }
            );
        } else {
            assert_eq!(
                requested,
                Requested {
                    status: prior.cloned(),
                    events: vec![],
                    observe: None,
                },
                "{extra:?} {prior:?}"
            );
        }
    }
}

/// A failed attempt with a retry left: its Job is kept a week, the failure is counted and
/// said, and the step looks again when the backoff ends.
#[test]
fn failed_attempt_with_a_retry_left() {
    let m = model("");
    let prior = run(
        1,
        RunPhase::Running,
        vec![task(
            "collect",
            TaskPhase::Running,
            1,
            Some("monza-p1-collect-0-1"),
        )],
    );
    let input = Inputs {
        prior: Some(&prior),
        ..Inputs::default()
    };
    let p = step(&m, input, &[("monza-p1-collect-0-1", failed_job(5))], 5);
    assert!(p.create.is_empty());
    assert_eq!(
        p.keep,
        [KeepJob {
            job: "monza-p1-collect-0-1".into(),
            ttl_seconds_after_finished: 7 * 24 * 3600,
        }]
    );
    assert_eq!(
        p.observations,
        [Observation::TaskFailure {
            step: "collect-telemetry".into()
        }]
    );
    assert_eq!(
        p.events,
        [warning(
            "TaskRetrying",
            "collect attempt 1 failed, will retry: BackoffLimitExceeded: Job has reached the specified backoff limit"
        )]
    );
    assert_eq!(p.requeue, Some(Duration::from_secs(10)));
    let collect = &p.status.unwrap().tasks[0];
    assert_eq!(
        (collect.phase, collect.retry_at.clone()),
        (TaskPhase::Pending, ts(15))
    );
}

/// The last attempt failing: the task fails, its dependant is skipped, and the final task
/// starts and is told the outcome.
#[test]
fn failed_attempt_with_no_retry_left() {
    let m = model("");
    let prior = run(
        1,
        RunPhase::Running,
        vec![task(
            "collect",
            TaskPhase::Running,
            2,
            Some("monza-p1-collect-0-2"),
        )],
    );
    let input = Inputs {
        prior: Some(&prior),
        ..Inputs::default()
    };
    let p = step(&m, input, &[("monza-p1-collect-0-2", failed_job(30))], 30);
    assert_eq!(names(&p.create), ["monza-p1-on-exit-0-1"]);
    assert_eq!(
        args(&p.create[0]),
        [
            "job",
            "notify",
            "--outcome",
            "failed",
            "--failed-tasks",
            "collect,dq"
        ]
    );
    assert_eq!(
        p.keep,
        [KeepJob {
            job: "monza-p1-collect-0-2".into(),
            ttl_seconds_after_finished: 7 * 24 * 3600,
        }]
    );
    assert_eq!(
        p.events,
        [
            warning(
                "TaskFailed",
                "collect attempt 2 failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
            ),
            normal("TaskSkipped", "dq skipped: collect did not succeed"),
            normal("TaskStarted", "on-exit (notify) attempt 1 started"),
        ]
    );
    assert_eq!(p.requeue, Some(Duration::from_secs(15)));
    assert_eq!(p.status.unwrap().phase, RunPhase::Running);
}

/// The final task's end finishes the run: succeeded or failed, counted, said, recorded
/// with its end, and no more requeue; without a webhook the notification was only logged.
#[test]
fn run_finishes() {
    let on_exit = || {
        let mut t = task(
            "on-exit",
            TaskPhase::Running,
            1,
            Some("monza-p1-on-exit-0-1"),
        );
        t.started_at = ts(10);
        t
    };
    let logged =
        "on-exit succeeded in 3.0 s; no webhook configured, the notification was only logged";
    for (extra, collect, dq, phase, note, last_event) in [
        (
            "",
            TaskPhase::Succeeded,
            TaskPhase::Succeeded,
            RunPhase::Succeeded,
            logged,
            normal("PipelineSucceeded", "run 1 succeeded"),
        ),
        (
            "webhookSecretRef: {name: slack, key: url}",
            TaskPhase::Succeeded,
            TaskPhase::Succeeded,
            RunPhase::Succeeded,
            "on-exit succeeded in 3.0 s",
            normal("PipelineSucceeded", "run 1 succeeded"),
        ),
        (
            "",
            TaskPhase::Failed,
            TaskPhase::Skipped,
            RunPhase::Failed,
            logged,
            warning(
                "PipelineFailed",
                "run 1 failed: collect, dq did not succeed",
            ),
        ),
    ] {
        let m = model(extra);
        let prior = run(
            1,
            RunPhase::Running,
            vec![
                task("collect", collect, 1, Some("monza-p1-collect-0-1")),
                task("dq", dq, 1, Some("monza-p1-dq-0-1")),
                on_exit(),
            ],
        );
        let input = Inputs {
            prior: Some(&prior),
            ..Inputs::default()
        };
        let p = step(
            &m,
            input,
            &[("monza-p1-on-exit-0-1", succeeded_job(13))],
            20,
        );
        assert_eq!(
            p.events,
            [normal("TaskSucceeded", note), last_event],
            "{extra:?}"
        );
        let result = if phase == RunPhase::Succeeded {
            "succeeded"
        } else {
            "failed"
        };
        assert_eq!(
            p.observations,
            [
                Observation::TaskDuration {
                    step: "notify".into(),
                    seconds: 3.0
                },
                Observation::RunFinished { result },
            ]
        );
        let status = p.status.unwrap();
        assert_eq!((status.phase, status.finished_at), (phase, ts(20)));
        assert_eq!(p.requeue, None);
        assert!(p.create.is_empty() && p.keep.is_empty());
    }
}

/// A new run moves the last one to the history, newest first, keeping `historyLimit`.
#[test]
fn history_is_truncated() {
    let m = model("historyLimit: 2");
    let summary = |run: i32| RunSummary {
        run,
        phase: RunPhase::Succeeded,
        trigger: "race-finished".into(),
        ..RunSummary::default()
    };
    let prior = PipelineStatus {
        finished_at: ts(9),
        history: vec![summary(2), summary(1)],
        ..run(
            3,
            RunPhase::Failed,
            vec![
                task("collect", TaskPhase::Failed, 2, None),
                task("dq", TaskPhase::Skipped, 0, None),
                task("on-exit", TaskPhase::Succeeded, 1, None),
            ],
        )
    };
    let requested = plan::requests(
        &m,
        &Inputs {
            prior: Some(&prior),
            run_request: Some("b"),
            ..Inputs::default()
        },
        at(60),
    );
    let status = requested.status.unwrap();
    assert_eq!(status.run, 4);
    assert_eq!(
        status.history,
        [
            RunSummary {
                run: 3,
                phase: RunPhase::Failed,
                trigger: "annotation".into(),
                started_at: ts(0),
                finished_at: ts(9),
                failed_tasks: vec!["collect".into(), "dq".into()],
            },
            summary(2),
        ]
    );
}

/// An invalid DAG runs nothing: the recorded run stays as it was, requests wait.
#[test]
fn invalid_dag_plans_nothing() {
    let mut m = model("");
    m.post_race_dag = Err(pitstop_operator::model::PipelineError {
        reason: "InvalidPipeline",
        message: "postRace: dependency cycle: a → b → a".into(),
    });
    let prior = run(1, RunPhase::Running, vec![]);
    let input = Inputs {
        prior: Some(&prior),
        run_request: Some("new"),
        race_finished: true,
        ..Inputs::default()
    };
    assert_eq!(
        step(&m, input, &[], 5),
        Plan {
            status: Some(prior.clone()),
            ..Plan::default()
        }
    );
}

/// A Job's status as the scheduler reads it: a Failed condition is a failure with its
/// reason and message, ended at the condition's transition.
#[test]
fn job_state_reads_the_failed_condition() {
    let j: Job = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "monza-p1-collect-0-1"},
        "status": {"startTime": "2027-01-15T08:00:00Z", "conditions": [
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline",
             "lastTransitionTime": "2027-01-15T08:15:00Z"}]}
    }))
    .unwrap();
    assert_eq!(
        job_state(&j),
        JobState {
            active: false,
            succeeded: false,
            failed: true,
            started: Some(at(0)),
            finished: Some(at(900)),
            message: "DeadlineExceeded: Job was active longer than specified deadline".into(),
        }
    );
}
