//! Bounded fuzzing of what a hostile client controls: `POST /telemetry` bodies in every
//! format (the pure path behind the endpoint, `Format::detect` then `feeds::parse`), and
//! binary stream entries (`decode_batch`, `decode_entry`; anyone who can XADD writes
//! them). Inputs are arbitrary bytes and structured mutations of real-shaped bodies:
//! flipped and replaced bytes, truncations, splices across formats, huge numbers, NaN,
//! unicode, byte-order marks, deep nesting.
//!
//! The properties: nothing panics; whatever is accepted passes `model::validate` and
//! the sample limit; a rejected entry leaves nothing half-decoded; a declared sample
//! count allocates in proportion to the bytes that are really there.
//!
//! The default case counts keep `make test` within seconds. A longer run:
//! `PROPTEST_CASES=200000 cargo test --release -p pitstop-workloads --test fuzz`.

use pitstop_workloads::codec::binary::{decode_batch, decode_entry, encode_batch, encode_batch_v1};
use pitstop_workloads::feeds::{self, FeedOptions, Format};
use pitstop_workloads::model::{Sample, TIMESTAMPS_MS, validate};
use pitstop_workloads::sim::grid::parse_grid;
use proptest::prelude::*;
use proptest::sample::Index;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Records the largest single allocation the current thread asks for, so a test can
/// bound what one decode call allocates (other test threads do not disturb it).
struct LargestAllocation;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the thread may be shutting down; a const Cell needs no allocation.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// `f`'s result and the largest single allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

/// Proptest cases: `PROPTEST_CASES` when set (a longer run), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------
// Real-shaped bodies.

fn native_samples() -> Vec<Sample> {
    let mut partial = Sample {
        session: "fuzz".into(),
        car: 44,
        seq: 1,
        timestamp_ms: 1_725_800_000_250,
        speed_kph: 80.0,
        rpm: Some(7_012),
        gear: Some(2),
        throttle: Some(0.36),
        x: Some(49.0),
        ..Sample::default()
    };
    let full = Sample {
        session: "fuzz".into(),
        ..Sample::example()
    };
    let first = partial.clone();
    partial.seq = 2;
    partial.timestamp_ms += 250;
    vec![full, first, partial]
}

fn native_object() -> String {
    serde_json::to_string(&native_samples()[0]).expect("serializes")
}

fn native_array() -> String {
    serde_json::to_string(&native_samples()).expect("serializes")
}

fn native_ndjson() -> String {
    native_samples()
        .iter()
        .map(|s| serde_json::to_string(s).expect("serializes") + "\n")
        .collect()
}

