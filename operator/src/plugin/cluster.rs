//! The cluster as the user's kubeconfig reaches it: the client, the namespace, and the
//! few calls the plugin makes, each failing with an error that names its verb and
//! resource (what a Role must grant, docs/kubectl-plugin.md#rbac).

use super::cli::KubeFlags;
use super::error::{Access, PluginError};
use super::proxy::{self, Answer};
use crate::api::RaceSession;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

pub const RACESESSIONS: &str = "racesessions.pitstop.io";
pub const SERVICES_PROXY: &str = "services/proxy";
pub const JOBS: &str = "jobs.batch";
pub const PODS: &str = "pods";
pub const PODS_LOG: &str = "pods/log";

/// A client in the namespace the command works in.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    /// The API server's URL, for messages.
    pub server: String,
}

/// The kubeconfig the flags name (`--kubeconfig`, else `$KUBECONFIG`, else
/// `~/.kube/config`; `--context`), or the pod's service account in a cluster.
async fn config(flags: &KubeFlags) -> Result<Config, PluginError> {
    let options = KubeConfigOptions {
        context: flags.context.clone(),
        ..KubeConfigOptions::default()
    };
    let kubeconfig = match &flags.kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    let config = match kubeconfig {
        Ok(kc) => Config::from_custom_kubeconfig(kc, &options).await,
        // No kubeconfig at all: in a pod, its service account (as kubectl does).
        Err(KubeconfigError::FindPath | KubeconfigError::ReadConfig(..))
            if flags.kubeconfig.is_none()
                && flags.context.is_none()
                && std::env::var_os("KUBECONFIG").is_none() =>
        {
            return Config::incluster().map_err(|_| {
                PluginError::Kubeconfig(
                    "none found: set KUBECONFIG or pass --kubeconfig (default ~/.kube/config)"
                        .into(),
                )
            });
        }
        Err(e) => Err(e),
    };
    config.map_err(|e| PluginError::Kubeconfig(kubeconfig_problem(&e)))
}

/// What is wrong with the kubeconfig, in the user's terms: kube's own words name the
/// context asked for "current" and quote a path twice.
fn kubeconfig_problem(e: &KubeconfigError) -> String {
    match e {
        KubeconfigError::LoadContext(name) => {
            format!("no context {name:?} in it (`kubectl config get-contexts` lists them)")
        }
        KubeconfigError::ReadConfig(cause, path) => {
            format!("cannot read {}: {cause}", path.display())
        }
        e => {
            let (top, root) = (e.to_string(), super::error::root_cause(e));
            if top.contains(&root) {
                top
            } else {
                format!("{top}: {root}")
            }
        }
    }
}

impl Cluster {
    pub async fn connect(flags: &KubeFlags) -> Result<Cluster, PluginError> {
        let mut config = config(flags).await?;
        config.connect_timeout = Some(flags.request_timeout);
        config.read_timeout = Some(flags.request_timeout);
        config.write_timeout = Some(flags.request_timeout);
        // kube retries 503s with a backoff by default; through the service proxy a 503 is
        // an answer ("no endpoints", "connection refused"), and a user waits at the prompt.
        config.default_retry = false;
        let namespace = flags
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        let server = server.trim_end_matches('/').to_string();
        let client =
            Client::try_from(config).map_err(|e| PluginError::Kubeconfig(e.to_string()))?;
        Ok(Cluster {
            client,
            namespace,
            server,
        })
    }

