//! The strategy of every running car as of a moment, assembled from the pieces.

use super::degradation::{FieldWear, Fit, field_wear, median};
use super::fresh_tyres::{race_shortfall_ms, shortfalls};
use super::input::{Race, Stop, fuel_ms_per_lap};
use super::pit_loss::{
    PitLoss, beyond_normal_ms, normal_lane_ms, normal_losses, pit_loss, stop_loss,
};
use super::rejoin::rejoin;
use super::stints::{StintLaps, by_car, in_lap_of, race_neutralised_laps, stints};
use super::suspension::{held_up, suspensions};
use super::timing::{Board, PricedStop, typical_lap_ms};
use super::undercut::{Call, Fresh, Wear, against_ahead, gain_ms};
use super::window::{Tyres, Window, window};
use crate::model::Compound;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The strategy of a session as of a lap.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Strategy {
    /// Laps the leader has completed.
    pub as_of_lap: u16,
    /// The last line crossing taken into account, ms since the epoch.
    pub as_of_ms: i64,
    #[schema(required = true)]
    pub total_laps: Option<u16>,
    pub pit_loss: PitLoss,
    /// Running cars in position order.
    pub cars: Vec<CarStrategy>,
    /// Under a safety car, the cars the rejoins expect to stop as well.
    #[serde(skip)]
    pub expected_to_stop: BTreeSet<u8>,
    /// How much less than their degradation modelled new tyres gained in their first lap
    /// in this race's stops so far, ms (0 under three stops): taken off the rejoin's
    /// and the undercut's first-lap gain.
    #[serde(skip)]
    pub new_tyre_shortfall_ms: f64,
}

/// Another car and how far from it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Neighbour {
    pub car: u8,
    pub driver: String,
    pub gap_ms: f64,
}

/// The stint a car is on: from the moment it stops, the next one (no lap, tyre age 0)
/// although its laps begin only at the next line it crosses.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Stint {
    pub number: usize,
    /// Null when no source names it, and until a lap on these tyres is stored.
    #[schema(required = true)]
    pub compound: Option<&'static str>,
    pub laps: usize,
    pub tyre_age: f64,
}

/// Where the car would stand if it stopped now: a lap after it comes out of the pit
/// lane, its first lap on new tyres counted against each car's tyres (none under a
/// safety car). Rejoin prediction as served.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RejoinView {
    pub position: usize,
    #[schema(required = true)]
    pub ahead: Option<Neighbour>,
    #[schema(required = true)]
    pub behind: Option<Neighbour>,
    /// Every other running car's margin after the stop, ms (positive: ahead).
    #[serde(skip)]
    pub margins: Vec<(u8, f64)>,
    /// Under a safety car, `position` assumes the cars expected to stop do; this is the
    /// position if they all stay out instead (the worst case). Null when no other car is
    /// expected to stop (always when green).
    #[schema(required = true)]
    pub position_if_field_stays_out: Option<usize>,
}

/// Undercut calls against both neighbours.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Undercut {
    #[schema(required = true)]
    pub ahead: Option<Call>,
    #[schema(required = true)]
    pub behind: Option<Call>,
}

/// One car's strategy.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CarStrategy {
    pub car: u8,
    pub driver: String,
    pub team: String,
    pub position: usize,
    pub lap: u16,
    /// In the pit lane now (the visit is stored when it leaves): its gaps hold the
    /// stop's loss already, and `rejoin` is where it stands a lap after this stop.
    pub in_pit_lane: bool,
    #[schema(required = true)]
    pub gap_ahead_ms: Option<f64>,
    #[schema(required = true)]
    pub gap_leader_ms: Option<f64>,
    pub stint: Stint,
    #[schema(required = true)]
    pub degradation: Option<Fit>,
    #[schema(required = true)]
    pub degradation_hidden: Option<String>,
    #[schema(required = true)]
    pub rejoin: Option<RejoinView>,
    #[schema(required = true)]
    pub window: Option<Window>,
    #[schema(required = true)]
    pub window_hidden: Option<String>,
    pub undercut: Undercut,
}

/// What the per-car parts need of the whole race.
struct Context<'a> {
    race: &'a Race,
    board: Board,
    loss: PitLoss,
    names: BTreeMap<u8, (&'a str, &'a str)>,
    cars: BTreeMap<u8, CarView<'a>>,
    /// Under a safety car: the cars expected to stop as well (see [`UNDER_SC_MIN_AGE`]).
    also_stopping: BTreeSet<u8>,
    /// No neutralisation under way: the field races, and new tyres gain on old.
    green: bool,
    /// How much less than modelled new tyres have gained in this race's stops so far
    /// (see [`fresh_tyres`](super::fresh_tyres)), ms.
    fresh_shortfall_ms: f64,
    /// The field's degradation, what each car's fit is read against (see [`wear`]).
    field: Option<FieldWear>,
}

/// Under a safety car a stop costs little, so the field takes it: every car on tyres at
/// least this old that has not stopped since the neutralisation began is expected to
/// stop as well.
pub const UNDER_SC_MIN_AGE: f64 = 5.0;
/// A car that crosses the line this long after a neutralisation began has driven past the
/// pit entry (just before the line at the circuits we have) with time for its team to
/// call it in: not stopping there is its answer, and it is no longer expected to stop.
/// Measured on the three real races' safety cars: of the cars expected to stop that had
/// passed the line 10 s or more into one without stopping, 14 of 126 stopped before the
/// check; of those that had not, 127 of 246. From 5 to 15 s the figures are the same.
pub const DECLINED_AFTER_MS: i64 = 10_000;
/// How much slower than racing the field runs under a neutralisation, for the pit loss
/// of a lap that has not ended yet (a safety car runs 40–60% slower, a VSC about 40%).
pub const NEUTRALISED_SLOW_RATIO: f64 = 1.45;