/// OpenF1 records as the API publishes them (`drivers`, `laps`, `stints`, `location`,
/// `position`, `car_data`).
const OPENF1: &str = r#"[
 {"meeting_key":1262,"session_key":9912,"driver_number":1,"broadcast_name":"M VERSTAPPEN","name_acronym":"VER","team_name":"Red Bull Racing","team_colour":"4781D7","headshot_url":null,"country_code":"NED"},
 {"meeting_key":1262,"session_key":9912,"driver_number":1,"date_start":"2025-08-31T13:28:01.123000+00:00","lap_number":23,"duration_sector_1":29.5,"duration_sector_2":30.1,"duration_sector_3":31.2,"is_pit_out_lap":false,"lap_duration":90.8,"segments_sector_1":[2049,2049]},
 {"meeting_key":1262,"session_key":9912,"driver_number":1,"stint_number":2,"lap_start":23,"lap_end":53,"compound":"MEDIUM","tyre_age_at_start":0},
 {"date":"2025-08-31T13:28:02.000000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"x":490,"y":3413,"z":531},
 {"date":"2025-08-31T13:28:02.500000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"x":500,"y":3443,"z":531},
 {"date":"2025-08-31T13:28:02.250000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"position":1},
 {"date":"2025-08-31T13:28:30.000000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"lane_duration":21.3,"pit_duration":21.3,"lap_number":24},
 {"brake":100,"date":"2025-08-31T13:28:02.250000+00:00","driver_number":1,"drs":12,"meeting_key":1262,"n_gear":2,"rpm":6922,"session_key":9912,"speed":80,"throttle":104},
 {"brake":0,"date":"2025-08-31T13:28:32.250000+00:00","driver_number":1,"drs":8,"meeting_key":1262,"n_gear":7,"rpm":11000,"session_key":9912,"speed":280,"throttle":99}
]"#;

/// OpenF1 `car_data` as NDJSON (what `curl …/car_data` piped through `jq -c` gives).
const OPENF1_NDJSON: &str = r#"{"brake":0,"date":"2023-09-16T13:08:19.923000+00:00","driver_number":55,"drs":12,"meeting_key":1219,"n_gear":8,"rpm":11141,"session_key":9161,"speed":315,"throttle":99}
{"brake":100,"date":"2023-09-16T13:08:20.163000+00:00","driver_number":55,"drs":8,"meeting_key":1219,"n_gear":7,"rpm":10500,"session_key":9161,"speed":290,"throttle":0}
"#;

/// FastF1 telemetry with per-lap `Time` (a lap boundary repeated, as FastF1 writes it).
const FASTF1_LAPS: &str = "Driver,LapNumber,Time,Speed,RPM,nGear,Throttle,Brake,DRS,Distance,X,Y,Z
VER,23,90.900,80.0,7127,2,36.0,False,0,4209.28,497,3433,531
VER,23,90.929,80.0,7097,2,36.0,False,0,4209.93,499,3438,531
VER,24,0.000,80.0,7097,2,36.0,False,0,-0.00,490,3413,531
VER,24,0.171,80.0,6922.4,2,104.0,True,12,3.80,500,3443,531
NOR,24,0.100,81.0,7001,2,40.0,False,0,2.00,480,3400,531
";

/// A real `to_csv()` export: pandas index, `Date`, timedeltas, FastF1's other columns.
const FASTF1_EXPORT: &str = ",Date,SessionTime,DriverAhead,DistanceToDriverAhead,Time,RPM,Speed,nGear,Throttle,Brake,DRS,Source,Distance,RelativeDistance,Status,X,Y,Z
0,2024-05-05 20:03:23.810,0 days 00:55:43.042000,,,0 days 00:00:00.014000,10082.0,0.0,1,15.0,True,1,car,0.0,0.0,OnTrack,-1000,2000,30
1,2024-05-05 20:03:24.170,0 days 00:55:43.402000,44,12.5,0 days 00:00:00.374000,10221.0,10.0,1,16.0,False,1,car,1.5,0.0003,OnTrack,-1010,2004,30
";

/// A body as a client sends it: content type, bytes, and the query that makes it parse.
#[derive(Clone, Debug)]
struct Fixture {
    content_type: Option<&'static str>,
    body: Vec<u8>,
    opts: FeedOptions,
}

fn fixtures() -> Vec<Fixture> {
    let fixture = |content_type, body: Vec<u8>, opts| Fixture {
        content_type,
        body,
        opts,
    };
    let none = FeedOptions::default;
    let session = || FeedOptions {
        session: Some("fuzz".into()),
        start_ms: Some(1_756_645_200_000),
        ..FeedOptions::default()
    };
    vec![
        fixture(
            Some("application/json"),
            native_object().into_bytes(),
            none(),
        ),
        fixture(
            Some("application/json"),
            native_array().into_bytes(),
            none(),
        ),
        fixture(
            Some("application/x-ndjson"),
            native_ndjson().into_bytes(),
            none(),
        ),
        fixture(Some("application/json"), OPENF1.as_bytes().to_vec(), none()),
        fixture(None, OPENF1_NDJSON.as_bytes().to_vec(), session()),
        fixture(Some("text/csv"), FASTF1_LAPS.as_bytes().to_vec(), session()),
        fixture(
            None,
            FASTF1_EXPORT.as_bytes().to_vec(),
            FeedOptions {
                car: Some(1),
                ..session()
            },
        ),
    ]
}

/// What a client may splice in: numbers past every range and type, non-numbers,
/// unicode, a byte-order mark, control bytes, CSV and JSON structure, deep nesting.
fn hostile_tokens() -> Vec<Vec<u8>> {
    let mut t: Vec<Vec<u8>> = [
        "NaN",
        "-NaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1e309",
        "-1e309",
        "1e-400",
        "5e-324",
        "-0",
        "0.0000000000000000000000001",
        "18446744073709551616",
        "-9223372036854775809",
        "99999999999999999999999999999999999999999",
        "4294967296",
        "65536",
        "256",
        "-1",
        "0x10",
        "1_000",
        "null",
        "true",
        "\"\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\u{feff}",
        "\u{1f3ce}\u{fe0f}",
        "é",
        "\u{202e}",
        "\0",
        "\r\n",
        "\n",
        ",",
        ",,,,",
        "\"",
        "'",
        "\\",
        "{",
        "}",
        "[",
        "]",
        ":",
        "{}",
        "[]",
        "True",
        "False",
        "0 days 00:00:00.014000",
        "99999 days 23:59:59.999",
        "NaT",
        "2025-08-31T13:28:02.250000+00:00",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "\"driver_number\"",
        "\"session_key\":",
        "\"car_data\"",
        "Speed",
        "Driver,LapNumber,Time,Speed\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    t.push(b"[".repeat(2_000));
    t.push(b"{\"a\":".repeat(500));
    t.push(b"[{\"driver_number\":1,".repeat(200));
    t.push(b"9".repeat(5_000));
    t.push(b"a".repeat(20_000));
    t.push(b"\xff\xfe\x00\xc3\x28\xed\xa0\x80".to_vec());
    t
}

/// One structured change to a body; positions are fractions of its current length.
#[derive(Clone, Debug)]
enum Mutation {
    Set(Index, u8),
    FlipBit(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, Index),
    /// Copy a piece of another fixture (possibly of another format) in.
    Splice(Index, Index, Index, usize),
    /// Repeat a piece of the body where it is (duplicated records, rows, keys).
    Repeat(Index, usize, u8),
    /// Replace the nth run of digits (a value) with a hostile token.
    ReplaceNumber(Index, Index),
    /// Replace the nth run of digits with another number: values of the right syntax
    /// reach the range checks behind the parser.
    Renumber(Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), 0..8u8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<Index>(), any::<Index>(), any::<Index>(), 1..400usize)
            .prop_map(|(i, f, s, n)| Mutation::Splice(i, f, s, n)),
        (any::<Index>(), 1..200usize, 1..20u8).prop_map(|(i, n, k)| Mutation::Repeat(i, n, k)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::ReplaceNumber(i, t)),
        (
            any::<Index>(),
            prop_oneof![
                (0..400u32).prop_map(|n| n.to_string()),
                (-10.0..400.0f64).prop_map(|x| format!("{x:.3}")),
                any::<f64>().prop_map(|x| x.to_string()),
                any::<i64>().prop_map(|x| x.to_string()),
            ]
        )
            .prop_map(|(i, n)| Mutation::Renumber(i, n)),
    ]
}

fn apply(body: &mut Vec<u8>, m: &Mutation, tokens: &[Vec<u8>], others: &[Vec<u8>]) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
    match m {
        Mutation::Set(i, b) if !body.is_empty() => {
            let i = i.index(body.len());
            body[i] = *b;
        }
        Mutation::FlipBit(i, bit) if !body.is_empty() => {
            let i = i.index(body.len());
            body[i] ^= 1 << bit;
        }
        Mutation::Truncate(i) => body.truncate(at(i, body.len())),
        Mutation::Delete(i, n) => {
            let start = at(i, body.len());
            let end = (start + n).min(body.len());
            body.drain(start..end);
        }
        Mutation::Insert(i, t) => {
            let start = at(i, body.len());
            let token = t.get(tokens);
            body.splice(start..start, token.iter().copied());
        }
        Mutation::Splice(i, from, start, n) => {
            let other = from.get(others);
            if !other.is_empty() {
                let s = start.index(other.len());
                let piece = &other[s..(s + n).min(other.len())];
                let at = at(i, body.len());
                body.splice(at..at, piece.iter().copied());
            }
        }
        Mutation::Repeat(i, n, times) => {
            let start = at(i, body.len()).min(body.len());
            let end = (start + n).min(body.len());
            let piece = body[start..end].to_vec();
            for _ in 0..*times {
                body.splice(end..end, piece.iter().copied());
            }
        }
        Mutation::ReplaceNumber(nth, t) => {
            let runs = digit_runs(body);
            if !runs.is_empty() {
                let (s, e) = runs[nth.index(runs.len())];
                body.splice(s..e, t.get(tokens).iter().copied());
            }
        }
        Mutation::Renumber(nth, number) => {
            let runs = digit_runs(body);
            if !runs.is_empty() {
                let (s, e) = runs[nth.index(runs.len())];
                body.splice(s..e, number.bytes());
            }
        }
        Mutation::Set(..) | Mutation::FlipBit(..) => {}
    }
}

/// Byte ranges of the runs of ASCII digits in `body`.
fn digit_runs(body: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in body.iter().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, body.len()));
    }
    runs
}

