//! Secret keys as newtypes that zeroize on drop and never print their bytes.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit dataset key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(crate::random::array())
    }

    /// Wraps key bytes (the caller should zeroize its copy).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// An X25519 private key used with HPKE.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HpkeSecretKey(pub(crate) [u8; 32]);

impl HpkeSecretKey {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key bytes, for writing a key file.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for HpkeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HpkeSecretKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_bytes() {
        let key = DataKey::from_bytes([0xAB; 32]);
        let text = format!("{key:?}");
        assert!(
            !text.contains("171") && !text.to_lowercase().contains("ab, ab"),
            "{text}"
        );
        assert_eq!(
            format!("{:?}", HpkeSecretKey::from_bytes([7; 32])),
            "HpkeSecretKey([redacted])"
        );
    }
}