    fn access<'a>(&'a self, verb: &'a str, resource: &'a str) -> Access<'a> {
        Access {
            verb,
            resource,
            namespace: &self.namespace,
        }
    }

    /// `e` of a request for `access`, a 404 being `not_found`.
    fn fail(&self, e: kube::Error, access: Access<'_>, not_found: PluginError) -> PluginError {
        PluginError::from_kube(&e, access, &self.server).unwrap_or(not_found)
    }

    fn race_not_found(&self, name: &str) -> PluginError {
        PluginError::RaceNotFound {
            name: name.into(),
            namespace: self.namespace.clone(),
        }
    }

    fn races(&self) -> Api<RaceSession> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub async fn race(&self, name: &str) -> Result<RaceSession, PluginError> {
        self.races().get(name).await.map_err(|e| {
            self.fail(
                e,
                self.access("get", RACESESSIONS),
                self.race_not_found(name),
            )
        })
    }

    /// Sets one annotation of the race (a merge patch: nothing else changes, no field
    /// manager takes over the spec).
    pub async fn annotate(&self, name: &str, key: &str, value: &str) -> Result<(), PluginError> {
        let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
        self.races()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop)
            .map_err(|e| {
                self.fail(
                    e,
                    self.access("patch", RACESESSIONS),
                    self.race_not_found(name),
                )
            })
    }

    /// `GET api_path` of the race's processor through the service proxy.
    pub async fn processor(&self, race: &str, api_path: &str) -> Result<Answer, PluginError> {
        let path = proxy::processor_path(&self.namespace, race, api_path);
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| PluginError::Other(e.to_string()))?;
        let access = self.access("get", SERVICES_PROXY);
        // The race was just read from the same server: a request that fails in transport
        // here is one the proxy could not complete (its dial to the processor dropped,
        // e.g. by a NetworkPolicy, runs into our timeout).
        let stalled = |e: kube::Error| {
            Answer::Unreachable(format!(
                "no answer through the API server's service proxy: {} (where NetworkPolicies are enforced, the race's must admit the API server: docs/kubectl-plugin.md#networkpolicy)",
                super::error::root_cause(&e)
            ))
        };
        let response = match self
            .client
            .send(request.map(kube::client::Body::from))
            .await
        {
            Ok(r) => r,
            Err(e @ kube::Error::Api(_)) => {
                return Err(self.fail(e, access, PluginError::Other("not found".into())));
            }
            Err(e) => return Ok(stalled(e)),
        };
        let code = response.status().as_u16();
        let body = match response.into_body().collect_bytes().await {
            Ok(b) => b,
            Err(e) => return Ok(stalled(e)),
        };
        match proxy::classify(code, &body) {
            Answer::Forbidden => Err(PluginError::forbidden(access)),
            Answer::Other(401, _) => Err(PluginError::Unauthorized {
                server: self.server.clone(),
            }),
            a => Ok(a),
        }
    }

    /// The race's Jobs of one task (labels `pitstop.io/task`, `app.kubernetes.io/instance`).
    pub async fn task_jobs(&self, race: &str, task: &str) -> Result<Vec<Job>, PluginError> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = super::tasks::job_selector(race, task);
        api.list(&ListParams::default().labels(&selector))
            .await
            .map(|l| l.items)
            .map_err(|e| {
                self.fail(
                    e,
                    self.access("list", JOBS),
                    PluginError::Other(e_404(JOBS)),
                )
            })
    }

    /// The pods of a Job (label `batch.kubernetes.io/job-name`).
    pub async fn job_pods(&self, job: &str) -> Result<Vec<Pod>, PluginError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = format!("{}={job}", super::tasks::JOB_NAME_LABEL);
        api.list(&ListParams::default().labels(&selector))
            .await
            .map(|l| l.items)
            .map_err(|e| {
                self.fail(
                    e,
                    self.access("list", PODS),
                    PluginError::Other(e_404(PODS)),
                )
            })
    }

    pub async fn logs(
        &self,
        pod: &str,
        container: &str,
        tail: Option<i64>,
    ) -> Result<String, PluginError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let params = LogParams {
            container: Some(container.into()),
            tail_lines: tail,
            ..LogParams::default()
        };
        api.logs(pod, &params).await.map_err(|e| {
            let gone = PluginError::NotFound(format!("pod {pod:?} is gone"));
            match &e {
                // "container ... is waiting to start", "pod ... does not have a host".
                kube::Error::Api(s) if s.code == 400 => PluginError::NotFound(format!(
                    "no logs of pod {pod:?} yet: {}",
                    super::error::one_line(&s.message)
                )),
                _ => self.fail(e, self.access("get", PODS_LOG), gone),
            }
        })
    }
}

fn e_404(resource: &str) -> String {
    format!("the API server does not serve {resource}")
}