/// What `?session=`, `?start=`, `?grid=` and `?car=` can be, valid and not.
fn feed_options() -> impl Strategy<Value = FeedOptions> {
    let session = prop_oneof![
        Just(None),
        Just(Some("fuzz".to_owned())),
        Just(Some("zandvoort".to_owned())),
        any::<String>().prop_map(Some),
    ];
    let start_ms = prop_oneof![
        Just(None),
        Just(Some(1_756_645_200_000)),
        Just(Some(*TIMESTAMPS_MS.start())),
        Just(Some(*TIMESTAMPS_MS.end())),
        any::<i64>().prop_map(Some),
    ];
    let grid = prop_oneof![
        Just(String::new()),
        Just("1:VER:Red Bull Racing,4:NOR:McLaren".to_owned()),
        Just("55:SAI:Williams".to_owned()),
    ];
    let car = prop_oneof![Just(None), any::<u8>().prop_map(Some)];
    (session, start_ms, grid, car).prop_map(|(session, start_ms, grid, car)| FeedOptions {
        session,
        start_ms,
        grid: if grid.is_empty() {
            Vec::new()
        } else {
            parse_grid(&grid).expect("valid grid")
        },
        car,
    })
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("text/csv; charset=utf-8".to_owned())),
        Just(Some("application/x-ndjson".to_owned())),
        any::<String>().prop_map(Some),
    ]
}

