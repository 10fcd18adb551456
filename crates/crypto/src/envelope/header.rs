use std::io::{Read, Write};

use sealroom_core::canonical::canonical_json;
use sealroom_core::envelope::{ENVELOPE_FORMAT, EnvelopeHeader, header_digest, wrap_aad};
use sealroom_core::ids::{AgreementId, Digest};
use sealroom_core::labels;
use sealroom_core::sign::Signature;

use super::EnvelopeError;
use crate::hpke_box::seal_to;
use crate::identity::Identity;
use crate::secret::DataKey;

/// The bytes every envelope starts with.
pub const MAGIC: &[u8; 21] = b"sealroom-envelope/v2\n";
/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 16;
/// Smallest chunk size accepted.
pub const MIN_CHUNK_SIZE: u32 = 1 << 10;
/// Largest chunk size accepted (bounds the reader's memory).
pub const MAX_CHUNK_SIZE: u32 = 1 << 24;
/// Largest header accepted, in bytes.
pub const MAX_HEADER_LEN: u32 = 1 << 16;
/// Shorter headers cannot hold the required fields.
const MIN_HEADER_LEN: u32 = 64;
/// Bytes before the header: the magic and the header length.
pub const PREAMBLE_LEN: usize = MAGIC.len() + 4;

/// What the writer needs to know to build a header.
#[derive(Debug, Clone)]
pub struct HeaderParams<'a> {
    /// The owner, who signs the header and to whose HPKE key the data key is wrapped.
    pub owner: &'a Identity,
    /// The agreement the envelope is sealed for.
    pub agreement: AgreementId,
    /// Dataset name.
    pub dataset: &'a str,
    /// Digest of the dataset schema.
    pub schema_digest: Digest,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// When it is sealed, in milliseconds since the Unix epoch.
    pub sealed_at_ms: u64,
}

fn bad(reason: impl std::fmt::Display) -> EnvelopeError {
    EnvelopeError::BadHeader(reason.to_string())
}

/// A signed header for a new envelope under `key`, with the key wrapped to the owner.
pub fn new_header(
    params: &HeaderParams<'_>,
    key: &DataKey,
) -> Result<EnvelopeHeader, EnvelopeError> {
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&params.chunk_size) {
        return Err(bad(format_args!(
            "chunk size {} is outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}",
            params.chunk_size
        )));
    }
    let card = params.owner.card();
    let owner_fingerprint = card.fingerprint().map_err(bad)?;
    let aad = wrap_aad(
        &owner_fingerprint,
        &params.agreement,
        params.dataset,
        &params.schema_digest,
    );
    let wrapped_key =
        seal_to(&card.hpke_key, labels::ENVELOPE_KEY, &aad, key.expose()).map_err(bad)?;
    let mut header = EnvelopeHeader {
        format: ENVELOPE_FORMAT.into(),
        owner: card.name.clone(),
        owner_fingerprint,
        agreement: params.agreement,
        dataset: params.dataset.into(),
        schema_digest: params.schema_digest,
        content_type: sealroom_core::envelope::PAYLOAD_CONTENT_TYPE.into(),
        aead: "AES-256-GCM".into(),
        chunk_size: params.chunk_size,
        nonce_prefix: crate::random::array(),
        sealed_at_ms: params.sealed_at_ms,
        wrapped_key,
        signature: Signature([0; 64]),
    };
    let signed = header.signed_bytes().map_err(bad)?;
    header.signature = params
        .owner
        .sign(labels::ENVELOPE_HEADER_SIGNATURE, &signed);
    Ok(header)
}

/// The data key of an envelope `owner` sealed, unwrapped with the owner's own key, for the
/// owner to read its own envelope (a broker, which must not trust the header's claims, binds
/// the unwrapping to the agreement's terms instead).
pub fn unwrap_own_key(owner: &Identity, header: &EnvelopeHeader) -> Result<DataKey, EnvelopeError> {
    let aad = wrap_aad(
        &header.owner_fingerprint,
        &header.agreement,
        &header.dataset,
        &header.schema_digest,
    );
    let unwrapped = crate::hpke_box::open_sealed(
        owner.hpke_secret(),
        &header.wrapped_key,
        labels::ENVELOPE_KEY,
        &aad,
    )
    .map_err(|_| bad("the data key is not wrapped to this owner"))?;
    let bytes: [u8; 32] = unwrapped
        .as_slice()
        .try_into()
        .map_err(|_| bad("the data key has the wrong length"))?;
    Ok(DataKey::from_bytes(bytes))
}

/// Writes magic, length and header; returns the header digest (the chunks' associated data).
pub fn write_header(
    header: &EnvelopeHeader,
    out: &mut impl Write,
) -> Result<Digest, EnvelopeError> {
    let bytes = canonical_json(header).map_err(bad)?;
    out.write_all(MAGIC)?;
    out.write_all(&(bytes.len() as u32).to_be_bytes())?;
    out.write_all(&bytes)?;
    Ok(header_digest(&bytes))
}

/// The header length announced by an envelope's first [`PREAMBLE_LEN`] bytes.
pub fn header_len(preamble: &[u8; PREAMBLE_LEN]) -> Result<u32, EnvelopeError> {
    if &preamble[..MAGIC.len()] != MAGIC {
        return Err(EnvelopeError::NotAnEnvelope);
    }
    let len = u32::from_be_bytes(preamble[MAGIC.len()..].try_into().expect("4 bytes"));
    if len > MAX_HEADER_LEN {
        return Err(EnvelopeError::HeaderTooLarge(len));
    }
    if len < MIN_HEADER_LEN {
        return Err(bad(format_args!(
            "a header of {len} bytes is too short to be one"
        )));
    }
    Ok(len)
}

/// Parses header bytes, refusing any that are not in canonical form (so that every reader
/// computes the same digest) or that name an unsupported format or chunk size. The signature is
/// not checked here: that needs the owner's card.
pub fn parse_header(bytes: &[u8]) -> Result<(EnvelopeHeader, Digest), EnvelopeError> {
    let header: EnvelopeHeader = serde_json::from_slice(bytes).map_err(bad)?;
    if header.format != ENVELOPE_FORMAT || header.aead != "AES-256-GCM" {
        return Err(bad(format_args!(
            "unsupported format {} with {}",
            header.format, header.aead
        )));
    }
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&header.chunk_size) {
        return Err(bad(format_args!(
            "chunk size {} is out of range",
            header.chunk_size
        )));
    }
    if canonical_json(&header).map_err(bad)? != bytes {
        return Err(bad("the header is not in canonical JSON form"));
    }
    Ok((header, header_digest(bytes)))
}

/// Reads and checks magic, length and header; returns the header and its digest.
pub fn read_header(input: &mut impl Read) -> Result<(EnvelopeHeader, Digest), EnvelopeError> {
    let mut preamble = [0u8; PREAMBLE_LEN];
    match input.read_exact(&mut preamble) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(EnvelopeError::NotAnEnvelope);
        }
        Err(e) => return Err(e.into()),
    }
    let len = header_len(&preamble)?;
    let mut bytes = vec![0u8; len as usize];
    match input.read_exact(&mut bytes) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(bad("file ends inside the header"));
        }
        Err(e) => return Err(e.into()),
    }
    parse_header(&bytes)
}