/// A car's stints and the fit of its current one.
struct CarView<'a> {
    stints: Vec<StintLaps<'a>>,
    fit: Result<Fit, String>,
    stops: usize,
    /// Changed tyres since the last lap of its stints (see [`on_new_tyres`]).
    new_tyres: bool,
}

/// The strategy as of the last line crossing in `race` (pass `race.as_of(t)` for a
/// moment in the past).
pub fn compute(race: &Race) -> Strategy {
    let now = race.moment();
    let ctx = context(race, now);
    let cars = ctx
        .board
        .order
        .iter()
        .enumerate()
        .map(|(i, t)| car_strategy(&ctx, t.car, i + 1))
        .collect();
    Strategy {
        as_of_lap: ctx.board.order.first().map_or(0, |t| t.laps()),
        as_of_ms: now,
        total_laps: race.total_laps,
        pit_loss: ctx.loss.clone(),
        cars,
        expected_to_stop: ctx.also_stopping.clone(),
        new_tyre_shortfall_ms: ctx.fresh_shortfall_ms,
    }
}

fn context(race: &Race, now: i64) -> Context<'_> {
    let neutral = race_neutralised_laps(race);
    let fuel = fuel_ms_per_lap(race.total_laps);
    let mut measured = Vec::new();
    let mut fresh = Vec::new();
    let mut cars = BTreeMap::new();
    // A red flag's waits changed tyres (the stints split there) but are no stop to
    // measure: their out-lap and the restart after it say nothing of a pit loss or of
    // new tyres' first lap (a standing restart's lap would read as tyres that gave
    // nothing, for every car at once).
    let (suspended, lap_ms) = (suspensions(race), typical_lap_ms(&race.laps));
    for (car, c) in by_car(race) {
        let st = stints(
            &c.laps,
            c.visits(),
            &race.laps,
            &neutral,
            &race.neutral_periods,
        );
        let judged: Vec<_> = st.iter().flat_map(|s| s.laps.iter().copied()).collect();
        let chosen = || c.stops.iter().filter(|s| !held_up(s, lap_ms, &suspended));
        measured.extend(chosen().filter_map(|s| {
            let loss = stop_loss(&judged, in_lap_of(s, &race.laps)?)?;
            Some((loss, s.pit_lane_ms))
        }));
        let stop_in_laps = chosen().filter_map(|s| in_lap_of(s, &race.laps));
        fresh.extend(shortfalls(&st, &stop_in_laps.collect(), fuel));
        let fit = st.last().map_or(Err("no laps yet".into()), |s| s.fit(fuel));
        cars.insert(
            car,
            CarView {
                new_tyres: on_new_tyres(race, car, &st),
                stints: st,
                fit,
                stops: c.stops.len(),
            },
        );
    }
    let active = race.neutralised_at(now);
    let slow = if active.is_some() {
        NEUTRALISED_SLOW_RATIO
    } else {
        slow_ratio(race, &neutral)
    };
    let also_stopping = active.map_or_else(BTreeSet::new, |(start, _)| {
        cars.iter()
            .filter(|(car, v)| {
                let age = v.stints.last().map_or(0.0, |s| s.tyre_age());
                // Stopped since the neutralisation began, or just before it (on new
                // tyres whose stint has no lap yet).
                let stopped = v.new_tyres
                    || race
                        .stops
                        .iter()
                        .any(|s| s.car == **car && s.entry_ms >= start);
                // Drove past the pit entry under it, time to react, and stayed out.
                let declined = race
                    .laps
                    .iter()
                    .any(|l| l.car == **car && l.crossed_at_ms >= start + DECLINED_AFTER_MS);
                age >= UNDER_SC_MIN_AGE && !stopped && !declined
            })
            .map(|(car, _)| *car)
            .collect()
    });
    let lanes: Vec<i64> = race.stops.iter().map(|s| s.pit_lane_ms).collect();
    let normal_lane = normal_lane_ms(&lanes, race.circuit.as_deref());
    let measured = normal_losses(&measured, normal_lane);
    let loss = pit_loss(&measured, race.circuit.as_deref(), slow);
    // No neutralisation reported. Not also "none seen in the field's last lap" (the
    // slow ratio): that takes the tyre gain from stops made as a safety car came out,
    // and the Dutch GP reads 22 instead of 23 of 39 exact with it.
    let green = active.is_none();
    let cost = stop_cost(race, &measured, normal_lane);
    let made = race.stops.iter().map(|s| PricedStop {
        car: s.car,
        entry_ms: s.entry_ms,
        exit_ms: s.exit_ms(),
        cost_ms: cost(s),
    });
    // A car in the pit lane pays the loss of its moment (its own lane time is not known
    // yet): placed now where it will come out, not where it entered.
    let under_way = race.pit_entries.iter().map(|e| PricedStop {
        car: e.car,
        entry_ms: e.entry_ms,
        exit_ms: i64::MAX,
        cost_ms: cost(&Stop {
            car: e.car,
            lap: e.lap,
            entry_ms: e.entry_ms,
            pit_lane_ms: 0,
            stationary_start_ms: None,
        }),
    });
    let priced: Vec<PricedStop> = made.chain(under_way).collect();
    Context {
        race,
        board: Board::new(&race.laps, &priced, now),
        loss,
        names: race
            .entrants
            .iter()
            .map(|e| (e.car, (e.driver.as_str(), e.team.as_str())))
            .collect(),
        also_stopping,
        green,
        fresh_shortfall_ms: race_shortfall_ms(&fresh),
        field: field_wear(
            &cars
                .values()
                .filter_map(|v| v.fit.as_ref().ok())
                .collect::<Vec<_>>(),
        ),
        cars,
    }
}

