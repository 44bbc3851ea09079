//! What the race's source showed this reconcile, read from the API server's answers to
//! the applies (the UDP Service's address, the replay Job's state) and from the gateway
//! (`GET /status`, see [`super::gateway`]). Pure: the readers take the objects.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;

/// The source's observations, for the status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceSeen {
    /// `game`: where the game sends its datagrams, once the Service has an address.
    pub endpoint: Option<String>,
    /// `openf1`: the replay Job's name and state.
    pub replay: Option<(String, ReplayState)>,
    /// `game`: the gateway's `/status`, when it could be asked.
    pub gateway: Option<GatewayReport>,
}

/// Where a replay Job is.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayState {
    /// No pod running and ready yet (or between attempts).
    Pending,
    Running,
    Succeeded,
    /// Every attempt failed: the Job's own reason and message.
    Failed(String),
}

impl ReplayState {
    /// Whether the replay counts as ready: sending, or done.
    pub fn ready(&self) -> bool {
        matches!(self, ReplayState::Running | ReplayState::Succeeded)
    }
}

/// The gateway's `GET /status`, as the status shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatewayReport {
    pub datagrams_per_second: f64,
    pub sessions_seen: i64,
    pub datagrams: i64,
    pub dropped: i64,
    /// The chequered flag of its session was seen.
    pub finished: bool,
}

/// A replay Job's state from its status (the Job controller's conditions and counts).
pub fn replay_state(job: &Job) -> ReplayState {
    let Some(s) = &job.status else {
        return ReplayState::Pending;
    };
    let condition = |t: &str| {
        s.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t && c.status == "True")
    };
    if let Some(c) = condition("Failed") {
        let reason = c.reason.as_deref().unwrap_or("Failed");
        return ReplayState::Failed(match c.message.as_deref() {
            Some(m) if !m.is_empty() => format!("{reason}: {m}"),
            _ => reason.to_string(),
        });
    }
    if condition("Complete").is_some() || s.succeeded.unwrap_or(0) > 0 {
        return ReplayState::Succeeded;
    }
    if s.ready.unwrap_or(0) > 0 {
        ReplayState::Running
    } else {
        ReplayState::Pending
    }
}

/// Where a UDP Service is reached: the load balancer's address, the gateway pod's node at
/// the node port, or the cluster IP (`None` while a load balancer has no address yet).
pub fn udp_endpoint(svc: &Service) -> Option<String> {
    let spec = svc.spec.as_ref()?;
    let port = spec.ports.as_ref()?.first()?;
    match spec.type_.as_deref() {
        Some("LoadBalancer") => {
            let ingress = svc
                .status
                .as_ref()?
                .load_balancer
                .as_ref()?
                .ingress
                .as_ref()?;
            let first = ingress.first()?;
            let host = first.ip.clone().or_else(|| first.hostname.clone())?;
            Some(format!("{host}:{}", port.port))
        }
        Some("NodePort") => Some(format!("<the gateway pod's node>:{}", port.node_port?)),
        _ => Some(format!("{}:{}", spec.cluster_ip.as_ref()?, port.port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(status: serde_json::Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "r"}, "status": status})).unwrap()
    }

    /// Failed wins over counts, a ready pod is running, a success or Complete is done,
    /// anything else is pending.
    #[test]
    fn replay_states() {
        assert_eq!(replay_state(&job(json!(null))), ReplayState::Pending);
        assert_eq!(
            replay_state(&job(json!({"active": 1}))),
            ReplayState::Pending
        );
        assert_eq!(
            replay_state(&job(json!({"active": 1, "ready": 1}))),
            ReplayState::Running
        );
        assert_eq!(
            replay_state(&job(json!({"succeeded": 1}))),
            ReplayState::Succeeded
        );
        let failed = job(json!({"failed": 4, "conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}]}));
        assert_eq!(
            replay_state(&failed),
            ReplayState::Failed(
                "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
        assert!(!replay_state(&failed).ready());
    }

    /// Each Service type says where the game sends to; a load balancer without an address
    /// says nothing yet.
    #[test]
    fn endpoints() {
        let svc = |spec: serde_json::Value, status: serde_json::Value| -> Service {
            serde_json::from_value(
                json!({"metadata": {"name": "s"}, "spec": spec, "status": status}),
            )
            .unwrap()
        };
        let lb = json!({"type": "LoadBalancer", "ports": [{"port": 20777, "nodePort": 31000}]});
        assert_eq!(udp_endpoint(&svc(lb.clone(), json!({}))), None);
        assert_eq!(
            udp_endpoint(&svc(
                lb,
                json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}})
            )),
            Some("203.0.113.7:20777".into())
        );
        assert_eq!(
            udp_endpoint(&svc(
                json!({"type": "NodePort", "ports": [{"port": 20777, "nodePort": 30777}]}),
                json!({})
            )),
            Some("<the gateway pod's node>:30777".into())
        );
        assert_eq!(
            udp_endpoint(&svc(
                json!({"type": "ClusterIP", "clusterIP": "10.96.0.12", "ports": [{"port": 20777}]}),
                json!({})
            )),
            Some("10.96.0.12:20777".into())
        );
    }
}
