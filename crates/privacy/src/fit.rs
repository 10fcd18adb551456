//! Statistical checks of samplers against their exact probability mass functions (tests only; other crates' tests
//! reach it through the feature `statistics`).

use crate::rng::NoiseRng;

/// Draws per statistical test (the issue asks for at least 10⁶).
pub const DRAWS: usize = 1_000_000;

/// Upper 0.001 quantile of chi-square with `dof` degrees of freedom (Wilson–Hilferty; within 1% for dof ≥ 5).
pub fn chi_square_critical_0_001(dof: usize) -> f64 {
    let k = dof as f64;
    let z = 3.090_232; // standard normal quantile at 0.999
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

/// What a goodness-of-fit run measured.
pub struct Fit {
    /// The chi-square statistic.
    pub statistic: f64,
    /// Its degrees of freedom.
    pub dof: usize,
    /// Sample mean.
    pub mean: f64,
    /// Sample variance.
    pub variance: f64,
}

/// Draws [`DRAWS`] samples from a seeded generator, bins `-cut..=cut` (tails pooled on each
/// side) and compares with `pmf`, which must be symmetric.
pub fn fit(
    seed: u64,
    cut: i64,
    mut sample: impl FnMut(&mut NoiseRng) -> i64,
    pmf: impl Fn(i64) -> f64,
) -> Fit {
    let mut rng = NoiseRng::from_test_seed(seed);
    let mut counts = vec![0u64; (2 * cut + 3) as usize];
    let (mut sum, mut sum_sq) = (0f64, 0f64);
    for _ in 0..DRAWS {
        let x = sample(&mut rng);
        sum += x as f64;
        sum_sq += (x as f64) * (x as f64);
        let bin = x.clamp(-cut - 1, cut + 1) + cut + 1;
        counts[bin as usize] += 1;
    }
    let tail = (1.0 - (-cut..=cut).map(&pmf).sum::<f64>()) / 2.0;
    let mut statistic = 0.0;
    for (bin, &observed) in counts.iter().enumerate() {
        let x = bin as i64 - cut - 1;
        let p = if x.abs() > cut { tail } else { pmf(x) };
        let expected = p * DRAWS as f64;
        statistic += (observed as f64 - expected).powi(2) / expected;
    }
    let mean = sum / DRAWS as f64;
    Fit {
        statistic,
        dof: counts.len() - 1,
        mean,
        variance: sum_sq / DRAWS as f64 - mean * mean,
    }
}

/// Asserts the fit passes at significance 0.001 and that mean and variance match.
pub fn assert_fits(name: &str, fit: &Fit, variance: f64) {
    let critical = chi_square_critical_0_001(fit.dof);
    assert!(
        fit.statistic < critical,
        "{name}: chi-square {:.1} with {} dof ≥ {critical:.1} (p < 0.001)",
        fit.statistic,
        fit.dof
    );
    let se = (variance / DRAWS as f64).sqrt();
    assert!(
        fit.mean.abs() < 5.0 * se,
        "{name}: mean {} (5 standard errors = {})",
        fit.mean,
        5.0 * se
    );
    assert!(
        (fit.variance / variance - 1.0).abs() < 0.01,
        "{name}: variance {} vs {variance}",
        fit.variance
    );
}
