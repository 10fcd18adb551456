//! Samples per second of each noise sampler at ε = 0.1, 1 and 10 (sensitivity 1; δ = 1e-9 for the Gaussian).
//! Goal: at least 1M discrete Laplace samples per second on one core.

#![allow(missing_docs)] // criterion_group! generates undocumented items

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand_core::Rng;
use sealroom_privacy::accounting::gaussian_for;
use sealroom_privacy::{DiscreteLaplace, NoiseRng};

const BATCH: u64 = 10_000;

fn samplers(c: &mut Criterion) {
    let mut group = c.benchmark_group("noise samples");
    group.throughput(Throughput::Elements(BATCH));
    // The peer: the generator alone, one 64-bit draw per element (every sample needs several).
    let mut raw = NoiseRng::from_os();
    group.bench_function("ChaCha20 next_u64 (the generator alone)", |b| {
        b.iter(|| {
            (0..BATCH)
                .map(|_| raw.next_u64())
                .fold(0u64, u64::wrapping_add)
        })
    });
    for (label, eps_num, eps_den) in [("0.1", 1u64, 10u64), ("1", 1, 1), ("10", 10, 1)] {
        let laplace = DiscreteLaplace::for_epsilon(1, eps_num, eps_den).unwrap();
        let mut rng = NoiseRng::from_os();
        group.bench_function(format!("discrete Laplace, ε = {label}"), |b| {
            b.iter(|| (0..BATCH).map(|_| laplace.sample(&mut rng)).sum::<i64>())
        });
        let (gaussian, _) = gaussian_for(1, eps_num as f64 / eps_den as f64, 1e-9).unwrap();
        group.bench_function(format!("discrete Gaussian, ε = {label}, δ = 1e-9"), |b| {
            b.iter(|| (0..BATCH).map(|_| gaussian.sample(&mut rng)).sum::<i64>())
        });
    }
    group.finish();
}

criterion_group!(benches, samplers);
criterion_main!(benches);
