//! The client: a measurement becomes a report, its input shares sealed to each aggregator
//! (DAP-18 §4.4.2).

use crate::hpke::{HpkeError, seal};
use crate::messages::{
    Extensions, HpkeConfig, InputShareAad, MessageError, PlaintextInputShare, Report, ReportId,
    ReportMetadata, Role, TaskConfiguration, TaskId, Time, encode, input_share_info, vdaf_context,
};
use crate::vdaf::{Measurement, Prio3Vdaf, VdafError};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The task's configuration is malformed.
    #[error("the task configuration: {0}")]
    Task(#[from] MessageError),
    /// The VDAF refused the measurement or its parameters.
    #[error(transparent)]
    Vdaf(#[from] VdafError),
    /// Sealing a share failed (e.g. an aggregator's HPKE configuration is unsupported).
    #[error("sealing an input share: {0}")]
    Hpke(#[from] HpkeError),
    /// The task's time precision is zero.
    #[error("the task's time_precision is zero")]
    NoTimePrecision,
}

/// What a client knows of a task: its id and configuration, and each aggregator's HPKE
/// configuration (as fetched from its `hpke_config` endpoint).
#[derive(Debug, Clone)]
pub struct ClientTask {
    /// The task id.
    pub task_id: TaskId,
    /// The task configuration.
    pub configuration: TaskConfiguration,
    /// The leader's HPKE configuration.
    pub leader_hpke: HpkeConfig,
    /// The helper's HPKE configuration.
    pub helper_hpke: HpkeConfig,
}

impl ClientTask {
    /// A report of `measurement` made at `unix_seconds` (rounded down to the task's time
    /// precision), with a fresh random report id.
    pub fn report(
        &self,
        measurement: &Measurement,
        unix_seconds: u64,
    ) -> Result<Report, ClientError> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).expect("the operating system's random number generator failed");
        self.report_with_id(measurement, unix_seconds, ReportId(id))
    }

    /// As [`ClientTask::report`], with a chosen report id (which must be unique and random).
    pub fn report_with_id(
        &self,
        measurement: &Measurement,
        unix_seconds: u64,
        report_id: ReportId,
    ) -> Result<Report, ClientError> {
        let precision = self.configuration.time_precision;
        if precision == 0 {
            return Err(ClientError::NoTimePrecision);
        }
        let vdaf = Prio3Vdaf::new(&self.configuration.vdaf()?)?;
        let shares = vdaf.shard(&vdaf_context(&self.task_id), measurement, &report_id.0)?;
        let report_metadata = ReportMetadata {
            report_id,
            time: Time(unix_seconds / precision),
            public_extensions: Extensions::default(),
        };
        let aad = encode(
            &InputShareAad {
                task_id: self.task_id,
                task_configuration: self.configuration.clone(),
                report_metadata: report_metadata.clone(),
                public_share: shares.public_share.clone(),
            },
            "InputShareAad",
        )?;
        let sealed = |config: &HpkeConfig, role: Role, payload: Vec<u8>| {
            let plaintext = encode(
                &PlaintextInputShare {
                    private_extensions: Extensions::default(),
                    payload,
                },
                "PlaintextInputShare",
            )?;
            Ok::<_, ClientError>(seal(config, &input_share_info(role), &aad, &plaintext)?)
        };
        Ok(Report {
            leader_encrypted_input_share: sealed(&self.leader_hpke, Role::Leader, shares.leader)?,
            helper_encrypted_input_share: sealed(&self.helper_hpke, Role::Helper, shares.helper)?,
            report_metadata,
            public_share: shares.public_share,
        })
    }
}
