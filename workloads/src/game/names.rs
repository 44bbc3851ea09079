//! The game's numbers for circuits, teams and drivers as the names samples carry.

use crate::model::{validate_driver, validate_team};

/// The circuit id of a game `trackId` (our simulator's ids where it has the circuit).
pub fn circuit(track_id: i8) -> String {
    let name = match track_id {
        0 => "melbourne",
        1 => "paul-ricard",
        2 => "shanghai",
        3 => "bahrain",
        4 => "catalunya",
        5 => "monaco",
        6 => "montreal",
        7 => "silverstone",
        8 => "hockenheim",
        9 => "hungaroring",
        10 => "spa",
        11 => "monza",
        12 => "singapore",
        13 => "suzuka",
        14 => "yas-marina",
        15 => "austin",
        16 => "interlagos",
        17 => "red-bull-ring",
        18 => "sochi",
        19 => "mexico-city",
        20 => "baku",
        21 => "bahrain-short",
        22 => "silverstone-short",
        23 => "austin-short",
        24 => "suzuka-short",
        25 => "hanoi",
        26 => "zandvoort",
        27 => "imola",
        28 => "portimao",
        29 => "jeddah",
        30 => "miami",
        31 => "las-vegas",
        32 => "losail",
        other => return format!("game-track-{}", other.max(0)),
    };
    name.to_string()
}

/// The team of a game `teamId` in a format's season (id 6 and 9 changed names).
pub fn team(team_id: u8, format: u16) -> String {
    let name = match team_id {
        0 => "Mercedes",
        1 => "Ferrari",
        2 => "Red Bull Racing",
        3 => "Williams",
        4 => "Aston Martin",
        5 => "Alpine",
        6 if format >= 2024 => "RB",
        6 => "AlphaTauri",
        7 => "Haas",
        8 => "McLaren",
        9 if format >= 2024 => "Kick Sauber",
        9 => "Alfa Romeo",
        104 => "My Team",
        other => return format!("team {other}"),
    };
    name.to_string()
}

/// A participant's name as a driver name: the characters samples allow, at most 16;
/// `car N` when nothing is left (an online name in another script, say).
pub fn driver(name: &str, car: u8) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        .take(16)
        .collect();
    let kept = kept.trim().to_string();
    if validate_driver(&kept).is_ok() {
        kept
    } else {
        format!("car {car}")
    }
}

/// A team name samples allow (the game's names all do; the fallback is for the rest).
pub fn team_checked(team: String) -> String {
    if validate_team(&team).is_ok() {
        team
    } else {
        "unknown".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_sample_rules() {
        assert_eq!(circuit(11), "monza");
        assert_eq!(circuit(-1), "game-track-0");
        assert_eq!(team(6, 2023), "AlphaTauri");
        assert_eq!(team(6, 2024), "RB");
        assert_eq!(driver("VERSTAPPEN", 1), "VERSTAPPEN");
        assert_eq!(driver("Żółw ☃", 7), "w");
        assert_eq!(driver("☃☃", 7), "car 7");
        assert_eq!(driver("A very long online name", 3), "A very long onli");
    }
}
