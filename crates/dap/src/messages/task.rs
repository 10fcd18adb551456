//! A task's configuration as the draft encodes it (DAP-18 §4.2, Appendix B): it is never sent
//! alone, but both HPKE AADs include it, so both aggregators and the collector must hold the
//! same bytes.

use std::io::Cursor;

use prio::codec::{CodecError, Decode, Encode};

use super::basic::{BatchMode, Interval};
use super::codec::{MessageError, Opaque, Prefix, decode_all, field};
use super::extensions::{Extensions, TASK_INTERVAL};

const TASK_INFO: Opaque = Opaque::new("task_info", Prefix::U8, 1);
const LEADER_URL: Opaque = Opaque::new("leader_aggregator_endpoint", Prefix::U16, 1);
const HELPER_URL: Opaque = Opaque::new("helper_aggregator_endpoint", Prefix::U16, 1);
const BATCH_CONFIG: Opaque = Opaque::new("batch_config", Prefix::U16, 0);
const VDAF_CONFIGURATION: Opaque = Opaque::new("vdaf_configuration", Prefix::U16, 0);

/// What the task computes, with the parameters the draft encodes for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VdafConfig {
    /// Prio3Count (0x00000001): counts of true measurements.
    Prio3Count,
    /// Prio3Sum (0x00000002): sums of integers in [0, max_measurement].
    Prio3Sum {
        /// The largest measurement.
        max_measurement: u64,
    },
    /// Prio3SumVec (0x00000003): sums of vectors of integers in [0, max_measurement].
    Prio3SumVec {
        /// Vector length.
        length: u32,
        /// The largest entry.
        max_measurement: u64,
        /// Proof chunk length.
        chunk_length: u32,
    },
    /// Prio3Histogram (0x00000004): counts per bucket, one bucket per measurement.
    Prio3Histogram {
        /// Buckets.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
    },
    /// Prio3MultihotCountVec (0x00000005): counts per entry, at most max_weight entries set.
    Prio3MultihotCountVec {
        /// Vector length.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
        /// The most entries one measurement may set.
        max_weight: u64,
    },
}

impl VdafConfig {
    /// The VDAF's identifier (VDAF draft §10).
    pub fn vdaf_type(&self) -> u32 {
        match self {
            Self::Prio3Count => 1,
            Self::Prio3Sum { .. } => 2,
            Self::Prio3SumVec { .. } => 3,
            Self::Prio3Histogram { .. } => 4,
            Self::Prio3MultihotCountVec { .. } => 5,
        }
    }

    /// Its `vdaf_configuration` bytes (Appendix B).
    pub fn configuration(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        match *self {
            Self::Prio3Count => {}
            Self::Prio3Sum { max_measurement } => bytes.extend(max_measurement.to_be_bytes()),
            Self::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            } => {
                bytes.extend(length.to_be_bytes());
                bytes.extend(max_measurement.to_be_bytes());
                bytes.extend(chunk_length.to_be_bytes());
            }
            Self::Prio3Histogram {
                length,
                chunk_length,
            } => {
                bytes.extend(length.to_be_bytes());
                bytes.extend(chunk_length.to_be_bytes());
            }
            Self::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            } => {
                bytes.extend(length.to_be_bytes());
                bytes.extend(chunk_length.to_be_bytes());
                bytes.extend(max_weight.to_be_bytes());
            }
        }
        bytes
    }

    /// Reads a VDAF type and its configuration bytes.
    pub fn parse(vdaf_type: u32, configuration: &[u8]) -> Result<Self, MessageError> {
        let expected = match vdaf_type {
            1 => 0,
            2 | 4 => 8,
            3 | 5 => 16,
            // Poplar1 (registered, Appendix B.6) and the private-use range: defined, but not
            // implemented here.
            6 | 0xFFFF_0000.. => {
                return Err(MessageError::Unsupported {
                    field: "vdaf_type",
                    value: u64::from(vdaf_type),
                });
            }
            other => {
                return Err(MessageError::UnknownValue {
                    field: "vdaf_type",
                    value: u64::from(other),
                });
            }
        };
        if configuration.len() != expected {
            return Err(MessageError::Invalid {
                field: "vdaf_configuration",
                problem: format!(
                    "{} bytes for VDAF {vdaf_type:#010x}, which takes {expected}",
                    configuration.len()
                ),
            });
        }
        let c = configuration;
        let be32 = |at: usize| u32::from_be_bytes([c[at], c[at + 1], c[at + 2], c[at + 3]]);
        let be64 = |at: usize| (u64::from(be32(at)) << 32) | u64::from(be32(at + 4));
        Ok(match vdaf_type {
            1 => Self::Prio3Count,
            2 => Self::Prio3Sum {
                max_measurement: be64(0),
            },
            3 => Self::Prio3SumVec {
                length: be32(0),
                max_measurement: be64(4),
                chunk_length: be32(12),
            },
            4 => Self::Prio3Histogram {
                length: be32(0),
                chunk_length: be32(4),
            },
            _ => Self::Prio3MultihotCountVec {
                length: be32(0),
                chunk_length: be32(4),
                max_weight: be64(8),
            },
        })
    }
}

