//! Party cards: a party's public identity.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_digest};
use crate::ids::Fingerprint;
use crate::labels;

/// An Ed25519 public key that verifies a party's signatures.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SigningPublicKey(#[serde(with = "crate::bytes::b64_array")] pub [u8; 32]);

/// An X25519 public key to which HPKE seals data for a party.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HpkePublicKey(#[serde(with = "crate::bytes::b64_array")] pub [u8; 32]);

impl fmt::Debug for SigningPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", crate::bytes::encode(&self.0))
    }
}

impl fmt::Debug for HpkePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "x25519:{}", crate::bytes::encode(&self.0))
    }
}

/// Version of the party card format.
pub const PARTY_CARD_FORMAT: &str = "sealroom-party-card/v1";

/// A party's public card: name, both public keys, and where its key broker listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyCard {
    /// Always [`PARTY_CARD_FORMAT`].
    pub format: String,
    /// Short name, unique within an agreement (`[a-z0-9_-]`, 1 to 64 characters).
    pub name: String,
    /// Verifies the party's signatures.
    pub signing_key: SigningPublicKey,
    /// Receives data sealed to the party.
    pub hpke_key: HpkePublicKey,
    /// Base URL of the party's key broker, if it owns data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_url: Option<String>,
}

impl PartyCard {
    /// SHA-256 of the canonical card.
    pub fn fingerprint(&self) -> Result<Fingerprint, CanonicalError> {
        canonical_digest(labels::PARTY_CARD, self).map(Fingerprint::from)
    }
}

/// Checks a party or dataset name: `[a-z0-9_-]`, 1 to 64 characters, starting with a letter or digit.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_restricted() {
        assert!(is_valid_name("ad-platform_2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("-x"));
        assert!(!is_valid_name("Ad"));
        assert!(!is_valid_name("a/b"));
    }
}
