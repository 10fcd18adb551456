//! HPKE for DAP (RFC 9180 base mode; DAP-18 §4.4.1, §7): sealing input shares to aggregators and
//! aggregate shares to the collector, under an `HpkeConfig` that names the suite.
//!
//! Suites: KEM DHKEM(X25519, HKDF-SHA256) (0x0020), KDF HKDF-SHA256 (0x0001), AEAD AES-128-GCM
//! (0x0001, the draft's mandatory suite) or ChaCha20-Poly1305 (0x0003). A configuration naming
//! anything else is refused.

use hpke::aead::{AesGcm128, ChaCha20Poly1305};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};

use crate::messages::{HpkeCiphertext, HpkeConfig};

type Kem = X25519HkdfSha256;

/// DHKEM(X25519, HKDF-SHA256).
pub const KEM_X25519_HKDF_SHA256: u16 = 0x0020;
/// HKDF-SHA256.
pub const KDF_HKDF_SHA256: u16 = 0x0001;
/// AES-128-GCM.
pub const AEAD_AES_128_GCM: u16 = 0x0001;
/// ChaCha20-Poly1305.
pub const AEAD_CHACHA20_POLY1305: u16 = 0x0003;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum HpkeError {
    /// The configuration names a suite this crate does not implement.
    #[error("unsupported HPKE suite: KEM {kem:#06x}, KDF {kdf:#06x}, AEAD {aead:#06x}")]
    UnsupportedSuite {
        /// KEM id.
        kem: u16,
        /// KDF id.
        kdf: u16,
        /// AEAD id.
        aead: u16,
    },
    /// The public or private key is not a key of the KEM.
    #[error("the HPKE key is malformed")]
    BadKey,
    /// The ciphertext names another configuration.
    #[error("the ciphertext is for HPKE config {got}, this key is config {expected}")]
    WrongConfig {
        /// This key's config id.
        expected: u8,
        /// The ciphertext's.
        got: u8,
    },
    /// Sealing failed.
    #[error("HPKE sealing failed")]
    Seal,
    /// The ciphertext does not open with this key, info and AAD.
    #[error("the ciphertext does not open (wrong key, context or associated data, or altered)")]
    Open,
}

#[derive(Clone, Copy)]
enum Aead {
    Aes128Gcm,
    ChaCha20Poly1305,
}

fn suite(config: &HpkeConfig) -> Result<Aead, HpkeError> {
    let unsupported = || HpkeError::UnsupportedSuite {
        kem: config.kem_id,
        kdf: config.kdf_id,
        aead: config.aead_id,
    };
    if config.kem_id != KEM_X25519_HKDF_SHA256 || config.kdf_id != KDF_HKDF_SHA256 {
        return Err(unsupported());
    }
    match config.aead_id {
        AEAD_AES_128_GCM => Ok(Aead::Aes128Gcm),
        AEAD_CHACHA20_POLY1305 => Ok(Aead::ChaCha20Poly1305),
        _ => Err(unsupported()),
    }
}

/// A receiver's HPKE configuration with its private key.
#[derive(Clone)]
pub struct HpkeKeypair {
    /// The public configuration, as published.
    pub config: HpkeConfig,
    private_key: Vec<u8>,
}

impl std::fmt::Debug for HpkeKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpkeKeypair")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HpkeKeypair {
    /// A fresh X25519 key pair as configuration `id`, with HKDF-SHA256 and AES-128-GCM.
    pub fn generate(id: u8) -> Self {
        let mut ikm = [0u8; 32];
        getrandom::fill(&mut ikm).expect("the operating system's random number generator failed");
        let (private, public) = Kem::derive_keypair(&ikm);
        Self {
            config: HpkeConfig {
                id,
                kem_id: KEM_X25519_HKDF_SHA256,
                kdf_id: KDF_HKDF_SHA256,
                aead_id: AEAD_AES_128_GCM,
                public_key: public.to_bytes().to_vec(),
            },
            private_key: private.to_bytes().to_vec(),
        }
    }

    /// A key pair from its parts, checked: the suite must be supported and the private key
    /// must match the configuration's public key.
    pub fn new(config: HpkeConfig, private_key: Vec<u8>) -> Result<Self, HpkeError> {
        suite(&config)?;
        let private = <Kem as hpke::Kem>::PrivateKey::from_bytes(&private_key)
            .map_err(|_| HpkeError::BadKey)?;
        if Kem::sk_to_pk(&private).to_bytes().as_slice() != config.public_key.as_slice() {
            return Err(HpkeError::BadKey);
        }
        Ok(Self {
            config,
            private_key,
        })
    }

    /// The private key's bytes (to store it; keep them secret).
    pub fn private_key(&self) -> &[u8] {
        &self.private_key
    }

    /// Opens `ciphertext` sealed to this configuration under `info` and `aad`.
    pub fn open(
        &self,
        ciphertext: &HpkeCiphertext,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, HpkeError> {
        if ciphertext.config_id != self.config.id {
            return Err(HpkeError::WrongConfig {
                expected: self.config.id,
                got: ciphertext.config_id,
            });
        }
        let private = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.private_key)
            .map_err(|_| HpkeError::BadKey)?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&ciphertext.enc)
            .map_err(|_| HpkeError::Open)?;
        let (mode, payload) = (&OpModeR::Base, &ciphertext.payload);
        match suite(&self.config)? {
            Aead::Aes128Gcm => hpke::single_shot_open::<AesGcm128, HkdfSha256, Kem>(
                mode, &private, &enc, info, payload, aad,
            ),
            Aead::ChaCha20Poly1305 => hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
                mode, &private, &enc, info, payload, aad,
            ),
        }
        .map_err(|_| HpkeError::Open)
    }
}