fn max_samples() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![0usize, 1, 2, 3, 5_000])
}

/// The endpoint's path for a body: detect (unless `format` is forced), parse, and check
/// that anything accepted is within the limit and valid.
fn check_body(
    forced: Option<Format>,
    content_type: Option<&str>,
    body: &[u8],
    opts: &FeedOptions,
    max: usize,
) -> Result<(), TestCaseError> {
    let format = forced.unwrap_or_else(|| Format::detect(content_type, body));
    let strict = feeds::parse(format, body, opts, max);
    if let Ok(samples) = &strict {
        prop_assert!(samples.len() <= max, "{} samples > {max}", samples.len());
        for (i, s) in samples.iter().enumerate() {
            prop_assert_eq!(validate(s), Ok(()), "sample {} of {:?}", i, format);
        }
    }
    // The dirty-data policy takes at least what strict takes, and only valid samples,
    // each with its origin; a clean lenient parse is exactly the strict one.
    if let Ok(p) = feeds::parse_body(format, body, opts, max) {
        prop_assert!(p.samples.len() <= max);
        prop_assert_eq!(p.samples.len(), p.origins.len());
        for (i, s) in p.samples.iter().enumerate() {
            prop_assert_eq!(validate(s), Ok(()), "lenient sample {} of {:?}", i, format);
        }
        if let Ok(samples) = &strict {
            prop_assert!(p.dirt.is_clean(), "strict took a body lenient found dirty");
            prop_assert_eq!(p.samples.len(), samples.len());
        }
    } else {
        prop_assert!(strict.is_err(), "lenient refused a body strict took");
    }
    Ok(())
}

const FORMATS: [Option<Format>; 4] = [
    None,
    Some(Format::Native),
    Some(Format::OpenF1),
    Some(Format::FastF1),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(5_000)))]

    /// Arbitrary bytes in every format, detected or forced: an error, never a panic.
    #[test]
    fn arbitrary_bodies(
        body in prop::collection::vec(any::<u8>(), 0..1_024),
        forced in prop::sample::select(FORMATS.to_vec()),
        ct in content_type(),
        opts in feed_options(),
        max in max_samples(),
    ) {
        check_body(forced, ct.as_deref(), &body, &opts, max)?;
    }

    /// Arbitrary text (most parsers give up on invalid UTF-8 at once; this gets further).
    #[test]
    fn arbitrary_text_bodies(
        body in any::<String>(),
        forced in prop::sample::select(FORMATS.to_vec()),
        opts in feed_options(),
    ) {
        check_body(forced, None, body.as_bytes(), &opts, 5_000)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(10_000)))]

    /// Real-shaped bodies of every format, mutated: an error or valid samples. Mostly
    /// with the query and format that make the body parse, so that mutations reach past
    /// the first check; sometimes with any.
    #[test]
    fn mutated_bodies(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
        forced in prop_oneof![3 => Just(None), 1 => prop::sample::select(FORMATS.to_vec())],
        opts in prop_oneof![3 => Just(None), 1 => feed_options().prop_map(Some)],
        max in prop_oneof![3 => Just(5_000usize), 1 => max_samples()],
    ) {
        let all = fixtures();
        let fixture = which.get(&all).clone();
        let bodies: Vec<Vec<u8>> = all.into_iter().map(|f| f.body).collect();
        let tokens = hostile_tokens();
        let mut body = fixture.body;
        for m in &mutations {
            apply(&mut body, m, &tokens, &bodies);
        }
        let opts = opts.unwrap_or(fixture.opts);
        check_body(forced, fixture.content_type, &body, &opts, max)?;
    }
}

