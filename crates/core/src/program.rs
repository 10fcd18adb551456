//! A program provider's signed publication of a Wasm module: what the host stores and the log
//! records when a party publishes a program for agreements to name by digest.

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_json};
use crate::clock::Timestamp;
use crate::ids::Fingerprint;
use crate::labels;
use crate::party::PartyCard;
use crate::sign::{Signature, SignatureError, verify};

/// What a provider states when it publishes a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramPublication {
    /// The program's name, e.g. `logistic-regression`.
    pub name: String,
    /// SHA-256 of the module's bytes (lowercase hex): what agreements name.
    pub module: String,
    /// The module's size in bytes.
    pub size: u64,
    /// SHA-256 of its documentation's bytes (lowercase hex).
    pub documentation: String,
    /// The digest of its source tree (`docs/formats.md`, "Source tree digest"), if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The provider's fingerprint.
    pub provider: Fingerprint,
    /// When it was signed.
    pub published_at: Timestamp,
}

/// A publication with its provider's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPublication {
    /// The publication.
    pub publication: ProgramPublication,
    /// The provider's signature over [`labels::PROGRAM_PUBLICATION`] and the canonical publication.
    pub signature: Signature,
}

impl SignedPublication {
    /// The canonical bytes that are signed.
    pub fn signed_bytes(publication: &ProgramPublication) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(publication)
    }

    /// Verifies the signature against the provider's card.
    pub fn verify(&self, provider: &PartyCard) -> Result<(), SignatureError> {
        let bytes = Self::signed_bytes(&self.publication).map_err(|_| SignatureError::Mismatch)?;
        verify(
            &provider.signing_key,
            labels::PROGRAM_PUBLICATION,
            &bytes,
            &self.signature,
        )
    }
}

/// The largest module a host stores and an isolate reads.
pub const MAX_MODULE_BYTES: u64 = 64 << 20;

/// SHA-256 of `bytes` as publications and agreements write it: 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Whether `text` is a SHA-256 digest as publications write them: 64 lowercase hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
