//! Exact integer sampling primitives.

use rand_core::Rng;

/// A uniform integer in `0..n` (n > 0), by rejection: exact, no modulo bias.
pub fn uniform_below(rng: &mut impl Rng, n: u64) -> u64 {
    assert!(n > 0, "uniform_below needs a positive bound");
    // Accept only draws below the largest multiple of n that fits in u64.
    let zone = u64::MAX - (u64::MAX - n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// A uniform integer in `0..n` (n > 0) for bounds beyond 64 bits; the 64-bit path when `n` fits.
pub fn uniform_below_u128(rng: &mut impl Rng, n: u128) -> u128 {
    assert!(n > 0, "uniform_below needs a positive bound");
    if let Ok(small) = u64::try_from(n) {
        return u128::from(uniform_below(rng, small));
    }
    let zone = u128::MAX - (u128::MAX - n + 1) % n;
    loop {
        let x = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        if x <= zone {
            return x % n;
        }
    }
}

/// `true` with probability exactly `num / den` (0 ≤ num ≤ den, den > 0).
pub fn bernoulli(rng: &mut impl Rng, num: u128, den: u128) -> bool {
    debug_assert!(num <= den);
    uniform_below_u128(rng, den) < num
}

/// `true` with probability exactly `exp(-num / den)` (den > 0). CKS Algorithm 1.
pub fn bernoulli_exp_minus(rng: &mut impl Rng, num: u128, den: u128) -> bool {
    let whole = num / den;
    let mut i = 0;
    while i < whole {
        if !bernoulli_exp_minus_at_most_one(rng, 1, 1) {
            return false;
        }
        i += 1;
    }
    bernoulli_exp_minus_at_most_one(rng, num % den, den)
}

/// exp(-γ) for γ = num/den ≤ 1: draw A_k ~ Bernoulli(γ/k) until one fails; the index is odd with probability exp(-γ).
fn bernoulli_exp_minus_at_most_one(rng: &mut impl Rng, num: u128, den: u128) -> bool {
    let mut k: u128 = 1;
    loop {
        let den_k = den
            .checked_mul(k)
            .expect("Bernoulli(exp) denominator overflow");
        if !bernoulli(rng, num, den_k) {
            return k % 2 == 1;
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::NoiseRng;

    #[test]
    fn uniform_below_covers_the_range_evenly() {
        let mut rng = NoiseRng::from_test_seed(1);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[uniform_below(&mut rng, 7) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_400..10_600).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn bernoulli_exp_matches_exp() {
        let mut rng = NoiseRng::from_test_seed(2);
        for (num, den) in [(1u128, 2u128), (3, 2), (5, 1)] {
            let n = 200_000;
            let hits = (0..n)
                .filter(|_| bernoulli_exp_minus(&mut rng, num, den))
                .count() as f64;
            let p = (-(num as f64) / den as f64).exp();
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            assert!((hits / n as f64 - p).abs() < 5.0 * sd, "exp(-{num}/{den})");
        }
    }
}
