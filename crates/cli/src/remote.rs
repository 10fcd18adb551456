//! Clients of the host and broker HTTP APIs.

use std::path::Path;

use anyhow::Context;
use sealroom_broker::store::{RefusalRecord, ReleaseRecord};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::ids::JobId;
use sealroom_core::output::OutputBundle;
use sealroom_core::party::PartyCard;
use sealroom_core::statement::SignedDecision;
use sealroom_core::wire::BudgetStatus;
use sealroom_host::api::PlatformInfo;
use sealroom_host::blobs::StoredBlob;
use sealroom_host::{JobRecord, RunJob};
use sealroom_http::{HttpError, JsonClient};

/// Turns a refusal into [`crate::Refused`] (exit code 1) and anything else into an error (exit code 2).
pub fn classify(e: HttpError) -> anyhow::Error {
    match e {
        HttpError::Refused(p) => crate::Refused(format!("{} [{}]", p.detail, p.kind)).into(),
        other => other.into(),
    }
}

/// A reader that reports how much has been read.
struct Counted<R, F> {
    inner: R,
    sent: u64,
    progress: F,
}

impl<R: std::io::Read, F: Fn(u64)> std::io::Read for Counted<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent += n as u64;
        (self.progress)(self.sent);
        Ok(n)
    }
}

/// A client of one host.
#[derive(Debug, Clone)]
pub struct HostClient {
    base: String,
    http: JsonClient,
}

impl HostClient {
    /// A client of the host at `base` (e.g. `http://127.0.0.1:7100`). Jobs and uploads may take long:
    /// calls give up only after a day.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            http: JsonClient::new(std::time::Duration::from_secs(24 * 3600)),
        }
    }

    /// The platform the host runs.
    pub fn platform(&self) -> anyhow::Result<PlatformInfo> {
        self.http
            .get(&format!("{}/v1/platform", self.base))
            .map_err(classify)
    }

    /// Streams an envelope to the host; `progress` is told how many bytes have gone.
    pub fn upload(
        &self,
        owner: &str,
        dataset: &str,
        envelope: &Path,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> anyhow::Result<StoredBlob> {
        let file = std::fs::File::open(envelope)
            .with_context(|| format!("cannot open {}", envelope.display()))?;
        let counted = Counted {
            inner: file,
            sent: 0,
            progress,
        };
        self.http
            .put_stream(
                &format!("{}/v1/datasets/{owner}/{dataset}", self.base),
                counted,
            )
            .map_err(classify)
    }

    /// Stores a signed agreement.
    pub fn publish(&self, agreement: &SignedAgreement) -> anyhow::Result<()> {
        let _: serde_json::Value = self
            .http
            .post(&format!("{}/v1/agreements", self.base), agreement)
            .map_err(classify)?;
        Ok(())
    }

    /// Runs a job and waits for its end.
    pub fn run(&self, request: &RunJob) -> anyhow::Result<JobRecord> {
        self.http
            .post(&format!("{}/v1/jobs", self.base), request)
            .map_err(classify)
    }

    /// A job's record.
    pub fn job(&self, job: &JobId) -> anyhow::Result<JobRecord> {
        self.http
            .get(&format!("{}/v1/jobs/{job}", self.base))
            .map_err(classify)
    }

    /// The receipt and outputs sealed to `reader`.
    pub fn outputs(&self, job: &JobId, reader: &str) -> anyhow::Result<OutputBundle> {
        self.http
            .get(&format!("{}/v1/jobs/{job}/outputs/{reader}", self.base))
            .map_err(classify)
    }
}

/// A client of one owner's broker.
#[derive(Debug, Clone)]
pub struct BrokerClient {
    base: String,
    http: JsonClient,
}

impl BrokerClient {
    /// A client of the broker at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            http: JsonClient::default(),
        }
    }

    /// The owner's card.
    pub fn card(&self) -> anyhow::Result<PartyCard> {
        self.http
            .get(&format!("{}/v1/card", self.base))
            .map_err(classify)
    }

    /// Sends a signed approval or revocation.
    pub fn decide(&self, decision: &SignedDecision) -> anyhow::Result<bool> {
        let answer: serde_json::Value = self
            .http
            .post(&format!("{}/v1/decisions", self.base), decision)
            .map_err(classify)?;
        Ok(answer
            .get("stored")
            .and_then(|v| v.as_bool())
            .unwrap_or(false))
    }

    /// Budgets kept.
    pub fn budgets(&self) -> anyhow::Result<Vec<BudgetStatus>> {
        self.http
            .get(&format!("{}/v1/budgets", self.base))
            .map_err(classify)
    }

    /// Releases granted.
    pub fn releases(&self) -> anyhow::Result<Vec<ReleaseRecord>> {
        self.http
            .get(&format!("{}/v1/releases", self.base))
            .map_err(classify)
    }

    /// Refusals given.
    pub fn refusals(&self) -> anyhow::Result<Vec<RefusalRecord>> {
        self.http
            .get(&format!("{}/v1/refusals", self.base))
            .map_err(classify)
    }
}

/// Why the isolate reports [`sealroom_host::JobStatus::Failed`], as an error for exit code 1.
pub fn job_failed(record: &JobRecord) -> anyhow::Error {
    let e = record.error.as_ref();
    crate::Refused(format!(
        "job {} failed [{}]: {}",
        record.job_id,
        e.map(|e| e.code.as_str()).unwrap_or("unknown"),
        e.map(|e| e.message.as_str()).unwrap_or("no detail")
    ))
    .into()
}
