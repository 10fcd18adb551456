//! HPKE (RFC 9180) single-shot sealing: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use sealroom_core::HpkePublicKey;
use sealroom_core::wire::Sealed;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::secret::HpkeSecretKey;

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = ChaCha20Poly1305;

/// An X25519 key pair for HPKE.
#[derive(Debug, Clone)]
pub struct HpkeKeyPair {
    /// The private key.
    pub secret: HpkeSecretKey,
    /// The public key.
    pub public: HpkePublicKey,
}

impl HpkeKeyPair {
    /// A fresh key pair from the OS CSPRNG.
    pub fn generate() -> Self {
        let ikm = Zeroizing::new(crate::random::array::<32>());
        let (sk, _) = Kem::derive_keypair(ikm.as_slice());
        Self::from_secret(HpkeSecretKey(sk.to_bytes().into()))
    }

    /// The key pair of a private key.
    pub fn from_secret(secret: HpkeSecretKey) -> Self {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&secret.0)
            .expect("any 32 bytes are an X25519 private key");
        let public = HpkePublicKey(Kem::sk_to_pk(&sk).to_bytes().into());
        Self { secret, public }
    }
}

/// Seals `plaintext` to `recipient` under context `info`, binding `aad`.
pub fn seal_to(
    recipient: &HpkePublicKey,
    info: &str,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed, CryptoError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.0)
        .map_err(|_| CryptoError::BadPublicKey)?;
    let (enc, ciphertext) = hpke::single_shot_seal::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info.as_bytes(),
        plaintext,
        aad,
    )
    .map_err(|_| CryptoError::SealFailed)?;
    Ok(Sealed {
        enc: enc.to_bytes().into(),
        ciphertext,
    })
}

/// Opens a ciphertext sealed with [`seal_to`]; the plaintext zeroizes on drop.
pub fn open_sealed(
    secret: &HpkeSecretKey,
    sealed: &Sealed,
    info: &str,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&secret.0)
        .map_err(|_| CryptoError::OpenFailed)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
        .map_err(|_| CryptoError::OpenFailed)?;
    hpke::single_shot_open::<Aead, Kdf, Kem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info.as_bytes(),
        &sealed.ciphertext,
        aad,
    )
    .map(Zeroizing::new)
    .map_err(|_| CryptoError::OpenFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_opens_only_with_the_right_key_and_context() {
        let alice = HpkeKeyPair::generate();
        let bob = HpkeKeyPair::generate();
        let sealed = seal_to(&alice.public, "ctx", b"aad", b"hello").unwrap();
        assert_eq!(
            open_sealed(&alice.secret, &sealed, "ctx", b"aad")
                .unwrap()
                .as_slice(),
            b"hello"
        );
        assert_eq!(
            open_sealed(&bob.secret, &sealed, "ctx", b"aad"),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(
            open_sealed(&alice.secret, &sealed, "other", b"aad"),
            Err(CryptoError::OpenFailed)
        );
        assert_eq!(
            open_sealed(&alice.secret, &sealed, "ctx", b"bad"),
            Err(CryptoError::OpenFailed)
        );
        let again = HpkeKeyPair::from_secret(alice.secret.clone());
        assert_eq!(again.public, alice.public);
    }
}
