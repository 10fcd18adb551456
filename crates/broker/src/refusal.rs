//! Why a broker refuses, as stable codes and problem documents.

use axum::http::StatusCode;
use sealroom_core::AgreementError;
use sealroom_core::attestation::Platform;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::Measurement;
use sealroom_core::request_auth::RequestAuthError;
use sealroom_core::run::RunRequestError;
use sealroom_service::ProblemResponse;

/// A refused request. Nothing was released and no budget was spent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The agreement is not in force.
    #[error("{0}")]
    AgreementNotInForce(AgreementError),
    /// The agreement's program or outputs do not check out.
    #[error("{0}")]
    AgreementInvalid(AgreementError),
    /// The request could not be read (for an agreement, the rule it breaks).
    #[error("the request is malformed: {0}")]
    Malformed(String),
    /// The dataset is not this owner's under the agreement.
    #[error(
        "dataset {dataset:?} is not a dataset of this broker's owner under agreement {agreement}"
    )]
    NotOwnDataset {
        /// Dataset name.
        dataset: String,
        /// Agreement id (short).
        agreement: String,
    },
    /// The owner is not a party to the agreement.
    #[error("this broker's owner is not a party to agreement {agreement}")]
    NotAParty {
        /// Agreement id (short).
        agreement: String,
    },
    /// The platform is not accepted.
    #[error("{platform} evidence is not accepted: {reason}")]
    PlatformNotAccepted {
        /// The platform of the evidence.
        platform: Platform,
        /// What went wrong, in words.
        reason: String,
    },
    /// The evidence does not verify.
    #[error("the attestation evidence is invalid: {0}")]
    EvidenceInvalid(String),
    /// The isolate runs in debug mode.
    #[error("the isolate runs in debug mode: its memory is readable by the host")]
    DebugMode,
    /// The measured runtime is not listed in the agreement.
    #[error(
        "the measured runtime ({runtime}) is not among the agreement's accepted {platform} runtimes"
    )]
    MeasurementNotInAgreement {
        /// The platform of the evidence.
        platform: Platform,
        /// The evidence's identifying fields, as `name value` pairs.
        runtime: String,
    },
    /// The platform's TCB status or versions are below the agreement's policy.
    #[error("{0}")]
    TcbNotAccepted(String),
    /// The owner never approved the measurement.
    #[error(
        "runtime measurement {measurement} has not been approved by {owner} for this agreement; ask {owner} to run `sealroom approve`"
    )]
    MeasurementNotApproved {
        /// The runtime measurement concerned.
        measurement: Measurement,
        /// Owner name.
        owner: String,
    },
    /// The owner revoked the measurement.
    #[error("approval for measurement {} was revoked by {owner} at {at}; ask {owner} to re-approve", measurement.short())]
    MeasurementRevoked {
        /// The runtime measurement concerned.
        measurement: Measurement,
        /// Owner name.
        owner: String,
        /// When it happened.
        at: Timestamp,
    },
    /// The evidence does not bind the presented keys, nonce and agreement.
    #[error("the evidence's report data does not bind this nonce, agreement and isolate key")]
    ReportDataMismatch,
    /// The nonce was never issued.
    #[error("the challenge nonce was not issued by this broker")]
    NonceUnknown,
    /// The nonce has expired.
    #[error("the challenge nonce expired at {0}; ask for a new challenge")]
    NonceExpired(Timestamp),
    /// The nonce was already used.
    #[error("the challenge nonce was already used: replayed request")]
    NonceReplayed,
    /// The budget cannot cover the run.
    #[error(
        "the privacy budget of {dataset:?} under this agreement is exhausted: {spent} of {total} spent, a run needs {needed}"
    )]
    BudgetExhausted {
        /// The dataset concerned.
        dataset: String,
        /// Spent ε.
        spent: String,
        /// Total ε.
        total: String,
        /// ε per run.
        needed: String,
    },
    /// The wrapped key does not open for this owner and dataset.
    #[error(
        "the wrapped key does not open as {dataset:?} of this owner: wrong envelope or wrong owner"
    )]
    WrongKey {
        /// The dataset concerned.
        dataset: String,
    },
    /// A signed statement does not verify.
    #[error("{0}")]
    BadStatement(String),
    /// The release request is not signed by the isolate key its evidence binds.
    #[error(
        "the release request is not signed by the isolate key its evidence binds: it was altered on the way"
    )]
    RequestSignatureInvalid,
    /// The run request is not from a party allowed to start runs, not fresh, or not this job's.
    #[error("{0}")]
    RunRequest(RunRequestError),
    /// This job already received this dataset's key: its run request was used before.
    #[error("job {job} already received the key of {dataset:?}: a run request starts one run only")]
    RunRequestReplayed {
        /// The job.
        job: String,
        /// The dataset.
        dataset: String,
    },
    /// The agreement's cap on runs per day is reached.
    #[error(
        "dataset {dataset:?} was already released {max} times in the last 24 hours, the agreement's max_runs_per_day"
    )]
    RunCapReached {
        /// The dataset.
        dataset: String,
        /// The cap.
        max: u32,
    },
    /// The envelope header is not signed by this broker's owner.
    #[error(
        "the envelope of {dataset:?} is not signed by its owner {owner}: nobody else can make the owner's input"
    )]
    EnvelopeForged {
        /// The dataset.
        dataset: String,
        /// The owner.
        owner: String,
    },
    /// The envelope was sealed for another agreement.
    #[error(
        "the envelope of {dataset:?} was sealed for agreement {sealed_for}, not {agreement}: envelopes do not move between agreements"
    )]
    EnvelopeOtherAgreement {
        /// The dataset.
        dataset: String,
        /// The agreement it was sealed for (short).
        sealed_for: String,
        /// The agreement of the request (short).
        agreement: String,
    },
    /// The envelope's header does not describe this dataset.
    #[error("the envelope does not describe dataset {dataset:?} of this agreement: {reason}")]
    EnvelopeMismatch {
        /// The dataset.
        dataset: String,
        /// What differs.
        reason: String,
    },
    /// The owner never registered this envelope.
    #[error(
        "envelope {digest} of {dataset:?} was never registered by its owner; the owner registers each envelope it seals (`sealroom seal` or `sealroom register`)"
    )]
    EnvelopeNotRegistered {
        /// The dataset.
        dataset: String,
        /// The header digest (short).
        digest: String,
    },
    /// The envelope file is not the one its owner registered (its header is).
    #[error(
        "the envelope file of {dataset:?} is not the one its owner registered: its chunks were altered or replaced"
    )]
    EnvelopeAltered {
        /// The dataset.
        dataset: String,
    },
    /// The envelope was sealed in the future.
    #[error(
        "the envelope of {dataset:?} says it was sealed in the future: check the owner's clock"
    )]
    EnvelopeFromTheFuture {
        /// The dataset.
        dataset: String,
    },
    /// A newer envelope of the dataset is registered.
    #[error(
        "envelope {digest} of {dataset:?} is an older version: the owner registered a newer one (sealed at {current_sealed_at}); only the newest is released"
    )]
    EnvelopeSuperseded {
        /// The dataset.
        dataset: String,
        /// The header digest (short).
        digest: String,
        /// When the current one was sealed.
        current_sealed_at: String,
    },
    /// Too many challenges are outstanding.
    #[error("too many challenges are outstanding at this broker; try again when some have expired")]
    TooManyChallenges,
    /// The request is not signed by a party.
    #[error("{0}")]
    Unauthenticated(RequestAuthError),
    /// The request is signed, but not by this broker's owner.
    #[error("only this broker's owner ({owner}) may see this")]
    NotTheOwner {
        /// The owner's name.
        owner: String,
    },
    /// The transparency log could not record the release: no key leaves without a log entry.
    #[error("the release could not be logged, so no key was released and no budget spent: {0}")]
    LogUnavailable(String),
    /// The log answered, but its checkpoint or proofs failed verification (or it forked).
    #[error(
        "the transparency log's answer failed verification, so no key was released and no budget spent: {0}"
    )]
    LogInvalid(String),
}

