//! Attestation: evidence and claims, the software simulator backend, and the verifier brokers and readers use.
//!
//! Real TEE verifiers (SEV-SNP, TDX, Nitro) are not implemented yet: their
//! evidence is refused with [`AttestError::PlatformNotSupported`], never accepted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod measure;
pub mod sim;
pub mod verify;

pub use measure::{current_measurement, measure_file};
pub use sim::{SimAttester, SimPlatformKey};
pub use verify::{AttestError, EvidenceVerifier};
