//! Aggregation jobs, leader to helper (DAP-18 §4.5).

use std::io::Cursor;

use prio::codec::{CodecError, Decode, Encode};

use super::basic::{ReportId, u8_enum};
use super::codec::{
    DapMessage, MessageError, Opaque, Prefix, decode_to_end, encode_all, field, fields_in_order,
};
use super::extensions::Extensions;
use super::hpke::HpkeCiphertext;
use super::upload::{PUBLIC_SHARE, ReportError, ReportMetadata};

const AGG_PARAM: Opaque = Opaque::new("agg_param", Prefix::U32, 0);
const PING_PONG: Opaque = Opaque::new("payload", Prefix::U32, 1);

/// A report as the helper receives it: metadata, public share and its own sealed input share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportShare {
    /// Metadata.
    pub report_metadata: ReportMetadata,
    /// The VDAF public share.
    pub public_share: Vec<u8>,
    /// The helper's input share, sealed to the helper.
    pub encrypted_input_share: HpkeCiphertext,
}

fields_in_order!(ReportShare {
    report_metadata: ReportMetadata,
    public_share: [PUBLIC_SHARE],
    encrypted_input_share: HpkeCiphertext
});

/// One report of a new aggregation job with the leader's first verification message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyInit {
    /// The report.
    pub report_share: ReportShare,
    /// The leader's first ping-pong message.
    pub payload: Vec<u8>,
}

fields_in_order!(VerifyInit {
    report_share: ReportShare,
    payload: [PING_PONG]
});

/// `AggregationJobInitReq`: a new aggregation job; its reports run to the end of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationJobInitReq {
    /// Which verification key of the task.
    pub verification_key_id: u8,
    /// The VDAF aggregation parameter (empty for Prio3).
    pub agg_param: Vec<u8>,
    /// Aggregation job extensions (the batch id in the leader-selected mode).
    pub extensions: Extensions,
    /// The reports.
    pub verify_inits: Vec<VerifyInit>,
}

impl Encode for AggregationJobInitReq {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        self.verification_key_id.encode(bytes)?;
        AGG_PARAM.encode(&self.agg_param, bytes)?;
        self.extensions.encode(bytes)?;
        encode_all(&self.verify_inits, bytes)
    }
}

impl Decode for AggregationJobInitReq {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            verification_key_id: field(u8::decode(bytes), "verification_key_id")?,
            agg_param: AGG_PARAM.decode(bytes)?,
            extensions: Extensions::decode(bytes)?,
            verify_inits: decode_to_end(bytes)?,
        })
    }
}

impl DapMessage for AggregationJobInitReq {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=aggregation-job-init-req";
    const NAME: &'static str = "AggregationJobInitReq";
}

u8_enum!(
    /// Which kind of answer a `VerifyResp` is.
    VerifyRespType, "verify_resp_type" {
        /// Verification goes on; a message follows.
        Continue = 0,
        /// Verification finished.
        Finish = 1,
        /// The report was rejected.
        Reject = 2,
    }
);

/// The helper's answer for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyResult {
    /// Verification goes on with this ping-pong message.
    Continue(Vec<u8>),
    /// Verification finished.
    Finish,
    /// The report was rejected, for this reason.
    Reject(ReportError),
}

/// `VerifyResp`: the helper's answer for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyResp {
    /// The report.
    pub report_id: ReportId,
    /// The answer.
    pub result: VerifyResult,
}

impl Encode for VerifyResp {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        self.report_id.encode(bytes)?;
        match &self.result {
            VerifyResult::Continue(payload) => {
                VerifyRespType::Continue.encode(bytes)?;
                PING_PONG.encode(payload, bytes)
            }
            VerifyResult::Finish => VerifyRespType::Finish.encode(bytes),
            VerifyResult::Reject(error) => {
                VerifyRespType::Reject.encode(bytes)?;
                error.encode(bytes)
            }
        }
    }
}

impl Decode for VerifyResp {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let report_id = ReportId::decode(bytes)?;
        let result = match VerifyRespType::decode(bytes)? {
            VerifyRespType::Continue => VerifyResult::Continue(PING_PONG.decode(bytes)?),
            VerifyRespType::Finish => VerifyResult::Finish,
            VerifyRespType::Reject => VerifyResult::Reject(ReportError::decode(bytes)?),
        };
        Ok(Self { report_id, result })
    }
}

/// `AggregationJobResp`: one answer per report, in request order, to the end of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationJobResp {
    /// The answers.
    pub verify_resps: Vec<VerifyResp>,
}

impl Encode for AggregationJobResp {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        encode_all(&self.verify_resps, bytes)
    }
}

impl Decode for AggregationJobResp {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Self {
            verify_resps: decode_to_end(bytes)?,
        })
    }
}

impl DapMessage for AggregationJobResp {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=aggregation-job-resp";
    const NAME: &'static str = "AggregationJobResp";
}

/// The leader's next verification message for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyContinue {
    /// The report.
    pub report_id: ReportId,
    /// The ping-pong message.
    pub payload: Vec<u8>,
}

fields_in_order!(VerifyContinue {
    report_id: ReportId,
    payload: [PING_PONG]
});

/// `AggregationJobContinueReq`: the next step of a job; step 0 is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationJobContinueReq {
    /// The step, from 1.
    pub step: u16,
    /// One message per report still verifying, to the end of the body.
    pub verify_continues: Vec<VerifyContinue>,
}

impl Encode for AggregationJobContinueReq {
    fn encode(&self, bytes: &mut Vec<u8>) -> Result<(), CodecError> {
        self.step.encode(bytes)?;
        encode_all(&self.verify_continues, bytes)
    }
}

impl Decode for AggregationJobContinueReq {
    fn decode(bytes: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let step = field(u16::decode(bytes), "step")?;
        if step == 0 {
            return Err(MessageError::Invalid {
                field: "step",
                problem: "a continuation's step is at least 1".into(),
            }
            .codec());
        }
        Ok(Self {
            step,
            verify_continues: decode_to_end(bytes)?,
        })
    }
}

impl DapMessage for AggregationJobContinueReq {
    const MEDIA_TYPE: &'static str = "application/ppm-dap;message=aggregation-job-continue-req";
    const NAME: &'static str = "AggregationJobContinueReq";
}