/// `TaskConfiguration` (§4.2): fields kept as the draft encodes them, so that the AADs built
/// from it match byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskConfiguration {
    /// Opaque information about the task, 1–255 bytes.
    pub task_info: Vec<u8>,
    /// The leader's URL.
    pub leader_aggregator_endpoint: String,
    /// The helper's URL.
    pub helper_aggregator_endpoint: String,
    /// Seconds per time unit.
    pub time_precision: u64,
    /// The fewest reports a batch may hold.
    pub min_batch_size: u64,
    /// How batches are formed.
    pub batch_mode: BatchMode,
    /// Batch mode parameters (empty for both modes of the draft).
    pub batch_config: Vec<u8>,
    /// The VDAF's identifier.
    pub vdaf_type: u32,
    /// Its parameters (Appendix B).
    pub vdaf_configuration: Vec<u8>,
    /// Task extensions, in increasing order of type.
    pub extensions: Extensions,
}

impl TaskConfiguration {
    /// The VDAF with its parameters.
    pub fn vdaf(&self) -> Result<VdafConfig, MessageError> {
        VdafConfig::parse(self.vdaf_type, &self.vdaf_configuration)
    }

    /// The task's interval, from its `task_interval` extension, if it has one.
    pub fn task_interval(&self) -> Result<Option<Interval>, MessageError> {
        self.extensions
            .get(TASK_INTERVAL)
            .map(|data| decode_all::<Interval>(data, "task_interval"))
            .transpose()
    }
}

fn encode_url(url: &str, opaque: Opaque, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
    if !url.is_ascii() {
        return Err(MessageError::Invalid {
            field: opaque.name,
            problem: "a URL must be ASCII".into(),
        }
        .codec());
    }
    opaque.encode(url.as_bytes(), bytes)
}

fn decode_url(opaque: Opaque, bytes: &mut Cursor<&[u8]>) -> Result<String, CodecError> {
    let raw = opaque.decode(bytes)?;
    match String::from_utf8(raw) {
        Ok(url) if url.is_ascii() => Ok(url),
        _ => Err(MessageError::Invalid {
            field: opaque.name,
            problem: "a URL must be ASCII".into(),
        }
        .codec()),
    }
}

impl Encode for TaskConfiguration {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        TASK_INFO.encode(&self.task_info, bytes)?;
        encode_url(&self.leader_aggregator_endpoint, LEADER_URL, bytes)?;
        encode_url(&self.helper_aggregator_endpoint, HELPER_URL, bytes)?;
        self.time_precision.encode(bytes)?;
        self.min_batch_size.encode(bytes)?;
        self.batch_mode.encode(bytes)?;
        BATCH_CONFIG.encode(&self.batch_config, bytes)?;
        self.vdaf_type.encode(bytes)?;
        VDAF_CONFIGURATION.encode(&self.vdaf_configuration, bytes)?;
        self.extensions.encode(bytes)
    }
}

impl Decode for TaskConfiguration {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            task_info: TASK_INFO.decode(bytes)?,
            leader_aggregator_endpoint: decode_url(LEADER_URL, bytes)?,
            helper_aggregator_endpoint: decode_url(HELPER_URL, bytes)?,
            time_precision: field(u64::decode(bytes), "time_precision")?,
            min_batch_size: field(u64::decode(bytes), "min_batch_size")?,
            batch_mode: BatchMode::decode(bytes)?,
            batch_config: {
                // Empty for both batch modes of the draft (§4.2).
                let config = BATCH_CONFIG.decode(bytes)?;
                if !config.is_empty() {
                    return Err(MessageError::Invalid {
                        field: "batch_config",
                        problem: format!("{} bytes where the draft has none", config.len()),
                    }
                    .codec());
                }
                config
            },
            vdaf_type: field(u32::decode(bytes), "vdaf_type")?,
            vdaf_configuration: VDAF_CONFIGURATION.decode(bytes)?,
            extensions: Extensions::decode(bytes)?,
        })
    }
}
