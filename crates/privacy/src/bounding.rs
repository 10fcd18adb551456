//! Contribution bounding: how much one person can add to an aggregate, fixed before aggregation.
//!
//! Bounds come from the agreement, never from the data. Rows beyond a person's
//! bounds are dropped (first rows kept, in input order) and values are clamped,
//! so the L1 and L2 sensitivities below hold whatever the data.

use std::collections::HashMap;
use std::hash::Hash;

/// Per-person limits, from the agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContributionBounds {
    /// Rows one person may contribute to one group.
    pub rows_per_group: u32,
    /// Rows one person may contribute in total.
    pub rows_total: u32,
    /// Groups one person may contribute to.
    pub groups: u32,
}

impl ContributionBounds {
    /// The most rows one person can contribute after bounding.
    pub fn max_rows(&self) -> u64 {
        u64::from(self.rows_total).min(u64::from(self.groups) * u64::from(self.rows_per_group))
    }

    /// L1 sensitivity of per-group sums whose values lie in `[-max_abs, max_abs]`.
    pub fn l1_sensitivity(&self, max_abs: u64) -> u64 {
        self.max_rows().saturating_mul(max_abs)
    }

    /// L2 sensitivity (rounded up to an integer) of per-group sums whose values lie in `[-max_abs, max_abs]`:
    /// the contribution is largest when it fills whole groups.
    pub fn l2_sensitivity(&self, max_abs: u64) -> u64 {
        let per_group = u128::from(self.rows_per_group) * u128::from(max_abs);
        let rows = u128::from(self.max_rows());
        let full = rows / u128::from(self.rows_per_group.max(1));
        let rest = (rows % u128::from(self.rows_per_group.max(1))) * u128::from(max_abs);
        let sum_sq = full * per_group * per_group + rest * rest;
        let root = sum_sq.isqrt();
        let root = if root * root == sum_sq {
            root
        } else {
            root + 1
        };
        u64::try_from(root).unwrap_or(u64::MAX)
    }
}

/// Which rows survive the bounds: at most `rows_per_group` per (person, group), at most
/// `groups` distinct groups and `rows_total` rows per person. Returns the kept row indices, in order.
pub fn bound_rows<P: Hash + Eq, G: Hash + Eq>(
    rows: impl IntoIterator<Item = (P, G)>,
    bounds: ContributionBounds,
) -> Vec<usize> {
    struct Person<G> {
        rows: u32,
        groups: HashMap<G, u32>,
    }
    let mut people: HashMap<P, Person<G>> = HashMap::new();
    let mut kept = Vec::new();
    for (i, (person, group)) in rows.into_iter().enumerate() {
        let p = people.entry(person).or_insert_with(|| Person {
            rows: 0,
            groups: HashMap::new(),
        });
        if p.rows >= bounds.rows_total {
            continue;
        }
        let known = p.groups.len() as u32;
        let in_group = match p.groups.get_mut(&group) {
            Some(n) => n,
            None if known < bounds.groups => p.groups.entry(group).or_insert(0),
            None => continue,
        };
        if *in_group >= bounds.rows_per_group {
            continue;
        }
        *in_group += 1;
        p.rows += 1;
        kept.push(i);
    }
    kept
}

/// Values scaled to integers: `units` per whole unit, clamped to `[lower, upper]` (in units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedPointClamp {
    /// Integer units per whole unit (e.g. 100 for cents), at most [`MAX_UNITS`].
    pub units: u64,
    /// Smallest value kept, in units.
    pub lower: i64,
    /// Largest value kept, in units.
    pub upper: i64,
}

