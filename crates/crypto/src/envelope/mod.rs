//! The dataset envelope: a header followed by fixed-size chunks sealed with
//! the STREAM construction (AES-256-GCM, nonce = prefix ‖ counter ‖ last flag,
//! header digest as associated data).
//!
//! ```text
//! "sealroom-envelope/v2\n" ‖ u32 header length (big endian) ‖ header (canonical JSON)
//! ‖ chunk 0 ‖ chunk 1 ‖ … ‖ final chunk
//! ```
//!
//! Every chunk but the last holds exactly `chunk_size` plaintext bytes; the
//! final chunk holds fewer (possibly zero) and is sealed with the last flag, so
//! truncation at any point, reordering and splicing are all detected.

mod header;
mod reader;
mod writer;

pub use header::{
    DEFAULT_CHUNK_SIZE, HeaderParams, MAGIC, MAX_CHUNK_SIZE, MAX_HEADER_LEN, MIN_CHUNK_SIZE,
    PREAMBLE_LEN, header_len, new_header, parse_header, read_header, unwrap_own_key, write_header,
};
pub use reader::EnvelopeReader;
pub use sealroom_core::envelope::{EnvelopeHeader, wrap_aad};
pub use writer::EnvelopeWriter;

/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;

/// An envelope is malformed, tampered with, or opened with the wrong key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The file does not start with the envelope magic.
    #[error("not a sealroom envelope (the file does not start with \"sealroom-envelope/v2\")")]
    NotAnEnvelope,
    /// The header is larger than allowed.
    #[error("envelope header of {0} bytes is larger than the 64 KiB limit")]
    HeaderTooLarge(u32),
    /// The header cannot be read.
    #[error("envelope header is malformed: {0}")]
    BadHeader(String),
    /// A chunk does not authenticate.
    #[error(
        "dataset {dataset}: chunk {chunk} failed authentication (tampered, reordered, truncated, from another file, or the wrong key)"
    )]
    ChunkRejected {
        /// `owner/name` from the header.
        dataset: String,
        /// Zero-based chunk index.
        chunk: u64,
    },
    /// The file ends without its final chunk.
    #[error(
        "dataset {dataset}: envelope is truncated after chunk {chunk}: the final chunk is missing"
    )]
    Truncated {
        /// `owner/name`.
        dataset: String,
        /// Last complete chunk.
        chunk: u64,
    },
    /// Too many chunks for the nonce counter.
    #[error("envelope is too large: more than 2^32 chunks")]
    TooManyChunks,
    /// Reading or writing failed.
    #[error("envelope I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<EnvelopeError> for std::io::Error {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::Io(io) => io,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// The AES-256-GCM key of an envelope (aws-lc-rs: AES-NI/VAES and carry-less multiply, about 10× the portable implementation here).
fn cipher(key: &crate::secret::DataKey) -> aws_lc_rs::aead::LessSafeKey {
    let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key.expose())
        .expect("a 32-byte key is an AES-256 key");
    aws_lc_rs::aead::LessSafeKey::new(unbound)
}

/// Nonce for chunk `counter`: 7-byte prefix ‖ 32-bit big-endian counter ‖ last flag.
fn chunk_nonce(prefix: &[u8; 7], counter: u32, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..7].copy_from_slice(prefix);
    nonce[7..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

#[cfg(test)]
mod tests;

impl EnvelopeError {
    /// Recovers the envelope error carried inside an `io::Error` returned by [`EnvelopeReader`]'s `Read` impl.
    pub fn from_io(error: std::io::Error) -> Self {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<EnvelopeError>())
        {
            let inner = error.into_inner().expect("checked above");
            *inner.downcast::<EnvelopeError>().expect("checked above")
        } else {
            EnvelopeError::Io(error)
        }
    }
}
