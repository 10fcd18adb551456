//! The transparency log's storage, run by the operator: entries and tree hashes in SQLite,
//! committed together, and a writer thread that group-commits concurrent appends and answers
//! only once they are durable.
//!
//! Verifying the log needs none of this: entries, proofs, checkpoints, the verifying client and
//! the owner's audit are in `sealroom-ledger`, which pulls in no database, server or async
//! runtime.
//!
//! - [`store`]: the SQLite store (entries, stored hashes, roots, proofs, integrity check);
//! - [`log`]: the group-committing writer that signs checkpoints.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod log;
pub mod store;

pub use log::{AppendError, Appended, Log};
pub use store::{LogStore, StoreError};
