//! What an owner does to audit the log: run a verified audit and keep its state between runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sealroom_core::party::PartyCard;
use sealroom_ledger::audit::{AuditError, AuditReport, AuditState, audit};
use sealroom_ledger::{LogClient, LogClientError, LogVerifierKey};

/// The log was forked, rewritten or tampered with (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LogCompromised(pub String);

/// The default state file of an audit: `<name>.audit.json` beside the card.
pub fn default_state_path(card_path: &Path, card: &PartyCard) -> PathBuf {
    card_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{}.audit.json", card.name))
}

/// Audits `party` on the log at `host`, resuming from and then updating the state at `state_path`.
/// `progress` is told (entries read, entries to read).
pub fn run_audit(
    host: &str,
    log_key: &LogVerifierKey,
    party: &PartyCard,
    state_path: &Path,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<AuditReport> {
    let mut state = match std::fs::read(state_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an audit state file", state_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            AuditState::new(log_key, party.fingerprint()?)
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", state_path.display())),
    };
    let client = LogClient::new(host, Duration::from_secs(60));
    let report = audit(&client, log_key, party, &mut state, progress).map_err(|e| match e {
        AuditError::Log(LogClientError::Forked { .. })
        | AuditError::EntriesDoNotMatch { .. }
        | AuditError::Proof { .. } => anyhow::Error::new(LogCompromised(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    save_atomically(state_path, &serde_json::to_vec_pretty(&state)?)?;
    Ok(report)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
fn save_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot save {}", path.display()))?;
    Ok(())
}
