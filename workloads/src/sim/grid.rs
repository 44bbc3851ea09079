//! The default grid: the 2024 teams and drivers with a pace factor per team
//! (1.0 = reference lap; larger is slower), roughly the 2024 mid-season order.

use crate::stream::CarInfo;

/// A car on the grid with its performance factor.
#[derive(Debug, Clone, PartialEq)]
pub struct Entrant {
    pub info: CarInfo,
    pub pace: f64,
}

const GRID_2024: &[(u8, &str, &str, f64)] = &[
    (4, "NOR", "McLaren", 0.9950),
    (81, "PIA", "McLaren", 0.9960),
    (16, "LEC", "Ferrari", 0.9955),
    (55, "SAI", "Ferrari", 0.9965),
    (1, "VER", "Red Bull Racing", 0.9960),
    (11, "PER", "Red Bull Racing", 0.9990),
    (44, "HAM", "Mercedes", 0.9975),
    (63, "RUS", "Mercedes", 0.9980),
    (14, "ALO", "Aston Martin", 1.0010),
    (18, "STR", "Aston Martin", 1.0030),
    (10, "GAS", "Alpine", 1.0035),
    (31, "OCO", "Alpine", 1.0040),
    (23, "ALB", "Williams", 1.0040),
    (2, "SAR", "Williams", 1.0070),
    (22, "TSU", "RB", 1.0030),
    (3, "RIC", "RB", 1.0045),
    (27, "HUL", "Haas F1 Team", 1.0035),
    (20, "MAG", "Haas F1 Team", 1.0050),
    (77, "BOT", "Kick Sauber", 1.0075),
    (24, "ZHO", "Kick Sauber", 1.0085),
];

/// The first `cars` entrants of the 2024 grid (at most 20), in grid order.
pub fn default_grid(cars: usize) -> Vec<Entrant> {
    GRID_2024
        .iter()
        .take(cars.min(GRID_2024.len()))
        .map(|&(car, driver, team, pace)| Entrant {
            info: CarInfo {
                car,
                driver: driver.into(),
                team: team.into(),
            },
            pace,
        })
        .collect()
}
