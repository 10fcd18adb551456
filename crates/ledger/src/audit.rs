//! An owner's audit of the log: every entry read, every proof checked.
//!
//! The auditor reads all entries it has not read before, folds them into a
//! [`Frontier`] and requires the resulting root to equal the new signed
//! checkpoint, so no entry can be hidden from it. The new checkpoint must extend
//! the one saved by the previous audit (a consistency proof), so the log cannot
//! be rewritten or forked without the auditor noticing. Each release of the
//! party's data is then checked once more with its own inclusion proof.

use sealroom_core::ids::{AgreementId, Fingerprint};
use sealroom_core::party::PartyCard;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{LogVerifierKey, VerifiedCheckpoint};
use crate::client::{LogClient, LogClientError};
use crate::entry::{LogEntry, LoggedRelease, Statement};
use crate::frontier::Frontier;
use crate::proof::{leaf_hash, verify_inclusion};
use crate::wire::MAX_ENTRIES_PER_PAGE;

/// Version of the saved audit state.
pub const AUDIT_STATE_FORMAT: &str = "sealroom-audit-state/v1";

/// What an auditor keeps between audits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditState {
    /// Always [`AUDIT_STATE_FORMAT`].
    pub format: String,
    /// The log's verifier key.
    pub log_key: String,
    /// The audited party.
    pub party: Fingerprint,
    /// The last verified checkpoint.
    pub checkpoint: Option<String>,
    /// The tree's right edge after the entries read so far.
    pub frontier: Frontier,
    /// The entries that concern the party, by index.
    pub findings: Vec<Finding>,
}

/// A logged entry that concerns the audited party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Its index.
    pub index: u64,
    /// Its bytes.
    #[serde(with = "sealroom_core::bytes::b64")]
    pub entry: Vec<u8>,
}

impl AuditState {
    /// A state for a first audit of `party` on the log with `key`.
    pub fn new(key: &LogVerifierKey, party: Fingerprint) -> Self {
        Self {
            format: AUDIT_STATE_FORMAT.into(),
            log_key: key.to_string(),
            party,
            checkpoint: None,
            frontier: Frontier::default(),
            findings: Vec::new(),
        }
    }
}

/// An audit failed; the saved state was not changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The log was unusable, or forked.
    #[error(transparent)]
    Log(#[from] LogClientError),
    /// The saved state belongs to another log or party, or is damaged.
    #[error("the saved audit state {0}")]
    State(String),
    /// The entries served do not add up to the signed checkpoint: some were hidden or altered.
    #[error(
        "LOG TAMPERING: the {size} entries the log served do not produce the root of its signed checkpoint"
    )]
    EntriesDoNotMatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// A release's inclusion proof failed.
    #[error("LOG TAMPERING: entry {index}: {reason}")]
    Proof {
        /// The entry.
        index: u64,
        /// What went wrong, in words.
        reason: String,
    },
}

/// Any other entry that concerns the party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditedEvent {
    /// Index in the log.
    pub index: u64,
    /// `approval`, `revocation`, `agreement-signed` or `job-finished`.
    pub kind: String,
    /// The agreement involved.
    pub agreement: AgreementId,
    /// What else there is to say.
    pub detail: String,
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// The party audited.
    pub party: String,
    /// The log's origin.
    pub log: String,
    /// Size of the verified checkpoint.
    pub size: u64,
    /// Size of the checkpoint saved by the previous audit, proven to be extended by this one.
    pub previous_size: Option<u64>,
    /// Entries read in this audit.
    pub entries_read: u64,
    /// Every release of the party's data, each with its inclusion proof verified.
    pub releases: Vec<LoggedRelease>,
    /// Approvals, revocations, agreements and finished jobs that concern the party.
    pub events: Vec<AuditedEvent>,
    /// Entries that claim to speak for the party but are not signed by it.
    pub forged: Vec<u64>,
}

fn concerns(entry: &LogEntry, party: &Fingerprint, agreements: &[AgreementId]) -> bool {
    match &entry.statement {
        Statement::KeyRelease(r) => &r.owner_fingerprint == party,
        Statement::Decision { decision } => &decision.statement.owner == party,
        Statement::AgreementSigned { signatures, .. } => {
            signatures.iter().any(|s| &s.fingerprint == party)
        }
        Statement::JobFinished { agreement, .. } => agreements.contains(agreement),
        Statement::ProgramPublished { publication } => &publication.publication.provider == party,
        Statement::RuntimePublished { .. } => false,
    }
}

