//! Privacy accounting: pure ε for discrete Laplace, zCDP for the discrete Gaussian.
//!
//! The discrete Gaussian with variance parameter σ² on a query of L2 sensitivity Δ
//! is ρ-zCDP with ρ = Δ²/2σ² (Canonne, Kamath, Steinke 2020, Theorem 4), and
//! ρ-zCDP implies (ρ + 2·√(ρ·ln(1/δ)), δ)-DP (Bun and Steinke 2016, Proposition 1.3).
//! Parameters are derived in floating point, then σ² is rounded *up* to a
//! fraction with denominator [`SIGMA2_DENOMINATOR`], so the guarantee only gets
//! stronger; sampling itself stays exact.

use crate::gaussian::{DiscreteGaussian, GaussianError};

/// Denominator of the σ² fractions this module produces (1 when σ² is too large for it).
pub const SIGMA2_DENOMINATOR: u64 = 1000;

/// ε of (ε, δ)-DP implied by ρ-zCDP.
pub fn epsilon_from_rho(rho: f64, delta: f64) -> f64 {
    rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt()
}

/// The largest ρ whose zCDP guarantee implies (ε, δ)-DP: `(√(ε + L) − √L)²` with `L = ln(1/δ)`.
pub fn rho_for(epsilon: f64, delta: f64) -> f64 {
    let l = (1.0 / delta).ln();
    ((epsilon + l).sqrt() - l.sqrt()).powi(2)
}

/// The discrete Gaussian giving (ε, δ)-DP to a query of L2 sensitivity `sensitivity`,
/// with its ρ. `epsilon` > 0 and 0 < `delta` < 1.
pub fn gaussian_for(
    sensitivity: u64,
    epsilon: f64,
    delta: f64,
) -> Result<(DiscreteGaussian, f64), GaussianError> {
    gaussian_for_rho(sensitivity, rho_for(epsilon, delta))
}

/// The discrete Gaussian giving ρ-zCDP (at most) to a query of L2 sensitivity `sensitivity`,
/// with the ρ it actually achieves (σ² rounded up). Rounds of an iterative run each take their
/// share of the run's ρ: zCDP composes by adding ρ.
pub fn gaussian_for_rho(
    sensitivity: u64,
    rho: f64,
) -> Result<(DiscreteGaussian, f64), GaussianError> {
    let sigma2 = (sensitivity as f64).powi(2) / (2.0 * rho);
    let fraction = |denominator: u64| {
        let numerator = (sigma2 * denominator as f64).ceil();
        if numerator.is_finite() && numerator >= 1.0 && numerator < u64::MAX as f64 {
            DiscreteGaussian::new(numerator as u64, denominator)
        } else {
            Err(GaussianError::TooLarge {
                numerator: u64::MAX,
                denominator,
            })
        }
    };
    // Thousandths when they fit; whole numbers for very wide noise (large sums).
    let dist = fraction(SIGMA2_DENOMINATOR).or_else(|_| fraction(1))?;
    // ρ actually achieved by the rounded-up σ².
    let achieved = (sensitivity as f64).powi(2) / (2.0 * dist.sigma2());
    Ok((dist, achieved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rho_and_epsilon_are_inverse() {
        for (eps, delta) in [(0.1, 1e-9), (1.0, 1e-6), (10.0, 1e-5)] {
            let rho = rho_for(eps, delta);
            assert!((epsilon_from_rho(rho, delta) - eps).abs() < 1e-9, "ε {eps}");
        }
    }

    #[test]
    fn rounding_only_strengthens_the_guarantee() {
        for (sens, eps, delta) in [(1, 0.1, 1e-9), (2, 1.0, 1e-9), (1, 10.0, 1e-6)] {
            let (dist, rho) = gaussian_for(sens, eps, delta).unwrap();
            assert!(rho <= rho_for(eps, delta));
            assert!(epsilon_from_rho(rho, delta) <= eps);
            assert_eq!(dist.variance_parameter().1, SIGMA2_DENOMINATOR);
        }
        // Sums in cents: σ² ≈ 1.75·10¹¹ still fits in thousandths; σ² ≈ 1.7·10¹⁴ only in whole numbers.
        let (dist, rho) = gaussian_for(63_246, 1.0, 1e-9).unwrap();
        assert_eq!(dist.variance_parameter().1, SIGMA2_DENOMINATOR);
        assert!(epsilon_from_rho(rho, 1e-9) <= 1.0);
        let (dist, rho) = gaussian_for(2_000_000, 1.0, 1e-9).unwrap();
        assert_eq!(dist.variance_parameter().1, 1);
        assert!(epsilon_from_rho(rho, 1e-9) <= 1.0);
        {}
        // ε = 1, δ = 1e-9, Δ = 1: ρ ≈ 0.01178, σ ≈ 6.515.
        let (dist, _) = gaussian_for(1, 1.0, 1e-9).unwrap();
        assert!(
            (dist.sigma2().sqrt() - 6.515).abs() < 0.001,
            "σ {}",
            dist.sigma2().sqrt()
        );
    }
}
