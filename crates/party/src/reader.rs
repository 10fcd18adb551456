//! What a result reader does: verify the receipt and open its outputs.

use sealroom_attest::EvidenceVerifier;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::attestation::report_data;
use sealroom_core::ids::JobId;
use sealroom_core::labels;
use sealroom_core::output::{OutputBundle, Receipt, ReleasedTable, SealedOutput};
use sealroom_crypto::{Identity, open_sealed};
use sealroom_ledger::{LogEntry, LogVerifierKey, Statement, verify_logged_entry};
use serde::Serialize;

use crate::error::PartyError;

/// An opened, verified output.
#[derive(Debug, Clone, Serialize)]
pub struct OpenedOutputs {
    /// The verified receipt.
    pub receipt: Receipt,
    /// The tables sealed to this reader.
    pub tables: Vec<ReleasedTable>,
}

fn refused(message: String) -> PartyError {
    PartyError::Receipt(message)
}

/// How long after its run request a receipt's evidence may have been made: the request's
/// lifetime and six hours of job (hosts kill jobs after ten minutes by default).
pub const RECEIPT_EVIDENCE_WINDOW_SECONDS: i64 =
    sealroom_core::run::RUN_REQUEST_MAX_AGE_SECONDS + 6 * 3600;

/// Verifies the receipt against the reader's own copy of the agreement and opens the outputs sealed to `identity`.
///
/// Checks, in order: the receipt is for `job` and names this agreement; the job derives from a
/// run request signed by a party the agreement allows to start runs; its signature; its evidence (under
/// `verifier`); that the evidence binds the job and the receipt's signing key; that the measured
/// runtime is one the agreement accepts; that every dataset's key release is in the transparency
/// log (checkpoint signed by `log_key`, inclusion proof, entry signed by the owner and matching
/// the receipt); that each output decrypts for this reader and matches the digest in the receipt.
pub fn open_outputs(
    identity: &Identity,
    agreement: &SignedAgreement,
    job: &JobId,
    bundle: &OutputBundle,
    verifier: &EvidenceVerifier,
    log_key: &LogVerifierKey,
) -> Result<OpenedOutputs, PartyError> {
    let receipt = &bundle.receipt.receipt;
    if &receipt.job_id != job {
        return Err(refused(format!(
            "the host served the receipt of job {} when job {job} was asked for",
            receipt.job_id
        )));
    }
    if receipt.agreement_id != agreement.id {
        return Err(refused(format!(
            "the receipt is for agreement {}, not {}",
            receipt.agreement_id, agreement.id
        )));
    }
    receipt
        .run_request
        .verify_signer(agreement)
        .map_err(|e| refused(format!("the job's run request is refused: {e}")))?;
    if receipt.run_request.job_id()? != receipt.job_id {
        return Err(refused(
            "the receipt's job was not started by the run request it names".into(),
        ));
    }
    bundle
        .receipt
        .verify_signature()
        .map_err(|_| refused("the receipt's signature does not verify".into()))?;
    // The evidence is judged as of the job, when the isolate made it (between the run request
    // and the end of the longest job), not as of today: a reader who opens outputs later is not
    // refused because a certificate has expired since.
    let started = receipt.run_request.request.issued_at;
    let claims = verifier
        .verify_within(
            &receipt.evidence,
            started,
            started.plus_seconds(RECEIPT_EVIDENCE_WINDOW_SECONDS),
        )
        .map_err(|e| refused(format!("the receipt's evidence is refused: {e}")))?;
    if claims.report_data
        != report_data(
            receipt.job_id.as_bytes(),
            &receipt.agreement_id,
            &receipt.isolate_keys,
        )
    {
        return Err(refused(
            "the receipt's evidence does not bind this job and the key that signed the receipt"
                .into(),
        ));
    }
    let runtime = agreement
        .agreement
        .check_claims(&claims)
        .map_err(|e| refused(format!("the receipt's evidence is not accepted: {e}")))?;
    if runtime != receipt.measurement || claims.platform != receipt.platform {
        return Err(refused(
            "the receipt names another runtime than its evidence".into(),
        ));
    }
    check_release_logs(agreement, receipt, log_key)?;
    let me = identity.card();
    let fingerprint = me.fingerprint()?;
    let mut tables = Vec::new();
    for sealed in &bundle.sealed {
        tables.push(open_one(identity, &fingerprint, sealed, receipt)?);
    }
    if tables.is_empty() {
        return Err(refused(format!("no output is sealed to {}", me.name)));
    }
    Ok(OpenedOutputs {
        receipt: receipt.clone(),
        tables,
    })
}

