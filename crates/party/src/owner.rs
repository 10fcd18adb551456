//! What a data owner does: seal datasets and approve or revoke runtimes.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sealroom_core::agreement::SignedAgreement;
use sealroom_core::attestation::Platform;
use sealroom_core::canonical::{Sha256, labeled_hasher};
use sealroom_core::clock::Clock;
use sealroom_core::envelope::{EnvelopeRegistration, SignedRegistration};
use sealroom_core::ids::Digest;
use sealroom_core::ids::{AgreementId, Measurement};
use sealroom_core::labels;
use sealroom_core::statement::{Decision, MeasurementDecision, SignedDecision};
use sealroom_crypto::envelope::{DEFAULT_CHUNK_SIZE, HeaderParams, new_header, read_header};
use sealroom_crypto::{DataKey, EnvelopeHeader, EnvelopeWriter, Identity};
use sealroom_host::blobs::StoredBlob;
use sealroom_host::client::HostClient;
use sealroom_tables::{PayloadWriter, RecordBatch, TableError};
use serde::Serialize;

use crate::error::PartyError;
use crate::source::{SourceError, SourceFormat, read_source};
use sha2::Digest as _;

/// What sealing produced.
#[derive(Debug, Clone, Serialize)]
pub struct SealSummary {
    /// `owner/dataset`.
    pub dataset: String,
    /// Data rows checked against the schema.
    pub rows: u64,
    /// The format the file was read as.
    pub format: &'static str,
    /// Bytes of the source file.
    pub source_bytes: u64,
    /// The file's columns the schema does not name, left out of the envelope.
    pub ignored_columns: Vec<String>,
    /// Plaintext bytes sealed (the typed payload).
    pub plaintext_bytes: u64,
    /// Envelope bytes written.
    pub envelope_bytes: u64,
    /// Where the envelope is.
    pub output: PathBuf,
    /// Digest of the owner-signed header.
    pub header_digest: Digest,
    /// Digest of the whole envelope file (what the owner's broker registers with the header).
    pub envelope_digest: Digest,
    /// The signed header, for registering it with the owner's broker.
    #[serde(skip)]
    pub header: EnvelopeHeader,
}

impl SealSummary {
    /// The owner-signed registration of this envelope, for the owner's broker.
    pub fn registration(&self, owner: &Identity) -> SignedRegistration {
        owner.sign_registration(EnvelopeRegistration {
            header: self.header.clone(),
            envelope_digest: self.envelope_digest,
        })
    }
}

/// Hashes everything written through it (the envelope digest, as the file is written).
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that passes every byte it reads on to `copy` (`std::io::sink()` when nothing needs
/// them) and tells `progress` the running total.
struct ProgressReader<R, W, F> {
    input: R,
    copy: W,
    count: u64,
    progress: F,
}

impl<R: Read, W: Write, F: FnMut(u64)> Read for ProgressReader<R, W, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        self.count += n as u64;
        (self.progress)(self.count);
        Ok(n)
    }
}

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// How to read and seal a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct SealOptions {
    /// The file's format; by default from its extension.
    pub format: Option<SourceFormat>,
    /// Plaintext bytes per chunk; by default 64 KiB.
    pub chunk_size: Option<u32>,
}

