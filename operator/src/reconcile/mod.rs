//! The reconcile pipeline, one module per step:
//! observe ([`secrets`]) → validate ([`crate::model`]) → build ([`crate::build`]) →
//! apply ([`apply`], including pruning) → status ([`status`]).
//! Only observe, apply and the status write touch the cluster.

pub mod apply;
pub mod post_race;
pub mod progress;
pub mod secrets;
pub mod status;

use crate::api::{RaceSession, RaceSessionStatus};
use crate::build::build;
use crate::model::{Defaults, SpecError, validate};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// The one field manager of every write this operator makes.
pub const FIELD_MANAGER: &str = "pitstop-operator";

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub images: Defaults,
    pub reporter: Reporter,
    pub metrics: crate::metrics::OperatorMetrics,
    pub http: reqwest::Client,
    /// Base URL of processor APIs instead of the in-cluster Service address (for tests
    /// and for an operator running outside the cluster).
    pub processor_base: Option<String>,
}

/// A failed reconcile. Spec problems are not errors (they become a Stalled condition);
/// these are the transient kind, retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no namespace")]
    NoNamespace,
}

impl Error {
    /// Static category for metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(s)) if s.code == 403 => "forbidden",
            Error::Kube(kube::Error::Api(_)) => "api",
            Error::Kube(_) => "transport",
            Error::NoNamespace => "invalid_object",
        }
    }
}

pub fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Reconciles one RaceSession.
pub async fn reconcile(race: Arc<RaceSession>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = race.namespace().ok_or(Error::NoNamespace)?;
    let races: Api<RaceSession> = Api::namespaced(ctx.client.clone(), &ns);
    let now = status::now();

    // The first status write says "not ready yet" before anything is created.
    if race.status.is_none() {
        write_status(&races, &race, status::initial(&race, now.clone())).await?;
    }

    let observed = secrets::observe(&ctx.client, &ns, &race).await?;
    let model = match validate(&race, &observed, &ctx.images) {
        Ok(m) => m,
        Err(e) => return stall(&races, &race, &ctx, e, now).await,
    };
    secrets::ensure_generated(&ctx.client, &model).await?;
    let children = build(&model);
    let applied = apply::apply_all(&ctx.client, &ns, children).await?;
    let mut keep = applied.names.clone();
    if model.monitoring.is_some() {
        keep.secrets
            .insert(crate::build::monitoring::grafana::secret_name(&model.name));
    }
    apply::prune(&ctx.client, &ns, &model.name, &keep).await?;

    // Progress is only asked of a processor that reports ready.
    let processor_ready = applied
        .readiness
        .iter()
        .any(|r| r.component == "processor" && r.ready >= r.desired && r.desired > 0);
    let progress = if processor_ready {
        progress::fetch(
            &ctx.http,
            &progress::url(&model, ctx.processor_base.as_deref()),
        )
        .await
    } else {
        None
    };
    let finished = progress
        .as_ref()
        .or(race.status.as_ref().and_then(|s| s.race.as_ref()))
        .is_some_and(|p| p.finished);
    let (pipeline, pipeline_requeue) = post_race::reconcile(&ctx, &race, &model, finished).await?;
    let new_status = status::compute(&race, &model, &applied.readiness, progress, pipeline, now);
    let ready = status::is_ready(&new_status);
    if race.status.as_ref() != Some(&new_status) {
        write_status(&races, &race, new_status).await?;
    }
    // Owned objects wake the controller on every change; the timer is a safety net.
    let base = if ready {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(30)
    };
    Ok(Action::requeue(
        pipeline_requeue.map_or(base, |p| p.min(base)),
    ))
}

async fn write_status(
    races: &Api<RaceSession>,
    race: &RaceSession,
    status: RaceSessionStatus,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "apiVersion": RaceSession::api_version(&()),
        "kind": RaceSession::kind(&()),
        "status": status,
    });
    races
        .patch_status(&race.name_any(), &apply_params(), &Patch::Apply(&patch))
        .await?;
    Ok(())
}

/// A spec that cannot work: say why in the status and an Event, and do not retry hot.
/// A missing Secret may appear on its own, so that case is looked at again each minute.
async fn stall(
    races: &Api<RaceSession>,
    race: &RaceSession,
    ctx: &Context,
    e: SpecError,
    now: status::Time,
) -> Result<Action, Error> {
    tracing::warn!(race = %race.name_any(), reason = e.reason(), error = %e, "spec cannot be reconciled");
    ctx.metrics.stalled(e.reason());
    let new_status = status::stalled(race, e.reason(), &e.to_string(), now);
    if race.status.as_ref() != Some(&new_status) {
        write_status(races, race, new_status).await?;
        let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
        let event = Event {
            type_: EventType::Warning,
            reason: e.reason().into(),
            note: Some(e.to_string()),
            action: "Validate".into(),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&event, &race.object_ref(&())).await {
            tracing::warn!(error = %err, "could not publish event");
        }
    }
    let retry = match e {
        // Both can be fixed without touching the RaceSession (no watch event follows).
        SpecError::SecretNotFound { .. }
        | SpecError::SecretKeyMissing { .. }
        | SpecError::KedaNotInstalled => Duration::from_secs(60),
        _ => Duration::from_secs(600),
    };
    Ok(Action::requeue(retry))
}
