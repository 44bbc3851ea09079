//! Table tests of the post-race scheduler: a pure function, driven here by a tiny
//! simulated cluster that runs the Jobs it asks for and reports them back.

use k8s_openapi::jiff::Timestamp;
use pitstop_operator::api::{PostRaceSpec, RunPhase, TaskPhase, TaskSpec, TaskStatus};
use pitstop_operator::post_race::dag::{Dag, validate};
use pitstop_operator::post_race::scheduler::{
    JobState, Schedule, Transition, backoff_s, job_name, retry_from_failed, schedule,
};
use std::collections::BTreeMap;

fn t(name: &str, deps: &[&str]) -> TaskSpec {
    TaskSpec {
        name: name.into(),
        step: "report".into(),
        args: vec![],
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        retries: 2,
        retry_backoff_seconds: 10,
        deadline_seconds: 60,
        resources: None,
    }
}

fn dag(tasks: Vec<TaskSpec>, parallelism: i32) -> Dag {
    validate(
        &PostRaceSpec {
            tasks,
            parallelism,
            ..PostRaceSpec::default()
        },
        &[],
    )
    .unwrap()
}

/// A run in progress: recorded states, the Jobs "in the cluster", a clock.
struct Sim {
    dag: Dag,
    tasks: Vec<TaskStatus>,
    jobs: BTreeMap<String, JobState>,
    now: Timestamp,
    created: Vec<String>,
}

impl Sim {
    fn new(dag: Dag) -> Sim {
        Sim {
            dag,
            tasks: Vec::new(),
            jobs: BTreeMap::new(),
            now: Timestamp::from_second(1_800_000_000).unwrap(),
            created: Vec::new(),
        }
    }

    /// One reconcile: schedule, "create" the Jobs it launches (active).
    fn step(&mut self) -> Schedule {
        let plan = schedule("monza", 1, &self.dag, &self.tasks, &self.jobs, self.now);
        for l in &plan.launch {
            self.created.push(l.task.clone());
            self.jobs.insert(
                l.job.clone(),
                JobState {
                    active: true,
                    started: Some(self.now),
                    ..JobState::default()
                },
            );
        }
        self.tasks = plan.tasks.clone();
        plan
    }

    fn finish(&mut self, task: &str, ok: bool, message: &str) {
        let job = self.phase_job(task);
        let j = self.jobs.get_mut(&job).unwrap();
        *j = JobState {
            active: false,
            succeeded: ok,
            failed: !ok,
            started: j.started,
            finished: Some(self.now),
            message: message.into(),
        };
    }

    fn phase_job(&self, task: &str) -> String {
        self.tasks
            .iter()
            .find(|s| s.name == task)
            .unwrap()
            .job
            .clone()
            .unwrap()
    }

    fn phase(&self, task: &str) -> TaskPhase {
        self.tasks.iter().find(|s| s.name == task).unwrap().phase
    }

    fn running(&self) -> Vec<&str> {
        self.tasks
            .iter()
            .filter(|s| s.phase == TaskPhase::Running)
            .map(|s| s.name.as_str())
            .collect()
    }

    fn wait(&mut self, secs: u64) {
        self.now += std::time::Duration::from_secs(secs);
    }
}

/// Dependencies first; independent tasks side by side; fan-in waits for all.
#[test]
fn ordering_fan_out_and_fan_in() {
    let mut s = Sim::new(dag(
        vec![
            t("collect", &[]),
            t("team-a", &["collect"]),
            t("team-b", &["collect"]),
            t("dq", &["team-a", "team-b"]),
        ],
        3,
    ));
    s.step();
    assert_eq!(s.running(), ["collect"]);
    s.step();
    assert_eq!(s.running(), ["collect"], "nothing new while it runs");
    s.finish("collect", true, "");
    s.step();
    assert_eq!(s.running(), ["team-a", "team-b"], "fan-out");
    s.finish("team-a", true, "");
    s.step();
    assert_eq!(s.running(), ["team-b"], "dq waits for both");
    s.finish("team-b", true, "");
    s.step();
    assert_eq!(s.running(), ["dq"]);
    s.finish("dq", true, "");
    let p = s.step();
    assert_eq!(s.running(), ["on-exit"], "the final task runs last");
    assert_eq!(p.phase, RunPhase::Running);
    s.finish("on-exit", true, "");
    let p = s.step();
    assert_eq!(p.phase, RunPhase::Succeeded);
    assert_eq!(s.created, ["collect", "team-a", "team-b", "dq", "on-exit"]);
}