/// The fixtures are what they claim: each parses as its format (else the mutations
/// would only ever explore error paths).
#[test]
fn fixtures_parse_unmutated() {
    let expected = [
        Format::Native,
        Format::Native,
        Format::Native,
        Format::OpenF1,
        Format::OpenF1,
        Format::FastF1,
        Format::FastF1,
    ];
    for (f, want) in fixtures().into_iter().zip(expected) {
        let format = Format::detect(f.content_type, &f.body);
        assert_eq!(format, want);
        let samples = feeds::parse(format, &f.body, &f.opts, 5_000)
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(!samples.is_empty(), "{format:?}");
    }
}

// ---------------------------------------------------------------------------------
// The binary decoder.

/// A valid sample with an arbitrary subset of channels and arbitrary in-range identity.
fn valid_sample() -> impl Strategy<Value = Sample> {
    (
        1..=99u8,
        any::<u32>(),
        TIMESTAMPS_MS,
        0.0..=500.0f32,
        any::<u32>(),
    )
        .prop_map(|(car, seq, timestamp_ms, speed_kph, keep)| {
            let full = Sample {
                session: "fuzz".into(),
                car,
                seq,
                timestamp_ms,
                speed_kph,
                ..Sample::example()
            };
            drop_channels(full, keep)
        })
}

/// `s` with each optional channel kept when its bit in `keep` is set.
fn drop_channels(s: Sample, keep: u32) -> Sample {
    let k = |bit: u32| keep & (1 << bit) != 0;
    Sample {
        driver: s.driver.filter(|_| k(0)),
        team: s.team.filter(|_| k(1)),
        lap: s.lap.filter(|_| k(2)),
        sector: s.sector.filter(|_| k(3)),
        lap_distance_m: s.lap_distance_m.filter(|_| k(4)),
        rpm: s.rpm.filter(|_| k(5)),
        gear: s.gear.filter(|_| k(6)),
        throttle: s.throttle.filter(|_| k(7)),
        brake: s.brake.filter(|_| k(8)),
        drs: s.drs.filter(|_| k(9)),
        tyre_surface_temp_c: s.tyre_surface_temp_c.filter(|_| k(10)),
        tyre_inner_temp_c: s.tyre_inner_temp_c.filter(|_| k(11)),
        tyre_pressure_psi: s.tyre_pressure_psi.filter(|_| k(12)),
        brake_temp_c: s.brake_temp_c.filter(|_| k(13)),
        tyre_compound: s.tyre_compound.filter(|_| k(14)),
        tyre_age_laps: s.tyre_age_laps.filter(|_| k(15)),
        tyre_wear_pct: s.tyre_wear_pct.filter(|_| k(16)),
        fuel_kg: s.fuel_kg.filter(|_| k(17)),
        ers_store_mj: s.ers_store_mj.filter(|_| k(18)),
        engine_temp_c: s.engine_temp_c.filter(|_| k(19)),
        pit_status: s.pit_status.filter(|_| k(20)),
        position: s.position.filter(|_| k(21)),
        x: s.x.filter(|_| k(22)),
        y: s.y.filter(|_| k(23)),
        z: s.z.filter(|_| k(24)),
        ..s
    }
}

/// A valid entry of either wire version.
fn valid_batch() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(valid_sample(), 0..8), any::<bool>()).prop_map(|(samples, v1)| {
        if v1 {
            encode_batch_v1("fuzz", 1, &samples)
        } else {
            encode_batch("fuzz", 1, &samples)
        }
    })
}

