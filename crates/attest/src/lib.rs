//! Attestation: evidence and claims, the software simulator backend, and the verifier brokers and readers use.
//!
//! Hardware verifiers are coming one platform at a time: AWS Nitro Enclaves documents verify
//! with `nitro` (feature `verifiers`), not yet through [`EvidenceVerifier`]; SEV-SNP and TDX
//! evidence is refused with [`AttestError::PlatformNotSupported`], never accepted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod measure;
#[cfg(feature = "verifiers")]
pub mod nitro;
pub mod sim;
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
