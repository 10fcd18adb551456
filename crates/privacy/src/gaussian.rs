//! The discrete Gaussian mechanism (CKS Algorithm 3), with an exact rational variance parameter.

use rand_core::RngCore;

use crate::laplace::DiscreteLaplace;
use crate::sample::bernoulli_exp_minus;

/// Largest numerator or denominator of σ² accepted: keeps every intermediate value inside `u128`.
const MAX_PART: u64 = 1 << 32;

/// Parameters that give no valid distribution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GaussianError {
    /// σ² is zero or has a zero denominator.
    #[error("the discrete Gaussian σ² = {numerator}/{denominator} must be a positive fraction")]
    NonPositiveVariance {
        /// Numerator.
        numerator: u64,
        /// Denominator.
        denominator: u64,
    },
    /// The numbers are too large to sample exactly.
    #[error("the discrete Gaussian σ² = {numerator}/{denominator} is too large to sample exactly")]
    TooLarge {
        /// Numerator.
        numerator: u64,
        /// Denominator.
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
        if numerator > MAX_PART || denominator > MAX_PART {
            return Err(GaussianError::TooLarge {
                numerator,
                denominator,
            });
        }
        // ⌊σ⌋ = ⌊√⌊σ²⌋⌋, computed exactly on integers.
        let t = (numerator / denominator).isqrt() + 1;
        let proposal = DiscreteLaplace::new(t, 1).map_err(|_| GaussianError::TooLarge {
            numerator,
            denominator,
        })?;
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
    pub fn sample(&self, rng: &mut impl RngCore) -> i64 {
        let (a, b, t) = (
            u128::from(self.numerator),
            u128::from(self.denominator),
            u128::from(self.t),
        );
        loop {
            let y = self.proposal.sample(rng);
            // γ = (|Y|·b·t − a)² / (2·a·b·t²), all integers.
            let diff = (u128::from(y.unsigned_abs()) * b * t).abs_diff(a);
            // When the square overflows, γ > 2^128 / 2^99 and the acceptance probability is below
            // exp(-2^29); rejecting outright changes the distribution by less than that.
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

    /// `P(X = x)`, for tests and error bounds (floating point; never used to sample).
    pub fn probability(&self, x: i64) -> f64 {
        let s2 = self.sigma2();
        let weight = |k: f64| (-k * k / (2.0 * s2)).exp();
        let reach = (12.0 * s2.sqrt()).ceil() as i64 + 2;
        let norm: f64 = (-reach..=reach).map(|k| weight(k as f64)).sum();
        weight(x as f64) / norm
    }

    /// The smallest k with `P(|X| ≤ k) ≥ confidence` (floating point; for annotations only).
    pub fn error_bound(&self, confidence: f64) -> u64 {
        let mut mass = self.probability(0);
        let mut k = 0u64;
        while mass < confidence {
            k += 1;
            mass += 2.0 * self.probability(k as i64);
        }
        k
    }

    /// Variance of the distribution (slightly below σ²; summed numerically, for tests).
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
        assert!(DiscreteGaussian::new(1 << 33, 1).is_err());
        assert_eq!(DiscreteGaussian::new(10, 1).unwrap().t, 4);
        assert_eq!(DiscreteGaussian::new(9, 1).unwrap().t, 4);
        assert_eq!(DiscreteGaussian::new(1, 4).unwrap().t, 1);
    }

    #[test]
    fn error_bound_covers_95_percent() {
        let dist = DiscreteGaussian::new(25, 1).unwrap();
        let k = dist.error_bound(0.95) as i64;
        let inside: f64 = (-k..=k).map(|x| dist.probability(x)).sum();
        let less: f64 = (-(k - 1)..=(k - 1)).map(|x| dist.probability(x)).sum();
        assert!(inside >= 0.95 && less < 0.95, "k={k}");
        assert_eq!(k, 10); // ≈ 1.96 σ with σ = 5
    }
}
