//! Pipeline DAGs: the grand-prix default, and validation that rejects duplicate names,
//! unknown dependencies and steps, and cycles before anything runs, naming the tasks.

use crate::api::{PostRaceSpec, TaskSpec};
use k8s_openapi::api::core::v1::ResourceRequirements;
use std::collections::{BTreeMap, BTreeSet};

/// Steps `pitstop job` runs (`pitstop_workloads::jobs::Step`; a test keeps them equal).
pub const STEPS: [&str; 7] = [
    "collect-telemetry",
    "persist-teams",
    "data-quality",
    "aggregate",
    "report",
    "notify",
    "season-report",
];

/// A validated task.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub name: String,
    pub step: String,
    pub args: Vec<String>,
    pub depends_on: Vec<String>,
    pub retries: i32,
    pub backoff_s: i64,
    pub deadline_s: i64,
    pub resources: Option<ResourceRequirements>,
}

/// A validated pipeline: tasks in a topological order (declaration order among equals),
/// then the always-run tasks.
#[derive(Clone, Debug, PartialEq)]
pub struct Dag {
    pub tasks: Vec<Task>,
    pub finally: Vec<Task>,
    pub parallelism: usize,
}

impl Dag {
    /// Every task, DAG first, then finally.
    pub fn all(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().chain(self.finally.iter())
    }
}

/// Why a pipeline cannot run. The message names the offending tasks.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DagError {
    #[error("postRace: task names used twice: {}", .0.join(", "))]
    Duplicate(Vec<String>),
    #[error("postRace: unknown dependencies: {}", .0.iter().map(|(t, d)| format!("{t} depends on {d}")).collect::<Vec<_>>().join(", "))]
    UnknownDependency(Vec<(String, String)>),
    #[error("postRace: unknown steps: {} (steps: {})", .0.iter().map(|(t, s)| format!("{t} runs {s:?}")).collect::<Vec<_>>().join(", "), STEPS.join(", "))]
    UnknownStep(Vec<(String, String)>),
    #[error("postRace: dependency cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    #[error("postRace: finally tasks cannot depend on others: {}", .0.join(", "))]
    FinallyDependsOn(Vec<String>),
}

fn spec(name: String, step: &str, args: Vec<String>, depends_on: Vec<String>) -> TaskSpec {
    TaskSpec {
        name,
        step: step.into(),
        args,
        depends_on,
        retries: 2,
        retry_backoff_seconds: 10,
        deadline_seconds: 900,
        resources: None,
    }
}

