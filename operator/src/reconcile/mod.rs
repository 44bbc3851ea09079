//! One reconcile of a RaceSession, one module per step, all at one `now`
//! ([`reconcile_at`]):
//! observe ([`observe`]) → validate ([`crate::model`]) → build ([`crate::children`]) →
//! apply ([`apply`], including pruning) → progress ([`progress`]) → post-race
//! ([`post_race`]) → status ([`status`], completed by [`source_status`] and
//! [`storage_status`]).
//!
//! What touches the cluster or the network: observe (reads the referenced Secrets and
//! KEDA's and the Prometheus Operator's API groups), apply (creates the generated
//! Secrets, server-side applies, then lists and deletes to prune), progress (an HTTP GET of the processor's API, only once
//! it reports ready), [`datastore_health`] (while the processor is not ready: a list of
//! its pods and an HTTP GET of one's `/ready`), [`gateway`] (an HTTP GET of the F1-game gateway's `/status`, only
//! once it reports ready), the post-race step's applier ([`post_race`]: lists the current
//! run's Jobs, creates those launched, patches a failed one's TTL) and, here, the status
//! write. Events go out through [`events`] alone. Validate, build, the post-race planner
//! ([`crate::post_race::plan`]) and the status computation ([`status`], completed by
//! [`source_status`]) are pure: they take what was read and `now`, and return values.

pub mod apply;
pub mod context;
pub mod datastore_health;
pub mod events;
pub mod gateway;
pub mod observe;
pub mod post_race;
pub mod progress;
pub mod source_seen;
pub mod source_status;
pub mod status;
pub mod storage_status;

pub use context::{Context, Error, FIELD_MANAGER, apply_params};

use crate::api::{RaceProgress, RaceSession, RaceSessionStatus};
use crate::children::build;
use crate::children::meta::Component;
use crate::errors::chain;
use crate::event::Event;
use crate::model::{Model, SpecError, validate};
use kube::api::{Api, Patch};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Reconciles one RaceSession, now.
pub async fn reconcile(race: Arc<RaceSession>, ctx: Arc<Context>) -> Result<Action, Error> {
    reconcile_at(race, ctx, status::now()).await
}

/// Reconciles one RaceSession at `now`: the one instant every step sees (tests pass
/// their own).
pub async fn reconcile_at(
    race: Arc<RaceSession>,
    ctx: Arc<Context>,
    now: status::Time,
) -> Result<Action, Error> {
    let ns = race.namespace().ok_or(Error::NoNamespace)?;
    let races: Api<RaceSession> = Api::namespaced(ctx.client.clone(), &ns);

    // The first status write says "not ready yet" before anything is created.
    if race.status.is_none() {
        write_status(&races, &race, status::initial(&race, now.clone())).await?;
    }

    let observed = observe::observe(&ctx.client, &ns, &race).await?;
    let model = match validate(&race, &observed, &ctx.images) {
        Ok(m) => m,
        Err(e) => return stall(&races, &race, &ctx, e, now).await,
    };
    let applied = apply::apply_all(&ctx.client, &model, build(&model)).await?;
    apply::prune(&ctx.client, &ns, &model.name, &applied.names).await?;

    let (progress, gateway_report, datastores) = ask(&ctx, &model, &applied.readiness).await;
    let seen = source_seen::SourceSeen {
        gateway: gateway_report,
        ..applied.source
    };
    // The race finishes on the processor's word whatever feeds it: the end marker the
    // simulator writes, or the one `POST /api/v1/sessions/{id}/finish` appends for the
    // gateway, the replay or an external client.
    let finished = progress
        .as_ref()
        .or(race.status.as_ref().and_then(|s| s.race.as_ref()))
        .is_some_and(|p| p.finished);
    let (pipeline, pipeline_requeue) =
        post_race::reconcile(&ctx, &race, &model, finished, now.0).await?;
    let mut new_status = status::compute(
        &race,
        &model,
        &applied.readiness,
        applied.autoscaler_trouble.as_ref(),
        progress,
        pipeline,
        now.clone(),
    );
    source_status::fill(
        &mut new_status,
        &race,
        &model,
        &applied.readiness,
        &seen,
        &now,
    );
    storage_status::fill(
        &mut new_status,
        &race,
        datastores.as_ref(),
        applied.storage_note.as_deref(),
        &now,
    );
    // Owned objects wake the controller on every change; a racing race's progress changes
    // none, so it is looked at again every few seconds until the flag.
    let next = status::requeue_after(&new_status, pipeline_requeue);
    if race.status.as_ref() != Some(&new_status) {
        write_status(&races, &race, new_status).await?;
    }
    Ok(Action::requeue(next))
}

/// What the race's HTTP APIs say now: the processor's progress and the F1-game gateway's
/// `/status`, each asked only once the component runs and all its pods are ready; and
/// while the processor's pods are not all ready, what its `/ready` says of the datastores.
async fn ask(
    ctx: &Context,
    m: &Model,
    readiness: &[apply::Readiness],
) -> (
    Option<RaceProgress>,
    Option<source_seen::GatewayReport>,
    Option<datastore_health::ReadyReport>,
) {
    let ready = |c: Component| {
        readiness
            .iter()
            .any(|r| r.component == c && r.ready >= r.desired && r.desired > 0)
    };
    let unready = |c: Component| {
        readiness
            .iter()
            .any(|r| r.component == c && r.ready < r.desired)
    };
    let progress = if ready(Component::Processor) {
        let url = progress::url(m, ctx.processor_base.as_deref());
        progress::fetch(&ctx.http, &url).await
    } else {
        None
    };
    let gateway = if ready(Component::Gateway) {
        let url = gateway::url(m, ctx.gateway_base.as_deref());
        gateway::fetch(&ctx.http, &url).await
    } else {
        None
    };
    let datastores = if unready(Component::Processor) {
        datastore_health::fetch(&ctx.client, &ctx.http, m, ctx.processor_base.as_deref()).await
    } else {
        None
    };
    (progress, gateway, datastores)
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
/// A missing Secret or CRD may appear on its own, so those cases are looked at again each
/// minute.
async fn stall(
    races: &Api<RaceSession>,
    race: &RaceSession,
    ctx: &Context,
    e: SpecError,
    now: status::Time,
) -> Result<Action, Error> {
    tracing::warn!(race = %race.name_any(), reason = e.reason(), error = %chain(&e), "spec cannot be reconciled");
    ctx.metrics.stalled(e.reason());
    let new_status = status::stalled(race, e.reason(), &e.to_string(), now);
    if race.status.as_ref() != Some(&new_status) {
        write_status(races, race, new_status).await?;
        let event = Event::warning(e.reason(), e.to_string(), "Validate");
        events::publish(ctx, race, &[event]).await;
    }
    let retry = match e {
        // Fixed without touching the RaceSession (no watch event follows): a Secret
        // created, KEDA, the Prometheus Operator or CloudNativePG installed.
        SpecError::SecretNotFound { .. }
        | SpecError::SecretKeyMissing { .. }
        | SpecError::KedaNotInstalled
        | SpecError::PrometheusOperatorNotInstalled
        | SpecError::CloudNativePGNotInstalled => Duration::from_secs(60),
        _ => Duration::from_secs(600),
    };
    Ok(Action::requeue(retry))
}
