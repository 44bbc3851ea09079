//! `source.type: openf1`: a Job replaying an OpenF1 session through the processor's
//! `POST /telemetry` (`pitstop replay --openf1-session`), which finishes the session at
//! its end. Kubernetes retries a failed attempt a few times ([`BACKOFF_LIMIT`]): the
//! processor numbers each car's samples, so a retry resumes without counting anything
//! twice.
//!
//! A Job's pod template cannot change, so the Job's name carries a hash of it: a changed
//! setting (speed, URL, image) is a new Job, and pruning removes the old one. It has no
//! TTL: a Job removed after it finished would be created again and replay a finished
//! session, which the processor refuses.

use super::hash::fnv1a;
use super::meta::{Component, labels, meta};
use super::pod::{container_security, env, env_secret, flag, pod_security, resources};
use super::ports;
use super::service::url;
use crate::model::{Model, OpenF1};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pitstop_contract::{commands, env as var, flags};

const C: Component = Component::Replay;
/// Attempts after the first that Kubernetes makes before the Job fails.
pub const BACKOFF_LIMIT: i32 = 3;
/// Longest Job name: a pod adds `-xxxxx` and must stay within 63 characters (the
/// scheduler's Jobs keep the same margin).
const MAX_NAME: usize = 52;

fn args(m: &Model, o: &OpenF1) -> Vec<String> {
    let mut a = vec![
        commands::REPLAY.into(),
        flag(flags::OPENF1_SESSION),
        o.session_key.to_string(),
    ];
    // Without a URL the replay's default, the public API, applies.
    if let Some(u) = &o.url {
        a.extend([flag(flags::OPENF1_URL), u.clone()]);
    }
    a.extend([
        flag(flags::SPEED),
        o.speed.clone(),
        flag(flags::API_URL),
        url(m, Component::Processor, ports::PROCESSOR),
        flag(flags::SESSION),
        m.name.clone(),
    ]);
    a
}

fn template(m: &Model, o: &OpenF1) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(m, C)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            security_context: Some(pod_security(65532)),
            containers: vec![Container {
                name: C.as_str().into(),
                image: Some(o.image.clone()),
                args: Some(args(m, o)),
                env: Some(vec![
                    env_secret(var::API_KEY, &m.api_key.name, &m.api_key.key),
                    env(var::LOG_FORMAT, "json"),
                ]),
                resources: Some(resources(&o.resources, ("100m", "128Mi"), ("1", "512Mi"))),
                security_context: Some(container_security()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    }
}

/// `<race>-replay-<hash of the pod template>`, the race's name shortened to fit.
fn job_name(m: &Model, t: &PodTemplateSpec) -> String {
    let json = serde_json::to_vec(t).expect("a pod template serializes");
    let suffix = format!("-{}-{:08x}", C.as_str(), fnv1a(json) as u32);
    let race: String = m.name.chars().take(MAX_NAME - suffix.len()).collect();
    format!("{}{suffix}", race.trim_end_matches('-'))
}

/// The replay Job.
pub fn job(m: &Model, o: &OpenF1) -> Job {
    let template = template(m, o);
    Job {
        metadata: meta(m, C, job_name(m, &template)),
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    use serde_json::json;

    /// An OpenF1 race: no simulator; one Job running the replay of the contract (the URL
    /// flag only when given, the speed as written, the processor's Service and the
    /// session), the API key from the processor's Secret, retried 3 times by Kubernetes,
    /// without TTL or deadline, restricted; the processor admits its pods.
    #[test]
    fn an_openf1_race_gets_a_replay_job() {
        let c = children(OPENF1, &[]);
        assert!(!names(&c.deployments).contains(&"monza-simulator".to_string()));
        assert!(!names(&c.services).contains(&"monza-simulator".to_string()));
        assert_eq!(c.jobs.len(), 1);
        let job = &c.jobs[0];
        let name = job.metadata.name.as_deref().unwrap();
        assert!(
            name.starts_with("monza-replay-") && name.len() == 21,
            "{name}"
        );
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(3));
        assert_eq!(
            (
                spec.ttl_seconds_after_finished,
                spec.active_deadline_seconds
            ),
            (None, None)
        );
        let pod = spec.template.spec.as_ref().unwrap();
        pss::assert_restricted_job(pod, "replay");
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let ctr = serde_json::to_value(&pod.containers[0]).unwrap();
        assert_eq!(
            ctr["args"],
            json!([
                "replay",
                "--openf1-session",
                "9606",
                "--openf1-url",
                "https://openf1.example.org",
                "--speed",
                "20",
                "--api-url",
                "http://monza-processor.racing.svc:8001",
                "--session",
                "monza"
            ])
        );
        assert_eq!(
            ctr["env"][0]["valueFrom"]["secretKeyRef"],
            json!({"name": "monza-api-key", "key": "api-key", "optional": false})
        );
        let labels = &spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap();
        assert_eq!(labels["app.kubernetes.io/component"], "replay");
        assert_eq!(
            processor_peers(&c)[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
            "replay"
        );
        golden("openf1", &render(&c).0);

        let plain = children("source: {type: openf1, openf1: {sessionKey: 9606}}", &[]);
        let args = plain.jobs[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .args
            .clone()
            .unwrap();
        assert!(
            !args.contains(&"--openf1-url".to_string()),
            "the public API by default"
        );
        let speed = args.iter().position(|a| a == "--speed").unwrap();
        assert_eq!(args[speed + 1], "1", "real time by default");
    }

    /// The Job's name follows its pod template (which a Job cannot change): the same spec
    /// keeps the name, a changed speed makes another; a long race name is shortened so
    /// that the Job's pods' names fit.
    #[test]
    fn the_name_follows_the_template() {
        let name = |spec: &str| children(spec, &[]).jobs[0].metadata.name.clone().unwrap();
        assert_eq!(name(OPENF1), name(OPENF1));
        assert_ne!(
            name(OPENF1),
            name(&OPENF1.replace("speed: 20", "speed: max"))
        );
        let mut long = race(OPENF1);
        long.metadata.name = Some("a-very-long-race-name-for-the-season-opener-at-bahrain".into());
        let m = validate(&long, &seen(&[], false), &images()).unwrap();
        let crate::model::Source::OpenF1(o) = &m.source else {
            panic!("an OpenF1 source");
        };
        let n = super::job(&m, o).metadata.name.unwrap();
        assert!(n.len() <= 52 && n.contains("-replay-"), "{n}");
    }
}
