//! Reading sealed inputs: header first (to ask for the key), then the decrypted stream.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::mpsc::{self, Receiver, SyncSender};

use sealroom_core::agreement::{Agreement, DatasetTerms};
use sealroom_core::canonical::{Sha256, labeled_hasher};
use sealroom_core::ids::Digest;
use sealroom_core::labels;
use sealroom_core::wire::JobInput;
use sealroom_crypto::envelope::read_header;
use sealroom_crypto::{DataKey, EnvelopeError, EnvelopeHeader, EnvelopeReader};
use sealroom_tables::payload::LEGACY_CSV_CONTENT_TYPE;
use sealroom_tables::{CONTENT_TYPE, Table, TableError, read_payload_sized};
use sha2::Digest as _;

use crate::error::IsolateError;

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// An input whose header has been read and checked against the agreement.
pub struct OpenedInput {
    /// The dataset's terms.
    pub terms: DatasetTerms,
    /// Its header.
    pub header: EnvelopeHeader,
    /// The header's digest.
    pub header_digest: Digest,
    /// The digest of the whole file, taken before any key is asked for.
    pub envelope_digest: Digest,
    /// The bytes hashed for `envelope_digest`: a bound on the payload's size, to size the table.
    size: u64,
    reader: HashingReader<BufReader<File>>,
}

/// Opens an input file and checks that its header belongs to the dataset the agreement names.
pub fn open_input(input: &JobInput, agreement: &Agreement) -> Result<OpenedInput, IsolateError> {
    let dataset = format!("{}/{}", input.owner, input.dataset);
    let mismatch = |reason: String| IsolateError::InputMismatch {
        dataset: dataset.clone(),
        reason,
    };
    let terms = agreement
        .dataset(&input.owner, &input.dataset)
        .ok_or_else(|| mismatch("not a dataset of the agreement".into()))?
        .clone();
    let mut file = File::open(&input.path)
        .map_err(|e| mismatch(format!("cannot open {}: {e}", input.path)))?;
    // The whole file is hashed first: its owner's broker releases the key only for the file the
    // owner registered, so altered chunks are refused before any budget is spent.
    // The size hint is what was hashed, not the file's current length: the host could grow
    // the file afterwards, and the read then fails on the changed digest anyway.
    let (envelope_digest, size) =
        digest_of(&mut file).map_err(|e| mismatch(format!("cannot read {}: {e}", input.path)))?;
    let mut reader = HashingReader {
        inner: BufReader::with_capacity(1 << 16, file),
        hasher: labeled_hasher(labels::ENVELOPE),
    };
    let (header, header_digest) =
        read_header(&mut reader).map_err(|source| IsolateError::Envelope {
            dataset: dataset.clone(),
            source,
        })?;
    // Whether the owner signed this header, for this agreement, and registered it as current is
    // for the owner's broker to judge: it refuses anything else before any key leaves, and
    // records the attempt for its owner.
    if header.owner != input.owner || header.dataset != input.dataset {
        return Err(mismatch(format!(
            "the envelope holds {}",
            header.qualified_name()
        )));
    }
    if header.content_type != CONTENT_TYPE {
        return Err(mismatch(
            if header.content_type == LEGACY_CSV_CONTENT_TYPE {
                "it was sealed as CSV by an earlier sealroom; this runtime reads only the typed Arrow payload: seal the file again with this version".into()
            } else {
                format!(
                    "its payload is {:?}, not {CONTENT_TYPE}",
                    header.content_type
                )
            },
        ));
    }
    let schema_digest = terms.schema.digest().map_err(|e| mismatch(e.to_string()))?;
    if header.schema_digest != schema_digest {
        return Err(mismatch(
            "the envelope was sealed under a different schema than the agreement declares".into(),
        ));
    }
    Ok(OpenedInput {
        terms,
        header,
        header_digest,
        envelope_digest,
        size,
        reader,
    })
}

/// The labeled digest of a whole file and the number of bytes hashed, leaving the file
/// positioned at its start.
fn digest_of(file: &mut File) -> std::io::Result<(Digest, u64)> {
    let mut hashing = HashingReader {
        inner: BufReader::with_capacity(1 << 16, &mut *file),
        hasher: labeled_hasher(labels::ENVELOPE),
    };
    let hashed = std::io::copy(&mut hashing, &mut std::io::sink())?;
    let digest = Digest(hashing.hasher.finalize().into());
    file.seek(SeekFrom::Start(0))?;
    Ok((digest, hashed))
}

impl OpenedInput {
    /// `owner/name`.
    pub fn qualified_name(&self) -> String {
        self.terms.qualified_name()
    }

