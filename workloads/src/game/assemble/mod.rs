//! Game packets into pitstop sessions, pure: no socket, no clock (the arrival time is an
//! argument). One game session (`sessionUID`) is one pitstop session.
//!
//! A sample is one car at one frame: the frame's Car Telemetry (speed is required) with
//! the same frame's Lap Data, and what slower packets said last (status, damage, names).
//! The two halves of a frame arrive as separate datagrams, lost, duplicated or swapped
//! with their neighbours', so frames wait in a short window ([`REORDER_S`] of game time)
//! and leave in frame order: when both halves are in, or when the window has passed them
//! (then with what arrived; a frame without telemetry has no speed and is counted, not
//! sent). A frame that arrives after a newer one has left is sent after it (the
//! processor orders samples); a half whose frame has left is late ([`frames`]). A
//! sample's `seq` is its frame number, so a resent datagram or a restarted gateway can
//! never make the processor count a sample twice. [`output`]: what comes out.

use super::decode::{
    CarLap, CarStatus, CarTelemetry, GameEvent, Header, Packet, Participant, Payload, SessionInfo,
};
use super::names;
use crate::model::{PitStatus, Sample};
use crate::stream::CarInfo;
use compact_str::CompactString;
use frames::{Frame, Half, RecentFrames};
use std::collections::{BTreeMap, HashMap};

mod frames;
mod output;
#[cfg(test)]
mod tests;

pub use output::{Dropped, GameStop, Output, Start};

/// How long a frame waits for its other half, in game seconds.
pub const REORDER_S: f32 = 0.25;

/// A frame this far (game seconds) behind the newest sent is dropped even if it never
/// left: the processor's analysis has moved past it.
const LATE_S: f32 = 2.0;

/// Frames held while a session's names (Participants) or event (Session) are not known
/// yet: a minute at 60 Hz. Participants come every 5 s, so only a game that never sends
/// them fills it; older frames are then dropped (`no_participants`).
const MAX_UNSTARTED_FRAMES: usize = 3_600;

/// Game seconds after the chequered flag before a session is finished even though some
/// car never took it (a car parked after the flag sends no more laps).
const FINISH_GRACE_S: f32 = 180.0;

/// One car's pit visit as the game reports it.
#[derive(Clone, Copy, Default)]
struct GamePit {
    in_lane: bool,
    /// The lap the car entered the pit lane on (the stop's lap, as the FIA counts it).
    entry_lap: u8,
    timer_max_ms: u16,
}

/// One game session.
struct GameSession {
    id: CompactString,
    format: u16,
    /// Unix ms of game time 0: the arrival of the first datagram minus its game time.
    anchor_ms: i64,
    info: Option<SessionInfo>,
    /// Car number, driver and team per vehicle index, from Participants.
    cars: Option<Vec<CarInfo>>,
    status: Vec<CarStatus>,
    wear: Vec<[f32; 4]>,
    frames: BTreeMap<u32, Frame>,
    /// The last frame that left the window, and its game time.
    sent: Option<(u32, f32)>,
    /// Frames sent lately: a half of one of them arriving now is too late to join it.
    recent: RecentFrames,
    newest_s: f32,
    /// After a flashback: game time already sent, not to be sent again.
    rewound_until_s: Option<f32>,
    started: bool,
    chequered_at_s: Option<f32>,
    finished: bool,
    pits: Vec<GamePit>,
    /// Cars racing in the last Lap Data sent.
    racing: usize,
    /// A red flag's period is open.
    red_flag: bool,
    safety_car: u8,
}

/// Every game session one gateway sees.
pub struct Assembler {
    /// `--session`: the one pitstop session id, bound to the first game session seen.
    fixed: Option<CompactString>,
    sessions: HashMap<u64, GameSession>,
    /// Counts of what was not sent, by reason.
    pub dropped: BTreeMap<Dropped, u64>,
}

