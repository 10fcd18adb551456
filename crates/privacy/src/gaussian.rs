//! The discrete Gaussian mechanism (CKS Algorithm 3), with an exact rational variance parameter.

use rand_core::Rng;

use crate::laplace::DiscreteLaplace;
use crate::sample::bernoulli_exp_minus;

/// Largest denominator of σ² accepted.
const MAX_DENOMINATOR: u64 = 1 << 32;
/// Largest `2·a·b·t²` (σ² = a/b, t = ⌊σ⌋+1) accepted: leaves room in `u128` for the
/// acceptance test's squares and for CKS Algorithm 1's growing denominators.
const MAX_ACCEPTANCE_DENOMINATOR: u128 = 1 << 110;

/// Parameters that give no valid distribution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GaussianError {
    /// σ² is zero or has a zero denominator.
    #[error("the discrete Gaussian σ² = {numerator}/{denominator} must be a positive fraction")]
    NonPositiveVariance {
        /// The numerator of the parameter, a whole number.
        numerator: u64,
        /// The denominator of the parameter, a positive whole number.
        denominator: u64,
    },
    /// The numbers are too large to sample exactly.
    #[error("the discrete Gaussian σ² = {numerator}/{denominator} is too large to sample exactly")]
    TooLarge {
        /// The numerator of the parameter, a whole number.
        numerator: u64,
        /// The denominator of the parameter, a positive whole number.
        denominator: u64,
    },
}

/// The discrete Gaussian on the integers: `P(x) ∝ exp(-x² / 2σ²)`, with σ² an exact fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteGaussian {
    numerator: u64,
    denominator: u64,
    /// `⌊σ⌋ + 1`, the scale of the discrete Laplace proposal.
    t: u64,
    proposal: DiscreteLaplace,
}

