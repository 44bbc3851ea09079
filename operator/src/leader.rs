//! Leader election through a `coordination.k8s.io/v1` Lease: of several replicas one
//! reconciles, the others wait. The holder renews every `renew` interval; a Lease whose
//! renew time is older than its duration may be taken. Writes use the Lease's
//! resourceVersion, so two candidates cannot both win. A leader that fails to renew
//! exits (its pod restarts as a candidate) rather than risk two active controllers.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};
use std::time::Duration;

/// What a candidate should do with the Lease as it stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it, or the holder stopped renewing: take it.
    Acquire,
    /// We hold it: renew.
    Renew,
    /// Someone else holds it and is alive.
    Wait,
}

/// Pure decision from the Lease's spec.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    match spec.holder_identity.as_deref() {
        None | Some("") => Decision::Acquire,
        Some(h) if h == me => Decision::Renew,
        Some(_) => {
            let duration =
                SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(15) as i64);
            match &spec.renew_time {
                Some(MicroTime(t)) if *t + duration > now => Decision::Wait,
                _ => Decision::Acquire,
            }
        }
    }
}

pub struct Elector {
    api: Api<Lease>,
    name: String,
    me: String,
    duration: Duration,
}

impl Elector {
    pub fn new(client: Client, namespace: &str, name: &str, me: &str, duration: Duration) -> Self {
        Elector {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            me: me.into(),
            duration,
        }
    }

    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.me.clone()),
            lease_duration_seconds: Some(self.duration.as_secs() as i32),
            acquire_time: acquired.or(Some(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// One round: returns whether we hold the Lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let pp = PostParams {
            field_manager: Some(crate::reconcile::FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, None, 0)),
            };
            return match self.api.create(&pp, &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let decision = decide(lease.spec.as_ref(), &self.me, now);
        let old = lease.spec.clone().unwrap_or_default();
        lease.spec = Some(match decision {
            Decision::Wait => return Ok(false),
            Decision::Renew => self.spec(now, old.acquire_time, old.lease_transitions.unwrap_or(0)),
            Decision::Acquire => self.spec(now, None, old.lease_transitions.unwrap_or(0) + 1),
        });
        // `replace` sends the resourceVersion we read: a concurrent writer makes it 409.
        match self.api.replace(&self.name, &pp, &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed_secs_ago: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                Timestamp::from_second(1_000 - renewed_secs_ago).unwrap(),
            )),
            ..LeaseSpec::default()
        }
    }

    /// The table of who may hold the Lease.
    #[test]
    fn decisions() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(decide(None, "a", now), Decision::Acquire);
        assert_eq!(decide(Some(&spec("a", 3)), "a", now), Decision::Renew);
        assert_eq!(decide(Some(&spec("b", 3)), "a", now), Decision::Wait);
        assert_eq!(
            decide(Some(&spec("b", 16)), "a", now),
            Decision::Acquire,
            "holder stopped renewing"
        );
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "a", now),
            Decision::Acquire
        );
    }
}
