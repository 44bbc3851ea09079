//! A session's stored laps, stops and neutralisations as the strategy takes them
//! (`analytics::strategy`), for `GET /api/v1/sessions/{id}/strategy`.

use crate::analytics::strategy::degradation::Fit;
use crate::analytics::strategy::stints;
use crate::analytics::strategy::{Entrant, Lap, PitEntry, Race, Stop};
use crate::model::Compound;
use std::collections::BTreeMap;
use tokio_postgres::Client;
use tokio_postgres::Error;

/// Everything the strategy needs of session `id`; None when there is no such session.
pub async fn race(db: &Client, id: &str) -> Result<Option<Race>, Error> {
    let Some(s) = db
        .query_opt(
            "SELECT circuit, total_laps FROM sessions WHERE session_id = $1",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let (circuit, total): (Option<String>, Option<i32>) = (s.get(0), s.get(1));
    let laps = db
        .query(
            "SELECT l.car, COALESCE(a.driver, l.driver), COALESCE(a.team, l.team), l.lap,
                    l.lap_time_ms, l.crossed_at_ms, l.compound, l.tyre_age
               FROM laps l
               LEFT JOIN car_accounting a ON a.session_id = l.session_id AND a.car = l.car
              WHERE l.session_id = $1 ORDER BY l.car, l.lap",
            &[&id],
        )
        .await?;
    // One statement, so one snapshot: a stop stored between two reads would otherwise
    // leave its car in neither the stops nor the pit lane for a refresh, or in both.
    let visits = db
        .query(
            "SELECT 'stop', car, lap, entry_ms, pit_lane_ms, stationary_start_ms
               FROM pit_stops WHERE session_id = $1
             UNION ALL
             SELECT 'drive_through', car, lap, entry_ms, pit_lane_ms, NULL::bigint
               FROM drive_throughs WHERE session_id = $1
             UNION ALL
             SELECT 'in_lane', car, lap, entry_ms, NULL::bigint, NULL::bigint
               FROM pit_lane_now WHERE session_id = $1",
            &[&id],
        )
        .await?;
    let periods = db
        .query(
            "SELECT begin_ms, end_ms FROM session_periods WHERE session_id = $1",
            &[&id],
        )
        .await?;
    let mut entrants: Vec<Entrant> = Vec::new();
    let mut race = Race {
        circuit,
        total_laps: total.and_then(|t| u16::try_from(t).ok()),
        ..Race::default()
    };
    for r in &laps {
        let car = small(r.get::<_, i32>(0));
        // The car's names as car_accounting knows them (the stints view's too), else its
        // latest lap's: laps stored before a feed's driver list came carry placeholders.
        let (driver, team) = (r.get(1), r.get(2));
        match entrants.last_mut() {
            Some(e) if e.car == car => (e.driver, e.team) = (driver, team),
            _ => entrants.push(Entrant { car, driver, team }),
        }
        let compound: Option<String> = r.get(6);
        race.laps.push(Lap {
            car,
            lap: u16::try_from(r.get::<_, i32>(3)).unwrap_or(0),
            lap_time_ms: i64::from(r.get::<_, i32>(4)),
            crossed_at_ms: r.get(5),
            compound: compound.and_then(|c| Compound::parse(&c).ok().flatten()),
            tyre_age: r
                .get::<_, Option<i32>>(7)
                .and_then(|a| u16::try_from(a).ok()),
            neutralised: false,
        });
    }
    race.entrants = entrants;
    for r in &visits {
        let kind: &str = r.get(0);
        match kind {
            "stop" => race.stops.push(visit(r)),
            "drive_through" => race.drive_throughs.push(visit(r)),
            _ => race.pit_entries.push(PitEntry {
                car: small(r.get::<_, i32>(1)),
                lap: lap(r),
                entry_ms: r.get(3),
            }),
        }
    }
    race.neutral_periods = periods
        .iter()
        .map(|r| (r.get(0), r.get::<_, Option<i64>>(1).unwrap_or(i64::MAX)))
        .collect();
    Ok(Some(race))
}

/// Every stint's degradation of session `id` as the strategy fits it; empty for an
/// unknown session.
pub async fn stint_fits(db: &Client, id: &str) -> Result<StintFits, Error> {
    let Some(race) = race(db, id).await? else {
        return Ok(StintFits::default());
    };
    Ok(StintFits(
        stints::stint_fits(&race)
            .into_iter()
            .map(|s| {
                let key = (i32::from(s.car), i32::from(s.first_lap));
                (key, (i32::from(s.last_lap), s.fit))
            })
            .collect(),
    ))
}

/// A stint's fit, or why there is none.
pub type Fitted = Result<Fit, String>;

/// The strategy's stints by (car, first lap): (last lap, fit).
#[derive(Debug, Default)]
pub struct StintFits(pub BTreeMap<(i32, i32), (i32, Fitted)>);

impl StintFits {
    /// The fit of the view's stint of `car` from `first_lap` to `last_lap`, or why there
    /// is none; a reason also when the strategy split the car's laps elsewhere (a stop
    /// stored without its lap: the view cannot place it, the strategy takes the lap that
    /// ended next).
    pub fn get(&self, car: i32, first_lap: i32, last_lap: i32) -> Result<&Fit, &str> {
        match self.0.get(&(car, first_lap)) {
            Some((last, fit)) if *last == last_lap => fit.as_ref().map_err(String::as_str),
            _ => Err("the strategy splits this car's laps elsewhere (a stop without its lap)"),
        }
    }
}

/// A stop or drive-through of the visits' statement: kind, car, lap, entry_ms,
/// pit_lane_ms, stationary_start_ms (NULL for a drive-through).
fn visit(r: &tokio_postgres::Row) -> Stop {
    Stop {
        car: small(r.get::<_, i32>(1)),
        lap: lap(r),
        entry_ms: r.get(3),
        pit_lane_ms: r.get(4),
        stationary_start_ms: r.get(5),
    }
}

/// The in-lap of a row of the visits' statement, when known.
fn lap(r: &tokio_postgres::Row) -> Option<u16> {
    r.get::<_, Option<i32>>(2)
        .and_then(|l| u16::try_from(l).ok())
}

fn small(car: i32) -> u8 {
    u8::try_from(car).unwrap_or(u8::MAX)
}