/// Whether `car` has changed tyres since the last lap of its stints: in the pit lane now,
/// or out of it with no line crossed since (its new stint has no lap yet).
fn on_new_tyres(race: &Race, car: u8, stints: &[StintLaps]) -> bool {
    let last_lap = stints.last().and_then(|s| s.laps.last()).map(|j| j.lap.lap);
    // A stop with no in-lap known and no line crossed since its entry is this one.
    race.in_pit_lane(car)
        || race
            .stops
            .iter()
            .any(|s| s.car == car && in_lap_of(s, &race.laps).is_none_or(|l| Some(l) >= last_lap))
}

/// What a stop already made cost, for the gaps: the loss of its moment (green, or
/// neutralised when it began under a safety car: a stop just before one paid the full
/// price) plus what its pit lane took beyond a normal stop's `lane` (a slow tyre change;
/// [`beyond_normal_ms`]), never below nothing. Drive-throughs are not on the board: their
/// slow laps are in the line crossings already.
fn stop_cost<'a>(
    race: &'a Race,
    measured: &[f64],
    lane: Option<f64>,
) -> impl Fn(&Stop) -> f64 + 'a {
    let circuit = race.circuit.as_deref();
    let green = pit_loss(measured, circuit, 1.0).ms;
    let neutralised = pit_loss(measured, circuit, NEUTRALISED_SLOW_RATIO).ms;
    move |s: &Stop| {
        let base = if race.neutralised_at(s.entry_ms).is_some() {
            neutralised
        } else {
            green
        };
        // A visit under way (no lane time yet) is priced at its moment's loss alone.
        let beyond = beyond_normal_ms(s.pit_lane_ms, lane);
        (base + beyond).max(0.0)
    }
}

/// The timing board `compute` judges gaps on, as of `now_ms` (its stops priced as in the
/// strategy): for checks that need the gaps themselves.
pub fn board(race: &Race, now_ms: i64) -> Board {
    context(race, now_ms).board
}

/// How much slower than its racing median the field ran its latest lap (1 when green):
/// the latest lap at least half the field has completed, so that one car's lap is not
/// taken for the field's.
fn slow_ratio(race: &Race, neutral: &BTreeSet<u16>) -> f64 {
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    for l in &race.laps {
        *counts.entry(l.lap).or_default() += 1;
    }
    let field = race
        .entrants
        .len()
        .max(counts.values().copied().max().unwrap_or(0));
    let Some(last) = counts
        .iter()
        .rev()
        .find(|(_, n)| **n * 2 >= field)
        .map(|(l, _)| *l)
    else {
        return 1.0;
    };
    if !neutral.contains(&last) {
        return 1.0;
    }
    let mut now: Vec<f64> = race
        .laps
        .iter()
        .filter(|l| l.lap == last)
        .map(|l| l.lap_time_ms as f64)
        .collect();
    median(&mut now) / typical_lap_ms(&race.laps) as f64
}

fn name(ctx: &Context, car: u8) -> String {
    ctx.names
        .get(&car)
        .map_or_else(|| format!("#{car}"), |n| n.0.to_string())
}

fn neighbour(ctx: &Context, car: u8, gap_ms: f64) -> Neighbour {
    Neighbour {
        car,
        driver: name(ctx, car),
        gap_ms,
    }
}

/// A car's tyres now: new ones (age 0) from the moment it stops, although its stints
/// begin the new one only at the next line it crosses.
fn wear(ctx: &Context, car: u8) -> Wear {
    let v = &ctx.cars[&car];
    Wear {
        age: if v.new_tyres {
            0.0
        } else {
            v.stints.last().map_or(0.0, |s| s.tyre_age())
        },
        // Read against the field's: a short stint's steep slope is mostly noise, and
        // taken as it is it made Bahrain's gains on such cars 3 to 4 s too large.
        deg_ms: v.fit.as_ref().map_or(0.0, |f| {
            ctx.field
                .map_or(f.ms_per_lap, |field| field.shrink(f))
                .max(0.0)
        }),
    }
}

/// The new tyres `car` would fit if it stopped now, racing `other`: its current
/// degradation, short in their first lap by what this race's new tyres have fallen
/// short, when tyres race at all (see [`tyres_race`]).
fn fresh(ctx: &Context, car: u8, other: u8) -> Fresh {
    Fresh {
        deg_ms: wear(ctx, car).deg_ms,
        shortfall_ms: if tyres_race(ctx, car, other) {
            ctx.fresh_shortfall_ms
        } else {
            0.0
        },
    }
}

/// Whether new tyres gain on old between `car` and `other` as their fits say: no
/// neutralisation under way (the field runs at the safety car's pace, whatever its
/// tyres) and both cars' degradation known (no fit is no evidence of tyres that do not
/// wear).
fn tyres_race(ctx: &Context, car: u8, other: u8) -> bool {
    let fitted = |c: u8| ctx.cars[&c].fit.is_ok();
    ctx.green && fitted(car) && fitted(other)
}

