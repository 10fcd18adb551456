//! Collection: the collector's query to the leader, and aggregate shares from the helper
//! (DAP-18 §4.6, §5).

use std::io::Cursor;

use prio::codec::{CodecError, Decode, Encode};

use super::basic::{BatchId, BatchMode, Interval, TaskId};
use super::codec::{
    DapMessage, MessageError, Opaque, Prefix, decode_all, field, fields_in_order, fixed,
};
use super::extensions::Extensions;
use super::hpke::HpkeCiphertext;
use super::task::TaskConfiguration;

const CONFIG: Opaque = Opaque::new("config", Prefix::U16, 0);
const AGG_PARAM: Opaque = Opaque::new("agg_param", Prefix::U32, 0);

/// Which reports a batch holds, by batch mode: what a `Query` or `BatchSelector` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// The reports whose time falls in the interval.
    TimeInterval(Interval),
    /// In a query: the next batch the leader has ready; in a selector: that batch.
    LeaderSelected(Option<BatchId>),
}

/// Encodes `batch_mode` and the mode's config, for a query (`selector` false) or a batch
/// selector (`selector` true).
fn encode_batch(batch: &Batch, selector: bool, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
    let mut config = Vec::new();
    let mode = match batch {
        Batch::TimeInterval(interval) => {
            interval.encode(&mut config)?;
            BatchMode::TimeInterval
        }
        Batch::LeaderSelected(id) => {
            match (id, selector) {
                (Some(id), true) => id.encode(&mut config)?,
                (None, false) => {}
                _ => {
                    return Err(MessageError::Invalid {
                        field: "config",
                        problem:
                            "a leader-selected query names no batch; a batch selector names one"
                                .into(),
                    }
                    .codec());
                }
            }
            BatchMode::LeaderSelected
        }
    };
    mode.encode(bytes)?;
    CONFIG.encode(&config, bytes)
}

fn decode_batch(bytes: &mut Cursor<&[u8]>, selector: bool) -> Result<Batch, CodecError> {
    let mode = BatchMode::decode(bytes)?;
    let config = CONFIG.decode(bytes)?;
    Ok(match mode {
        BatchMode::TimeInterval => Batch::TimeInterval(
            decode_all::<Interval>(&config, "batch_interval").map_err(MessageError::codec)?,
        ),
        BatchMode::LeaderSelected if selector => Batch::LeaderSelected(Some(
            decode_all::<BatchId>(&config, "batch_id").map_err(MessageError::codec)?,
        )),
        BatchMode::LeaderSelected if config.is_empty() => Batch::LeaderSelected(None),
        BatchMode::LeaderSelected => {
            return Err(MessageError::Invalid {
                field: "config",
                problem: format!(
                    "a leader-selected query has no config, this one has {} bytes",
                    config.len()
                ),
            }
            .codec());
        }
    })
}

/// `Query`: which batch the collector asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query(pub Batch);

impl Encode for Query {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_batch(&self.0, false, bytes)
    }
}

impl Decode for Query {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self(decode_batch(bytes, false)?))
    }
}

/// `BatchSelector`: which batch an aggregate share covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSelector(pub Batch);

impl Encode for BatchSelector {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_batch(&self.0, true, bytes)
    }
}

impl Decode for BatchSelector {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self(decode_batch(bytes, true)?))
    }
}

/// `CollectionJobReq`: the collector's request for a batch's aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionJobReq {
    /// The batch.
    pub query: Query,
    /// The VDAF aggregation parameter (empty for Prio3).
    pub agg_param: Vec<u8>,
    /// Collection job extensions.
    pub extensions: Extensions,
}

fields_in_order!(CollectionJobReq {
    query: Query,
    agg_param: [AGG_PARAM],
    extensions: Extensions
});

impl DapMessage for CollectionJobReq {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=collection-job-req";
    const NAME: &'static str = "CollectionJobReq";
}

/// `CollectionJobResp`: the batch's report count, its time span and both sealed aggregate
/// shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionJobResp {
    /// Reports in the batch.
    pub report_count: u64,
    /// The smallest interval holding every report's time.
    pub interval: Interval,
    /// The leader's aggregate share, sealed to the collector.
    pub leader_encrypted_agg_share: HpkeCiphertext,
    /// The helper's aggregate share, sealed to the collector.
    pub helper_encrypted_agg_share: HpkeCiphertext,
}

fields_in_order!(CollectionJobResp {
    report_count: u64,
    interval: Interval,
    leader_encrypted_agg_share: HpkeCiphertext,
    helper_encrypted_agg_share: HpkeCiphertext
});

impl DapMessage for CollectionJobResp {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=collection-job-resp";
    const NAME: &'static str = "CollectionJobResp";
}

/// `AggregateShareReq`: the leader asks the helper for its share of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateShareReq {
    /// The collector's request, as it sent it.
    pub collection_job_req: CollectionJobReq,
    /// The batch.
    pub batch_selector: BatchSelector,
    /// Reports the leader aggregated in it.
    pub report_count: u64,
    /// XOR of SHA-256 of each of those reports' ids.
    pub checksum: [u8; 32],
}

impl Encode for AggregateShareReq {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        self.collection_job_req.encode(bytes)?;
        self.batch_selector.encode(bytes)?;
        self.report_count.encode(bytes)?;
        bytes.extend_from_slice(&self.checksum);
        Ok(())
    }
}

impl Decode for AggregateShareReq {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            collection_job_req: CollectionJobReq::decode(bytes)?,
            batch_selector: BatchSelector::decode(bytes)?,
            report_count: field(u64::decode(bytes), "report_count")?,
            checksum: fixed(bytes, "checksum")?,
        })
    }
}

impl DapMessage for AggregateShareReq {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=aggregate-share-req";
    const NAME: &'static str = "AggregateShareReq";
}

/// `AggregateShare`: the helper's share, sealed to the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateShare {
    /// The sealed share.
    pub encrypted_aggregate_share: HpkeCiphertext,
}

fields_in_order!(AggregateShare {
    encrypted_aggregate_share: HpkeCiphertext
});

impl DapMessage for AggregateShare {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=aggregate-share";
    const NAME: &'static str = "AggregateShare";
}

/// The associated data of an aggregate share's encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateShareAad {
    /// The task.
    pub task_id: TaskId,
    /// The task's configuration.
    pub task_configuration: TaskConfiguration,
    /// The collector's request.
    pub collection_job_req: CollectionJobReq,
}

fields_in_order!(AggregateShareAad {
    task_id: TaskId,
    task_configuration: TaskConfiguration,
    collection_job_req: CollectionJobReq
});
