//! A task's VDAF from its configuration, and sharding a client's measurement (VDAF draft 18,
//! through `prio`'s Prio3).

use prio::codec::{Encode, ParameterizedDecode};
use prio::topology::ping_pong::{PingPongContinuation, PingPongTopology};
use prio::vdaf::prio3::{Prio3Count, Prio3Histogram, Prio3MultihotCountVec, Prio3Sum, Prio3SumVec};
use prio::vdaf::{Aggregator, Client, Collector};

use crate::messages::VdafConfig;

/// What one client measures, by VDAF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measurement {
    /// Prio3Count: yes or no.
    Count(bool),
    /// Prio3Sum: an integer in [0, max_measurement].
    Sum(u64),
    /// Prio3SumVec: integers in [0, max_measurement], one per entry.
    SumVec(Vec<u128>),
    /// Prio3Histogram: the bucket, below the length.
    Histogram(usize),
    /// Prio3MultihotCountVec: which entries are set, at most max_weight of them.
    MultihotCountVec(Vec<bool>),
}

/// Why a VDAF could not be built or a measurement not sharded.
#[derive(Debug, thiserror::Error)]
pub enum VdafError {
    /// The configuration's parameters are not valid for the VDAF.
    #[error("invalid VDAF parameters: {0}")]
    Parameters(String),
    /// The measurement is of another VDAF.
    #[error("a {measurement} measurement for a {vdaf} task")]
    WrongMeasurement {
        /// The measurement's kind.
        measurement: &'static str,
        /// The task's VDAF.
        vdaf: &'static str,
    },
    /// The VDAF refused the measurement (out of range, wrong length, too many set).
    #[error("the measurement is not valid for this task: {0}")]
    Invalid(String),
    /// A share could not be encoded.
    #[error("a share could not be encoded: {0}")]
    Encoding(String),
}

/// A task's VDAF, for two aggregators.
#[derive(Debug, Clone)]
pub enum Prio3Vdaf {
    /// Prio3Count.
    Count(Prio3Count),
    /// Prio3Sum.
    Sum(Prio3Sum),
    /// Prio3SumVec.
    SumVec(Prio3SumVec),
    /// Prio3Histogram.
    Histogram(Prio3Histogram),
    /// Prio3MultihotCountVec.
    MultihotCountVec(Prio3MultihotCountVec),
}

/// What the aggregators and the collector need of a task's VDAF: one-round-trip verification
/// between two aggregators (ping-pong), aggregation with the empty aggregation parameter, and
/// unsharding to a result that [`AggregateValue`] holds. Every Prio3 variant is one.
pub trait DapVdaf:
    Aggregator<
        32,
        16,
        AggregationParam = (),
        VerifyState: Encode + for<'a> ParameterizedDecode<(&'a Self, usize)> + Send,
        OutputShare: Send,
        PublicShare: Send,
        InputShare: Send,
    > + Collector
    + PingPongTopology<32, 16, PingPongContinuation = PingPongContinuation<32, 16, Self>>
    + Send
    + Sync
    + 'static
{
    /// The aggregate result as an [`AggregateValue`].
    fn result_value(result: Self::AggregateResult) -> AggregateValue;
}

impl<V> DapVdaf for V
where
    V: Aggregator<
            32,
            16,
            AggregationParam = (),
            VerifyState: Encode + for<'a> ParameterizedDecode<(&'a V, usize)> + Send,
            OutputShare: Send,
            PublicShare: Send,
            InputShare: Send,
        > + Collector
        + PingPongTopology<32, 16, PingPongContinuation = PingPongContinuation<32, 16, V>>
        + Send
        + Sync
        + 'static,
    V::AggregateResult: Into<AggregateValue>,
{
    fn result_value(result: Self::AggregateResult) -> AggregateValue {
        result.into()
    }
}

/// Runs `$body` with `$v` bound to the concrete Prio3 VDAF inside a [`Prio3Vdaf`], so that code
/// generic over [`DapVdaf`] runs for whichever VDAF a task names.
#[macro_export]
macro_rules! with_prio3 {
    ($vdaf:expr, $v:ident => $body:expr) => {
        match $vdaf {
            $crate::vdaf::Prio3Vdaf::Count($v) => $body,
            $crate::vdaf::Prio3Vdaf::Sum($v) => $body,
            $crate::vdaf::Prio3Vdaf::SumVec($v) => $body,
            $crate::vdaf::Prio3Vdaf::Histogram($v) => $body,
            $crate::vdaf::Prio3Vdaf::MultihotCountVec($v) => $body,
        }
    };
}

/// An aggregate result: a number (Count, Sum) or one number per entry (SumVec, Histogram,
/// MultihotCountVec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateValue {
    /// Count or Sum.
    Scalar(u128),
    /// One value per entry or bucket.
    Vector(Vec<u128>),
}

impl From<u64> for AggregateValue {
    fn from(value: u64) -> Self {
        Self::Scalar(value.into())
    }
}

impl From<Vec<u128>> for AggregateValue {
    fn from(values: Vec<u128>) -> Self {
        Self::Vector(values)
    }
}

impl From<Vec<u64>> for AggregateValue {
    fn from(values: Vec<u64>) -> Self {
        Self::Vector(values.into_iter().map(u128::from).collect())
    }
}