fn car_strategy(ctx: &Context, car: u8, position: usize) -> CarStrategy {
    let view = &ctx.cars[&car];
    let me = ctx.board.get(car).expect("on the board");
    let gap = |other: usize| {
        ctx.board
            .order
            .get(other)
            .and_then(|o| Board::gap_ms(me, o))
    };
    let current = view.stints.last();
    let (driver, team) = ctx.names.get(&car).copied().unwrap_or(("", ""));
    let in_pit_lane = ctx.race.in_pit_lane(car);
    // A car in the pit lane pays no second loss: its gaps hold this stop's.
    let loss_ms = if in_pit_lane { 0.0 } else { ctx.loss.ms };
    let over = race_over(ctx);
    CarStrategy {
        car,
        driver: if driver.is_empty() {
            format!("#{car}")
        } else {
            driver.into()
        },
        team: team.into(),
        position,
        lap: me.laps(),
        in_pit_lane,
        gap_ahead_ms: position.checked_sub(2).and_then(gap),
        gap_leader_ms: if position == 1 { Some(0.0) } else { gap(0) },
        stint: served_stint(current, view.new_tyres),
        // The served stint is the new one from the stop: no fit of its own yet (the
        // gains take its tyres to wear like the last stint's, which is not its fit).
        degradation: view.fit.as_ref().ok().filter(|_| !view.new_tyres).copied(),
        degradation_hidden: if view.new_tyres {
            Some(NO_LAP_ON_NEW_TYRES.into())
        } else {
            view.fit.as_ref().err().cloned()
        },
        rejoin: rejoin(
            &ctx.board,
            car,
            (loss_ms, ctx.loss.ms),
            &ctx.also_stopping,
            &|other| first_lap_gain(ctx, car, other),
        )
        .filter(|_| !over)
        .map(|r| RejoinView {
            position: r.position,
            ahead: r.ahead.map(|(c, g)| neighbour(ctx, c, g)),
            behind: r.behind.map(|(c, g)| neighbour(ctx, c, g)),
            margins: r.margins,
            position_if_field_stays_out: r.if_they_stay_out,
        }),
        window: None,
        window_hidden: None,
        // A car stopping now (or stopped, its new stint not begun) has no window to
        // choose nor an undercut to weigh (see `undercut` for the others' calls on it).
        undercut: if view.new_tyres || over {
            Undercut::default()
        } else {
            undercut(ctx, car, position)
        },
    }
    .with_window(if over {
        Err(RACE_OVER.into())
    } else if in_pit_lane {
        Err(IN_PIT_LANE.into())
    } else if view.new_tyres {
        Err(JUST_STOPPED.into())
    } else {
        pit_window(ctx, car, me.laps())
    })
}

/// The stint `car_strategy` serves: the current one, or from the moment a car stops the
/// next (no lap, tyres new, compound not known until a lap on them is stored), as the
/// rejoin and undercut take its tyres to be, although its stints begin the new one only
/// at the next line it crosses.
fn served_stint(current: Option<&StintLaps>, new_tyres: bool) -> Stint {
    match (current, new_tyres) {
        (_, true) => Stint {
            number: current.map_or(0, |s| s.number) + 1,
            compound: None,
            laps: 0,
            tyre_age: 0.0,
        },
        (Some(s), false) => Stint {
            number: s.number,
            compound: s.compound.map(Compound::as_str),
            laps: s.laps.len(),
            tyre_age: s.tyre_age(),
        },
        (None, false) => Stint {
            number: 0,
            compound: None,
            laps: 0,
            tyre_age: 0.0,
        },
    }
}

/// Why a car on new tyres (stopping, or stopped and not yet across the line) shows no
/// degradation.
const NO_LAP_ON_NEW_TYRES: &str = "no lap on its new tyres yet";
/// Why a car in the pit lane shows no pit window.
const IN_PIT_LANE: &str = "in the pit lane now";
/// Why a car out of the pit lane but not yet across the line shows none: its stints are
/// still those of its old tyres (the stint served is the new one, with no lap).
const JUST_STOPPED: &str = "just stopped: no line crossed on its new tyres yet";
const RACE_OVER: &str = "the race is over: the leader has taken the flag";

/// Whether the leader has taken the flag: no rejoin, undercut or window is called then
/// (a stop would end a car's race in the pit lane). On the last lap before it the window
/// is hidden already (too few laps left for a stop to pay off).
fn race_over(ctx: &Context) -> bool {
    let Some(total) = ctx.race.total_laps else {
        return false;
    };
    ctx.board.order.first().is_some_and(|t| t.laps() >= total)
}

impl CarStrategy {
    fn with_window(mut self, w: Result<Window, String>) -> Self {
        match w {
            Ok(w) => self.window = Some(w),
            Err(e) => self.window_hidden = Some(e),
        }
        self
    }
}

fn pit_window(ctx: &Context, car: u8, lap: u16) -> Result<Window, String> {
    let total = ctx
        .race
        .total_laps
        .ok_or("the race distance is not known")?;
    let view = &ctx.cars[&car];
    let fit = view
        .fit
        .as_ref()
        .map_err(|e| format!("no degradation yet: {e}"))?;
    let compounds: BTreeSet<&str> = view
        .stints
        .iter()
        .filter_map(|s| s.compound)
        .filter(|c| matches!(c, Compound::Soft | Compound::Medium | Compound::Hard))
        .map(Compound::as_str)
        .collect();
    let known = view.stints.iter().all(|s| s.compound.is_some());
    let wet = view
        .stints
        .iter()
        .any(|s| matches!(s.compound, Some(Compound::Intermediate | Compound::Wet)));
    let stop_required = !wet
        && if known {
            compounds.len() < 2
        } else {
            view.stops == 0
        };
    window(&Tyres {
        lap,
        total_laps: total,
        age: view.stints.last().map_or(0.0, |s| s.tyre_age()),
        deg_ms: fit.ms_per_lap,
        ci_ms: fit.ci95_ms_per_lap,
        next_deg_ms: None,
        loss_ms: ctx.loss.ms,
        stop_required,
    })
}

