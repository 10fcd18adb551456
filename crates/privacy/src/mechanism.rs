//! The noise an agreement asks for, sized from its privacy terms and a query's sensitivity.

use rand_core::Rng;

use crate::accounting::{epsilon_from_rho, gaussian_for};
use crate::gaussian::{DiscreteGaussian, GaussianError};
use crate::laplace::{DiscreteLaplace, LaplaceError};

/// Which noise to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MechanismKind {
    /// Discrete Laplace, pure ε-DP, sized by the L1 sensitivity.
    Laplace,
    /// Discrete Gaussian, ρ-zCDP converted to (ε, δ), sized by the L2 sensitivity.
    Gaussian,
}

/// A sized noise distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mechanism {
    /// Discrete Laplace.
    Laplace(DiscreteLaplace),
    /// Discrete Gaussian, with the ρ it achieves.
    Gaussian(DiscreteGaussian, f64),
}

/// The noise could not be sized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MechanismError {
    /// Laplace parameters out of range.
    #[error(transparent)]
    Laplace(#[from] LaplaceError),
    /// Gaussian parameters out of range.
    #[error(transparent)]
    Gaussian(#[from] GaussianError),
}

impl Mechanism {
    /// Sizes the noise for ε = `eps_num / eps_den` (and δ for the Gaussian) and the query's sensitivities.
    pub fn size(
        kind: MechanismKind,
        (eps_num, eps_den): (u64, u64),
        delta: f64,
        l1_sensitivity: u64,
        l2_sensitivity: u64,
    ) -> Result<Self, MechanismError> {
        Ok(match kind {
            MechanismKind::Laplace => Mechanism::Laplace(DiscreteLaplace::for_epsilon(
                l1_sensitivity,
                eps_num,
                eps_den,
            )?),
            MechanismKind::Gaussian => {
                let (dist, rho) =
                    gaussian_for(l2_sensitivity, eps_num as f64 / eps_den as f64, delta)?;
                Mechanism::Gaussian(dist, rho)
            }
        })
    }

    /// One noise draw.
    pub fn sample(&self, rng: &mut impl Rng) -> i64 {
        match self {
            Mechanism::Laplace(d) => d.sample(rng),
            Mechanism::Gaussian(d, _) => d.sample(rng),
        }
    }

    /// `discrete-laplace` or `discrete-gaussian`.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::Laplace(_) => "discrete-laplace",
            Mechanism::Gaussian(..) => "discrete-gaussian",
        }
    }

    /// The exact parameter: the Laplace scale, or the Gaussian's σ², as `p/q`.
    pub fn parameter(&self) -> String {
        let (p, q) = match self {
            Mechanism::Laplace(d) => d.scale(),
            Mechanism::Gaussian(d, _) => d.variance_parameter(),
        };
        format!("{p}/{q}")
    }

    /// ρ of zCDP, for the Gaussian.
    pub fn rho(&self) -> Option<f64> {
        match self {
            Mechanism::Gaussian(_, rho) => Some(*rho),
            Mechanism::Laplace(_) => None,
        }
    }

    /// ε actually spent (for the Gaussian, from its ρ at `delta`; at most the agreement's ε).
    pub fn epsilon_spent(&self, agreed: f64, delta: f64) -> f64 {
        match self {
            Mechanism::Laplace(_) => agreed,
            Mechanism::Gaussian(_, rho) => epsilon_from_rho(*rho, delta),
        }
    }

    /// `P(X = x)` (floating point, for bounds and thresholds).
    pub fn probability(&self, x: i64) -> f64 {
        match self {
            Mechanism::Laplace(d) => d.probability(x),
            Mechanism::Gaussian(d, _) => d.probability(x),
        }
    }

    /// The smallest k with `P(|X| ≤ k) ≥ confidence`.
    pub fn error_bound(&self, confidence: f64) -> u64 {
        match self {
            Mechanism::Laplace(d) => d.error_bound(confidence),
            Mechanism::Gaussian(d, _) => d.error_bound(confidence),
        }
    }

    /// The noise's variance, for confidence intervals that add it to the sampling variance
    /// (for the Gaussian σ², which the discrete Gaussian's variance never exceeds).
    pub fn variance(&self) -> f64 {
        match self {
            Mechanism::Laplace(d) => d.variance(),
            Mechanism::Gaussian(d, _) => {
                let (numerator, denominator) = d.variance_parameter();
                numerator as f64 / denominator as f64
            }
        }
    }

    /// `P(X ≥ k)` for k ≥ 1 (exact for Laplace, an upper bound for the Gaussian).
    pub fn upper_tail(&self, k: u64) -> f64 {
        match self {
            Mechanism::Laplace(d) => d.upper_tail(k),
            Mechanism::Gaussian(d, _) => d.upper_tail(k),
        }
    }

    /// The noisy threshold τ for groups not declared in advance: the smallest τ with
    /// `P(per_group + X ≥ τ) ≤ delta / groups` (by the tail above, so never too small), and at
    /// least `minimum`.
    pub fn threshold(&self, per_group: u64, groups: u32, delta: f64, minimum: u64) -> u64 {
        let target = delta / f64::from(groups.max(1));
        let k = crate::gaussian::smallest(|k| k >= 1 && self.upper_tail(k) <= target);
        per_group.saturating_add(k).max(minimum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_bound_the_chance_a_single_persons_group_appears() {
        for mechanism in [
            Mechanism::size(MechanismKind::Laplace, (1, 2), 1e-9, 2, 2).unwrap(),
            Mechanism::size(MechanismKind::Gaussian, (1, 1), 1e-9, 2, 2).unwrap(),
        ] {
            let delta = 1e-6;
            let tau = mechanism.threshold(1, 2, delta, 0) as i64;
            let tail = |from: i64| {
                (from..from + 10_000)
                    .map(|x| mechanism.probability(x))
                    .sum::<f64>()
            };
            assert!(
                tail(tau - 1) <= delta / 2.0 * 1.000_001,
                "{}: τ {tau}",
                mechanism.name()
            );
            assert!(
                tail(tau - 2) > delta / 2.0,
                "{}: τ {tau} is not the smallest",
                mechanism.name()
            );
        }
    }

    #[test]
    fn laplace_uses_l1_and_gaussian_uses_l2() {
        let l = Mechanism::size(MechanismKind::Laplace, (1, 1), 1e-9, 4, 2).unwrap();
        assert_eq!(l.parameter(), "4/1");
        let g = Mechanism::size(MechanismKind::Gaussian, (1, 1), 1e-9, 4, 2).unwrap();
        assert_eq!(g.name(), "discrete-gaussian");
        assert!(g.epsilon_spent(1.0, 1e-9) <= 1.0);
        assert!(g.rho().unwrap() > 0.0);
    }
}
