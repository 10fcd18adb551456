//! The log service's JSON messages (`/v1/log/...`).

use sealroom_core::log::ProofHash;
use serde::{Deserialize, Serialize};

/// Answer to `POST /v1/log/entries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendAnswer {
    /// The entry's index.
    pub index: u64,
    /// False when the same entry was already logged.
    pub new: bool,
    /// A signed checkpoint containing the entry.
    pub checkpoint: String,
}

/// Answer to `GET /v1/log/checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointAnswer {
    /// The latest signed checkpoint.
    pub checkpoint: String,
}

/// Answer to `GET /v1/log/entries?start=&count=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntriesAnswer {
    /// Index of the first entry.
    pub start: u64,
    /// The entries' bytes, in order.
    pub entries: Vec<EntryBytes>,
}

/// One entry's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryBytes(#[serde(with = "sealroom_core::bytes::b64")] pub Vec<u8>);

/// Answer to `GET /v1/log/proofs/inclusion` and `/v1/log/proofs/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofAnswer {
    /// The proof's hashes.
    pub proof: Vec<ProofHash>,
}

/// Answer to `GET /v1/log/key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAnswer {
    /// The log's verifier key (pin it out of band; this answer is only a convenience).
    pub verifier_key: String,
}

/// Most entries one `GET /v1/log/entries` returns.
pub const MAX_ENTRIES_PER_PAGE: u64 = 1000;
