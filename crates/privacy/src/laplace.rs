//! The discrete Laplace mechanism.

use rand_core::Rng;

use crate::sample::{bernoulli, bernoulli_exp_minus, uniform_below};

/// Parameters that give no valid distribution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LaplaceError {
    /// Zero numerator or denominator.
    #[error("the discrete Laplace scale {numerator}/{denominator} must be a positive fraction")]
    NonPositiveScale {
        /// The numerator of the parameter, a whole number.
        numerator: u64,
        /// The denominator of the parameter, a positive whole number.
        denominator: u64,
    },
    /// The numbers are too large to sample exactly.
    #[error("the discrete Laplace scale {numerator}/{denominator} is too large to sample exactly")]
    ScaleTooLarge {
        /// The numerator of the parameter, a whole number.
        numerator: u64,
        /// The denominator of the parameter, a positive whole number.
        denominator: u64,
    },
}

/// The discrete Laplace distribution on the integers: `P(x) ∝ exp(-|x| / scale)`, with an exact rational scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteLaplace {
    numerator: u64,
    denominator: u64,
}

impl DiscreteLaplace {
    /// Scale `numerator / denominator`.
    pub fn new(numerator: u64, denominator: u64) -> Result<Self, LaplaceError> {
        if numerator == 0 || denominator == 0 {
            return Err(LaplaceError::NonPositiveScale {
                numerator,
                denominator,
            });
        }
        if numerator > 1 << 40 || denominator > 1 << 40 {
            return Err(LaplaceError::ScaleTooLarge {
                numerator,
                denominator,
            });
        }
        Ok(Self {
            numerator,
            denominator,
        })
    }

    /// The scale that gives ε-DP for a query of L1 `sensitivity`, with ε = `eps_num / eps_den`: sensitivity / ε.
    pub fn for_epsilon(sensitivity: u64, eps_num: u64, eps_den: u64) -> Result<Self, LaplaceError> {
        let numerator = sensitivity
            .checked_mul(eps_den)
            .ok_or(LaplaceError::ScaleTooLarge {
                numerator: sensitivity,
                denominator: eps_num,
            })?;
        let g = gcd(numerator, eps_num);
        Self::new(numerator / g.max(1), eps_num / g.max(1))
    }

    /// The scale as `(numerator, denominator)`.
    pub fn scale(&self) -> (u64, u64) {
        (self.numerator, self.denominator)
    }

    /// Draws one sample (CKS Algorithm 2 with scale s/t).
    pub fn sample(&self, rng: &mut impl Rng) -> i64 {
        let (s, t) = (self.numerator, self.denominator);
        loop {
            let u = uniform_below(rng, s);
            if !bernoulli_exp_minus(rng, u.into(), s.into()) {
                continue;
            }
            let mut v: u64 = 0;
            while bernoulli_exp_minus(rng, 1, 1) {
                v += 1;
            }
            let x = u + s * v;
            let y = (x / t) as i64;
            let negative = bernoulli(rng, 1, 2);
            if negative && y == 0 {
                continue;
            }
            return if negative { -y } else { y };
        }
    }

    /// `P(X = x)`, for tests and error bounds (floating point; never used to sample).
    pub fn probability(&self, x: i64) -> f64 {
        let alpha = self.alpha();
        (1.0 - alpha) / (1.0 + alpha) * alpha.powi(x.unsigned_abs().min(i32::MAX as u64) as i32)
    }

    /// The smallest k with `P(|X| ≤ k) ≥ confidence` (floating point; for annotations only).
    pub fn error_bound(&self, confidence: f64) -> u64 {
        let alpha = self.alpha();
        // P(|X| > k) = 2 α^(k+1) / (1 + α)
        let tail = 1.0 - confidence;
        let k = ((tail * (1.0 + alpha) / 2.0).ln() / alpha.ln()).ceil() - 1.0;
        k.max(0.0) as u64
    }

    /// `P(X ≥ k)` for k ≥ 1: `α^k / (1 + α)`.
    pub fn upper_tail(&self, k: u64) -> f64 {
        let alpha = self.alpha();
        alpha.powf(k.max(1) as f64) / (1.0 + alpha)
    }

    /// Variance `2α / (1-α)²`.
    pub fn variance(&self) -> f64 {
        let alpha = self.alpha();
        2.0 * alpha / ((1.0 - alpha) * (1.0 - alpha))
    }

    fn alpha(&self) -> f64 {
        (-(self.denominator as f64) / self.numerator as f64).exp()
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_follow_the_exact_distribution() {
        for (i, (num, den)) in [(1u64, 1u64), (2, 1), (10, 3), (20, 1)]
            .into_iter()
            .enumerate()
        {
            let dist = DiscreteLaplace::new(num, den).unwrap();
            let cut = (dist.error_bound(0.999) as i64).max(1);
            let fit = crate::fit::fit(
                10 + i as u64,
                cut,
                |rng| dist.sample(rng),
                |x| dist.probability(x),
            );
            crate::fit::assert_fits(
                &format!("discrete Laplace, scale {num}/{den}"),
                &fit,
                dist.variance(),
            );
        }
    }

    #[test]
    fn scale_for_epsilon_is_sensitivity_over_epsilon() {
        assert_eq!(
            DiscreteLaplace::for_epsilon(2, 1, 2).unwrap().scale(),
            (4, 1)
        );
        assert_eq!(
            DiscreteLaplace::for_epsilon(3, 3, 10).unwrap().scale(),
            (10, 1)
        );
        assert!(DiscreteLaplace::new(0, 1).is_err());
    }

    #[test]
    fn error_bound_covers_95_percent() {
        let dist = DiscreteLaplace::new(2, 1).unwrap();
        let k = dist.error_bound(0.95) as i64;
        let inside: f64 = (-k..=k).map(|x| dist.probability(x)).sum();
        let inside_less: f64 = (-(k - 1)..=(k - 1)).map(|x| dist.probability(x)).sum();
        assert!(
            inside >= 0.95 && inside_less < 0.95,
            "k={k} {inside} {inside_less}"
        );
    }
}
