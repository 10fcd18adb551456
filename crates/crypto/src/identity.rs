//! A party's private identity and its key file.
//!
//! The key file is JSON (`sealroom-key/v1`) holding the Ed25519 seed and the
//! X25519 private key. It is created with mode 0600, never overwritten, and
//! its secrets never appear in `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use sealroom_core::bytes;
use sealroom_core::canonical::signing_message;
use sealroom_core::clock::Timestamp;
use sealroom_core::envelope::{EnvelopeRegistration, SignedRegistration};
use sealroom_core::ids::AgreementId;
use sealroom_core::labels;
use sealroom_core::party::{PARTY_CARD_FORMAT, PartyCard, SigningPublicKey, is_valid_name};
use sealroom_core::request_auth::RequestAuth;
use sealroom_core::run::{RUN_REQUEST_FORMAT, RunRequest, SignedRunRequest};
use sealroom_core::sign::Signature;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::hpke_box::HpkeKeyPair;
use crate::secret::HpkeSecretKey;

/// Version of the key-file format.
pub const KEY_FILE_FORMAT: &str = "sealroom-key/v1";

/// A key file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The party name breaks the naming rules.
    #[error("party name {0:?} is not allowed: use 1 to 64 of a-z, 0-9, '-' and '_'")]
    BadName(String),
    /// Refusing to overwrite an existing file.
    #[error("{} already exists; refusing to overwrite a key file (move it away first)", .0.display())]
    Exists(PathBuf),
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a sealroom key file.
    #[error("{} is not a sealroom key file: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },
    /// The file is readable by other users.
    #[error("{} is readable by other users (mode {mode:o}); run `chmod 600` on it", path.display())]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    broker_url: Option<String>,
    signing_seed: String,
    hpke_secret: String,
}

/// A party's private keys: Ed25519 for signing, X25519 for opening HPKE.
pub struct Identity {
    name: String,
    broker_url: Option<String>,
    signing: SigningKey,
    hpke: HpkeKeyPair,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("keys", &"[redacted]")
            .finish()
    }
}

impl Identity {
    /// A new identity with fresh keys.
    pub fn generate(name: &str, broker_url: Option<String>) -> Result<Self, KeyFileError> {
        if !is_valid_name(name) {
            return Err(KeyFileError::BadName(name.into()));
        }
        let seed = Zeroizing::new(crate::random::array::<32>());
        Ok(Self {
            name: name.into(),
            broker_url,
            signing: SigningKey::from_bytes(&seed),
            hpke: HpkeKeyPair::generate(),
        })
    }

    /// The same identity with its key broker at `url` (known once the broker listens).
    pub fn with_broker_url(mut self, url: String) -> Self {
        self.broker_url = Some(url);
        self
    }

    /// The party name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public card.
    pub fn card(&self) -> PartyCard {
        PartyCard {
            format: PARTY_CARD_FORMAT.into(),
            name: self.name.clone(),
            signing_key: SigningPublicKey(self.signing.verifying_key().to_bytes()),
            hpke_key: self.hpke.public,
            broker_url: self.broker_url.clone(),
        }
    }

    /// The HPKE private key.
    pub fn hpke_secret(&self) -> &HpkeSecretKey {
        &self.hpke.secret
    }

    /// Signs `label ‖ 0x00 ‖ bytes`.
    pub fn sign(&self, label: &str, bytes: &[u8]) -> Signature {
        sign_with(&self.signing, label, bytes)
    }

    /// The `Authorization` header value that proves this party sent `method path_and_query` at
    /// `at` (see `sealroom_core::request_auth`).
    pub fn sign_request(&self, method: &str, path_and_query: &str, at: Timestamp) -> String {
        RequestAuth {
            key: SigningPublicKey(self.signing.verifying_key().to_bytes()),
            at,
            signature: self.sign(
                labels::HTTP_REQUEST,
                &RequestAuth::message(method, path_and_query, at),
            ),
        }
        .to_header()
    }

    /// A signed request for one run of `agreement`, issued at `now`.
    pub fn sign_run_request(&self, agreement: AgreementId, now: Timestamp) -> SignedRunRequest {
        let request = RunRequest {
            format: RUN_REQUEST_FORMAT.into(),
            agreement,
            requested_by: self.name.clone(),
            issued_at: now,
            nonce: crate::random::array(),
        };
        let bytes = request
            .signed_bytes()
            .expect("a run request has a canonical form");
        let signature = self.sign(labels::RUN_REQUEST, &bytes);
        SignedRunRequest { request, signature }
    }

