//! Log entries: signed statements about everything that touches an owner's data.
//!
//! An entry is the canonical JSON (RFC 8785) of a [`LogEntry`]; its leaf hash is
//! computed over exactly those bytes. The writer signs
//! `sealroom/v1/log-entry ‖ 0x00 ‖ canonical statement`. Key releases and
//! decisions are written by the owner's broker with the owner's key; the other
//! statements by the host with the log key.

use sealroom_core::agreement::PartySignature;
use sealroom_core::attestation::Platform;
use sealroom_core::canonical::{CanonicalError, canonical_json};
use sealroom_core::clock::Timestamp;
use sealroom_core::epsilon::Epsilon;
use sealroom_core::ids::{AgreementId, Digest, Fingerprint, JobId, Measurement};
use sealroom_core::labels;
use sealroom_core::output::OutputRecord;
use sealroom_core::party::SigningPublicKey;
use sealroom_core::program::SignedPublication;
use sealroom_core::sign::{Signature, verify};
use sealroom_core::statement::SignedDecision;
use serde::{Deserialize, Serialize};

/// Version of the log-entry format.
pub const LOG_ENTRY_FORMAT: &str = "sealroom-log-entry/v1";

/// Largest entry the log accepts, in bytes.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// What an entry states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Statement {
    /// Every party signed an agreement (written by the host when the agreement is stored).
    AgreementSigned {
        /// The agreement.
        agreement: AgreementId,
        /// Each party's signature over the agreement id.
        signatures: Vec<PartySignature>,
    },
    /// The host runs this runtime (written by the host when it starts).
    RuntimePublished {
        /// The platform.
        platform: Platform,
        /// The runtime measurement.
        measurement: Measurement,
        /// Built-in programs (`id@version`) the runtime carries.
        programs: Vec<String>,
    },
    /// An owner approved or revoked a runtime (written by the owner's broker).
    Decision {
        /// The owner-signed decision.
        decision: SignedDecision,
    },
    /// An owner's broker released a dataset key (written by that broker before the key leaves).
    KeyRelease(KeyRelease),
    /// A provider published a Wasm program (written by the host when it stores the module).
    ProgramPublished {
        /// The provider-signed publication: module, documentation and source digests.
        publication: SignedPublication,
    },
    /// A job finished and its outputs were stored (written by the host).
    JobFinished {
        /// The job.
        job: JobId,
        /// Its agreement.
        agreement: AgreementId,
        /// Digest of the signed receipt's canonical JSON.
        receipt: Digest,
        /// The outputs the receipt lists.
        outputs: Vec<OutputRecord>,
        /// When the host stored them.
        at: Timestamp,
    },
}

/// A key release, as logged by the owner's broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRelease {
    /// The owner's name.
    pub owner: String,
    /// The owner's fingerprint.
    pub owner_fingerprint: Fingerprint,
    /// The dataset.
    pub dataset: String,
    /// Digest of the owner-signed envelope header whose key was released (the one registered).
    pub envelope: Digest,
    /// The agreement it was released under.
    pub agreement: AgreementId,
    /// The job.
    pub job: JobId,
    /// The party whose signed run request started the job.
    pub requested_by: String,
    /// The isolate's platform.
    pub platform: Platform,
    /// The isolate's measured runtime.
    pub measurement: Measurement,
    /// ε debited from the dataset's budget.
    pub epsilon: Epsilon,
    /// The broker's single-use challenge nonce the isolate's evidence bound.
    #[serde(with = "sealroom_core::bytes::b64_array")]
    pub nonce: [u8; 32],
    /// When the broker released the key.
    pub at: Timestamp,
}

/// A key release and its index in the log: what a broker keeps for its owner and what an
/// audit finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedRelease {
    /// Index of the release entry in the log.
    pub index: u64,
    /// The release, as signed by the broker.
    pub release: KeyRelease,
}

impl Statement {
    /// A short name of the kind of statement (`approval`, `key-release`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Statement::AgreementSigned { .. } => "agreement-signed",
            Statement::RuntimePublished { .. } => "runtime-published",
            Statement::Decision { decision } => match decision.statement.decision {
                sealroom_core::statement::Decision::Approve => "approval",
                sealroom_core::statement::Decision::Revoke => "revocation",
            },
            Statement::KeyRelease(_) => "key-release",
            Statement::ProgramPublished { .. } => "program-published",
            Statement::JobFinished { .. } => "job-finished",
        }
    }
}

/// A statement signed by the party that wrote it to the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Always [`LOG_ENTRY_FORMAT`].
    pub format: String,
    /// What it states.
    pub statement: Statement,
    /// The writer's Ed25519 key.
    pub writer: SigningPublicKey,
    /// The writer's signature over the canonical statement.
    pub signature: Signature,
}

/// An entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Larger than [`MAX_ENTRY_BYTES`].
    #[error("the entry is {0} bytes; at most {MAX_ENTRY_BYTES} are accepted")]
    TooLarge(usize),
    /// Not a log entry.
    #[error("not a sealroom log entry: {0}")]
    Malformed(String),
    /// Not in canonical form, so its leaf hash would not be unique.
    #[error("the entry is not in canonical JSON (RFC 8785) form")]
    NotCanonical,
    /// The writer's signature does not verify.
    #[error("the entry's signature does not verify against its writer key")]
    BadSignature,
}

impl LogEntry {
    /// Signs `statement` as `writer` with `sign` (a function signing `label ‖ 0x00 ‖ bytes`).
    pub fn sign(
        statement: Statement,
        writer: SigningPublicKey,
        sign: impl FnOnce(&str, &[u8]) -> Signature,
    ) -> Result<Self, CanonicalError> {
        let signature = sign(labels::LOG_ENTRY, &canonical_json(&statement)?);
        Ok(Self {
            format: LOG_ENTRY_FORMAT.into(),
            statement,
            writer,
            signature,
        })
    }

    /// The entry's bytes as logged: its canonical JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        canonical_json(self).expect("log entries serialize")
    }

    /// Parses logged bytes, checking the format, canonical form and signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let entry: LogEntry =
            serde_json::from_slice(bytes).map_err(|e| EntryError::Malformed(e.to_string()))?;
        if entry.format != LOG_ENTRY_FORMAT {
            return Err(EntryError::Malformed(format!(
                "unsupported format {:?}",
                entry.format
            )));
        }
        if entry.to_bytes() != bytes {
            return Err(EntryError::NotCanonical);
        }
        let statement =
            canonical_json(&entry.statement).map_err(|e| EntryError::Malformed(e.to_string()))?;
        verify(
            &entry.writer,
            labels::LOG_ENTRY,
            &statement,
            &entry.signature,
        )
        .map_err(|_| EntryError::BadSignature)?;
        Ok(entry)
    }
}

/// An entry whose bytes were checked once ([`LogEntry::from_bytes`]), kept with those exact bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedEntry {
    entry: LogEntry,
    bytes: Vec<u8>,
}

impl CheckedEntry {
    /// Checks `bytes` as a log entry: format, canonical form, size and signature.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, EntryError> {
        Ok(Self {
            entry: LogEntry::from_bytes(&bytes)?,
            bytes,
        })
    }

    /// The parsed entry.
    pub fn entry(&self) -> &LogEntry {
        &self.entry
    }

    /// The bytes it is logged as.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
