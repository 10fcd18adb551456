//! A person's contribution, clamped to the agreement's norm bound and turned into fixed-point
//! integers whose norm is at most the bound *exactly*: the sensitivity the noise is sized for
//! is a property of integers, not of floating-point arithmetic.

use sealroom_programs::wasm::Norm;

/// Clamps contributions to `bound` units in `norm`, at `units` per whole unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp {
    /// The norm.
    pub norm: Norm,
    /// The bound, in units.
    pub bound: u64,
    /// Units per whole unit.
    pub units: u64,
}

impl Clamp {
    /// `raw` (whole units; numbers that are not finite count as 0) scaled down to norm
    /// `bound / units` if larger, in units, each number rounded toward zero; the exact integer
    /// norm of the result is at most `bound`.
    pub fn apply(&self, raw: &[f64]) -> Vec<i64> {
        let x: Vec<f64> = raw
            .iter()
            .map(|v| if v.is_finite() { *v } else { 0.0 })
            .collect();
        let largest = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if largest == 0.0 {
            return vec![0; x.len()];
        }
        // The norm divided by the largest magnitude, which cannot overflow.
        let relative = match self.norm {
            Norm::L1 => x.iter().map(|v| (v / largest).abs()).sum::<f64>(),
            Norm::L2 => x.iter().map(|v| (v / largest).powi(2)).sum::<f64>().sqrt(),
        };
        let bound = self.bound as f64 / self.units as f64;
        // factor · norm ≤ bound, computed without forming the norm.
        let factor = ((bound / largest) / relative).min(1.0);
        let limit = self.bound as f64;
        let mut units: Vec<i64> = x
            .iter()
            .map(|v| toward_zero((v * factor * self.units as f64).clamp(-limit, limit)))
            .collect();
        // Floating point may leave the norm a hair over: shave the largest number until the
        // integer norm is within the bound.
        while self.exceeds(&units) {
            let i = (0..units.len())
                .max_by_key(|&i| units[i].unsigned_abs())
                .expect("a non-zero vector is not empty");
            units[i] -= units[i].signum();
        }
        units
    }

    /// Whether `units` has an integer norm over the bound.
    pub fn exceeds(&self, units: &[i64]) -> bool {
        let bound = u128::from(self.bound);
        match self.norm {
            Norm::L1 => {
                units
                    .iter()
                    .map(|v| u128::from(v.unsigned_abs()))
                    .sum::<u128>()
                    > bound
            }
            Norm::L2 => {
                units
                    .iter()
                    .map(|v| u128::from(v.unsigned_abs()).pow(2))
                    .sum::<u128>()
                    > bound * bound
            }
        }
    }
}

/// `y` rounded toward zero, except that a value within floating-point noise of a whole number
/// (799.9999999999 for 800) is that number; any excess this leaves is shaved exactly after.
fn toward_zero(y: f64) -> i64 {
    let nearest = y.round();
    if (y - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) {
        nearest as i64
    } else {
        y.trunc() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm2(v: &[i64]) -> f64 {
        v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn small_contributions_pass_unchanged_in_units() {
        let c = Clamp {
            norm: Norm::L2,
            bound: 1_000_000,
            units: 1_000_000,
        };
        assert_eq!(c.apply(&[0.25, -0.5]), [250_000, -500_000]);
        assert_eq!(c.apply(&[]), Vec::<i64>::new());
        assert_eq!(c.apply(&[0.0, 0.0]), [0, 0]);
    }

    #[test]
    fn large_contributions_are_scaled_onto_the_bound_and_never_past_it() {
        let l2 = Clamp {
            norm: Norm::L2,
            bound: 1_000,
            units: 1_000,
        };
        let v = l2.apply(&[3e6, 4e6]);
        assert_eq!(v, [600, 800]);
        let l1 = Clamp {
            norm: Norm::L1,
            ..l2
        };
        assert_eq!(l1.apply(&[-3e6, 1e6]), [-750, 250]);
        // Direction is kept, magnitude capped, for many random shapes and scales.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        for scale in [1e-9, 1.0, 1e3, 1e12, 1e300] {
            for len in [1, 2, 7, 100] {
                let raw: Vec<f64> = (0..len).map(|_| next() * scale).collect();
                for c in [l1, l2] {
                    let v = c.apply(&raw);
                    assert!(!c.exceeds(&v), "{raw:?} → {v:?}");
                }
                assert!(norm2(&l2.apply(&raw)) <= 1_000.0);
            }
        }
    }

    #[test]
    fn numbers_that_are_not_finite_count_as_zero() {
        let c = Clamp {
            norm: Norm::L1,
            bound: 10,
            units: 10,
        };
        assert_eq!(
            c.apply(&[f64::NAN, f64::INFINITY, 0.5, f64::NEG_INFINITY]),
            [0, 0, 5, 0]
        );
        assert_eq!(c.apply(&[f64::MAX, f64::MAX]), [5, 5]);
        assert_eq!(c.apply(&[f64::MIN_POSITIVE]), [0]);
    }
}
