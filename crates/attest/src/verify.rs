//! Turning evidence into claims, or a precise refusal.

use std::path::PathBuf;

use sealroom_core::attestation::{Claims, Evidence, Platform};
use sealroom_core::canonical::canonical_json;
use sealroom_core::clock::Timestamp;
use sealroom_core::labels;
use sealroom_core::party::SigningPublicKey;
use sealroom_core::sign::verify;

use crate::sim::{SIM_EVIDENCE_FORMAT, SimEvidence};

/// Evidence was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    /// Simulator evidence, but this verifier was not configured to accept it.
    #[error(
        "simulator evidence is not accepted here: the simulator protects nothing from the operator; configure accept_simulator_evidence with the pinned platform key to allow it for development"
    )]
    SimulatorNotAccepted,
    /// Evidence for a platform this build cannot verify yet.
    #[error("{platform} evidence cannot be verified by this build")]
    PlatformNotSupported {
        /// The platform.
        platform: Platform,
    },
    /// The evidence bytes are not of the platform's format.
    #[error("{platform} evidence is malformed: {reason}")]
    Malformed {
        /// The platform.
        platform: Platform,
        /// What went wrong, in words.
        reason: String,
    },
    /// The evidence signature does not verify against the pinned key.
    #[error("{platform} evidence is not signed by the pinned platform key")]
    BadSignature {
        /// The platform.
        platform: Platform,
    },
    /// This isolate could not produce evidence on its platform.
    #[error("cannot produce attestation evidence: {reason}")]
    Producing {
        /// What went wrong, in words.
        reason: String,
    },
    /// Hardware evidence arrived without what its verification needs attached.
    #[error("{platform} evidence needs {what} attached (the operator fetches it from the vendor)")]
    MissingEndorsements {
        /// The platform.
        platform: Platform,
        /// What is missing.
        what: &'static str,
    },
    /// An SEV-SNP report was refused.
    #[cfg(feature = "verifiers")]
    #[error(transparent)]
    Snp(#[from] crate::snp::SnpError),
    /// A TDX or SGX quote was refused.
    #[cfg(feature = "verifiers")]
    #[error(transparent)]
    Dcap(#[from] crate::dcap::DcapError),
    /// A Nitro attestation document was refused.
    #[cfg(feature = "verifiers")]
    #[error(transparent)]
    Nitro(#[from] crate::nitro::NitroError),
    /// The simulator platform key file could not be used.
    #[error("simulator platform key {}: {reason}", path.display())]
    PlatformKey {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },
}

/// Verifies evidence from the platforms a deployment accepts.
#[derive(Debug, Clone, Default)]
pub struct EvidenceVerifier {
    accept_simulator_evidence: Option<SigningPublicKey>,
}

impl EvidenceVerifier {
    /// A verifier that accepts no simulator evidence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also accepts simulator evidence signed by `platform_key`. Insecure: for development only.
    pub fn accept_simulator_evidence(mut self, platform_key: SigningPublicKey) -> Self {
        self.accept_simulator_evidence = Some(platform_key);
        self
    }

    /// Like [`Self::verify`], for evidence made at an unknown time between `from` and `until`
    /// (a receipt's, made during its job): it verifies if it does at some time of that window.
    /// Nitro documents are judged at their own timestamp (kept inside the window), other
    /// evidence at each end of it (certificates and collateral valid at the start of a job, or
    /// refreshed during it). The error is the one at the window's start.
    pub fn verify_within(
        &self,
        evidence: &Evidence,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Claims, AttestError> {
        let mut times = Vec::new();
        #[cfg(feature = "verifiers")]
        if evidence.platform == Platform::Nitro
            && let Some(made) = crate::nitro::document_timestamp(&evidence.bytes)
        {
            times.push(Timestamp(made.clamp(from.0, until.0)));
        }
        times.extend([from, until]);
        let mut first_error = None;
        for at in times {
            match self.verify(evidence, at) {
                Ok(claims) => return Ok(claims),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.expect("at least one time was tried"))
    }

    /// Checks the evidence's signatures and certificate chain as of `at` and returns its
    /// claims (debug mode and TCB status included: policy judges them).
    ///
    /// `at` is the verification time, never read from the wall clock here, so that a broker
    /// and a reader reviewing the same evidence later agree. Hardware evidence needs the
    /// `verifiers` feature; without it, it is refused as not supported.
    pub fn verify(&self, evidence: &Evidence, at: Timestamp) -> Result<Claims, AttestError> {
        match evidence.platform {
            Platform::Sim => {
                let key = self
                    .accept_simulator_evidence
                    .as_ref()
                    .ok_or(AttestError::SimulatorNotAccepted)?;
                let malformed = |reason: String| AttestError::Malformed {
                    platform: Platform::Sim,
                    reason,
                };
                let sim: SimEvidence = serde_json::from_slice(&evidence.bytes)
                    .map_err(|e| malformed(e.to_string()))?;
                if sim.body.format != SIM_EVIDENCE_FORMAT {
                    return Err(malformed(format!(
                        "unsupported format {:?}",
                        sim.body.format
                    )));
                }
                let body = canonical_json(&sim.body).map_err(|e| malformed(e.to_string()))?;
                verify(key, labels::SIM_EVIDENCE, &body, &sim.signature).map_err(|_| {
                    AttestError::BadSignature {
                        platform: Platform::Sim,
                    }
                })?;
                Ok(sim.claims())
            }
            #[cfg(feature = "verifiers")]
            _ => crate::hardware::verify(evidence, u64::try_from(at.0).unwrap_or(0)),
            #[cfg(not(feature = "verifiers"))]
            platform => {
                let _ = at;
                Err(AttestError::PlatformNotSupported { platform })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attester;
    use crate::sim::{SimAttester, SimPlatformKey};
    use sealroom_core::ids::Measurement;

    const AT: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn sim_evidence_verifies_only_under_the_pinned_key() {
        let key = SimPlatformKey::generate();
        let public = key.public();
        let attester = SimAttester::new(key, Measurement([3; 32]));
        let evidence = attester.attest([5; 64]).unwrap();
        let claims = EvidenceVerifier::new()
            .accept_simulator_evidence(public)
            .verify(&evidence, AT)
            .unwrap();
        assert_eq!(claims.sim_measurement(), Some(Measurement([3; 32])));
        assert_eq!(claims.report_data, [5; 64]);
        assert!(!claims.debug);
        assert_eq!(
            EvidenceVerifier::new().verify(&evidence, AT),
            Err(AttestError::SimulatorNotAccepted)
        );
        let other = SimPlatformKey::generate().public();
        assert!(matches!(
            EvidenceVerifier::new()
                .accept_simulator_evidence(other)
                .verify(&evidence, AT),
            Err(AttestError::BadSignature { .. })
        ));
        let mut tampered = evidence.clone();
        let text = String::from_utf8(tampered.bytes)
            .unwrap()
            .replace("\"debug\":false", "\"debug\":true");
        tampered.bytes = text.into_bytes();
        assert!(
            EvidenceVerifier::new()
                .accept_simulator_evidence(public)
                .verify(&tampered, AT)
                .is_err()
        );
    }

    #[cfg(not(feature = "verifiers"))]
    #[test]
    fn hardware_evidence_is_refused_without_the_verifiers() {
        let evidence = Evidence::new(Platform::SevSnp, vec![0; 10]);
        assert_eq!(
            EvidenceVerifier::new().verify(&evidence, AT),
            Err(AttestError::PlatformNotSupported {
                platform: Platform::SevSnp
            })
        );
    }

    #[cfg(feature = "verifiers")]
    #[test]
    fn hardware_evidence_without_its_endorsements_is_refused_by_name() {
        for platform in [Platform::SevSnp, Platform::Tdx, Platform::Sgx] {
            let evidence = Evidence::new(platform, vec![0; 10]);
            assert!(matches!(
                EvidenceVerifier::new().verify(&evidence, AT),
                Err(AttestError::MissingEndorsements { platform: p, .. }) if p == platform
            ));
        }
    }
}
