//! What an aggregator knows of a task: the configuration every party agreed on, plus the secrets
//! only the aggregators hold (the VDAF verification key, the bearer tokens) and the collector's
//! HPKE configuration (DAP-18 §4.2).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealroom_dap::messages::{
    HpkeConfig, MessageError, Role, TaskConfiguration, TaskId, decode_all, encode,
};
use sealroom_dap::vdaf::{Prio3Vdaf, VdafError};
use serde::{Deserialize, Serialize};

use crate::noise::TaskNoise;

/// Reports older than this (seconds) are dropped unless a task says otherwise: one week.
pub const DEFAULT_REPORT_EXPIRY_AGE: u64 = 7 * 24 * 3600;

/// How far (seconds) a report's time may run ahead of the aggregator's clock.
pub const CLOCK_SKEW: u64 = 300;

/// A task as one aggregator holds it.
#[derive(Clone)]
pub struct AggregatorTask {
    /// The task id.
    pub task_id: TaskId,
    /// This aggregator's role (leader or helper).
    pub role: Role,
    /// The configuration clients, aggregators and collector agreed on.
    pub configuration: TaskConfiguration,
    /// The VDAF verification key the two aggregators share.
    pub vdaf_verify_key: [u8; 32],
    /// The collector's HPKE configuration: aggregate shares are sealed to it.
    pub collector_hpke_config: HpkeConfig,
    /// The bearer token the leader presents to the helper.
    pub aggregator_auth_token: String,
    /// The bearer token the collector presents to the leader (leader only).
    pub collector_auth_token: Option<String>,
    /// Reports older than this many seconds are dropped (`report_dropped`).
    pub report_expiry_age: u64,
    /// Differential privacy on aggregate shares, if the task declares it.
    pub noise: Option<TaskNoise>,
}

impl std::fmt::Debug for AggregatorTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregatorTask")
            .field("task_id", &self.task_id)
            .field("role", &self.role)
            .field("configuration", &self.configuration)
            .finish_non_exhaustive()
    }
}

/// Why a task could not be read or is not usable.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Not the expected JSON.
    #[error("task JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field is not what it must be.
    #[error("task field {field}: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// An encoded message inside it is malformed.
    #[error("task: {0}")]
    Message(#[from] MessageError),
    /// Its VDAF cannot be built.
    #[error("task: {0}")]
    Vdaf(#[from] VdafError),
}

/// The stored (and `sealroom dap task show`) form: binary fields as unpadded URL-safe base64,
/// messages in their DAP encoding.
#[derive(Serialize, Deserialize)]
struct TaskJson {
    task_id: String,
    role: String,
    configuration: String,
    vdaf_verify_key: String,
    collector_hpke_config: String,
    aggregator_auth_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    collector_auth_token: Option<String>,
    report_expiry_age: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    differential_privacy: Option<TaskNoise>,
}

fn b64(field: &'static str, text: &str) -> Result<Vec<u8>, TaskError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|e| TaskError::Field {
        field,
        problem: format!("not unpadded URL-safe base64: {e}"),
    })
}

impl AggregatorTask {
    /// The task's VDAF, checking its parameters.
    pub fn vdaf(&self) -> Result<Prio3Vdaf, TaskError> {
        Ok(Prio3Vdaf::new(&self.configuration.vdaf()?)?)
    }

    /// Checks what an aggregator needs of a task before accepting it.
    pub fn validate(&self) -> Result<(), TaskError> {
        let field = |field, problem: &str| TaskError::Field {
            field,
            problem: problem.into(),
        };
        self.vdaf()?;
        if let Some(noise) = &self.noise {
            noise
                .mechanism(&self.configuration.vdaf()?)
                .map_err(|e| field("differential_privacy", &e.to_string()))?;
        }
        if self.configuration.time_precision == 0 {
            return Err(field("time_precision", "must be at least one second"));
        }
        if self.configuration.min_batch_size == 0 {
            return Err(field("min_batch_size", "must be at least one report"));
        }
        let unknown = self
            .configuration
            .extensions
            .unknown(&[sealroom_dap::messages::TASK_INTERVAL]);
        if !unknown.is_empty() {
            return Err(field("extensions", &format!("unknown types {unknown:?}")));
        }
        self.configuration.extensions.check_order()?;
        self.configuration.task_interval()?;
        let usable = |token: &str| !token.is_empty() && token.trim() == token;
        if !usable(&self.aggregator_auth_token) {
            return Err(field(
                "aggregator_auth_token",
                "must be non-empty, without surrounding white space",
            ));
        }
        if let Some(token) = &self.collector_auth_token
            && !usable(token)
        {
            return Err(field(
                "collector_auth_token",
                "must be non-empty, without surrounding white space",
            ));
        }
        match self.role {
            Role::Leader if self.collector_auth_token.is_none() => {
                Err(field("collector_auth_token", "a leader needs one"))
            }
            Role::Leader | Role::Helper => Ok(()),
            _ => Err(field("role", "an aggregator is the leader or the helper")),
        }
    }