/// Reads a CSV, Parquet or Arrow file, checks every row against the agreement's schema, and
/// seals it as a typed payload (an Arrow IPC stream) into an envelope for that agreement, its
/// header signed by the owner and dated `sealed_at_ms`. `progress` is told how many bytes of the
/// file have been read. The output appears only when complete; on any error nothing is
/// written. The envelope is usable only once its owner's broker has it registered
/// ([`SealSummary::registration`] and `sealroom_broker::client::BrokerClient::register`).
#[allow(clippy::too_many_arguments)]
pub fn seal_dataset(
    identity: &Identity,
    agreement: &SignedAgreement,
    dataset: &str,
    input: &Path,
    output: &Path,
    options: &SealOptions,
    sealed_at_ms: u64,
    mut progress: Box<dyn FnMut(u64)>,
) -> Result<SealSummary, PartyError> {
    let card = identity.card();
    let terms = agreement
        .agreement
        .dataset(&card.name, dataset)
        .ok_or_else(|| PartyError::NotOwnDataset {
            agreement: agreement.id.short(),
            dataset: dataset.into(),
            owner: card.name.clone(),
        })?;
    let keys_differ = || PartyError::KeysDiffer(card.name.clone());
    let listed = agreement
        .agreement
        .party(&card.name)
        .ok_or_else(keys_differ)?;
    if listed.hpke_key != card.hpke_key || listed.signing_key != card.signing_key {
        return Err(keys_differ());
    }
    let sealing = |source| PartyError::Envelope {
        path: output.into(),
        source,
    };
    let params = HeaderParams {
        owner: identity,
        agreement: agreement.id,
        dataset,
        schema_digest: terms.schema.digest()?,
        chunk_size: options.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE),
        sealed_at_ms,
    };
    let format = match options.format.or_else(|| SourceFormat::of_path(input)) {
        Some(format) => format,
        None => {
            return Err(PartyError::Source {
                path: input.into(),
                source: SourceError::UnknownFormat,
            });
        }
    };
    let source_bytes = std::fs::metadata(input)
        .map_err(PartyError::io(input))?
        .len();
    let key = DataKey::generate();
    let header = new_header(&params, &key).map_err(sealing)?;
    let header_digest = header.digest()?;
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(PartyError::io(dir))?;
    let writer = EnvelopeWriter::new(
        HashingWriter {
            inner: BufWriter::with_capacity(
                1 << 20,
                temp.reopen().map_err(PartyError::io(output))?,
            ),
            hasher: labeled_hasher(labels::ENVELOPE),
        },
        &header,
        &key,
    )
    .map_err(sealing)?;
    let source_error = |source| PartyError::Source {
        path: input.into(),
        source,
    };
    let mut payload = PayloadWriter::new(
        CountingWriter {
            inner: writer,
            count: 0,
        },
        &terms.schema,
    )
    .map_err(|e| source_error(SourceError::Table(e)))?;
    // Reading and typing the file runs on a thread of its own; checking, encoding, encrypting
    // and writing on this one. The two halves cost about the same, so sealing takes about half
    // the time on two cores. At most two batches wait between them.
    let (batches, received) = std::sync::mpsc::sync_channel::<(RecordBatch, u64)>(2);
    let schema = &terms.schema;
    let (read, written) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let bytes_read = std::cell::Cell::new(0);
            read_source(
                input,
                format,
                schema,
                &mut |n| bytes_read.set(n),
                &mut |batch| {
                    batches.send((batch, bytes_read.get())).map_err(|_| {
                        // The writer stopped; its own error is the one reported.
                        SourceError::Table(TableError::Write(std::io::Error::other(
                            "writer stopped",
                        )))
                    })
                },
            )
        });
        let mut written = Ok(());
        for (batch, bytes_read) in received {
            if let Err(e) = payload.write(&batch) {
                written = Err(e);
                break;
            }
            progress(bytes_read);
        }
        (reader.join(), written)
    });
    let summary = match (read, written) {
        (_, Err(TableError::Write(e))) => return Err(PartyError::io(output)(e)),
        (_, Err(e)) => return Err(source_error(SourceError::Table(e))),
        (Ok(Ok(summary)), Ok(())) => summary,
        (Ok(Err(e)), Ok(())) => return Err(source_error(e)),
        (Err(_), Ok(())) => {
            return Err(PartyError::io(input)(std::io::Error::other(
                "the thread reading the file stopped unexpectedly",
            )));
        }
    };
    let rows = payload.rows();
    let counted = payload.finish().map_err(|e| match e {
        TableError::Write(io) => PartyError::io(output)(io),
        other => source_error(SourceError::Table(other)),
    })?;
    let plaintext_bytes = counted.count;
    let mut out = counted.inner.finish().map_err(sealing)?;
    out.flush().map_err(PartyError::io(output))?;
    out.inner
        .get_ref()
        .sync_all()
        .map_err(PartyError::io(output))?;
    let envelope_digest = Digest(out.hasher.finalize().into());
    drop(out.inner);
    let envelope_bytes = temp
        .as_file()
        .metadata()
        .map_err(PartyError::io(output))?
        .len();
    temp.persist(output).map_err(|e| PartyError::Io {
        path: output.into(),
        source: e.error,
    })?;
    Ok(SealSummary {
        dataset: terms.qualified_name(),
        rows,
        format: format.name(),
        source_bytes,
        ignored_columns: summary.ignored_columns,
        plaintext_bytes,
        envelope_bytes,
        output: output.to_path_buf(),
        header_digest,
        envelope_digest,
        header,
    })
}

