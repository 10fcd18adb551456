//! Where a log entry sits in the transparency log, with the proof that puts it there.
//!
//! The types only carry bytes; `sealroom-ledger` defines the entries and verifies the proofs.

use serde::{Deserialize, Serialize};

/// One 32-byte node hash of a Merkle proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofHash(#[serde(with = "crate::bytes::b64_array")] pub [u8; 32]);

/// A log entry, its index, a signed checkpoint that contains it and the inclusion proof.
///
/// Anyone holding the log's public key can check it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedEntry {
    /// Position of the entry in the log (0-based).
    pub index: u64,
    /// The entry's exact bytes (canonical JSON of a `sealroom-log-entry/v1`).
    #[serde(with = "crate::bytes::b64")]
    pub entry: Vec<u8>,
    /// A C2SP signed-note checkpoint whose tree contains the entry.
    pub checkpoint: String,
    /// RFC 9162 inclusion proof of the entry in that checkpoint's tree.
    pub inclusion_proof: Vec<ProofHash>,
}
