//! The source's part of the status: `status.source` (its type and what it reports) and,
//! with another source than the simulator, the `SourceReady` condition. Pure, like
//! [`super::status::compute`], whose result it completes: it takes what was read and
//! `now`.

use super::apply::Readiness;
use super::source_seen::{GatewayReport, ReplayState, SourceSeen};
use super::status::{Time, condition, merge};
use crate::api::conditions::{ConditionType, reason};
use crate::api::{RaceSession, RaceSessionStatus, ServiceType, SourceStatus};
use crate::children::meta::Component;
use crate::children::ports;
use crate::children::service::url;
use crate::model::{Game, Model, OpenF1, Source};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// Sets `status.source` and inserts `SourceReady` after `SimulatorReady` (the order of
/// [`ConditionType::ALL`]), keeping its transition time unless it changes.
pub fn fill(
    status: &mut RaceSessionStatus,
    race: &RaceSession,
    m: &Model,
    readiness: &[Readiness],
    seen: &SourceSeen,
    now: &Time,
) {
    let last = race.status.as_ref().and_then(|s| s.source.as_ref());
    status.source = Some(source_status(m, last, seen));
    let Some(ready) = source_ready(m, readiness, seen, status.observed_generation, now) else {
        return;
    };
    let old = race
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    let ready = merge(old, vec![ready]).remove(0);
    let at = status
        .conditions
        .iter()
        .position(|c| c.type_ == ConditionType::SimulatorReady.as_str())
        .map_or(status.conditions.len(), |i| i + 1);
    status.conditions.insert(at, ready);
}

/// `status.source`: the type, and for the game what the gateway reported now or, when it
/// could not be asked, last time.
fn source_status(m: &Model, last: Option<&SourceStatus>, seen: &SourceSeen) -> SourceStatus {
    let type_ = m.source.type_();
    match &m.source {
        Source::Game(_) => {
            let figures = match &seen.gateway {
                Some(r) => reported(r),
                None => last
                    .filter(|l| l.type_ == type_)
                    .cloned()
                    .unwrap_or_default(),
            };
            SourceStatus {
                type_,
                endpoint: seen.endpoint.clone(),
                job: None,
                ..figures
            }
        }
        Source::OpenF1(_) => SourceStatus {
            type_,
            job: seen.replay.as_ref().map(|(name, _)| name.clone()),
            ..SourceStatus::default()
        },
        Source::Simulator | Source::External => SourceStatus {
            type_,
            ..SourceStatus::default()
        },
    }
}

/// The gateway's figures as `status.source` shows them.
fn reported(r: &GatewayReport) -> SourceStatus {
    SourceStatus {
        datagrams_per_second: Some(r.datagrams_per_second),
        sessions_seen: Some(r.sessions_seen),
        datagrams: Some(r.datagrams),
        dropped: Some(r.dropped),
        finished: Some(r.finished),
        ..SourceStatus::default()
    }
}

/// `SourceReady`, except with the simulator (`SimulatorReady` says it all).
fn source_ready(
    m: &Model,
    readiness: &[Readiness],
    seen: &SourceSeen,
    g: Option<i64>,
    now: &Time,
) -> Option<Condition> {
    let (ok, why, message) = match &m.source {
        Source::Simulator => return None,
        Source::Game(game) => game_ready(m, game, readiness, seen),
        Source::OpenF1(o) => replay_ready(o, seen),
        Source::External => (
            true,
            reason::EXTERNAL,
            format!(
                "no source runs: clients post telemetry to {}/telemetry (peers in processor.allowedClients may reach it)",
                url(m, Component::Processor, ports::PROCESSOR)
            ),
        ),
    };
    Some(condition(
        ConditionType::SourceReady,
        ok,
        why,
        &message,
        g,
        now,
    ))
}

