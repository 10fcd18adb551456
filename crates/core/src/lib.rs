//! Shared vocabulary of sealroom.
//!
//! Identifiers, party cards, the agreement model, canonical encoding and
//! domain-separated hashing, signed statements, and the messages exchanged
//! between the isolate, the brokers and the host. This crate performs no I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agreement;
pub mod attestation;
pub mod bytes;
pub mod canonical;
pub mod clock;
pub mod envelope;
pub mod epsilon;
pub mod ids;
pub mod labels;
pub mod log;
pub mod output;
pub mod party;
pub mod program;
pub mod request_auth;
pub mod run;
pub mod runtime;
pub mod schema;
pub mod sign;
pub mod statement;
pub mod wire;

pub use agreement::{Agreement, AgreementError, SignedAgreement};
pub use canonical::{CanonicalError, canonical_json, labeled_digest};
pub use clock::{Clock, SystemClock, Timestamp};
pub use epsilon::{Epsilon, EpsilonError};
pub use ids::{AgreementId, Digest, Fingerprint, JobId, Measurement};
pub use party::{HpkePublicKey, PartyCard, SigningPublicKey};
