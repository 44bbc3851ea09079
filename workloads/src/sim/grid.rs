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

/// Parses a custom grid, `car:driver:team` entries separated by commas, in expected pace
/// order (each car 0.1% slower than the one before).
pub fn parse_grid(text: &str) -> Result<Vec<Entrant>, String> {
    let mut out: Vec<Entrant> = Vec::new();
    for (i, item) in text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = item.splitn(3, ':').collect();
        let [car, driver, team] = parts[..] else {
            return Err(format!("grid entry {item:?}: expected car:driver:team"));
        };
        let car: u8 = car
            .parse()
            .ok()
            .filter(|c| (1..=99).contains(c))
            .ok_or_else(|| format!("grid entry {item:?}: car must be 1..=99"))?;
        if out.iter().any(|e| e.info.car == car) {
            return Err(format!("car {car} appears twice"));
        }
        crate::model::validate_driver(driver)
            .and_then(|()| crate::model::validate_team(team))
            .map_err(|e| format!("grid entry {item:?}: {e}"))?;
        if out.iter().any(|e| e.info.driver == driver) {
            return Err(format!("driver {driver:?} appears twice"));
        }
        out.push(Entrant {
            info: CarInfo {
                car,
                driver: driver.into(),
                team: team.into(),
            },
            pace: 1.0 + 0.001 * i as f64,
        });
    }
    if out.is_empty() {
        return Err("grid is empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries keep their order and identity; malformed ones are named.
    #[test]
    fn custom_grid() {
        let g = parse_grid("16:LEC:Ferrari, 55:SAI:Ferrari").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!((g[1].info.car, g[1].info.team.as_str()), (55, "Ferrari"));
        assert!(g[0].pace < g[1].pace);
        assert_eq!(
            parse_grid("16:LEC").unwrap_err(),
            "grid entry \"16:LEC\": expected car:driver:team"
        );
        assert_eq!(
            parse_grid("1:A:X,1:B:Y").unwrap_err(),
            "car 1 appears twice"
        );
        assert_eq!(
            parse_grid("1:VER:X,2:VER:Y").unwrap_err(),
            "driver \"VER\" appears twice"
        );
        assert!(parse_grid("1:V/R:X").unwrap_err().contains("driver"));
    }
}