fn game_ready(
    m: &Model,
    game: &Game,
    readiness: &[Readiness],
    seen: &SourceSeen,
) -> (bool, &'static str, String) {
    let gateway_ok = readiness
        .iter()
        .filter(|r| r.component == Component::Gateway)
        .all(|r| r.ready >= r.desired);
    if m.finished && gateway_ok {
        return (
            true,
            reason::RACE_FINISHED,
            "the race has finished: the gateway is scaled to 0, its requests released".into(),
        );
    }
    if !gateway_ok {
        return (false, reason::PROGRESSING, "waiting for gateway".into());
    }
    if game.allowed_clients.is_empty() {
        return (
            false,
            reason::NO_ALLOWED_CLIENTS,
            "source.game.allowedClients is empty, so the gateway's NetworkPolicy admits no datagram: list the address of the PC running the game, e.g. 192.168.1.20/32 (0.0.0.0/0 admits anyone)".into(),
        );
    }
    match &seen.endpoint {
        // A cluster IP and a node port come with the Service; a load balancer's address
        // can take minutes.
        None => (
            false,
            reason::PROGRESSING,
            match game.service_type {
                ServiceType::LoadBalancer => "waiting for the load balancer's address",
                _ => "waiting for the UDP Service's address",
            }
            .into(),
        ),
        Some(at) => (
            true,
            reason::READY,
            format!(
                "the gateway takes the game's UDP telemetry at {at} from {}",
                game.allowed_clients.join(", ")
            ),
        ),
    }
}

