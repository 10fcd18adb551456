//! The measured sealroom runtime: runs one job inside an isolate and exits.
//!
//! This crate is the trusted computing base. It depends only on `core`,
//! `crypto`, `attest`, `privacy` and `programs` (plus a small HTTP client),
//! never on operator-side code. For each dataset it obtains the key from the
//! owner's broker by remote attestation, streams and decrypts the input, runs
//! the agreed program, adds noise, seals outputs to the named readers, and
//! signs a receipt with a key that dies with the process.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod inputs;
pub mod job;
pub mod keys;
pub mod release;

pub use error::IsolateError;
pub use job::run_job;
