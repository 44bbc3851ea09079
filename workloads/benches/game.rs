//! The F1-game gateway's receiving side on one core: datagrams decoded and assembled into
//! samples per second, and with the samples encoded as the JSON the sender posts. A race
//! of 22 cars at 60 Hz (Lap Data and Car Telemetry; the real game adds motion, status and
//! damage packets, which are cheaper: motion is counted by its header only).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pitstop_workloads::game::assemble::{Assembler, Output};
use pitstop_workloads::game::decode::decode;
use std::hint::black_box;

fn datagrams() -> Vec<Vec<u8>> {
    let rec = pitstop_workloads::game::play::synthesized(22, 2, 2_000.0, 60.0);
    rec.datagrams.into_iter().map(|(_, d)| d).collect()
}

fn gateway(c: &mut Criterion) {
    let all = datagrams();
    let mut g = c.benchmark_group("gateway");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.sample_size(10);
    g.bench_function("decode", |b| {
        b.iter(|| {
            for d in &all {
                black_box(decode(d).ok());
            }
        })
    });
    g.bench_function("decode_assemble", |b| {
        b.iter_batched(
            || Assembler::new(Some("bench")),
            |mut asm| {
                let mut out = Vec::new();
                for d in &all {
                    asm.push(decode(d).unwrap(), 1_764_900_000_000, &mut out);
                    out.clear();
                }
                asm
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("decode_assemble_json", |b| {
        let mut body = Vec::with_capacity(1 << 20);
        b.iter_batched(
            || Assembler::new(Some("bench")),
            |mut asm| {
                let mut out = Vec::new();
                for d in &all {
                    asm.push(decode(d).unwrap(), 1_764_900_000_000, &mut out);
                    for o in out.drain(..) {
                        if let Output::Samples(_, samples) = o {
                            for s in &samples {
                                serde_json::to_writer(&mut body, s).unwrap();
                                body.push(b'\n');
                            }
                        }
                    }
                    if body.len() > 512 * 1024 {
                        body.clear();
                    }
                }
                asm
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, gateway);
criterion_main!(benches);
