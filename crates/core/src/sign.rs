//! Ed25519 signatures over domain-separated messages (verification only; signing keys live in `sealroom-crypto`).

use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::canonical::signing_message;
use crate::party::SigningPublicKey;

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "crate::bytes::b64_array")] pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..6]))
    }
}

/// A signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The public key is not a valid Ed25519 point.
    #[error("the public key is not a valid Ed25519 key")]
    BadKey,
    /// The signature does not match the message and key.
    #[error("the signature does not verify")]
    Mismatch,
}

/// Verifies `signature` over `label ‖ 0x00 ‖ bytes` with strict Ed25519 rules.
pub fn verify(
    key: &SigningPublicKey,
    label: &str,
    bytes: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let key = VerifyingKey::from_bytes(&key.0).map_err(|_| SignatureError::BadKey)?;
    let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
    key.verify_strict(&signing_message(label, bytes), &signature)
        .map_err(|_| SignatureError::Mismatch)
}
