//! Codec throughput: binary batch encode/decode (the Redis path) and JSON parsing (the
//! public ingest path), on 256 simulated samples.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pitstop_workloads::codec::binary::{decode_batch, encode_batch};
use pitstop_workloads::codec::json::parse_samples;
use pitstop_workloads::model::Sample;
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::race::{Race, RaceConfig};
use std::hint::black_box;

fn samples(n: usize) -> Vec<Sample> {
    let mut race = Race::new(RaceConfig {
        session: "bench".into(),
        circuit: circuit("monza").unwrap(),
        laps: 3,
        grid: default_grid(20),
        seed: 1,
        sample_hz: 20.0,
        anomaly_rate: 0.0,
        start_ms: 1_725_800_000_000,
    });
    let mut out = Vec::new();
    while out.len() < n {
        race.step(&mut out);
    }
    out.truncate(n);
    out
}

fn codec(c: &mut Criterion) {
    let s = samples(256);
    let bytes = encode_batch("bench", 0, &s);
    let json: String = s
        .iter()
        .map(|x| serde_json::to_string(x).unwrap() + "\n")
        .collect();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(s.len() as u64));
    g.bench_function("binary_encode_256", |b| {
        b.iter(|| encode_batch("bench", 0, black_box(&s)))
    });
    let mut out = Vec::new();
    g.bench_function("binary_decode_256", |b| {
        b.iter(|| decode_batch(black_box(&bytes), &mut out).unwrap())
    });
    g.bench_function("json_parse_256", |b| {
        b.iter(|| parse_samples(black_box(json.as_bytes()), 10_000).unwrap())
    });
    g.finish();
    println!(
        "binary: {} bytes per sample; ndjson: {} bytes per sample",
        bytes.len() / s.len(),
        json.len() / s.len()
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