/// No more than `parallelism` tasks run at once; freed slots are filled in DAG order.
#[test]
fn parallelism_limit() {
    let mut s = Sim::new(dag((1..=5).map(|i| t(&format!("t{i}"), &[])).collect(), 2));
    s.step();
    assert_eq!(s.running(), ["t1", "t2"]);
    s.finish("t2", true, "");
    s.step();
    assert_eq!(s.running(), ["t1", "t3"]);
    s.finish("t1", false, "boom");
    s.finish("t3", true, "");
    s.step();
    assert_eq!(
        s.running(),
        ["t4", "t5"],
        "a task in backoff does not hold a slot"
    );
}

/// A failed attempt is retried after a doubling backoff, capped; the last failure is final.
#[test]
fn retries_with_capped_backoff() {
    let d = dag(vec![t("flaky", &[])], 3);
    let task = &d.tasks[0];
    assert_eq!(
        (backoff_s(task, 2), backoff_s(task, 3), backoff_s(task, 4)),
        (10, 20, 40)
    );
    assert_eq!(backoff_s(task, 30), 300, "capped at five minutes");
    let mut s = Sim::new(d);
    s.step();
    s.finish("flaky", false, "BackoffLimitExceeded: exit 1");
    let p = s.step();
    assert_eq!(s.phase("flaky"), TaskPhase::Pending);
    assert_eq!(
        p.requeue_after_s,
        Some(10),
        "look again when the backoff ends"
    );
    assert!(p.launch.is_empty());
    assert!(matches!(
        &p.transitions[0].1,
        Transition::Failed {
            attempt: 1,
            last: false,
            ..
        }
    ));
    s.wait(9);
    assert!(s.step().launch.is_empty(), "not before the backoff");
    s.wait(1);
    let p = s.step();
    assert_eq!(p.launch[0].attempt, 2);
    assert_eq!(
        p.launch[0].job, "monza-p1-flaky-0-2",
        "each attempt is its own Job"
    );
    s.finish("flaky", false, "exit 1");
    s.step();
    s.wait(20);
    s.step();
    s.finish("flaky", false, "exit 1 again");
    let p = s.step();
    assert_eq!(s.phase("flaky"), TaskPhase::Failed, "retries used up");
    assert!(matches!(
        &p.transitions[0].1,
        Transition::Failed {
            attempt: 3,
            last: true,
            ..
        }
    ));
    let rec = s.tasks.iter().find(|x| x.name == "flaky").unwrap();
    assert_eq!((rec.attempts, rec.message.as_str()), (3, "exit 1 again"));
}

/// An attempt past its deadline (the Job fails with DeadlineExceeded) is a failed attempt.
#[test]
fn deadline_exceeded_is_a_failure() {
    let mut no_retry = t("slow", &[]);
    no_retry.retries = 0;
    let mut s = Sim::new(dag(vec![no_retry, t("after", &["slow"])], 3));
    s.step();
    s.wait(61);
    s.finish(
        "slow",
        false,
        "DeadlineExceeded: Job was active longer than specified deadline",
    );
    s.step();
    assert_eq!(s.phase("slow"), TaskPhase::Failed);
    assert!(s.tasks[0].message.starts_with("DeadlineExceeded"));
    assert_eq!(s.phase("after"), TaskPhase::Skipped);
}

