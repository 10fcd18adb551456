//! What a party does, as library calls with typed errors: the `sealroom` command, the tests and
//! a future portal or Python package all call these.
//!
//! - [`authoring`]: the TOML form agreements are written in, mapped onto the agreement model.
//! - [`agreement_file`]: reading, signing and writing agreement files.
//! - [`owner`]: what a data owner does: seal and register datasets, upload them, approve or
//!   revoke runtimes.
//! - [`runs`]: what a party allowed to start runs does: sign a run request and wait for the job.
//! - [`reader`]: what a result reader does: verify a receipt and open its outputs.
//! - [`auditor`]: what an owner does to audit the transparency log.
//!
//! The HTTP clients live next to the APIs they call: `sealroom_host::client::HostClient` and
//! `sealroom_broker::client::BrokerClient`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agreement_file;
pub mod auditor;
pub mod authoring;
pub mod error;
pub mod owner;
pub mod programs;
pub mod reader;
pub mod runs;
pub mod source;

pub use error::{ErrorKind, PartyError};
