//! Signed checkpoints in the C2SP `tlog-checkpoint` / `signed-note` formats.
//!
//! A checkpoint is the note text `<origin>\n<size>\n<base64 root>\n`, followed by a
//! blank line and one signature line `— <origin> <base64(key id ‖ Ed25519 signature)>`.
//! Parties pin the log's verifier key, `<origin>+<key id hex>+<base64(0x01 ‖ public key)>`.
//! Formatting and parsing come from `tlog_tiles` and `signed_note` (Cloudflare's
//! implementations of these C2SP specifications).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sealroom_core::canonical::signing_message;
use sealroom_core::party::SigningPublicKey;
use sealroom_core::sign::Signature;
use serde::{Deserialize, Serialize};
use signed_note::{
    Note, Signature as NoteSignature, StandardVerifier, Verifier as _, VerifierList,
};
use tlog_tiles::{Checkpoint, Hash};
use zeroize::Zeroizing;

/// Version of the log key file.
pub const LOG_KEY_FILE_FORMAT: &str = "sealroom-log-key/v1";

/// A checkpoint or key could not be made, read or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin is not a valid signed-note key name.
    #[error("log origin {0:?} is not allowed: it must be non-empty, without spaces or '+'")]
    BadOrigin(String),
    /// The verifier key text is malformed.
    #[error("{0:?} is not a log verifier key (expected <origin>+<key id>+<base64 key>)")]
    BadVerifierKey(String),
    /// The checkpoint text is not a well-formed signed note or checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// No signature by the pinned key, or a bad one.
    #[error("the checkpoint is not signed by the pinned log key {key}: {reason}")]
    NotSigned {
        /// The pinned verifier key.
        key: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// Signed by the key, but for another log.
    #[error("the checkpoint names log {found:?}, not the pinned log {expected:?}")]
    WrongOrigin {
        /// The pinned origin.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// The key file could not be read or written.
    #[error("log key file {}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },
}

/// The log's private signing key and its origin (the log's name).
pub struct LogSigningKey {
    origin: String,
    key: SigningKey,
}

impl fmt::Debug for LogSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogSigningKey({})", self.verifier_key())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogKeyFile {
    format: String,
    origin: String,
    seed: String,
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if signed_note::is_key_name_valid(origin) && !origin.contains(['\n', '—']) {
        Ok(())
    } else {
        Err(CheckpointError::BadOrigin(origin.into()))
    }
}

impl LogSigningKey {
    /// A fresh key for the log named `origin` (e.g. `example.com/sealroom-log`).
    pub fn generate(origin: &str) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        let seed: [u8; 32] = sealroom_crypto::random::array();
        Ok(Self {
            origin: origin.into(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key that signs checkpoints and the host's own log entries.
    pub fn public(&self) -> SigningPublicKey {
        SigningPublicKey(self.key.verifying_key().to_bytes())
    }

    /// The verifier key parties pin.
    pub fn verifier_key(&self) -> LogVerifierKey {
        LogVerifierKey::new(&self.origin, self.key.verifying_key())
    }

    /// Signs `label ‖ 0x00 ‖ bytes` (log entries written by the host itself).
    pub fn sign(&self, label: &str, bytes: &[u8]) -> Signature {
        Signature(self.key.sign(&signing_message(label, bytes)).to_bytes())
    }

    /// The signed checkpoint (signed-note text) of the tree of `size` entries with root `root`.
    pub fn sign_checkpoint(&self, size: u64, root: &[u8; 32]) -> String {
        let body = Checkpoint::new(&self.origin, size, Hash(*root), "")
            .expect("the origin was checked when the key was made");
        let mut note = Note::new(&body.to_bytes(), &[]).expect("a checkpoint is a valid note");
        let signer = NoteSigner(self);
        note.add_sigs(&[&signer])
            .expect("the origin is a valid key name");
        String::from_utf8(note.to_bytes()).expect("notes are UTF-8")
    }

    /// Writes the key file (mode 0600, never overwriting).
    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let text = Zeroizing::new(
            serde_json::to_string_pretty(&LogKeyFile {
                format: LOG_KEY_FILE_FORMAT.into(),
                origin: self.origin.clone(),
                seed: sealroom_core::bytes::encode(self.key.as_bytes()),
            })
            .expect("serializes"),
        );
        sealroom_crypto::private_file::create_private_file(path, text.as_bytes()).map_err(|e| {
            CheckpointError::KeyFile {
                path: path.into(),
                reason: e.to_string(),
            }
        })
    }

    /// Reads a key file.
    pub fn read(path: &Path) -> Result<Self, CheckpointError> {
        let bad = |reason: String| CheckpointError::KeyFile {
            path: path.into(),
            reason,
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        let file: LogKeyFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.format != LOG_KEY_FILE_FORMAT {
            return Err(bad(format!("unsupported format {:?}", file.format)));
        }
        check_origin(&file.origin)?;
        let seed = Zeroizing::new(
            sealroom_core::bytes::decode(&file.seed)
                .map_err(|_| bad("seed is not base64".into()))?,
        );
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| bad("seed is not 32 bytes".into()))?;
        Ok(Self {
            origin: file.origin,
            key: SigningKey::from_bytes(&seed),
        })
    }
}

struct NoteSigner<'a>(&'a LogSigningKey);

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.0.origin
    }

    fn key_id(&self) -> u32 {
        self.0.verifier_key().key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.0.key.sign(msg).to_vec())
    }
}

