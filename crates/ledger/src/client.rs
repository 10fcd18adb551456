//! A client of the log service that trusts nothing it is told: every checkpoint
//! is checked against the pinned key and every proof is verified.

use std::time::Duration;

use sealroom_core::log::{LoggedEntry, ProofHash};
use sealroom_http::{HttpError, JsonClient};

use crate::checkpoint::{CheckpointError, LogVerifierKey, VerifiedCheckpoint};
use crate::proof::{ProofError, leaf_hash, verify_consistency, verify_inclusion};
use crate::wire::{AppendAnswer, CheckpointAnswer, EntriesAnswer, ProofAnswer};

/// The log could not be used, or misbehaved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogClientError {
    /// The log did not answer, or refused.
    #[error("transparency log: {0}")]
    Http(#[from] HttpError),
    /// A checkpoint failed verification.
    #[error("transparency log checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The log's checkpoint does not contain the entry it claims to have appended.
    #[error("the log placed the entry at index {index}, outside its checkpoint of {size} entries")]
    NotInCheckpoint {
        /// The claimed index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// An inclusion proof failed.
    #[error("inclusion proof of entry {index} failed: {source}")]
    Inclusion {
        /// The entry.
        index: u64,
        /// The underlying error.
        source: ProofError,
    },
    /// The log's new checkpoint does not extend one seen before: it forked or was rewritten.
    #[error(
        "LOG FORK: the checkpoint of {new_size} entries does not extend the one of {old_size} entries seen before ({reason})"
    )]
    Forked {
        /// The earlier size.
        old_size: u64,
        /// The new size.
        new_size: u64,
        /// What went wrong, in words.
        reason: String,
    },
}

/// A client of one log service.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    http: JsonClient,
}

fn hashes(proof: ProofAnswer) -> Vec<[u8; 32]> {
    proof.proof.into_iter().map(|h| h.0).collect()
}

impl LogClient {
    /// A client of the log served at `base` (e.g. `http://127.0.0.1:7800`).
    pub fn new(base: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').into(),
            http: JsonClient::new(timeout),
        }
    }

    /// Appends an entry; the answer is unverified.
    pub fn append(&self, entry: &[u8]) -> Result<AppendAnswer, LogClientError> {
        Ok(self
            .http
            .post_bytes(&format!("{}/v1/log/entries", self.base), entry)?)
    }

    /// The latest checkpoint, verified against `key`.
    pub fn checkpoint(&self, key: &LogVerifierKey) -> Result<VerifiedCheckpoint, LogClientError> {
        let answer: CheckpointAnswer =
            self.http.get(&format!("{}/v1/log/checkpoint", self.base))?;
        Ok(key.verify_checkpoint(&answer.checkpoint)?)
    }

    /// Up to `count` entries from `start` (unverified: callers check them against a checkpoint).
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, LogClientError> {
        let answer: EntriesAnswer = self.http.get(&format!(
            "{}/v1/log/entries?start={start}&count={count}",
            self.base
        ))?;
        Ok(answer.entries.into_iter().map(|e| e.0).collect())
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (unverified).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, LogClientError> {
        let answer: ProofAnswer = self.http.get(&format!(
            "{}/v1/log/proofs/inclusion?index={index}&size={size}",
            self.base
        ))?;
        Ok(hashes(answer))
    }

    /// The consistency proof between trees of `from` and `to` entries (unverified).
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, LogClientError> {
        let answer: ProofAnswer = self.http.get(&format!(
            "{}/v1/log/proofs/consistency?from={from}&to={to}",
            self.base
        ))?;
        Ok(hashes(answer))
    }

    /// Verifies that `new` extends `old`, fetching the consistency proof.
    pub fn check_extends(
        &self,
        old: &VerifiedCheckpoint,
        new: &VerifiedCheckpoint,
    ) -> Result<(), LogClientError> {
        let forked = |reason: String| LogClientError::Forked {
            old_size: old.size,
            new_size: new.size,
            reason,
        };
        if new.size < old.size {
            return Err(forked("the log shrank".into()));
        }
        if old.size == 0 {
            return Ok(());
        }
        let proof = if new.size == old.size {
            Vec::new()
        } else {
            self.consistency_proof(old.size, new.size)?
        };
        verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
            .map_err(|e| forked(e.to_string()))
    }

    /// Appends `entry` and proves it is in the log before returning: the checkpoint
    /// is signed by `key`, contains the entry, extends `last_seen` (if any), and
    /// the inclusion proof verifies.
    pub fn append_proven(
        &self,
        entry: &[u8],
        key: &LogVerifierKey,
        last_seen: Option<&VerifiedCheckpoint>,
    ) -> Result<(LoggedEntry, VerifiedCheckpoint), LogClientError> {
        let answer = self.append(entry)?;
        let checkpoint = key.verify_checkpoint(&answer.checkpoint)?;
        if answer.index >= checkpoint.size {
            return Err(LogClientError::NotInCheckpoint {
                index: answer.index,
                size: checkpoint.size,
            });
        }
        if let Some(old) = last_seen {
            self.check_extends(old, &checkpoint)?;
        }
        let proof = self.inclusion_proof(answer.index, checkpoint.size)?;
        verify_inclusion(
            &leaf_hash(entry).0,
            answer.index,
            checkpoint.size,
            &checkpoint.root,
            &proof,
        )
        .map_err(|source| LogClientError::Inclusion {
            index: answer.index,
            source,
        })?;
        let logged = LoggedEntry {
            index: answer.index,
            entry: entry.to_vec(),
            checkpoint: checkpoint.note.clone(),
            inclusion_proof: proof.into_iter().map(ProofHash).collect(),
        };
        Ok((logged, checkpoint))
    }
}

/// Verifies a [`LoggedEntry`] offline: its checkpoint is signed by `key` and the proof puts the entry in it.
pub fn verify_logged_entry(
    logged: &LoggedEntry,
    key: &LogVerifierKey,
) -> Result<VerifiedCheckpoint, LogClientError> {
    let checkpoint = key.verify_checkpoint(&logged.checkpoint)?;
    let proof: Vec<[u8; 32]> = logged.inclusion_proof.iter().map(|h| h.0).collect();
    verify_inclusion(
        &leaf_hash(&logged.entry).0,
        logged.index,
        checkpoint.size,
        &checkpoint.root,
        &proof,
    )
    .map_err(|source| LogClientError::Inclusion {
        index: logged.index,
        source,
    })?;
    Ok(checkpoint)
}