/// A batch header that declares `count` samples, followed by `tail`.
fn header_with_count(version: u8, count: u16, tail: &[u8]) -> Vec<u8> {
    let mut b = b"PT".to_vec();
    b.extend([version, 0]);
    b.extend(1i64.to_le_bytes());
    b.push(4);
    b.extend(b"fuzz");
    b.extend(count.to_le_bytes());
    b.extend(tail);
    b
}

/// Decodes `bytes` (with `bases` as an entry's `b` field, if any) and checks the
/// decoder's promises: all or nothing, every sample valid, allocation bounded by input.
fn check_entry(bytes: &[u8], bases: Option<&[u8]>) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let (decoded, largest) = largest_allocation(|| decode_entry(bytes, bases, &mut out));
    // Every sample takes at least 21 bytes on the wire; a few hundred bytes of `Sample`
    // each is 16× that at most, plus what a short entry needs.
    let bound = 16 * bytes.len() + 4_096;
    prop_assert!(
        largest <= bound,
        "a {}-byte entry made a {largest}-byte allocation",
        bytes.len()
    );
    match decoded {
        Ok(header) => {
            prop_assert_eq!(header.count, out.len());
            for s in &out {
                prop_assert_eq!(&s.session, &header.session);
                prop_assert_eq!(validate(s), Ok(()));
            }
        }
        Err(e) => {
            prop_assert!(out.is_empty(), "{} left {} samples", e, out.len());
            prop_assert!(!e.category().is_empty());
        }
    }
    Ok(())
}

fn seq_bases() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        Just(Some(b"1:100,44:7".to_vec())),
        "([0-9]{1,3}:[0-9]{1,11},?){0,4}".prop_map(|s| Some(s.into_bytes())),
        prop::collection::vec(any::<u8>(), 0..32).prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(10_000)))]

    /// Arbitrary bytes, and headers declaring any count over arbitrary bytes.
    #[test]
    fn arbitrary_entries(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        count in any::<u16>(),
        version in prop::sample::select(vec![1u8, 2]),
        as_header in any::<bool>(),
        bases in seq_bases(),
    ) {
        let bytes = if as_header {
            header_with_count(version, count, &bytes)
        } else {
            bytes
        };
        check_entry(&bytes, bases.as_deref())?;
    }

    /// Valid entries of both versions, mutated byte-wise and structurally.
    #[test]
    fn mutated_entries(
        batch in valid_batch(),
        other in valid_batch(),
        mutations in prop::collection::vec(mutation(), 1..3),
        bases in seq_bases(),
    ) {
        let mut bytes = batch;
        let tokens: Vec<Vec<u8>> = vec![
            vec![0xff; 4],
            vec![0; 4],
            u16::MAX.to_le_bytes().to_vec(),
            f32::NAN.to_le_bytes().to_vec(),
            f32::INFINITY.to_le_bytes().to_vec(),
            f32::MAX.to_le_bytes().to_vec(),
            i64::MAX.to_le_bytes().to_vec(),
            vec![255],
            b"\xc3\x28".to_vec(),
        ];
        for m in &mutations {
            apply(&mut bytes, m, &tokens, std::slice::from_ref(&other));
        }
        check_entry(&bytes, bases.as_deref())?;
    }

    /// Whatever valid samples are encoded decode to exactly themselves (v2 keeps which
    /// channels are absent).
    #[test]
    fn valid_entries_round_trip(samples in prop::collection::vec(valid_sample(), 0..8)) {
        let bytes = encode_batch("fuzz", 7, &samples);
        let mut out = Vec::new();
        let header = decode_batch(&bytes, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(header.count, samples.len());
        prop_assert_eq!(out, samples);
    }
}

/// A 19-byte entry declaring 65,535 samples is refused without reserving room for
/// them (it reserved about 15 MB before).
#[test]
fn a_huge_declared_count_allocates_little() {
    for version in [1, 2] {
        let bytes = header_with_count(version, u16::MAX, &[]);
        let mut out = Vec::new();
        let (decoded, largest) = largest_allocation(|| decode_batch(&bytes, &mut out));
        assert!(decoded.is_err());
        assert!(
            largest < 4_096,
            "v{version}: {largest} bytes for a {}-byte entry",
            bytes.len()
        );
        assert!(
            out.capacity() < 16,
            "v{version}: capacity {}",
            out.capacity()
        );
    }
}
