//! Optional differential privacy on aggregate shares, declared per task: each aggregator adds
//! its own discrete Laplace or Gaussian noise (from `sealroom-privacy`, where all of sealroom's
//! noise comes from) to every entry of its aggregate share before sealing it to the collector.
//!
//! Each aggregator's noise alone gives the declared guarantee, so the result stays private
//! even if the other aggregator colludes with the collector; the collector's result carries
//! both noises (twice the variance). Neighbouring batches differ in one report's measurement
//! (one replaced by another): the report count and the batch's interval are released exactly,
//! as the draft requires, so the guarantee covers the values, not a batch's size. The
//! sensitivities follow from the VDAF's parameters.

use sealroom_dap::messages::VdafConfig;
use sealroom_dap::vdaf::field_of;
use sealroom_privacy::{Mechanism, MechanismError, MechanismKind, NoiseRng};
use serde::{Deserialize, Serialize};

/// A task's differential-privacy terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskNoise {
    /// `laplace` (pure ε-DP, sized by L1 sensitivity) or `gaussian` (zCDP converted to
    /// (ε, δ), sized by L2 sensitivity).
    pub mechanism: NoiseKind,
    /// ε as a fraction `numerator / denominator`.
    pub epsilon: (u64, u64),
    /// δ, for the Gaussian.
    #[serde(default)]
    pub delta: f64,
}

/// Which noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// Discrete Laplace.
    Laplace,
    /// Discrete Gaussian.
    Gaussian,
}

/// Why noise could not be added.
#[derive(Debug, thiserror::Error)]
pub enum NoiseError {
    /// The terms cannot size a distribution.
    #[error("the task's noise cannot be sized: {0}")]
    Size(#[from] MechanismError),
    /// The share is not a whole number of field elements.
    #[error("an aggregate share of {0} bytes is not a vector of field elements")]
    Shape(usize),
}

/// L1 and L2 sensitivity of the aggregate when one report's measurement is replaced by
/// another under `vdaf` (L2 rounded up to a whole number).
pub fn sensitivities(vdaf: &VdafConfig) -> (u64, u64) {
    let root = |x: u64| (x as f64).sqrt().ceil() as u64;
    match *vdaf {
        VdafConfig::Prio3Count => (1, 1),
        // One bucket loses a report and another gains it.
        VdafConfig::Prio3Histogram { .. } => (2, root(2)),
        VdafConfig::Prio3Sum { max_measurement } => (max_measurement, max_measurement),
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            ..
        } => (
            u64::from(length).saturating_mul(max_measurement),
            root(u64::from(length)).saturating_mul(max_measurement),
        ),
        // Up to max_weight entries clear and as many others set (never more than the length).
        VdafConfig::Prio3MultihotCountVec {
            length, max_weight, ..
        } => {
            let changed = max_weight.saturating_mul(2).min(u64::from(length));
            (changed, root(changed))
        }
    }
}

impl TaskNoise {
    /// The distribution each aggregator draws from for `vdaf`.
    pub fn mechanism(&self, vdaf: &VdafConfig) -> Result<Mechanism, NoiseError> {
        let (l1, l2) = sensitivities(vdaf);
        let kind = match self.mechanism {
            NoiseKind::Laplace => MechanismKind::Laplace,
            NoiseKind::Gaussian => MechanismKind::Gaussian,
        };
        Ok(Mechanism::size(kind, self.epsilon, self.delta, l1, l2)?)
    }

    /// Adds one draw to every entry of an encoded aggregate share of `vdaf` (entries are field
    /// elements, little-endian; the addition is modulo the field's prime).
    pub fn add_to_share(
        &self,
        vdaf: &VdafConfig,
        share: &mut [u8],
        rng: &mut NoiseRng,
    ) -> Result<(), NoiseError> {
        let mechanism = self.mechanism(vdaf)?;
        add_noise(vdaf, share, || mechanism.sample(rng))
    }
}

/// `x + n mod p` for `x < p`, without overflow.
fn add_mod(x: u128, n: i64, p: u128) -> u128 {
    let m = u128::from(n.unsigned_abs()) % p;
    if n >= 0 {
        if x >= p - m { x - (p - m) } else { x + m }
    } else if x >= m {
        x - m
    } else {
        p - (m - x)
    }
}

fn add_noise(
    vdaf: &VdafConfig,
    share: &mut [u8],
    mut draw: impl FnMut() -> i64,
) -> Result<(), NoiseError> {
    let (size, p) = field_of(vdaf);
    if !share.len().is_multiple_of(size) {
        return Err(NoiseError::Shape(share.len()));
    }
    for element in share.chunks_mut(size) {
        let mut bytes = [0u8; 16];
        bytes[..size].copy_from_slice(element);
        let x = u128::from_le_bytes(bytes);
        if x >= p {
            return Err(NoiseError::Shape(element.len()));
        }
        let y = add_mod(x, draw(), p).to_le_bytes();
        element.copy_from_slice(&y[..size]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prio::field::{Field64, Field128, FieldElementWithInteger};
    use sealroom_dap::vdaf::AggregateValue;

    #[test]
    fn noise_is_added_modulo_the_fields_prime_and_read_back_signed() {
        let count = VdafConfig::Prio3Count;
        let mut share = 5u64.to_le_bytes().to_vec();
        let mut draws = [-7i64].into_iter();
        add_noise(&count, &mut share, || draws.next().unwrap()).unwrap();
        let value = u64::from_le_bytes(share.clone().try_into().unwrap());
        assert_eq!(u128::from(value), u128::from(Field64::modulus()) - 2);
        assert_eq!(
            AggregateValue::Scalar(value.into()).signed(&count),
            vec![-2]
        );

        let histogram = VdafConfig::Prio3Histogram {
            length: 2,
            chunk_length: 1,
        };
        let p = Field128::modulus();
        let mut share = [(p - 1).to_le_bytes(), 3u128.to_le_bytes()].concat();
        let mut draws = [2i64, -3].into_iter();
        add_noise(&histogram, &mut share, || draws.next().unwrap()).unwrap();
        assert_eq!(u128::from_le_bytes(share[..16].try_into().unwrap()), 1);
        assert_eq!(u128::from_le_bytes(share[16..].try_into().unwrap()), 0);
        assert!(add_noise(&histogram, &mut [0u8; 17], || 0).is_err());
    }

    #[test]
    fn sensitivities_follow_the_vdaf_parameters() {
        assert_eq!(sensitivities(&VdafConfig::Prio3Count), (1, 1));
        assert_eq!(
            sensitivities(&VdafConfig::Prio3SumVec {
                length: 4,
                max_measurement: 10,
                chunk_length: 2
            }),
            (40, 20)
        );
        assert_eq!(
            sensitivities(&VdafConfig::Prio3MultihotCountVec {
                length: 10,
                chunk_length: 3,
                max_weight: 3
            }),
            (6, 3)
        );
        assert_eq!(
            sensitivities(&VdafConfig::Prio3Histogram {
                length: 10,
                chunk_length: 3
            }),
            (2, 2)
        );
    }
}