/// What `car`, stopping now, gains on `other` in its first lap after the pit exit, ms:
/// its new tyres against the other's (the undercut's one-lap gain; about nothing against
/// a car that stopped lately), less what this race's new tyres have fallen short of
/// their model in the first lap (a harder compound, a cold set, traffic: see
/// [`fresh_tyres`](super::fresh_tyres)). In the rejoin because where a car stands a lap
/// after coming out is what the stop decides (and what the real-race check judges): at
/// Monza the margins against cars on tyres 15 laps old read 2 s high without it. None under a
/// neutralisation: the field runs at the safety car's pace, whatever its tyres. None
/// either without both cars' degradation (no fit is no evidence of tyres that do not
/// wear), and never more than [`MAX_FIRST_LAP_GAIN_MS`] either way.
fn first_lap_gain(ctx: &Context, car: u8, other: u8) -> f64 {
    if !tyres_race(ctx, car, other) {
        return 0.0;
    }
    gain_ms(wear(ctx, other), fresh(ctx, car, other), 1)
        .clamp(-MAX_FIRST_LAP_GAIN_MS, MAX_FIRST_LAP_GAIN_MS)
}

/// The most new tyres gain or lose on another car's in one lap, ms: a fit steeper than
/// that (a drying track, a stint of a few laps) times a feed's tyre age says more of the
/// fit than of the tyres; the largest real gains are 2 to 3 s.
const MAX_FIRST_LAP_GAIN_MS: f64 = 5_000.0;

