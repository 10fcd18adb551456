use std::io::{self, Write};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use sealroom_core::ids::Digest;

use super::header::EnvelopeHeader;
use super::{EnvelopeError, TAG_LEN, chunk_nonce};
use crate::secret::DataKey;

/// Seals a byte stream into an envelope, one chunk at a time; memory use is one chunk.
pub struct EnvelopeWriter<W: Write> {
    out: W,
    cipher: Aes256Gcm,
    aad: Digest,
    prefix: [u8; 7],
    chunk_size: usize,
    buf: Vec<u8>,
    counter: u32,
}

impl<W: Write> EnvelopeWriter<W> {
    /// Writes the header to `out` and returns a writer for the plaintext.
    pub fn new(mut out: W, header: &EnvelopeHeader, key: &DataKey) -> Result<Self, EnvelopeError> {
        let aad = header.write_to(&mut out)?;
        let chunk_size = header.chunk_size as usize;
        Ok(Self {
            out,
            cipher: Aes256Gcm::new(key.expose().into()),
            aad,
            prefix: header.nonce_prefix,
            chunk_size,
            buf: Vec::with_capacity(chunk_size + TAG_LEN),
            counter: 0,
        })
    }

    fn seal_buffered(&mut self, last: bool) -> Result<(), EnvelopeError> {
        let nonce = chunk_nonce(&self.prefix, self.counter, last);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), self.aad.as_bytes(), &mut self.buf)
            .map_err(|_| EnvelopeError::TooManyChunks)?;
        self.out.write_all(&self.buf)?;
        self.out.write_all(&tag)?;
        self.buf.clear();
        self.counter = self.counter.checked_add(1).ok_or(EnvelopeError::TooManyChunks)?;
        Ok(())
    }

    /// Seals the final chunk and returns the underlying writer. Without this the envelope is incomplete and will not open.
    pub fn finish(mut self) -> Result<W, EnvelopeError> {
        self.seal_buffered(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut rest = data;
        while !rest.is_empty() {
            let take = (self.chunk_size - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == self.chunk_size {
                self.seal_buffered(false)?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
