//! Privacy-loss amounts held exactly, in millionths.
//!
//! Budgets are debited by integer arithmetic so that no rounding can let a
//! run spend more than it was allowed; an ε that is not a whole number of
//! millionths is refused rather than rounded.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Millionths in one unit of ε.
pub const MICROS_PER_UNIT: u64 = 1_000_000;

/// An ε was not acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EpsilonError {
    /// NaN or infinite.
    #[error("must be a finite number, found {0}")]
    NotFinite(f64),
    /// Zero or negative.
    #[error("must be greater than zero, found {0}")]
    NotPositive(f64),
    /// More precise than millionths.
    #[error("must be a whole number of millionths (at most 6 decimal places), found {0}")]
    TooPrecise(f64),
    /// Unreasonably large.
    #[error("must be at most 1000, found {0}")]
    TooLarge(f64),
    /// A text form could not be read.
    #[error("{0:?} is not a decimal number such as 0.5")]
    Unreadable(String),
}

/// A positive privacy-loss amount ε, in millionths.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epsilon {
    micros: u64,
}

impl Epsilon {
    /// ε from a whole number of millionths.
    pub fn from_micros(micros: u64) -> Result<Self, EpsilonError> {
        if micros == 0 {
            return Err(EpsilonError::NotPositive(0.0));
        }
        if micros > 1000 * MICROS_PER_UNIT {
            return Err(EpsilonError::TooLarge(
                micros as f64 / MICROS_PER_UNIT as f64,
            ));
        }
        Ok(Self { micros })
    }

    /// ε from a decimal written as a float (as TOML gives it).
    pub fn from_f64(value: f64) -> Result<Self, EpsilonError> {
        if !value.is_finite() {
            return Err(EpsilonError::NotFinite(value));
        }
        if value <= 0.0 {
            return Err(EpsilonError::NotPositive(value));
        }
        if value > 1000.0 {
            return Err(EpsilonError::TooLarge(value));
        }
        let scaled = value * MICROS_PER_UNIT as f64;
        let micros = scaled.round();
        if (scaled - micros).abs() > 1e-6 || micros == 0.0 {
            return Err(EpsilonError::TooPrecise(value));
        }
        Self::from_micros(micros as u64)
    }

    /// The amount in millionths.
    pub fn micros(self) -> u64 {
        self.micros
    }

    /// ε as the exact fraction `numerator / denominator` in lowest terms.
    pub fn as_fraction(self) -> (u64, u64) {
        let g = gcd(self.micros, MICROS_PER_UNIT);
        (self.micros / g, MICROS_PER_UNIT / g)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl fmt::Display for Epsilon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.micros / MICROS_PER_UNIT;
        let frac = self.micros % MICROS_PER_UNIT;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl fmt::Debug for Epsilon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ε={self}")
    }
}

impl std::str::FromStr for Epsilon {
    type Err = EpsilonError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unreadable = || EpsilonError::Unreadable(s.chars().take(40).collect());
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(unreadable());
        }
        if frac.len() > 6 {
            return Err(EpsilonError::TooPrecise(s.parse().unwrap_or(f64::NAN)));
        }
        let whole: u64 = whole.parse().map_err(|_| unreadable())?;
        let frac_micros: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().map_err(|_| unreadable())?
        };
        let micros = whole
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|w| w.checked_add(frac_micros))
            .ok_or_else(unreadable)?;
        Self::from_micros(micros)
    }
}

/// ε is written as a decimal string (`"0.5"`) so canonical bytes never depend on float formatting.
impl Serialize for Epsilon {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Epsilon {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_is_exact_in_millionths() {
        let e = Epsilon::from_f64(0.1).unwrap();
        assert_eq!(e.micros(), 100_000);
        assert_eq!(e.as_fraction(), (1, 10));
        assert_eq!(e.to_string(), "0.1");
        assert_eq!("0.1".parse::<Epsilon>().unwrap(), e);
        assert_eq!("2".parse::<Epsilon>().unwrap().to_string(), "2");
    }

    #[test]
    fn epsilon_refuses_bad_values() {
        assert!(matches!(
            Epsilon::from_f64(f64::NAN),
            Err(EpsilonError::NotFinite(_))
        ));
        assert!(matches!(
            Epsilon::from_f64(f64::INFINITY),
            Err(EpsilonError::NotFinite(_))
        ));
        assert!(matches!(
            Epsilon::from_f64(0.0),
            Err(EpsilonError::NotPositive(_))
        ));
        assert!(matches!(
            Epsilon::from_f64(-1.0),
            Err(EpsilonError::NotPositive(_))
        ));
        assert!(matches!(
            Epsilon::from_f64(1e-9),
            Err(EpsilonError::TooPrecise(_))
        ));
        assert!(matches!(
            "0.0000001".parse::<Epsilon>(),
            Err(EpsilonError::TooPrecise(_))
        ));
        assert!("-1".parse::<Epsilon>().is_err());
    }
}
