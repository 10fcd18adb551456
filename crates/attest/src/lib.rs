//! Attestation: evidence and claims, the software simulator backend, and the verifier brokers and readers use.
//!
//! Hardware verifiers (feature `verifiers`, which brokers and readers enable and the isolate
//! leaves out): AWS Nitro Enclaves documents (`nitro`), AMD SEV-SNP reports (`snp`) and Intel
//! TDX and SGX quotes (`dcap`) verify offline at a given time. [`EvidenceVerifier`] runs them
//! and returns one [`Claims`](sealroom_core::attestation::Claims) shape for every platform;
//! without the feature it refuses hardware evidence with [`AttestError::PlatformNotSupported`],
//! never accepting it unverified.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "verifiers")]
mod certs;
#[cfg(feature = "verifiers")]
pub mod dcap;
#[cfg(feature = "verifiers")]
mod hardware;
pub mod measure;
#[cfg(feature = "verifiers")]
pub mod nitro;
pub mod sim;
#[cfg(feature = "verifiers")]
pub mod snp;
pub mod verify;

pub use measure::{current_measurement, measure_file};

use sealroom_core::attestation::{Evidence, Platform};
use sealroom_core::ids::Measurement;

/// Something that can produce evidence about the running isolate.
pub trait Attester {
    /// The platform whose evidence this produces.
    fn platform(&self) -> Platform;
    /// The measurement the evidence will carry.
    fn measurement(&self) -> Measurement;
    /// Evidence binding `report_data`.
    fn attest(&self, report_data: [u8; 64]) -> Evidence;
}
pub use sim::{SimAttester, SimPlatformKey};
pub use verify::{AttestError, EvidenceVerifier};
