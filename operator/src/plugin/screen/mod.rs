//! The status screen of `kubectl pitstop status`: a pure function of what was read (a
//! [`Snapshot`]), so every line is tested without a cluster.
//!
//! Sections in order: the race (phase, lap, leader), conditions, classification, pit
//! stops, strategy, anomalies, components, post-race pipeline. Live sections come from the
//! processor; without it the screen says why and shows what the RaceSession knows.

mod live;
mod race;
mod snapshot;
mod strategy;
mod text;

pub use snapshot::{LATEST, Live, LiveData, Snapshot};

/// The screen, lines ending in `\n`.
pub fn render(s: &Snapshot) -> String {
    let mut sections: Vec<Vec<String>> = vec![race::header(s), race::conditions(&s.race)];
    match &s.live {
        Live::Unavailable(why) => sections.push(vec![format!("Live data: not available: {why}")]),
        Live::Available(d) => {
            sections.push(live::classification(d));
            sections.push(live::stops(d));
            sections.push(strategy::section(&d.strategy));
            sections.push(live::anomalies(d));
        }
    }
    sections.push(race::components(&s.race));
    sections.push(race::pipeline(&s.race, s.now));
    let mut out = String::new();
    for (i, lines) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for l in lines {
            out.push_str(l.trim_end());
            out.push('\n');
        }
    }
    out
}
