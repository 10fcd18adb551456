//! Run requests: a party asks for one run of an agreement's program.
//!
//! The request is signed by the party and fresh (time and nonce). The host checks it before it
//! starts an isolate; since the host is untrusted, the isolate forwards it and every owner's
//! broker checks it again before it releases a key. The job id is derived from the request, so
//! one request can start at most one job that any broker serves.

use serde::{Deserialize, Serialize};

use crate::agreement::SignedAgreement;
use crate::canonical::{CanonicalError, canonical_json, labeled_digest};
use crate::clock::Timestamp;
use crate::ids::{AgreementId, JobId};
use crate::labels;
use crate::sign::{Signature, verify};

/// Version of the run-request format.
pub const RUN_REQUEST_FORMAT: &str = "sealroom-run-request/v1";

/// How long a run request stays usable after it was issued, in seconds (it may wait in the
/// host's queue for a free isolate).
pub const RUN_REQUEST_MAX_AGE_SECONDS: i64 = 900;

/// How far in the future a request's time may lie (clock skew between machines), in seconds.
pub const CLOCK_SKEW_SECONDS: i64 = 120;

/// A party's request for one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Always [`RUN_REQUEST_FORMAT`].
    pub format: String,
    /// The agreement to run.
    pub agreement: AgreementId,
    /// The requesting party's name (it must be allowed to start runs by the agreement).
    pub requested_by: String,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// Random, so that two requests in the same second differ.
    #[serde(with = "crate::bytes::b64_array")]
    pub nonce: [u8; 16],
}

/// A run request with the requesting party's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRunRequest {
    /// The request.
    pub request: RunRequest,
    /// Signature over `sealroom/v1/run-request ‖ 0x00 ‖` the canonical request.
    pub signature: Signature,
}

/// Why a run request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunRequestError {
    /// The request names another agreement.
    #[error("the run request is for agreement {requested}, not {agreement}")]
    OtherAgreement {
        /// The agreement the request names.
        requested: AgreementId,
        /// The agreement at hand.
        agreement: AgreementId,
    },
    /// The requester is not allowed to start runs.
    #[error("{party:?} may not start runs of this agreement (allowed: {allowed}); ask one of them")]
    NotAllowed {
        /// Who asked.
        party: String,
        /// Who may.
        allowed: String,
    },
    /// The signature does not verify with the requester's key from the agreement.
    #[error("the run request is not signed by {party}'s key from the agreement")]
    BadSignature {
        /// Who it claims to be from.
        party: String,
    },
    /// The request is too old.
    #[error(
        "the run request was issued at {issued_at} and expired {max_age} s later (now {now}); sign a new one"
    )]
    Expired {
        /// When it was issued.
        issued_at: Timestamp,
        /// The time of the check.
        now: Timestamp,
        /// The allowed age.
        max_age: i64,
    },
    /// The request is dated in the future.
    #[error("the run request is dated {issued_at}, after now ({now}): check the requester's clock")]
    FromTheFuture {
        /// When it claims to be issued.
        issued_at: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// The job id does not derive from the request.
    #[error("job {job} was not started by this run request (it would be job {expected})")]
    JobMismatch {
        /// The job id presented.
        job: JobId,
        /// The job id the request derives.
        expected: JobId,
    },
}

impl RunRequestError {
    /// The stable refusal code hosts and brokers answer with (`urn:sealroom:…:<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            RunRequestError::NotAllowed { .. } => "run-not-allowed",
            RunRequestError::BadSignature { .. } => "run-request-forged",
            RunRequestError::Expired { .. } | RunRequestError::FromTheFuture { .. } => {
                "run-request-stale"
            }
            RunRequestError::OtherAgreement { .. } | RunRequestError::JobMismatch { .. } => {
                "run-request-mismatch"
            }
        }
    }
}

impl RunRequest {
    /// The canonical bytes that are signed.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(self)
    }
}

impl SignedRunRequest {
    /// The job this request starts: the first 16 bytes of the labeled digest of the request.
    pub fn job_id(&self) -> Result<JobId, CanonicalError> {
        let digest = labeled_digest(labels::JOB_ID, &self.request.signed_bytes()?);
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.0[..16]);
        Ok(JobId(id))
    }

    /// Checks that the request is for `agreement`, from a party allowed to start runs, signed by
    /// that party's key from the agreement, and fresh at `now`. (The agreement itself is checked
    /// by the caller.)
    pub fn check(
        &self,
        agreement: &SignedAgreement,
        now: Timestamp,
    ) -> Result<(), RunRequestError> {
        self.verify_signer(agreement)?;
        let r = &self.request;
        if r.issued_at.0 > now.0.saturating_add(CLOCK_SKEW_SECONDS) {
            return Err(RunRequestError::FromTheFuture {
                issued_at: r.issued_at,
                now,
            });
        }
        if now.0 > r.issued_at.0.saturating_add(RUN_REQUEST_MAX_AGE_SECONDS) {
            return Err(RunRequestError::Expired {
                issued_at: r.issued_at,
                now,
                max_age: RUN_REQUEST_MAX_AGE_SECONDS,
            });
        }
        Ok(())
    }

    /// Checks that the request is for `agreement` and signed by a party the agreement allows to
    /// start runs, whenever it was issued (what a reader checks of a finished job).
    pub fn verify_signer(&self, agreement: &SignedAgreement) -> Result<(), RunRequestError> {
        let r = &self.request;
        if r.agreement != agreement.id || r.format != RUN_REQUEST_FORMAT {
            return Err(RunRequestError::OtherAgreement {
                requested: r.agreement,
                agreement: agreement.id,
            });
        }
        let terms = &agreement.agreement;
        let card = terms
            .party(&r.requested_by)
            .filter(|_| terms.runs.requesters.contains(&r.requested_by))
            .ok_or_else(|| RunRequestError::NotAllowed {
                party: r.requested_by.clone(),
                allowed: terms.runs.requesters.join(", "),
            })?;
        let bad_signature = || RunRequestError::BadSignature {
            party: r.requested_by.clone(),
        };
        let bytes = r.signed_bytes().map_err(|_| bad_signature())?;
        verify(
            &card.signing_key,
            labels::RUN_REQUEST,
            &bytes,
            &self.signature,
        )
        .map_err(|_| bad_signature())
    }

    /// [`Self::check`], and that `job` is the job this request starts.
    pub fn check_for_job(
        &self,
        agreement: &SignedAgreement,
        job: &JobId,
        now: Timestamp,
    ) -> Result<(), RunRequestError> {
        self.check(agreement, now)?;
        let expected = self.job_id().map_err(|_| RunRequestError::BadSignature {
            party: self.request.requested_by.clone(),
        })?;
        if &expected != job {
            return Err(RunRequestError::JobMismatch {
                job: *job,
                expected,
            });
        }
        Ok(())
    }
}
