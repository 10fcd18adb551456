//! Creating a task: fresh id, verification key and tokens, the same configuration for both
//! aggregators, and the collector's credential (generated or supplied). `sealroom dap task new`
//! writes the two halves into the aggregators' stores.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sealroom_dap::collector::CollectorCredential;
use sealroom_dap::messages::{
    BatchMode, Extension, Extensions, Interval, Role, TASK_INTERVAL, TaskConfiguration, TaskId,
    VdafConfig, encode,
};

use crate::noise::TaskNoise;
use crate::task::{AggregatorTask, TaskError};

/// What a new task is.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The leader's base URL.
    pub leader_endpoint: String,
    /// The helper's base URL.
    pub helper_endpoint: String,
    /// The VDAF and its parameters.
    pub vdaf: VdafConfig,
    /// Seconds per time unit.
    pub time_precision: u64,
    /// Fewest reports per batch.
    pub min_batch_size: u64,
    /// How batches form.
    pub batch_mode: BatchMode,
    /// Opaque task information (1–255 bytes).
    pub task_info: Vec<u8>,
    /// Reports outside this interval (time units) are refused; its end is the task's end.
    pub task_interval: Option<Interval>,
    /// Reports older than this many seconds are dropped.
    pub report_expiry_age: u64,
    /// Differential privacy on aggregate shares, if any.
    pub noise: Option<TaskNoise>,
}

/// A new task: both aggregators' halves and the collector's credential.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The task id.
    pub task_id: TaskId,
    /// The configuration every party uses.
    pub configuration: TaskConfiguration,
    /// The leader's half.
    pub leader: AggregatorTask,
    /// The helper's half.
    pub helper: AggregatorTask,
    /// The collector's key and token.
    pub collector: CollectorCredential,
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes
}

/// A new task from `spec`; the collector's credential is generated unless `collector` is given.
pub fn new_task(
    spec: &TaskSpec,
    collector: Option<CollectorCredential>,
) -> Result<NewTask, TaskError> {
    let mut extensions = Vec::new();
    if let Some(interval) = spec.task_interval {
        extensions.push(Extension {
            extension_type: TASK_INTERVAL,
            extension_data: encode(&interval, "Interval")?,
        });
    }
    let configuration = TaskConfiguration {
        task_info: spec.task_info.clone(),
        leader_aggregator_endpoint: spec.leader_endpoint.clone(),
        helper_aggregator_endpoint: spec.helper_endpoint.clone(),
        time_precision: spec.time_precision,
        min_batch_size: spec.min_batch_size,
        batch_mode: spec.batch_mode,
        batch_config: Vec::new(),
        vdaf_type: spec.vdaf.vdaf_type(),
        vdaf_configuration: spec.vdaf.configuration(),
        extensions: Extensions(extensions),
    };
    // The configuration must encode (task_info 1–255 bytes, ASCII URLs).
    encode(&configuration, "TaskConfiguration")?;
    let collector = collector.unwrap_or_else(|| CollectorCredential::generate(1));
    let leader = AggregatorTask {
        task_id: TaskId(random()),
        role: Role::Leader,
        configuration: configuration.clone(),
        vdaf_verify_key: random(),
        collector_hpke_config: collector.keypair.config.clone(),
        aggregator_auth_token: URL_SAFE_NO_PAD.encode(random::<16>()),
        collector_auth_token: Some(collector.token.clone()),
        report_expiry_age: spec.report_expiry_age,
        noise: spec.noise,
    };
    let helper = AggregatorTask {
        role: Role::Helper,
        collector_auth_token: None,
        ..leader.clone()
    };
    leader.validate()?;
    helper.validate()?;
    Ok(NewTask {
        task_id: leader.task_id,
        configuration,
        leader,
        helper,
        collector,
    })
}