/// The smallest k ≥ 0 for which the monotone condition `holds(k)` is true (doubling, then bisection).
pub(crate) fn smallest(holds: impl Fn(u64) -> bool) -> u64 {
    let mut hi = 1u64;
    while !holds(hi) {
        hi = hi.checked_mul(2).expect("a tail bound that never shrinks");
    }
    let mut lo = 0u64;
    if holds(lo) {
        return 0;
    }
    // holds(hi), !holds(lo)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if holds(mid) { hi = mid } else { lo = mid }
    }
    hi
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl DiscreteGaussian {
    /// σ² = `numerator / denominator`.
    pub fn new(numerator: u64, denominator: u64) -> Result<Self, GaussianError> {
        if numerator == 0 || denominator == 0 {
            return Err(GaussianError::NonPositiveVariance {
                numerator,
                denominator,
            });
        }
        let too_large = GaussianError::TooLarge {
            numerator,
            denominator,
        };
        if denominator > MAX_DENOMINATOR {
            return Err(too_large);
        }
        // ⌊σ⌋ = ⌊√⌊σ²⌋⌋, computed exactly on integers.
        let t = (numerator / denominator).isqrt() + 1;
        let (a, b, t128) = (
            u128::from(numerator),
            u128::from(denominator),
            u128::from(t),
        );
        let acceptance = (2 * a)
            .checked_mul(b)
            .and_then(|x| x.checked_mul(t128 * t128))
            .filter(|&x| x <= MAX_ACCEPTANCE_DENOMINATOR);
        if acceptance.is_none() {
            return Err(too_large);
        }
        let proposal = DiscreteLaplace::new(t, 1).map_err(|_| too_large.clone())?;
        Ok(Self {
            numerator,
            denominator,
            t,
            proposal,
        })
    }

    /// σ² as `(numerator, denominator)`.
    pub fn variance_parameter(&self) -> (u64, u64) {
        (self.numerator, self.denominator)
    }

    /// Draws one sample: a discrete Laplace proposal Y of scale t = ⌊σ⌋+1, kept with probability
    /// `exp(-(|Y| - σ²/t)² / 2σ²)`.
    pub fn sample(&self, rng: &mut impl Rng) -> i64 {
        let (a, b, t) = (
            u128::from(self.numerator),
            u128::from(self.denominator),
            u128::from(self.t),
        );
        loop {
            let y = self.proposal.sample(rng);
            // γ = (|Y|·b·t − a)² / (2·a·b·t²), all integers.
            let diff = (u128::from(y.unsigned_abs()) * b * t).abs_diff(a);
            // When the square overflows, γ > 2^128 / 2^110 and the acceptance probability is below
            // exp(-2^18); rejecting outright changes the distribution by less than that.
            let Some(num) = diff.checked_mul(diff) else {
                continue;
            };
            let den = 2 * a * b * t * t;
            let g = gcd(num, den);
            if bernoulli_exp_minus(rng, num / g, den / g) {
                return y;
            }
        }
    }

    /// σ² as a float (for annotations and tests only).
    pub fn sigma2(&self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }

    /// exp(-x²/2σ²), the unnormalized mass.
    fn weight(&self, x: f64) -> f64 {
        (-x * x / (2.0 * self.sigma2())).exp()
    }

    /// The normalizing constant Σ exp(-k²/2σ²). For σ² ≥ 100 it is σ√(2π) to within a relative
    /// exp(-2π²σ²) (Poisson summation), and never above the true value.
    fn norm(&self) -> f64 {
        let s2 = self.sigma2();
        if s2 >= 100.0 {
            return (2.0 * std::f64::consts::PI * s2).sqrt();
        }
        let reach = (12.0 * s2.sqrt()).ceil() as i64 + 2;
        (-reach..=reach).map(|k| self.weight(k as f64)).sum()
    }

    /// `P(X = x)`, for tests and error bounds (floating point; never used to sample).
    pub fn probability(&self, x: i64) -> f64 {
        self.weight(x as f64) / self.norm()
    }

    /// An upper bound on `P(X ≥ k)` for k ≥ 1 (exact sum for small σ; for large σ,
    /// `w(k)·(1 + σ²/k) / σ√(2π)`, from comparing the sum with an integral).
    pub fn upper_tail(&self, k: u64) -> f64 {
        let s2 = self.sigma2();
        let k = k.max(1) as f64;
        if s2 < 100.0 {
            let reach = (40.0 * s2.sqrt()).ceil() + 40.0;
            let mass: f64 = (0..reach as u64).map(|j| self.weight(k + j as f64)).sum();
            return (mass / self.norm()).min(0.5);
        }
        (self.weight(k) * (1.0 + s2 / k) / self.norm()).min(0.5)
    }

    /// The smallest k with `P(|X| ≤ k) ≥ confidence`, using [`Self::upper_tail`] (so never too small).
    pub fn error_bound(&self, confidence: f64) -> u64 {
        let outside = |k: u64| 2.0 * self.upper_tail(k + 1);
        smallest(|k| outside(k) <= 1.0 - confidence)
    }

    /// Variance of the distribution (slightly below σ²; summed numerically, for tests).
    #[cfg(test)]
    pub fn variance(&self) -> f64 {
        let reach = (12.0 * self.sigma2().sqrt()).ceil() as i64 + 2;
        (-reach..=reach)
            .map(|k| (k * k) as f64 * self.probability(k))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_follow_the_exact_distribution() {
        for (i, (num, den)) in [(1u64, 2u64), (1, 1), (4, 1), (50, 3), (100, 1)]
            .into_iter()
            .enumerate()
        {
            let dist = DiscreteGaussian::new(num, den).unwrap();
            let cut = (dist.error_bound(0.999) as i64).max(1);
            let fit = crate::fit::fit(
                20 + i as u64,
                cut,
                |rng| dist.sample(rng),
                |x| dist.probability(x),
            );
            crate::fit::assert_fits(
                &format!("discrete Gaussian, σ² = {num}/{den}"),
                &fit,
                dist.variance(),
            );
        }
    }

    #[test]
    fn parameters_are_checked() {
        assert!(DiscreteGaussian::new(0, 1).is_err());
        assert!(DiscreteGaussian::new(1, 0).is_err());
        assert!(DiscreteGaussian::new(1, 1 << 33).is_err());
        assert!(
            DiscreteGaussian::new(1 << 40, 1).is_ok(),
            "σ ≈ 10⁶ is usable for sums"
        );
        assert!(DiscreteGaussian::new(1 << 60, 1).is_err());
        assert_eq!(DiscreteGaussian::new(10, 1).unwrap().t, 4);
        assert_eq!(DiscreteGaussian::new(9, 1).unwrap().t, 4);
        assert_eq!(DiscreteGaussian::new(1, 4).unwrap().t, 1);
    }

    #[test]
    fn error_bound_covers_95_percent() {
        for (s2, expected) in [(25u64, 10u64), (10_000, 196)] {
            let dist = DiscreteGaussian::new(s2, 1).unwrap();
            let k = dist.error_bound(0.95) as i64;
            let inside: f64 = (-k..=k).map(|x| dist.probability(x)).sum();
            assert!(inside >= 0.95, "σ² {s2}: k={k}");
            // ≈ 1.96 σ; the large-σ tail bound is conservative by a few percent.
            assert!(
                k as u64 >= expected && k as f64 <= expected as f64 * 1.05,
                "σ² {s2}: k={k}, about {expected}"
            );
        }
        // σ ≈ 4·10⁵ (sums in cents): fast, and about 1.96 σ.
        let wide = DiscreteGaussian::new(175_310_964_152, 1).unwrap();
        let k = wide.error_bound(0.95) as f64 / wide.sigma2().sqrt();
        assert!((1.95..2.06).contains(&k), "{k}");
    }
}
