//! Why the host refuses a request, as typed errors with stable codes and problem documents
//! (`urn:sealroom:host:<code>`). Internal failures are logged with their cause and answered
//! without it.

use axum::http::StatusCode;
use sealroom_core::AgreementError;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_core::request_auth::RequestAuthError;
use sealroom_core::run::RunRequestError;
use sealroom_service::ProblemResponse;

/// A refused request. Nothing was stored, queued or released.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostRefusal {
    /// No such agreement is stored.
    #[error("no agreement {0} is stored; POST it to /v1/agreements first")]
    AgreementUnknown(AgreementId),
    /// The agreement breaks a rule, or its program refuses its parameters.
    #[error("{0}")]
    InvalidAgreement(String),
    /// The agreement is not in force.
    #[error("{0}")]
    AgreementNotInForce(AgreementError),
    /// A party is not one the host serves (with exactly this card).
    #[error(
        "this host does not serve party {0:?} with the card the agreement lists; its operator onboards parties with `sealroom host party add CARD`"
    )]
    PartyNotOnboarded(String),
    /// A broker URL is not a plain base.
    #[error("{0}")]
    BadBrokerUrl(String),
    /// A path names an owner or dataset that breaks the naming rules.
    #[error("owner and dataset names are 1 to 64 of a-z, 0-9, '-' and '_'")]
    BadName,
    /// An id in the path is unreadable.
    #[error("{0}")]
    BadId(String),
    /// The upload is not an envelope.
    #[error("{0}")]
    NotAnEnvelope(String),
    /// The envelope is not the dataset the path names, under this agreement and schema.
    #[error("{0}")]
    NotTheDataset(String),
    /// The envelope header is not signed by its owner.
    #[error(
        "the envelope header is not signed by {0}'s key: only an owner can upload its own data"
    )]
    EnvelopeSignatureInvalid(String),
    /// A newer version of the dataset is stored.
    #[error("the host holds a newer version of this dataset, sealed later by its owner")]
    EnvelopeSuperseded,
    /// The upload is larger than the host accepts.
    #[error("the upload exceeds the host's limit of {0} bytes")]
    UploadTooLarge(u64),
    /// The upload's body could not be read.
    #[error("the upload was interrupted: {0}")]
    UploadInterrupted(String),
    /// A dataset of the agreement has not been uploaded.
    #[error("dataset {0} has not been uploaded")]
    DatasetMissing(String),
    /// The run request does not hold.
    #[error("{0}")]
    RunRequest(RunRequestError),
    /// The run request started a job already.
    #[error("this run request already started job {0}; sign a new one for another run")]
    RunRequestReplayed(JobId),
    /// The agreement's daily cap is reached.
    #[error("{0} runs were requested in the last 24 hours, the agreement's max_runs_per_day")]
    RunCapReached(u64),
    /// Too many jobs of this agreement wait or run.
    #[error("{0} jobs of this agreement are already waiting or running; try again when one ends")]
    TooManyJobs(u64),
    /// Too many jobs wait or run on this host.
    #[error("{0} jobs are already waiting or running on this host; try again later")]
    QueueFull(u64),
    /// The request is not signed by a party.
    #[error("{0}")]
    Unauthenticated(RequestAuthError),
    /// The signer is not a party of the agreement.
    #[error("only parties of agreement {0} may see this")]
    NotAParty(String),
    /// The signer is not the reader the outputs are sealed to.
    #[error("only {0} may fetch the outputs sealed to {0}")]
    NotTheReader(String),
    /// No such job.
    #[error("no job {0}")]
    JobUnknown(JobId),
    /// The job has no outputs.
    #[error("job {job} has no outputs: it is {status}")]
    JobNotFinished {
        /// The job.
        job: JobId,
        /// Where it stands.
        status: String,
    },
    /// The job sealed nothing to this reader.
    #[error("job {job} sealed no output to {reader:?}")]
    NoOutputForReader {
        /// The job.
        job: JobId,
        /// The reader asked for.
        reader: String,
    },
    /// A program publication not signed by a party this host serves.
    #[error("only a party this host serves publishes programs, in a request signed with its key")]
    PublisherNotServed,
    /// A program publication does not check out.
    #[error("the program publication is refused: {0}")]
    BadPublication(String),
    /// The module was published before, by another publication (another provider, other
    /// documentation or source).
    #[error(
        "module {module} is already published with another publication (log entry {log_index}); read it with GET /v1/programs/{module}"
    )]
    ProgramPublishedOtherwise {
        /// The module's digest.
        module: String,
        /// The first publication's log entry.
        log_index: u64,
    },
    /// No module with this digest is published.
    #[error(
        "no Wasm module {0} is published on this host; its provider publishes it with `sealroom program publish`"
    )]
    ProgramNotPublished(String),
    /// The host failed; its operator's log holds the cause.
    #[error("the host failed; its operator's log says why")]
    Internal,
}

