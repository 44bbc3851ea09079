//! The analytics hot path: per-car state update (laps, pit stops, anomaly detectors)
//! for a recorded stream of simulated samples, plus the checkpoint serialization the
//! processor does once per commit; and the simulator's own rate (it bounds the end-to-end
//! benchmark).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pitstop_workloads::analytics::{Events, PartitionState};
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::race::{Race, RaceConfig};
use std::hint::black_box;

/// Two laps of 20 cars at Monza, 20 Hz.
fn two_laps() -> Race {
    Race::new(RaceConfig {
        session: "bench".into(),
        circuit: circuit("monza").unwrap(),
        laps: 2,
        grid: default_grid(20),
        seed: 3,
        sample_hz: 20.0,
        anomaly_rate: 0.1,
        start_ms: 1_725_800_000_000,
    })
}

fn analytics(c: &mut Criterion) {
    let mut race = two_laps();
    let mut samples = Vec::new();
    while !race.finished() {
        race.step(&mut samples);
    }
    // The simulator is what bounds `pitstop bench` end to end: how fast it makes samples.
    let mut sim = c.benchmark_group("simulator");
    sim.throughput(Throughput::Elements(samples.len() as u64));
    sim.sample_size(10);
    sim.bench_function("step_two_laps_20_cars", |b| {
        b.iter(|| {
            let mut race = two_laps();
            let mut out = Vec::with_capacity(64);
            let mut n = 0;
            while !race.finished() {
                out.clear();
                race.step(&mut out);
                n += out.len();
            }
            black_box(n)
        })
    });
    sim.finish();
    let mut g = c.benchmark_group("analytics");
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.sample_size(20);
    g.bench_function("observe_two_laps_20_cars", |b| {
        b.iter_batched(
            || (PartitionState::default(), Events::default()),
            |(mut state, mut ev)| {
                for s in &samples {
                    state.observe(black_box(s), &mut ev);
                }
                ev
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    let mut state = PartitionState::default();
    let mut ev = Events::default();
    for s in samples.iter().filter(|s| s.car % 4 == 0) {
        state.observe(s, &mut ev);
    }
    let mut g2 = c.benchmark_group("checkpoint");
    g2.bench_function("serialize_partition_state_5_cars", |b| {
        b.iter(|| black_box(&state).to_bytes())
    });
    g2.finish();
}

/// The live strategy, recomputed after every lap of a 40-lap, 20-car race (the processor's
/// refresher runs it every 10 s, a few times a lap), per sample of that race: what it adds
/// to the analytics' cost per sample.
fn strategy(c: &mut Criterion) {
    use pitstop_workloads::analytics::strategy::{Race as StrategyRace, compute};
    let mut race = Race::new(RaceConfig {
        session: "bench".into(),
        circuit: circuit("monza").unwrap(),
        laps: 40,
        grid: default_grid(20),
        seed: 3,
        sample_hz: 4.0,
        anomaly_rate: 0.0,
        start_ms: 1_725_800_000_000,
    });
    let (mut state, mut ev, mut out, mut samples) = (
        PartitionState::default(),
        Events::default(),
        Vec::new(),
        0u64,
    );
    while !race.finished() {
        out.clear();
        race.step(&mut out);
        samples += out.len() as u64;
        for s in &out {
            state.observe(s, &mut ev);
        }
    }
    let input = StrategyRace::from_events(&ev, Some("monza"), Some(40));
    let moments: Vec<StrategyRace> = input
        .laps
        .iter()
        .filter(|l| l.car == input.laps[0].car)
        .map(|l| input.as_of(l.crossed_at_ms))
        .collect();
    let mut g = c.benchmark_group("strategy");
    g.throughput(Throughput::Elements(samples));
    g.sample_size(10);
    g.bench_function("every_lap_40_laps_20_cars_per_sample", |b| {
        b.iter(|| {
            for m in &moments {
                black_box(compute(black_box(m)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, analytics, strategy);
criterion_main!(benches);
