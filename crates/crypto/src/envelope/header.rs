use std::io::{Read, Write};

use sealroom_core::canonical::{canonical_json, labeled_digest};
use sealroom_core::ids::{Digest, Fingerprint};
use sealroom_core::labels;
use sealroom_core::party::PartyCard;
use sealroom_core::wire::Sealed;
use serde::{Deserialize, Serialize};

use super::EnvelopeError;
use crate::hpke_box::seal_to;
use crate::secret::DataKey;

/// The bytes every envelope starts with.
pub const MAGIC: &[u8; 21] = b"sealroom-envelope/v1\n";
/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 16;
/// Smallest chunk size accepted.
pub const MIN_CHUNK_SIZE: u32 = 1 << 10;
/// Largest chunk size accepted (bounds the reader's memory).
pub const MAX_CHUNK_SIZE: u32 = 1 << 24;
const MAX_HEADER_LEN: u32 = 1 << 16;

/// The envelope header, stored as canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeHeader {
    /// Always `sealroom-envelope/v1`.
    pub format: String,
    /// Owner's name.
    pub owner: String,
    /// Owner's fingerprint.
    pub owner_fingerprint: Fingerprint,
    /// Dataset name.
    pub dataset: String,
    /// Digest of the dataset schema.
    pub schema_digest: Digest,
    /// Content type of the plaintext (`text/csv`).
    pub content_type: String,
    /// Always `AES-256-GCM`.
    pub aead: String,
    /// Plaintext bytes per full chunk.
    pub chunk_size: u32,
    /// First 7 bytes of every chunk nonce.
    #[serde(with = "sealroom_core::bytes::b64_array")]
    pub nonce_prefix: [u8; 7],
    /// The data key sealed with HPKE to the owner's key; the associated data is [`wrap_aad`].
    pub wrapped_key: Sealed,
}

/// What the writer needs to know to build a header.
#[derive(Debug, Clone)]
pub struct HeaderParams<'a> {
    /// The owner's card.
    pub owner: &'a PartyCard,
    /// Dataset name.
    pub dataset: &'a str,
    /// Digest of the dataset schema.
    pub schema_digest: Digest,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
}

/// Associated data of the wrapped key: binds the key to owner, dataset and schema.
pub fn wrap_aad(owner: &Fingerprint, dataset: &str, schema_digest: &Digest) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + dataset.len());
    aad.extend_from_slice(owner.as_bytes());
    aad.extend_from_slice(schema_digest.as_bytes());
    aad.extend_from_slice(dataset.as_bytes());
    aad
}

impl EnvelopeHeader {
    /// A header for a new envelope under `key`, with the key wrapped to the owner.
    pub fn new(params: &HeaderParams<'_>, key: &DataKey) -> Result<Self, EnvelopeError> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&params.chunk_size) {
            return Err(EnvelopeError::BadHeader(format!(
                "chunk size {} is outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}",
                params.chunk_size
            )));
        }
        let owner_fingerprint = params
            .owner
            .fingerprint()
            .map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
        let aad = wrap_aad(&owner_fingerprint, params.dataset, &params.schema_digest);
        let wrapped_key = seal_to(
            &params.owner.hpke_key,
            labels::ENVELOPE_KEY,
            &aad,
            key.expose(),
        )
        .map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
        Ok(Self {
            format: "sealroom-envelope/v1".into(),
            owner: params.owner.name.clone(),
            owner_fingerprint,
            dataset: params.dataset.into(),
            schema_digest: params.schema_digest,
            content_type: "text/csv".into(),
            aead: "AES-256-GCM".into(),
            chunk_size: params.chunk_size,
            nonce_prefix: crate::random::array(),
            wrapped_key,
        })
    }

    /// `owner/dataset`, for messages.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.owner, self.dataset)
    }

    /// Writes magic, length and header; returns the header digest (the chunks' associated data).
    pub fn write_to(&self, out: &mut impl Write) -> Result<Digest, EnvelopeError> {
        let bytes = canonical_json(self).map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
        out.write_all(MAGIC)?;
        out.write_all(&(bytes.len() as u32).to_be_bytes())?;
        out.write_all(&bytes)?;
        Ok(labeled_digest(labels::ENVELOPE_HEADER, &bytes))
    }

    /// Reads and checks magic, length and header; returns the header and its digest.
    pub fn read_from(input: &mut impl Read) -> Result<(Self, Digest), EnvelopeError> {
        let mut magic = [0u8; MAGIC.len()];
        read_exact_or(input, &mut magic, EnvelopeError::NotAnEnvelope)?;
        if &magic != MAGIC {
            return Err(EnvelopeError::NotAnEnvelope);
        }
        let mut len = [0u8; 4];
        read_exact_or(
            input,
            &mut len,
            EnvelopeError::BadHeader("file ends inside the header length".into()),
        )?;
        let len = u32::from_be_bytes(len);
        if len > MAX_HEADER_LEN {
            return Err(EnvelopeError::HeaderTooLarge(len));
        }
        let mut bytes = vec![0u8; len as usize];
        read_exact_or(
            input,
            &mut bytes,
            EnvelopeError::BadHeader("file ends inside the header".into()),
        )?;
        let header: Self =
            serde_json::from_slice(&bytes).map_err(|e| EnvelopeError::BadHeader(e.to_string()))?;
        if header.format != "sealroom-envelope/v1" || header.aead != "AES-256-GCM" {
            return Err(EnvelopeError::BadHeader(format!(
                "unsupported format {} with {}",
                header.format, header.aead
            )));
        }
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&header.chunk_size) {
            return Err(EnvelopeError::BadHeader(format!(
                "chunk size {} is out of range",
                header.chunk_size
            )));
        }
        Ok((header, labeled_digest(labels::ENVELOPE_HEADER, &bytes)))
    }
}

fn read_exact_or(
    input: &mut impl Read,
    buf: &mut [u8],
    short: EnvelopeError,
) -> Result<(), EnvelopeError> {
    match input.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(short),
        Err(e) => Err(e.into()),
    }
}
