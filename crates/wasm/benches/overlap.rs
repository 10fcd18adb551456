//! What running a program as Wasm costs: `overlap` as the built-in against `overlap` as the Wasm
//! example (one fresh instance per person, clamping, exact sums, noise), on the same tables.
#![allow(missing_docs)] // criterion_group! generates undocumented items

#[path = "../tests/support/overlap.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn overlap(c: &mut Criterion) {
    let mut group = c.benchmark_group("overlap");
    group.sample_size(10);
    for people in [10_000u64, 100_000] {
        let (left, right) = support::tables(people, 7);
        group.bench_with_input(BenchmarkId::new("builtin", people), &people, |b, _| {
            b.iter(|| support::builtin(&left, &right, 2))
        });
        let guest = support::guest(2);
        group.bench_with_input(BenchmarkId::new("wasm", people), &people, |b, _| {
            b.iter(|| support::wasm_with(&guest, &left, &right, 2))
        });
    }
    group.finish();
}

criterion_group!(benches, overlap);
criterion_main!(benches);
