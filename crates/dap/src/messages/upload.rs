//! Reports and their upload (DAP-18 §4.4.2).

use std::io::Cursor;

use prio::codec::{CodecError, Decode, Encode};

use super::basic::{ReportId, TaskId, Time, u8_enum};
use super::codec::{DapMessage, Opaque, Prefix, decode_to_end, encode_all, fields_in_order};
use super::extensions::Extensions;
use super::hpke::HpkeCiphertext;
use super::task::TaskConfiguration;

pub(crate) const PUBLIC_SHARE: Opaque = Opaque::new("public_share", Prefix::U32, 0);
const INPUT_SHARE: Opaque = Opaque::new("PlaintextInputShare.payload", Prefix::U32, 1);

/// A report's id, time and public extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMetadata {
    /// The report's id (random, 16 bytes).
    pub report_id: ReportId,
    /// When it was made, in time-precision units, rounded down.
    pub time: Time,
    /// Extensions both aggregators see.
    pub public_extensions: Extensions,
}

fields_in_order!(ReportMetadata {
    report_id: ReportId,
    time: Time,
    public_extensions: Extensions
});

/// One client's report: metadata, public share and one encrypted input share per aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Metadata.
    pub report_metadata: ReportMetadata,
    /// The VDAF public share.
    pub public_share: Vec<u8>,
    /// The leader's input share, sealed to the leader.
    pub leader_encrypted_input_share: HpkeCiphertext,
    /// The helper's input share, sealed to the helper.
    pub helper_encrypted_input_share: HpkeCiphertext,
}

fields_in_order!(Report {
    report_metadata: ReportMetadata,
    public_share: [PUBLIC_SHARE],
    leader_encrypted_input_share: HpkeCiphertext,
    helper_encrypted_input_share: HpkeCiphertext
});

/// `UploadRequest`: reports back to back, to the end of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// The reports.
    pub reports: Vec<Report>,
}

impl Encode for UploadRequest {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_all(&self.reports, bytes)
    }
}

impl Decode for UploadRequest {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            reports: decode_to_end(bytes)?,
        })
    }
}

impl DapMessage for UploadRequest {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=upload-req";
    const NAME: &'static str = "UploadRequest";
}

/// What an aggregator decrypts from its encrypted input share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaintextInputShare {
    /// Extensions only this aggregator sees.
    pub private_extensions: Extensions,
    /// The VDAF input share.
    pub payload: Vec<u8>,
}

fields_in_order!(PlaintextInputShare {
    private_extensions: Extensions,
    payload: [INPUT_SHARE]
});

/// The associated data of an input share's encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputShareAad {
    /// The task.
    pub task_id: TaskId,
    /// The task's configuration.
    pub task_configuration: TaskConfiguration,
    /// The report's metadata.
    pub report_metadata: ReportMetadata,
    /// The report's public share.
    pub public_share: Vec<u8>,
}

fields_in_order!(InputShareAad {
    task_id: TaskId,
    task_configuration: TaskConfiguration,
    report_metadata: ReportMetadata,
    public_share: [PUBLIC_SHARE]
});

u8_enum!(
    /// Why a report was not accepted or not aggregated (§4.1); `reserved(0)` is refused.
    ReportError, "report_error" {
        /// Its batch was already collected.
        BatchCollected = 1,
        /// Its id was seen before.
        ReportReplayed = 2,
        /// It was dropped.
        ReportDropped = 3,
        /// Its HPKE configuration is unknown.
        HpkeUnknownConfigId = 4,
        /// Its input share did not decrypt.
        HpkeDecryptError = 5,
        /// VDAF verification rejected it.
        VdafVerifyError = 6,
        /// It is later than the task's interval.
        TaskExpired = 7,
        /// Its input share or extensions could not be decoded.
        InvalidMessage = 8,
        /// It is too far in the future.
        ReportTooEarly = 9,
        /// It is earlier than the task's interval.
        TaskNotStarted = 10,
        /// It was sealed to an HPKE configuration the leader no longer has.
        OutdatedConfig = 11,
    }
);

/// One report the leader did not accept, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportUploadStatus {
    /// The report.
    pub id: ReportId,
    /// Why.
    pub error: ReportError,
}

fields_in_order!(ReportUploadStatus {
    id: ReportId,
    error: ReportError
});

/// `UploadErrors`: the reports of an upload that failed, in request order, to the end of the
/// body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadErrors {
    /// The failed reports.
    pub status: Vec<ReportUploadStatus>,
}

impl Encode for UploadErrors {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_all(&self.status, bytes)
    }
}

impl Decode for UploadErrors {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            status: decode_to_end(bytes)?,
        })
    }
}

impl DapMessage for UploadErrors {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=upload-errors";
    const NAME: &'static str = "UploadErrors";
}
