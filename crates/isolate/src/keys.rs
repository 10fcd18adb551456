//! Obtaining dataset keys from the owners' brokers by remote attestation.

use sealroom_attest::Attester;
use sealroom_core::agreement::{DatasetTerms, SignedAgreement};
use sealroom_core::attestation::{IsolateKeys, report_data};
use sealroom_core::ids::{Digest, JobId};
use sealroom_core::labels;
use sealroom_core::run::SignedRunRequest;
use sealroom_core::wire::{
    Challenge, ChallengeRequest, ReleaseAnswer, ReleaseRequest, SignedReleaseRequest, release_aad,
};
use sealroom_crypto::identity::EphemeralSigner;
use sealroom_crypto::{DataKey, EnvelopeHeader, HpkeKeyPair, open_sealed};

use crate::error::IsolateError;

/// The problem type prefix of a broker's key-release refusals.
const REFUSAL_TYPE_PREFIX: &str = "urn:sealroom:refusal:";
use sealroom_http::{HttpError, JsonClient};

/// The keys an isolate makes for one job; they die with the process.
#[derive(Debug)]
pub struct EphemeralIdentity {
    /// Released data keys are sealed to this.
    pub hpke: HpkeKeyPair,
    /// Signs the receipt.
    pub signer: EphemeralSigner,
}

impl EphemeralIdentity {
    /// Fresh keys.
    pub fn generate() -> Self {
        Self {
            hpke: HpkeKeyPair::generate(),
            signer: EphemeralSigner::generate(),
        }
    }

    /// The public halves.
    pub fn public(&self) -> IsolateKeys {
        IsolateKeys {
            hpke: self.hpke.public,
            signing: self.signer.public(),
        }
    }
}

/// One dataset whose key is wanted.
#[derive(Debug, Clone, Copy)]
pub struct KeyTarget<'a> {
    /// The dataset's terms.
    pub dataset: &'a DatasetTerms,
    /// Its envelope header.
    pub header: &'a EnvelopeHeader,
    /// The header's digest.
    pub header_digest: Digest,
    /// The digest of the whole envelope file.
    pub envelope_digest: Digest,
}

/// Asks owners' brokers for keys on behalf of one job.
pub struct KeyRequester<'a> {
    /// HTTP client.
    pub client: &'a JsonClient,
    /// Produces evidence.
    pub attester: &'a dyn Attester,
    /// The job's ephemeral keys.
    pub identity: &'a EphemeralIdentity,
    /// The agreement.
    pub agreement: &'a SignedAgreement,
    /// The party's request that started the job.
    pub run_request: &'a SignedRunRequest,
    /// The job (derived from the run request).
    pub job_id: JobId,
}

/// A challenge obtained from a broker, kept between the dry run and the release.
#[derive(Debug, Clone)]
pub struct PendingRelease {
    request: ReleaseRequest,
    header_digest: Digest,
    url: String,
    dataset: String,
}