fn undercut(ctx: &Context, car: u8, position: usize) -> Undercut {
    let me = ctx.board.get(car).expect("on the board");
    let mine = wear(ctx, car);
    let call = |other: usize, ahead: bool| -> Option<Call> {
        let o = ctx.board.order.get(other)?;
        // A car ahead in the pit lane or just out of it has stopped already: it will not
        // stay out to cover on its old tyres (a car behind in the lane is the threat
        // itself).
        if ahead && ctx.cars[&o.car].new_tyres {
            return None;
        }
        // The time the car that stops must make up: we trail the car ahead by `gap`, the
        // car behind trails us by `-gap` (negative when a pending stop already swapped
        // them on race time: nothing to make up).
        let gap = Board::gap_ms(me, o)?;
        let gap = if ahead { gap } else { -gap };
        // Ahead: we stop now and they cover next lap. Behind: they stop now, we cover.
        let (rival, new) = if ahead {
            (wear(ctx, o.car), fresh(ctx, car, o.car))
        } else {
            (mine, fresh(ctx, o.car, car))
        };
        let (jump, margin_ms) = against_ahead(rival, new, gap);
        Some(Call {
            car: o.car,
            driver: name(ctx, o.car),
            gap_ms: gap,
            call: match (ahead, jump) {
                (true, true) => "jump",
                (true, false) => "no_jump",
                (false, true) => "threat",
                (false, false) => "safe",
            },
            margin_ms,
        })
    };
    Undercut {
        ahead: position.checked_sub(2).and_then(|i| call(i, true)),
        behind: call(position, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::fixtures;
    use crate::analytics::strategy::input::{PitEntry, Stop};
    use crate::analytics::strategy::pit_loss::FASTER_LANE_MS;

    /// Two cars on 10-lap-old tyres at 90 s a lap; car 2 stops in lap 10, just before a
    /// safety car comes out early in lap 11, while its out-lap is under way.
    fn race() -> Race {
        Race {
            entrants: fixtures::entrants(2),
            laps: fixtures::steady_laps(2, 10),
            stops: vec![Stop {
                car: 2,
                lap: Some(10),
                entry_ms: 895_000,
                pit_lane_ms: 20_000,
                stationary_start_ms: None,
            }],
            neutral_periods: vec![(910_000, i64::MAX)],
            now_ms: Some(930_000),
            ..Race::default()
        }
    }

    /// After the flag no car gets a rejoin, undercut or window (they were told where they
    /// would rejoin after the chequered flag); with a lap to go they are.
    #[test]
    fn no_call_is_made_once_the_race_is_over() {
        let race = |total| Race {
            entrants: fixtures::entrants(2),
            laps: fixtures::steady_laps(2, 10),
            total_laps: Some(total),
            now_ms: Some(905_000),
            ..Race::default()
        };
        for total in [9, 10] {
            let s = compute(&race(total));
            assert_eq!(s.cars.len(), 2);
            for c in &s.cars {
                assert!(c.rejoin.is_none(), "{total} laps: {c:?}");
                assert!(c.undercut.ahead.is_none() && c.undercut.behind.is_none());
                assert_eq!(c.window_hidden.as_deref(), Some(RACE_OVER));
            }
        }
        let s = compute(&race(11));
        assert!(s.cars.iter().all(|c| c.rejoin.is_some()));
        assert!(
            s.cars
                .iter()
                .all(|c| c.window_hidden.as_deref() != Some(RACE_OVER))
        );
    }

    /// Under the safety car the car on old tyres is expected to take the cheap stop; the
    /// one that stopped just before it came out is not expected to stop again.
    #[test]
    fn a_car_that_just_stopped_is_not_expected_to_stop_again() {
        let s = compute(&race());
        assert_eq!(s.expected_to_stop.iter().copied().collect::<Vec<_>>(), [1]);
    }

    /// A car that crossed the line (past the pit entry) with time to react after the
    /// safety car came out, and did not stop, said no: it is not expected to stop. One
    /// that crossed too soon after it to be called in still is.
    #[test]
    fn a_car_that_drove_past_the_pit_entry_under_the_safety_car_stays_out() {
        // Car 1 crossed its lap-10 line at 901 s.
        for (start, expected) in [(895_000, vec![1]), (885_000, vec![])] {
            let mut r = race();
            r.neutral_periods = vec![(start, i64::MAX)];
            let s = compute(&r);
            let got: Vec<u8> = s.expected_to_stop.iter().copied().collect();
            assert_eq!(got, expected, "safety car from {start} ms");
        }
    }

    /// Three cars a second apart on 10 laps of 90 s, `car` in the pit lane since
    /// `entry_ms` (after its lap 10), as of 915 s.
    fn in_the_lane(car: u8, entry_ms: i64) -> Race {
        Race {
            entrants: fixtures::entrants(3),
            laps: fixtures::steady_laps(3, 10),
            pit_entries: vec![PitEntry {
                car,
                lap: Some(11),
                entry_ms,
            }],
            now_ms: Some(915_000),
            ..Race::default()
        }
    }

    /// Car `n`'s strategy in `s`.
    fn car(s: &Strategy, n: u8) -> CarStrategy {
        s.cars.iter().find(|c| c.car == n).cloned().unwrap()
    }

    /// Car 1 leads car 2 by 1 s and car 3 by 2 s, and entered the pit lane after its
    /// lap 10: it is placed where it comes out (its gaps hold the loss, its rejoin adds
    /// no second one), and under a safety car it is not expected to stop again.
    #[test]
    fn a_car_in_the_pit_lane_is_placed_where_it_comes_out() {
        let mut r = in_the_lane(1, 905_000);
        let s = compute(&r);
        let loss = s.pit_loss.ms;
        let (one, two) = (car(&s, 1), car(&s, 2));
        assert!(one.in_pit_lane && !two.in_pit_lane);
        // Stopping now: no window to choose, no undercut of its own to weigh.
        assert_eq!(one.window_hidden.as_deref(), Some(IN_PIT_LANE));
        assert!(one.window.is_none() && one.undercut.ahead.is_none());
        assert!(one.undercut.behind.is_none());
        // On new tyres from its stop: the stint served is its second, with no lap.
        let stints = |c: &CarStrategy| (c.stint.number, c.stint.laps, c.stint.tyre_age);
        assert_eq!((stints(&one), stints(&two)), ((2, 0, 0.0), (1, 10, 10.0)));
        assert_ne!(two.window_hidden.as_deref(), Some(IN_PIT_LANE));
        assert!(two.undercut.ahead.is_some() || two.undercut.behind.is_some());
        assert_eq!(two.gap_ahead_ms, Some(1_000.0 - loss));
        assert_eq!(one.rejoin.as_ref().map(|r| r.position), Some(3));
        // Car 2 stopping now would come out behind car 1, which stops too.
        assert_eq!(two.rejoin.as_ref().map(|r| r.position), Some(3));
        let before = compute(&Race {
            pit_entries: Vec::new(),
            ..r.clone()
        });
        assert_eq!(car(&before, 2).gap_ahead_ms, Some(1_000.0));

        r.neutral_periods = vec![(902_000, i64::MAX)];
        let s = compute(&r);
        assert_eq!(
            s.expected_to_stop.iter().copied().collect::<Vec<_>>(),
            [2, 3]
        );
        // Car 2 stopping comes out behind car 1, ahead of car 3 if it stops as well.
        let two = car(&s, 2).rejoin.unwrap();
        assert_eq!(
            (two.position, two.position_if_field_stays_out),
            (2, Some(3))
        );
        // Car 1 comes out ahead of both if they stop too, behind both if they stay out.
        let one = car(&s, 1).rejoin.unwrap();
        assert_eq!(
            (one.position, one.position_if_field_stays_out),
            (1, Some(3))
        );
    }

    /// Car 2, between cars 1 and 3 a second apart, is in the pit lane. Car 3 makes no
    /// undercut call against it (it is stopping already: it will not cover on old
    /// tyres); car 1 still weighs it as the threat from behind.
    #[test]
    fn no_car_plans_an_undercut_on_a_car_in_the_pit_lane() {
        let r = in_the_lane(2, 906_000);
        let s = compute(&r);
        assert!(car(&s, 3).undercut.ahead.is_none());
        assert_eq!(car(&s, 1).undercut.behind.map(|c| c.car), Some(2));
        // Without the stop under way, car 3 weighs its undercut on car 2.
        let s = compute(&Race {
            pit_entries: Vec::new(),
            ..r
        });
        assert_eq!(car(&s, 3).undercut.ahead.map(|c| c.car), Some(2));
    }

    /// Laps 1..=20 of each `(car, behind_ms)`, every lap 100 ms slower than the one
    /// before (tyres wearing, all alike, so the gaps hold), as known at `now_ms` (car 1
    /// crosses its lap 20 at 1,821 s).
    fn worn(cars: &[(u8, i64)], now_ms: i64) -> Race {
        let laps = cars
            .iter()
            .flat_map(|&(car, behind)| {
                fixtures::timed_laps(car, behind, (1..=20).map(|lap| 90_000 + 100 * lap))
            })
            .collect();
        Race {
            entrants: fixtures::entrants(3),
            laps,
            ..Race::default()
        }
        .as_of(now_ms)
    }

    /// Car 1's margin over `other` if it stopped now, ms (positive: `other` ahead).
    fn margin(s: &Strategy, other: u8) -> f64 {
        let r = car(s, 1).rejoin.unwrap();
        r.margins.iter().find(|m| m.0 == other).unwrap().1
    }

    /// Car 2 runs a second less than the pit loss behind car 1, both on tyres 20 laps
    /// old: stopping, car 1 comes out just behind it, and takes the place back in its
    /// first lap on new tyres (the tyres' one-lap gain, which the rejoin counts; none
    /// under a safety car, where nobody races on tyres). Against car 3, which has
    /// stopped but not yet crossed the line since, there is nothing to gain: it is on new
    /// tyres too, although its stints still end with its old ones.
    #[test]
    fn the_rejoin_counts_the_first_lap_on_new_tyres() {
        let loss = compute(&worn(&[(1, 0)], 1_822_000)).pit_loss.ms as i64;
        let field = [(1, 0), (2, loss - 1_000), (3, 30_000)];
        let r = worn(&field, 1_822_000);
        let s = compute(&r);
        let (one, two) = (car(&s, 1), car(&s, 2));
        let deg = |c: &CarStrategy| c.degradation.map(|d| d.ms_per_lap).unwrap();
        assert!(deg(&one) > 50.0, "{:?}", one.degradation);
        let gain = deg(&two) * (two.stint.tyre_age + 1.0) - deg(&one);
        assert!(gain > 1_000.0, "gain {gain}");
        assert!((margin(&s, 2) - (1_000.0 - gain)).abs() < 1e-6);
        assert_eq!(one.rejoin.as_ref().map(|r| r.position), Some(1));

        // Under a safety car car 2 is expected to stop as well, at the same loss: the
        // margin is the gap on the road, no tyre gain in it.
        let mut sc = r.clone();
        sc.neutral_periods = vec![(1_821_000, i64::MAX)];
        let s = compute(&sc);
        assert!(s.expected_to_stop.contains(&2));
        let b = board(&sc, 1_822_000);
        let on_road = Board::gap_ms(b.get(1).unwrap(), b.get(2).unwrap()).unwrap();
        assert_eq!(margin(&s, 2), on_road);

        // Car 3 stopped in its lap 20 and is out, its lap not ended: whether or not the
        // stop's in-lap is stored, no gain on it, no window nor undercut of its own.
        for lap in [Some(20), None] {
            let mut stopped = worn(&field, 1_832_000);
            stopped.stops.push(Stop {
                car: 3,
                lap,
                entry_ms: 1_811_000,
                pit_lane_ms: 20_000,
                stationary_start_ms: None,
            });
            let s = compute(&stopped);
            let b = board(&stopped, 1_832_000);
            let on_road = Board::gap_ms(b.get(1).unwrap(), b.get(3).unwrap()).unwrap();
            let three = car(&s, 3);
            // Its new tyres taken to wear like its last stint (as fitted before the stop).
            let last_stint = car(&compute(&worn(&field, 1_810_000)), 3);
            let new_tyres = deg(&last_stint) - deg(&car(&s, 1));
            let want = on_road + s.pit_loss.ms - new_tyres;
            assert!((margin(&s, 3) - want).abs() < 1e-6, "{lap:?}");
            assert_eq!(three.window_hidden.as_deref(), Some(JUST_STOPPED));
            assert!(three.undercut.ahead.is_none() && three.undercut.behind.is_none());
            // Its stint as served is the new one, as the others' gains take it.
            let st = &three.stint;
            assert_eq!(
                (st.number, st.compound, st.laps, st.tyre_age),
                (2, None, 0, 0.0)
            );
            assert_eq!(car(&s, 1).stint.laps, 20);
            assert!(three.degradation.is_none());
            assert_eq!(
                three.degradation_hidden.as_deref(),
                Some(NO_LAP_ON_NEW_TYRES)
            );
        }
    }

    /// The worn field of [`worn`] with cars 4 to 6 behind it, each stopped in its lap 8
    /// ([`fixtures::one_stop_times`], no fuel) and its lap 10, the first after the
    /// out-lap, `late_ms` slower than its tyres say.
    fn with_earlier_stops(late_ms: i64, stopped: &[(u8, i64)]) -> Race {
        let mut race = worn(&[(1, 0), (2, 20_000), (3, 30_000)], 1_822_000);
        race.entrants = fixtures::entrants(6);
        for &(car, behind) in stopped {
            let laps = fixtures::timed_laps(car, behind, fixtures::one_stop_times(20, 0, late_ms));
            race.stops.push(Stop {
                car,
                lap: Some(8),
                entry_ms: laps[7].crossed_at_ms - 5_000,
                pit_lane_ms: 20_000,
                stationary_start_ms: None,
            });
            race.laps.extend(laps);
        }
        race.as_of(1_822_000)
    }

    /// New tyres that gained 600 ms less in their first lap than their fits said, in
    /// each of three stops: the rejoin's first-lap gain and the undercut's are 600 ms
    /// less, so car 1 (stopping) keeps 600 ms less over car 2 and car 2 (stopping) finds
    /// 600 ms less on car 1.
    #[test]
    fn the_first_lap_gains_what_this_races_new_tyres_showed() {
        let three = [(4, 40_000), (5, 50_000), (6, 60_000)];
        let race = |late_ms| with_earlier_stops(late_ms, &three);
        let as_modelled = compute(&race(0));
        let short = compute(&race(600));
        assert!(
            (short.new_tyre_shortfall_ms - as_modelled.new_tyre_shortfall_ms - 600.0).abs() < 1e-6
        );
        // The margin less what is not tyres (the gap on the road and the pit loss).
        let tyres = |r: &Race, s: &Strategy| {
            let b = board(r, 1_822_000);
            let on_road = Board::gap_ms(b.get(1).unwrap(), b.get(2).unwrap()).unwrap();
            margin(s, 2) - on_road - s.pit_loss.ms
        };
        let (a, b) = (tyres(&race(0), &as_modelled), tyres(&race(600), &short));
        assert!((b - a - 600.0).abs() < 1e-6, "{a} {b}");
        // Both undercut calls between cars 1 and 2, whichever stops.
        let ahead = |s: &Strategy| car(s, 2).undercut.ahead.unwrap().margin_ms;
        let behind = |s: &Strategy| car(s, 1).undercut.behind.unwrap().margin_ms;
        assert!((ahead(&as_modelled) - ahead(&short) - 600.0).abs() < 1e-6);
        assert!((behind(&as_modelled) - behind(&short) - 600.0).abs() < 1e-6);
        // Two stops measured are not enough: nothing is taken off.
        let two = compute(&with_earlier_stops(600, &three[..2]));
        assert_eq!(two.new_tyre_shortfall_ms, 0.0);
        // Under a safety car tyres do not race: the calls are the modelled ones.
        let sc = |late_ms| {
            let mut r = race(late_ms);
            r.neutral_periods = vec![(1_821_000, i64::MAX)];
            compute(&r)
        };
        assert!(sc(600).new_tyre_shortfall_ms > 0.0);
        assert_eq!(ahead(&sc(600)), ahead(&sc(0)));
    }

    /// A red flag: cars 1 to 3 (half the field) wait three minutes in the pit lane in
    /// their lap 14, their tyres changed, and lap on as their old tyres did (as a
    /// standing restart's slow laps would read). Those waits are no stops to learn new
    /// tyres' first lap from: the race's shortfall is the three real stops' alone.
    #[test]
    fn a_red_flags_waits_teach_nothing_of_new_tyres() {
        let three = [(4, 40_000), (5, 50_000), (6, 60_000)];
        let mut red = with_earlier_stops(600, &three);
        let waits = (1..=3u8).map(|car| {
            let line = red
                .laps
                .iter()
                .find(|l| l.car == car && l.lap == 14)
                .unwrap();
            Stop {
                car,
                lap: Some(14),
                entry_ms: line.crossed_at_ms - 5_000,
                pit_lane_ms: 180_000,
                stationary_start_ms: None,
            }
        });
        red.stops.extend(waits.collect::<Vec<_>>());
        assert_eq!(suspensions(&red).len(), 1);
        let shortfall = compute(&red).new_tyre_shortfall_ms;
        let want = compute(&with_earlier_stops(600, &three)).new_tyre_shortfall_ms;
        assert!(
            (shortfall - want).abs() < 1e-6,
            "{shortfall} against {want}"
        );
    }

    /// Live, the moment is the last line crossing: a car that entered the pit lane after
    /// it is in the lane all the same, its loss in the gaps.
    #[test]
    fn an_entry_after_the_last_crossing_counts() {
        let r = Race {
            entrants: fixtures::entrants(3),
            laps: fixtures::steady_laps(3, 10),
            pit_entries: vec![PitEntry {
                car: 1,
                lap: Some(11),
                entry_ms: 904_000,
            }],
            ..Race::default()
        };
        let s = compute(&r);
        assert_eq!(s.as_of_ms, 903_000);
        let one = s.cars.iter().find(|c| c.car == 1).unwrap();
        assert_eq!(one.rejoin.as_ref().map(|r| r.position), Some(3));
        let two = s.cars.iter().find(|c| c.car == 2).unwrap();
        assert_eq!(two.gap_ahead_ms, Some(1_000.0 - s.pit_loss.ms));
    }

    /// Car 2's stop began before the safety car and was under way at its last line
    /// crossing: the gap to car 1 holds the green loss it paid, not the cheaper one the
    /// safety car offers now (which a stop of its own would pay).
    #[test]
    fn a_gap_holds_the_loss_a_stop_paid() {
        let s = compute(&race());
        assert!(s.pit_loss.neutralised);
        let green = pit_loss(&[], None, 1.0).ms;
        assert!(s.pit_loss.ms < green);
        let car2 = s.cars.iter().find(|c| c.car == 2).unwrap();
        assert_eq!(car2.gap_ahead_ms, Some(1_000.0 + green));
    }

    /// Each stop made is priced at the loss of its moment plus its pit lane beyond a
    /// normal stop's: one begun before the safety car at the green loss, one under it at
    /// the neutralised loss, a slow one with its extra seconds, a quick one at most 3 s
    /// less; with fewer than three stops there is no normal stop to compare with.
    #[test]
    fn a_stop_costs_the_loss_of_its_moment_and_its_own_pit_lane() {
        let stop = |entry_ms: i64, pit_lane_ms: i64| Stop {
            car: 1,
            lap: None,
            entry_ms,
            pit_lane_ms,
            stationary_start_ms: None,
        };
        let mut r = Race {
            circuit: Some("zandvoort".into()),
            neutral_periods: vec![(1_000_000, 1_200_000)],
            stops: vec![stop(0, 20_000), stop(1, 20_000), stop(2, 20_000)],
            ..Race::default()
        };
        let green = pit_loss(&[], r.circuit.as_deref(), 1.0).ms;
        let neutral = pit_loss(&[], r.circuit.as_deref(), NEUTRALISED_SLOW_RATIO).ms;
        assert!(neutral < green);
        let lane = |r: &Race| {
            let lanes: Vec<i64> = r.stops.iter().map(|s| s.pit_lane_ms).collect();
            normal_lane_ms(&lanes, r.circuit.as_deref())
        };
        let cost = stop_cost(&r, &[], lane(&r));
        let table = [
            (stop(999_999, 20_000), green),
            (stop(1_000_000, 20_000), neutral),
            (stop(1_199_999, 20_000), neutral),
            (stop(1_200_000, 20_000), green),
            (stop(0, 31_000), green + 11_000.0),
            (stop(0, 18_500), green - 1_500.0),
            (stop(0, 10_000), green - FASTER_LANE_MS),
        ];
        // Never below nothing, whatever a tiny measured loss and a quick lane make of it.
        let tiny = stop_cost(&r, &[1_000.0, 1_000.0, 1_000.0], lane(&r));
        assert_eq!(tiny(&stop(1_000_000, 10_000)), 0.0);
        drop(tiny);
        for (s, want) in table {
            assert_eq!(cost(&s), want, "{s:?}");
        }
        drop(cost);
        r.stops.pop();
        let cost = stop_cost(&r, &[], lane(&r));
        assert_eq!(cost(&stop(0, 31_000)), green);
        drop(cost);
        // A troubled stop among them is no normal one: the others' 20 s is.
        r.stops.extend([stop(3, 35_000), stop(4, 20_000)]);
        let cost = stop_cost(&r, &[], lane(&r));
        assert_eq!(cost(&stop(0, 31_000)), green + 11_000.0);
    }
}