impl Assembler {
    pub fn new(fixed_session: Option<&str>) -> Self {
        Assembler {
            fixed: fixed_session.map(CompactString::from),
            sessions: HashMap::new(),
            dropped: BTreeMap::new(),
        }
    }

    /// Game sessions seen.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Whether every session seen has finished.
    pub fn all_finished(&self) -> bool {
        !self.sessions.is_empty() && self.sessions.values().all(|s| s.finished)
    }

    fn count_drop(&mut self, why: Dropped) {
        *self.dropped.entry(why).or_default() += 1;
    }

    /// One decoded datagram that arrived at `arrival_ms`; what it completes goes to `out`.
    pub fn push(&mut self, p: Packet, arrival_ms: i64, out: &mut Vec<Output>) {
        let uid = p.header.session_uid;
        if !self.sessions.contains_key(&uid) {
            let id = match &self.fixed {
                Some(_) if !self.sessions.is_empty() => {
                    return self.count_drop(Dropped::OtherSession);
                }
                Some(id) => id.clone(),
                None => compact_str::format_compact!("game-{uid:016x}"),
            };
            let session = GameSession::new(id, &p.header, arrival_ms);
            self.sessions.insert(uid, session);
        }
        let s = self.sessions.get_mut(&uid).expect("inserted above");
        if s.finished {
            return self.count_drop(Dropped::Finished);
        }
        let mut dropped = Vec::new();
        s.push(p, out, &mut dropped);
        for d in dropped {
            self.count_drop(d);
        }
    }

    /// Finishes every session that has shown the chequered flag: the game has gone
    /// quiet after it, so the datagrams that would have finished it (a car's last Lap
    /// Data, `SEND`) were lost or will not come.
    pub fn finish_flagged(&mut self, out: &mut Vec<Output>) {
        let mut dropped = Vec::new();
        for s in self.sessions.values_mut() {
            if s.chequered_at_s.is_some() {
                s.finish(out, &mut dropped);
            }
        }
        for d in dropped {
            self.count_drop(d);
        }
    }

    /// Sends what every session still holds (the gateway is stopping, or a replay ended).
    pub fn flush(&mut self, out: &mut Vec<Output>) {
        let mut dropped = Vec::new();
        for s in self.sessions.values_mut() {
            s.flush_before(f32::INFINITY, out, &mut dropped);
        }
        for d in dropped {
            self.count_drop(d);
        }
    }
}

impl GameSession {
    fn new(id: CompactString, h: &Header, arrival_ms: i64) -> Self {
        GameSession {
            id,
            format: h.format,
            anchor_ms: arrival_ms - (h.session_time_s as f64 * 1000.0).round() as i64,
            info: None,
            cars: None,
            status: Vec::new(),
            wear: Vec::new(),
            frames: BTreeMap::new(),
            sent: None,
            recent: RecentFrames::default(),
            newest_s: f32::MIN,
            rewound_until_s: None,
            started: false,
            chequered_at_s: None,
            finished: false,
            pits: Vec::new(),
            racing: usize::MAX,
            red_flag: false,
            safety_car: 0,
        }
    }

    /// A race-control event of this session at game time `time_s`.
    fn control(&self, time_s: f32, kind: &'static str) -> Output {
        Output::RaceControl(self.id.clone(), self.at_ms(time_s), kind)
    }

    fn at_ms(&self, time_s: f32) -> i64 {
        self.anchor_ms + (time_s as f64 * 1000.0).round() as i64
    }

    fn push(&mut self, p: Packet, out: &mut Vec<Output>, dropped: &mut Vec<Dropped>) {
        let (frame, time_s) = (p.header.frame, p.header.session_time_s);
        match p.payload {
            Payload::Laps(l) => self.half(frame, time_s, Half::Laps(l), out, dropped),
            Payload::Telemetry(t) => self.half(frame, time_s, Half::Telemetry(t), out, dropped),
            Payload::Status(st) => self.status = st,
            Payload::Damage(w) => self.wear = w,
            Payload::Participants(ps) => self.participants(&ps),
            Payload::Session(info) => self.session(info, time_s, out),
            Payload::Event(e) => self.event(e, time_s, out, dropped),
            Payload::Unused => {}
        }
        self.start_when_known(out, dropped);
    }