    /// Decrypts the input and decodes it batch by batch, checking every row against the
    /// schema; returns the table and the digest of the envelope file.
    ///
    /// Reading, hashing and decrypting run on a second thread, a few chunks ahead of the
    /// decoding (memory stays bounded by a few buffers), so the two cores share
    /// the work.
    pub fn read(self, key: &DataKey) -> Result<(Table, Digest), IsolateError> {
        let dataset = self.qualified_name();
        let envelope_error = |source| IsolateError::Envelope {
            dataset: dataset.clone(),
            source,
        };
        let buffer_size = (self.header.chunk_size as usize).max(1 << 20);
        let plaintext = EnvelopeReader::new(self.reader, &self.header, self.header_digest, key);
        let (sender, receiver) = mpsc::sync_channel(PIPELINE_DEPTH);
        let (spent, returned) = mpsc::sync_channel(PIPELINE_DEPTH + 1);
        let (decoded, read_digest) = std::thread::scope(|scope| {
            let decrypting =
                scope.spawn(move || decrypt_ahead(plaintext, buffer_size, sender, returned));
            let mut pipe = PipeReader {
                receiver,
                spent,
                current: Vec::new(),
                pos: 0,
                failed: None,
            };
            let schema = &self.terms.schema;
            let decoded =
                read_payload_sized(&mut pipe, schema, Some(self.size)).and_then(|table| {
                    // The stream's end marker has been read; nothing may follow it, and reading on
                    // to the end authenticates the final chunk.
                    let trailing =
                        std::io::copy(&mut pipe, &mut std::io::sink()).map_err(TableError::Read)?;
                    Ok((table, trailing))
                });
            // Dropping the pipe stops the decrypting thread early if decoding failed.
            drop(pipe);
            (decoded, decrypting.join())
        });
        // A panic on the decrypting thread is a bug: it is raised here, never reported as a
        // decoding error.
        let read_digest = read_digest.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let (table, trailing) = decoded.map_err(|e| match e {
            TableError::Read(io) => envelope_error(EnvelopeError::from_io(io)),
            // Rows and columns, never values: the error travels to the host.
            source => IsolateError::Input {
                dataset: dataset.clone(),
                source: source.without_values(),
            },
        })?;
        if trailing != 0 {
            return Err(IsolateError::Input {
                dataset,
                source: TableError::Malformed(format!(
                    "{trailing} bytes follow the end of the stream"
                )),
            });
        }
        if read_digest != Some(self.envelope_digest) {
            return Err(IsolateError::InputMismatch {
                dataset,
                reason: "the envelope file changed while it was being read".into(),
            });
        }
        Ok((table, self.envelope_digest))
    }
}

/// Plaintext buffers in flight between the decrypting and the decoding thread.
const PIPELINE_DEPTH: usize = 4;

/// Plaintext, or the error that ended it.
type PlainBuffer = std::io::Result<Vec<u8>>;

/// Decrypts the whole envelope into buffers of `buffer_size` bytes sent to `sender`, reusing
/// the buffers the decoder has finished with (`returned`) so that no buffer is allocated, and
/// wiped when freed, per chunk; returns the digest of every byte read from the file, or `None`
/// if it stopped early (an error was sent or the decoder hung up).
fn decrypt_ahead(
    mut plaintext: EnvelopeReader<HashingReader<BufReader<File>>>,
    buffer_size: usize,
    sender: SyncSender<PlainBuffer>,
    returned: Receiver<Vec<u8>>,
) -> Option<Digest> {
    loop {
        let mut buffer = returned.try_recv().unwrap_or_default();
        buffer.resize(buffer_size, 0);
        let mut filled = 0;
        while filled < buffer_size {
            match plaintext.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // The decoder may already have hung up; either way this thread is done.
                    let _ = sender.send(Err(e));
                    return None;
                }
            }
        }
        if filled == 0 {
            return Some(Digest(plaintext.into_inner().hasher.finalize().into()));
        }
        buffer.truncate(filled);
        if sender.send(Ok(buffer)).is_err() {
            return None;
        }
    }
}

/// The decoding side of the pipeline: plaintext buffers as one stream. After an error every
/// later read fails too, so nothing can mistake it for the end of the stream.
struct PipeReader {
    receiver: Receiver<PlainBuffer>,
    /// Where read buffers go back to the decrypting thread.
    spent: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    failed: Option<(std::io::ErrorKind, String)>,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(std::io::Error::new(*kind, message.clone()));
        }
        while self.pos == self.current.len() {
            match self.receiver.recv() {
                Ok(Ok(buffer)) => {
                    let read = std::mem::replace(&mut self.current, buffer);
                    // A full return channel or a finished decrypting thread: the buffer is
                    // simply freed.
                    let _ = self.spent.try_send(read);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                // The decrypting thread ended: the envelope is complete (or its error was read).
                Err(_) => return Ok(0),
            }
        }
        let n = (self.current.len() - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
