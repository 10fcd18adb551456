//! The library behind the `sealroom` command: each module serves one role.
//!
//! - [`agreement_toml`]: the TOML form agreements are written in, validated into canonical form.
//! - [`agreement_file`]: reading, signing and writing agreement files.
//! - [`owner`]: what a data owner does: seal datasets, approve or revoke runtimes.
//! - [`reader`]: what a result reader does: verify a receipt and open its outputs.
//! - [`audit`]: what an owner does to audit the transparency log.
//! - [`remote`]: clients of the host and broker HTTP APIs.
//! - [`services`]: starting brokers and hosts as real processes and waiting for them.
//! - [`demo`]: a complete two-party collaboration on loopback.
//! - [`bench`](mod@bench): end-to-end measurements.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agreement_file;
pub mod agreement_toml;
pub mod audit;
pub mod bench;
pub mod demo;
pub mod owner;
pub mod reader;
pub mod remote;
pub mod services;

/// A check failed or a request was refused (exit code 1), as opposed to a usage or I/O error (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);