    fn participants(&mut self, ps: &[Participant]) {
        // Race numbers are car numbers when they are unique and valid (offline and
        // league races); otherwise (online lobbies may repeat them) the grid slot is.
        let mut numbers: Vec<u8> = ps.iter().map(|p| p.race_number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let by_number =
            numbers.len() == ps.len() && ps.iter().all(|p| (1..=99).contains(&p.race_number));
        let cars = ps
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let car = if by_number {
                    p.race_number
                } else {
                    i as u8 + 1
                };
                CarInfo {
                    car,
                    driver: names::driver(&p.name, car).into(),
                    team: names::team_checked(names::team(p.team_id, self.format)).into(),
                }
            })
            .collect::<Vec<_>>();
        // Two drivers with one name (two "Player"s) would make an invalid grid.
        let mut drivers: Vec<&str> = cars.iter().map(|c| c.driver.as_str()).collect();
        drivers.sort_unstable();
        drivers.dedup();
        let cars = if drivers.len() == cars.len() {
            cars
        } else {
            cars.into_iter()
                .map(|c| CarInfo {
                    driver: compact_str::format_compact!("car {}", c.car),
                    ..c
                })
                .collect()
        };
        // The grid of a started session is its start marker's: keep it.
        if !self.started || self.cars.is_none() {
            self.cars = Some(cars);
        }
    }

    fn session(&mut self, info: SessionInfo, time_s: f32, out: &mut Vec<Output>) {
        if self.started && info.safety_car != self.safety_car {
            let kind = match info.safety_car {
                1 => Some("safety_car"),
                2 => Some("virtual_safety_car"),
                // The formation lap's safety car is not a neutralisation of the race.
                _ if matches!(self.safety_car, 1 | 2) => Some("green"),
                _ => None,
            };
            if let Some(kind) = kind {
                out.push(Output::RaceControl(
                    self.id.clone(),
                    self.at_ms(time_s),
                    kind,
                ));
            }
        }
        self.safety_car = info.safety_car;
        self.info = Some(info);
    }

    fn event(
        &mut self,
        e: GameEvent,
        time_s: f32,
        out: &mut Vec<Output>,
        dropped: &mut Vec<Dropped>,
    ) {
        match e {
            GameEvent::ChequeredFlag => {
                if self.chequered_at_s.is_none() && self.started {
                    out.push(self.control(time_s, "chequered"));
                }
                self.chequered_at_s.get_or_insert(time_s);
            }
            GameEvent::RedFlag if self.started => {
                self.red_flag = true;
                out.push(self.control(time_s, "red_flag"));
            }
            // The restart after a red flag ends its period (a rolling restart behind the
            // safety car ends when the safety car goes in, see `session`).
            GameEvent::LightsOut if self.red_flag => {
                self.red_flag = false;
                out.push(self.control(time_s, "green"));
            }
            GameEvent::SessionEnded => self.finish(out, dropped),
            GameEvent::Flashback { session_time_s } => {
                // What was sent stays; the replayed stretch is dropped until game time
                // passes what the processor has.
                self.flush_before(f32::INFINITY, out, dropped);
                let sent_s = self.sent.map_or(session_time_s, |(_, t)| t);
                self.rewound_until_s = Some(sent_s);
                self.newest_s = session_time_s;
            }
            GameEvent::SessionStarted
            | GameEvent::RedFlag
            | GameEvent::LightsOut
            | GameEvent::Retirement { .. }
            | GameEvent::Other => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<Output>, dropped: &mut Vec<Dropped>) {
        if self.finished {
            return;
        }
        self.flush_before(f32::INFINITY, out, dropped);
        if self.started {
            out.push(Output::Finish(self.id.clone()));
        }
        self.finished = true;
    }

    /// Sends the start marker once names and event are known, then the frames held.
    fn start_when_known(&mut self, out: &mut Vec<Output>, dropped: &mut Vec<Dropped>) {
        if self.started || self.finished {
            return;
        }
        let (Some(info), Some(cars)) = (&self.info, &self.cars) else {
            while self.frames.len() > MAX_UNSTARTED_FRAMES {
                self.frames.pop_first();
                dropped.push(Dropped::NoParticipants);
            }
            return;
        };
        out.push(Output::Start(Start {
            session: self.id.clone(),
            circuit: names::circuit(info.track_id),
            laps: (info.total_laps as u16).clamp(1, 200),
            started_at_ms: self.anchor_ms,
            cars: cars.clone(),
        }));
        self.started = true;
        self.flush_before(self.newest_s - REORDER_S, out, dropped);
    }

    fn half(
        &mut self,
        frame: u32,
        time_s: f32,
        half: Half,
        out: &mut Vec<Output>,
        dropped: &mut Vec<Dropped>,
    ) {
        if let Some(until) = self.rewound_until_s {
            if time_s <= until {
                return dropped.push(Dropped::Flashback);
            }
            self.rewound_until_s = None;
        }
        // A frame that overtook others leaves out of order (the processor orders its
        // samples); only a half whose frame has left, or one from far behind, is late.
        let far_behind = self.sent.is_some_and(|(_, t)| time_s < t - LATE_S);
        if far_behind || self.recent.contains(frame) {
            return dropped.push(Dropped::Late);
        }
        let f = self.frames.entry(frame).or_default();
        f.time_s = time_s;
        let duplicate = match half {
            Half::Laps(l) => f.laps.replace(l).is_some(),
            Half::Telemetry(t) => f.telemetry.replace(t).is_some(),
        };
        if duplicate {
            dropped.push(Dropped::Duplicate);
        }
        self.newest_s = self.newest_s.max(time_s);
        if self.started {
            self.flush_before(self.newest_s - REORDER_S, out, dropped);
        }
    }

    /// Sends, in frame order, the complete frames at the front and every frame older than
    /// `before_s`; then finishes the session if the chequered flag has been taken.
    fn flush_before(&mut self, before_s: f32, out: &mut Vec<Output>, dropped: &mut Vec<Dropped>) {
        if !self.started {
            return;
        }
        while let Some(entry) = self.frames.first_entry() {
            let f = entry.get();
            let complete = f.laps.is_some() && f.telemetry.is_some();
            if !complete && f.time_s >= before_s {
                break;
            }
            let (frame, f) = entry.remove_entry();
            if self.sent.is_none_or(|(_, t)| f.time_s > t) {
                self.sent = Some((frame, f.time_s));
            }
            self.recent.insert(frame);
            self.send_frame(frame, f, out, dropped);
        }
        if let Some(flag_s) = self.chequered_at_s
            && !self.finished
            && (self.newest_s - flag_s > FINISH_GRACE_S || self.all_cars_done())
        {
            self.finished = true;
            out.push(Output::Finish(self.id.clone()));
        }
    }

    /// Every car has finished or retired (by the last Lap Data sent).
    fn all_cars_done(&self) -> bool {
        self.racing == 0
    }

    /// One frame's samples (a car that is racing and has telemetry) and the game's stops
    /// it completes.
    fn send_frame(
        &mut self,
        frame: u32,
        f: Frame,
        out: &mut Vec<Output>,
        dropped: &mut Vec<Dropped>,
    ) {
        let at_ms = self.at_ms(f.time_s);
        if let Some(laps) = &f.laps {
            self.racing = laps.iter().filter(|l| l.racing).count();
            self.game_stops(laps, at_ms, out);
        }
        let Some(telemetry) = &f.telemetry else {
            return dropped.push(Dropped::IncompleteFrame);
        };
        let cars = self.cars.as_deref().unwrap_or_default();
        let mut samples = Vec::with_capacity(cars.len());
        for (i, info) in cars.iter().enumerate() {
            let lap = f.laps.as_ref().and_then(|l| l.get(i));
            if lap.is_some_and(|l| !l.racing) {
                continue;
            }
            let Some(t) = telemetry.get(i) else { continue };
            samples.push(self.sample(info, frame, at_ms, t, lap, i));
        }
        if !samples.is_empty() {
            out.push(Output::Samples(self.id.clone(), samples));
        }
    }

    fn sample(
        &self,
        info: &CarInfo,
        frame: u32,
        at_ms: i64,
        t: &CarTelemetry,
        lap: Option<&CarLap>,
        i: usize,
    ) -> Sample {
        let st = self.status.get(i);
        Sample {
            session: self.id.clone(),
            car: info.car,
            timestamp_ms: at_ms,
            speed_kph: t.speed_kph as f32,
            seq: frame,
            driver: Some(info.driver.clone()),
            team: Some(info.team.clone()),
            lap: lap.map(|l| l.lap as u16).filter(|&l| l > 0),
            sector: lap.map(|l| l.sector),
            // On the grid, behind the line, the game counts the distance negative: lap 1
            // starts there (a standing start), not at the line.
            lap_distance_m: lap.map(|l| l.lap_distance_m.max(0.0)),
            rpm: Some(t.rpm),
            gear: Some(t.gear),
            throttle: Some(t.throttle),
            brake: Some(t.brake),
            drs: Some(t.drs),
            tyre_surface_temp_c: Some(t.tyre_surface_temp_c.map(f32::from)),
            tyre_inner_temp_c: Some(t.tyre_inner_temp_c.map(f32::from)),
            tyre_pressure_psi: Some(t.tyre_pressure_psi),
            brake_temp_c: Some(t.brake_temp_c.map(f32::from)),
            tyre_compound: st.and_then(|s| s.compound),
            tyre_age_laps: st.map(|s| s.tyre_age_laps as u16),
            tyre_wear_pct: self.wear.get(i).copied(),
            fuel_kg: st.map(|s| s.fuel_kg),
            ers_store_mj: st.map(|s| s.ers_store_mj),
            engine_temp_c: Some(t.engine_temp_c as f32),
            pit_status: lap.and_then(|l| PitStatus::from_code(l.pit_status)),
            position: lap.map(|l| l.position).filter(|p| (1..=99).contains(p)),
            x: None,
            y: None,
            z: None,
        }
    }

    /// The game's own stop timer: the longest `pitStopTimerInMS` of a pit-lane visit,
    /// reported when the car is back on track.
    fn game_stops(&mut self, laps: &[CarLap], at_ms: i64, out: &mut Vec<Output>) {
        let Some(cars) = &self.cars else { return };
        self.pits.resize(laps.len(), GamePit::default());
        for (i, l) in laps.iter().enumerate() {
            let pit = &mut self.pits[i];
            if l.pit_status != 0 {
                if !pit.in_lane {
                    pit.entry_lap = l.lap;
                }
                pit.in_lane = true;
                pit.timer_max_ms = pit.timer_max_ms.max(l.pit_stop_timer_ms);
            } else if pit.in_lane {
                if pit.timer_max_ms > 0
                    && let Some(info) = cars.get(i)
                {
                    out.push(Output::GameStop(GameStop {
                        session: self.id.clone(),
                        car: info.car,
                        lap: pit.entry_lap,
                        at_ms,
                        stationary_ms: pit.timer_max_ms as u32,
                    }));
                }
                *pit = GamePit::default();
            }
        }
    }
}
