use std::io::{self, Read};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use sealroom_core::ids::Digest;
use zeroize::{Zeroize, Zeroizing};

use super::header::EnvelopeHeader;
use super::{EnvelopeError, TAG_LEN, chunk_nonce};
use crate::secret::DataKey;

/// Opens an envelope's chunks as a plaintext stream; memory use is one chunk.
///
/// Plaintext is released only after its chunk authenticates. A stream that
/// ends without a valid final chunk is an error, never a short read.
pub struct EnvelopeReader<R: Read> {
    input: R,
    cipher: Aes256Gcm,
    aad: Digest,
    prefix: [u8; 7],
    chunk_size: usize,
    dataset: String,
    /// Holds one chunk (capacity fixed up front, so it never reallocates); zeroized on drop.
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    counter: u64,
    done: bool,
}

impl<R: Read> EnvelopeReader<R> {
    /// A reader over the chunks that follow a header already read by [`EnvelopeHeader::read_from`].
    pub fn new(input: R, header: &EnvelopeHeader, header_digest: Digest, key: &DataKey) -> Self {
        let chunk_size = header.chunk_size as usize;
        Self {
            input,
            cipher: Aes256Gcm::new(key.expose().into()),
            aad: header_digest,
            prefix: header.nonce_prefix,
            chunk_size,
            dataset: header.qualified_name(),
            buf: Zeroizing::new(Vec::with_capacity(chunk_size + TAG_LEN)),
            pos: 0,
            counter: 0,
            done: false,
        }
    }

    /// Whether the final chunk has been read and authenticated.
    pub fn is_complete(&self) -> bool {
        self.done && self.pos == self.buf.len()
    }

    /// The underlying reader (the plaintext buffer is zeroized as it drops).
    pub fn into_inner(self) -> R {
        self.input
    }

    /// Fills `buf` with up to one sealed chunk; returns its length.
    fn read_sealed_chunk(&mut self) -> Result<usize, EnvelopeError> {
        let want = self.chunk_size + TAG_LEN;
        self.buf.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            match self.input.read(&mut self.buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.buf.truncate(filled);
        Ok(filled)
    }

    fn open_next_chunk(&mut self) -> Result<(), EnvelopeError> {
        let len = self.read_sealed_chunk()?;
        let full = self.chunk_size + TAG_LEN;
        if len < TAG_LEN {
            return Err(if len == 0 && self.counter > 0 {
                EnvelopeError::Truncated { dataset: self.dataset.clone(), chunk: self.counter - 1 }
            } else {
                EnvelopeError::ChunkRejected { dataset: self.dataset.clone(), chunk: self.counter }
            });
        }
        let last = len < full;
        let counter = u32::try_from(self.counter).map_err(|_| EnvelopeError::TooManyChunks)?;
        let nonce = chunk_nonce(&self.prefix, counter, last);
        let split = len - TAG_LEN;
        let tag = Tag::clone_from_slice(&self.buf[split..]);
        self.buf.truncate(split);
        let opened = self.cipher.decrypt_in_place_detached(Nonce::from_slice(&nonce), self.aad.as_bytes(), &mut self.buf, &tag);
        if opened.is_err() {
            self.buf.zeroize();
            self.buf.clear();
            return Err(EnvelopeError::ChunkRejected { dataset: self.dataset.clone(), chunk: self.counter });
        }
        // A short chunk that authenticates with the last flag ends the stream; bytes appended
        // after it would have made it longer and failed authentication above.
        self.done = last;
        self.pos = 0;
        self.counter += 1;
        Ok(())
    }
}

impl<R: Read> Read for EnvelopeReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.open_next_chunk()?;
        }
        let n = (self.buf.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
