//! The broker's entry point: arbitrary bytes as sealroom evidence JSON (any platform, anything
//! attached), through `EvidenceVerifier` with simulator evidence refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealroom_attest::EvidenceVerifier;
use sealroom_core::attestation::Evidence;
use sealroom_core::clock::Timestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(evidence) = serde_json::from_slice::<Evidence>(data) {
        let _ = EvidenceVerifier::new().verify(&evidence, Timestamp(1_751_328_000));
    }
});
