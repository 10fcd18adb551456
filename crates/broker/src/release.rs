//! The release check of DESIGN.md §5 step 6.

use sealroom_attest::{AttestError, EvidenceVerifier};
use sealroom_core::agreement::{DatasetTerms, SignedAgreement};
use sealroom_core::attestation::Claims;
use sealroom_core::attestation::report_data;
use sealroom_core::clock::Timestamp;
use sealroom_core::envelope::{EnvelopeHeader, wrap_aad};
use sealroom_core::ids::Digest;
use sealroom_core::labels;
use sealroom_core::party::PartyCard;
use sealroom_core::statement::Decision;
use sealroom_core::wire::{
    ReleaseAnswer, ReleaseGrant, ReleaseRequest, SignedReleaseRequest, release_aad,
};
use sealroom_crypto::{Identity, open_sealed, seal_to};

use sealroom_ledger::{KeyRelease, LogClient, LogEntry, LogVerifierKey, Statement};

use crate::refusal::Refusal;
use crate::store::{BrokerStore, Debit, StoreError};

/// A release failed: refused, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Refused with a reason.
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

/// Runs every check; on success debits the budget and returns the key sealed to the isolate.
/// A dry run stops before anything is consumed.
pub fn decide_release(
    ctx: &ReleaseContext<'_>,
    signed_request: &SignedReleaseRequest,
) -> Result<ReleaseAnswer, ReleaseError> {
    signed_request
        .verify()
        .map_err(|_| Refusal::RequestSignatureInvalid)?;
    let req = &signed_request.request;
    let signed = &req.agreement;
    signed
        .check_in_force(ctx.now)
        .map_err(Refusal::AgreementNotInForce)?;
    let agreement = &signed.agreement;
    let me = ctx.identity.card();
    let my_card = agreement
        .parties
        .iter()
        .find(|p| p.signing_key == me.signing_key)
        .ok_or_else(|| Refusal::NotAParty {
            agreement: signed.id.short(),
        })?;
    let dataset = agreement
        .dataset(&my_card.name, &req.dataset)
        .ok_or_else(|| Refusal::NotOwnDataset {
            dataset: req.dataset.clone(),
            agreement: signed.id.short(),
        })?;
    req.run_request
        .check(signed, ctx.now)
        .map_err(Refusal::RunRequest)?;
    let job = req
        .job_id()
        .map_err(|e| Refusal::BadStatement(e.to_string()))?;
    let envelope = check_envelope(&req.header, signed, my_card, dataset)?;
    let claims = check_evidence(ctx, req, my_card)?;

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
        measurement: claims.measurement,
        epsilon: privacy.epsilon_per_run,
        total: privacy.total_epsilon_per_dataset,
        envelope,
        requested_by: &req.run_request.request.requested_by,
        max_runs_per_day: agreement.runs.max_runs_per_day,
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

    flush_log_outbox(ctx.store, ctx.log, ctx.log_key)??;
    let release = Statement::KeyRelease(KeyRelease {
        owner: my_card.name.clone(),
        owner_fingerprint: my_fingerprint,
        dataset: dataset.name.clone(),
        envelope,
        agreement: signed.id,
        job,
        requested_by: req.run_request.request.requested_by.clone(),
        platform: claims.platform,
        measurement: claims.measurement,
        epsilon: privacy.epsilon_per_run,
        nonce: req.nonce,
        at: ctx.now,
    });
    let entry = LogEntry::sign(release, me.signing_key, |label, bytes| {
        ctx.identity.sign(label, bytes)
    })
    .map_err(|e| Refusal::BadStatement(e.to_string()))?
    .to_bytes();
    let log_release = |last: Option<String>| {
        let last = last
            .map(|note| ctx.log_key.verify_checkpoint(&note))
            .transpose()
            .map_err(|e| Refusal::LogInvalid(format!("the checkpoint saved earlier: {e}")))?;
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

/// The evidence verifies, on an accepted platform, not in debug mode, for a measurement the
/// agreement lists and the owner approved and has not revoked, binding the nonce, the agreement
/// and the isolate's keys.
fn check_evidence(
    ctx: &ReleaseContext<'_>,
    req: &ReleaseRequest,
    owner: &PartyCard,
) -> Result<Claims, ReleaseError> {
    let agreement = &req.agreement.agreement;
    let claims = ctx.verifier.verify(&req.evidence).map_err(|e| match e {
        AttestError::SimulatorNotAccepted | AttestError::PlatformNotSupported { .. } => {
            Refusal::PlatformNotAccepted {
                platform: req.evidence.platform,
                reason: e.to_string(),
            }
        }
        other => Refusal::EvidenceInvalid(other.to_string()),
    })?;
    if !agreement
        .runtimes
        .iter()
        .any(|r| r.platform == claims.platform)
    {
        return Err(Refusal::PlatformNotAccepted {
            platform: claims.platform,
            reason: "the agreement accepts no runtime on this platform".into(),
        }
        .into());
    }
    if claims.debug {
        return Err(Refusal::DebugMode.into());
    }
    if !agreement
        .accepted_measurements(claims.platform)
        .contains(&claims.measurement)
    {
        return Err(Refusal::MeasurementNotInAgreement {
            platform: claims.platform,
            measurement: claims.measurement,
        }
        .into());
    }
    match ctx
        .store
        .decision(&req.agreement.id, claims.platform, &claims.measurement)?
    {
        None => {
            return Err(Refusal::MeasurementNotApproved {
                measurement: claims.measurement,
                owner: owner.name.clone(),
            }
            .into());
        }
        Some(d) if d.decision == Decision::Revoke => {
            return Err(Refusal::MeasurementRevoked {
                measurement: claims.measurement,
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
    Ok(claims)
}
