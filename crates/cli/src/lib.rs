//! The library behind the `sealroom` command: each module serves one role.
//!
//! What each party does (seal, decide, run, open, audit) is in `sealroom-party`; the clients of
//! the host and broker next to their APIs. This crate holds what only the command needs:
//!
//! - [`services`]: starting brokers and hosts as real processes and waiting for them.
//! - [`demo`]: a complete two-party collaboration on loopback.
//! - [`bench`](mod@bench): end-to-end measurements.
//! - [`synth`]: realistic synthetic data with its exact answers.
//! - [`dap`]: split aggregation: aggregators as processes, the load generator, output files.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
pub mod dap;
pub mod demo;
pub mod services;
pub mod synth;
