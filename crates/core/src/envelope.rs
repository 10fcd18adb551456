//! The dataset envelope's header: what an owner sealed, for which agreement, signed by the owner.
//!
//! Reading and writing envelopes (and the AEAD) live in `sealroom-crypto`; this is the data
//! that brokers, hosts and isolates check without touching the payload.

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_json, labeled_digest};
use crate::ids::{AgreementId, Digest, Fingerprint};
use crate::labels;
use crate::party::{PartyCard, SigningPublicKey};
use crate::sign::{Signature, SignatureError, verify};
use crate::wire::Sealed;

/// Version of the envelope format.
pub const ENVELOPE_FORMAT: &str = "sealroom-envelope/v2";

/// The payload's content type: an Arrow IPC stream typed by the dataset's schema (payload
/// version 2; `sealroom-tables` writes and reads it).
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.apache.arrow.stream";

/// The content type of the CSV payload that earlier versions sealed (payload version 1), which
/// the isolate refuses with advice to seal again.
pub const LEGACY_CSV_CONTENT_TYPE: &str = "text/csv";

/// The envelope header, stored as canonical JSON and signed by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeHeader {
    /// Always [`ENVELOPE_FORMAT`].
    pub format: String,
    /// Owner's name.
    pub owner: String,
    /// Owner's fingerprint.
    pub owner_fingerprint: Fingerprint,
    /// The agreement this envelope was sealed for; it is useless under any other.
    pub agreement: AgreementId,
    /// Dataset name.
    pub dataset: String,
    /// Digest of the dataset schema.
    pub schema_digest: Digest,
    /// Content type of the plaintext ([`PAYLOAD_CONTENT_TYPE`]).
    pub content_type: String,
    /// Always `AES-256-GCM`.
    pub aead: String,
    /// Plaintext bytes per full chunk.
    pub chunk_size: u32,
    /// First 7 bytes of every chunk nonce.
    #[serde(with = "crate::bytes::b64_array")]
    pub nonce_prefix: [u8; 7],
    /// When the owner sealed it, in milliseconds since the Unix epoch. An owner's broker keeps
    /// only the newest envelope of a dataset current, so an older one cannot be replayed.
    pub sealed_at_ms: u64,
    /// The data key sealed with HPKE to the owner's key; the associated data is [`wrap_aad`].
    pub wrapped_key: Sealed,
    /// The owner's Ed25519 signature over `sealroom/v1/envelope-header-signature ‖ 0x00 ‖`
    /// the canonical JSON of every other field.
    pub signature: Signature,
}

impl EnvelopeHeader {
    /// `owner/dataset`, for messages.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.owner, self.dataset)
    }

    /// The canonical bytes the owner signs: the header without its signature.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut value = serde_json::to_value(self)?;
        if let Some(fields) = value.as_object_mut() {
            fields.remove("signature");
        }
        canonical_json(&value)
    }

    /// The header's canonical bytes, exactly as written in the envelope.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(self)
    }

    /// The header digest: the associated data of every chunk, and what owners register with
    /// their broker.
    pub fn digest(&self) -> Result<Digest, CanonicalError> {
        Ok(header_digest(&self.canonical_bytes()?))
    }

    /// Checks that `owner` sealed this header: its fingerprint and its signature.
    pub fn verify_owner(&self, owner: &PartyCard) -> Result<(), SignatureError> {
        let fingerprint = owner.fingerprint().map_err(|_| SignatureError::Mismatch)?;
        if fingerprint != self.owner_fingerprint {
            return Err(SignatureError::Mismatch);
        }
        self.verify_signed_by(&owner.name, &owner.signing_key)
    }

    /// Checks that the party named `name` with signing key `key` sealed this header (what an
    /// owner's broker checks, knowing its own key and name).
    pub fn verify_signed_by(
        &self,
        name: &str,
        key: &SigningPublicKey,
    ) -> Result<(), SignatureError> {
        if name != self.owner {
            return Err(SignatureError::Mismatch);
        }
        let bytes = self.signed_bytes().map_err(|_| SignatureError::Mismatch)?;
        verify(
            key,
            labels::ENVELOPE_HEADER_SIGNATURE,
            &bytes,
            &self.signature,
        )
    }
}

/// What an owner registers with its broker: an envelope's header and the digest of the whole
/// file. The broker releases keys only for the file registered last for a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeRegistration {
    /// The owner-signed header.
    pub header: EnvelopeHeader,
    /// Labeled digest (`sealroom/v1/envelope`) of the whole envelope file.
    pub envelope_digest: Digest,
}

/// A registration signed by the owner (`sealroom/v1/envelope-registration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRegistration {
    /// The registration.
    pub registration: EnvelopeRegistration,
    /// The owner's signature over the canonical registration.
    pub signature: Signature,
}

impl SignedRegistration {
    /// The canonical bytes the owner signs.
    pub fn signed_bytes(registration: &EnvelopeRegistration) -> Result<Vec<u8>, CanonicalError> {
        canonical_json(registration)
    }

    /// Checks that the party named `name` with signing key `key` sealed the header and signed
    /// the registration.
    pub fn verify_signed_by(
        &self,
        name: &str,
        key: &SigningPublicKey,
    ) -> Result<(), SignatureError> {
        self.registration.header.verify_signed_by(name, key)?;
        let bytes = Self::signed_bytes(&self.registration).map_err(|_| SignatureError::Mismatch)?;
        verify(key, labels::ENVELOPE_REGISTRATION, &bytes, &self.signature)
    }
}

/// The digest of a header's canonical bytes.
pub fn header_digest(canonical_header: &[u8]) -> Digest {
    labeled_digest(labels::ENVELOPE_HEADER, canonical_header)
}

/// Associated data of the wrapped key: binds the key to owner, agreement, dataset and schema.
pub fn wrap_aad(
    owner: &Fingerprint,
    agreement: &AgreementId,
    dataset: &str,
    schema_digest: &Digest,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(96 + dataset.len());
    aad.extend_from_slice(owner.as_bytes());
    aad.extend_from_slice(agreement.as_bytes());
    aad.extend_from_slice(schema_digest.as_bytes());
    aad.extend_from_slice(dataset.as_bytes());
    aad
}
