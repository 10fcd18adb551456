//! Every DAP-18 message in its TLS presentation-language encoding (DAP-18 §4, §5), with the
//! media types of those carried as HTTP bodies.
//!
//! Decoding is strict: a message must use every byte, length prefixes must fit, vectors must
//! meet the draft's lower bounds, and enumerations refuse values the draft does not define.
//! Extension lists keep their types as numbers: their order is checked by
//! [`Extensions::check_order`], and which types a role understands is for that role.

mod aggregate;
mod basic;
mod codec;
mod collect;
mod extensions;
mod hpke;
mod task;
mod upload;

#[cfg(test)]
mod tests;

pub use aggregate::{
    AggregationJobContinueReq, AggregationJobInitReq, AggregationJobResp, ReportShare,
    VerifyContinue, VerifyInit, VerifyResp, VerifyRespType, VerifyResult,
};
pub use basic::{BatchId, BatchMode, Duration, Interval, ReportId, Role, TaskId, Time};
pub use codec::{DapMessage, MessageError, decode_all, encode};
pub use collect::{
    AggregateShare, AggregateShareAad, AggregateShareReq, Batch, BatchSelector, CollectionJobReq,
    CollectionJobResp, Query,
};
pub use extensions::{Extension, Extensions, LEADER_SELECTED_BATCH_ID, TASK_INTERVAL};
pub use hpke::{HpkeCiphertext, HpkeConfig, HpkeConfigList};
pub use task::{TaskConfiguration, VdafConfig};
pub use upload::{
    InputShareAad, PlaintextInputShare, Report, ReportError, ReportMetadata, ReportUploadStatus,
    UploadErrors, UploadRequest,
};

/// The draft's label in domain-separation strings ("dap" once published).
pub const DRAFT_LABEL: &str = "dap-18";

/// HPKE `info` for an input share sealed by a client to `server` (§4.4.2.1):
/// `"dap-18 input share" || 0x01 || server`.
pub fn input_share_info(server: Role) -> Vec<u8> {
    let mut info = format!("{DRAFT_LABEL} input share").into_bytes();
    info.extend([Role::Client as u8, server as u8]);
    info
}

/// HPKE `info` for an aggregate share sealed by `server` to the collector (§4.6.7):
/// `"dap-18 aggregate share" || server || 0x00`.
pub fn aggregate_share_info(server: Role) -> Vec<u8> {
    let mut info = format!("{DRAFT_LABEL} aggregate share").into_bytes();
    info.extend([server as u8, Role::Collector as u8]);
    info
}

/// The VDAF application context of a task: `"dap-18" || task_id`.
pub fn vdaf_context(task: &TaskId) -> Vec<u8> {
    let mut context = DRAFT_LABEL.as_bytes().to_vec();
    context.extend(task.0);
    context
}
