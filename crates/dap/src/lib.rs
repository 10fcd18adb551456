//! Split aggregation for sealroom: the IETF Distributed Aggregation Protocol, draft 18
//! (`draft-ietf-ppm-dap-18`), on the Prio3 VDAFs of the `prio` crate.
//!
//! Clients split each measurement into two secret shares, one per aggregator, with a proof of
//! validity; neither aggregator alone learns a measurement, and the collector learns only
//! aggregates over batches. This crate holds the protocol's messages ([`messages`]) and its
//! error types ([`problem`]).

#![forbid(unsafe_code)]

pub mod client;
pub mod collector;
pub mod hpke;
pub mod messages;
pub mod problem;
pub mod task_file;
pub mod transport;
pub mod vdaf;
