use std::io::{self, Read};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};
use sealroom_core::ids::Digest;
use zeroize::{Zeroize, Zeroizing};

use super::{EnvelopeError, TAG_LEN, chunk_nonce};
use crate::secret::DataKey;
use sealroom_core::envelope::EnvelopeHeader;

/// Reads sealed chunks and opens each into a plaintext slice (out of place).
struct ChunkOpener<R: Read> {
    input: R,
    cipher: LessSafeKey,
    aad: Digest,
    prefix: [u8; 7],
    chunk_size: usize,
    dataset: String,
    sealed: Vec<u8>,
    counter: u64,
    done: bool,
}

impl<R: Read> ChunkOpener<R> {
    /// Reads up to one sealed chunk; returns its length.
    fn read_sealed_chunk(&mut self) -> Result<usize, EnvelopeError> {
        let mut filled = 0;
        while filled < self.sealed.len() {
            match self.input.read(&mut self.sealed[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(filled)
    }

    /// Opens the next chunk into `plain` (at least `chunk_size` long); returns the plaintext length.
    fn open_into(&mut self, plain: &mut [u8]) -> Result<usize, EnvelopeError> {
        let len = self.read_sealed_chunk()?;
        if len < TAG_LEN {
            return Err(if len == 0 && self.counter > 0 {
                EnvelopeError::Truncated {
                    dataset: self.dataset.clone(),
                    chunk: self.counter - 1,
                }
            } else {
                EnvelopeError::ChunkRejected {
                    dataset: self.dataset.clone(),
                    chunk: self.counter,
                }
            });
        }
        // Every chunk but the final one is full; a short chunk must authenticate as the final one.
        let last = len < self.chunk_size + TAG_LEN;
        let counter = u32::try_from(self.counter).map_err(|_| EnvelopeError::TooManyChunks)?;
        let nonce = Nonce::assume_unique_for_key(chunk_nonce(&self.prefix, counter, last));
        let n = len - TAG_LEN;
        let (ciphertext, tag) = self.sealed[..len].split_at(n);
        if self
            .cipher
            .open_separate_gather(
                nonce,
                Aad::from(self.aad.as_bytes()),
                ciphertext,
                tag,
                &mut plain[..n],
            )
            .is_err()
        {
            // Wipe whatever a failed open left behind.
            plain[..n].zeroize();
            return Err(EnvelopeError::ChunkRejected {
                dataset: self.dataset.clone(),
                chunk: self.counter,
            });
        }
        // Bytes appended after the final chunk would have made it longer and failed authentication above.
        self.done = last;
        self.counter += 1;
        Ok(n)
    }
}

/// Opens an envelope's chunks as a plaintext stream; memory use is two chunks.
///
/// Plaintext is released only after its chunk authenticates. A stream that
/// ends without a valid final chunk is an error, never a short read. Reads of
/// at least a chunk are decrypted straight into the caller's buffer.
pub struct EnvelopeReader<R: Read> {
    opener: ChunkOpener<R>,
    /// Plaintext of the current chunk when the caller reads in smaller pieces; zeroized on drop.
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
}

impl<R: Read> EnvelopeReader<R> {
    /// A reader over the chunks that follow a header already read by [`super::read_header`].
    pub fn new(input: R, header: &EnvelopeHeader, header_digest: Digest, key: &DataKey) -> Self {
        let chunk_size = header.chunk_size as usize;
        Self {
            opener: ChunkOpener {
                input,
                cipher: super::cipher(key),
                aad: header_digest,
                prefix: header.nonce_prefix,
                chunk_size,
                dataset: header.qualified_name(),
                sealed: vec![0; chunk_size + TAG_LEN],
                counter: 0,
                done: false,
            },
            plain: Zeroizing::new(Vec::with_capacity(chunk_size)),
            pos: 0,
        }
    }

    /// Whether the final chunk has been read and authenticated and all its plaintext handed out.
    pub fn is_complete(&self) -> bool {
        self.opener.done && self.pos == self.plain.len()
    }

    /// The underlying reader (the plaintext buffer is zeroized as it drops).
    pub fn into_inner(self) -> R {
        self.opener.input
    }
}

impl<R: Read> Read for EnvelopeReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.plain.len() {
                let n = (self.plain.len() - self.pos).min(out.len());
                out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.opener.done || out.is_empty() {
                return Ok(0);
            }
            if out.len() >= self.opener.chunk_size {
                let n = self.opener.open_into(out)?;
                if n > 0 || self.opener.done {
                    return Ok(n);
                }
                continue;
            }
            self.plain.resize(self.opener.chunk_size, 0);
            let n = self
                .opener
                .open_into(&mut self.plain)
                .inspect_err(|_| self.plain.clear())?;
            self.plain.truncate(n);
            self.pos = 0;
        }
    }
}
