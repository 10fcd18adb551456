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
pub mod nsm;
pub mod registers;
pub mod sim;
#[cfg(feature = "verifiers")]
pub mod snp;
pub mod tsm;
pub mod verify;

pub use measure::{current_measurement, measure_file};

use std::collections::BTreeMap;
use std::path::Path;

use sealroom_core::agreement::Agreement;
use sealroom_core::attestation::{Evidence, Platform};
use sealroom_core::ids::Measurement;
use sealroom_core::runtime::hardware_runtime_id;

/// Something that can produce evidence about the running isolate.
pub trait Attester {
    /// The platform whose evidence this produces.
    fn platform(&self) -> Platform;
    /// This runtime's id under `agreement`, as its receipt names it: on the simulator the
    /// executable's measurement; on hardware the id of the agreement's accepted set of registers
    /// this runtime matches, or if none does, the id of its own registers (which brokers refuse).
    fn runtime_id(&self, agreement: &Agreement) -> Measurement;
    /// Evidence binding `report_data`.
    fn attest(&self, report_data: [u8; 64]) -> Result<Evidence, AttestError>;
}

/// The id of the accepted runtime `registers` match under `agreement`, or of the registers.
fn hardware_runtime(
    platform: Platform,
    registers: &BTreeMap<String, String>,
    agreement: &Agreement,
) -> Measurement {
    agreement
        .runtime_terms(platform)
        .and_then(|terms| terms.matching_id(registers))
        .unwrap_or_else(|| hardware_runtime_id(platform, registers))
}

/// Environment variable naming the file the operator fetched for verifiers (TDX and SGX: the
/// DCAP collateral JSON from a PCCS; SEV-SNP: the VCEK, when the host supplies no certificate
/// table), attached to hardware evidence.
pub const TEE_COLLATERAL_ENV: &str = "SEALROOM_TEE_COLLATERAL";

/// The attester for the platform this process runs on: configfs-tsm (SEV-SNP or TDX) when
/// `tsm_root` exists, else the Nitro Secure Module when `nsm_device` exists, else the simulator
/// (whose key the host names in [`sim::SIM_PLATFORM_KEY_ENV`]).
pub fn select_attester(
    tsm_root: &Path,
    nsm_device: &Path,
) -> Result<Box<dyn Attester>, AttestError> {
    let collateral = || -> Result<Option<Vec<u8>>, AttestError> {
        match std::env::var_os(TEE_COLLATERAL_ENV) {
            None => Ok(None),
            Some(path) => std::fs::read(&path)
                .map(Some)
                .map_err(|e| AttestError::Producing {
                    reason: format!(
                        "cannot read the collateral {}: {e}",
                        Path::new(&path).display()
                    ),
                }),
        }
    };
    if tsm_root.is_dir() {
        return Ok(Box::new(tsm::TsmAttester::new(tsm_root, collateral()?)?));
    }
    if nsm_device.exists() {
        return Ok(Box::new(nsm::NsmAttester::new(nsm_device)?));
    }
    Ok(Box::new(SimAttester::for_current_process()?))
}

/// [`select_attester`] at the kernel's and the enclave's standard paths.
pub fn platform_attester() -> Result<Box<dyn Attester>, AttestError> {
    select_attester(
        Path::new(tsm::TSM_REPORT_ROOT),
        Path::new(sealroom_nsm::NSM_DEVICE),
    )
}

pub use sim::{SimAttester, SimPlatformKey};
pub use verify::{AttestError, EvidenceVerifier};
