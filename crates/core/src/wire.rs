//! Messages between the isolate, the key brokers and the host.

use serde::{Deserialize, Serialize};

use crate::agreement::SignedAgreement;
use crate::attestation::{Evidence, IsolateKeys};
use crate::canonical::{CanonicalError, canonical_json};
use crate::clock::Timestamp;
use crate::envelope::EnvelopeHeader;
use crate::epsilon::Epsilon;
use crate::ids::{AgreementId, Digest, JobId};
use crate::labels;
use crate::log::LoggedEntry;
use crate::output::{SealedOutput, SignedReceipt};
use crate::run::SignedRunRequest;
use crate::sign::{Signature, SignatureError, verify};

/// An HPKE single-shot ciphertext: the encapsulated key and the AEAD ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// Encapsulated X25519 key.
    #[serde(with = "crate::bytes::b64_array")]
    pub enc: [u8; 32],
    /// AEAD ciphertext with tag.
    #[serde(with = "crate::bytes::b64")]
    pub ciphertext: Vec<u8>,
}

/// An RFC 9457 problem document with a stable `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable URN naming the reason, e.g. `urn:sealroom:refusal:measurement-revoked`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What exactly went wrong and what to do next.
    pub detail: String,
}

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// `POST /v1/challenges`: a challenge for one run, which the broker issues only for a fresh run
/// request of an agreement in force that its owner is a party to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The agreement with every party's signature.
    pub agreement: SignedAgreement,
    /// The party's request that started the job.
    pub run_request: SignedRunRequest,
}

/// A broker's answer to `POST /v1/challenges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// Single-use nonce to bind into evidence.
    #[serde(with = "crate::bytes::b64_array")]
    pub nonce: [u8; 32],
    /// After this the nonce is refused.
    pub expires_at: Timestamp,
}

/// An isolate's request for a dataset key (`POST /v1/releases`), signed by the isolate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The agreement with every party's signature.
    pub agreement: SignedAgreement,
    /// The party's request that started this job; the job id derives from it.
    pub run_request: SignedRunRequest,
    /// Dataset name (the broker's own).
    pub dataset: String,
    /// The nonce from [`Challenge`].
    #[serde(with = "crate::bytes::b64_array")]
    pub nonce: [u8; 32],
    /// The isolate's ephemeral public keys.
    pub isolate_keys: IsolateKeys,
    /// Evidence whose report data binds nonce, agreement id and keys.
    pub evidence: Evidence,
    /// The owner-signed header of the envelope the isolate was given; it holds the wrapped key.
    pub header: EnvelopeHeader,
    /// The digest (`sealroom/v1/envelope`) of the whole envelope file, which the isolate hashed
    /// before asking: the broker releases the key only for the file its owner registered.
    pub envelope_digest: Digest,
    /// Run every check but consume nothing and release nothing: lets an isolate learn of any
    /// refusal from every broker before any budget is spent.
    pub dry_run: bool,
}

impl ReleaseRequest {
    /// The job this request is for.
    pub fn job_id(&self) -> Result<JobId, CanonicalError> {
        self.run_request.job_id()
    }
}

/// A release request signed by the isolate's ephemeral key (the one its evidence binds), so that
/// nobody between isolate and broker can change it, e.g. turn a dry run into a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReleaseRequest {
    /// The request.
    pub request: ReleaseRequest,
    /// Signature by `request.isolate_keys.signing` over `sealroom/v1/release-request ‖ 0x00 ‖`
    /// the canonical request.
    pub signature: Signature,
}

impl SignedReleaseRequest {
    /// The canonical bytes that are signed.
    pub fn signed_bytes(request: &ReleaseRequest) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(request)
    }

    /// Checks the isolate's signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        let bytes = Self::signed_bytes(&self.request).map_err(|_| SignatureError::Mismatch)?;
        verify(
            &self.request.isolate_keys.signing,
            labels::RELEASE_REQUEST,
            &bytes,
            &self.signature,
        )
    }
}

/// Associated data of a released key: binds it to agreement, job, dataset and envelope header.
pub fn release_aad(
    agreement: &AgreementId,
    job: &JobId,
    dataset: &str,
    header_digest: &Digest,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + 16 + 32 + dataset.len());
    aad.extend_from_slice(agreement.as_bytes());
    aad.extend_from_slice(job.as_bytes());
    aad.extend_from_slice(header_digest.as_bytes());
    aad.extend_from_slice(dataset.as_bytes());
    aad
}

/// A broker's answer to a release request: a key, or (for a dry run) only the approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ReleaseAnswer {
    /// The key was released.
    Granted(ReleaseGrant),
    /// A dry run passed every check.
    WouldGrant {
        /// ε a real release would debit.
        epsilon: Epsilon,
    },
}

/// A broker's answer to a granted release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseGrant {
    /// The data key sealed to the isolate's ephemeral HPKE key.
    pub sealed_key: Sealed,
    /// ε debited for this release.
    pub epsilon_debited: Epsilon,
    /// ε left for this dataset under this agreement, in millionths.
    pub remaining_micros: u64,
    /// The release entry in the transparency log, proven included before the key was sent.
    pub log: LoggedEntry,
}

/// What an owner's broker reports of a dataset's budget under one agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The agreement.
    pub agreement: AgreementId,
    /// The dataset.
    pub dataset: String,
    /// Total ε, in millionths.
    pub total_micros: u64,
    /// ε spent, in millionths.
    pub spent_micros: u64,
    /// Releases granted.
    pub releases: u64,
}

/// One input of a job, as the host hands it to an isolate: only a reference to ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    /// Owner's name.
    pub owner: String,
    /// Dataset name.
    pub dataset: String,
    /// Path of the envelope file in the host's blob store.
    pub path: String,
}

/// The job an isolate runs, given on its standard input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The job.
    pub job_id: JobId,
    /// The signed agreement.
    pub agreement: SignedAgreement,
    /// The party's request that started the job (the job id derives from it).
    pub run_request: SignedRunRequest,
    /// Every dataset of the agreement.
    pub inputs: Vec<JobInput>,
    /// The agreement's Wasm module, when its program is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<JobModule>,
}

/// Where the isolate finds a Wasm program's module (it checks the bytes against the agreement's
/// digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobModule {
    /// Path of the module file in the host's blob store.
    pub path: String,
}

/// What an isolate writes on standard output when it finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum JobOutcome {
    /// Outputs sealed and receipt signed.
    Finished {
        /// The signed receipt (boxed: it is far larger than a failure).
        receipt: Box<SignedReceipt>,
        /// One sealed output per (output, reader).
        outputs: Vec<SealedOutput>,
    },
    /// Nothing released.
    Failed {
        /// The failure.
        error: JobFailure,
    },
}

/// Why a job failed, precisely enough to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFailure {
    /// Stable code, e.g. `key-refused`, `envelope-corrupt`.
    pub code: String,
    /// The dataset involved, if any (`owner/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The refusal's problem type, when a broker refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Human-readable detail.
    pub message: String,
}