/// The log's public verifier key, as parties pin it: `<origin>+<key id>+<base64 key>`.
#[derive(Clone, PartialEq, Eq)]
pub struct LogVerifierKey {
    text: String,
    origin: String,
    key_id: u32,
    key: VerifyingKey,
}

impl LogVerifierKey {
    fn new(origin: &str, key: VerifyingKey) -> Self {
        let text = signed_note::new_ed25519_verifier_key(origin, &key);
        let key_id = signed_note::key_id(origin, &[&[1u8][..], key.as_bytes()].concat());
        Self {
            text,
            origin: origin.into(),
            key_id,
            key,
        }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The Ed25519 key that signs checkpoints and the host's own entries.
    pub fn public(&self) -> SigningPublicKey {
        SigningPublicKey(self.key.to_bytes())
    }

    /// Verifies a signed checkpoint: well formed, signed by this key, for this log.
    pub fn verify_checkpoint(&self, note: &str) -> Result<VerifiedCheckpoint, CheckpointError> {
        let parsed = Note::from_bytes(note.as_bytes())
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        let verifier = StandardVerifier::new(&self.text)
            .map_err(|_| CheckpointError::BadVerifierKey(self.text.clone()))?;
        let known = VerifierList::new(vec![Box::new(verifier.clone())]);
        parsed
            .verify(&known)
            .map_err(|e| CheckpointError::NotSigned {
                key: self.text.clone(),
                reason: e.to_string(),
            })?;
        self.check_every_signature_line(note, &parsed, &verifier)?;
        let body = Checkpoint::from_bytes(parsed.text())
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if body.origin() != self.origin {
            return Err(CheckpointError::WrongOrigin {
                expected: self.origin.clone(),
                found: body.origin().into(),
            });
        }
        Ok(VerifiedCheckpoint {
            size: body.size(),
            root: body.hash().0,
            note: note.into(),
        })
    }
}

impl LogVerifierKey {
    /// C2SP signed-note: a verifier must verify every signature whose key name and id it knows.
    /// `signed_note` checks only the first line for a key, so every line is checked here.
    fn check_every_signature_line(
        &self,
        note: &str,
        parsed: &Note,
        verifier: &StandardVerifier,
    ) -> Result<(), CheckpointError> {
        let Some((_, lines)) = note.split_once("\n\n") else {
            return Err(CheckpointError::Malformed("no signature lines".into()));
        };
        for line in lines.lines() {
            let signature = NoteSignature::from_bytes(line.as_bytes())
                .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
            if signature.name() == verifier.name()
                && signature.id() == verifier.key_id()
                && !verifier.verify(parsed.text(), signature.signature())
            {
                return Err(CheckpointError::NotSigned {
                    key: self.text.clone(),
                    reason: "a signature line for the pinned key does not verify".into(),
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for LogVerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for LogVerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogVerifierKey({})", self.text)
    }
}

impl FromStr for LogVerifierKey {
    type Err = CheckpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let bad = || CheckpointError::BadVerifierKey(text.into());
        StandardVerifier::new(text).map_err(|_| bad())?;
        let (origin, rest) = text.split_once('+').ok_or_else(bad)?;
        let (_, key64) = rest.split_once('+').ok_or_else(bad)?;
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key64)
            .map_err(|_| bad())?;
        let key: [u8; 32] = raw
            .get(1..)
            .and_then(|k| k.try_into().ok())
            .ok_or_else(bad)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| bad())?;
        check_origin(origin)?;
        Ok(Self::new(origin, key))
    }
}

impl Serialize for LogVerifierKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for LogVerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A checkpoint whose signature and origin were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// Entries in the tree.
    pub size: u64,
    /// The tree's root hash.
    pub root: [u8; 32],
    /// The signed note it came from.
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_bad_signature_line_for_the_pinned_key_is_refused() {
        let key = LogSigningKey::generate("example.com/log").unwrap();
        let verifier = key.verifier_key();
        let note = key.sign_checkpoint(5, &[7; 32]);
        assert_eq!(verifier.verify_checkpoint(&note).unwrap().size, 5);
        // The note's own signature line, repeated with its signature bytes flipped.
        let line = note.lines().last().unwrap();
        let (prefix, sig) = line.rsplit_once(' ').unwrap();
        let mut raw =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig).unwrap();
        raw[10] ^= 1;
        let forged = format!(
            "{note}{prefix} {}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw)
        );
        let refused = verifier.verify_checkpoint(&forged);
        assert!(
            matches!(&refused, Err(CheckpointError::NotSigned { reason, .. }) if reason.contains("does not verify")),
            "{refused:?}"
        );
        // Another key's line is ignored, as C2SP allows.
        let other = LogSigningKey::generate("witness.example/w").unwrap();
        let witnessed = other.sign_checkpoint(5, &[7; 32]);
        let cosigned = format!("{note}{}\n", witnessed.lines().last().unwrap());
        assert!(verifier.verify_checkpoint(&cosigned).is_ok());
    }
}
