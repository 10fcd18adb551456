//! The release check of DESIGN.md §5 step 6.

use sealroom_attest::dcap::DcapError;
use sealroom_attest::{AttestError, EvidenceVerifier};
use sealroom_core::agreement::{DatasetTerms, SignedAgreement};
use sealroom_core::attestation::Claims;
use sealroom_core::attestation::report_data;
use sealroom_core::clock::Timestamp;
use sealroom_core::envelope::{EnvelopeHeader, wrap_aad};
use sealroom_core::ids::{Digest, Measurement};
use sealroom_core::labels;
use sealroom_core::party::PartyCard;
use sealroom_core::run::SignedRunRequest;
use sealroom_core::runtime::RuntimeMismatch;
use sealroom_core::statement::Decision;
use sealroom_core::wire::{
    ReleaseAnswer, ReleaseGrant, ReleaseRequest, SignedReleaseRequest, release_aad,
};
use sealroom_crypto::{Identity, open_sealed, seal_to};
use sealroom_programs::BuiltinCatalog;

use sealroom_ledger::{KeyRelease, LogClient, LogEntry, LogVerifierKey, Statement};

use crate::refusal::Refusal;
use crate::store::{BrokerStore, Debit, StoreError};

/// A release failed: refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The request does not speak for an authorized run (see [`decide_release`]); not recorded.
    #[error(transparent)]
    Unauthenticated(Refusal),
    /// Refused with a reason, recorded for the owner.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed; nothing was released.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the release check needs.
pub struct ReleaseContext<'a> {
    /// The owner's identity (holds the HPKE key that unwraps dataset keys).
    pub identity: &'a Identity,
    /// Accepted platforms.
    pub verifier: &'a EvidenceVerifier,
    /// Budgets, challenges, decisions.
    pub store: &'a BrokerStore,
    /// The current time.
    pub now: Timestamp,
    /// The time hardware evidence is verified at: `now`, unless the broker pins it for testing
    /// with recorded evidence.
    pub evidence_at: Timestamp,
    /// The transparency log every release is written to first.
    pub log: &'a LogClient,
    /// The log's pinned verifier key.
    pub log_key: &'a LogVerifierKey,
}

/// Appends queued entries (the owner's decisions) to the log, oldest first.
pub fn flush_log_outbox(
    store: &BrokerStore,
    log: &LogClient,
    log_key: &LogVerifierKey,
) -> Result<Result<(), Refusal>, StoreError> {
    for (id, entry) in store.log_outbox()? {
        let last = match store.last_checkpoint()? {
            Some(note) => match log_key.verify_checkpoint(&note) {
                Ok(c) => Some(c),
                Err(e) => return Ok(Err(Refusal::LogInvalid(e.to_string()))),
            },
            None => None,
        };
        match log.append_proven(&entry, log_key, last.as_ref()) {
            Ok((_, checkpoint)) => store.logged(id, &checkpoint.note)?,
            Err(e) => return Ok(Err(e.into())),
        }
    }
    Ok(Ok(()))
}

/// This broker's owner is a party to `agreement`, which is in force, and `run_request` is a
/// fresh request for it by a party allowed to start runs. Returns the owner's card as the
/// agreement lists it. Challenges and releases are only for such runs.
pub fn authorized_run<'a>(
    me: &PartyCard,
    agreement: &'a SignedAgreement,
    run_request: &SignedRunRequest,
    now: Timestamp,
) -> Result<&'a PartyCard, Refusal> {
    agreement
        .check_in_force(now)
        .map_err(Refusal::AgreementNotInForce)?;
    agreement
        .agreement
        .check_program(&BuiltinCatalog)
        .map_err(Refusal::AgreementInvalid)?;
    let my_card = agreement
        .agreement
        .parties
        .iter()
        .find(|p| p.signing_key == me.signing_key)
        .ok_or_else(|| Refusal::NotAParty {
            agreement: agreement.id.short(),
        })?;
    run_request
        .check(agreement, now)
        .map_err(Refusal::RunRequest)?;
    Ok(my_card)
}

