//! A data owner's key broker.
//!
//! The broker holds its owner's HPKE private key and releases a dataset key
//! only to an isolate that proves, by remote attestation, that it runs a
//! runtime the owner approved for an agreement every party signed, while the
//! dataset's privacy budget allows the run. The budget is debited atomically
//! before the key leaves. Every refusal has a stable reason code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod records;
pub mod refusal;
pub mod release;
pub mod store;

pub use api::{Broker, BrokerConfig, DecisionRecorded};
pub use refusal::Refusal;
pub use store::BrokerStore;