/// The field a VDAF's shares live in: element size in bytes (little-endian) and modulus.
pub fn field_of(vdaf: &VdafConfig) -> (usize, u128) {
    use prio::field::{Field64, Field128, FieldElementWithInteger};
    match vdaf {
        VdafConfig::Prio3Count | VdafConfig::Prio3Sum { .. } => (8, u128::from(Field64::modulus())),
        _ => (16, Field128::modulus()),
    }
}

impl AggregateValue {
    /// The values as signed numbers: field integers above half the modulus are negative (a
    /// task with differential privacy can take a small total below zero).
    pub fn signed(&self, vdaf: &VdafConfig) -> Vec<i128> {
        let (_, p) = field_of(vdaf);
        self.values()
            .into_iter()
            .map(|v| {
                if v > p / 2 {
                    -((p - v) as i128)
                } else {
                    v as i128
                }
            })
            .collect()
    }

    /// The values in order (one for a scalar).
    pub fn values(&self) -> Vec<u128> {
        match self {
            Self::Scalar(v) => vec![*v],
            Self::Vector(values) => values.clone(),
        }
    }
}

/// A sharded measurement: the public share and each aggregator's input share, encoded.
#[derive(Debug, Clone)]
pub struct Shares {
    /// The public share.
    pub public_share: Vec<u8>,
    /// The leader's input share.
    pub leader: Vec<u8>,
    /// The helper's input share.
    pub helper: Vec<u8>,
}

fn size(value: impl TryInto<usize>, what: &str) -> Result<usize, VdafError> {
    value
        .try_into()
        .map_err(|_| VdafError::Parameters(format!("{what} is too large for this machine")))
}

fn shard_with<V: Client<16>>(
    vdaf: &V,
    ctx: &[u8],
    measurement: &V::Measurement,
    nonce: &[u8; 16],
) -> Result<Shares, VdafError> {
    let (public, inputs) = vdaf
        .shard(ctx, measurement, nonce)
        .map_err(|e| VdafError::Invalid(e.to_string()))?;
    let encode = |value: &dyn Fn() -> Result<Vec<u8>, prio::codec::CodecError>| {
        value().map_err(|e| VdafError::Encoding(e.to_string()))
    };
    let [leader, helper] = <[V::InputShare; 2]>::try_from(inputs)
        .map_err(|_| VdafError::Encoding("not two input shares".into()))?;
    Ok(Shares {
        public_share: encode(&|| public.get_encoded())?,
        leader: encode(&|| leader.get_encoded())?,
        helper: encode(&|| helper.get_encoded())?,
    })
}

impl Prio3Vdaf {
    /// The VDAF a task's configuration names, with its parameters.
    pub fn new(config: &VdafConfig) -> Result<Self, VdafError> {
        let invalid = |e: prio::vdaf::VdafError| VdafError::Parameters(e.to_string());
        Ok(match *config {
            VdafConfig::Prio3Count => Self::Count(Prio3Count::new_count(2).map_err(invalid)?),
            VdafConfig::Prio3Sum { max_measurement } => {
                Self::Sum(Prio3Sum::new_sum(2, max_measurement).map_err(invalid)?)
            }
            VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            } => Self::SumVec(
                Prio3SumVec::new_sum_vec(
                    2,
                    u128::from(max_measurement),
                    size(length, "length")?,
                    size(chunk_length, "chunk_length")?,
                )
                .map_err(invalid)?,
            ),
            VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            } => Self::Histogram(
                Prio3Histogram::new_histogram(
                    2,
                    size(length, "length")?,
                    size(chunk_length, "chunk_length")?,
                )
                .map_err(invalid)?,
            ),
            VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            } => Self::MultihotCountVec(
                Prio3MultihotCountVec::new_multihot_count_vec(
                    2,
                    size(length, "length")?,
                    size(max_weight, "max_weight")?,
                    size(chunk_length, "chunk_length")?,
                )
                .map_err(invalid)?,
            ),
        })
    }

    /// The VDAF's name, as the draft writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Count(_) => "Prio3Count",
            Self::Sum(_) => "Prio3Sum",
            Self::SumVec(_) => "Prio3SumVec",
            Self::Histogram(_) => "Prio3Histogram",
            Self::MultihotCountVec(_) => "Prio3MultihotCountVec",
        }
    }

    /// Shards `measurement` under the application context `ctx` with the report id as nonce.
    pub fn shard(
        &self,
        ctx: &[u8],
        measurement: &Measurement,
        nonce: &[u8; 16],
    ) -> Result<Shares, VdafError> {
        match (self, measurement) {
            (Self::Count(v), Measurement::Count(m)) => shard_with(v, ctx, m, nonce),
            (Self::Sum(v), Measurement::Sum(m)) => shard_with(v, ctx, m, nonce),
            (Self::SumVec(v), Measurement::SumVec(m)) => shard_with(v, ctx, m, nonce),
            (Self::Histogram(v), Measurement::Histogram(m)) => shard_with(v, ctx, m, nonce),
            (Self::MultihotCountVec(v), Measurement::MultihotCountVec(m)) => {
                shard_with(v, ctx, m, nonce)
            }
            (vdaf, m) => Err(VdafError::WrongMeasurement {
                measurement: match m {
                    Measurement::Count(_) => "count",
                    Measurement::Sum(_) => "sum",
                    Measurement::SumVec(_) => "sum-vector",
                    Measurement::Histogram(_) => "histogram",
                    Measurement::MultihotCountVec(_) => "multihot",
                },
                vdaf: vdaf.name(),
            }),
        }
    }
}