/// Seals `plaintext` to the receiver of `config` under `info`, binding `aad`.
pub fn seal(
    config: &HpkeConfig,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<HpkeCiphertext, HpkeError> {
    let aead = suite(config)?;
    let public = <Kem as hpke::Kem>::PublicKey::from_bytes(&config.public_key)
        .map_err(|_| HpkeError::BadKey)?;
    let mode = &OpModeS::Base;
    let (enc, payload) = match aead {
        Aead::Aes128Gcm => hpke::single_shot_seal::<AesGcm128, HkdfSha256, Kem>(
            mode, &public, info, plaintext, aad,
        ),
        Aead::ChaCha20Poly1305 => hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem>(
            mode, &public, info, plaintext, aad,
        ),
    }
    .map_err(|_| HpkeError::Seal)?;
    Ok(HpkeCiphertext {
        config_id: config.id,
        enc: enc.to_bytes().to_vec(),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Role, input_share_info};

    #[test]
    fn a_sealed_share_opens_only_with_its_key_context_and_data() {
        let key = HpkeKeypair::generate(7);
        let info = input_share_info(Role::Leader);
        let sealed = seal(&key.config, &info, b"aad", b"share").unwrap();
        assert_eq!(sealed.config_id, 7);
        assert_eq!(key.open(&sealed, &info, b"aad").unwrap(), b"share");
        assert!(matches!(
            key.open(&sealed, &input_share_info(Role::Helper), b"aad"),
            Err(HpkeError::Open)
        ));
        assert!(matches!(
            key.open(&sealed, &info, b"other"),
            Err(HpkeError::Open)
        ));
        assert!(matches!(
            HpkeKeypair::generate(7).open(&sealed, &info, b"aad"),
            Err(HpkeError::Open)
        ));
        let mut altered = sealed.clone();
        altered.payload[0] ^= 1;
        assert!(key.open(&altered, &info, b"aad").is_err());
        let mut other_id = sealed;
        other_id.config_id = 8;
        assert!(matches!(
            key.open(&other_id, &info, b"aad"),
            Err(HpkeError::WrongConfig { .. })
        ));
    }

    #[test]
    fn suites_other_than_x25519_hkdf_sha256_with_aes_or_chacha_are_refused() {
        let mut config = HpkeKeypair::generate(1).config;
        config.aead_id = AEAD_CHACHA20_POLY1305;
        assert!(seal(&config, b"i", b"a", b"p").is_ok());
        config.aead_id = 2;
        assert!(matches!(
            seal(&config, b"i", b"a", b"p"),
            Err(HpkeError::UnsupportedSuite { aead: 2, .. })
        ));
        config.aead_id = AEAD_AES_128_GCM;
        config.kem_id = 0x0010;
        assert!(seal(&config, b"i", b"a", b"p").is_err());
    }

    #[test]
    fn a_private_key_must_match_its_configuration() {
        let key = HpkeKeypair::generate(1);
        let again = HpkeKeypair::new(key.config.clone(), key.private_key().to_vec()).unwrap();
        assert_eq!(again.config, key.config);
        let other = HpkeKeypair::generate(1);
        assert!(HpkeKeypair::new(key.config, other.private_key().to_vec()).is_err());
    }
}
