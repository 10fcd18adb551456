//! The public description of a task that clients and the collector read: its id and the
//! `TaskConfiguration` every party binds into its encryption, as JSON with the configuration in
//! its DAP encoding (unpadded URL-safe base64). Nothing secret is in it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::messages::{BatchMode, MessageError, TaskConfiguration, TaskId, decode_all, encode};

/// A task as clients and the collector know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFile {
    /// The task id.
    pub task_id: TaskId,
    /// Its configuration.
    pub configuration: TaskConfiguration,
}

#[derive(Serialize, Deserialize)]
struct TaskFileJson {
    task_id: String,
    configuration: String,
    /// For people reading the file; ignored when it is read.
    #[serde(default)]
    summary: String,
}

/// Why a task file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TaskFileError {
    /// Not the expected JSON.
    #[error("not a task file: {0}")]
    Json(#[from] serde_json::Error),
    /// The configuration is not unpadded URL-safe base64.
    #[error("the task configuration is not unpadded URL-safe base64")]
    Base64,
    /// The id or configuration is malformed.
    #[error("the task file: {0}")]
    Message(#[from] MessageError),
}

impl TaskFile {
    /// A one-line description: VDAF, batch mode, precision, minimum batch, endpoints.
    pub fn summary(&self) -> String {
        let c = &self.configuration;
        let vdaf = c
            .vdaf()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|e| format!("unusable VDAF ({e})"));
        let mode = match c.batch_mode {
            BatchMode::TimeInterval => "time_interval",
            _ => "leader_selected",
        };
        format!(
            "{vdaf}, {mode} batches of at least {} reports, time precision {} s, leader {}, helper {}",
            c.min_batch_size,
            c.time_precision,
            c.leader_aggregator_endpoint,
            c.helper_aggregator_endpoint
        )
    }

    /// The file's JSON.
    pub fn to_json(&self) -> Result<String, MessageError> {
        let json = TaskFileJson {
            task_id: self.task_id.to_string(),
            configuration: URL_SAFE_NO_PAD
                .encode(encode(&self.configuration, "TaskConfiguration")?),
            summary: self.summary(),
        };
        Ok(serde_json::to_string_pretty(&json).expect("a task file serializes"))
    }

    /// Reads a task file.
    pub fn from_json(text: &str) -> Result<Self, TaskFileError> {
        let json: TaskFileJson = serde_json::from_str(text)?;
        let configuration = URL_SAFE_NO_PAD
            .decode(json.configuration.trim_end_matches('='))
            .map_err(|_| TaskFileError::Base64)?;
        Ok(Self {
            task_id: json.task_id.parse()?,
            configuration: decode_all(&configuration, "TaskConfiguration")?,
        })
    }
}
