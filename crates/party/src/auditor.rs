//! What an owner does to audit the log: run a verified audit and keep its state between runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sealroom_core::party::PartyCard;
use sealroom_ledger::audit::{AuditError, AuditReport, AuditState, audit};
use sealroom_ledger::{LogClient, LogClientError, LogVerifierKey};

use crate::agreement_file::write_atomically;
use crate::error::PartyError;

/// The default state file of an audit: `<name>.audit.json` beside the card.
pub fn default_state_path(card_path: &Path, card: &PartyCard) -> PathBuf {
    card_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{}.audit.json", card.name))
}

/// Audits `party` on the log at `host`, resuming from and then updating the state at `state_path`.
/// `progress` is told (entries read, entries to read). A forked, rewritten or tampered log is
/// [`PartyError::LogCompromised`].
pub fn run_audit(
    host: &str,
    log_key: &LogVerifierKey,
    party: &PartyCard,
    state_path: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<AuditReport, PartyError> {
    let mut state = match std::fs::read(state_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            PartyError::Audit(AuditError::State(format!(
                "{} is not an audit state file: {e}",
                state_path.display()
            )))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            AuditState::new(log_key, party.fingerprint()?)
        }
        Err(e) => return Err(PartyError::io(state_path)(e)),
    };
    let client = LogClient::new(host, Duration::from_secs(60));
    let report = audit(&client, log_key, party, &mut state, progress).map_err(|e| match e {
        AuditError::Log(LogClientError::Forked { .. })
        | AuditError::EntriesDoNotMatch { .. }
        | AuditError::Proof { .. } => PartyError::LogCompromised(e.to_string()),
        AuditError::Log(other) => PartyError::Log(other),
        other => PartyError::Audit(other),
    })?;
    let bytes = serde_json::to_vec_pretty(&state).map_err(sealroom_core::CanonicalError::from)?;
    write_atomically(state_path, &bytes)?;
    Ok(report)
}
