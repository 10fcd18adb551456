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
pub mod wasm;

pub use error::IsolateError;
pub use job::run_job;

/// How long the isolate waits for one broker call (connecting takes at most
/// [`sealroom_http::CONNECT_TIMEOUT`], 5 s). A release includes the broker's durable log append
/// and proofs, each log call limited to 5 s at the broker; normally it takes milliseconds.
pub const BROKER_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The isolate asks for no key when the run request has less life left than this, so that no
/// broker refuses it as stale halfway through, after others released their keys.
pub const MIN_RUN_REQUEST_LIFE_SECONDS: i64 = 60;