impl HostRefusal {
    /// An internal failure: its cause is logged here, never answered.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("{cause}");
        Self::Internal
    }

    /// The stable code (the last part of the problem `type`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::AgreementUnknown(_) => "agreement-unknown",
            Self::InvalidAgreement(_) => "invalid-agreement",
            Self::AgreementNotInForce(_) => "agreement-not-in-force",
            Self::PartyNotOnboarded(_) => "party-not-onboarded",
            Self::BadBrokerUrl(_) => "bad-broker-url",
            Self::BadName => "bad-name",
            Self::BadId(_) => "bad-id",
            Self::NotAnEnvelope(_) => "not-an-envelope",
            Self::NotTheDataset(_) => "not-the-dataset",
            Self::EnvelopeSignatureInvalid(_) => "envelope-signature-invalid",
            Self::EnvelopeSuperseded => "envelope-superseded",
            Self::UploadTooLarge(_) => "upload-too-large",
            Self::UploadInterrupted(_) => "upload-interrupted",
            Self::DatasetMissing(_) => "dataset-missing",
            Self::RunRequest(e) => e.code(),
            Self::RunRequestReplayed(_) => "run-request-replayed",
            Self::RunCapReached(_) => "run-cap-reached",
            Self::TooManyJobs(_) => "too-many-jobs",
            Self::QueueFull(_) => "queue-full",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::NotAParty(_) => "not-a-party",
            Self::NotTheReader(_) => "not-the-reader",
            Self::JobUnknown(_) => "job-unknown",
            Self::JobNotFinished { .. } => "job-not-finished",
            Self::NoOutputForReader { .. } => "no-output-for-reader",
            Self::PublisherNotServed => "publisher-not-served",
            Self::BadPublication(_) => "bad-publication",
            Self::ProgramNotPublished(_) => "program-not-published",
            Self::ProgramPublishedOtherwise { .. } => "program-published-otherwise",
            Self::Internal => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::AgreementUnknown(_)
            | Self::JobUnknown(_)
            | Self::NoOutputForReader { .. }
            | Self::ProgramNotPublished(_) => StatusCode::NOT_FOUND,
            Self::BadName | Self::BadId(_) | Self::UploadInterrupted(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::RunRequest(e) => match e {
                RunRequestError::NotAllowed { .. } => StatusCode::FORBIDDEN,
                RunRequestError::BadSignature { .. }
                | RunRequestError::Expired { .. }
                | RunRequestError::FromTheFuture { .. } => StatusCode::UNAUTHORIZED,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            },
            Self::PartyNotOnboarded(_)
            | Self::EnvelopeSignatureInvalid(_)
            | Self::NotAParty(_)
            | Self::NotTheReader(_)
            | Self::PublisherNotServed => StatusCode::FORBIDDEN,
            Self::InvalidAgreement(_)
            | Self::AgreementNotInForce(_)
            | Self::BadBrokerUrl(_)
            | Self::NotAnEnvelope(_)
            | Self::NotTheDataset(_)
            | Self::BadPublication(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EnvelopeSuperseded
            | Self::DatasetMissing(_)
            | Self::RunRequestReplayed(_)
            | Self::JobNotFinished { .. }
            | Self::ProgramPublishedOtherwise { .. } => StatusCode::CONFLICT,
            Self::UploadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RunCapReached(_) | Self::TooManyJobs(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::QueueFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<HostRefusal> for ProblemResponse {
    fn from(refusal: HostRefusal) -> Self {
        let status = refusal.status();
        let title = match status {
            StatusCode::NOT_FOUND => "not found",
            StatusCode::BAD_REQUEST => "bad request",
            StatusCode::PAYLOAD_TOO_LARGE => "too large",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "not allowed",
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => "busy",
            StatusCode::INTERNAL_SERVER_ERROR => "internal error",
            _ => "refused",
        };
        ProblemResponse::new("host", refusal.code(), status, title, refusal.to_string())
    }
}

impl axum::response::IntoResponse for HostRefusal {
    fn into_response(self) -> axum::response::Response {
        ProblemResponse::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_failures_are_answered_without_their_cause() {
        let answer = ProblemResponse::from(HostRefusal::internal("disk /secret/path is full"));
        assert_eq!(answer.0.kind, "urn:sealroom:host:internal");
        assert_eq!(answer.0.status, 500);
        assert!(!answer.0.detail.contains("/secret/path"));
    }

    #[test]
    fn run_request_refusals_keep_their_specific_codes() {
        let forged = HostRefusal::RunRequest(RunRequestError::BadSignature {
            party: "bob".into(),
        });
        let answer = ProblemResponse::from(forged);
        assert_eq!(
            (answer.0.kind.as_str(), answer.0.status),
            ("urn:sealroom:host:run-request-forged", 401)
        );
        assert!(answer.0.detail.contains("bob"));
    }
}
