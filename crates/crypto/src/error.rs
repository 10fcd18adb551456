//! Errors of the HPKE and signing primitives.

/// A cryptographic operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A public key is not a valid X25519 key.
    #[error("invalid X25519 public key")]
    BadPublicKey,
    /// HPKE could not seal.
    #[error("HPKE sealing failed")]
    SealFailed,
    /// The ciphertext does not open with this key and context: wrong key, wrong context, or tampered.
    #[error(
        "the ciphertext does not open with this key (wrong recipient, wrong context, or tampered)"
    )]
    OpenFailed,
    /// Decrypted data has the wrong length.
    #[error("decrypted key has {found} bytes, expected {expected}")]
    BadLength {
        /// How many there should be.
        expected: usize,
        /// How many there are.
        found: usize,
    },
}