/// A task-name-safe form of a team name.
fn slug(team: &str) -> String {
    let s: String = team
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .take(22)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The grand-prix DAG: collect the telemetry, persist every team in parallel, check the
/// data, aggregate, then report and notify side by side.
pub fn grand_prix(teams: &[String]) -> Vec<TaskSpec> {
    let mut t = vec![spec(
        "collect-telemetry".into(),
        "collect-telemetry",
        vec![],
        vec![],
    )];
    let mut persisted = Vec::new();
    for team in teams {
        let name = format!("persist-{}", slug(team));
        persisted.push(name.clone());
        t.push(spec(
            name,
            "persist-teams",
            vec!["--team".into(), team.clone()],
            vec!["collect-telemetry".into()],
        ));
    }
    t.push(spec(
        "data-quality".into(),
        "data-quality",
        vec![],
        persisted,
    ));
    t.push(spec(
        "aggregate".into(),
        "aggregate",
        vec![],
        vec!["data-quality".into()],
    ));
    t.push(spec(
        "report".into(),
        "report",
        vec![],
        vec!["aggregate".into()],
    ));
    t.push(spec(
        "notify".into(),
        "notify",
        vec![],
        vec!["aggregate".into()],
    ));
    t
}

/// The default always-run task: announce the run's outcome.
pub fn on_exit() -> Vec<TaskSpec> {
    vec![spec("on-exit".into(), "notify", vec![], vec![])]
}

fn task(s: &TaskSpec) -> Task {
    Task {
        name: s.name.clone(),
        step: s.step.clone(),
        args: s.args.clone(),
        depends_on: s.depends_on.clone(),
        retries: s.retries.max(0),
        backoff_s: s.retry_backoff_seconds.max(1) as i64,
        deadline_s: s.deadline_seconds.max(1) as i64,
        resources: s.resources.clone(),
    }
}

/// Finds one cycle among `names` (each with its dependencies), as a path that returns to
/// its start.
fn find_cycle(deps: &BTreeMap<&str, Vec<&str>>) -> Option<Vec<String>> {
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut c: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for d in deps.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, deps, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    for n in deps.keys() {
        if let Some(c) = visit(n, deps, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// Validates a pipeline (the default one when `spec.tasks` is empty). `teams` are the
/// race's teams, for the default DAG's fan-out.
pub fn validate(spec: &PostRaceSpec, teams: &[String]) -> Result<Dag, DagError> {
    let tasks = if spec.tasks.is_empty() {
        grand_prix(teams)
    } else {
        spec.tasks.clone()
    };
    let finally = spec.finally.clone().unwrap_or_else(on_exit);
    let mut seen = BTreeSet::new();
    let dup: BTreeSet<String> = tasks
        .iter()
        .chain(&finally)
        .filter(|t| !seen.insert(t.name.clone()))
        .map(|t| t.name.clone())
        .collect();
    if !dup.is_empty() {
        return Err(DagError::Duplicate(dup.into_iter().collect()));
    }
    let bad_steps: Vec<(String, String)> = tasks
        .iter()
        .chain(&finally)
        .filter(|t| !STEPS.contains(&t.step.as_str()))
        .map(|t| (t.name.clone(), t.step.clone()))
        .collect();
    if !bad_steps.is_empty() {
        return Err(DagError::UnknownStep(bad_steps));
    }
    let names: BTreeSet<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let unknown: Vec<(String, String)> = tasks
        .iter()
        .flat_map(|t| {
            t.depends_on
                .iter()
                .filter(|d| !names.contains(d.as_str()))
                .map(|d| (t.name.clone(), d.clone()))
        })
        .collect();
    if !unknown.is_empty() {
        return Err(DagError::UnknownDependency(unknown));
    }
    let finally_deps: Vec<String> = finally
        .iter()
        .filter(|t| !t.depends_on.is_empty())
        .map(|t| t.name.clone())
        .collect();
    if !finally_deps.is_empty() {
        return Err(DagError::FinallyDependsOn(finally_deps));
    }
    // Kahn's algorithm, picking the earliest declared ready task each time.
    let mut order: Vec<Task> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while order.len() < tasks.len() {
        let next = tasks.iter().find(|t| {
            !placed.contains(t.name.as_str())
                && t.depends_on.iter().all(|d| placed.contains(d.as_str()))
        });
        match next {
            Some(t) => {
                placed.insert(&t.name);
                order.push(task(t));
            }
            None => {
                let rest: BTreeMap<&str, Vec<&str>> = tasks
                    .iter()
                    .filter(|t| !placed.contains(t.name.as_str()))
                    .map(|t| {
                        (
                            t.name.as_str(),
                            t.depends_on.iter().map(String::as_str).collect(),
                        )
                    })
                    .collect();
                let cycle = find_cycle(&rest)
                    .unwrap_or_else(|| rest.keys().map(|s| s.to_string()).collect());
                return Err(DagError::Cycle(cycle));
            }
        }
    }
    Ok(Dag {
        tasks: order,
        finally: finally.iter().map(task).collect(),
        parallelism: spec.parallelism.max(1) as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, step: &str, deps: &[&str]) -> TaskSpec {
        spec(
            name.into(),
            step,
            vec![],
            deps.iter().map(|d| d.to_string()).collect(),
        )
    }

    fn with(tasks: Vec<TaskSpec>) -> PostRaceSpec {
        PostRaceSpec {
            tasks,
            ..PostRaceSpec::default()
        }
    }

    /// The default DAG fans out one persist task per team and fans back in.
    #[test]
    fn grand_prix_fans_out_per_team() {
        let teams = vec!["Ferrari".to_string(), "Red Bull Racing".to_string()];
        let dag = validate(&PostRaceSpec::default(), &teams).unwrap();
        let names: Vec<&str> = dag.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "collect-telemetry",
                "persist-ferrari",
                "persist-red-bull-racing",
                "data-quality",
                "aggregate",
                "report",
                "notify"
            ]
        );
        let dq = &dag.tasks[3];
        assert_eq!(
            dq.depends_on,
            ["persist-ferrari", "persist-red-bull-racing"]
        );
        assert_eq!(dag.tasks[2].args, ["--team", "Red Bull Racing"]);
        assert_eq!(dag.finally[0].name, "on-exit");
        assert_eq!(dag.parallelism, 3);
    }

    /// Declaration order does not matter: dependencies come first.
    #[test]
    fn order_is_topological() {
        let dag = validate(
            &with(vec![
                t("c", "aggregate", &["b"]),
                t("b", "data-quality", &["a"]),
                t("a", "collect-telemetry", &[]),
            ]),
            &[],
        )
        .unwrap();
        let names: Vec<&str> = dag.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    /// Each kind of invalid DAG is rejected, naming the tasks involved.
    #[test]
    fn invalid_dags_are_rejected_with_names() {
        let cases: Vec<(Vec<TaskSpec>, &str)> = vec![
            (
                vec![t("a", "report", &[]), t("a", "notify", &[])],
                "task names used twice: a",
            ),
            (
                vec![t("a", "report", &["ghost"])],
                "unknown dependencies: a depends on ghost",
            ),
            (
                vec![t("a", "train-model", &[])],
                "unknown steps: a runs \"train-model\"",
            ),
            (
                vec![
                    t("start", "collect-telemetry", &[]),
                    t("x", "report", &["start", "z"]),
                    t("y", "report", &["x"]),
                    t("z", "report", &["y"]),
                ],
                "dependency cycle: x → z → y → x",
            ),
            (
                vec![t("self", "report", &["self"])],
                "dependency cycle: self → self",
            ),
        ];
        for (tasks, message) in cases {
            let err = validate(&with(tasks), &[]).unwrap_err();
            assert!(err.to_string().contains(message), "{err} ∌ {message}");
        }
        let mut s = with(vec![t("a", "report", &[])]);
        s.finally = Some(vec![t("bye", "notify", &["a"])]);
        assert_eq!(
            validate(&s, &[]).unwrap_err(),
            DagError::FinallyDependsOn(vec!["bye".into()])
        );
        let mut s = with(vec![t("on-exit", "report", &[])]);
        s.finally = None;
        assert!(matches!(validate(&s, &[]), Err(DagError::Duplicate(_))));
    }

    #[test]
    fn team_slugs_are_task_names() {
        assert_eq!(slug("Red Bull Racing"), "red-bull-racing");
        assert_eq!(slug("Haas F1 Team"), "haas-f1-team");
        assert_eq!(
            slug("A very long team name indeed, really"),
            "a-very-long-team-name"
        );
    }
}
