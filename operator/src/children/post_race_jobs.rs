//! The post-race pipeline's Kubernetes objects: one Job per task attempt (what the
//! scheduler launches) and the season-report CronJob. Jobs run `pitstop job <step>` with
//! the race's datastore settings, restricted like every pod, never retried by Kubernetes
//! (`backoffLimit: 0`: the scheduler owns retries), bounded by the task's deadline, and
//! removed by TTL after they finish.

use super::connection::{self, Connection};
use super::meta::{Component, keys, labels, meta, name};
use super::pod::{container_security, env, env_secret, pod_security, resources};
use super::ports;
use crate::model::Model;
use crate::post_race::Task;
use crate::post_race::scheduler::Launch;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pitstop_contract::{commands, env as var, flags};

const C: Component = Component::Pipeline;
/// Labels that identify a pipeline Job.
pub const RUN_LABEL: &str = keys::RUN;
pub const TASK_LABEL: &str = keys::TASK;

/// How the run ended, for the final notification task.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub succeeded: bool,
    pub failed_tasks: Vec<String>,
}

/// The datastores as every step's pod reaches them.
fn datastores(m: &Model) -> Connection {
    connection::redis(m).and(connection::postgres(m))
}

fn pipeline_env(m: &Model) -> Vec<EnvVar> {
    let mut e = datastores(m).env;
    e.extend([
        env(var::STREAM, &m.stream),
        env(var::PARTITIONS, m.partitions.to_string()),
        env(var::SESSION, &m.name),
        env(var::LOG_FORMAT, "json"),
        env(
            var::REPORT_URL,
            format!(
                "http://{}.{}.svc:{}/api/v1/sessions/{}/report",
                name(m, Component::Processor),
                m.namespace,
                ports::PROCESSOR,
                m.name
            ),
        ),
    ]);
    if let Some(r) = &m.post_race.webhook_secret_ref {
        e.push(env_secret(var::WEBHOOK_URL, &r.name, &r.key));
    }
    e
}

fn pod(m: &Model, args: Vec<String>, task: Option<&Task>, extra_env: Vec<EnvVar>) -> PodSpec {
    let mut e = pipeline_env(m);
    e.extend(extra_env);
    let conn = datastores(m);
    PodSpec {
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        security_context: Some(pod_security(65532)),
        containers: vec![Container {
            name: "step".into(),
            image: Some(m.processor_image.clone()),
            args: Some(args),
            env: Some(e),
            resources: Some(resources(
                &task.and_then(|t| t.resources.clone()),
                ("100m", "128Mi"),
                ("1", "512Mi"),
            )),
            security_context: Some(container_security()),
            volume_mounts: conn.container_mounts(),
            ..Container::default()
        }],
        volumes: conn.pod_volumes(),
        ..PodSpec::default()
    }
}