impl KeyRequester<'_> {
    fn broker_url(&self, target: &KeyTarget<'_>) -> Result<String, IsolateError> {
        let mismatch = |reason: String| IsolateError::InputMismatch {
            dataset: target.dataset.qualified_name(),
            reason,
        };
        let owner = self
            .agreement
            .agreement
            .party(&target.dataset.owner)
            .ok_or_else(|| mismatch("the owner is not a party".into()))?;
        match owner.broker_base() {
            Some(Ok(base)) => Ok(base.to_string()),
            Some(Err(e)) => Err(mismatch(e.to_string())),
            None => Err(mismatch("the owner has no broker URL".into())),
        }
    }

    /// An HTTP failure as a job failure. Only a broker's own refusal (a problem document of
    /// type `urn:sealroom:refusal:…`) is passed on; any other answer's text stays out of job
    /// records, so a URL that is not a broker cannot be read through the isolate.
    fn unavailable(dataset: &str, e: HttpError) -> IsolateError {
        let reason = match e {
            HttpError::Refused(problem) if problem.kind.starts_with(REFUSAL_TYPE_PREFIX) => {
                return IsolateError::KeyRefused {
                    dataset: dataset.into(),
                    problem,
                };
            }
            HttpError::Refused(problem) => format!(
                "the broker answered HTTP {} with a problem that is not a key-release refusal",
                problem.status
            ),
            HttpError::Status { status, .. } => {
                format!("the broker answered HTTP {status} (its answer is not shown)")
            }
            HttpError::BadAnswer { .. } => "the broker's answer is not a release answer".into(),
            other => other.to_string(),
        };
        IsolateError::BrokerUnavailable {
            dataset: dataset.into(),
            reason,
        }
    }

    /// Signs a release request with the job's ephemeral key, which the evidence binds.
    fn sign(&self, request: ReleaseRequest) -> Result<SignedReleaseRequest, IsolateError> {
        let bytes = SignedReleaseRequest::signed_bytes(&request).map_err(|source| {
            IsolateError::Encoding {
                what: "a release request",
                source,
            }
        })?;
        let signature = self.identity.signer.sign(labels::RELEASE_REQUEST, &bytes);
        Ok(SignedReleaseRequest { request, signature })
    }

    /// Gets a challenge and checks, without spending anything, that the broker would release the key.
    pub fn preflight(&self, target: &KeyTarget<'_>) -> Result<PendingRelease, IsolateError> {
        let dataset = target.dataset.qualified_name();
        let url = self.broker_url(target)?;
        let challenge: Challenge = self
            .client
            .post(
                &format!("{url}/v1/challenges"),
                &ChallengeRequest {
                    agreement: self.agreement.clone(),
                    run_request: self.run_request.clone(),
                },
            )
            .map_err(|e| Self::unavailable(&dataset, e))?;
        let keys = self.identity.public();
        let evidence =
            self.attester
                .attest(report_data(&challenge.nonce, &self.agreement.id, &keys))?;
        let mut request = ReleaseRequest {
            agreement: self.agreement.clone(),
            run_request: self.run_request.clone(),
            dataset: target.dataset.name.clone(),
            nonce: challenge.nonce,
            isolate_keys: keys,
            evidence,
            header: target.header.clone(),
            envelope_digest: target.envelope_digest,
            dry_run: true,
        };
        let answer: ReleaseAnswer = self
            .client
            .post(&format!("{url}/v1/releases"), &self.sign(request.clone())?)
            .map_err(|e| Self::unavailable(&dataset, e))?;
        if !matches!(answer, ReleaseAnswer::WouldGrant { .. }) {
            return Err(IsolateError::BrokerUnavailable {
                dataset,
                reason: "the broker ignored the dry run".into(),
            });
        }
        request.dry_run = false;
        Ok(PendingRelease {
            request,
            header_digest: target.header_digest,
            url,
            dataset,
        })
    }

    /// Asks for the key for real: the broker debits the budget and releases it.
    pub fn release(&self, pending: PendingRelease) -> Result<ReleasedKey, IsolateError> {
        let PendingRelease {
            request,
            header_digest,
            url,
            dataset,
        } = pending;
        let answer: ReleaseAnswer = self
            .client
            .post(&format!("{url}/v1/releases"), &self.sign(request.clone())?)
            .map_err(|e| Self::unavailable(&dataset, e))?;
        let ReleaseAnswer::Granted(grant) = answer else {
            return Err(IsolateError::BrokerUnavailable {
                dataset,
                reason: "the broker answered a release with a dry run".into(),
            });
        };
        let aad = release_aad(
            &self.agreement.id,
            &self.job_id,
            &request.dataset,
            &header_digest,
        );
        let bytes = open_sealed(
            &self.identity.hpke.secret,
            &grant.sealed_key,
            labels::RELEASED_KEY,
            &aad,
        )
        .map_err(|source| IsolateError::KeyUnusable {
            dataset: dataset.clone(),
            source,
        })?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| IsolateError::KeyUnusable {
                dataset,
                source: sealroom_crypto::CryptoError::BadLength {
                    expected: 32,
                    found: bytes.len(),
                },
            })?;
        Ok(ReleasedKey {
            key: DataKey::from_bytes(key),
            epsilon: grant.epsilon_debited,
            log: grant.log,
        })
    }
}

/// A dataset key released by its owner's broker, with the log entry that records the release.
pub struct ReleasedKey {
    /// The dataset key.
    pub key: DataKey,
    /// ε debited from the dataset's budget.
    pub epsilon: sealroom_core::Epsilon,
    /// The release entry in the transparency log, proven included by the broker.
    pub log: sealroom_core::log::LoggedEntry,
}
