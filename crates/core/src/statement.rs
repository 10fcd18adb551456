//! Signed statements: approvals and revocations of runtime measurements by data owners.

use serde::{Deserialize, Serialize};

use crate::attestation::Platform;
use crate::canonical::{CanonicalError, canonical_json};
use crate::clock::Timestamp;
use crate::ids::{AgreementId, Fingerprint, Measurement};
use crate::labels;
use crate::party::PartyCard;
use crate::sign::{Signature, SignatureError, verify};

/// Whether an owner allows or forbids a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The runtime may receive the owner's keys under this agreement.
    Approve,
    /// It may not, from now on.
    Revoke,
}

/// An owner's decision about one runtime measurement for one agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasurementDecision {
    /// Approve or revoke.
    pub decision: Decision,
    /// The agreement it applies to.
    pub agreement: AgreementId,
    /// The platform.
    pub platform: Platform,
    /// The runtime measurement.
    pub measurement: Measurement,
    /// The owner deciding.
    pub owner: Fingerprint,
    /// When it was decided (for people; ordering uses `sequence`).
    pub issued_at: Timestamp,
    /// The owner's order of its decisions: a decision replaces the current one only if its
    /// sequence is larger, so a replayed older decision never wins. sealroom uses the signing
    /// time in microseconds since the Unix epoch, which needs no state and no waiting.
    pub sequence: u64,
}

impl MeasurementDecision {
    /// The domain-separation label for this decision.
    pub fn label(&self) -> &'static str {
        match self.decision {
            Decision::Approve => labels::APPROVAL,
            Decision::Revoke => labels::REVOCATION,
        }
    }
}

/// A decision with the owner's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedDecision {
    /// The decision.
    pub statement: MeasurementDecision,
    /// Signature over the label and the canonical statement.
    pub signature: Signature,
}

impl SignedDecision {
    /// The canonical bytes that are signed.
    pub fn signed_bytes(statement: &MeasurementDecision) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(statement)
    }

    /// Verifies the signature against the owner's card.
    pub fn verify(&self, owner: &PartyCard) -> Result<(), SignatureError> {
        let bytes = Self::signed_bytes(&self.statement).map_err(|_| SignatureError::Mismatch)?;
        verify(
            &owner.signing_key,
            self.statement.label(),
            &bytes,
            &self.signature,
        )
    }
}
