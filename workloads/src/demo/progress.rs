//! The demo's progress while the race runs. On a terminal: one line redrawn in place
//! (`\r`). Anywhere else (a pipe, a CI log, a file): one line per lap, printed when the
//! leader starts it, because a log cannot redraw and dozens of carriage-return updates
//! end up as one unreadable line.

/// What the progress line shows, read from the publisher and the processor.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    /// The leader's lap (0 until the first samples are out).
    pub lap: u64,
    pub published: u64,
    pub processed: u64,
    pub pit_stops: u64,
    pub anomalies: u64,
}

/// Turns successive [`Counts`] into what to write to standard output.
pub struct LapProgress {
    laps: u16,
    /// Redraw in place (a terminal) rather than append a line per lap.
    live: bool,
    /// The last lap a line was appended for (not live).
    shown: u64,
}

impl LapProgress {
    pub fn new(laps: u16, live: bool) -> Self {
        LapProgress {
            laps,
            live,
            shown: 0,
        }
    }

    /// The text to write for `c`, if any: live, the redrawn line; otherwise a line when
    /// the leader has reached a lap no line was written for yet.
    pub fn update(&mut self, c: &Counts) -> Option<String> {
        if self.live {
            return Some(format!("\r{}", self.line(c)));
        }
        if c.lap == 0 || c.lap <= self.shown {
            return None;
        }
        self.shown = c.lap;
        Some(format!("{}\n", self.line(c).trim_end()))
    }

    /// The line that closes the progress: live, it overwrites the last redraw.
    pub fn finish(&self, seconds: f64) -> String {
        let flag = format!("  chequered flag after {seconds:.1} s");
        if self.live {
            format!("\r{flag}{:60}\n\n", "")
        } else {
            format!("{flag}\n\n")
        }
    }

    fn line(&self, c: &Counts) -> String {
        format!(
            "  lap {:>2}/{}   published {:>8}   processed {:>8}   pit stops {:>2}   anomalies {:>2}   ",
            c.lap, self.laps, c.published, c.processed, c.pit_stops, c.anomalies
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lap: u64, published: u64) -> Counts {
        Counts {
            lap,
            published,
            ..Counts::default()
        }
    }

    /// Polled many times a lap, a log gets exactly one line per lap, in order, with no
    /// carriage return; nothing before the first lap.
    #[test]
    fn a_log_gets_one_line_per_lap() {
        let mut p = LapProgress::new(3, false);
        let polls = [
            at(0, 0),
            at(1, 10),
            at(1, 20),
            at(1, 30),
            at(2, 40),
            at(2, 50),
            at(3, 60),
            at(3, 70),
            at(3, 80),
        ];
        let out: String = polls.iter().filter_map(|c| p.update(c)).collect();
        assert!(!out.contains('\r'), "{out:?}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        for (i, l) in lines.iter().enumerate() {
            assert!(l.starts_with(&format!("  lap  {}/3 ", i + 1)), "{l:?}");
            assert_eq!(l, &l.trim_end(), "no trailing blanks in a log");
        }
        assert!(lines[1].contains("published       40"), "{}", lines[1]);
        assert_eq!(p.finish(2.04), "  chequered flag after 2.0 s\n\n");
    }

    /// A skipped lap (polled too rarely) is not invented, and the line count never goes
    /// back when a lap is seen again.
    #[test]
    fn a_log_never_repeats_or_invents_a_lap() {
        let mut p = LapProgress::new(10, false);
        let out: Vec<String> = [at(2, 1), at(5, 2), at(5, 3)]
            .iter()
            .filter_map(|c| p.update(c))
            .collect();
        assert_eq!(out.len(), 2);
        assert!(out[1].starts_with("  lap  5/10 "), "{:?}", out[1]);
    }

    /// On a terminal every poll redraws the one line in place, and the flag overwrites it.
    #[test]
    fn a_terminal_gets_the_line_redrawn() {
        let mut p = LapProgress::new(3, true);
        for c in [at(1, 10), at(1, 20)] {
            let s = p.update(&c).expect("every poll redraws");
            assert!(s.starts_with("\r  lap  1/3 ") && !s.contains('\n'), "{s:?}");
        }
        assert!(
            p.finish(2.0)
                .starts_with("\r  chequered flag after 2.0 s  ")
        );
    }
}