/// Reads a decimal string as a whole number of `units` per 1, exactly (no floating point),
/// truncating digits finer than one unit toward zero. Magnitudes beyond 10¹⁹ saturate.
pub fn parse_decimal(text: &str, units: u64) -> Result<i128, DecimalError> {
    let bad = || DecimalError(text.into());
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && frac.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i128 = whole.bytes().fold(0i128, |v, b| {
        (v * 10 + i128::from(b - b'0')).min(10i128.pow(19))
    });
    let frac = &frac[..frac.len().min(20)];
    let frac_value: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    let units = i128::from(units.min(MAX_UNITS));
    let magnitude = whole * units + frac_value * units / 10i128.pow(frac.len() as u32);
    Ok(if negative { -magnitude } else { magnitude })
}

/// Largest number of units per whole unit.
pub const MAX_UNITS: u64 = 1_000_000_000;

/// A decimal value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal number (digits, an optional sign and at most one '.')")]
pub struct DecimalError(pub String);

impl FixedPointClamp {
    /// The largest absolute value a clamped value can have, in units.
    pub fn max_abs(&self) -> u64 {
        self.lower.unsigned_abs().max(self.upper.unsigned_abs())
    }

    /// Reads a decimal string exactly (no floating point), truncating digits finer than one unit
    /// toward zero, and clamps it.
    pub fn read(&self, text: &str) -> Result<i64, DecimalError> {
        Ok(self.clamp(parse_decimal(text, self.units)?))
    }

    /// Clamps an integer number of units.
    pub fn clamp(&self, units: i128) -> i64 {
        units.clamp(i128::from(self.lower), i128::from(self.upper)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: ContributionBounds = ContributionBounds {
        rows_per_group: 2,
        rows_total: 5,
        groups: 3,
    };

    #[test]
    fn one_person_with_ten_thousand_rows_is_cut_to_the_bounds() {
        let mut rows: Vec<(u32, u32)> = (0..10_000).map(|i| (7, i % 10)).collect();
        rows.push((8, 0));
        let kept = bound_rows(rows.iter().copied(), BOUNDS);
        let person7: Vec<_> = kept
            .iter()
            .filter(|&&i| rows[i].0 == 7)
            .map(|&i| rows[i].1)
            .collect();
        assert_eq!(person7.len() as u64, BOUNDS.max_rows());
        let mut per_group = HashMap::new();
        for g in &person7 {
            *per_group.entry(g).or_insert(0) += 1;
        }
        assert!(
            per_group.len() <= 3 && per_group.values().all(|&n| n <= 2),
            "{per_group:?}"
        );
        assert!(kept.contains(&10_000), "another person's row is untouched");
    }

    #[test]
    fn sensitivities_follow_the_bounds() {
        assert_eq!(BOUNDS.max_rows(), 5);
        assert_eq!(BOUNDS.l1_sensitivity(100), 500);
        // Two full groups of 2·100 and one of 100: √(200² + 200² + 100²) = 300.
        assert_eq!(BOUNDS.l2_sensitivity(100), 300);
        let counts = ContributionBounds {
            rows_per_group: 1,
            rows_total: 4,
            groups: 4,
        };
        assert_eq!(counts.l2_sensitivity(1), 2);
        assert_eq!(
            ContributionBounds {
                rows_per_group: 1,
                rows_total: 3,
                groups: 3
            }
            .l2_sensitivity(1),
            2
        );
    }

    #[test]
    fn decimals_are_read_exactly_and_clamped() {
        let cents = FixedPointClamp {
            units: 100,
            lower: 0,
            upper: 50_000,
        };
        assert_eq!(cents.read("12.34"), Ok(1234));
        assert_eq!(cents.read("12.349"), Ok(1234));
        assert_eq!(cents.read("7"), Ok(700));
        assert_eq!(cents.read(".5"), Ok(50));
        assert_eq!(cents.read("-3"), Ok(0));
        assert_eq!(cents.read("1e9"), Err(DecimalError("1e9".into())));
        assert_eq!(cents.read("99999999999999999999999999"), Ok(50_000));
        assert!(
            cents.read("").is_err() && cents.read(".").is_err() && cents.read("1.2.3").is_err()
        );
        assert_eq!(cents.max_abs(), 50_000);
    }
}