/// The Job of one task attempt.
pub fn job(m: &Model, run: i32, task: &Task, l: &Launch, outcome: Option<&Outcome>) -> Job {
    let mut args = vec![commands::JOB.to_string(), task.step.clone()];
    args.extend(task.args.iter().cloned());
    if let Some(o) = outcome.filter(|_| l.finally && task.step == commands::NOTIFY_STEP) {
        args.extend([
            format!("--{}", flags::OUTCOME),
            if o.succeeded { "succeeded" } else { "failed" }.into(),
        ]);
        if !o.failed_tasks.is_empty() {
            args.extend([
                format!("--{}", flags::FAILED_TASKS),
                o.failed_tasks.join(","),
            ]);
        }
    }
    let mut metadata = meta(m, C, l.job.clone());
    let mut l_labels = labels(m, C);
    l_labels.insert(RUN_LABEL.into(), run.to_string());
    l_labels.insert(TASK_LABEL.into(), task.name.clone());
    metadata.labels = Some(l_labels.clone());
    let attempt_env = vec![
        env(var::RUN_ID, format!("{}-{run}", m.name)),
        env(var::TASK, &task.name),
        env(var::ATTEMPT, l.attempt.to_string()),
    ];
    Job {
        metadata,
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(task.deadline_s),
            // Set for success; the reconciler lengthens it on a failed Job.
            ttl_seconds_after_finished: Some(m.post_race.ttl_seconds_after_success),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(l_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod(m, args, Some(task), attempt_env)),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

/// The season report on `postRace.schedule`: never two at once.
pub fn cron_job(m: &Model) -> Option<CronJob> {
    let schedule = m.post_race.schedule.clone()?;
    let n = format!("{}-season-report", m.name);
    Some(CronJob {
        metadata: meta(m, C, n),
        spec: CronJobSpec {
            schedule,
            concurrency_policy: Some("Forbid".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(m, C)),
                    ..ObjectMeta::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    active_deadline_seconds: Some(3600),
                    ttl_seconds_after_finished: Some(m.post_race.ttl_seconds_after_failure),
                    template: PodTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: Some(labels(m, C)),
                            ..ObjectMeta::default()
                        }),
                        spec: Some(pod(
                            m,
                            vec![commands::JOB.into(), commands::SEASON_REPORT_STEP.into()],
                            None,
                            vec![env(var::RUN_ID, "season")],
                        )),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    })
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    /// A pipeline task's Job and the season-report CronJob: restricted, never retried by
    /// Kubernetes, bounded by the task's deadline, the webhook URL only from its Secret.
    #[test]
    fn pipeline_job_and_season_report() {
        use crate::children::post_race_jobs::{Outcome, cron_job, job};
        use crate::post_race::scheduler::{Launch, job_name};
        let spec = "circuit: monza\npostRace:\n  schedule: \"0 6 * * *\"\n  webhookSecretRef: {name: slack, key: url}";
        let m = validate(&race(spec), &seen(&[("slack", "url")], false), &images()).unwrap();
        let dag = m.post_race_dag.as_ref().unwrap();
        let persist = dag
            .tasks
            .iter()
            .find(|t| t.step == "persist-teams")
            .unwrap();
        let l = Launch {
            task: persist.name.clone(),
            job: job_name("monza", 1, &persist.name, 0, 1),
            attempt: 1,
            round: 0,
            finally: false,
        };
        let j = job(&m, 1, persist, &l, None);
        let spec_ = j.spec.as_ref().unwrap();
        assert_eq!(spec_.backoff_limit, Some(0));
        assert_eq!(spec_.active_deadline_seconds, Some(900));
        let pod = spec_.template.spec.as_ref().unwrap();
        pss::assert_restricted_job(pod, "pipeline job");
        let c = &pod.containers[0];
        assert_eq!(
            c.args.as_deref().unwrap(),
            ["job", "persist-teams", "--team", "McLaren"]
        );
        let hook = c
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "PITSTOP_WEBHOOK_URL")
            .unwrap();
        assert!(
            hook.value.is_none() && hook.value_from.is_some(),
            "from the Secret only"
        );

        let exit = dag.finally.iter().find(|t| t.name == "on-exit").unwrap();
        let l = Launch {
            task: exit.name.clone(),
            job: job_name("monza", 1, "on-exit", 0, 1),
            attempt: 1,
            round: 0,
            finally: true,
        };
        let outcome = Outcome {
            succeeded: true,
            failed_tasks: vec![],
        };
        let e = job(&m, 1, exit, &l, Some(&outcome));
        assert_eq!(
            e.spec.unwrap().template.spec.unwrap().containers[0]
                .args
                .as_deref()
                .unwrap(),
            ["job", "notify", "--outcome", "succeeded"]
        );

        let cj = cron_job(&m).unwrap();
        assert_eq!(cj.spec.schedule, "0 6 * * *");
        assert_eq!(cj.spec.concurrency_policy.as_deref(), Some("Forbid"));
        let cpod = cj
            .spec
            .job_template
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        pss::assert_restricted_job(cpod, "season report");
        assert_eq!(build(&m).cron_jobs.len(), 1);
        assert!(
            children(MINIMAL, &[]).cron_jobs.is_empty(),
            "no schedule, no CronJob"
        );
        golden(
            "pipeline",
            &format!(
                "{}---\n{}",
                serde_yaml::to_string(&j).unwrap(),
                serde_yaml::to_string(&cj).unwrap()
            ),
        );
    }
}