/// Audits `party` on the log at `client`, resuming from `state`; on success `state` is updated
/// and should be saved. `progress` is told (entries read, entries to read).
pub fn audit(
    client: &LogClient,
    key: &LogVerifierKey,
    party: &PartyCard,
    state: &mut AuditState,
    mut progress: impl FnMut(u64, u64),
) -> Result<AuditReport, AuditError> {
    let fingerprint = party
        .fingerprint()
        .map_err(|e| AuditError::State(format!("cannot fingerprint the party card: {e}")))?;
    if state.format != AUDIT_STATE_FORMAT
        || state.log_key != key.to_string()
        || state.party != fingerprint
    {
        return Err(AuditError::State(format!(
            "is for another log or party (log {}, party {})",
            state.log_key,
            state.party.short()
        )));
    }
    if !state.frontier.is_well_formed() {
        return Err(AuditError::State(
            "is damaged (its frontier is malformed)".into(),
        ));
    }
    let previous = match &state.checkpoint {
        Some(note) => Some(
            key.verify_checkpoint(note)
                .map_err(|e| AuditError::State(e.to_string()))?,
        ),
        None => None,
    };
    let checkpoint = client.checkpoint(key)?;
    if let Some(old) = &previous {
        client.check_extends(old, &checkpoint)?;
        if old.size != state.frontier.size() {
            return Err(AuditError::State(
                "is damaged (frontier and checkpoint disagree)".into(),
            ));
        }
    }

    let mut next = state.clone();
    let mut agreements = agreements_of(&next.findings, &fingerprint);
    let start = next.frontier.size();
    while next.frontier.size() < checkpoint.size {
        let from = next.frontier.size();
        let count = (checkpoint.size - from).min(MAX_ENTRIES_PER_PAGE);
        let page = client.entries(from, count)?;
        if page.is_empty() {
            return Err(AuditError::EntriesDoNotMatch {
                size: checkpoint.size,
            });
        }
        for bytes in page.into_iter().take(count as usize) {
            let index = next.frontier.size();
            next.frontier.push(leaf_hash(&bytes).0);
            let Ok(entry) = LogEntry::from_bytes(&bytes) else {
                continue;
            };
            if concerns(&entry, &fingerprint, &agreements) {
                if let Statement::AgreementSigned { agreement, .. } = &entry.statement {
                    agreements.push(*agreement);
                }
                next.findings.push(Finding {
                    index,
                    entry: bytes,
                });
            }
        }
        progress(next.frontier.size() - start, checkpoint.size - start);
    }
    if next.frontier.root() != checkpoint.root {
        return Err(AuditError::EntriesDoNotMatch {
            size: checkpoint.size,
        });
    }

    let report = report(
        client,
        key,
        party,
        &fingerprint,
        &next,
        &checkpoint,
        previous.as_ref(),
        start,
    )?;
    next.checkpoint = Some(checkpoint.note);
    *state = next;
    Ok(report)
}

fn agreements_of(findings: &[Finding], party: &Fingerprint) -> Vec<AgreementId> {
    findings
        .iter()
        .filter_map(|f| LogEntry::from_bytes(&f.entry).ok())
        .filter_map(|e| match e.statement {
            Statement::AgreementSigned {
                agreement,
                signatures,
            } if signatures.iter().any(|s| &s.fingerprint == party) => Some(agreement),
            _ => None,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn report(
    client: &LogClient,
    key: &LogVerifierKey,
    party: &PartyCard,
    fingerprint: &Fingerprint,
    state: &AuditState,
    checkpoint: &VerifiedCheckpoint,
    previous: Option<&VerifiedCheckpoint>,
    start: u64,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport {
        party: party.name.clone(),
        log: key.origin().into(),
        size: checkpoint.size,
        previous_size: previous.map(|p| p.size),
        entries_read: checkpoint.size - start,
        releases: Vec::new(),
        events: Vec::new(),
        forged: Vec::new(),
    };
    for finding in &state.findings {
        let entry = LogEntry::from_bytes(&finding.entry).map_err(|e| AuditError::Proof {
            index: finding.index,
            reason: e.to_string(),
        })?;
        let by_party = entry.writer == party.signing_key;
        match entry.statement {
            Statement::KeyRelease(r) if by_party => {
                let proof = client.inclusion_proof(finding.index, checkpoint.size)?;
                verify_inclusion(
                    &leaf_hash(&finding.entry).0,
                    finding.index,
                    checkpoint.size,
                    &checkpoint.root,
                    &proof,
                )
                .map_err(|e| AuditError::Proof {
                    index: finding.index,
                    reason: e.to_string(),
                })?;
                report.releases.push(LoggedRelease {
                    index: finding.index,
                    release: r,
                });
            }
            Statement::Decision { decision } if by_party && decision.verify(party).is_ok() => {
                report.events.push(AuditedEvent {
                    index: finding.index,
                    kind: if decision.statement.decision
                        == sealroom_core::statement::Decision::Approve
                    {
                        "approval".into()
                    } else {
                        "revocation".into()
                    },
                    agreement: decision.statement.agreement,
                    detail: format!(
                        "{} runtime {} at {}",
                        decision.statement.platform.name(),
                        decision.statement.measurement.short(),
                        decision.statement.issued_at
                    ),
                });
            }
            Statement::KeyRelease(_) | Statement::Decision { .. } => {
                report.forged.push(finding.index)
            }
            // A program published in the party's name must carry its signature.
            Statement::ProgramPublished { publication } => {
                if publication.verify(party).is_err() {
                    report.forged.push(finding.index)
                }
            }
            Statement::AgreementSigned {
                agreement,
                signatures,
            } => {
                let valid = signatures
                    .iter()
                    .filter(|s| &s.fingerprint == fingerprint)
                    .all(|s| {
                        sealroom_core::sign::verify(
                            &party.signing_key,
                            sealroom_core::labels::AGREEMENT_SIGNATURE,
                            agreement.as_bytes(),
                            &s.signature,
                        )
                        .is_ok()
                    });
                if valid {
                    report.events.push(AuditedEvent {
                        index: finding.index,
                        kind: "agreement-signed".into(),
                        agreement,
                        detail: format!("signed by {} parties", signatures.len()),
                    });
                } else {
                    report.forged.push(finding.index);
                }
            }
            Statement::JobFinished {
                job,
                agreement,
                outputs,
                ..
            } => {
                report.events.push(AuditedEvent {
                    index: finding.index,
                    kind: "job-finished".into(),
                    agreement,
                    detail: format!("job {} sealed {} output(s)", job.short(), outputs.len()),
                });
            }
            Statement::RuntimePublished { .. } => {}
        }
    }
    Ok(report)
}
