//! What can go wrong in a party's operations, by kind: a refusal or failed check (exit code 1
//! for the `sealroom` command), a usage or I/O error (2), or a log that was forked or rewritten
//! (3).

use std::path::PathBuf;

use sealroom_core::AgreementError;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_http::HttpError;

/// A party operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartyError {
    /// An agreement file breaks a rule, or its program refuses its parameters.
    #[error("{}: {source}", path.display())]
    Agreement {
        /// The file.
        path: PathBuf,
        /// The rule it breaks.
        source: AgreementError,
    },
    /// A signed agreement file could not be read (for an agreement, the rule it breaks).
    #[error("{}: {reason}", path.display())]
    AgreementFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A signed agreement file states another id than its contents hash to.
    #[error("{}: states agreement id {stated} but its contents hash to {actual}: it was altered", path.display())]
    AgreementAltered {
        /// The file.
        path: PathBuf,
        /// The id it states.
        stated: AgreementId,
        /// The id its contents hash to.
        actual: AgreementId,
    },
    /// A signature could not be added to an agreement.
    #[error(transparent)]
    Signing(AgreementError),
    /// The key file's party is not a party of the agreement.
    #[error("{0} is not a party to this agreement")]
    NotAParty(String),
    /// The agreement lists other keys for this party than its key file holds.
    #[error("the agreement lists different keys for {0}: use the key file its card came from")]
    KeysDiffer(String),
    /// The agreement names no such dataset of this owner.
    #[error("agreement {agreement} names no dataset {dataset:?} owned by {owner}")]
    NotOwnDataset {
        /// The agreement (short id).
        agreement: String,
        /// The dataset asked for.
        dataset: String,
        /// The owner.
        owner: String,
    },
    /// A file to seal does not fit the dataset's schema, or cannot be read; nothing was sealed.
    #[error("{}: {source}; nothing was sealed", path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// The first row or column that does not fit, and why.
        source: crate::source::SourceError,
    },
    /// A file is not a usable envelope.
    #[error("{} is not a usable envelope: {source}", path.display())]
    Envelope {
        /// The file.
        path: PathBuf,
        /// Why.
        source: sealroom_crypto::EnvelopeError,
    },
    /// A receipt or output did not verify against the reader's agreement: nothing was shown.
    #[error("{0}")]
    Receipt(String),
    /// A service refused, or could not be reached.
    #[error("{0}")]
    Service(#[from] HttpError),
    /// A job ended without outputs.
    #[error("job {job} failed [{code}]: {message}")]
    JobFailed {
        /// The job.
        job: JobId,
        /// Its failure code.
        code: String,
        /// What happened.
        message: String,
    },
    /// A job did not end in time.
    #[error("job {job} is still {status} after {minutes} minutes; ask again later")]
    JobStillRunning {
        /// The job.
        job: JobId,
        /// Where it stands.
        status: String,
        /// How long was waited.
        minutes: u64,
    },
    /// The transparency log was forked, rewritten or tampered with.
    #[error("{0}")]
    LogCompromised(String),
    /// The transparency log could not be read or did not verify.
    #[error(transparent)]
    Log(#[from] sealroom_ledger::LogClientError),
    /// The audit could not run (its saved state belongs to another log or party, say).
    #[error(transparent)]
    Audit(sealroom_ledger::audit::AuditError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key file is unusable.
    #[error(transparent)]
    Key(#[from] sealroom_crypto::KeyFileError),
    /// Something that is signed or hashed has no canonical form.
    #[error(transparent)]
    Canonical(#[from] sealroom_core::CanonicalError),
}

/// How the `sealroom` command reports an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A refusal or a failed check: exit code 1.
    Refused,
    /// A usage or I/O error: exit code 2.
    Failed,
    /// The transparency log was forked, rewritten or tampered with: exit code 3.
    LogCompromised,
}

impl ErrorKind {
    /// The exit code of the `sealroom` command for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Refused => 1,
            Self::Failed => 2,
            Self::LogCompromised => 3,
        }
    }
}

impl PartyError {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Service(HttpError::Refused(_)) => ErrorKind::Refused,
            Self::Service(_)
            | Self::Io { .. }
            | Self::Key(_)
            | Self::Canonical(_)
            | Self::Log(_)
            | Self::JobStillRunning { .. } => ErrorKind::Failed,
            Self::LogCompromised(_) => ErrorKind::LogCompromised,
            _ => ErrorKind::Refused,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::wire::Problem;

    #[test]
    fn each_kind_maps_to_its_exit_code() {
        let refused = PartyError::Service(HttpError::Refused(Problem {
            kind: "urn:sealroom:refusal:budget-exhausted".into(),
            title: "key release refused".into(),
            status: 409,
            detail: "spent".into(),
        }));
        let unreachable = PartyError::Service(HttpError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        });
        let io = PartyError::io("x")(std::io::Error::other("disk"));
        for (error, code) in [
            (refused, 1),
            (PartyError::Receipt("bad".into()), 1),
            (PartyError::NotAParty("mallory".into()), 1),
            (unreachable, 2),
            (io, 2),
            (PartyError::LogCompromised("fork".into()), 3),
        ] {
            assert_eq!(error.kind().exit_code(), code, "{error}");
        }
    }
}
