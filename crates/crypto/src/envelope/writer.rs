use std::io::{self, Write};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};
use sealroom_core::ids::Digest;
use zeroize::Zeroizing;

use super::{EnvelopeError, TAG_LEN, chunk_nonce};
use crate::secret::DataKey;
use sealroom_core::envelope::EnvelopeHeader;

/// Seals one chunk at a time from a plaintext slice into its own output buffer (out of place).
struct ChunkSealer<W: Write> {
    out: W,
    cipher: LessSafeKey,
    aad: Digest,
    prefix: [u8; 7],
    sealed: Vec<u8>,
    counter: u32,
}

impl<W: Write> ChunkSealer<W> {
    fn seal(&mut self, plaintext: &[u8], last: bool) -> Result<(), EnvelopeError> {
        let n = plaintext.len();
        let (ciphertext, tag) = self.sealed[..n + TAG_LEN].split_at_mut(n);
        let nonce = Nonce::assume_unique_for_key(chunk_nonce(&self.prefix, self.counter, last));
        self.cipher
            .seal_out_of_place_scatter(
                nonce,
                Aad::from(self.aad.as_bytes()),
                plaintext,
                ciphertext,
                &[],
                tag,
            )
            .map_err(|_| EnvelopeError::TooManyChunks)?;
        self.out.write_all(&self.sealed[..n + TAG_LEN])?;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(EnvelopeError::TooManyChunks)?;
        Ok(())
    }
}

/// Seals a byte stream into an envelope, one chunk at a time; memory use is two chunks.
///
/// Whole chunks written at once are sealed straight from the caller's slice; only
/// partial chunks are gathered in a buffer first.
pub struct EnvelopeWriter<W: Write> {
    sealer: ChunkSealer<W>,
    chunk_size: usize,
    /// Plaintext of the chunk being gathered; zeroized on drop.
    pending: Zeroizing<Vec<u8>>,
}

impl<W: Write> EnvelopeWriter<W> {
    /// Writes the header to `out` and returns a writer for the plaintext.
    pub fn new(mut out: W, header: &EnvelopeHeader, key: &DataKey) -> Result<Self, EnvelopeError> {
        let aad = super::write_header(header, &mut out)?;
        let chunk_size = header.chunk_size as usize;
        Ok(Self {
            sealer: ChunkSealer {
                out,
                cipher: super::cipher(key),
                aad,
                prefix: header.nonce_prefix,
                sealed: vec![0; chunk_size + TAG_LEN],
                counter: 0,
            },
            chunk_size,
            pending: Zeroizing::new(Vec::with_capacity(chunk_size)),
        })
    }

    /// Seals the final chunk and returns the underlying writer. Without this the envelope is incomplete and will not open.
    pub fn finish(mut self) -> Result<W, EnvelopeError> {
        self.sealer.seal(&self.pending, true)?;
        self.sealer.out.flush()?;
        Ok(self.sealer.out)
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            if self.pending.is_empty() && rest.len() >= self.chunk_size {
                // A whole chunk is never the final one (that one is always shorter): seal it straight from the caller's slice.
                self.sealer.seal(&rest[..self.chunk_size], false)?;
                rest = &rest[self.chunk_size..];
                continue;
            }
            let take = (self.chunk_size - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.chunk_size {
                self.sealer.seal(&self.pending, false)?;
                self.pending.clear();
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sealer.out.flush()
    }
}
