//! The post-race pipeline's Kubernetes objects: one Job per task attempt (what the
//! scheduler launches) and the season-report CronJob. Jobs run `pitstop job <step>` with
//! the race's datastore settings, restricted like every pod, never retried by Kubernetes
//! (`backoffLimit: 0`: the scheduler owns retries), bounded by the task's deadline, and
//! removed by TTL after they finish.

use super::datastore::{postgres_env, redis_env};
use super::pod::{container_security, env, pod_security, resources};
use super::{Component, labels, meta, name};
use crate::model::{Model, PARTITIONS};
use crate::post_race::Task;
use crate::post_race::scheduler::Launch;
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, SecretKeySelector,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const C: Component = Component::Pipeline;
/// Labels that identify a pipeline Job.
pub const RUN_LABEL: &str = "pitstop.io/run";
pub const TASK_LABEL: &str = "pitstop.io/task";

/// How the run ended, for the final notification task.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub succeeded: bool,
    pub failed_tasks: Vec<String>,
}

fn pipeline_env(m: &Model) -> Vec<EnvVar> {
    let mut e = redis_env(m);
    e.extend(postgres_env(m));
    e.extend([
        env("PITSTOP_STREAM", &m.stream),
        env("PITSTOP_PARTITIONS", PARTITIONS.to_string()),
        env("PITSTOP_SESSION", &m.name),
        env("PITSTOP_LOG_FORMAT", "json"),
        env(
            "PITSTOP_REPORT_URL",
            format!(
                "http://{}.{}.svc:{}/api/v1/sessions/{}/report",
                name(m, Component::Processor),
                m.namespace,
                super::processor::PORT,
                m.name
            ),
        ),
    ]);
    if let Some(r) = &m.post_race.webhook_secret_ref {
        e.push(EnvVar {
            name: "PITSTOP_WEBHOOK_URL".into(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: r.name.clone(),
                    key: r.key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    e
}

fn pod(m: &Model, args: Vec<String>, task: Option<&Task>, extra_env: Vec<EnvVar>) -> PodSpec {
    let mut e = pipeline_env(m);
    e.extend(extra_env);
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
            ..Container::default()
        }],
        ..PodSpec::default()
    }
}

/// The Job of one task attempt.
pub fn job(m: &Model, run: i32, task: &Task, l: &Launch, outcome: Option<&Outcome>) -> Job {
    let mut args = vec!["job".to_string(), task.step.clone()];
    args.extend(task.args.iter().cloned());
    if let Some(o) = outcome.filter(|_| l.finally && task.step == "notify") {
        args.extend([
            "--outcome".into(),
            if o.succeeded { "succeeded" } else { "failed" }.into(),
        ]);
        if !o.failed_tasks.is_empty() {
            args.extend(["--failed-tasks".into(), o.failed_tasks.join(",")]);
        }
    }
    let mut metadata = meta(m, C, l.job.clone());
    let mut l_labels = labels(m, C);
    l_labels.insert(RUN_LABEL.into(), run.to_string());
    l_labels.insert(TASK_LABEL.into(), task.name.clone());
    metadata.labels = Some(l_labels.clone());
    let attempt_env = vec![
        env("PITSTOP_RUN_ID", format!("{}-{run}", m.name)),
        env("PITSTOP_TASK", &task.name),
        env("PITSTOP_ATTEMPT", l.attempt.to_string()),
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
                            vec!["job".into(), "season-report".into()],
                            None,
                            vec![env("PITSTOP_RUN_ID", "season")],
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
