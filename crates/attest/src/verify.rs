//! Turning evidence into claims, or a precise refusal.

use std::path::PathBuf;

use sealroom_core::attestation::{Claims, Evidence, Platform};
use sealroom_core::canonical::canonical_json;
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

    /// Checks the evidence's signature chain and returns its claims.
    pub fn verify(&self, evidence: &Evidence) -> Result<Claims, AttestError> {
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
            platform => Err(AttestError::PlatformNotSupported { platform }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attester;
    use crate::sim::{SimAttester, SimPlatformKey};
    use sealroom_core::ids::Measurement;

    #[test]
    fn sim_evidence_verifies_only_under_the_pinned_key() {
        let key = SimPlatformKey::generate();
        let public = key.public();
        let attester = SimAttester::new(key, Measurement([3; 32]));
        let evidence = attester.attest([5; 64]);
        let claims = EvidenceVerifier::new()
            .accept_simulator_evidence(public)
            .verify(&evidence)
            .unwrap();
        assert_eq!(claims.measurement, Measurement([3; 32]));
        assert_eq!(claims.report_data, [5; 64]);
        assert!(!claims.debug);
        assert_eq!(
            EvidenceVerifier::new().verify(&evidence),
            Err(AttestError::SimulatorNotAccepted)
        );
        let other = SimPlatformKey::generate().public();
        assert!(matches!(
            EvidenceVerifier::new()
                .accept_simulator_evidence(other)
                .verify(&evidence),
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
                .verify(&tampered)
                .is_err()
        );
    }

    #[test]
    fn real_platforms_are_refused_until_verifiers_exist() {
        let evidence = Evidence {
            platform: Platform::SevSnp,
            bytes: vec![0; 10],
        };
        assert_eq!(
            EvidenceVerifier::new().verify(&evidence),
            Err(AttestError::PlatformNotSupported {
                platform: Platform::SevSnp
            })
        );
    }
}
