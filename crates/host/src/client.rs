//! A client of the host's API, for parties: platform, agreements, uploads, run requests, job
//! records and outputs. Reads that are only for parties are signed with the caller's key.
//! Errors are [`HttpError`]s: [`HttpError::Refused`] carries the host's problem document.

use std::time::Duration;

use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::{Clock, SystemClock};
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_core::output::OutputBundle;
use sealroom_core::run::SignedRunRequest;
use sealroom_crypto::Identity;
use sealroom_http::{HttpError, JsonClient};
use serde::de::DeserializeOwned;

use crate::api::PlatformInfo;
use crate::blobs::StoredBlob;
use crate::jobs::JobRecord;

/// How long one `GET /v1/jobs/{id}?wait=` waits at the host, in seconds.
pub const JOB_WAIT_SECONDS: u64 = 30;

/// A client of one host.
#[derive(Debug, Clone)]
pub struct HostClient {
    base: String,
    http: JsonClient,
}

impl HostClient {
    /// A client of the host at `base` (e.g. `http://127.0.0.1:7100`). Uploads may take long:
    /// calls give up only after a day.
    pub fn new(base: &str) -> Self {
        Self::with_timeout(base, Duration::from_secs(24 * 3600))
    }

    /// A client of the host at `base` whose calls give up after `timeout`.
    pub fn with_timeout(base: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            http: JsonClient::new(timeout),
        }
    }

    /// The host's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn signed_get<T: DeserializeOwned>(
        &self,
        path: &str,
        identity: &Identity,
    ) -> Result<T, HttpError> {
        let authorization = identity.sign_request("GET", path, SystemClock.now());
        self.http
            .get_authorized(&format!("{}{path}", self.base), &authorization)
    }

    /// The platform the host runs.
    pub fn platform(&self) -> Result<PlatformInfo, HttpError> {
        self.http.get(&format!("{}/v1/platform", self.base))
    }

    /// Streams an envelope (`body`, starting with its owner-signed header) to the host as
    /// `owner/dataset` of `agreement`. The host checks the header before it accepts the rest.
    pub fn upload(
        &self,
        agreement: &AgreementId,
        owner: &str,
        dataset: &str,
        body: impl std::io::Read + Send + Sync + 'static,
    ) -> Result<StoredBlob, HttpError> {
        self.http.put_stream(
            &format!(
                "{}/v1/agreements/{agreement}/datasets/{owner}/{dataset}",
                self.base
            ),
            body,
        )
    }

    /// Stores a signed agreement.
    pub fn publish(&self, agreement: &SignedAgreement) -> Result<(), HttpError> {
        let _: serde_json::Value = self
            .http
            .post(&format!("{}/v1/agreements", self.base), agreement)?;
        Ok(())
    }

    /// A stored agreement, as a party of it reads it. Check it before trusting it
    /// ([`SignedAgreement::check_in_force`]): the host could answer anything.
    pub fn agreement(
        &self,
        identity: &Identity,
        id: &AgreementId,
    ) -> Result<SignedAgreement, HttpError> {
        self.signed_get(&format!("/v1/agreements/{id}"), identity)
    }

    /// As the provider `identity`, publishes a Wasm program: its signed publication, module and
    /// documentation, in a request signed by the same key. Answers with the index of its
    /// *program published* log entry.
    pub fn publish_program(
        &self,
        identity: &Identity,
        program: &crate::programs::PublishProgram,
    ) -> Result<crate::programs::PublishAnswer, HttpError> {
        let path = "/v1/programs";
        let authorization = identity.sign_request("POST", path, SystemClock.now());
        self.http
            .post_authorized(&format!("{}{path}", self.base), &authorization, program)
    }

    /// A published program, as anyone reads it. The publication's signature is the provider's:
    /// check it against the provider's card before trusting it.
    pub fn program(&self, module: &str) -> Result<crate::programs::PublishedProgram, HttpError> {
        self.http
            .get(&format!("{}/v1/programs/{module}", self.base))
    }

    /// The bytes of published module `module` (at most `most` bytes are read), as anyone reads
    /// them. Check them against the digest before use: the host could serve others.
    pub fn program_module(&self, module: &str, most: u64) -> Result<Vec<u8>, HttpError> {
        self.http
            .get_bytes(&format!("{}/v1/programs/{module}/module", self.base), most)
    }

    /// Sends a signed run request; the host answers as soon as the job is queued.
    pub fn request_run(&self, request: &SignedRunRequest) -> Result<JobRecord, HttpError> {
        self.http.post(&format!("{}/v1/jobs", self.base), request)
    }

    /// A job's record, as a party of its agreement sees it, once the job has ended or after at
    /// most `wait_seconds` (60 at most).
    pub fn job_waiting(
        &self,
        identity: &Identity,
        job: &JobId,
        wait_seconds: u64,
    ) -> Result<JobRecord, HttpError> {
        self.signed_get(&format!("/v1/jobs/{job}?wait={wait_seconds}"), identity)
    }

    /// A job's record, as a party of its agreement sees it.
    pub fn job(&self, identity: &Identity, job: &JobId) -> Result<JobRecord, HttpError> {
        self.signed_get(&format!("/v1/jobs/{job}"), identity)
    }

    /// The receipt and the outputs sealed to `identity`.
    pub fn outputs(&self, identity: &Identity, job: &JobId) -> Result<OutputBundle, HttpError> {
        self.signed_get(
            &format!("/v1/jobs/{job}/outputs/{}", identity.name()),
            identity,
        )
    }
}
