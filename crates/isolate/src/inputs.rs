//! Reading sealed inputs: header first (to ask for the key), then the decrypted stream.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use sealroom_core::agreement::{Agreement, DatasetTerms};
use sealroom_core::canonical::{Sha256, labeled_hasher};
use sealroom_core::ids::Digest;
use sealroom_core::labels;
use sealroom_core::wire::JobInput;
use sealroom_crypto::envelope::read_header;
use sealroom_crypto::{DataKey, EnvelopeError, EnvelopeHeader, EnvelopeReader};
use sealroom_tables::payload::LEGACY_CSV_CONTENT_TYPE;
use sealroom_tables::{CONTENT_TYPE, Table, TableError, read_payload};
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
    let envelope_digest =
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
        reader,
    })
}

/// The labeled digest of a whole file, leaving it positioned at its start.
fn digest_of(file: &mut File) -> std::io::Result<Digest> {
    let mut hashing = HashingReader {
        inner: BufReader::with_capacity(1 << 16, &mut *file),
        hasher: labeled_hasher(labels::ENVELOPE),
    };
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    let digest = Digest(hashing.hasher.finalize().into());
    file.seek(SeekFrom::Start(0))?;
    Ok(digest)
}

impl OpenedInput {
    /// `owner/name`.
    pub fn qualified_name(&self) -> String {
        self.terms.qualified_name()
    }

    /// Decrypts the input and decodes it batch by batch, checking every row against the
    /// schema; returns the table and the digest of the envelope file.
    pub fn read(self, key: &DataKey) -> Result<(Table, Digest), IsolateError> {
        let dataset = self.qualified_name();
        let envelope_error = |source| IsolateError::Envelope {
            dataset: dataset.clone(),
            source,
        };
        let mut plaintext = EnvelopeReader::new(self.reader, &self.header, self.header_digest, key);
        let table = read_payload(&mut plaintext, &self.terms.schema).map_err(|e| match e {
            TableError::Read(io) => envelope_error(EnvelopeError::from_io(io)),
            // Rows and columns, never values: the error travels to the host.
            source => IsolateError::Input {
                dataset: dataset.clone(),
                source: source.without_values(),
            },
        })?;
        // The stream's end marker has been read; nothing may follow it, and reading on to the
        // end authenticates the final chunk.
        let trailing = std::io::copy(&mut plaintext, &mut std::io::sink())
            .map_err(|e| envelope_error(EnvelopeError::from_io(e)))?;
        if trailing != 0 {
            return Err(IsolateError::Input {
                dataset,
                source: TableError::Malformed(format!(
                    "{trailing} bytes follow the end of the stream"
                )),
            });
        }
        let hasher = plaintext.into_inner().hasher;
        if Digest(hasher.finalize().into()) != self.envelope_digest {
            return Err(IsolateError::InputMismatch {
                dataset,
                reason: "the envelope file changed while it was being read".into(),
            });
        }
        Ok((table, self.envelope_digest))
    }
}
