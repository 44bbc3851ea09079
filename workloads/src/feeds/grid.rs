//! Car numbers and teams for feeds that name drivers by code only (FastF1 telemetry). The
//! 2025 grid is the default; other seasons pass their own (`--grid 1:VER:Red Bull Racing,…`
//! or `?grid=` on `POST /telemetry`), since codes move between teams and numbers.

use crate::sim::grid::Entrant;
use crate::stream::CarInfo;

const GRID_2025: &[(u8, &str, &str)] = &[
    (1, "VER", "Red Bull Racing"),
    (22, "TSU", "Red Bull Racing"),
    (4, "NOR", "McLaren"),
    (81, "PIA", "McLaren"),
    (16, "LEC", "Ferrari"),
    (44, "HAM", "Ferrari"),
    (63, "RUS", "Mercedes"),
    (12, "ANT", "Mercedes"),
    (14, "ALO", "Aston Martin"),
    (18, "STR", "Aston Martin"),
    (10, "GAS", "Alpine"),
    (43, "COL", "Alpine"),
    (7, "DOO", "Alpine"),
    (23, "ALB", "Williams"),
    (55, "SAI", "Williams"),
    (30, "LAW", "Racing Bulls"),
    (6, "HAD", "Racing Bulls"),
    (27, "HUL", "Kick Sauber"),
    (5, "BOR", "Kick Sauber"),
    (31, "OCO", "Haas F1 Team"),
    (87, "BEA", "Haas F1 Team"),
];

/// The 2025 grid.
pub fn grid_2025() -> Vec<Entrant> {
    GRID_2025
        .iter()
        .map(|&(car, driver, team)| Entrant {
            info: CarInfo {
                car,
                driver: driver.into(),
                team: team.into(),
            },
            pace: 1.0,
        })
        .collect()
}

/// The entrant with driver code `code` in `grid` (the 2025 grid when `grid` is empty).
pub fn by_code(grid: &[Entrant], code: &str) -> Option<CarInfo> {
    let find = |g: &[Entrant]| {
        g.iter()
            .find(|e| e.info.driver.eq_ignore_ascii_case(code))
            .map(|e| e.info.clone())
    };
    if grid.is_empty() {
        find(&grid_2025())
    } else {
        find(grid)
    }
}

/// The entrant with car number `car` in `grid` (no default: numbers are reused).
pub fn by_number(grid: &[Entrant], car: u8) -> Option<CarInfo> {
    grid.iter()
        .find(|e| e.info.car == car)
        .map(|e| e.info.clone())
}

/// The entrant with car number `car` in `grid`, or on the 2025 grid when `grid` is empty
/// (FastF1 files, which the 2025 grid also names by code).
pub fn by_number_or_2025(grid: &[Entrant], car: u8) -> Option<CarInfo> {
    if grid.is_empty() {
        by_number(&grid_2025(), car)
    } else {
        by_number(grid, car)
    }
}