    /// Registers an envelope this party sealed: its header and the digest of the whole file.
    pub fn sign_registration(&self, registration: EnvelopeRegistration) -> SignedRegistration {
        let bytes = SignedRegistration::signed_bytes(&registration)
            .expect("a registration has a canonical form");
        let signature = self.sign(labels::ENVELOPE_REGISTRATION, &bytes);
        SignedRegistration {
            registration,
            signature,
        }
    }

    /// Writes the key file with mode 0600, refusing to overwrite.
    pub fn write_key_file(&self, path: &Path) -> Result<(), KeyFileError> {
        let file = KeyFile {
            format: KEY_FILE_FORMAT.into(),
            name: self.name.clone(),
            broker_url: self.broker_url.clone(),
            signing_seed: bytes::encode(self.signing.as_bytes()),
            hpke_secret: bytes::encode(self.hpke.secret.expose()),
        };
        let text =
            Zeroizing::new(serde_json::to_string_pretty(&file).expect("key file serializes"));
        let io = |source| KeyFileError::Io {
            path: path.into(),
            source,
        };
        let mut contents = Zeroizing::new(text.as_bytes().to_vec());
        contents.push(b'\n');
        crate::private_file::create_private_file(path, &contents).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(path.into())
            } else {
                io(e)
            }
        })
    }

    /// Reads a key file, refusing one that other users can read.
    pub fn read_key_file(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.into(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyFileError::TooOpen {
                    path: path.into(),
                    mode,
                });
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let malformed = |reason: String| KeyFileError::Malformed {
            path: path.into(),
            reason,
        };
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(malformed(format!("unsupported format {:?}", file.format)));
        }
        let read32 = |field: &str, text: &str| -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
            let raw = Zeroizing::new(
                bytes::decode(text).map_err(|_| malformed(format!("{field} is not base64")))?,
            );
            let arr: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| malformed(format!("{field} is not 32 bytes")))?;
            Ok(Zeroizing::new(arr))
        };
        let seed = read32("signing_seed", &file.signing_seed)?;
        let hpke = read32("hpke_secret", &file.hpke_secret)?;
        if !is_valid_name(&file.name) {
            return Err(KeyFileError::BadName(file.name));
        }
        Ok(Self {
            name: file.name,
            broker_url: file.broker_url,
            signing: SigningKey::from_bytes(&seed),
            hpke: HpkeKeyPair::from_secret(HpkeSecretKey::from_bytes(*hpke)),
        })
    }
}

/// An ephemeral Ed25519 key, for isolates and the simulator platform.
pub struct EphemeralSigner(SigningKey);

impl fmt::Debug for EphemeralSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EphemeralSigner([redacted])")
    }
}

impl EphemeralSigner {
    /// A fresh key.
    pub fn generate() -> Self {
        let seed = Zeroizing::new(crate::random::array::<32>());
        Self(SigningKey::from_bytes(&seed))
    }

    /// A key from a stored seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The seed, for storing a long-lived key.
    pub fn seed(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// The public key.
    pub fn public(&self) -> SigningPublicKey {
        SigningPublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `label ‖ 0x00 ‖ bytes`.
    pub fn sign(&self, label: &str, bytes: &[u8]) -> Signature {
        sign_with(&self.0, label, bytes)
    }
}

fn sign_with(key: &SigningKey, label: &str, bytes: &[u8]) -> Signature {
    Signature(key.sign(&signing_message(label, bytes)).to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::sign::verify;

    #[test]
    fn key_file_round_trips_with_mode_0600_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alice.key");
        let id = Identity::generate("alice", Some("http://127.0.0.1:1".into())).unwrap();
        id.write_key_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(matches!(
            id.write_key_file(&path),
            Err(KeyFileError::Exists(_))
        ));
        let back = Identity::read_key_file(&path).unwrap();
        assert_eq!(back.card(), id.card());
        let sig = back.sign("l", b"m");
        assert!(verify(&id.card().signing_key, "l", b"m", &sig).is_ok());
        assert!(verify(&id.card().signing_key, "l2", b"m", &sig).is_err());
        assert!(!format!("{back:?}").contains(&bytes::encode(back.signing.as_bytes())));
    }

    #[test]
    fn open_key_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        Identity::generate("bob", None)
            .unwrap()
            .write_key_file(&path)
            .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Identity::read_key_file(&path),
            Err(KeyFileError::TooOpen { .. })
        ));
    }
}