    /// The task as JSON.
    pub fn to_json(&self) -> String {
        let json = TaskJson {
            task_id: self.task_id.to_string(),
            role: match self.role {
                Role::Leader => "leader",
                _ => "helper",
            }
            .into(),
            configuration: URL_SAFE_NO_PAD
                .encode(encode(&self.configuration, "TaskConfiguration").unwrap_or_default()),
            vdaf_verify_key: URL_SAFE_NO_PAD.encode(self.vdaf_verify_key),
            collector_hpke_config: URL_SAFE_NO_PAD
                .encode(encode(&self.collector_hpke_config, "HpkeConfig").unwrap_or_default()),
            aggregator_auth_token: self.aggregator_auth_token.clone(),
            collector_auth_token: self.collector_auth_token.clone(),
            report_expiry_age: self.report_expiry_age,
            differential_privacy: self.noise,
        };
        serde_json::to_string_pretty(&json).expect("a task serializes")
    }

    /// Reads a task's JSON and validates it.
    pub fn from_json(text: &str) -> Result<Self, TaskError> {
        let json: TaskJson = serde_json::from_str(text)?;
        let role = match json.role.as_str() {
            "leader" => Role::Leader,
            "helper" => Role::Helper,
            other => {
                return Err(TaskError::Field {
                    field: "role",
                    problem: format!("{other:?} is neither \"leader\" nor \"helper\""),
                });
            }
        };
        let task = Self {
            task_id: json.task_id.parse()?,
            role,
            configuration: decode_all(
                &b64("configuration", &json.configuration)?,
                "TaskConfiguration",
            )?,
            vdaf_verify_key: b64("vdaf_verify_key", &json.vdaf_verify_key)?
                .try_into()
                .map_err(|_| TaskError::Field {
                    field: "vdaf_verify_key",
                    problem: "must be 32 bytes".into(),
                })?,
            collector_hpke_config: decode_all(
                &b64("collector_hpke_config", &json.collector_hpke_config)?,
                "HpkeConfig",
            )?,
            aggregator_auth_token: json.aggregator_auth_token,
            collector_auth_token: json.collector_auth_token,
            report_expiry_age: json.report_expiry_age,
            noise: json.differential_privacy,
        };
        task.validate()?;
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::{TaskSpec, new_task};
    use sealroom_dap::messages::{BatchMode, VdafConfig};

    #[test]
    fn tasks_with_empty_or_padded_tokens_are_refused() {
        let task = new_task(
            &TaskSpec {
                leader_endpoint: "http://leader.example/".into(),
                helper_endpoint: "http://helper.example/".into(),
                vdaf: VdafConfig::Prio3Count,
                time_precision: 3600,
                min_batch_size: 10,
                batch_mode: BatchMode::TimeInterval,
                task_info: b"t".to_vec(),
                task_interval: None,
                report_expiry_age: 3600,
                noise: None,
            },
            None,
        )
        .unwrap();
        let mut leader = task.leader.clone();
        assert!(leader.validate().is_ok());
        leader.collector_auth_token = Some(String::new());
        assert!(leader.validate().is_err());
        let mut helper = task.helper.clone();
        helper.aggregator_auth_token = " padded ".into();
        assert!(helper.validate().is_err());
        let round_trip = AggregatorTask::from_json(&task.leader.to_json()).unwrap();
        assert_eq!(
            round_trip.aggregator_auth_token,
            task.leader.aggregator_auth_token
        );
    }
}
