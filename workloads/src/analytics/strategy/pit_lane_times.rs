//! Median pit-lane time (entry to exit) per circuit, from Ergast's `pit_stops.csv`
//! (2018–2025, stops of 10–60 s), keyed by Ergast's `circuitRef`. Generated from
//! `../shared/data/f1/ergast/`; `tests/pit_lane_defaults.rs` recomputes it from the
//! data where it is present, so an edit by hand or a newer export is caught.

/// (circuitRef, stops, median pit-lane ms)
pub const PIT_LANE_MS: &[(&str, u32, u32)] = &[
    ("albert_park", 198, 18501),
    ("americas", 193, 24245),
    ("bahrain", 382, 24885),
    ("baku", 195, 20845),
    ("catalunya", 322, 22318),
    ("hockenheimring", 117, 20624),
    ("hungaroring", 273, 21972),
    ("imola", 153, 30555),
    ("interlagos", 261, 23378),
    ("istanbul", 57, 23646),
    ("jeddah", 92, 21414),
    ("losail", 144, 28328),
    ("marina_bay", 144, 29671),
    ("miami", 91, 22317),
    ("monaco", 187, 24663),
    ("monza", 194, 24678),
    ("mugello", 41, 22846),
    ("nurburgring", 33, 22700),
    ("portimao", 85, 26177),
    ("red_bull_ring", 338, 21809),
    ("ricard", 90, 30789),
    ("rodriguez", 144, 22689),
    ("shanghai", 131, 22995),
    ("silverstone", 276, 28872),
    ("sochi", 108, 30107),
    ("spa", 213, 23284),
    ("suzuka", 177, 23660),
    ("vegas", 70, 21580),
    ("villeneuve", 229, 23825),
    ("yas_marina", 191, 22000),
    ("zandvoort", 251, 19923),
];
