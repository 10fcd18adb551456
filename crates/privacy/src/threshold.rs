//! Releasing groups that were not declared in advance: only through a noisy threshold.
//!
//! A group's key can itself reveal a person (a rare campaign, a unique postcode).
//! Declared groups are always released, noised even when empty. A group found
//! in the data is released only if its noisy count reaches τ, chosen so that a
//! group created by a single person (contributing at most `per_group` to its
//! count, to at most `groups` groups) appears with probability at most δ.

use crate::laplace::DiscreteLaplace;

/// The smallest integer τ with `P(per_group + X ≥ τ) ≤ δ / groups` for X discrete Laplace,
/// and at least `minimum` (the agreement's minimum aggregation threshold).
///
/// `P(X ≥ k) = α^k / (1 + α)` for k ≥ 1, with `α = exp(-1/scale)`; computed in floating point
/// (a parameter, not a sample) and rounded up.
pub fn laplace_threshold(
    noise: &DiscreteLaplace,
    per_group: u64,
    groups: u32,
    delta: f64,
    minimum: u64,
) -> u64 {
    let (num, den) = noise.scale();
    let alpha = (-(den as f64) / num as f64).exp();
    let target = delta / f64::from(groups.max(1));
    // α^k / (1 + α) ≤ target  ⇔  k ≥ ln(target·(1+α)) / ln α
    let k = ((target * (1.0 + alpha)).ln() / alpha.ln()).ceil().max(1.0) as u64;
    (per_group + k).max(minimum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_persons_group_clears_the_threshold_with_probability_at_most_delta() {
        let noise = DiscreteLaplace::new(2, 1).unwrap();
        let (delta, groups) = (1e-6, 3);
        let tau = laplace_threshold(&noise, 1, groups, delta, 0);
        let p_clear: f64 = ((tau as i64 - 1)..200).map(|x| noise.probability(x)).sum();
        assert!(p_clear <= delta / 3.0, "P = {p_clear}");
        let p_one_less: f64 = ((tau as i64 - 2)..200).map(|x| noise.probability(x)).sum();
        assert!(p_one_less > delta / 3.0, "τ = {tau} is not the smallest");
        assert_eq!(laplace_threshold(&noise, 1, groups, delta, 100), 100);
    }
}
