//! sealroom's transparency log.
//!
//! Every processing of an owner's data is recorded here before it can happen:
//! key brokers append a key-release entry and verify its inclusion proof before
//! they hand out a key. Anyone holding the log's verifier key can check entries,
//! proofs and checkpoints offline ([`proof`], [`checkpoint`], [`verify_logged_entry`]),
//! and owners [`audit`](audit::audit) the whole log.
//!
//! - [`proof`]: RFC 9162 hashing, inclusion and consistency verification;
//! - [`checkpoint`]: C2SP signed-note checkpoints, the log key and its pinned verifier key;
//! - [`entry`]: the signed statements that are logged;
//! - [`client`] and [`audit`]: a verifying client of the log service and the owner's audit.
//!
//! Nothing here needs a database, a server or an async runtime: the log's storage and its
//! group-committing writer are the operator's, in `sealroom-ledger-store`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod checkpoint;
pub mod client;
pub mod entry;
mod frontier;
pub mod proof;
pub mod wire;

pub use checkpoint::{CheckpointError, LogSigningKey, LogVerifierKey, VerifiedCheckpoint};
pub use client::{LogClient, LogClientError, verify_logged_entry};
pub use entry::{CheckedEntry, KeyRelease, LogEntry, LoggedRelease, Statement};
pub use frontier::Frontier;
pub use proof::{ProofError, leaf_hash, verify_consistency, verify_inclusion};