/// Whether a release request speaks for an authorized run of one of this owner's datasets at
/// all: signed by the isolate key it presents, [`authorized_run`], the dataset the owner's.
/// Refusals here are answered but not recorded for the owner: anyone can produce them.
fn authenticate<'a>(
    ctx: &ReleaseContext<'_>,
    signed_request: &'a SignedReleaseRequest,
) -> Result<(&'a PartyCard, &'a DatasetTerms), Refusal> {
    signed_request
        .verify()
        .map_err(|_| Refusal::RequestSignatureInvalid)?;
    let req = &signed_request.request;
    let my_card = authorized_run(
        &ctx.identity.card(),
        &req.agreement,
        &req.run_request,
        ctx.now,
    )?;
    let dataset = req
        .agreement
        .agreement
        .dataset(&my_card.name, &req.dataset)
        .ok_or_else(|| Refusal::NotOwnDataset {
            dataset: req.dataset.chars().take(64).collect(),
            agreement: req.agreement.id.short(),
        })?;
    Ok((my_card, dataset))
}

/// Runs every check; on success debits the budget and returns the key sealed to the isolate.
/// A dry run stops before anything is consumed.
pub fn decide_release(
    ctx: &ReleaseContext<'_>,
    signed_request: &SignedReleaseRequest,
) -> Result<ReleaseAnswer, ReleaseError> {
    let (my_card, dataset) =
        authenticate(ctx, signed_request).map_err(ReleaseError::Unauthenticated)?;
    let req = &signed_request.request;
    let signed = &req.agreement;
    let agreement = &signed.agreement;
    let me = ctx.identity.card();
    let job = req
        .job_id()
        .map_err(|e| Refusal::BadStatement(e.to_string()))?;
    let envelope = check_envelope(&req.header, signed, my_card, dataset)?;
    let (claims, measurement) = check_evidence(ctx, req, my_card)?;

    let my_fingerprint = my_card
        .fingerprint()
        .map_err(|e| Refusal::BadStatement(e.to_string()))?;
    let schema_digest = dataset
        .schema
        .digest()
        .map_err(|e| Refusal::BadStatement(e.to_string()))?;
    let aad = wrap_aad(&my_fingerprint, &signed.id, &dataset.name, &schema_digest);
    let key = open_sealed(
        ctx.identity.hpke_secret(),
        &req.header.wrapped_key,
        labels::ENVELOPE_KEY,
        &aad,
    )
    .map_err(|_| Refusal::WrongKey {
        dataset: dataset.name.clone(),
    })?;

    let privacy = &agreement.privacy;
    let debit = Debit {
        nonce: &req.nonce,
        agreement: signed.id,
        dataset: &dataset.name,
        job,
        platform: claims.platform,
        measurement,
        epsilon: privacy.epsilon_per_run,
        total: privacy.total_epsilon_per_dataset,
        envelope,
        envelope_file: req.envelope_digest,
        requested_by: &req.run_request.request.requested_by,
        max_runs_per_day: agreement.runs.max_runs_per_day,
        owner: &my_card.name,
    };
    if req.dry_run {
        ctx.store.check_release(&debit, ctx.now)??;
        ctx.log.checkpoint(ctx.log_key).map_err(Refusal::from)?;
        return Ok(ReleaseAnswer::WouldGrant {
            epsilon: privacy.epsilon_per_run,
        });
    }

    let out_aad = release_aad(&signed.id, &job, &dataset.name, &envelope);
    let sealed_key = seal_to(&req.isolate_keys.hpke, labels::RELEASED_KEY, &out_aad, &key)
        .map_err(|_| {
            Refusal::EvidenceInvalid("the isolate's HPKE key is not a valid X25519 key".into())
        })?;
    drop(key);

    let release = Statement::KeyRelease(KeyRelease {
        owner: my_card.name.clone(),
        owner_fingerprint: my_fingerprint,
        dataset: dataset.name.clone(),
        envelope,
        agreement: signed.id,
        job,
        requested_by: req.run_request.request.requested_by.clone(),
        platform: claims.platform,
        measurement,
        epsilon: privacy.epsilon_per_run,
        nonce: req.nonce,
        at: ctx.now,
    });
    let entry = LogEntry::sign(release, me.signing_key, |label, bytes| {
        ctx.identity.sign(label, bytes)
    })
    .map_err(|e| Refusal::BadStatement(e.to_string()))?
    .to_bytes();
    // The owner's decisions still waiting to be logged go first, so that the log never shows a
    // release before the decision it depended on.
    let log_release = |last: Option<String>, waiting: Vec<Vec<u8>>| {
        let mut last = last
            .map(|note| ctx.log_key.verify_checkpoint(&note))
            .transpose()
            .map_err(|e| Refusal::LogInvalid(format!("the checkpoint saved earlier: {e}")))?;
        for decision in &waiting {
            let (_, checkpoint) = ctx
                .log
                .append_proven(decision, ctx.log_key, last.as_ref())?;
            last = Some(checkpoint);
        }
        let (logged, checkpoint) = ctx.log.append_proven(&entry, ctx.log_key, last.as_ref())?;
        Ok((logged, checkpoint.note))
    };
    let (remaining_micros, log) = ctx.store.debit(&debit, ctx.now, log_release)??;
    Ok(ReleaseAnswer::Granted(ReleaseGrant {
        sealed_key,
        epsilon_debited: privacy.epsilon_per_run,
        remaining_micros,
        log,
    }))
}