/// The owner-signed registration of an envelope file this owner sealed: its header and the
/// digest of the whole file.
pub fn registration_of(
    owner: &Identity,
    envelope: &Path,
) -> Result<SignedRegistration, PartyError> {
    let header = read_envelope_header(envelope)?;
    let mut file = File::open(envelope).map_err(PartyError::io(envelope))?;
    let mut hasher = labeled_hasher(labels::ENVELOPE);
    let mut buf = vec![0; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PartyError::io(envelope)(e)),
        }
    }
    Ok(owner.sign_registration(EnvelopeRegistration {
        header,
        envelope_digest: Digest(hasher.finalize().into()),
    }))
}

/// The owner-signed header of an envelope file.
pub fn read_envelope_header(envelope: &Path) -> Result<EnvelopeHeader, PartyError> {
    let mut file = File::open(envelope).map_err(PartyError::io(envelope))?;
    let (header, _) = read_header(&mut file).map_err(|source| PartyError::Envelope {
        path: envelope.into(),
        source,
    })?;
    Ok(header)
}

/// Streams the envelope file at `envelope` to the host as the dataset its header names;
/// `progress` is told how many bytes have gone. The host checks the owner's signature on the
/// header before it accepts the rest.
pub fn upload(
    host: &HostClient,
    envelope: &Path,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<StoredBlob, PartyError> {
    let header = read_envelope_header(envelope)?;
    let file = File::open(envelope).map_err(PartyError::io(envelope))?;
    let counted = ProgressReader {
        input: file,
        copy: std::io::sink(),
        count: 0,
        progress,
    };
    Ok(host.upload(&header.agreement, &header.owner, &header.dataset, counted)?)
}

/// A signed approval or revocation of a runtime measurement for an agreement, issued at
/// `clock`'s time; its sequence (the time in microseconds) orders it after every earlier decision
/// of this owner, so no caller waits for the clock.
pub fn decide(
    identity: &Identity,
    clock: &dyn Clock,
    agreement: AgreementId,
    platform: Platform,
    measurement: Measurement,
    decision: Decision,
) -> Result<SignedDecision, PartyError> {
    decide_as(
        identity,
        &identity.card(),
        clock,
        agreement,
        platform,
        measurement,
        decision,
    )
}

/// [`decide`], naming the owner by `card` (the owner's card as the agreement lists it, which may
/// carry fields the key file lacks, such as the broker's address): signed by `identity`, whose
/// key must be the card's.
pub fn decide_as(
    identity: &Identity,
    card: &sealroom_core::party::PartyCard,
    clock: &dyn Clock,
    agreement: AgreementId,
    platform: Platform,
    measurement: Measurement,
    decision: Decision,
) -> Result<SignedDecision, PartyError> {
    if card.signing_key != identity.card().signing_key {
        return Err(PartyError::KeysDiffer(card.name.clone()));
    }
    let statement = MeasurementDecision {
        decision,
        agreement,
        platform,
        measurement,
        owner: card.fingerprint()?,
        issued_at: clock.now(),
        sequence: clock.now_micros(),
    };
    let bytes = SignedDecision::signed_bytes(&statement)?;
    let signature = identity.sign(statement.label(), &bytes);
    Ok(SignedDecision {
        statement,
        signature,
    })
}
