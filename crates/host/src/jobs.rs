//! Running one job in a fresh isolate process.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use sealroom_attest::TEE_COLLATERAL_ENV;
use sealroom_attest::sim::SIM_PLATFORM_KEY_ENV;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_core::output::SignedReceipt;
use sealroom_core::wire::{JobFailure, JobOutcome, JobSpec};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a free isolate.
    Queued,
    /// The isolate is running.
    Running,
    /// Outputs are stored.
    Finished,
    /// Nothing was released.
    Failed,
}

/// A stored output, by name and reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRef {
    /// Output name.
    pub output: String,
    /// The party it is sealed to.
    pub reader: String,
}

/// What the host knows of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job.
    pub job_id: JobId,
    /// Its agreement.
    pub agreement_id: AgreementId,
    /// The party whose signed run request started it.
    pub requested_by: String,
    /// Where the job stands: queued, running, finished or failed.
    pub status: JobStatus,
    /// When the run was asked for.
    pub created_at: Timestamp,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<JobFailure>,
    /// The isolate's signed receipt.
    pub receipt: Option<SignedReceipt>,
    /// Outputs stored.
    pub outputs: Vec<OutputRef>,
}

/// How the host starts isolates.
#[derive(Debug, Clone)]
pub struct IsolateLauncher {
    /// The `sealroom-isolate` executable.
    pub executable: PathBuf,
    /// The simulator platform key file handed to simulator isolates.
    pub sim_platform_key: PathBuf,
    /// The collateral file handed to hardware isolates, if any (see `sealroom_attest`'s
    /// `TEE_COLLATERAL_ENV`).
    pub tee_collateral: Option<PathBuf>,
    /// A job running longer is killed.
    pub timeout: Duration,
}

const MAX_OUTCOME: u64 = 256 << 20;

impl JobStatus {
    /// Whether the job has ended (finished or failed).
    pub fn has_ended(self) -> bool {
        matches!(self, Self::Finished | Self::Failed)
    }
}

impl IsolateLauncher {
    /// Starts a fresh isolate, hands it the job, and reads its outcome. The process is killed if it overruns.
    pub async fn run(&self, spec: &JobSpec) -> JobOutcome {
        match tokio::time::timeout(self.timeout, self.run_process(spec)).await {
            Ok(outcome) => outcome,
            Err(_) => failed(
                "isolate-timeout",
                format!(
                    "the isolate did not finish within {:?} and was killed",
                    self.timeout
                ),
            ),
        }
    }

    async fn run_process(&self, spec: &JobSpec) -> JobOutcome {
        let mut command = tokio::process::Command::new(&self.executable);
        command
            .env_clear()
            .env(SIM_PLATFORM_KEY_ENV, &self.sim_platform_key);
        if let Some(collateral) = &self.tee_collateral {
            command.env(TEE_COLLATERAL_ENV, collateral);
        }
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                return failed(
                    "isolate-unavailable",
                    format!("cannot start {}: {e}", self.executable.display()),
                );
            }
        };
        let input = match serde_json::to_vec(spec) {
            Ok(input) => input,
            Err(e) => return failed("isolate-unavailable", format!("the job spec: {e}")),
        };
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return failed(
                "isolate-unavailable",
                "the isolate's standard streams are not connected".into(),
            );
        };
        let mut stdout = stdout.take(MAX_OUTCOME);
        let mut stderr = stderr.take(1 << 16);
        let writer = async move {
            let r = stdin.write_all(&input).await;
            drop(stdin);
            r
        };
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (written, read_out, _) = tokio::join!(
            writer,
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err)
        );
        let status = child.wait().await;
        let crashed = |why: String| {
            let tail = String::from_utf8_lossy(&err)
                .trim()
                .chars()
                .rev()
                .take(500)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>();
            failed(
                "isolate-crashed",
                if tail.is_empty() {
                    why
                } else {
                    format!("{why}; it said: {tail}")
                },
            )
        };
        if let Err(e) = written.and(read_out.map(|_| ())) {
            return crashed(format!("talking to the isolate failed: {e}"));
        }
        match serde_json::from_slice::<JobOutcome>(&out) {
            Ok(outcome) => outcome,
            Err(_) => crashed(match status {
                Ok(s) => format!("the isolate exited ({s}) without a readable outcome"),
                Err(e) => format!("the isolate could not be waited for: {e}"),
            }),
        }
    }
}

fn failed(code: &str, message: String) -> JobOutcome {
    JobOutcome::Failed {
        error: JobFailure {
            code: code.into(),
            dataset: None,
            refusal: None,
            message,
        },
    }
}