/// A failure skips everything downstream, but not independent branches; the final task
/// still runs, and the run fails naming the tasks.
#[test]
fn failure_skips_downstream_and_finally_still_runs() {
    let mut first = t("collect", &[]);
    first.retries = 0;
    let mut s = Sim::new(dag(
        vec![
            first,
            t("side", &[]),
            t("dq", &["collect"]),
            t("aggregate", &["dq"]),
        ],
        3,
    ));
    s.step();
    s.finish("collect", false, "archive incomplete");
    let p = s.step();
    assert_eq!(s.phase("dq"), TaskPhase::Skipped);
    assert_eq!(s.phase("aggregate"), TaskPhase::Skipped);
    assert_eq!(s.tasks[2].message, "collect did not succeed");
    assert!(p.launch.is_empty(), "side still runs; on-exit waits for it");
    s.finish("side", true, "");
    let p = s.step();
    assert_eq!(p.launch.len(), 1);
    assert!(p.launch[0].finally);
    assert_eq!(p.failed, ["collect", "dq", "aggregate"]);
    s.finish("on-exit", true, "");
    assert_eq!(s.step().phase, RunPhase::Failed);
}

/// Retry from the failed task: what succeeded is kept, the rest runs again in a new round.
#[test]
fn retry_from_failed_reruns_only_what_did_not_succeed() {
    let mut bad = t("dq", &["collect"]);
    bad.retries = 0;
    let d = dag(vec![t("collect", &[]), bad, t("aggregate", &["dq"])], 3);
    let mut s = Sim::new(d.clone());
    s.step();
    s.finish("collect", true, "");
    s.step();
    s.finish("dq", false, "data quality failed: duplicates");
    s.step();
    s.finish("on-exit", true, "");
    assert_eq!(s.step().phase, RunPhase::Failed);

    s.tasks = retry_from_failed(&d, &s.tasks);
    assert_eq!(s.phase("collect"), TaskPhase::Succeeded);
    let p = s.step();
    assert_eq!(p.launch.len(), 1);
    assert_eq!(p.launch[0].task, "dq");
    assert_eq!(p.launch[0].job, "monza-p1-dq-1-1", "round 1, attempt 1");
    s.finish("dq", true, "");
    s.step();
    s.finish("aggregate", true, "");
    s.step();
    s.finish("on-exit", true, "");
    assert_eq!(s.step().phase, RunPhase::Succeeded);
    let collects = s.created.iter().filter(|c| *c == "collect").count();
    assert_eq!(collects, 1, "collect did not run twice");
}

/// A Job deleted while running counts as a failed attempt; one removed by its TTL after
/// finishing changes nothing.
#[test]
fn vanished_jobs() {
    let mut s = Sim::new(dag(vec![t("a", &[]), t("b", &[])], 3));
    s.step();
    let a = s.phase_job("a");
    s.jobs.remove(&a);
    s.finish("b", true, "");
    s.step();
    assert_eq!(s.phase("a"), TaskPhase::Pending);
    assert!(s.tasks[0].message.contains("disappeared"));
    let b = s.phase_job("b");
    s.jobs.remove(&b);
    s.step();
    assert_eq!(s.phase("b"), TaskPhase::Succeeded);
}

#[test]
fn job_names_fit() {
    assert_eq!(
        job_name("monza", 2, "aggregate", 0, 1),
        "monza-p2-aggregate-0-1"
    );
    let long = job_name(
        "a-rather-long-race-name-for-a-grand-prix",
        12,
        "persist-red-bull-racing",
        3,
        2,
    );
    assert!(long.len() <= 52, "{long}");
    assert_ne!(
        long,
        job_name(
            "a-rather-long-race-name-for-a-grand-prix",
            12,
            "persist-red-bull-racing",
            3,
            3
        )
    );
}

/// The operator's step list is the workloads binary's.
#[test]
fn steps_match_the_workloads_binary() {
    let ours: Vec<&str> = pitstop_operator::post_race::dag::STEPS.to_vec();
    let theirs: Vec<&str> = pitstop_workloads::jobs::Step::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(ours, theirs);
}

/// The operator's default teams are the simulator's default grid's, in grid order.
#[test]
fn default_teams_match_the_simulator_grid() {
    let mut teams: Vec<String> = Vec::new();
    for e in pitstop_workloads::sim::grid::default_grid(20) {
        let team = e.info.team.to_string();
        if !teams.contains(&team) {
            teams.push(team);
        }
    }
    assert_eq!(teams, pitstop_operator::model::DEFAULT_TEAMS);
}