impl From<sealroom_ledger::LogClientError> for Refusal {
    fn from(e: sealroom_ledger::LogClientError) -> Self {
        match e {
            sealroom_ledger::LogClientError::Http(_) => Refusal::LogUnavailable(e.to_string()),
            other => Refusal::LogInvalid(other.to_string()),
        }
    }
}

impl Refusal {
    /// The stable reason code (the last part of the problem `type`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::AgreementNotInForce(_) => "agreement-not-in-force",
            Self::AgreementInvalid(_) => "agreement-invalid",
            Self::Malformed(_) => "malformed-request",
            Self::NotOwnDataset { .. } => "not-own-dataset",
            Self::NotAParty { .. } => "not-a-party",
            Self::PlatformNotAccepted { .. } => "platform-not-accepted",
            Self::EvidenceInvalid(_) => "evidence-invalid",
            Self::DebugMode => "debug-mode",
            Self::MeasurementNotInAgreement { .. } => "measurement-not-in-agreement",
            Self::TcbNotAccepted(_) => "tcb-not-accepted",
            Self::MeasurementNotApproved { .. } => "measurement-not-approved",
            Self::MeasurementRevoked { .. } => "measurement-revoked",
            Self::ReportDataMismatch => "report-data-mismatch",
            Self::NonceUnknown => "nonce-unknown",
            Self::NonceExpired(_) => "nonce-expired",
            Self::NonceReplayed => "nonce-replayed",
            Self::BudgetExhausted { .. } => "budget-exhausted",
            Self::WrongKey { .. } => "wrong-key",
            Self::BadStatement(_) => "bad-statement",
            Self::RequestSignatureInvalid => "request-signature-invalid",
            Self::RunRequest(e) => e.code(),
            Self::RunRequestReplayed { .. } => "run-request-replayed",
            Self::RunCapReached { .. } => "run-cap-reached",
            Self::EnvelopeForged { .. } => "envelope-forged",
            Self::EnvelopeOtherAgreement { .. } => "envelope-other-agreement",
            Self::EnvelopeMismatch { .. } => "envelope-mismatch",
            Self::EnvelopeNotRegistered { .. } => "envelope-unregistered",
            Self::EnvelopeSuperseded { .. } => "envelope-superseded",
            Self::EnvelopeAltered { .. } => "envelope-altered",
            Self::EnvelopeFromTheFuture { .. } => "envelope-from-the-future",
            Self::TooManyChallenges => "too-many-challenges",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::NotTheOwner { .. } => "not-the-owner",
            Self::LogUnavailable(_) => "log-unavailable",
            Self::LogInvalid(_) => "log-invalid",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::NonceReplayed
            | Self::BudgetExhausted { .. }
            | Self::RunRequestReplayed { .. }
            | Self::EnvelopeSuperseded { .. } => StatusCode::CONFLICT,
            Self::RunCapReached { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooManyChallenges => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::LogUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::LogInvalid(_) => StatusCode::BAD_GATEWAY,
            Self::BadStatement(_)
            | Self::NotOwnDataset { .. }
            | Self::NotAParty { .. }
            | Self::AgreementInvalid(_)
            | Self::Malformed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// The refusal as a problem document.
    pub fn to_problem(&self) -> ProblemResponse {
        let title = match self {
            Self::BadStatement(_) => "statement refused",
            Self::Unauthenticated(_) | Self::NotTheOwner { .. } => "not allowed",
            _ => "key release refused",
        };
        ProblemResponse::new(
            "refusal",
            self.code(),
            self.status(),
            title,
            self.to_string(),
        )
    }
}
