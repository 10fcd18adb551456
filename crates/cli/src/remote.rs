//! Clients of the host and broker HTTP APIs.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sealroom_broker::store::{RefusalRecord, Registration, ReleaseRecord};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::envelope::SignedRegistration;
use sealroom_core::ids::{AgreementId, Digest, JobId};
use sealroom_core::output::OutputBundle;
use sealroom_core::party::PartyCard;
use sealroom_core::run::SignedRunRequest;
use sealroom_core::statement::SignedDecision;
use sealroom_core::wire::BudgetStatus;
use sealroom_crypto::Identity;
use sealroom_host::JobRecord;
use sealroom_host::api::PlatformInfo;
use sealroom_host::blobs::StoredBlob;
use sealroom_http::{HttpError, JsonClient};
use serde::Deserialize;
use serde::de::DeserializeOwned;

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

/// A `GET` of `base` + `path` signed by `identity`.
fn signed_get<T: DeserializeOwned>(
    http: &JsonClient,
    base: &str,
    path: &str,
    identity: &Identity,
) -> anyhow::Result<T> {
    let authorization = identity.sign_request("GET", path, SystemClock.now());
    http.get_authorized(&format!("{base}{path}"), &authorization)
        .map_err(classify)
}

/// A client of one host.
#[derive(Debug, Clone)]
pub struct HostClient {
    base: String,
    http: JsonClient,
}

/// How long one `GET /v1/jobs/{id}?wait=` waits at the host, in seconds.
const JOB_WAIT_SECONDS: u64 = 30;

/// How long [`HostClient::wait_for_job`] waits for a job in all (queue and run).
pub const JOB_DEADLINE: Duration = Duration::from_secs(2 * 3600);

impl HostClient {
    /// A client of the host at `base` (e.g. `http://127.0.0.1:7100`). Uploads may take long:
    /// calls give up only after a day.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            http: JsonClient::new(Duration::from_secs(24 * 3600)),
        }
    }

    /// The platform the host runs.
    pub fn platform(&self) -> anyhow::Result<PlatformInfo> {
        self.http
            .get(&format!("{}/v1/platform", self.base))
            .map_err(classify)
    }

    /// Streams an envelope to the host; `progress` is told how many bytes have gone. The host
    /// checks the owner's signature on its header before it accepts the rest.
    pub fn upload(
        &self,
        envelope: &Path,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> anyhow::Result<StoredBlob> {
        let header = crate::owner::read_envelope_header(envelope)?;
        let file = std::fs::File::open(envelope)
            .with_context(|| format!("cannot open {}", envelope.display()))?;
        let counted = Counted {
            inner: file,
            sent: 0,
            progress,
        };
        self.http
            .put_stream(
                &format!(
                    "{}/v1/agreements/{}/datasets/{}/{}",
                    self.base, header.agreement, header.owner, header.dataset
                ),
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

    /// Sends a signed run request; the host answers as soon as the job is queued.
    pub fn request_run(&self, request: &SignedRunRequest) -> anyhow::Result<JobRecord> {
        self.http
            .post(&format!("{}/v1/jobs", self.base), request)
            .map_err(classify)
    }

    /// Waits until the job has ended and returns its record; gives up after [`JOB_DEADLINE`].
    pub fn wait_for_job(&self, identity: &Identity, job: &JobId) -> anyhow::Result<JobRecord> {
        let deadline = std::time::Instant::now() + JOB_DEADLINE;
        loop {
            let record: JobRecord = signed_get(
                &self.http,
                &self.base,
                &format!("/v1/jobs/{job}?wait={JOB_WAIT_SECONDS}"),
                identity,
            )?;
            if record.status.has_ended() {
                return Ok(record);
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!(
                    "job {job} is still {:?} after {} minutes; ask again later",
                    record.status,
                    JOB_DEADLINE.as_secs() / 60
                );
            }
        }
    }

    /// As `identity`, requests one run of `agreement` and waits for its end.
    pub fn run(&self, identity: &Identity, agreement: AgreementId) -> anyhow::Result<JobRecord> {
        let queued = self.request_run(&identity.sign_run_request(agreement, SystemClock.now()))?;
        self.wait_for_job(identity, &queued.job_id)
    }

    /// A job's record, as a party of its agreement sees it.
    pub fn job(&self, identity: &Identity, job: &JobId) -> anyhow::Result<JobRecord> {
        signed_get(&self.http, &self.base, &format!("/v1/jobs/{job}"), identity)
    }

    /// The receipt and the outputs sealed to `identity`.
    pub fn outputs(&self, identity: &Identity, job: &JobId) -> anyhow::Result<OutputBundle> {
        signed_get(
            &self.http,
            &self.base,
            &format!("/v1/jobs/{job}/outputs/{}", identity.name()),
            identity,
        )
    }
}

/// What a broker says of a registered envelope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Registered {
    /// Newly registered, or already current.
    pub registration: Registration,
    /// The header's digest.
    pub header_digest: Digest,
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

    /// The broker of the party `card` names.
    pub fn of(card: &PartyCard) -> anyhow::Result<Self> {
        let base = card
            .broker_url
            .as_deref()
            .with_context(|| format!("the party card of {} names no broker URL", card.name))?;
        Ok(Self::new(base))
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

    /// Registers an owner-signed envelope as its dataset's current envelope.
    pub fn register(&self, registration: &SignedRegistration) -> anyhow::Result<Registered> {
        self.http
            .post(&format!("{}/v1/envelopes", self.base), registration)
            .map_err(classify)
    }

    /// Budgets kept (the owner only).
    pub fn budgets(&self, owner: &Identity) -> anyhow::Result<Vec<BudgetStatus>> {
        signed_get(&self.http, &self.base, "/v1/budgets", owner)
    }

    /// Releases granted (the owner only).
    pub fn releases(&self, owner: &Identity) -> anyhow::Result<Vec<ReleaseRecord>> {
        signed_get(&self.http, &self.base, "/v1/releases", owner)
    }

    /// Refusals given (the owner only).
    pub fn refusals(&self, owner: &Identity) -> anyhow::Result<Vec<RefusalRecord>> {
        signed_get(&self.http, &self.base, "/v1/refusals", owner)
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