/// Each dataset of the agreement was read once, and its key release is proven in the log.
fn check_release_logs(
    agreement: &SignedAgreement,
    receipt: &Receipt,
    log_key: &LogVerifierKey,
) -> Result<(), PartyError> {
    let datasets = &agreement.agreement.datasets;
    if receipt.inputs.len() != datasets.len()
        || !datasets.iter().all(|d| {
            receipt
                .inputs
                .iter()
                .any(|i| i.owner == d.owner && i.dataset == d.name)
        })
    {
        return Err(refused(
            "the receipt's inputs are not exactly the agreement's datasets".into(),
        ));
    }
    for input in &receipt.inputs {
        let name = format!("{}/{}", input.owner, input.dataset);
        let log = &input.release_log;
        verify_logged_entry(log, log_key).map_err(|e| {
            refused(format!(
                "the key release of {name} is not proven in the transparency log: {e}"
            ))
        })?;
        let entry = LogEntry::from_bytes(&log.entry)
            .map_err(|e| refused(format!("the log entry for {name}: {e}")))?;
        let owner = agreement
            .agreement
            .party(&input.owner)
            .ok_or_else(|| refused(format!("{} is not a party to the agreement", input.owner)))?;
        let matches = match &entry.statement {
            Statement::KeyRelease(r) => {
                entry.writer == owner.signing_key
                    && r.owner == input.owner
                    && r.dataset == input.dataset
                    && r.envelope == input.header_digest
                    && r.requested_by == receipt.run_request.request.requested_by
                    && r.job == receipt.job_id
                    && r.agreement == receipt.agreement_id
                    && r.platform == receipt.platform
                    && r.measurement == receipt.measurement
                    && r.epsilon == input.epsilon_debited
            }
            _ => false,
        };
        if !matches {
            return Err(refused(format!(
                "log entry {} is not {}'s release of {name} (envelope {}) for this job, requester and runtime",
                log.index,
                input.owner,
                input.header_digest.short()
            )));
        }
    }
    Ok(())
}

fn open_one(
    identity: &Identity,
    fingerprint: &sealroom_core::ids::Fingerprint,
    sealed: &SealedOutput,
    receipt: &Receipt,
) -> Result<ReleasedTable, PartyError> {
    if sealed.job_id != receipt.job_id {
        return Err(refused(format!(
            "output {} belongs to job {}, not {}",
            sealed.output, sealed.job_id, receipt.job_id
        )));
    }
    if &sealed.reader_fingerprint != fingerprint {
        return Err(refused(format!(
            "output {:?} is sealed to {} ({}), not to you",
            sealed.output,
            sealed.reader,
            sealed.reader_fingerprint.short()
        )));
    }
    let aad = SealedOutput::aad(&sealed.job_id, &sealed.output, fingerprint);
    let plaintext = open_sealed(identity.hpke_secret(), &sealed.sealed, labels::OUTPUT, &aad)
        .map_err(|_| {
            refused(format!(
                "output {:?} does not open with your key: it is not sealed to you, or was altered",
                sealed.output
            ))
        })?;
    let table: ReleasedTable = serde_json::from_slice(&plaintext).map_err(|e| {
        refused(format!(
            "output {:?} is not a released table: {e}",
            sealed.output
        ))
    })?;
    let listed = receipt.outputs.iter().find(|o| o.output == sealed.output);
    match listed {
        Some(record) if record.digest == table.digest()? => Ok(table),
        Some(_) => Err(refused(format!(
            "output {:?} does not match the digest in the receipt",
            sealed.output
        ))),
        None => Err(refused(format!(
            "the receipt does not list output {:?}",
            sealed.output
        ))),
    }
}