/// The envelope is this owner's, sealed for this agreement and dataset: returns its digest.
/// (Whether it is the one the owner registered is checked against the store.)
fn check_envelope(
    header: &EnvelopeHeader,
    signed: &SignedAgreement,
    owner: &PartyCard,
    dataset: &DatasetTerms,
) -> Result<Digest, Refusal> {
    if header.agreement != signed.id {
        return Err(Refusal::EnvelopeOtherAgreement {
            dataset: dataset.name.clone(),
            sealed_for: header.agreement.short(),
            agreement: signed.id.short(),
        });
    }
    header
        .verify_owner(owner)
        .map_err(|_| Refusal::EnvelopeForged {
            dataset: dataset.name.clone(),
            owner: owner.name.clone(),
        })?;
    let mismatch = |reason: String| Refusal::EnvelopeMismatch {
        dataset: dataset.name.clone(),
        reason,
    };
    if header.dataset != dataset.name {
        return Err(mismatch(format!("it was sealed as {:?}", header.dataset)));
    }
    let schema = dataset
        .schema
        .digest()
        .map_err(|e| mismatch(e.to_string()))?;
    if header.schema_digest != schema {
        return Err(mismatch(
            "it was sealed under another schema than the agreement declares".into(),
        ));
    }
    header.digest().map_err(|e| mismatch(e.to_string()))
}

/// The evidence verifies (at the broker's evidence time), on an accepted platform, not in debug
/// mode, with a TCB the agreement accepts, for a runtime the agreement lists and the owner
/// approved and has not revoked, binding the nonce, the agreement and the isolate's keys.
/// Returns the claims and the id of the runtime they match.
fn check_evidence(
    ctx: &ReleaseContext<'_>,
    req: &ReleaseRequest,
    owner: &PartyCard,
) -> Result<(Claims, Measurement), ReleaseError> {
    let agreement = &req.agreement.agreement;
    let claims = ctx
        .verifier
        .verify(&req.evidence, ctx.evidence_at)
        .map_err(|e| match e {
            AttestError::SimulatorNotAccepted | AttestError::PlatformNotSupported { .. } => {
                Refusal::PlatformNotAccepted {
                    platform: req.evidence.platform,
                    reason: e.to_string(),
                }
            }
            // A platform below every TCB level Intel still describes has no claims to judge.
            AttestError::Dcap(DcapError::TcbStatus { .. }) => {
                Refusal::TcbNotAccepted(e.to_string())
            }
            other => Refusal::EvidenceInvalid(other.to_string()),
        })?;
    let measurement = agreement.check_claims(&claims).map_err(|e| match e {
        RuntimeMismatch::PlatformNotInAgreement(platform) => Refusal::PlatformNotAccepted {
            platform,
            reason: "the agreement accepts no runtime on this platform".into(),
        },
        RuntimeMismatch::Debug => Refusal::DebugMode,
        RuntimeMismatch::MigrationAgent => Refusal::PlatformNotAccepted {
            platform: claims.platform,
            reason: e.to_string(),
        },
        RuntimeMismatch::NotAccepted { platform, summary } => Refusal::MeasurementNotInAgreement {
            platform,
            runtime: summary,
        },
        other => Refusal::TcbNotAccepted(other.to_string()),
    })?;
    match ctx
        .store
        .decision(&req.agreement.id, claims.platform, &measurement)?
    {
        None => {
            return Err(Refusal::MeasurementNotApproved {
                measurement,
                owner: owner.name.clone(),
            }
            .into());
        }
        Some(d) if d.decision == Decision::Revoke => {
            return Err(Refusal::MeasurementRevoked {
                measurement,
                owner: owner.name.clone(),
                at: d.issued_at,
            }
            .into());
        }
        Some(_) => {}
    }
    if report_data(&req.nonce, &req.agreement.id, &req.isolate_keys) != claims.report_data {
        return Err(Refusal::ReportDataMismatch.into());
    }
    Ok((claims, measurement))
}
