//! The aggregation path of the per-person mode: clamping holds against any contribution, and the
//! released sums carry exactly the noise the release says.

use sealroom_core::agreement::{NoiseMechanism, PrivacyTerms};
use sealroom_core::epsilon::Epsilon;
use sealroom_privacy::fit::{assert_fits, fit};
use sealroom_programs::wasm::{Norm, WasmParams};
use sealroom_wasm::RoundNoise;
use sealroom_wasm::clamp::Clamp;
use sealroom_wasm::per_person::Sums;

fn params(norm: &str, bound: f64, units: u64, rounds: u32) -> WasmParams {
    serde_json::from_value(serde_json::json!({
        "name": "sums",
        "module": "00".repeat(32),
        "mode": "per_person",
        "inputs": ["o/d"],
        "fuel_per_call": 1,
        "memory_bytes": 65536,
        "groups": ["a", "b"],
        "coordinates": ["x", "y"],
        "norm": norm,
        "bound": bound,
        "units": units,
        "rounds": rounds,
        "output": "out",
    }))
    .unwrap()
}

fn privacy(noise: NoiseMechanism, epsilon: f64) -> PrivacyTerms {
    PrivacyTerms {
        epsilon_per_run: Epsilon::from_f64(epsilon).unwrap(),
        delta_per_run: 1e-6,
        total_epsilon_per_dataset: Epsilon::from_f64(100.0).unwrap(),
        max_groups_per_person: 1,
        max_rows_per_person_per_group: 1,
        max_rows_per_person: 1,
        min_aggregation: 0,
        noise,
    }
}

/// Ordinary people's contributions, four numbers each (two groups × two coordinates).
fn crowd() -> Vec<Vec<f64>> {
    (0..200)
        .map(|i| {
            let i = f64::from(i);
            vec![
                (i * 0.37).sin(),
                (i * 0.11).cos() * 0.5,
                0.25,
                -(i % 3.0) * 0.1,
            ]
        })
        .collect()
}

fn sums_of(clamp: Clamp, people: &[Vec<f64>]) -> Vec<i128> {
    let mut sums = Sums::new(clamp, 4);
    for p in people {
        sums.add(p);
    }
    sums.exact().to_vec()
}

#[test]
fn a_person_a_million_times_over_the_bound_moves_the_sums_by_at_most_the_bound() {
    for norm in [Norm::L1, Norm::L2] {
        let clamp = Clamp {
            norm,
            bound: 1_000_000,
            units: 1_000_000,
        };
        let without = sums_of(clamp, &crowd());
        for outlier in [
            vec![1e6, 0.0, 0.0, 0.0],
            vec![-1e6, 1e6, -1e6, 1e6],
            vec![3e5, -4e5, 1e-3, 7e5],
            vec![f64::MAX, f64::MIN, f64::NAN, 1.0],
        ] {
            let mut people = crowd();
            people.insert(17, outlier.clone());
            let with = sums_of(clamp, &people);
            let moved: Vec<i128> = with.iter().zip(&without).map(|(a, b)| a - b).collect();
            let (l1, l2) = (
                moved.iter().map(|d| d.unsigned_abs()).sum::<u128>(),
                moved.iter().map(|d| d.unsigned_abs().pow(2)).sum::<u128>(),
            );
            match norm {
                Norm::L1 => assert!(l1 <= 1_000_000, "{outlier:?} moved L1 by {l1}"),
                Norm::L2 => assert!(l2 <= 1_000_000u128.pow(2), "{outlier:?} moved L2² by {l2}"),
            }
            // And it does move them: the clamp scales, it does not drop.
            assert!(l1 > 0, "{outlier:?}");
        }
    }
}

/// Runs the aggregation path (clamp, exact sums, noise) over the crowd 10⁶ times with fresh
/// noise, and fits what the release added to each sum against the stated distribution.
fn released_noise_matches(noise_kind: NoiseMechanism, norm: &str, rounds: u32) {
    let params = params(norm, 2.0, 10, rounds);
    let noise = RoundNoise::size(&params, &privacy(noise_kind, 1.0)).unwrap();
    let clamp = Clamp {
        norm: params.norm,
        bound: params.bound_units(),
        units: params.units,
    };
    let mut sums = Sums::new(clamp, 4);
    for p in crowd() {
        sums.add(&p);
    }
    let exact = sums.exact().to_vec();
    let mechanism = noise.mechanism;
    let cut = (3.0 * mechanism.variance().sqrt()).ceil() as i64;
    let mut coordinate = 0;
    let measured = fit(
        41 + u64::from(rounds),
        cut,
        |rng| {
            let released = sums.noised(&mechanism, rng).unwrap();
            coordinate = (coordinate + 1) % 4;
            (i128::from(released[coordinate]) - exact[coordinate]) as i64
        },
        |x| mechanism.probability(x),
    );
    assert_fits(
        &format!("{noise_kind:?} {norm} × {rounds} rounds"),
        &measured,
        mechanism.variance(),
    );
}

#[test]
fn released_sums_carry_exactly_the_stated_gaussian_noise() {
    released_noise_matches(NoiseMechanism::DiscreteGaussian, "l2", 1);
    released_noise_matches(NoiseMechanism::DiscreteGaussian, "l2", 5);
}

#[test]
fn released_sums_carry_exactly_the_stated_laplace_noise() {
    released_noise_matches(NoiseMechanism::DiscreteLaplace, "l1", 1);
    released_noise_matches(NoiseMechanism::DiscreteLaplace, "l2", 3);
}

#[test]
fn rounds_share_the_runs_privacy_loss() {
    let privacy = privacy(NoiseMechanism::DiscreteGaussian, 1.0);
    let one = RoundNoise::size(&params("l2", 2.0, 10, 1), &privacy).unwrap();
    let four = RoundNoise::size(&params("l2", 2.0, 10, 4), &privacy).unwrap();
    let (rho_one, rho_four) = (one.mechanism.rho().unwrap(), four.mechanism.rho().unwrap());
    // zCDP adds over rounds: four rounds at a quarter of ρ each, so twice the noise's σ.
    assert!(
        4.0 * rho_four <= rho_one * 1.0001,
        "{rho_four} × 4 vs {rho_one}"
    );
    assert!((four.mechanism.variance() / one.mechanism.variance() - 4.0).abs() < 0.01);
    // And the total stays within the agreement's (ε, δ).
    let total = sealroom_privacy::accounting::epsilon_from_rho(4.0 * rho_four, 1e-6);
    assert!(total <= 1.0 + 1e-9, "{total}");
    // Laplace: ε/R per round, so R times the scale; sensitivity in L1 (√4 · bound for L2).
    let laplace = RoundNoise::size(
        &params("l2", 2.0, 10, 2),
        &self::privacy(NoiseMechanism::DiscreteLaplace, 1.0),
    )
    .unwrap();
    assert_eq!((laplace.l1_sensitivity, laplace.l2_sensitivity), (40, 20));
    assert_eq!(laplace.mechanism.parameter(), "80/1");
    // Noise waived: refused.
    let error = RoundNoise::size(
        &params("l1", 2.0, 10, 1),
        &self::privacy(NoiseMechanism::None, 1.0),
    )
    .unwrap_err();
    assert!(error.to_string().contains("waives"), "{error}");
}
