//! The client: a measurement becomes a report, its input shares sealed to each aggregator
//! (DAP-18 §4.4.2).

use crate::hpke::{HpkeError, seal};
use crate::messages::{
    Extensions, HpkeConfig, HpkeConfigList, InputShareAad, MessageError, PlaintextInputShare,
    Report, ReportId, ReportMetadata, ReportUploadStatus, Role, TaskConfiguration, TaskId, Time,
    UploadErrors, UploadRequest, decode_all, encode, input_share_info, vdaf_context,
};
use crate::transport::{DapClient, TransportError, resource_url};
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
    /// An aggregator could not be reached or refused.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// An aggregator offers no HPKE configuration this client supports.
    #[error("{0} offers no HPKE configuration this client supports")]
    NoSupportedHpkeConfig(String),
}

/// The first configuration (in the aggregator's order of preference) from `endpoint`'s
/// `hpke_config` resource whose suite this client supports (DAP-18 §4.4.1).
pub fn fetch_hpke_config(http: &DapClient, endpoint: &str) -> Result<HpkeConfig, ClientError> {
    let url = resource_url(endpoint, "hpke_config");
    let answer = http.get(&url, None)?;
    let list: HpkeConfigList =
        decode_all(&answer.body, "HpkeConfigList").map_err(|e| TransportError::BadAnswer {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    list.0
        .into_iter()
        .find(|config| seal(config, b"", b"", b"").is_ok())
        .ok_or(ClientError::NoSupportedHpkeConfig(url))
}

/// Uploads `reports` to the task's leader in one request; returns the reports it did not
/// accept, with why (empty when all were accepted).
pub fn upload(
    http: &DapClient,
    task: &ClientTask,
    reports: Vec<Report>,
) -> Result<Vec<ReportUploadStatus>, ClientError> {
    let url = resource_url(
        &task.configuration.leader_aggregator_endpoint,
        &format!("tasks/{}/reports", task.task_id),
    );
    let body = encode(&UploadRequest { reports }, "UploadRequest")?;
    let answer = http.post::<UploadRequest>(&url, &body, None)?;
    Ok(answer
        .message::<UploadErrors>(&url)?
        .map(|errors| errors.status)
        .unwrap_or_default())
}

/// 16 bytes from the operating system's random number generator (DAP-18 §4.4.2).
fn random_report_id() -> ReportId {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("the operating system's random number generator failed");
    ReportId(id)
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
    /// The task as a client finds it: each aggregator's HPKE configuration fetched from its
    /// endpoint.
    pub fn fetch(
        http: &DapClient,
        task_id: TaskId,
        configuration: TaskConfiguration,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            leader_hpke: fetch_hpke_config(http, &configuration.leader_aggregator_endpoint)?,
            helper_hpke: fetch_hpke_config(http, &configuration.helper_aggregator_endpoint)?,
            task_id,
            configuration,
        })
    }

    /// A report of `measurement` made at `unix_seconds` (rounded down to the task's time
    /// precision), with a fresh random report id.
    pub fn report(
        &self,
        measurement: &Measurement,
        unix_seconds: u64,
    ) -> Result<Report, ClientError> {
        self.report_with_id(measurement, unix_seconds, random_report_id())
    }

    /// As [`ClientTask::report`], with a chosen report id (which must be unique and random).
    pub fn report_with_id(
        &self,
        measurement: &Measurement,
        unix_seconds: u64,
        report_id: ReportId,
    ) -> Result<Report, ClientError> {
        self.build(measurement, unix_seconds, report_id, false)
    }

    /// A report no honest client sends, for load tests and attack tests: `measurement` is
    /// sharded, then one bit of the helper's input share is flipped before sealing, as a client
    /// that bypasses the encoder could do. The shares no longer carry a valid measurement and
    /// the aggregators' proof check must reject the report.
    pub fn invalid_report(
        &self,
        measurement: &Measurement,
        unix_seconds: u64,
    ) -> Result<Report, ClientError> {
        self.build(measurement, unix_seconds, random_report_id(), true)
    }

    fn build(
        &self,
        measurement: &Measurement,
        unix_seconds: u64,
        report_id: ReportId,
        corrupt_helper_share: bool,
    ) -> Result<Report, ClientError> {
        let precision = self.configuration.time_precision;
        if precision == 0 {
            return Err(ClientError::NoTimePrecision);
        }
        let vdaf = Prio3Vdaf::new(&self.configuration.vdaf()?)?;
        let mut shares = vdaf.shard(&vdaf_context(&self.task_id), measurement, &report_id.0)?;
        if corrupt_helper_share && let Some(byte) = shares.helper.first_mut() {
            *byte ^= 1;
        }
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