fn replay_ready(o: &OpenF1, seen: &SourceSeen) -> (bool, &'static str, String) {
    let session = o.session_key;
    match &seen.replay {
        None => (false, reason::PROGRESSING, "waiting for replay".into()),
        Some((job, ReplayState::Pending)) => (
            false,
            reason::PROGRESSING,
            format!("waiting for the replay Job {job}"),
        ),
        Some((_, ReplayState::Running)) => (
            true,
            reason::READY,
            format!("replaying OpenF1 session {session} at speed {}", o.speed),
        ),
        Some((_, ReplayState::Succeeded)) => (
            true,
            reason::REPLAY_COMPLETE,
            format!("OpenF1 session {session} replayed"),
        ),
        Some((job, ReplayState::Failed(why))) => (
            false,
            reason::REPLAY_FAILED,
            format!(
                "the replay Job {job} failed on every attempt ({why}); see its pods' logs, and delete the Job to try again (the replay resumes where it stopped)"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Phase, SourceType};
    use crate::model::{Defaults, validate};
    use crate::reconcile::status::compute;
    use std::collections::BTreeMap;

    fn at(secs: i64) -> Time {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap(),
        )
    }

    fn ready(c: Component, desired: i32, ready: i32) -> Readiness {
        Readiness {
            component: c,
            desired,
            ready,
        }
    }

    /// The status of `race` after a reconcile that saw `readiness` and `seen`.
    fn status_of(
        race: &RaceSession,
        readiness: &[Readiness],
        seen: &SourceSeen,
        now: Time,
    ) -> RaceSessionStatus {
        let m = validate(race, &BTreeMap::new(), &Defaults::default()).unwrap();
        let mut s = compute(race, &m, readiness, None, None, None, now.clone());
        fill(&mut s, race, &m, readiness, seen, &now);
        s
    }

    fn get(s: &RaceSessionStatus, t: ConditionType) -> Option<&Condition> {
        s.conditions.iter().find(|c| c.type_ == t.as_str())
    }

    fn game(clients: &str) -> RaceSession {
        crate::model::tests::race(&format!(
            "source:\n  type: game\n  game: {{allowedClients: [{clients}]}}"
        ))
    }

    fn all_ready(source: Component) -> Vec<Readiness> {
        [
            source,
            Component::Processor,
            Component::Redis,
            Component::Postgres,
        ]
        .into_iter()
        .map(|c| ready(c, 1, 1))
        .collect()
    }

    fn report(datagrams: i64) -> GatewayReport {
        GatewayReport {
            datagrams_per_second: 60.0,
            sessions_seen: 1,
            datagrams,
            dropped: 2,
            finished: false,
        }
    }

    /// A ready gateway open to the game: SourceReady True right after SimulatorReady
    /// (Disabled), naming where to send from where; the gateway's figures in
    /// `status.source`; the race racing like a simulated one.
    #[test]
    fn a_ready_gateway_is_said_with_its_figures() {
        let race = game("192.168.1.0/24");
        let seen = SourceSeen {
            endpoint: Some("10.96.0.12:20777".into()),
            gateway: Some(report(1200)),
            ..SourceSeen::default()
        };
        let s = status_of(&race, &all_ready(Component::Gateway), &seen, at(0));
        let types: Vec<&str> = s.conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(&types[3..5], ["SimulatorReady", "SourceReady"]);
        let sim = get(&s, ConditionType::SimulatorReady).unwrap();
        assert_eq!(
            (sim.status.as_str(), sim.reason.as_str()),
            ("True", "Disabled")
        );
        let c = get(&s, ConditionType::SourceReady).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "Ready"));
        assert_eq!(
            c.message,
            "the gateway takes the game's UDP telemetry at 10.96.0.12:20777 from 192.168.1.0/24"
        );
        assert_eq!(
            s.source,
            Some(SourceStatus {
                type_: SourceType::Game,
                endpoint: Some("10.96.0.12:20777".into()),
                datagrams_per_second: Some(60.0),
                sessions_seen: Some(1),
                datagrams: Some(1200),
                dropped: Some(2),
                finished: Some(false),
                job: None,
            })
        );
        assert_eq!(s.phase, Some(Phase::Racing));
        assert!(crate::reconcile::status::is_ready(&s));
    }

    /// A gateway that does not answer leaves the last figures; an unready gateway holds
    /// the phase at Provisioning and Ready False, like an unready simulator.
    #[test]
    fn figures_are_kept_and_an_unready_gateway_holds_the_race() {
        let mut race = game("192.168.1.0/24");
        let seen = SourceSeen {
            endpoint: Some("10.96.0.12:20777".into()),
            gateway: Some(report(1200)),
            ..SourceSeen::default()
        };
        race.status = Some(status_of(
            &race,
            &all_ready(Component::Gateway),
            &seen,
            at(0),
        ));
        let silent = SourceSeen {
            gateway: None,
            ..seen
        };
        let mut starting = all_ready(Component::Gateway);
        starting[0] = ready(Component::Gateway, 1, 0);
        let s = status_of(&race, &starting, &silent, at(5));
        assert_eq!(s.source.as_ref().unwrap().datagrams, Some(1200), "kept");
        assert_eq!(s.phase, Some(Phase::Provisioning));
        let c = get(&s, ConditionType::SourceReady).unwrap();
        assert_eq!(
            (c.status.as_str(), c.message.as_str()),
            ("False", "waiting for gateway")
        );
        assert_eq!(c.last_transition_time, at(5));
        assert!(!crate::reconcile::status::is_ready(&s));
    }

    /// No allowedClients: SourceReady False (NoAllowedClients) saying how to open it,
    /// though every pod is ready; a load balancer without an address waits for it.
    #[test]
    fn a_gateway_nobody_can_reach_is_said() {
        let race = crate::model::tests::race("source: {type: game}");
        let seen = SourceSeen {
            endpoint: Some("10.96.0.12:20777".into()),
            ..SourceSeen::default()
        };
        let s = status_of(&race, &all_ready(Component::Gateway), &seen, at(0));
        let c = get(&s, ConditionType::SourceReady).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "NoAllowedClients")
        );
        assert!(
            c.message.contains("admits no datagram") && c.message.contains("/32"),
            "{}",
            c.message
        );
        let lb = crate::model::tests::race(
            "source:\n  type: game\n  game: {allowedClients: [0.0.0.0/0], service: {type: LoadBalancer}}",
        );
        let pending = status_of(
            &lb,
            &all_ready(Component::Gateway),
            &SourceSeen::default(),
            at(0),
        );
        let c = get(&pending, ConditionType::SourceReady).unwrap();
        assert_eq!(
            (c.status.as_str(), c.message.as_str()),
            ("False", "waiting for the load balancer's address")
        );
    }

    /// Once the race has finished, the gateway at 0 is the expected state.
    #[test]
    fn a_finished_game_race_releases_the_gateway() {
        let mut race = game("192.168.1.0/24");
        race.status = Some(RaceSessionStatus {
            race: Some(crate::api::RaceProgress {
                finished: true,
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut released = all_ready(Component::Gateway);
        released[0] = ready(Component::Gateway, 0, 0);
        let s = status_of(&race, &released, &SourceSeen::default(), at(0));
        let c = get(&s, ConditionType::SourceReady).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "RaceFinished")
        );
        assert_eq!(s.phase, Some(Phase::Finished));
    }

    /// The replay: running is ready, done is ReplayComplete, failed on every attempt is
    /// ReplayFailed with the Job's reason and how to retry; the Job is named in the status.
    #[test]
    fn the_replay_job_is_followed() {
        let race = crate::model::tests::race("source: {type: openf1, openf1: {sessionKey: 9606}}");
        let state = |st: ReplayState| {
            let seen = SourceSeen {
                replay: Some(("monza-replay-1".into(), st.clone())),
                ..SourceSeen::default()
            };
            let readiness = all_ready(Component::Replay)
                .into_iter()
                .map(|r| match r.component {
                    Component::Replay => ready(Component::Replay, 1, i32::from(st.ready())),
                    _ => r,
                })
                .collect::<Vec<_>>();
            status_of(&race, &readiness, &seen, at(0))
        };
        let running = state(ReplayState::Running);
        assert_eq!(
            running.source.as_ref().unwrap().job.as_deref(),
            Some("monza-replay-1")
        );
        let c = get(&running, ConditionType::SourceReady).unwrap();
        assert_eq!(c.message, "replaying OpenF1 session 9606 at speed 1");
        assert_eq!(running.phase, Some(Phase::Racing));
        let done = state(ReplayState::Succeeded);
        assert_eq!(
            get(&done, ConditionType::SourceReady).unwrap().reason,
            "ReplayComplete"
        );
        let failed = state(ReplayState::Failed("BackoffLimitExceeded".into()));
        let c = get(&failed, ConditionType::SourceReady).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "ReplayFailed")
        );
        assert!(
            c.message.contains("BackoffLimitExceeded") && c.message.contains("delete the Job"),
            "{}",
            c.message
        );
        assert_eq!(failed.phase, Some(Phase::Provisioning));
    }

    /// External: nothing to wait for, the address clients post to; the simulator: no
    /// SourceReady at all, `status.source` says simulator.
    #[test]
    fn external_and_simulator() {
        let race = crate::model::tests::race("source: {type: external}");
        let readiness =
            [Component::Processor, Component::Redis, Component::Postgres].map(|c| ready(c, 1, 1));
        let s = status_of(&race, &readiness, &SourceSeen::default(), at(0));
        let c = get(&s, ConditionType::SourceReady).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "External"));
        assert!(
            c.message
                .contains("http://monza-processor.racing.svc:8001/telemetry"),
            "{}",
            c.message
        );
        assert_eq!(s.phase, Some(Phase::Racing));

        let sim = crate::model::tests::race("circuit: monza");
        let s = status_of(
            &sim,
            &all_ready(Component::Simulator),
            &SourceSeen::default(),
            at(0),
        );
        assert!(get(&s, ConditionType::SourceReady).is_none());
        assert_eq!(s.source.as_ref().unwrap().type_, SourceType::Simulator);
        assert_eq!(
            get(&s, ConditionType::SimulatorReady).unwrap().reason,
            "Ready"
        );
    }
}
