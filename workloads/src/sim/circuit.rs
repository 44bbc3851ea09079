//! Circuits the simulator knows. Lap references and pit-lane times (entry to exit,
//! 2024 medians) come from `shared/data/f1/README.md`.

/// Static description of a circuit.
#[derive(Debug, Clone, PartialEq)]
pub struct Circuit {
    pub id: &'static str,
    pub name: &'static str,
    pub length_m: f64,
    /// Typical green-flag race lap of a midfield car, seconds.
    pub race_lap_s: f64,
    /// Median pit-lane time, entry to exit, seconds (includes the stationary time).
    pub pit_lane_s: f64,
    /// Number of fast/slow cycles of the speed profile (straights and corners).
    pub speed_cycles: u32,
}

pub const CIRCUITS: &[Circuit] = &[
    Circuit {
        id: "monza",
        name: "Autodromo Nazionale Monza",
        length_m: 5793.0,
        race_lap_s: 84.9,
        pit_lane_s: 24.6,
        speed_cycles: 5,
    },
    Circuit {
        id: "bahrain",
        name: "Bahrain International Circuit",
        length_m: 5412.0,
        race_lap_s: 96.5,
        pit_lane_s: 24.8,
        speed_cycles: 7,
    },
    Circuit {
        id: "silverstone",
        name: "Silverstone Circuit",
        length_m: 5891.0,
        race_lap_s: 90.5,
        pit_lane_s: 29.3,
        speed_cycles: 7,
    },
    Circuit {
        id: "monaco",
        name: "Circuit de Monaco",
        length_m: 3337.0,
        race_lap_s: 76.0,
        pit_lane_s: 24.2,
        speed_cycles: 9,
    },
    Circuit {
        id: "melbourne",
        name: "Albert Park Circuit",
        length_m: 5278.0,
        race_lap_s: 82.5,
        pit_lane_s: 17.9,
        speed_cycles: 7,
    },
    Circuit {
        id: "baku",
        name: "Baku City Circuit",
        length_m: 6003.0,
        race_lap_s: 106.0,
        pit_lane_s: 20.6,
        speed_cycles: 8,
    },
    Circuit {
        id: "zandvoort",
        name: "Circuit Zandvoort",
        length_m: 4259.0,
        race_lap_s: 75.0,
        pit_lane_s: 21.2,
        speed_cycles: 7,
    },
    Circuit {
        id: "singapore",
        name: "Marina Bay Street Circuit",
        length_m: 4940.0,
        race_lap_s: 97.5,
        pit_lane_s: 29.6,
        speed_cycles: 10,
    },
    Circuit {
        id: "imola",
        name: "Autodromo Enzo e Dino Ferrari",
        length_m: 4909.0,
        race_lap_s: 80.5,
        pit_lane_s: 30.1,
        speed_cycles: 6,
    },
];

/// Looks a circuit up by id (case-insensitive).
pub fn circuit(id: &str) -> Option<&'static Circuit> {
    CIRCUITS.iter().find(|c| c.id.eq_ignore_ascii_case(id))
}

/// Ids of every known circuit, for error messages.
pub fn circuit_ids() -> Vec<&'static str> {
    CIRCUITS.iter().map(|c| c.id).collect()
}
